"""Run-time settings of the torch models: seeds, device, mixed precision and CPU threads."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from hybridsnn.errors import UserError, unknown_choice

DEVICE_CHOICES = ("auto", "cpu", "cuda")
AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and every GPU) with ``seed``.

    ``deterministic`` also makes cuDNN pick deterministic kernels (as the DSL and HP-SNN code does).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise UserError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def select_device(name: str = "auto") -> torch.device:
    """The torch device for ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise unknown_choice("device", name, (*DEVICE_CHOICES, "cuda:N"))
    if not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    if index and int(index) >= torch.cuda.device_count():
        raise UserError(
            f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)"
        )
    return torch.device(name)


@contextlib.contextmanager
def autocast(device: torch.device, *, enabled: bool = True, dtype: str = "bfloat16") -> Iterator[None]:
    """Mixed precision (``"bfloat16"`` or ``"float16"``) on a CUDA device; a no-op on CPU or if disabled.

    float16 needs a ``torch.amp.GradScaler`` for training; bfloat16 does not.
    """
    if dtype not in AUTOCAST_DTYPES:
        raise unknown_choice("autocast dtype", dtype, AUTOCAST_DTYPES)
    if not enabled or device.type != "cuda":
        yield
        return
    with torch.autocast(device_type="cuda", dtype=AUTOCAST_DTYPES[dtype]):
        yield


def configure_threads(num_threads: int | None) -> int:
    """Set torch's intra-op CPU threads (None keeps the current setting); returns the number in use.

    On a shared machine 1 thread is often fastest for these small, sequential networks.
    """
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise UserError(f"number of threads must be an integer >= 1, got {num_threads!r}")
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()
