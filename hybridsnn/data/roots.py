"""Where datasets live: the data root, the offline switch, finding expected files, the missing-data error."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hybridsnn.errors import DataError

DATA_ENV = "HYBRIDSNN_DATA"
OFFLINE_ENV = "HYBRIDSNN_OFFLINE"
ARCHIVE_SUFFIXES = (".gz", ".zip")


def default_root() -> Path:
    """``$HYBRIDSNN_DATA`` if set, else ``data/`` relative to the current directory."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path("data")


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """``root`` as a path, or :func:`default_root` when it is None; a one-line error if it is a file."""
    path = default_root() if root is None else Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(f"data root {str(path)!r} is a file; expected a folder (--data-root or ${DATA_ENV})")
    return path


def offline_requested() -> bool:
    """True when ``$HYBRIDSNN_OFFLINE`` is set to 1/true/yes: no download is ever attempted."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def locate(path: Path) -> Path | None:
    """The existing file for an expected path: itself, or its extracted form without ``.gz``/``.zip``.

    The extracted form is preferred because it is faster to read.
    """
    if path.suffix in ARCHIVE_SUFFIXES and path.with_suffix("").exists():
        return path.with_suffix("")
    return path if path.exists() else None


def missing_paths(paths: Iterable[Path]) -> list[Path]:
    """The expected paths for which :func:`locate` finds nothing."""
    return [p for p in paths if locate(p) is None]


def missing_data_error(name: str, split: str, missing: list[Path], reason: str) -> DataError:
    """One line naming the missing files, why nothing was downloaded, and how to fix it."""
    shown = ", ".join(str(p) for p in missing[:4])
    if len(missing) > 4:
        shown += f" (+{len(missing) - 4} more)"
    return DataError(
        f"dataset {name!r} split {split!r} not found: missing {shown} ({reason}); "
        f"set {DATA_ENV} to the folder holding the data or run `hybridsnn data download {name}`"
    )
