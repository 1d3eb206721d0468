"""Layers of the Hebbian-memory SNN (docs/hebbian.md, «Memory layers») on the shared spiking core.

Spike tensors have time first: ``[T, B, N]`` (one step = 1 ms). Memories are ``[B, M, M]`` (value × key),
a per-example state that starts at zero for every example and is differentiable (BPTT runs through it).

* :func:`hebbian_lif_config` — the seed's ``IafPscDelta`` as a :class:`~hybridsnn.spiking.LIFConfig`.
* :func:`encode` — each item as a constant current for ``steps`` steps into LIF neurons (state carried on).
* :class:`WritingLayer` — key/value neurons, normalised traces, plasticity at every step; the store loop can
  run the fused plasticity node and activation checkpointing over blocks of steps.
* :class:`ReadingLayer` — separate key/value neurons, value→key feedback with ``readout_delay`` steps.
* Both layers can continue from a saved state (:meth:`WritingLayer.store`, :meth:`ReadingLayer.recall`),
  as the reinforcement-learning agent does from one observation to the next.
* :class:`WritingLayerReLU`, :class:`ReadingLayerReLU` — the non-spiking H-Mem versions (one update per item).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from hybridsnn.errors import UserError
from hybridsnn.hebbian.plasticity import PlasticityConfig, hebbian_update
from hybridsnn.spiking import (
    LIFConfig,
    LIFState,
    Triangular,
    decay_from_tau,
    initial_state,
    lif_sequence,
    lif_step,
)

#: The seed multiplies the memory→value current of the writing layer by this constant (writing.py:55).
STORE_FEEDBACK = 0.2
XAVIER_GAIN = math.sqrt(2.0)


def hebbian_lif_config(
    threshold: float = 0.1,
    tau_mem_ms: float = 20.0,
    refractory_steps: int = 3,
    perfect_reset: bool = False,
    dampening: float = 1.0,
) -> LIFConfig:
    """The seed's LIF (``IafPscDelta``): threshold in input units, τ in ms, refractory period in steps.

    The surrogate is ``damp·max(0, 1 − |v_s|)`` on ``v_s = (v − θ)/θ``, i.e. triangular with width θ and
    height damp/θ in membrane units.
    """
    return LIFConfig(
        threshold=threshold,
        decay=decay_from_tau(tau_mem_ms),
        reset="zero" if perfect_reset else "subtract_after_leak",
        refractory_steps=refractory_steps,
        scale_input=True,
        inclusive=False,
        surrogate=Triangular(width=threshold, height=dampening / threshold),
    )


def xavier_parameter(rows: int, cols: int) -> nn.Parameter:
    """A ``rows × cols`` weight, Xavier-uniform with gain √2 (every SNN matrix of the seed)."""
    weight = torch.empty(rows, cols)
    nn.init.xavier_uniform_(weight, gain=XAVIER_GAIN)
    return nn.Parameter(weight)


def encode(current: Tensor, steps: int, lif: LIFConfig) -> Tensor:
    """Spikes ``[S·steps, B, N]`` of LIF neurons driven by each of the S items of ``current`` [B, S, N].

    Item ``s`` is a constant current during steps ``s·steps … (s+1)·steps − 1``; neurons start at rest and
    keep their state from item to item.
    """
    if current.dim() != 3 or steps < 1:
        raise UserError(
            f"encode needs currents [B, S, N] and steps >= 1, got {tuple(current.shape)}, {steps}"
        )
    return lif_sequence(current.transpose(0, 1).repeat_interleave(steps, dim=0), lif).spikes


def _memory_input(mem: Tensor, keys: Tensor) -> Tensor:
    """``mem @ k`` per example: [B, M, M] × [B, M] → [B, M]."""
    return torch.bmm(mem, keys.unsqueeze(2)).squeeze(2)


class StoreState(NamedTuple):
    """State of the writing layer between steps: memory, traces and the key/value neurons."""

    memory: Tensor
    key_trace: Tensor
    value_trace: Tensor
    key: LIFState
    value: LIFState


class StoreResult(NamedTuple):
    """The memory after the store phase [B, M, M] and the key/value spikes [T, B, M]."""

    memory: Tensor
    keys: Tensor
    values: Tensor


class WritingLayer(nn.Module):
    """Writes ``[T, B, input_size]`` spikes into a fresh Hebbian memory of ``memory_size`` key × value.

    ``fused`` uses :class:`~hybridsnn.hebbian.plasticity.FusedHebbianUpdate` (same numbers, a third of
    the saved activations). ``checkpoint_steps = K > 0`` recomputes the store loop in blocks of K steps
    during the backward pass, so only one memory per block is kept (≈ T/K instead of T matrices).
    """

    def __init__(
        self,
        input_size: int,
        memory_size: int,
        lif: LIFConfig,
        plasticity: PlasticityConfig,
        tau_trace_ms: float = 20.0,
        *,
        fused: bool = True,
        checkpoint_steps: int = 0,
    ) -> None:
        super().__init__()
        if checkpoint_steps < 0:
            raise UserError(f"checkpoint_steps must be >= 0 (0 = off), got {checkpoint_steps}")
        self.memory_size = memory_size
        self.weight = xavier_parameter(2 * memory_size, input_size)
        self.lif = lif
        self.plasticity = plasticity
        self.trace_decay = decay_from_tau(tau_trace_ms)
        self.fused = fused
        self.checkpoint_steps = checkpoint_steps

    def initial_state(self, like: Tensor) -> StoreState:
        """Empty memory, zero traces, neurons at rest, for a batch shaped like ``like`` [B, M]."""
        batch = like.shape[0]
        zeros = like.new_zeros(batch, self.memory_size)
        return StoreState(
            like.new_zeros(batch, self.memory_size, self.memory_size),
            zeros,
            zeros,
            initial_state(zeros, self.lif),
            initial_state(zeros, self.lif),
        )

    def step(self, key_current: Tensor, value_current: Tensor, state: StoreState) -> StoreState:
        """One store step (seed order): key spikes, value spikes with 0.2·mem@k, traces, plasticity."""
        d = self.trace_decay
        memory, key_trace, value_trace, key_state, value_state = state
        key, key_state = lif_step(key_current, key_state, self.lif)
        value, value_state = lif_step(
            value_current + STORE_FEEDBACK * _memory_input(memory, key), value_state, self.lif
        )
        key_trace = (1.0 - d) * key + d * key_trace
        value_trace = (1.0 - d) * value + d * value_trace
        memory = hebbian_update(memory, key_trace, value_trace, self.plasticity, fused=self.fused)
        return StoreState(memory, key_trace, value_trace, key_state, value_state)

    def steps(
        self, key_currents: Tensor, value_currents: Tensor, state: StoreState
    ) -> tuple[Tensor, Tensor, StoreState]:
        """Store loop over ``[K, B, M]`` input currents from ``state``; returns (keys, values, state)."""
        keys, values = [], []
        for ik, iv in zip(key_currents.unbind(0), value_currents.unbind(0), strict=True):
            state = self.step(ik, iv, state)
            keys.append(state.key.spike)
            values.append(state.value.spike)
        return torch.stack(keys), torch.stack(values), state

    def forward(self, inputs: Tensor) -> StoreResult:
        """Store ``inputs`` [T, B, N] into a fresh memory; returns the memory and key/value spikes."""
        keys, values, state = self.store(inputs, None)
        return StoreResult(state.memory, keys, values)

    def store(self, inputs: Tensor, state: StoreState | None) -> tuple[Tensor, Tensor, StoreState]:
        """Store ``inputs`` [T, B, N] spikes, continuing from ``state`` (None: a fresh memory); returns the
        key and value spikes [T, B, M] and the state after the last step."""
        if inputs.dim() != 3 or inputs.shape[0] == 0:
            raise UserError(f"writing layer input must be [T, B, N] spikes, got {tuple(inputs.shape)}")
        key_currents, value_currents = (inputs @ self.weight.T).chunk(2, dim=-1)
        if state is None:
            state = self.initial_state(key_currents[0])
        block = self.checkpoint_steps
        if not block or not torch.is_grad_enabled():
            return self.steps(key_currents, value_currents, state)
        key_parts, value_parts = [], []
        for start in range(0, key_currents.shape[0], block):
            keys, values, state = checkpoint(
                self.steps,
                key_currents[start : start + block],
                value_currents[start : start + block],
                state,
                use_reentrant=False,
            )
            key_parts.append(keys)
            value_parts.append(values)
        return torch.cat(key_parts), torch.cat(value_parts), state


class ReadState(NamedTuple):
    """State of the reading layer between steps: key/value neurons and the value spikes of the last
    ``readout_delay`` steps (oldest first), which drive the keys through the delayed feedback."""

    key: LIFState
    value: LIFState
    delayed: tuple[Tensor, ...]


class ReadingLayer(nn.Module):
    """Recalls from a memory: ``k_t = LIF(W·[x_t; v_{t−delay}])``, ``v_t = LIF(mem @ k_t)`` (no 0.2 factor).

    ``readout_delay`` (steps ≥ 1) is the synaptic delay of the value→key feedback; ``v`` is zero before it.
    """

    def __init__(self, input_size: int, memory_size: int, lif: LIFConfig, readout_delay: int = 1) -> None:
        super().__init__()
        if readout_delay < 1:
            raise UserError(f"readout_delay must be >= 1 step, got {readout_delay}")
        self.input_size = input_size
        self.weight = xavier_parameter(memory_size, input_size + memory_size)
        self.lif = lif
        self.readout_delay = readout_delay

    def initial_state(self, memory: Tensor) -> ReadState:
        """Neurons at rest and no delayed value spikes, for a batch of memories [B, M, M]."""
        zeros = memory.new_zeros(memory.shape[:2])
        rest = initial_state(zeros, self.lif)
        return ReadState(rest, rest, (zeros,) * self.readout_delay)

    def forward(self, inputs: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Key and value spikes ``[T, B, M]`` for query spikes ``inputs`` [T, B, input_size]."""
        keys, values, _ = self.recall(inputs, memory, self.initial_state(memory))
        return keys, values

    def recall(self, inputs: Tensor, memory: Tensor, state: ReadState) -> tuple[Tensor, Tensor, ReadState]:
        """Key and value spikes ``[T, B, M]`` continuing from ``state``, and the state after the last step."""
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise UserError(
                f"reading layer input must be [T, B, {self.input_size}], got {tuple(inputs.shape)}"
            )
        query_weight, feedback_weight = self.weight.split([self.input_size, self.weight.shape[0]], dim=1)
        query_currents = inputs @ query_weight.T
        key_state, value_state, delayed = state
        keys, values = [], []
        for current in query_currents.unbind(0):
            key, key_state = lif_step(current + delayed[0] @ feedback_weight.T, key_state, self.lif)
            value, value_state = lif_step(_memory_input(memory, key), value_state, self.lif)
            delayed = (*delayed[1:], value)
            keys.append(key)
            values.append(value)
        return torch.stack(keys), torch.stack(values), ReadState(key_state, value_state, delayed)


