"""What a system declares about itself for the registry (:mod:`hybridsnn.registry`): no project imports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """A registered system: CLI name, driver module, one-line summary, tasks, what runs it, and the names
    of the catalogued datasets it reads (``hybridsnn data list``)."""

    name: str
    module: str
    summary: str
    tasks: tuple[str, ...]
    runs_on: str
    datasets: tuple[str, ...] = ()
