"""Typed, frozen settings of the cross-modal task (built by :func:`.run.resolve_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsnn.hebbian.settings import MemorySettings


@dataclass(frozen=True)
class CrossModalSettings(MemorySettings):
    """The shared memory-network settings plus the stored pairs and the encoders' pre-training epochs."""

    sequence_length: int
    encoder_epochs: int
