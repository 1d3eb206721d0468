"""Typed, frozen settings of the bAbI task (built by :func:`.run.resolve_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsnn.hebbian.settings import MemorySettings


@dataclass(frozen=True)
class BabiSettings(MemorySettings):
    """The shared memory-network settings plus the bAbI task number and the longest story kept."""

    babi_task: int
    max_num_sentences: int
