"""The three DSL learning rules for one block over one time window (docs/dsl.md, «Model and equations»).

Every rule minimises ``Σ_t L_t`` with ``L_t = mse(o_t, y)`` (mean over batch × classes) of the block's local
classifier spikes ``o_t`` against the one-hot label, and updates only this block's encoder and classifier
with the block's own optimiser. Nothing flows between blocks: the returned spikes are detached.

* ELL: one update per step; the gradient of ``L_t`` sees only step t (previous membranes and spikes are
  cut from the graph).
* BELL: one update per window; the exact gradient of ``Σ_t L_t`` through time (BPTT) with fixed weights.
* FELL: one update per step; the gradient of ``L_t`` follows the block's membrane back to step 0 (forward,
  RTRL-like), and the classifier is driven through a "clean" trajectory computed from detached spikes. Op
  order per step: backward of the auxiliary loss, clean classifier step, optimiser step.

FELL on a static input (the image at every step) uses an exact eligibility trace instead of keeping the
graph: ``∂u_t/∂W = c_t · ∂(W·x)/∂W`` per neuron with ``c_0 = 1`` and
``c_t = λ(1 − θ·g(u_{t−1} − θ))·c_{t−1} + 1`` (g: surrogate derivative), so each step costs O(1) instead
of O(t) backward passes.

A run resolves its ``--learning-rule`` once, with :func:`get_rule`, into the :data:`Trainer` it hands to
:meth:`hybridsnn.dsl.network.DSLNetwork.train_window` for every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.optim import Optimizer

from hybridsnn.dsl.block import LocalBlock
from hybridsnn.errors import unknown_choice
from hybridsnn.spiking import LIFState, lif_step

RULES = ("BELL", "FELL", "ELL")


class WindowResult(NamedTuple):
    """A block's window: spikes ``[T, B, ...]``, classifier spikes ``[T, B, K]`` (detached), ``Σ_t L_t``."""

    spikes: Tensor
    outputs: Tensor
    loss: Tensor


def window_loss(outputs: Tensor, target: Tensor) -> Tensor:
    """``Σ_t mse(o_t, y)`` for classifier spikes ``[T, B, K]`` and a one-hot target ``[B, K]``."""
    return (outputs - target).pow(2).mean(dim=(1, 2)).sum()


def train_bell(block: LocalBlock, x: Tensor, target: Tensor, steps: int, static: bool,
               optimizer: Optimizer) -> WindowResult:
    """BELL: BPTT of ``Σ_t L_t`` over the window, one optimiser step."""
    spikes, outputs = block.window(x, steps, static)
    loss = window_loss(outputs, target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return WindowResult(spikes.detach(), outputs.detach(), loss.detach())


def train_ell(block: LocalBlock, x: Tensor, target: Tensor, steps: int, static: bool,
              optimizer: Optimizer) -> WindowResult:
    """ELL: at each step, the gradient of ``L_t`` through step t only, and one optimiser step."""
    state: LIFState | None = None
    readout: LIFState | None = None
    spikes, outputs, total = [], [], target.new_zeros(())
    for t in range(steps):
        current = block.encode(x if static else x[t])
        spike, state = lif_step(current, None if state is None else state.detach(), block.lif)
        out, readout = lif_step(block.decode(spike), None if readout is None else readout.detach(), block.lif)
        loss = F.mse_loss(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        spikes.append(spike.detach())
        outputs.append(out.detach())
        total = total + loss.detach()
    return WindowResult(torch.stack(spikes), torch.stack(outputs), total)


def train_fell(block: LocalBlock, x: Tensor, target: Tensor, steps: int, static: bool,
               optimizer: Optimizer) -> WindowResult:
    """FELL: at each step, the gradient of ``L_t`` through the block's whole past, and one optimiser step."""
    lam, theta, derivative = block.lif.decay, block.lif.threshold, block.lif.surrogate.derivative
    state: LIFState | None = None
    clean: LIFState | None = None
    trace: Tensor | None = None
    spikes, outputs, total = [], [], target.new_zeros(())
    for t in range(steps):
        if static:
            current = block.encode(x)
            previous = state
            _, state = lif_step(current.detach(), state, block.lif)
            trace = (torch.ones_like(current) if previous is None
                     else lam * (1.0 - theta * derivative(previous.membrane - theta)) * trace + 1.0)
            spike = block.spike(state.membrane + trace * (current - current.detach()))
        else:
            spike, state = lif_step(block.encode(x[t], copy_weights=True), state, block.lif)
        auxiliary, _ = lif_step(block.decode(spike), clean, block.lif)
        loss = F.mse_loss(auxiliary, target)
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        out, clean = lif_step(block.decode(spike.detach(), copy_weights=True), clean, block.lif)
        optimizer.step()
        spikes.append(spike.detach())
        outputs.append(out.detach())
        total = total + loss.detach()
    return WindowResult(torch.stack(spikes), torch.stack(outputs), total)


#: One block's learning over one window: ``(block, input, one-hot target [B, K], steps T, static,
#: optimiser)``.
Trainer = Callable[[LocalBlock, Tensor, Tensor, int, bool, Optimizer], WindowResult]

TRAINERS: dict[str, Trainer] = {"BELL": train_bell, "FELL": train_fell, "ELL": train_ell}


def get_rule(name: str) -> Trainer:
    """The trainer of learning rule ``name`` (one of :data:`RULES`); the one place a rule name is checked."""
    if name not in TRAINERS:
        raise unknown_choice("learning rule", name, RULES)
    return TRAINERS[name]
