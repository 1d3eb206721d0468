"""The runtime library every generated kernel module starts with, and GeNN's random-number functions.

``HELPERS`` is Python source (numba functions): an xorshift64* generator whose state the kernel keeps in a
local variable (so draws cost a few ns), C integer division/remainder, C ``round``, and the ``addSynapse``
buffer of connectivity builders. ``FLUSH_DENORMALS_*`` set flush-to-zero for the duration of a kernel call
(denormal floats are ~100x slower on x86; GeNN's CUDA code runs with ftz too).
"""

from __future__ import annotations

from hybridsnn.sim import ctype as ct
from hybridsnn.sim.ctype import CType
from hybridsnn.sim.translate import Expr, Function

HELPERS = '''
import math

import numpy as np
from numba import njit

_MULT = np.uint64(2685821657736338717)


@njit(cache=True)
def _xorshift(x):
    """xorshift64 step (the state of one generator, never 0)."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    return x


@njit(cache=True)
def _rand_u32(s):
    """(new state, 32 random bits) of xorshift64*."""
    s = _xorshift(s)
    return s, np.uint32((s * _MULT) >> np.uint64(32))


@njit(cache=True)
def _rand_uniform_float32(s):
    """(new state, uniform float32 in [0, 1) with 24 random bits)."""
    s = _xorshift(s)
    return s, np.float32(np.int64((s * _MULT) >> np.uint64(40))) * np.float32(5.9604644775390625e-08)


@njit(cache=True)
def _rand_uniform_float64(s):
    """(new state, uniform float64 in [0, 1) with 53 random bits)."""
    s = _xorshift(s)
    return s, np.float64(np.int64((s * _MULT) >> np.uint64(11))) * 1.1102230246251565e-16


@njit(cache=True)
def _rand_normal_float64(s):
    """(new state, standard normal) by Box-Muller."""
    s, u1 = _rand_uniform_float64(s)
    s, u2 = _rand_uniform_float64(s)
    return s, math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(6.283185307179586 * u2)


@njit(cache=True)
def _rand_normal_float32(s):
    s, x = _rand_normal_float64(s)
    return s, np.float32(x)


@njit(cache=True)
def _rand_exponential_float64(s):
    """(new state, standard exponential)."""
    s, u = _rand_uniform_float64(s)
    return s, -math.log(1.0 - u)


@njit(cache=True)
def _rand_exponential_float32(s):
    s, x = _rand_exponential_float64(s)
    return s, np.float32(x)


@njit(cache=True)
def _rand_log_normal_float64(s, mean, sd):
    s, x = _rand_normal_float64(s)
    return s, math.exp(mean + sd * x)


@njit(cache=True)
def _rand_log_normal_float32(s, mean, sd):
    s, x = _rand_log_normal_float64(s, np.float64(mean), np.float64(sd))
    return s, np.float32(x)


@njit(cache=True)
def _c_div(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@njit(cache=True)
def _c_mod(a, b):
    """C integer remainder (sign of the dividend)."""
    return a - _c_div(a, b) * b


@njit(cache=True)
def _c_round(x):
    """C round(): halfway cases away from zero."""
    return np.copysign(np.floor(np.fabs(x) + 0.5), x)


@njit(cache=True)
def _c_fdim(a, b):
    return a - b if a > b else a - a


@njit(cache=True)
def _c_remainder(a, b):
    return a - b * np.rint(a / b)


@njit(cache=True)
def _c_fma(a, b, c):
    return a * b + c


@njit(cache=True)
def _add_synapse(rows, row_len, i, j):
    """Append synapse (i, j) to row i of a connectivity buffer."""
    n = row_len[i]
    if n >= rows.shape[1]:
        raise ValueError("addSynapse: more synapses in a row than calc_max_row_len_func allows")
    rows[i, n] = j
    row_len[i] = n + 1


@njit(cache=True, nogil=True)
def _first_at_least(ind, a, b, value):
    """The first k in [a, b) with ind[k] >= value (ind sorted there), else b: bisection."""
    while a < b:
        m = (a + b) >> 1
        if np.int64(ind[m]) < value:
            a = m + 1
        else:
            b = m
    return a


@njit(cache=True, nogil=True)
def _row_slice(ind, k0, k1, lo, hi, n):
    """(first, end) of the synapses of the target-sorted row ind[k0:k1] onto targets lo <= j < hi."""
    if lo == 0 and hi == n:
        return k0, k1
    first = _first_at_least(ind, k0, k1, lo)
    return first, _first_at_least(ind, first, k1, hi)
'''

