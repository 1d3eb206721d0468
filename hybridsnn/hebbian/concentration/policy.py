"""The Hebbian-memory actor-critic of the Concentration task (seed ``ReinforcementLearning``).

Per environment step the observation [B, obs] goes through ``Linear(obs → E)`` (no bias), is multiplied by
E (the seed's encoding gain) and held as a constant current for ``steps`` ms into E encoder LIF
neurons; their spikes drive the writing layer (store) and then the reading layer (recall from the memory
just written) during the same ``steps`` ms. The value-spike counts of the last ``readout_window`` ms (M
values) feed the actor ``M → M → M`` (tanh) → logits over the cells, and the critic ``[obs; counts] → M → M``
(tanh) → value. The whole SNN state (memory, traces, every neuron, the feedback delay line) is carried from
one environment step to the next and zeroed where a new game starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hebbian.config import MemoryNetworkConfig
from hybridsnn.hebbian.layers import XAVIER_GAIN, ReadState, StoreState
from hybridsnn.spiking import LIFState, initial_state, lif_sequence, spike_counts

#: Orthogonal init gains of the seed: hidden and value layers √2, the action logits 0.01.
HIDDEN_GAIN = math.sqrt(2.0)
POLICY_GAIN = 0.01


@dataclass(frozen=True)
class PolicyConfig(MemoryNetworkConfig):
    """Sizes of the agent (observation, actions = cells, E, M) plus the shared SNN constants (ms, steps)."""

    observation_size: int = 26
    num_actions: int = 4
    embedding_size: int = 80
    readout_window: int = 30

    def __post_init__(self) -> None:
        self.require_positive_ints(
            ("observation_size", "num_actions", "embedding_size", "memory_size", "steps", "readout_window")
        )
        if self.readout_window > self.steps:
            raise UserError(
                f"readout_window (--readout-window {self.readout_window}) must not exceed the {self.steps} "
                "steps per item (--num-time-steps)"
            )


class MemoryState(NamedTuple):
    """Everything the SNN carries between environment steps."""

    encoder: LIFState
    store: StoreState
    read: ReadState


def map_state(fn: Callable[[Tensor], Tensor], state: Any) -> Any:
    """``state`` with ``fn`` applied to each of its tensors (named tuples and tuples keep their type)."""
    if isinstance(state, Tensor):
        return fn(state)
    if state is None:
        return None
    items = [map_state(fn, item) for item in state]
    return type(state)(*items) if hasattr(state, "_fields") else tuple(items)


def state_tensors(state: Any) -> Iterator[Tensor]:
    """The tensors of ``state`` in a fixed order (for checkpoints)."""
    if isinstance(state, Tensor):
        yield state
    elif state is not None:
        for item in state:
            yield from state_tensors(item)


def state_to_dict(state: MemoryState) -> dict[str, Tensor]:
    """``{"part0": tensor, "part1": …}`` for a checkpoint; :func:`state_from_dict` restores it."""
    return {f"part{i}": tensor.detach().clone() for i, tensor in enumerate(state_tensors(state))}


def state_from_dict(template: MemoryState, saved: Mapping[str, Any]) -> MemoryState:
    """The state shaped like ``template`` with the tensors of :func:`state_to_dict`."""
    tensors = iter([torch.as_tensor(saved[f"part{i}"]) for i in range(len(saved))])

    def take(like: Tensor) -> Tensor:
        value = next(tensors, None)
        if value is None or value.shape != like.shape:
            raise UserError(f"saved SNN state does not fit: expected a tensor of shape {tuple(like.shape)}")
        return value.to(like)

    restored = map_state(take, template)
    if next(tensors, None) is not None:
        raise UserError("saved SNN state holds more tensors than the agent's state")
    return restored


def reset_where(state: MemoryState, new_game: Tensor) -> MemoryState:
    """``state`` with every example where ``new_game`` [B] (bool) set back to zero."""

    def zero(tensor: Tensor) -> Tensor:
        keep = (~new_game).reshape(-1, *([1] * (tensor.dim() - 1)))
        return torch.where(keep, tensor, torch.zeros((), dtype=tensor.dtype, device=tensor.device))

    return map_state(zero, state)


class HebbianMemoryCore(nn.Module):
    """Encoder, writing and reading layers run for ``steps`` ms per observation, carrying their state."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.lif = config.lif()
        self.embedding = nn.Linear(config.observation_size, config.embedding_size, bias=False)
        nn.init.xavier_uniform_(self.embedding.weight, gain=XAVIER_GAIN)
        self.writing, self.reading = config.memory_layers(
            config.embedding_size, config.embedding_size, self.lif
        )

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> MemoryState:
        """Empty memories and resting neurons for ``batch`` games."""
        encoder = initial_state(torch.zeros(batch, self.config.embedding_size, device=device), self.lif)
        store = self.writing.initial_state(torch.zeros(batch, self.config.memory_size, device=device))
        return MemoryState(encoder, store, self.reading.initial_state(store.memory))

    def forward(self, observation: Tensor, state: MemoryState) -> tuple[Tensor, MemoryState]:
        """Value-spike counts [B, M] of the read-out window for an observation [B, obs]; the new state."""
        config = self.config
        current = config.embedding_size * self.embedding(observation)
        encoded = lif_sequence(current.expand(config.steps, *current.shape), self.lif, state.encoder)
        _, _, store = self.writing.store(encoded.spikes, state.store)
        _, values, read = self.reading.recall(encoded.spikes, store.memory, state.read)
        counts = spike_counts(values, window=config.readout_window)
        return counts, MemoryState(encoded.state, store, read)


