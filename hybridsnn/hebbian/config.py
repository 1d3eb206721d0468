"""Constants every Hebbian-memory network shares: memory size, neuron dynamics and the plasticity rule.

Task configurations (associations, cross-modal) extend :class:`MemoryNetworkConfig` with their own sizes.
Times are in ms (= steps at dt 1 ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from hybridsnn.errors import UserError
from hybridsnn.hebbian.layers import ReadingLayer, WritingLayer, hebbian_lif_config
from hybridsnn.hebbian.plasticity import PlasticityConfig
from hybridsnn.spiking import LIFConfig

ConfigT = TypeVar("ConfigT", bound="MemoryNetworkConfig")


@dataclass(frozen=True)
class MemoryNetworkConfig:
    """Memory size, LIF constants (``threshold``, ``tau_mem`` ms, refractory steps, reset, dampening), trace
    time constant (ms), readout delay (steps), plasticity (w_max, γ+, γ−) and store-loop options (``fused``
    plasticity node, ``checkpoint_steps`` block length, 0 = off)."""

    memory_size: int = 100
    steps: int = 100
    threshold: float = 0.1
    tau_mem: float = 20.0
    refractory_steps: int = 3
    perfect_reset: bool = False
    dampening: float = 1.0
    tau_trace: float = 20.0
    readout_delay: int = 1
    w_max: float = 1.0
    gamma_pos: float = 0.3
    gamma_neg: float = 0.3
    fused: bool = True
    checkpoint_steps: int = 0

    def lif(self) -> LIFConfig:
        """The LIF neuron of every spiking layer."""
        return hebbian_lif_config(
            self.threshold, self.tau_mem, self.refractory_steps, self.perfect_reset, self.dampening
        )

    def plasticity(self) -> PlasticityConfig:
        """The Hebbian rule of the memory."""
        return PlasticityConfig(self.w_max, self.gamma_pos, self.gamma_neg)

    def check(self) -> None:
        """Build the neuron and plasticity constants once, so that bad values are refused before a run."""
        self.lif()
        self.plasticity()

    def memory_layers(
        self, write_inputs: int, read_inputs: int, lif: LIFConfig
    ) -> tuple[WritingLayer, ReadingLayer]:
        """The writing layer over ``write_inputs`` inputs and the reading layer over ``read_inputs`` inputs,
        with this config's memory size, plasticity, trace time constant (ms), store-loop options and readout
        delay (steps)."""
        writing = WritingLayer(
            write_inputs,
            self.memory_size,
            lif,
            self.plasticity(),
            self.tau_trace,
            fused=self.fused,
            checkpoint_steps=self.checkpoint_steps,
        )
        return writing, ReadingLayer(read_inputs, self.memory_size, lif, self.readout_delay)

    def require_positive_ints(self, names: Iterable[str]) -> None:
        """One-line error for the first of ``names`` that is not an integer >= 1."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be an integer >= 1, got {value!r}")

    @classmethod
    def from_mapping(cls: type[ConfigT], settings: Mapping[str, Any]) -> ConfigT:
        """The config from a dict holding (at least) its field names, e.g. CLI flags or a checkpoint."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints and config.json."""
        return asdict(self)
