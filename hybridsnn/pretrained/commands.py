"""``hybridsnn pretrained list|show [NAME]``: the shipped models (their files checked) and their cards."""

from __future__ import annotations

import argparse
import json

from hybridsnn.errors import UserError
from hybridsnn.pretrained.catalog import available, shipped, zoo_root

ACTIONS = ("list", "show")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hybridsnn pretrained``."""
    parser.add_argument("action", choices=ACTIONS, nargs="?", default="list",
                        help="list: one line per shipped model (every file checked against the manifest); "
                             "show: the model card of NAME")  # fmt: skip
    parser.add_argument("name", nargs="?", default=None, metavar="NAME", help="the model to show")
    parser.add_argument("--model", default=None, metavar="MODEL", help="list only the models of this system")


def run(args: argparse.Namespace) -> int:
    """Run one ``hybridsnn pretrained`` action; returns the exit status."""
    if args.action == "show":
        if args.name is None:
            raise UserError("pretrained show needs a model NAME (see hybridsnn pretrained list)")
        print(json.dumps(shipped(args.name).card, indent=2))
        return 0
    if args.name is not None:
        raise UserError(f"pretrained list takes no NAME (got {args.name!r}); use: hybridsnn pretrained show "
                        "NAME")  # fmt: skip
    entries = available(args.model)
    print(f"pretrained models in {zoo_root()}:")
    if not entries:
        print("  (none)")
    for entry in entries:
        card = entry.card
        metric = f"{card['metric']} {100 * card['test_accuracy']:.2f} %"
        print(f"  {entry.name:28s} {entry.model:9s} {card['task']:15s} {card['dataset']:14s} {metric}")
        usage = f"hybridsnn test {entry.model} --task {card['task']} --pretrained {entry.name}"
        print(f"  {'':28s} use: {usage}")
    return 0
