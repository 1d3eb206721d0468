"""Discrete-time leaky integrate-and-fire (LIF) neurons: one step, a run over time, and modules.

One step with input current ``I_t`` (membrane units, relative to rest = 0), membrane ``u``, spike ``s`` and,
optionally, a refractory counter ``r`` (steps)::

    refractory = r_{t-1} > 0                          (only when refractory_steps > 0)
    g          = (1 − λ) if scale_input else 1        (input gain)
    u_t = λ·(u_{t-1} − θ·s_{t-1}) + g·I_t     reset="subtract"             (soft, the reset leaks)
    u_t = λ·u_{t-1} + g·I_t − θ·s_{t-1}       reset="subtract_after_leak"  (soft, the reset does not leak)
    u_t = λ·u_{t-1}·(1 − s_{t-1}) + g·I_t     reset="zero"                 (hard reset to rest 0)
    s_t = H(u_t − θ)   (u_t ≥ θ if inclusive else u_t > θ; surrogate gradient in the backward pass)
    s_t = 0 where refractory
    r_t = clamp(r_{t-1} − 1, 0, n_ref) where refractory, else n_ref·s_t

In every seed the reset is applied one step *after* the spike (it uses ``s_{t-1}``), so the membrane kept
in the state is the pre-reset ``u_t`` (HP-SNN reads it out), and the reset spike is *not* detached:
gradients flow through the reset path. A zero initial state gives ``u_0 = g·I_0`` (DSL's ``u_0 = I_0``).
During refractoriness the membrane keeps integrating; only the spike is suppressed. ``λ = 1`` gives a
non-leaky IF neuron.

The torch seeds as configurations (``LIFConfig`` fields; λ per step, θ in membrane units; each system's
page, «Model and equations», has its equations: docs/dsl.md, docs/hp.md, docs/hebbian.md):

* DSL: ``decay=decay_from_tau(tau)`` with τ in steps (default τ = 1 →
  λ = e^−1), ``threshold=1``, ``reset="subtract"``, ``inclusive=True``, ``Exponential(width=1, height=1)``.
  ELL detaches the previous state: pass ``state.detach()`` to :func:`lif_step`. (DSL's code writes
  ``λu + I − λθs``; this equals ``λ(u − θs) + I`` up to float rounding.)
* HP-SNN: ``decay`` given directly (0.4, 0.6, 0.75, …), ``threshold`` 0.3-0.5,
  ``reset="subtract"`` (or ``"zero"`` for Fashion-MNIST classification and few-shot), ``inclusive=False``,
  ``Rectangular(width=0.5, height=1)``.
* Hebbian memory ``IafPscDelta``: ``decay=decay_from_tau(20.0, dt_ms=1.0)``,
  ``threshold=0.1``, ``reset="subtract_after_leak"`` (``"zero"`` with perfect_reset), ``scale_input=True``,
  ``refractory_steps=3``, ``inclusive=False``, ``Triangular(width=θ, height=damp/θ)``. Its non-leaky
  ``NonLeakyIafPscDelta`` is ``decay=1``, ``reset="subtract_after_leak"``, ``scale_input=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.spiking.surrogate import Exponential, Surrogate

ResetMode = Literal["subtract", "subtract_after_leak", "zero"]
RESET_MODES: tuple[str, ...] = get_args(ResetMode)


def decay_from_tau(tau_ms: float, dt_ms: float = 1.0) -> float:
    """Per-step membrane decay ``λ = exp(−dt/τ)`` for time constant ``tau_ms``, step ``dt_ms`` (ms)."""
    for name, value in (("tau_ms", tau_ms), ("dt_ms", dt_ms)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UserError(f"{name} must be a finite number of milliseconds > 0, got {value!r}")
    return math.exp(-dt_ms / tau_ms)


@dataclass(frozen=True)
class LIFConfig:
    """Parameters of a LIF population (see the module docstring for the update and per-seed values).

    threshold: firing threshold θ (membrane units, > 0).
    decay: membrane decay factor λ per step, in [0, 1] (1 = no leak); see :func:`decay_from_tau`.
    reset: ``"subtract"``, ``"subtract_after_leak"`` or ``"zero"``.
    refractory_steps: steps during which a neuron cannot spike again after a spike (0 = none).
    scale_input: multiply the input current by ``1 − λ`` (the membrane then relaxes to ``I``).
    inclusive: spike at ``u >= θ`` (DSL) instead of ``u > θ``.
    surrogate: pseudo-derivative of the spike with respect to the membrane.
    """

    threshold: float = 1.0
    decay: float = 1.0
    reset: ResetMode = "subtract"
    refractory_steps: int = 0
    scale_input: bool = False
    inclusive: bool = False
    surrogate: Surrogate = field(default_factory=Exponential)

    def __post_init__(self) -> None:
        if not (
            isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold) and self.threshold > 0
        ):
            raise UserError(f"LIF threshold must be a finite number > 0, got {self.threshold!r}")
        if not (isinstance(self.decay, (int, float)) and 0.0 <= self.decay <= 1.0):
            raise UserError(f"LIF decay must be a number in [0, 1] (factor per step), got {self.decay!r}")
        if self.reset not in RESET_MODES:
            raise unknown_choice("LIF reset", self.reset, RESET_MODES)
        if isinstance(self.refractory_steps, bool) or not isinstance(self.refractory_steps, int):
            raise UserError(f"LIF refractory_steps must be an integer >= 0, got {self.refractory_steps!r}")
        if self.refractory_steps < 0:
            raise UserError(f"LIF refractory_steps must be an integer >= 0, got {self.refractory_steps!r}")
        if not isinstance(self.surrogate, Surrogate):
            raise UserError(f"LIF surrogate must be a Surrogate (see get_surrogate), got {self.surrogate!r}")

    @classmethod
    def from_tau(cls, tau_ms: float, dt_ms: float = 1.0, **fields: Any) -> LIFConfig:
        """A config with decay ``exp(−dt/τ)`` for time constant ``tau_ms``, step ``dt_ms`` (ms)."""
        return cls(decay=decay_from_tau(tau_ms, dt_ms), **fields)


class LIFState(NamedTuple):
    """State after a step: pre-reset membrane ``u_t``, spike ``s_t`` and refractory counter ``r_t`` (steps).

    ``refractory`` is None for neurons without a refractory period.
    """

    membrane: Tensor
    spike: Tensor
    refractory: Tensor | None = None

    def detach(self) -> LIFState:
        """The same state cut from the autograd graph (DSL's ELL rule uses it)."""
        counter = None if self.refractory is None else self.refractory.detach()
        return LIFState(self.membrane.detach(), self.spike.detach(), counter)


def initial_state(current: Tensor, config: LIFConfig) -> LIFState:
    """The resting state (all zeros) for a population shaped like ``current``."""
    counter = torch.zeros_like(current, dtype=torch.int32) if config.refractory_steps > 0 else None
    return LIFState(torch.zeros_like(current), torch.zeros_like(current), counter)


def lif_step(current: Tensor, state: LIFState | None, config: LIFConfig) -> tuple[Tensor, LIFState]:
    """Advance a LIF population by one step with input ``current``; returns ``(spike, new state)``.

    ``state=None`` starts from rest. Shapes of ``current`` and the state tensors must match.
    """
    if state is None:
        state = initial_state(current, config)
    if config.refractory_steps > 0 and state.refractory is None:
        raise UserError("LIF state has no refractory counter but the config has refractory_steps > 0")
    lam, theta = config.decay, config.threshold
    drive = current * (1.0 - lam) if config.scale_input else current
    u, s = state.membrane, state.spike
    if config.reset == "subtract":
        membrane = (u - theta * s) * lam + drive
    elif config.reset == "subtract_after_leak":
        membrane = u * lam + drive - theta * s
    else:
        membrane = u * (1.0 - s) * lam + drive
    spike = config.surrogate(membrane - theta, inclusive=config.inclusive)
    counter = None
    if config.refractory_steps > 0:
        assert state.refractory is not None
        refractory = state.refractory > 0
        spike = torch.where(refractory, torch.zeros_like(spike), spike)
        counting_down = torch.clamp(state.refractory - 1, 0, config.refractory_steps)
        counter = torch.where(
            refractory, counting_down, config.refractory_steps * spike.detach().to(torch.int32)
        )
    return spike, LIFState(membrane, spike, counter)


class LIFTrace(NamedTuple):
    """A run over time: spikes and pre-reset membranes stacked on dim 0 ([T, ...]), and the final state."""

    spikes: Tensor
    membranes: Tensor
    state: LIFState


def lif_sequence(currents: Tensor, config: LIFConfig, state: LIFState | None = None) -> LIFTrace:
    """Run :func:`lif_step` over the time steps of ``currents`` (time on dim 0, ``[T, ...]``)."""
    if currents.dim() < 1 or currents.shape[0] == 0:
        raise UserError(
            f"LIF input needs a non-empty time dimension first, got shape {tuple(currents.shape)}"
        )
    spikes, membranes = [], []
    for current in currents.unbind(0):
        spike, state = lif_step(current, state, config)
        spikes.append(spike)
        membranes.append(state.membrane)
    assert state is not None
    return LIFTrace(torch.stack(spikes), torch.stack(membranes), state)


class LIF(nn.Module):
    """A LIF population without parameters: ``forward(current, state) -> (spike, state)``."""

    def __init__(self, config: LIFConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, current: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        return lif_step(current, state, self.config)

    def sequence(self, currents: Tensor, state: LIFState | None = None) -> LIFTrace:
        """Run over ``currents`` shaped ``[T, ...]`` (see :func:`lif_sequence`)."""
        return lif_sequence(currents, self.config, state)

    def extra_repr(self) -> str:
        return repr(self.config)


class SpikingLayer(nn.Module):
    """A synapse (e.g. ``nn.Linear``/``nn.Conv2d``) followed by LIF neurons, run over a time window.

    The synapse is applied to all steps at once (time folded into the batch), which is exact whenever its
    weights stay fixed within the window (evaluation, BPTT with one update per window). Rules that update
    weights inside the window (DSL's ELL/FELL) must call the synapse and :func:`lif_step` step by step.
    """

    def __init__(self, synapse: nn.Module, config: LIFConfig) -> None:
        super().__init__()
        self.synapse = synapse
        self.neurons = LIF(config)

    def forward(
        self, inputs: Tensor, state: LIFState | None = None, *, time_steps: int | None = None
    ) -> LIFTrace:
        """Inputs ``[T, B, ...]``; or a static ``[B, ...]`` input shown at each of ``time_steps`` steps."""
        if time_steps is not None:
            if time_steps < 1:
                raise UserError(f"time_steps must be >= 1, got {time_steps}")
            current = self.synapse(inputs)
            currents = current.unsqueeze(0).expand(time_steps, *current.shape)
        else:
            if inputs.dim() < 2:
                raise UserError(f"SpikingLayer input must be [T, B, ...], got shape {tuple(inputs.shape)}")
            folded = self.synapse(inputs.flatten(0, 1))
            currents = folded.unflatten(0, inputs.shape[:2])
        return self.neurons.sequence(currents, state)
