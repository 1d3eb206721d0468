"""Numbers given on the command line: argparse ``type=`` callables with the allowed range in the message.

``type=count`` refuses ``0`` (zero never silently means "the default"), every float type refuses NaN and
±inf, and each message names the value and the allowed range, e.g.
``argument --lr: 'nan' is not allowed; expected a finite number > 0``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from hybridsnn.errors import UserError


def _describe(minimum: float | None, maximum: float | None, open_min: bool, open_max: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if open_min else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if open_max else '<='} {maximum:g}")
    return " and ".join(parts)


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """A ``type=`` for whole numbers in ``[minimum, maximum]`` (either bound may be None)."""
    allowed = "a whole number" + (" " + _describe(minimum, maximum, False, False) if (minimum, maximum)
                                  != (None, None) else "")  # fmt: skip

    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected {allowed}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected {allowed}")
        return value

    parse.__name__ = "integer"
    return parse


def number(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    open_min: bool = False,
    open_max: bool = False,
) -> Callable[[str], float]:
    """A ``type=`` for finite floats in the given range (``open_*``: the bound itself is excluded)."""
    bounds = _describe(minimum, maximum, open_min, open_max)
    allowed = "a finite number" + (f" {bounds}" if bounds else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected {allowed}") from None
        if not math.isfinite(value) or not in_range(value, minimum, maximum, open_min, open_max):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected {allowed}")
        return value

    parse.__name__ = "number"
    return parse


def in_range(
    value: float, minimum: float | None, maximum: float | None, open_min: bool = False, open_max: bool = False
) -> bool:
    """Whether ``value`` lies within the bounds (None = unbounded on that side)."""
    if minimum is not None and (value <= minimum if open_min else value < minimum):
        return False
    return not (maximum is not None and (value >= maximum if open_max else value > maximum))


#: A count of things (samples, epochs, steps, neurons, a batch size): a whole number >= 1.
count = integer(1)
#: A whole number >= 0 (an index, a number of warm-up steps that may be zero).
non_negative_integer = integer(0)
#: A random seed: numpy's generators take 0 .. 2**32 - 1.
seed = integer(0, 2**32 - 1)
#: A finite number > 0: learning rates, time constants (ms), rates (Hz), scales.
positive = number(0.0, open_min=True)
#: A finite number >= 0: noise levels, weight decay, amplitudes that may be switched off with 0.
non_negative = number(0.0)
#: A probability or fraction in [0, 1].
probability = number(0.0, 1.0)
#: Any finite number.
finite = number()


def check_finite(name: str, value: float) -> float:
    """``value`` if finite, else a one-line error naming ``name`` (for values that do not come from flags)."""
    if not math.isfinite(float(value)):
        raise UserError(f"{name} is {value!r}; expected a finite number")
    return value
