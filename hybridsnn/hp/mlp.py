"""The fully connected HP network of the simple example and the tolerance experiment (docs/hp.md, «Tasks»).

784 → 512 → 10, both layers plastic LIF (soft reset), direct analog input repeated for T steps and scaled by
the input filter ``k_t = exp(−t/τ_w)`` at every layer; output = last-step membrane/θ clamped at 1.1.
Methods (docs/hp.md, «Methods»): ``hp`` (both layers plastic, all trained), ``gp`` (no Hebbian pathway),
``lp`` (layer 1 a frozen random projection with a fixed Hebbian pathway, run without gradient; layer 2
plastic and trained by gradient on the detached layer-1 spikes).

The Hebbian traces are buffers carried across batches and epochs (detached) during training, and used —
but not overwritten — in evaluation, where they still evolve within each forward (docs/hp.md, «Hebbian
pathway»).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hp.layer import HebbianRule, MetaInit, PlasticLinear
from hybridsnn.hp.methods import HP, Method, check_network_method
from hybridsnn.spiking import LIFConfig, LIFState, Rectangular, final_membrane, lif_step

TASKS = ("simple", "tolerance")
SURROGATE = Rectangular(width=0.5, height=1.0)


def hp_lif(threshold: float, decay: float, reset: str = "subtract") -> LIFConfig:
    """HP-SNN's neuron: spike at u > θ, rectangular surrogate of width 0.5 and height 1 (docs/hp.md,
    «Neuron»)."""
    return LIFConfig(
        threshold=threshold,
        decay=decay,
        reset=reset,
        inclusive=False,  # type: ignore[arg-type]
        surrogate=SURROGATE,
    )


def input_filter(step: int, tau_w: float) -> float:
    """The synaptic filter ``exp(−t/τ_w)`` at step t (τ_w in steps; inf: no filter)."""
    return math.exp(-step / tau_w) if math.isfinite(tau_w) else 1.0


@dataclass(frozen=True)
class MLPConfig:
    """Constants of one seed (defaults: the simple example; docs/hp.md, «Tasks»)."""

    sizes: tuple[int, ...] = (784, 512, 10)
    threshold: float = 0.35
    decay: float = 0.4
    time_steps: int = 10
    tau_w: float = 40.0
    rule: HebbianRule = field(
        default_factory=lambda: HebbianRule(sign=1.0, post="tanh", decay=0.95, bound=4.0)
    )
    out_clamp: float | None = 1.1

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise UserError(f"layer sizes must be >= 2 positive integers, got {self.sizes}")
        if self.time_steps < 1:
            raise UserError(f"time steps must be >= 1, got {self.time_steps}")


SIMPLE = MLPConfig()
TOLERANCE = MLPConfig(
    threshold=0.4,
    decay=0.4,
    time_steps=5,
    tau_w=40.0,
    rule=HebbianRule(sign=1.0, post="tanh", decay=0.99, bound=4.0),
)


class HPMLP(nn.Module):
    """Plastic spiking MLP; ``forward(x [B, N_in]) -> scores [B, N_out]`` (membrane/θ at the last step)."""

    def __init__(self, config: MLPConfig = SIMPLE, method: Method = HP) -> None:
        super().__init__()
        check_network_method(method, TASKS, "HP MLP")
        self.config, self.method = config, method
        self.lif = hp_lif(config.threshold, config.decay)
        rule = config.rule if method.hebbian else None
        init = MetaInit(1e-2, 1e-2, 1e-2)
        pairs = list(zip(config.sizes[:-1], config.sizes[1:], strict=True))
        self.layers = nn.ModuleList(PlasticLinear(a, b, rule=rule, init=init) for a, b in pairs)
        for index, (a, b) in enumerate(pairs):
            self.register_buffer(f"trace{index}", torch.zeros(a, b))
        #: Per layer: run without gradient, its output spikes detached (LP's first layer).
        self.frozen_layers = [method.frozen_input_layer and index == 0 for index in range(len(pairs))]
        for layer, frozen in zip(self.layers, self.frozen_layers, strict=True):
            if frozen:
                layer.requires_grad_(False)

    def traces(self) -> list[Tensor]:
        """The carried Hebbian traces, one ``[N_in, N_out]`` per layer."""
        return [getattr(self, f"trace{index}") for index in range(len(self.layers))]

    def reset_traces(self) -> None:
        """Zero the carried traces."""
        for trace in self.traces():
            trace.zero_()

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.config.sizes[0]:
            raise UserError(f"HP MLP input must be [B, {self.config.sizes[0]}], got {tuple(x.shape)}")
        cfg = self.config
        traces = [trace.clone() for trace in self.traces()]  # the buffers are overwritten below
        states: list[LIFState | None] = [None] * len(self.layers)
        for step in range(cfg.time_steps):
            k = input_filter(step, cfg.tau_w)
            signal = x
            for index, (layer, frozen) in enumerate(zip(self.layers, self.frozen_layers, strict=True)):
                with torch.no_grad() if frozen else contextlib.nullcontext():
                    inp = signal * k
                    current = layer.current(inp, traces[index])
                    spike, states[index] = lif_step(current, states[index], self.lif)
                    traces[index] = layer.update(traces[index], inp, states[index].membrane, cfg.threshold)
                signal = spike.detach() if frozen else spike
        if self.training:
            for stored, trace in zip(self.traces(), traces, strict=True):
                stored.copy_(trace.detach())
        last = states[-1]
        assert last is not None
        return final_membrane(last.membrane.unsqueeze(0), threshold=cfg.threshold, max_value=cfg.out_clamp)
