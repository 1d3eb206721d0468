"""Flush-to-zero (FTZ) and denormals-are-zero (DAZ) around code that does not set them itself.

Why: float32 traces (STDP's x and y, conductances) decay geometrically towards 0 and spend many steps as
subnormal numbers, which x86 CPUs process ~100x slower. GeNN's CPU backend compiles its code with
``-ffast-math`` but as a shared library, which does not set the FTZ/DAZ bits of the MXCSR register (only
an executable's start-up code does), so a PyGeNN CPU simulation runs ~19x slower than it should on these
machines (160 vs 8.3 ms per presentation at N=400). CUDA code runs with ``ftz`` anyway, and the numba
kernels set the bits themselves (the same intrinsics:
:data:`hybridsnn.sim.kernel_library.FLUSH_DENORMALS_X86`).

:func:`denormals_flushed` sets both bits for the calling thread and restores the previous register
afterwards, so numpy code outside the block keeps IEEE subnormals. On other processors it does nothing.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from numba import njit

from hybridsnn.sim.kernel_library import FLUSH_DENORMALS_OTHER, FLUSH_DENORMALS_X86

IS_X86 = platform.machine().lower() in ("x86_64", "amd64")

_namespace: dict[str, Any] = {"np": __import__("numpy"), "njit": njit}
exec(compile(FLUSH_DENORMALS_X86 if IS_X86 else FLUSH_DENORMALS_OTHER, __file__, "exec"), _namespace)
flush_denormals = _namespace["_flush_denormals"]
"""Numba intrinsic (call it inside ``@njit`` code): set FTZ and DAZ, return the old MXCSR."""
restore_fp_state = _namespace["_restore_fp_state"]
"""Numba intrinsic: write back an MXCSR returned by :data:`flush_denormals`."""


@njit(nogil=True)
def _set_flush() -> int:
    return flush_denormals()


@njit(nogil=True)
def _restore(old: int) -> None:
    restore_fp_state(old)


@njit(nogil=True)
def _read_mxcsr() -> int:
    old = flush_denormals()
    restore_fp_state(old)
    return old


def flush_state() -> bool:
    """True if FTZ and DAZ are both set in this thread now (always False off x86)."""
    return IS_X86 and (int(_read_mxcsr()) & 0x8040) == 0x8040


@contextmanager
def denormals_flushed() -> Iterator[None]:
    """Run the block with FTZ and DAZ set in this thread; the previous state comes back afterwards."""
    old = _set_flush()
    try:
        yield
    finally:
        _restore(old)
