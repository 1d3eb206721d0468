"""Networks of the memorizing-associations task (docs/hebbian.md, «Associations task»): the SNN, H-Mem
(ReLU) and an LSTM.

Every network maps ``features`` [B, L, F], ``labels`` [B, L] (int) and ``query`` [B, F] to class scores
[B, C] and a dict of spiking populations ``name -> spikes [T, B, N]`` (empty for the non-spiking ones),
which the rate regulariser and the plots use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.hebbian.config import MemoryNetworkConfig
from hybridsnn.hebbian.layers import (
    XAVIER_GAIN,
    ReadingLayerReLU,
    WritingLayer,
    WritingLayerReLU,
    encode,
)
from hybridsnn.spiking import firing_rate_hz, spike_counts

NETWORKS = ("snn", "hmem", "lstm")


@dataclass(frozen=True)
class AssociationConfig(MemoryNetworkConfig):
    """Sizes and constants of an association network (seed defaults; times in ms = steps).

    ``steps``: steps per item (``--num_time_steps``); ``readout_window``: last recall steps whose value
    spikes are counted.
    """

    network: str = "snn"
    feature_size: int = 10
    num_classes: int = 10
    embedding_size: int = 80
    readout_window: int = 30

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise unknown_choice("network", self.network, NETWORKS)
        self.require_positive_ints(
            ("feature_size", "num_classes", "embedding_size", "memory_size", "steps", "readout_window")
        )
        if self.readout_window > self.steps:
            raise UserError(
                f"readout_window (--readout-window {self.readout_window}) must not exceed the {self.steps} "
                "steps of the recall phase (--num-time-steps)"
            )


def _input_projection(config: AssociationConfig) -> tuple[nn.Linear, nn.Embedding]:
    projection = nn.Linear(config.feature_size, config.embedding_size, bias=False)
    nn.init.xavier_uniform_(projection.weight, gain=XAVIER_GAIN)
    embedding = nn.Embedding(config.num_classes, config.embedding_size)
    nn.init.xavier_uniform_(embedding.weight, gain=XAVIER_GAIN)
    return projection, embedding


class AssociationSNN(nn.Module):
    """The memorizing-associations SNN (seed ``MemorizingAssociations``).

    Features and labels are encoded with gain E (the seed's broadcasting quirk; docs/hebbian.md, «Quirks
    kept»), presented together for ``steps`` steps per pair into the writing layer; the query is encoded for
    ``steps`` steps into the reading layer; scores = Linear(value spike counts of the last
    ``readout_window`` recall steps).
    """

    def __init__(self, config: AssociationConfig) -> None:
        super().__init__()
        self.config = config
        lif = config.lif()
        self.lif = lif
        self.projection, self.embedding = _input_projection(config)
        self.writing, self.reading = config.memory_layers(
            2 * config.embedding_size, config.embedding_size, lif
        )
        self.output = nn.Linear(config.memory_size, config.num_classes, bias=False)

    def forward(self, features: Tensor, labels: Tensor, query: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        gain, steps = self.config.embedding_size, self.config.steps
        feature_spikes = encode(gain * self.projection(features), steps, self.lif)
        label_spikes = encode(gain * self.embedding(labels), steps, self.lif)
        query_spikes = encode(gain * self.projection(query).unsqueeze(1), steps, self.lif)
        stored = self.writing(torch.cat([feature_spikes, label_spikes], dim=-1))
        read_keys, read_values = self.reading(query_spikes, stored.memory)
        scores = self.output(spike_counts(read_values, window=self.config.readout_window))
        populations = {
            "features": feature_spikes,
            "labels": label_spikes,
            "query": query_spikes,
            "write_keys": stored.keys,
            "write_values": stored.values,
            "read_keys": read_keys,
            "read_values": read_values,
        }
        self.last_memory = stored.memory.detach()
        return scores, populations


class AssociationHMem(nn.Module):
    """The non-spiking H-Mem baseline: ReLU keys/values, one plasticity update per stored pair."""

    def __init__(self, config: AssociationConfig) -> None:
        super().__init__()
        self.config = config
        plasticity = config.plasticity()
        self.projection, self.embedding = _input_projection(config)
        self.writing = WritingLayerReLU(2 * config.embedding_size, config.memory_size, plasticity)
        self.reading = ReadingLayerReLU(config.embedding_size, config.memory_size)
        self.output = nn.Linear(config.memory_size, config.num_classes, bias=False)

    def forward(self, features: Tensor, labels: Tensor, query: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        items = torch.cat([self.projection(features), self.embedding(labels)], dim=-1).transpose(0, 1)
        stored = self.writing(items)
        _, value = self.reading(self.projection(query), stored.memory)
        self.last_memory = stored.memory.detach()
        return self.output(value), {}


class AssociationLSTM(nn.Module):
    """LSTM baseline: reads (feature ⊕ one-hot label) per pair, then the query with an empty label."""

    def __init__(self, config: AssociationConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(config.feature_size + config.num_classes, config.memory_size)
        self.output = nn.Linear(config.memory_size, config.num_classes)

    def forward(self, features: Tensor, labels: Tensor, query: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        onehot = nn.functional.one_hot(labels, self.config.num_classes).to(features.dtype)
        pairs = torch.cat([features, onehot], dim=-1)
        last = torch.cat([query, torch.zeros_like(onehot[:, 0])], dim=-1).unsqueeze(1)
        hidden, _ = self.lstm(torch.cat([pairs, last], dim=1).transpose(0, 1))
        return self.output(hidden[-1]), {}


def build_network(config: AssociationConfig) -> nn.Module:
    """The network named by ``config.network``."""
    kinds = {"snn": AssociationSNN, "hmem": AssociationHMem, "lstm": AssociationLSTM}
    return kinds[config.network](config)


def compile_store_step(model: nn.Module) -> None:
    """``torch.compile`` the step of ``model.writing`` (the store loop is launch-bound; ≈2× faster on CPU).

    A no-op for networks without a spiking :class:`WritingLayer` (H-Mem, LSTM). Compilation takes tens of
    seconds on the first batch.
    """
    writing = getattr(model, "writing", None)
    if isinstance(writing, WritingLayer):
        writing.step = torch.compile(writing.step, dynamic=False)  # type: ignore[method-assign]


def rate_regularizer(populations: Mapping[str, Tensor], target_hz: float = 0.0) -> Tensor:
    """Σ over populations of mean_n (mean_b rate_n − target)² with rates in Hz (1 ms steps)."""
    total = torch.zeros(())
    for spikes in populations.values():
        rates = firing_rate_hz(spikes).mean(dim=0)
        total = total.to(rates) + ((rates - target_hz) ** 2).mean()
    return total
