"""Flags that depend on each other: a flag the chosen task does not read is refused, not silently ignored.

A driver lists which tasks read each task-specific flag (``{"ways": ("fewshot",), ...}``);
:func:`refuse_flags_not_read` refuses a flag given with a value other than its default for a task that is
not listed, so ``--task simple --ways 3`` ends in one line instead of training a model without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping

from hybridsnn.errors import UserError


def refuse_flags_not_read(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    read_by: Mapping[str, Collection[str]],
    task: str,
    command: str,
    *,
    choice: str = "--task",
) -> None:
    """Refuse a flag of ``parser`` set in ``args`` to a non-default value that ``task`` does not read.

    ``read_by`` maps a flag's destination to the tasks that read it (flags not in it are read by all).
    ``choice`` names what ``task`` is a value of (``--task``, or e.g. ``--method`` for flags that depend on
    the method). The message names the flag, its value and the tasks that read it.
    """
    for action in parser._actions:
        tasks = read_by.get(action.dest)
        value = getattr(args, action.dest, None)
        if tasks is None or task in tasks or value is None or value == action.default:
            continue
        flag = _given(action, value)
        raise UserError(f"{flag} does not apply to {command} {choice} {task} (it is read by {choice} "
                        f"{', '.join(tasks)} only); leave it out")  # fmt: skip


def refuse_training_flags(args: argparse.Namespace, model: str) -> None:
    """``train MODEL --test``: refuse a training flag (one ``test MODEL`` does not take) given with a
    non-default value, since the evaluation of ``--checkpoint`` never reads it."""
    from hybridsnn.cli import build_model_parser

    test_flags = {a.dest for a in build_model_parser("hybridsnn", "test", model)._actions}
    for action in build_model_parser("hybridsnn", "train", model)._actions:
        value = getattr(args, action.dest, None)
        if action.dest in test_flags or action.dest in ("test", "help") or not action.option_strings:
            continue
        if value is None or value == action.default:
            continue
        flag = _given(action, value)
        raise UserError(f"{flag} is a training flag; train {model} --test evaluates --checkpoint with the "
                        "settings stored in it and does not read it; leave it out")  # fmt: skip


def refuse_repeats(flag: str, values: list | None) -> None:
    """Refuse a list flag that names the same value twice (``--noise-levels 1 1``)."""
    seen: set = set()
    for value in values or []:
        if value in seen:
            raise UserError(f"{flag} names {value!r} twice; give each value once")
        seen.add(value)


def _given(action: argparse.Action, value: object) -> str:
    """The flag as it was given: ``--ways 3``, ``--noise-levels 1 2``, ``--fa``."""
    shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    return action.option_strings[0] + ("" if action.nargs == 0 else f" {shown}")
