"""C numeric types of GeNN code, their conversions, and exactly rounded literals.

The numba engine reproduces C arithmetic: every binary operation converts both operands to the common
type of the C "usual arithmetic conversions", so a ``float`` model computes in float32 exactly like the
C code GeNN generates (numba alone would widen ``float32 / int`` to float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class CType:
    """One C numeric type: its numpy dtype name, bit width and signedness."""

    name: str  # numpy dtype name: bool, int8 ... uint64, float32, float64
    bits: int
    signed: bool
    is_float: bool

    @property
    def is_int(self) -> bool:
        """True for integer types (bool excluded)."""
        return not self.is_float and self.name != "bool"

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of this type."""
        return np.dtype(self.name)

    def __str__(self) -> str:
        return self.name


BOOL = CType("bool", 8, False, False)
INT8 = CType("int8", 8, True, False)
UINT8 = CType("uint8", 8, False, False)
INT16 = CType("int16", 16, True, False)
UINT16 = CType("uint16", 16, False, False)
INT32 = CType("int32", 32, True, False)
UINT32 = CType("uint32", 32, False, False)
INT64 = CType("int64", 64, True, False)
UINT64 = CType("uint64", 64, False, False)
FLOAT32 = CType("float32", 32, True, True)
FLOAT64 = CType("float64", 64, True, True)

# C type specifier word lists (sorted) -> type; "scalar"/"timepoint" are resolved by the precision.
_C_NAMES: dict[tuple[str, ...], CType] = {
    ("bool",): BOOL, ("_Bool",): BOOL,
    ("char",): INT8, ("char", "signed"): INT8, ("char", "unsigned"): UINT8,
    ("int8_t",): INT8, ("uint8_t",): UINT8, ("int16_t",): INT16, ("uint16_t",): UINT16,
    ("short",): INT16, ("int", "short"): INT16,
    ("short", "unsigned"): UINT16, ("int", "short", "unsigned"): UINT16,
    ("int",): INT32, ("signed",): INT32, ("int", "signed"): INT32, ("int32_t",): INT32,
    ("unsigned",): UINT32, ("int", "unsigned"): UINT32, ("uint32_t",): UINT32,
    ("long",): INT64, ("int", "long"): INT64, ("long", "long"): INT64, ("int64_t",): INT64,
    ("long", "unsigned"): UINT64, ("long", "long", "unsigned"): UINT64,
    ("uint64_t",): UINT64, ("size_t",): UINT64,
    ("float",): FLOAT32, ("double",): FLOAT64,
}  # fmt: skip


def precision_type(precision: str) -> CType:
    """``"float"`` -> float32, ``"double"`` -> float64."""
    return {"float": FLOAT32, "double": FLOAT64}[precision]


def resolve(type_name: str | list[str] | tuple[str, ...], scalar: CType, time: CType) -> CType | None:
    """The type named by a C type string (``"unsigned int"``) or specifier list, or None if unknown."""
    words = type_name.split() if isinstance(type_name, str) else list(type_name)
    words = [w for w in words if w not in ("const", "volatile")]
    if words == ["scalar"]:
        return scalar
    if words == ["timepoint"]:
        return time
    return _C_NAMES.get(tuple(sorted(words)))


def _promote(t: CType) -> CType:
    """C integer promotion: anything narrower than int becomes int."""
    return INT32 if (t.is_int or t == BOOL) and t.bits < 32 else t


def common_type(a: CType, b: CType) -> CType:
    """The C usual arithmetic conversion of two operand types."""
    if FLOAT64 in (a, b):
        return FLOAT64
    if FLOAT32 in (a, b):
        return FLOAT32
    a, b = _promote(a), _promote(b)
    if a == b:
        return a
    if a.signed == b.signed:
        return a if a.bits >= b.bits else b
    unsigned, signed = (a, b) if not a.signed else (b, a)
    if unsigned.bits >= signed.bits:
        return unsigned
    return signed  # the wider signed type holds every value of the narrower unsigned one


def unary_type(t: CType) -> CType:
    """Result type of unary +, - and ~ (integer promotion)."""
    return _promote(t)


def nearest_float(text_or_value: str | float | Fraction, t: CType) -> float:
    """The value of type ``t`` (float32/float64) nearest to an exact decimal, ties to even.

    C compilers convert a decimal literal such as ``0.975f`` straight to the nearest float; going through
    float64 first can differ in rare halfway cases, so the rounding is done on the exact fraction.
    """
    exact = Fraction(text_or_value) if not isinstance(text_or_value, Fraction) else text_or_value
    dtype = np.float32 if t == FLOAT32 else np.float64
    guess = dtype(float(exact))
    if not np.isfinite(guess):
        return float(guess)
    best = guess
    for cand in (np.nextafter(guess, dtype(-np.inf)), np.nextafter(guess, dtype(np.inf))):
        d_best, d_cand = abs(Fraction(float(best)) - exact), abs(Fraction(float(cand)) - exact)
        even_cand = (int(np.asarray(cand).view(np.uint32 if t == FLOAT32 else np.uint64)) & 1) == 0
        if d_cand < d_best or (d_cand == d_best and even_cand):
            best = cand
    return float(best)


def param_literal(value: float, t: CType) -> float:
    """The value a parameter takes in GeNN-generated code of type ``t``.

    GeNN writes float parameters as decimal text with ``max_digits10`` digits in scientific notation (9
    for float, 17 for double) and the C compiler parses that text; this reproduces both roundings.
    """
    if t.is_float:
        digits = 9 if t == FLOAT32 else 17
        return nearest_float(f"{float(value):.{digits}e}", t)
    if t == BOOL:
        return float(bool(value))
    return float(int(value))


def py_literal(value: float | int | bool, t: CType) -> str:
    """Python source for a constant of type ``t`` that numba types exactly as ``t``."""
    if t == BOOL:
        return "True" if value else "False"
    if t.is_float:
        v = float(value)
        if math.isnan(v):
            text = "np.nan"
        elif math.isinf(v):
            text = "np.inf" if v > 0 else "-np.inf"
        else:
            text = repr(v)
        return f"np.{t.name}({text})"
    return f"np.{t.name}({int(value)})"


def cast(code: str, src: CType, dst: CType) -> str:
    """Python source converting expression ``code`` of type ``src`` to ``dst`` (C conversion rules)."""
    if src == dst:
        return code
    if dst == BOOL:
        return f"({code} != 0)"
    return f"np.{dst.name}({code})"
