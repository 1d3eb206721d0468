"""Typed, frozen settings of the Omniglot one-shot task (built by :func:`.run.resolve_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsnn.hebbian.settings import MemorySettings


@dataclass(frozen=True)
class OmniglotSettings(MemorySettings):
    """The shared memory-network settings plus the ProtoNet pre-training schedule (epochs × iterations of
    ``encoder_ways``-way episodes, ``encoder_val_episodes`` validation episodes), a pre-trained encoder file
    to reuse (``encoders``, or None) and the quick mode's warm start of the memory layers."""

    encoder_epochs: int
    encoder_iterations: int
    encoder_ways: int
    encoder_val_episodes: int
    encoders: str | None
    warm_start: bool
