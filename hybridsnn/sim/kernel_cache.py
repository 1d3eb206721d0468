"""On-disk cache of compiled kernels: one generated module per network code, compiled once by numba.

The module file is named by a hash of its source plus the numba/numpy/Python versions; numba's own cache
(``cache=True``) then stores the machine code beside it, so a second process loads it without compiling.
A module file whose text is not the expected source (truncated by a full disk, edited by hand) is rewritten
before it is imported, and a cache folder that does not accept files is a one-line error naming
``HYBRIDSNN_CACHE``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numba
import numpy as np

from hybridsnn.atomic import write_text
from hybridsnn.checks.paths import check_writable_dir


def default_cache_dir() -> Path:
    """``$HYBRIDSNN_CACHE``, else ``$XDG_CACHE_HOME/hybridsnn``, else ``~/.cache/hybridsnn``."""
    if os.environ.get("HYBRIDSNN_CACHE"):
        return Path(os.environ["HYBRIDSNN_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hybridsnn"


@dataclass(frozen=True)
class LoadedKernel:
    """A kernel module, where it lives, whether numba had it cached, and how long loading took (s)."""

    module: ModuleType
    path: Path
    cached: bool
    seconds: float


def _key(source: str) -> str:
    versions = f"numba={numba.__version__};numpy={np.__version__};python={platform.python_version()}"
    return hashlib.sha256((versions + "\n" + source).encode()).hexdigest()[:24]


def _holds(path: Path, source: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == source
    except (OSError, UnicodeDecodeError):
        return False


def load_kernel(source: str, cache_dir: Path) -> LoadedKernel:
    """Import (compiling on first use) the kernel module with ``source`` from ``cache_dir``."""
    key = _key(source)
    folder = Path(cache_dir) / "numba"
    path = folder / f"kernel_{key}.py"
    if not _holds(path, source):
        check_writable_dir(folder, f"kernel cache {str(folder)!r} (set HYBRIDSNN_CACHE to a writable folder)")
        write_text(path, source)
    cached = (folder / "__pycache__").is_dir() and any(
        (folder / "__pycache__").glob(f"kernel_{key}.run-*.nbi")
    )
    name = f"hybridsnn_kernel_{key}"
    start = time.perf_counter()
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # numba's cache pickles references to the module by name
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return LoadedKernel(module, path, cached, time.perf_counter() - start)
