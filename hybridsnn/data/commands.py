"""``hybridsnn data list|check|download [NAME]``: which datasets exist, are their files sound, fetch them."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridsnn.data.registry import (
    DatasetSpec,
    download_dataset,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    split_present,
    task_generator_names,
)
from hybridsnn.data.roots import DATA_ENV, missing_paths, resolve_root
from hybridsnn.errors import DataError, UserError

ACTIONS = ("list", "check", "download")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hybridsnn data``."""
    parser.add_argument("action", choices=ACTIONS,
                        help="list: datasets and whether their files are present; check: read and validate "
                             "the files (exit 1 if any is corrupt or a named dataset is absent); "
                             "download: fetch a dataset's files")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME", help="one dataset (default: all)")
    parser.add_argument("--split", default=None, help="only this split of NAME")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help=f"dataset root (default: ${DATA_ENV}, else data/)")


def run(args: argparse.Namespace) -> int:
    """Run one ``hybridsnn data`` action; returns the exit status."""
    if args.split is not None and args.name is None:
        raise UserError("--split needs a dataset NAME")
    specs = list_datasets() if args.name is None else [get_dataset_spec(args.name)]
    root = resolve_root(args.data_root)
    if args.action == "list":
        return _list(specs, root)
    if args.action == "check":
        return _check(specs, root, args.split, named=args.name is not None)
    if args.name is None:
        raise UserError("data download needs a dataset NAME; one of: " + ", ".join(s.name for s in specs))
    return _download(specs[0], root, args.split)


def _selected_splits(spec: DatasetSpec, split: str | None) -> tuple[str, ...]:
    return spec.splits if split is None else (spec.check_split(split),)


def _status(spec: DatasetSpec, root: Path) -> str:
    if all(not spec.paths(root, s) for s in spec.splits):
        return "built-in"
    present = [s for s in spec.splits if split_present(spec.name, s, root)]
    if not present:
        return "missing"
    return "present" if len(present) == len(spec.splits) else "present: " + ", ".join(present)


def _list(specs: list[DatasetSpec], root: Path) -> int:
    print(f"data root: {root}")
    for spec in specs:
        print(f"{spec.name:14s} {_status(spec, root):30s} {spec.description}")
        print(f"{'':14s} splits: {', '.join(spec.splits)}"
              + (f"; options: {', '.join(spec.options)}" if spec.options else ""))
    if len(specs) > 1 and task_generator_names():
        print("task generators: " + ", ".join(task_generator_names()))
    return 0


def _check(specs: list[DatasetSpec], root: Path, split: str | None, named: bool) -> int:
    failures = usable = 0
    for spec in specs:
        for each in _selected_splits(spec, split):
            where = f"{spec.name}/{each}"
            missing = missing_paths(spec.paths(root, each))
            if missing:
                print(f"missing {where}: {', '.join(str(p) for p in missing)}")
                continue
            try:
                ds = load_dataset(spec.name, each, root=root, download=False)
            except DataError as exc:
                failures += 1
                print(f"FAILED  {where}: {exc}")
                continue
            usable += 1
            print(f"ok      {where}: {len(ds)} samples of {tuple(ds.x.shape[1:])} {ds.x.dtype}, "
                  f"{len(ds.classes)} classes")
    return 1 if failures or (named and not usable) else 0


def _download(spec: DatasetSpec, root: Path, split: str | None) -> int:
    for each in _selected_splits(spec, split):
        if not spec.paths(root, each):
            print(f"{spec.name}/{each} is built in; nothing to download")
            continue
        download_dataset(spec.name, each, root)
        print(f"ok      {spec.name}/{each}: files present under {root}")
    return 0
