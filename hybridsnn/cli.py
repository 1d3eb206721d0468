"""The ``hybridsnn`` command line: train, test, predict, plot, report, data, pretrained, list.

Every train/test/predict run writes one run directory under ``--output`` (see :mod:`hybridsnn.results`).
Bad input ends with one line ``hybridsnn: error: ...`` and exit status 2, and leaves nothing behind: the run
directory is created only after the flags have been checked, and removed again when the command is refused
before it has done any work (a missing dataset, a checkpoint of another model). A run records its status
(``running``, ``completed``, ``failed``, ``interrupted``) in ``status.json``.

``--resume RUN_DIR`` continues a training run with the configuration stored in its ``config.json``: flags
left out take the stored values, flags given must equal them (the first difference is named), except the
ones in :data:`RESUME_MAY_CHANGE`, which only say where and how to run. A completed run is left as it is.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridsnn.atomic import json_default
from hybridsnn.checks import values
from hybridsnn.checks.paths import check_writable_dir, run_name
from hybridsnn.errors import UserError
from hybridsnn.registry import MODELS, get_model, load_driver

RUN_COMMANDS = ("train", "test", "predict")
MODEL_COMMANDS = (*RUN_COMMANDS, "plot")
#: Flags that may differ from the stored configuration on ``--resume``: where the data, the output and the
#: progress bars are, and how many CPU threads run (results do not depend on it).
COMMAND_HELP = {
    "train": "train a model (add --test to evaluate a checkpoint instead)",
    "test": "evaluate a checkpoint on a test set with learning frozen",
    "predict": "classify given inputs with a checkpoint",
    "plot": "draw the figures of a run directory (plot compare RUN ...: runs on one figure)",
}
RESUME_MAY_CHANGE = frozenset({"resume", "output", "run_name", "data_root", "no_progress", "threads"})


class _Parser(argparse.ArgumentParser):
    """argparse with one line ``hybridsnn: error: [<command> <model>:] message`` and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        context = self.prog.removeprefix("hybridsnn").strip()
        self.exit(2, f"hybridsnn: error: {context + ': ' if context else ''}{message}\n")


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
        type=run_name,
        metavar="NAME",
        help="name of the run directory, one folder inside --output (default: "
        "<model>-<task>-<command>-<time>-<id>)",
    )
    parser.add_argument(
        "--seed",
        type=values.seed,
        default=0,
        help="random seed of the run, 0..2**32-1 (default: %(default)s)",
    )
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
    add_pretrained_argument(parser, "instead of --checkpoint")
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
            help="continue an interrupted training run from its last checkpoint, with its stored "
            "configuration (flags given must match it; --output, --data-root, --threads, --no-progress may "
            "change); a completed run is left unchanged",
        )


def add_pretrained_argument(parser: argparse.ArgumentParser, role: str) -> None:
    """``--pretrained NAME``: a model shipped with hybridsnn (``hybridsnn pretrained list``)."""
    parser.add_argument(
        "--pretrained",
        default=None,
        metavar="NAME",
        help=f"a model shipped with hybridsnn, {role} (see 'hybridsnn pretrained list'); every checkpoint "
        "flag (--checkpoint, --fixed-hidden, --encoders) also takes pretrained:NAME",
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
        parser.add_argument("run_dir", metavar="RUN_DIR", nargs="?", help="run directory to plot")
        parser.add_argument(
            "--output",
            default=None,
            metavar="DIR",
            help="folder for the figures (default: RUN_DIR/plots; with --pretrained: output/NAME-plots)",
        )
        add_pretrained_argument(parser, "in place of RUN_DIR")
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
        p = sub.add_parser(command, help=COMMAND_HELP[command], add_help=False)
        p.add_argument(
            "model", metavar="MODEL", help="one of: " + ", ".join(sorted(MODELS)) if MODELS else "model"
        )
    p = sub.add_parser(
        "report",
        help="one table per model and task over run directories, seed repeats as mean ± std",
        description="One markdown table per (model, task) over the run directories below DIR: the system's "
        "key metrics and the status of each row; runs that differ only in --seed (and output paths) are "
        "one row, mean ± sample std (n=K).",
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["output"],
        metavar="DIR",
        help="run directories or folders holding them (default: output/)",
    )
    p.add_argument(
        "--format",
        choices=("markdown", "csv"),
        default="markdown",
        help="what to print: markdown tables (values rounded, accuracies in %%) or the CSV of --csv",
    )
    p.add_argument(
        "--csv",
        default=None,
        metavar="FILE",
        help="also write every table as one CSV to FILE, at full precision, with model and task columns",
    )
    p.add_argument(
        "--per-run",
        action="store_true",
        help="one row per run instead of one row per experiment (runs that differ only in --seed)",
    )
    p.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="FLAG",
        help="aggregate the runs with equal values of these config flags (repeat it or give a comma list), "
        "shown as columns, instead of grouping by every flag but the seed",
    )
    p = sub.add_parser("data", help="list, check or download datasets")
    from hybridsnn.data.commands import add_arguments as add_data_arguments

    add_data_arguments(p)
    p = sub.add_parser("pretrained", help="the models shipped with hybridsnn (list, show NAME)")
    from hybridsnn.pretrained.commands import add_arguments as add_pretrained_arguments

    add_pretrained_arguments(p)
    sub.add_parser("list", help="show the registered models and their tasks")
    return parser


