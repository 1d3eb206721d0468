"""The ``hybridsnn`` command line: train, test, predict, plot, report, data, list.

Every train/test/predict run writes one run directory under ``--output`` (see :mod:`hybridsnn.results`).
Bad input ends with one line ``hybridsnn: error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridsnn.errors import UserError
from hybridsnn.registry import MODELS, get_model, load_driver

RUN_COMMANDS = ("train", "test", "predict")
MODEL_COMMANDS = (*RUN_COMMANDS, "plot")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_run_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags every train/test/predict run shares."""
    parser.add_argument(
        "--output",
        default="output",
        metavar="DIR",
        help="folder that receives the run directory (default: output/)",
    )
    parser.add_argument(
        "--run-name",
        default=None,
        metavar="NAME",
        help="name of the run directory (default: <model>-<task>-<command>-<time>-<id>)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the run (default: %(default)s)")
    parser.add_argument(
        "--data-root", default=None, metavar="DIR", help="dataset root (default: $HYBRIDSNN_DATA, else data/)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small, fast configuration of the experiment (minutes on a laptop CPU)",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="checkpoint to start from (train) or to evaluate (test, predict)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if command == "train":
        parser.add_argument(
            "--test",
            action="store_true",
            help="evaluate --checkpoint instead of training (the original TEST_MODE switch)",
        )
        parser.add_argument(
            "--resume",
            default=None,
            metavar="RUN_DIR",
            help="continue an interrupted training run from its last checkpoint",
        )


def build_model_parser(prog: str, command: str, model: str) -> argparse.ArgumentParser:
    """The parser of ``hybridsnn <command> <model>``: shared flags plus the driver's own."""
    info = get_model(model)
    parser = _Parser(prog=f"{prog} {command} {model}", description=f"{command} {model}: {info.summary}")
    if command in RUN_COMMANDS:
        add_run_arguments(parser, command)
        parser.add_argument(
            "--task",
            default=info.tasks[0],
            choices=info.tasks,
            help=f"experiment to run (default: {info.tasks[0]})",
        )
    else:
        parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory to plot")
        parser.add_argument(
            "--output", default=None, metavar="DIR", help="folder for the figures (default: RUN_DIR/plots)"
        )
    load_driver(model).add_arguments(parser, command)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (model-specific flags are parsed in a second stage)."""
    parser = _Parser(
        prog="hybridsnn",
        description="Train, test, predict with and plot five spiking-network learning systems.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in MODEL_COMMANDS:
        help_text = {
            "train": "train a model (add --test to evaluate a checkpoint instead)",
            "test": "evaluate a checkpoint on a test set with learning frozen",
            "predict": "classify given inputs with a checkpoint",
            "plot": "draw the figures of a run directory",
        }[command]
        p = sub.add_parser(command, help=help_text, add_help=False)
        p.add_argument(
            "model", metavar="MODEL", help="one of: " + ", ".join(sorted(MODELS)) if MODELS else "model"
        )
    p = sub.add_parser("report", help="one table over many run directories")
    p.add_argument(
        "paths",
        nargs="*",
        default=["output"],
        metavar="DIR",
        help="run directories or folders holding them (default: output/)",
    )
    p.add_argument("--format", choices=("markdown", "csv"), default="markdown", help="table format")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the table as CSV to FILE")
    p = sub.add_parser("data", help="list, check or download datasets")
    from hybridsnn.data.commands import add_arguments as add_data_arguments

    add_data_arguments(p)
    sub.add_parser("list", help="show the registered models and their tasks")
    return parser


def _cmd_list() -> int:
    for info in sorted(MODELS.values(), key=lambda i: i.name):
        print(f"{info.name:14s} [{info.runs_on}] {info.summary}")
        print(f"{'':14s} tasks: {', '.join(info.tasks)}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from hybridsnn.atomic import write_text
    from hybridsnn.results import find_runs, format_csv, format_markdown, report_rows

    columns, rows = report_rows(find_runs(args.paths))
    text = format_csv(columns, rows) if args.format == "csv" else format_markdown(columns, rows)
    print(text, end="")
    if args.csv:
        write_text(args.csv, format_csv(columns, rows))
    return 0


def _run_model_command(command: str, model: str, argv: Sequence[str]) -> int:
    args = build_model_parser("hybridsnn", command, model).parse_args(list(argv))
    driver = load_driver(model)
    if command == "plot":
        for path in driver.plot(args):
            print(path)
        return 0
    if command == "train" and args.test:
        command = "test"
        if args.checkpoint is None:
            raise UserError("--test needs --checkpoint PATH (the checkpoint to evaluate)")
    validate = getattr(driver, "validate", None)
    if validate is not None:  # flags a driver can check before any work starts or any file is written
        validate(args, command)
    run = _open_run(command, model, args)
    results = getattr(driver, command)(args, run)
    _print_metrics(results.get("metrics", results) if isinstance(results, dict) else {})
    print(f"run directory: {run.path}")
    return 0


def _open_run(command: str, model: str, args: argparse.Namespace) -> Any:
    from hybridsnn.results import Run

    rank = int(os.environ.get("RANK", "0") or 0)
    if rank > 0:
        return _scratch_run(rank, command, model, args)
    if getattr(args, "resume", None):
        return Run.resume(args.resume)
    config = {k: v for k, v in vars(args).items() if k not in ("resume", "test")}
    return Run.create(
        args.output, model=model, task=args.task, command=command, config=config, name=args.run_name
    )


def _scratch_run(rank: int, command: str, model: str, args: argparse.Namespace) -> Any:
    """The run of a torchrun process other than rank 0: a throw-away copy, removed at exit.

    Rank 0 owns the real run directory; the other ranks run the same code on a private copy (a copy of
    the resumed run with ``--resume``), so they never write into rank 0's files.
    """
    from hybridsnn.results import Run

    scratch = Path(tempfile.mkdtemp(prefix=f"hybridsnn-rank{rank}-"))
    atexit.register(shutil.rmtree, scratch, True)
    if getattr(args, "resume", None):
        shutil.copytree(args.resume, scratch / "run")
        return Run.resume(scratch / "run")
    config = {k: v for k, v in vars(args).items() if k not in ("resume", "test")}
    return Run.create(scratch, model=model, task=args.task, command=command, config=config, name="run")


def _print_metrics(metrics: dict[str, Any]) -> None:
    for key, value in metrics.items():
        if isinstance(value, float):
            print(f"{key} = {value:.4f}")
        elif isinstance(value, (int, str)):
            print(f"{key} = {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hybridsnn`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if len(argv) >= 2 and argv[0] in MODEL_COMMANDS and not argv[1].startswith("-"):
            return _run_model_command(argv[0], argv[1], argv[2:])
        if argv and argv[0] in MODEL_COMMANDS:
            sub_help = "-h" in argv or "--help" in argv
            if not sub_help:
                parser.error(
                    f"{argv[0]} needs a MODEL; one of: {', '.join(sorted(MODELS)) or '(none registered)'}"
                )
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "list":
            return _cmd_list()
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "data":
            from hybridsnn.data.commands import run as run_data

            return run_data(args)
        parser.print_help()
        return 2
    except UserError as exc:
        print(f"hybridsnn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hybridsnn: interrupted; resume training with --resume RUN_DIR", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
