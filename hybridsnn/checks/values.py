"""Numbers given on the command line: argparse ``type=`` callables with the allowed range in the message.

``type=count`` refuses ``0`` (zero never silently means "the default"), every float type refuses NaN and
±inf, and each message names the value and the allowed range, e.g.
``argument --lr: 'nan' is not allowed; expected a finite number > 0``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from typing import Any

from hybridsnn.errors import UserError


def _describe(minimum: float | None, maximum: float | None, open_min: bool, open_max: bool) -> str:
    def show(bound: float) -> str:  # whole numbers in full (2**32 - 1, not 4.29497e+09)
        return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"

    parts = []
    if minimum is not None:
        parts.append(f"{'>' if open_min else '>='} {show(minimum)}")
    if maximum is not None:
        parts.append(f"{'<' if open_max else '<='} {show(maximum)}")
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


def check_stored_flags(stored: Mapping[str, Any], parser: argparse.ArgumentParser, where: str) -> None:
    """Refuse a stored value (a run's ``config.json``, a checkpoint's config) that its flag could not produce.

    Each entry of ``stored`` named like a flag's destination must pass that flag's ``type=`` (so NaN, a
    string where a count belongs, a zero count are refused as on the command line), be one of its choices,
    be a bool for a switch and a list for a flag taking several values. Unknown keys are left alone. ``where``
    names the source in the message, e.g. ``"checkpoint 'run/best.safetensors'"``.
    """
    for action in parser._actions:
        if not action.option_strings or action.dest not in stored:
            continue
        value = stored[action.dest]
        problem = _stored_problem(action, value)
        if problem:
            flag = action.option_strings[0]
            raise UserError(f"{where} holds {flag} {value!r}, which is not allowed; {problem}")


def _stored_problem(action: argparse.Action, value: Any) -> str | None:
    if value is None:
        return None if action.default is None else "expected a value, not null"
    if action.nargs == 0:  # store_true / store_false / store_const
        return None if isinstance(value, bool) else "expected true or false"
    several = action.nargs in ("+", "*") or (isinstance(action.nargs, int) and action.nargs > 1) \
        or isinstance(action, argparse._AppendAction)  # a repeatable flag stores a list  # fmt: skip
    if several and (not isinstance(value, list) or (action.nargs == "+" and not value)):
        return "expected a list of values"
    for item in value if several else [value]:
        if item is None or isinstance(item, (bool, dict, list)):
            return f"expected {'a number' if action.type is not None else 'a string'}"
        if action.type is not None:
            try:
                action.type(str(item))
            except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
                return str(exc).split("; ", 1)[-1]
        elif not isinstance(item, str):
            return "expected a string"
        if action.choices is not None and item not in action.choices:
            return f"expected one of {', '.join(map(str, action.choices))}"
    return None
