"""The dataset registry (``load_dataset``) and the registry of task generators that later models add.

A dataset is a :class:`DatasetSpec`: its splits, where its files lie under the data root, how to read and
download them, and what a valid split looks like. ``load_dataset`` finds (or downloads) the files, reads
them and validates the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.download import ensure_present
from hybridsnn.data.roots import missing_paths, resolve_root
from hybridsnn.data.user_dataset import is_dataset_path, load_user_dataset
from hybridsnn.data.validation import validate_split
from hybridsnn.errors import UserError, unknown_choice


@dataclass(frozen=True)
class DatasetSpec:
    """How to find, read, download and validate one dataset.

    ``load(root, split, **options)`` reads a split; ``paths(root, split)`` lists the files it needs (a
    ``.gz``/``.zip`` path is also satisfied by its extracted form); ``fetch(root, split)`` downloads them
    (None: not downloadable). ``options`` maps each keyword ``load`` accepts to a one-line help text.
    ``counts`` (split -> samples), ``sample_shape`` and ``dtype`` are checked after every load.
    """

    name: str
    description: str
    splits: tuple[str, ...]
    load: Callable[..., ArrayDataset]
    paths: Callable[[Path, str], list[Path]]
    fetch: Callable[[Path, str], None] | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    sample_shape: tuple[int, ...] | None = None
    dtype: str | None = None

    @property
    def default_split(self) -> str:
        """The split loaded when none is named (``train`` where it exists, else the first)."""
        return "train" if "train" in self.splits else self.splits[0]

    def check_split(self, split: str) -> str:
        """``split`` if this dataset has it, else the standard unknown-choice error."""
        if split not in self.splits:
            raise unknown_choice(f"split of dataset {self.name}", split, self.splits)
        return split


@dataclass(frozen=True)
class TaskGenerator:
    """A registered generator of synthetic tasks (e.g. association sequences, spike patterns)."""

    name: str
    make: Callable[..., Any]
    description: str = ""


DATASETS: dict[str, DatasetSpec] = {}
TASK_GENERATORS: dict[str, TaskGenerator] = {}


def register_dataset(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry; registering a taken name needs ``replace=True``."""
    if spec.name in DATASETS and not replace:
        raise UserError(f"dataset {spec.name!r} is already registered; pass replace=True to override it")
    DATASETS[spec.name] = spec
    return spec


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``, or the standard unknown-choice error listing the known ones."""
    if name not in DATASETS:
        raise unknown_choice("dataset", name, dataset_names())
    return DATASETS[name]


def dataset_names() -> tuple[str, ...]:
    """Names of all registered datasets, sorted."""
    return tuple(sorted(DATASETS))


def list_datasets() -> list[DatasetSpec]:
    """All registered datasets, sorted by name."""
    return [DATASETS[name] for name in dataset_names()]


def split_present(name: str, split: str, root: str | os.PathLike[str] | None = None) -> bool:
    """Whether every file of ``name``/``split`` exists under ``root`` (default: :func:`default_root`)."""
    spec = get_dataset_spec(name)
    return not missing_paths(spec.paths(resolve_root(root), spec.check_split(split)))


def download_dataset(name: str, split: str | None = None, root: str | os.PathLike[str] | None = None) -> None:
    """Download the missing files of one split (or, with ``split=None``, of every split) of ``name``."""
    spec = get_dataset_spec(name)
    base = resolve_root(root)
    for each in spec.splits if split is None else (spec.check_split(split),):
        ensure_present(name, each, spec.paths(base, each), _fetcher(spec, base, each), download=True)


def load_dataset(name: str, split: str | None = None, root: str | os.PathLike[str] | None = None,
                 download: bool | None = None, *, limit: int | None = None, **options: Any) -> ArrayDataset:
    """Read one split of a registered dataset and validate it.

    ``split``: None for the dataset's default (``train`` where it exists). ``root``: the data folder
    (default ``$HYBRIDSNN_DATA`` or ``data/``). ``download``: None downloads missing files unless
    ``$HYBRIDSNN_OFFLINE=1``; False never downloads. ``limit``: keep only the first ``limit`` >= 1 samples
    in file order (all of them when the split is smaller; None keeps all). ``options``: dataset-specific
    keywords (see ``DatasetSpec.options``, e.g. ``normalize_mean=30.0`` for fashion-mnist).

    A ``name`` that is not registered but is a path (:func:`~hybridsnn.data.user_dataset.is_dataset_path`)
    is a user's own dataset, a ``.npz`` file or a folder of PNG files (docs/own_data.md); it takes no
    ``options``, and ``root``/``download`` do not apply.
    """
    if limit is not None and limit < 1:
        raise UserError(f"subset size must be >= 1 samples, got {limit}")
    if is_dataset_path(name, dataset_names()):
        if options:
            raise UserError(f"a user dataset takes no options; got {', '.join(sorted(options))}")
        return load_user_dataset(name, "train" if split is None else split, limit=limit)
    spec = get_dataset_spec(name)
    split = spec.check_split(spec.default_split if split is None else split)
    for key in options:
        if key not in spec.options:
            raise unknown_choice(f"option of dataset {name}", key, sorted(spec.options) or ["(none)"])
    base = resolve_root(root)
    ensure_present(name, split, spec.paths(base, split), _fetcher(spec, base, split), download)
    ds = spec.load(base, split, **options)
    ds = validate_split(ds, count=spec.counts.get(split), sample_shape=spec.sample_shape, dtype=spec.dtype)
    return ds if limit is None else ds.subset(min(limit, len(ds)))


def _fetcher(spec: DatasetSpec, root: Path, split: str) -> Callable[[], None] | None:
    return None if spec.fetch is None else partial(spec.fetch, root, split)


def register_task_generator(name: str, make: Callable[..., Any], description: str = "", *,
                            replace: bool = False) -> TaskGenerator:
    """Register ``make(**kwargs)`` as the generator of task ``name``; a taken name needs ``replace=True``."""
    if name in TASK_GENERATORS and not replace:
        raise UserError(f"task generator {name!r} is already registered; pass replace=True to override it")
    TASK_GENERATORS[name] = TaskGenerator(name, make, description)
    return TASK_GENERATORS[name]


def task_generator_names() -> tuple[str, ...]:
    """Names of all registered task generators, sorted."""
    return tuple(sorted(TASK_GENERATORS))


def make_task(name: str, **kwargs: Any) -> Any:
    """Build a task with the registered generator ``name`` (keywords are passed through)."""
    if name not in TASK_GENERATORS:
        raise unknown_choice("task generator", name, task_generator_names() or ["(none registered)"])
    return TASK_GENERATORS[name].make(**kwargs)