def _mlp(inputs: int, hidden: int) -> nn.Sequential:
    layers = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, gain=HIDDEN_GAIN)
            nn.init.zeros_(layer.bias)
    return layers


def _linear(inputs: int, outputs: int, gain: float) -> nn.Linear:
    layer = nn.Linear(inputs, outputs)
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


class StepOutput(NamedTuple):
    """Action logits [B, cells], state value [B] and the SNN state after the observation."""

    logits: Tensor
    value: Tensor
    state: MemoryState


class HebbianActorCritic(nn.Module):
    """The agent: :class:`HebbianMemoryCore` plus the seed's actor and critic MLPs."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.core = HebbianMemoryCore(config)
        hidden = config.memory_size
        self.actor = _mlp(config.memory_size, hidden)
        self.policy_head = _linear(hidden, config.num_actions, POLICY_GAIN)
        self.critic = _mlp(config.observation_size + config.memory_size, hidden)
        self.value_head = _linear(hidden, 1, HIDDEN_GAIN)

    def initial_state(self, batch: int) -> MemoryState:
        """The SNN state at the start of ``batch`` games (on the agent's device)."""
        return self.core.initial_state(batch, self.policy_head.weight.device)

    def forward(self, observation: Tensor, state: MemoryState, new_game: Tensor) -> StepOutput:
        """One environment step: the state is zeroed where ``new_game`` [B] before ``observation`` is seen."""
        counts, state = self.core(observation, reset_where(state, new_game))
        logits = self.policy_head(self.actor(counts))
        value = self.value_head(self.critic(torch.cat([observation, counts], dim=-1))).squeeze(-1)
        return StepOutput(logits, value, state)

    def evaluate_actions(
        self, observations: Tensor, state: MemoryState, new_game: Tensor, actions: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Replay a rollout ([T, B, …] observations, new-game flags and actions) from its first ``state``;
        returns log-probabilities, values and entropies, each [T, B]."""
        log_probs, values, entropies = [], [], []
        for observation, first, action in zip(observations, new_game, actions, strict=True):
            logits, value, state = self(observation, state, first)
            dist = torch.distributions.Categorical(logits=logits)
            log_probs.append(dist.log_prob(action))
            values.append(value)
            entropies.append(dist.entropy())
        return torch.stack(log_probs), torch.stack(values), torch.stack(entropies)
