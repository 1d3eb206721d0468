"""Downloading missing dataset files, with a socket timeout so an offline machine fails fast.

``download=None`` means "download if missing unless ``$HYBRIDSNN_OFFLINE`` is set"; ``True`` asks for a
download (still refused when offline is requested); ``False`` never downloads.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hybridsnn.data.roots import OFFLINE_ENV, missing_data_error, missing_paths, offline_requested

#: Seconds a single network read/connect may block before the download is given up.
DOWNLOAD_TIMEOUT_S = 20.0


@contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Set the default socket timeout (s) for the duration of the block, then restore it."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def download_url(url: str, folder: Path, filename: str | None = None, md5: str | None = None) -> Path:
    """Fetch ``url`` into ``folder`` with torchvision's downloader (checks ``md5`` when given)."""
    from torchvision.datasets.utils import download_url as tv_download_url

    folder.mkdir(parents=True, exist_ok=True)
    tv_download_url(url, str(folder), filename=filename, md5=md5)
    return folder / (filename or url.rsplit("/", 1)[-1])


def ensure_present(name: str, split: str, expected: list[Path], fetch: Callable[[], None] | None,
                   download: bool | None, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Make sure every expected file exists, downloading with ``fetch`` if allowed; else raise DataError."""
    missing = missing_paths(expected)
    if not missing:
        return
    if fetch is None:
        reason = "this dataset cannot be downloaded automatically"
    elif download is False:
        reason = "download=False"
    elif offline_requested():
        reason = f"downloads disabled by {OFFLINE_ENV}=1"
    else:
        new_folders = _missing_folders(expected)
        try:
            with socket_timeout(timeout_s):
                fetch()
        except Exception as exc:  # any network, HTTP, checksum or extraction failure ends in one line
            reason = f"download failed: {type(exc).__name__}: {str(exc)[:200]}"
            _remove_empty(new_folders)  # a failed download leaves no empty dataset folders behind
        else:
            missing = missing_paths(expected)
            if not missing:
                return
            reason = "the download did not produce these files"
    raise missing_data_error(name, split, missing, reason)


def _missing_folders(expected: list[Path]) -> list[Path]:
    """The folders above the expected files that do not exist yet, deepest first."""
    folders: set[Path] = set()
    for path in expected:
        for parent in Path(path).parents:
            if parent.exists():
                break
            folders.add(parent)
    return sorted(folders, key=lambda p: len(p.parts), reverse=True)


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            continue