def _cmd_list() -> int:
    for info in sorted(MODELS.values(), key=lambda i: i.name):
        print(f"{info.name:14s} [{info.runs_on}] {info.summary}")
        print(f"{'':14s} tasks: {', '.join(info.tasks)}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from hybridsnn.atomic import write_text
    from hybridsnn.checks.paths import check_writable_file
    from hybridsnn.results import find_runs, report_tables, tables_csv, tables_markdown

    if args.csv:
        check_writable_file(args.csv, f"--csv {args.csv!r}")
    tables = report_tables(find_runs(args.paths), group_by=args.group_by, per_run=args.per_run)
    csv_text = tables_csv(tables, args.per_run)
    print(csv_text if args.format == "csv" else tables_markdown(tables), end="")
    if args.csv:
        write_text(args.csv, csv_text)
    return 0


#: ``hybridsnn plot compare RUN ...``: the learning curves of several runs of one system on one figure.
COMPARE = "compare"


def build_compare_parser() -> argparse.ArgumentParser:
    """The parser of ``hybridsnn plot compare``."""
    parser = _Parser(
        prog=f"hybridsnn plot {COMPARE}",
        description="draw the learning curves (metrics.jsonl) of runs of one system and task on one figure, "
        "one line per run",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories of one model and task")
    parser.add_argument(
        "--metric",
        default=None,
        metavar="NAME",
        help="the metrics.jsonl metric to draw (default: the system's main curve, e.g. sym-STDP's SL test "
        "accuracy); accuracies are drawn in %%",
    )
    parser.add_argument(
        "--output",
        default=None,
        metavar="PATH",
        help="the figure to write, .png (default: FIRST_RUN/plots/compare.png, with --metric "
        "FIRST_RUN/plots/compare_METRIC.png)",
    )
    return parser


def _cmd_plot_compare(argv: Sequence[str]) -> int:
    from hybridsnn.checks.paths import check_writable_file
    from hybridsnn.plots import compare_runs
    from hybridsnn.results import read_config

    args = build_compare_parser().parse_args(list(argv))
    for run_dir in args.runs:
        read_config(run_dir)  # a folder that is not a run: one line, before any path is checked
    name = f"compare_{args.metric}.png" if args.metric else "compare.png"
    output = args.output or str(Path(args.runs[0]) / "plots" / name)
    check_writable_file(output, f"--output {output!r}")
    print(compare_runs(args.runs, output, metric=args.metric))
    return 0


def _run_model_command(command: str, model: str, argv: Sequence[str]) -> int:
    parser = build_model_parser("hybridsnn", command, model)
    args = parser.parse_args(list(argv))
    driver = load_driver(model)
    if command == "plot":
        _plot_target(args, model)
        _check_plot_target(args, model)
        for path in driver.plot(args):
            print(path)
        return 0
    if not getattr(args, "resume", None):  # a resumed run's config.json holds the resolved paths
        resolve_pretrained(args, model, task_given="task" in explicit_flags(parser, argv))
    if command == "train" and args.test:
        if args.resume:
            raise UserError("--test evaluates --checkpoint and writes a new run; it cannot be combined with "
                            "--resume (a test never writes into a training run)")  # fmt: skip
        command = "test"
        if args.checkpoint is None:
            raise UserError("--test needs --checkpoint PATH (the checkpoint to evaluate)")
    if command == "predict" and getattr(driver, "PREDICT_UNAVAILABLE", None):  # a model without predict
        raise UserError(driver.PREDICT_UNAVAILABLE)
    if command in ("test", "predict") and args.checkpoint is None:
        raise UserError(f"{command} {model} needs --checkpoint PATH (the checkpoint to evaluate)")
    if getattr(args, "resume", None):
        stored = _resumable_config(args.resume, model)
        if stored is None:
            print(f"hybridsnn: run {args.resume!r} is already completed; nothing to resume", file=sys.stderr)
            return 0
        # a hand-edited config.json must hold what the flags could have produced (no NaN, no 0 counts)
        values.check_stored_flags(stored, parser, f"--resume {args.resume!r}: config.json")
        _take_stored_config(args, stored, explicit_flags(parser, argv), parser)
    validate = getattr(driver, "validate", None)
    if validate is not None:  # flags a driver can check before any work starts or any file is written
        validate(args, command)
    run = _open_run(command, model, args)
    try:
        results = getattr(driver, command)(args, run)
    except UserError as exc:
        if run.created and not run.checkpoints():
            run.discard()  # refused before it produced anything: leave no run folder behind
        else:  # a resumed run, or one with checkpoints worth keeping: say why it stopped
            run.set_status("failed", error=str(exc))
        raise
    except KeyboardInterrupt:
        run.set_status("interrupted")
        raise
    except BaseException as exc:
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _print_metrics(results.get("metrics", results) if isinstance(results, dict) else {})
    print(f"run directory: {run.path}")
    return 0


def explicit_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The destinations of the flags given in ``argv`` (not filled in from defaults)."""
    unset = object()
    probe = argparse.Namespace()
    for action in parser._actions:
        if action.dest != argparse.SUPPRESS:
            # append/count actions build on the current value, so they start from None instead
            appends = isinstance(action, (argparse._AppendAction, argparse._CountAction))
            setattr(probe, action.dest, None if appends else unset)
    parser.parse_args(list(argv), namespace=probe)
    return {dest for dest, value in vars(probe).items() if value is not unset and value is not None}


def _resumable_config(path: str, model: str) -> dict[str, Any] | None:
    """The stored configuration of a training run of ``model`` that can resume (None: it completed)."""
    from hybridsnn.results import read_config, run_status

    check_writable_dir(path, f"--resume {path!r}")
    config = read_config(path)
    stored_model = config.get("model")
    if stored_model != model:
        hint = f"; resume it with: hybridsnn train {stored_model} --resume ..." if stored_model in MODELS \
            else ""
        raise UserError(f"--resume {path!r} is a run of model {stored_model!r}, not {model!r}{hint}")
    if config.get("command") != "train":
        raise UserError(f"--resume {path!r} is a {config.get('command')!r} run; only training runs resume")
    status = run_status(path)
    # under torchrun, rank 0 (which checked the status) may already have marked the run running
    if status == "running" and int(os.environ.get("RANK", "0") or 0) == 0:
        raise UserError(f"--resume {path!r} is still running (status.json names a live process)")
    return None if status == "completed" else config


def _as_stored(value: Any) -> Any:
    return json.loads(json.dumps(value, default=json_default))


def _take_stored_config(
    args: argparse.Namespace, stored: dict[str, Any], given: set[str], parser: argparse.ArgumentParser
) -> None:
    """Fill ``args`` from the stored configuration; a given flag must equal its stored value."""
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
    for dest in (a.dest for a in parser._actions):
        if dest not in given or dest in RESUME_MAY_CHANGE or dest not in stored:
            continue
        value = _as_stored(getattr(args, dest))
        if value != stored[dest]:
            raise UserError(
                f"{flags.get(dest, dest)} {value!r} differs from the run's stored {stored[dest]!r}; a "
                "resumed run keeps its configuration (leave the flag out, or start a new run)"
            )
    for dest, value in stored.items():
        if hasattr(args, dest) and not (dest in given and dest in RESUME_MAY_CHANGE):
            setattr(args, dest, value)


#: The flags that name a checkpoint file, by argparse destination (each one takes pretrained:NAME).
CHECKPOINT_FLAGS = {"checkpoint": "--checkpoint", "fixed_hidden": "--fixed-hidden", "encoders": "--encoders"}


def resolve_pretrained(args: argparse.Namespace, model: str, task_given: bool = True) -> None:
    """Replace ``--pretrained NAME`` and each ``pretrained:NAME`` value by the shipped model's file. Where
    ``--task`` was not given (``task_given``), the task of the model that ``--pretrained`` or
    ``--checkpoint pretrained:NAME`` names becomes the task (a given one is checked against the checkpoint
    by the system, as for any checkpoint)."""
    from hybridsnn.pretrained.catalog import VALUE_PREFIX, resolve

    for dest, flag in CHECKPOINT_FLAGS.items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and value.startswith(VALUE_PREFIX):
            named = resolve(value[len(VALUE_PREFIX) :], model, flag)
            setattr(args, dest, str(named.checkpoint))
            if dest == "checkpoint" and not task_given and hasattr(args, "task"):
                args.task = named.card["task"]
    if args.pretrained is None:
        return
    entry = resolve(args.pretrained, model)
    if not task_given and hasattr(args, "task"):
        args.task = entry.card["task"]
    if getattr(args, entry.flag, None) is not None:
        raise UserError(f"--pretrained {args.pretrained!r} and {CHECKPOINT_FLAGS[entry.flag]} "
                        f"{getattr(args, entry.flag)!r} both name the model to use; give one")  # fmt: skip
    if not hasattr(args, entry.flag):
        raise UserError(f"--pretrained {args.pretrained!r} fills {CHECKPOINT_FLAGS[entry.flag]}, which this "
                        "command does not take")  # fmt: skip
    setattr(args, entry.flag, str(entry.checkpoint))


def _plot_target(args: argparse.Namespace, model: str) -> None:
    """RUN_DIR, or the folder of the shipped model ``--pretrained`` names (one of the two)."""
    from hybridsnn.pretrained.catalog import resolve

    if (args.run_dir is None) == (args.pretrained is None):
        raise UserError("plot needs a RUN_DIR or --pretrained NAME (one of the two)")
    if args.pretrained is not None:
        args.run_dir = str(resolve(args.pretrained, model).folder)
        args.output = args.output or str(Path("output") / f"{args.pretrained}-plots")


def _check_plot_target(args: argparse.Namespace, model: str) -> None:
    """The run(s) to plot are runs of ``model``, and the figures' folder is writable."""
    from hybridsnn.results import read_config

    for run_dir in [args.run_dir, *(getattr(args, "compare", None) or [])]:
        stored = read_config(run_dir).get("model")
        if stored != model:
            raise UserError(f"{run_dir!r} is a run of model {stored!r}; plot it with hybridsnn plot {stored}")
    check_writable_dir(args.output or Path(args.run_dir) / "plots", f"plot --output {str(args.output)!r}"
                       if args.output else f"the plots folder of {args.run_dir!r}")  # fmt: skip


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
        # rank 0 is resuming the same folder at the same time: skip its half-written temporary files
        # (".NAME.*.tmp", hybridsnn/atomic.py) and any file it replaces or removes while we copy
        shutil.copytree(args.resume, scratch / "run", ignore=shutil.ignore_patterns(".*.tmp"),
                        copy_function=_copy_if_present)  # fmt: skip
        return Run.resume(scratch / "run")
    config = {k: v for k, v in vars(args).items() if k not in ("resume", "test")}
    return Run.create(scratch, model=model, task=args.task, command=command, config=config, name="run")


def _copy_if_present(source: str, target: str) -> None:
    """``shutil.copy2``, except that a file removed (or renamed away) since it was listed is left out."""
    with contextlib.suppress(FileNotFoundError):
        shutil.copy2(source, target)


def _print_metrics(metrics: dict[str, Any]) -> None:
    for key, value in metrics.items():
        if isinstance(value, float):
            print(f"{key} = {value:.4f}")
        elif isinstance(value, (int, str)):
            print(f"{key} = {value}")


def _interrupt_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a terminated run records "interrupted", like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hybridsnn`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if threading_main():
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        if argv[:2] == ["plot", COMPARE]:
            return _cmd_plot_compare(argv[2:])
        if len(argv) >= 2 and argv[0] in MODEL_COMMANDS and not argv[1].startswith("-"):
            return _run_model_command(argv[0], argv[1], argv[2:])
        if argv and argv[0] in MODEL_COMMANDS:
            if "-h" in argv or "--help" in argv:
                return _command_help(argv[0])
            parser.error(f"{argv[0]} needs a MODEL; one of: {', '.join(sorted(MODELS)) or '(none)'}")
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "list":
            return _cmd_list()
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "pretrained":
            from hybridsnn.pretrained.commands import run as run_pretrained

            return run_pretrained(args)
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
    except BrokenPipeError:  # stdout closed early (``hybridsnn report | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def threading_main() -> bool:
    """Whether this is the main thread of the main interpreter (where signal handlers can be set)."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _command_help(command: str) -> int:
    """``hybridsnn <command> --help``: what the command does and the models it takes."""
    print(f"usage: hybridsnn {command} MODEL [flags]\n")
    print(f"{command}: {COMMAND_HELP[command]}\n")
    print("models:")
    for info in sorted(MODELS.values(), key=lambda i: i.name):
        print(f"  {info.name:12s} {info.summary}")
    print(f"\n'hybridsnn {command} MODEL --help' lists the flags of one model.")
    if command == "plot":
        print(f"'hybridsnn plot {COMPARE} RUN [RUN ...]' draws the learning curves of several runs of one "
              f"system on one figure ('hybridsnn plot {COMPARE} --help').")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
