"""User-facing errors: one line that names the bad value and what is allowed.

The command line prints ``hybridsnn: error: <message>`` for any :class:`UserError` and exits with status 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable


class UserError(ValueError):
    """Bad input from the user (unknown name, missing data, mismatched checkpoint, impossible config)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class DataError(UserError):
    """A dataset is missing, corrupt, or cannot be downloaded."""


class CheckpointError(UserError):
    """A checkpoint is malformed or does not match the model that loads it."""


def unknown_choice(kind: str, value: object, allowed: Iterable[object]) -> UserError:
    """Build the standard error for a value outside a fixed set, e.g. an unknown model or dataset."""
    names = ", ".join(str(a) for a in allowed)
    return UserError(f"unknown {kind} {value!r}; allowed: {names}")


def one_line_errors(main: Callable[..., int]) -> Callable[..., int]:
    """``main`` (a command line's entry point) with a :class:`UserError` printed as the one line
    ``hybridsnn: error: ...`` on stderr and exit status 2, as the ``hybridsnn`` command does."""

    @functools.wraps(main)
    def guarded(*args: object, **kwargs: object) -> int:
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"hybridsnn: error: {exc}", file=sys.stderr)
            return 2

    return guarded