class WritingLayerReLU(nn.Module):
    """H-Mem write: per item ``k = relu(W_k x)``, ``v = relu(W_v x)``, ``mem += Δ(k, v, mem)`` (no time)."""

    def __init__(self, input_size: int, memory_size: int, plasticity: PlasticityConfig) -> None:
        super().__init__()
        self.memory_size = memory_size
        self.weight = xavier_parameter(2 * memory_size, input_size)
        self.plasticity = plasticity

    def forward(self, items: Tensor) -> StoreResult:
        """``items`` [S, B, input_size] → memory [B, M, M], keys and values [S, B, M]."""
        keys, values = torch.relu(items @ self.weight.T).chunk(2, dim=-1)
        memory = items.new_zeros(items.shape[1], self.memory_size, self.memory_size)
        for key, value in zip(keys.unbind(0), values.unbind(0), strict=True):
            memory = hebbian_update(memory, key, value, self.plasticity)
        return StoreResult(memory, keys, values)


class ReadingLayerReLU(nn.Module):
    """H-Mem read: ``v = mem @ relu(W q)``."""

    def __init__(self, input_size: int, memory_size: int) -> None:
        super().__init__()
        self.weight = xavier_parameter(memory_size, input_size)

    def forward(self, query: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Key and value [B, M] for ``query`` [B, input_size]."""
        key = torch.relu(query @ self.weight.T)
        return key, _memory_input(memory, key)
