"""Paths: folders and files a command will write, run names, and files it will read.

Output locations are checked before any work starts: a run must not train for an hour and then find that
``--export-original`` names a file or that ``--output`` is read-only. Writability is probed by creating and
removing a temporary file (permission bits alone say nothing for root or on a read-only mount).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from hybridsnn.errors import UserError


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_create_in(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(prefix=".hybridsnn-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def check_writable_dir(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a folder that exists or can be created, and in which files can be written.

    ``what`` names the value in the message, e.g. ``"--output 'out'"``. Nothing is created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} is a file; expected a folder (existing or to be created)")
    anchor = _nearest_existing(path)
    if not anchor.is_dir():
        raise UserError(f"{what} cannot be created: {str(anchor)!r} is a file, not a folder")
    if not _can_create_in(anchor):
        raise UserError(f"{what} is not writable ({str(anchor)!r} does not accept new files)")
    return path


def check_writable_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a file that can be written (created or replaced); its folder may not exist yet."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} is a folder; expected a file name")
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        raise UserError(f"{what} cannot be created: {str(anchor)!r} is a file, not a folder")
    check_writable_dir(path.parent, f"the folder of {what}")
    return path


def check_readable_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as an existing regular file that can be opened for reading."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} is a folder; expected a file")
    if not path.is_file():
        raise UserError(f"{what} does not exist")
    if not os.access(path, os.R_OK):
        raise UserError(f"{what} is not readable")
    return path


def run_name(text: str) -> str:
    """A ``type=`` for ``--run-name``: one folder name, so the run stays inside ``--output``."""
    if not text or text in (".", "..") or "/" in text or os.sep in text or (os.altsep and os.altsep in text) \
            or "\0" in text or text != text.strip():  # fmt: skip
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; expected one folder name (no '/', not '.' or '..', no surrounding "
            "spaces), created inside --output"
        )
    return text