THREAD_SYNC = '''
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _atomic_add(typingctx, array, index, value):
    """array[index] += value as one atomic operation (int64, sequentially consistent); the old value."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")
    return types.int64(array, index, value), codegen


@intrinsic
def _atomic_load(typingctx, array, index):
    """array[index] read as one atomic operation (int64, sequentially consistent)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]])
        return builder.load_atomic(ptr, "seq_cst", 8)
    return types.int64(array, index), codegen


@intrinsic
def _yield_cpu(typingctx):
    """sched_yield(): let another thread run on this core while waiting at a barrier."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.none(), codegen


@njit(cache=True, nogil=True)
def _barrier(sync, nthr, passed):
    """Wait until all nthr threads of a run have arrived here passed + 1 times; returns passed + 1.

    sync[0] counts arrivals, sync[8] (another cache line) completed barriers; both start at 0 per run.
    Waiting spins briefly (a barrier costs ~0.35 us when every thread has a core), then yields the core
    between checks, so two threads that land on one core still make progress.
    """
    if nthr == 1:
        return passed + 1
    target = passed + 1
    if _atomic_add(sync, 0, np.int64(1)) == target * nthr - 1:
        _atomic_add(sync, 8, np.int64(1))
    else:
        spins = 0
        while _atomic_load(sync, 8) < target:
            spins += 1
            if spins > 256:
                _yield_cpu()
    return target
'''

FLUSH_DENORMALS_X86 = '''
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _flush_denormals(typingctx):
    """Set FTZ and DAZ in MXCSR (denormal floats become 0, as CUDA's ftz); returns the old MXCSR."""
    def codegen(context, builder, signature, args):
        i32, i8p = ir.IntType(32), ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p])
        stmxcsr = builder.module.declare_intrinsic("llvm.x86.sse.stmxcsr", fnty=fnty)
        ldmxcsr = builder.module.declare_intrinsic("llvm.x86.sse.ldmxcsr", fnty=fnty)
        slot = builder.alloca(i32)
        builder.call(stmxcsr, [builder.bitcast(slot, i8p)])
        old = builder.load(slot)
        builder.store(builder.or_(old, ir.Constant(i32, 0x8040)), slot)
        builder.call(ldmxcsr, [builder.bitcast(slot, i8p)])
        return old
    return types.uint32(), codegen


@intrinsic
def _restore_fp_state(typingctx, old):
    """Restore the MXCSR returned by _flush_denormals."""
    def codegen(context, builder, signature, args):
        i32, i8p = ir.IntType(32), ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p])
        ldmxcsr = builder.module.declare_intrinsic("llvm.x86.sse.ldmxcsr", fnty=fnty)
        slot = builder.alloca(i32)
        builder.store(args[0], slot)
        builder.call(ldmxcsr, [builder.bitcast(slot, i8p)])
        return context.get_dummy_value()
    return types.none(types.uint32), codegen
'''

FLUSH_DENORMALS_OTHER = """

@njit(cache=True)
def _flush_denormals():
    return np.uint32(0)


@njit(cache=True)
def _restore_fp_state(old):
    pass
"""


FAST_MATH_FLAGS = {"nnan", "ninf", "nsz", "arcp", "reassoc", "afn"}
"""LLVM flags matching g++ ``-ffast-math`` on x86-64 without FMA (what GeNN's CPU backend compiles with)."""


def random_functions(state: str, scalar: CType) -> dict[str, Function]:
    """GeNN's ``gennrand*`` functions on the xorshift64* generator whose state is the local ``state``."""
    t = scalar.name

    def draw(helper: str, type_: CType, n_args: int = 0) -> Function:
        return Function(
            (scalar,) * n_args,
            lambda a: Expr(f"{state}, {{out}} = {helper}({', '.join([state, *a])})", type_),
            hoisted=True,
        )

    return {
        "gennrand": draw("_rand_u32", ct.UINT32),
        "gennrand_uniform": draw(f"_rand_uniform_{t}", scalar),
        "gennrand_normal": draw(f"_rand_normal_{t}", scalar),
        "gennrand_exponential": draw(f"_rand_exponential_{t}", scalar),
        "gennrand_log_normal": draw(f"_rand_log_normal_{t}", scalar, 2),
    }
