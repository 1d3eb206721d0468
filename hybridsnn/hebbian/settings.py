"""Resolving a Hebbian-memory task's settings: flags, then ``--quick`` values, then the task's defaults; the
settings stored in a checkpoint; loading the checkpoint of one task."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.errors import CheckpointError, UserError

TASKS = ("associations", "omniglot", "cross-modal", "babi", "concentration")
SettingsT = TypeVar("SettingsT", bound="MemorySettings")


@dataclass(frozen=True)
class MemorySettings(Mapping[str, Any]):
    """The resolved settings every Hebbian-memory task reads (flags, then ``--quick`` values, then defaults;
    :func:`add_model_names` adds the model's field names); a task's subclass adds its own. Read them as
    attributes; the read-only mapping view (``settings["memory_size"]``, ``**settings``) feeds the networks'
    ``Config.from_mapping``."""

    # the memory network (the fields of hybridsnn.hebbian.config, under the model's names)
    memory_size: int
    steps: int
    threshold: float
    tau_mem: float
    refractory_steps: int
    perfect_reset: bool
    dampening: float
    tau_trace: float
    readout_delay: int
    w_max: float
    gamma_pos: float
    gamma_neg: float
    fused: bool
    checkpoint_steps: int
    embedding_size: int | None
    readout_window: int
    network: str
    # the same constants under the seed's flag names
    num_time_steps: int
    thr: float
    refractory_time_steps: int
    dampening_factor: float
    # training and evaluation
    batch_size: int | None
    epochs: int
    iterations: int | None
    learning_rate: float
    learning_rate_decay: float
    decay_learning_rate_every: int
    max_grad_norm: float
    l2: float
    target_rate: float
    val_size: int | None
    test_size: int | None
    dataset_seed: int
    data_root: str | None
    compile: bool

    @classmethod
    def from_config(cls: type[SettingsT], config: Mapping[str, Any]) -> SettingsT:
        """The settings from a resolved dict holding (at least) every field name."""
        return cls(**{f.name: config[f.name] for f in fields(cls)})

    @classmethod
    def of(cls: type[SettingsT], settings: Mapping[str, Any]) -> SettingsT:
        """``settings`` itself if typed, else the settings of that resolved dict."""
        return settings if isinstance(settings, cls) else cls.from_config(settings)

    def to_config(self) -> dict[str, Any]:
        """The settings as a plain dict (field name → value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self: SettingsT, **changes: Any) -> SettingsT:
        """A copy with ``changes``."""
        return replace(self, **changes)

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))


def layered_settings(args: argparse.Namespace, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """The flags of ``args``; a flag left unset (None) takes its value from the first layer that has it."""
    settings = vars(args).copy()
    for layer in layers:
        for key, value in layer.items():
            if settings.get(key) is None:
                settings[key] = value
    return settings


def train_parser(command: str = "train") -> argparse.ArgumentParser:
    """The parser of ``hybridsnn train hebbian`` (its flags' types and defaults check stored settings), or of
    another ``command``."""
    from hybridsnn.cli import build_model_parser

    return build_model_parser("hybridsnn", command, "hebbian")


def load_task_checkpoint(path: str | Path, task: str, flag: str = "--checkpoint") -> Checkpoint:
    """The hebbian checkpoint ``path`` of a training run of ``task``; refuses other models, other tasks
    (naming the task it belongs to) and encoder files."""
    checkpoint = load_checkpoint(path, model="hebbian")
    found, kind = checkpoint.config.get("task"), checkpoint.config.get("kind")
    if found == task:
        return checkpoint
    what = f"checkpoint {str(path)!r} is not a trained hebbian {task} network"
    if kind is not None:
        raise CheckpointError(f"{what}: it holds pre-trained encoders ({kind!r}); give it as --encoders, and "
                              f"{flag} a checkpoint of a hebbian {task} training run")  # fmt: skip
    if found in TASKS:
        raise CheckpointError(f"{what}: it is a checkpoint of --task {found}")
    raise CheckpointError(what)


def checkpoint_settings(checkpoint: Checkpoint, resolve: Callable[[argparse.Namespace], SettingsT]
                        ) -> SettingsT:  # fmt: skip
    """The settings ``checkpoint`` was trained with: its stored flags (each checked as on the command line;
    flags it predates take their defaults), resolved by the task's ``resolve``."""
    source = f"checkpoint {str(checkpoint.path)!r}"
    parser = train_parser()
    check_stored_flags(checkpoint.config, parser, source)
    namespace = parser.parse_args([])
    for key, value in checkpoint.config.items():
        setattr(namespace, key, value)
    try:
        return resolve(namespace)
    except UserError as exc:
        raise CheckpointError(f"{source} holds settings that do not work: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{source} holds unusable settings ({type(exc).__name__}: {exc})") from None


#: Seed values of flags whose default differs between tasks (the reinforcement-learning task clips
#: gradients at 0.5, and its ``--quick`` configuration compresses time): used where neither the flag nor
#: the task set one.
SEED_DEFAULTS = {
    "num_time_steps": 100,
    "tau_mem": 20.0,
    "tau_trace": 20.0,
    "readout_window": 30,
    "max_grad_norm": 40.0,
}


def refuse_other_networks(settings: Mapping[str, Any], task: str) -> None:
    """Refuse ``--network`` other than ``snn`` for a ``task`` that only has the spiking network."""
    if settings.get("network", "snn") != "snn":
        raise UserError(f"the {task} task runs the spiking network only (--network snn), got --network "
                        f"{settings['network']}")  # fmt: skip


def add_model_names(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill unset :data:`SEED_DEFAULTS`, then copy the seed's flag names onto the model's field names
    (steps, threshold, refractory, dampening)."""
    for key, value in SEED_DEFAULTS.items():
        if settings.get(key) is None:
            settings[key] = value
    settings.update(
        steps=settings["num_time_steps"],
        threshold=settings["thr"],
        refractory_steps=settings["refractory_time_steps"],
        dampening=settings["dampening_factor"],
    )
    return settings


@contextmanager
def memory_errors_refused() -> Iterator[None]:
    """Turn "cannot allocate" (CPU) and "out of memory" (CUDA) errors into one line: the sizes asked for
    (``--batch-size``, ``--memory-size``, ``--embedding-size``, ``--num-time-steps``, ...) do not fit."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        text = str(exc)
        memory = isinstance(exc, MemoryError) or "can't allocate" in text or "out of memory" in text
        if not memory:
            raise
        size = re.search(r"ried to allocate (\d+(?:\.\d+)? ?[A-Za-z]+)", text)
        detail = size.group(1) if size else ""
        raise UserError(
            "the network or a batch does not fit in memory"
            + (f" (an allocation of {detail})" if detail else "")
            + "; use smaller --batch-size, --memory-size, --embedding-size or --num-time-steps"
        ) from None
