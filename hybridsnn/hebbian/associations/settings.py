"""Typed, frozen settings of the memorizing-associations task (built by :func:`.run.resolve_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsnn.hebbian.settings import MemorySettings


@dataclass(frozen=True)
class AssociationsSettings(MemorySettings):
    """The shared memory-network settings plus the sequences' sizes and the tested lengths."""

    sequence_length: int
    num_classes: int
    feature_size: int
    test_lengths: list[int]
