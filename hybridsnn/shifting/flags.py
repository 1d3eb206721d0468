"""The flags of ``hybridsnn train|test|predict shifting`` and their checks before any file is written.

``--engine``/``--backend`` and ``--device``/``--threads`` are the shared groups of
:mod:`hybridsnn.flag_groups`; the task flags override :data:`hybridsnn.shifting.settings.TASK_SETTINGS`
(docs/shifting.md, «Usage»). A flag the chosen task or engine does not read is refused (:data:`READ_BY`).
Times (``--dt``) are in the code frame of the original (z = exp(t)), not in milliseconds.
"""

from __future__ import annotations

import argparse

from hybridsnn.checks import values
from hybridsnn.checks.flags import refuse_flags_not_read, refuse_training_flags
from hybridsnn.checks.paths import check_readable_file
from hybridsnn.data.user_dataset import dataset_flag
from hybridsnn.errors import UserError
from hybridsnn.flag_groups import add_device_flags, add_engine_flags
from hybridsnn.runtime import select_device
from hybridsnn.shifting.data import ENCODINGS, IMAGE_DATASETS
from hybridsnn.shifting.system import SYSTEM
from hybridsnn.sim.options import check_engine_flags

MODEL = SYSTEM.name  # "shifting"
ENGINES = ("reference", "numba", "genn")
DEFAULT_DT = 0.01  # time step of the time-stepped engines, code-time units
ENGINE_HELP = "reference: analytic torch model (default); numba/genn: time-stepped GeNN-model version"
DEVICE_HELP = "torch device of the reference: auto, cpu, cuda, cuda:N (default auto)"

#: The tasks that read each task-specific flag; given for another task, the flag is refused.
READ_BY = {
    "runs": ("xor",),
    "folds": ("iris",),
    "train_size": ("mnist", "fashion-mnist", "spikes"),
    "test_size": ("mnist", "fashion-mnist", "spikes"),
    "encoding": IMAGE_DATASETS,
    "dataset": IMAGE_DATASETS,
    "checkpoint_every": ("mnist", "fashion-mnist", "spikes"),
    "data_seed": ("spikes",),
}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of ``hybridsnn <command> shifting``; ``plot`` needs none."""
    if command == "plot":
        return
    add = parser.add_argument
    add_engine_flags(parser, ENGINES, "reference", ENGINE_HELP)
    add(
        "--dt",
        type=values.number(0.0, 1.0, open_min=True),
        default=DEFAULT_DT,
        help="time step of the time-stepped engines in code-time units (z = exp(t)), 0 < dt <= 1 "
        "(default 0.01)",
    )
    add(
        "--lanes",
        type=values.count,
        default=None,
        help="samples simulated together by the time-stepped engines (default: the batch size)",
    )
    add_device_flags(parser, threads_default=None, device_help=DEVICE_HELP)
    add(
        "--test-size",
        type=values.count,
        default=None,
        help="mnist: first N test images (default 10000); spikes: validation trials (default 50)",
    )
    if command in ("train", "test"):
        add(
            "--dataset",
            type=dataset_flag(()),
            default=None,
            metavar="PATH",
            help="mnist/fashion-mnist tasks: your own images instead of the task's, a .npz (x_train, "
            "y_train, x_test, y_test) or a folder train/<class>/*.png, test/<class>/*.png; the network gets "
            "H*W*C inputs and one output per class (docs/own_data.md). test: default the checkpoint's",
        )
    if command == "predict":
        _add_predict_flags(parser)
    elif command == "train":
        _add_training_flags(parser)


def _add_predict_flags(parser: argparse.ArgumentParser) -> None:
    """``--input`` and ``--labels`` of ``predict``."""
    parser.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="FILE",
        help="mnist: images (.npy, IDX, PNG) of the checkpoint's size (28x28, or that of its --dataset); "
        "xor: features in [0, 1], iris: measurements in cm (0..100), both .npy or text, one sample per row; "
        "spikes: .npz with 'times' (s, 0..10) and 'afferents' of one trial",
    )
    parser.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="true labels (.npy, IDX or text, one class per sample) to report the accuracy",
    )


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags only ``train`` has: the task's settings, sizes, input coding and checkpoint interval."""
    add = parser.add_argument
    add(
        "--data-seed",
        type=values.seed,
        default=0,
        help="spikes: seed of the synthetic spike trials and patterns, 0..2**32-1 (default 0)",
    )
    add(
        "--epochs",
        type=values.count,
        default=None,
        help="training epochs (default: the task's; xor/iris 400, mnist 20, spikes 200)",
    )
    add(
        "--batch-size",
        type=values.count,
        default=None,
        help="samples per update (default: xor 4, iris 30, mnist 128; spikes trains online, 1)",
    )
    add(
        "--lr-w",
        type=values.positive,
        default=None,
        help="initial learning rate of the shifting timings w, > 0 (default: xor 1e-3, iris 1e-2, "
        "mnist 1e-4, spikes 1e-5)",
    )
    add(
        "--lr-w-end",
        type=values.positive,
        default=None,
        help="final learning rate of w (geometric decay per epoch), > 0 (default: xor 1e-3, iris 1e-2, "
        "mnist 1e-6, spikes 1e-6)",
    )
    add(
        "--lr-p",
        type=values.non_negative,
        default=None,
        help="learning rate of the propagation factors e_tp, >= 0 (0 freezes them; default: xor 1e-2, "
        "iris 1e-6, mnist 1e-4, spikes 1e-6)",
    )
    add(
        "--hidden",
        type=values.count,
        default=None,
        help="hidden neurons (default: xor 8, iris 10, mnist 800, spikes 3200)",
    )
    add(
        "--runs",
        type=values.count,
        default=None,
        help="xor: independent runs with seeds SEED..SEED+N-1 (default 1)",
    )
    add(
        "--folds",
        type=values.integer(1, 5),
        default=None,
        help="iris: cross-validation folds to run, 1..5 (default 5)",
    )
    add(
        "--train-size",
        type=values.count,
        default=None,
        help="mnist: first N training images (default 60000); spikes: training trials (default 200)",
    )
    add(
        "--encoding",
        choices=ENCODINGS,
        default="binary",
        help="mnist input: binary (pixel > 0.5 -> t = 0.99, else t = -1.3; default) or grey (t = 1 - pixel)",
    )
    add(
        "--checkpoint-every",
        type=values.count,
        default=None,
        metavar="N",
        help="mnist/spikes: also save the resumable state every N batches/trials (default: once per epoch)",
    )


def validate(args: argparse.Namespace, command: str) -> None:
    """Flags that depend on each other, the task or this machine, checked before the run folder is created
    (single values are refused by their ``type=`` already)."""
    if command == "plot":
        return
    from hybridsnn.cli import build_model_parser

    if getattr(args, "test", False):  # train shifting --test: the training flags are not read
        refuse_training_flags(args, MODEL)
    refuse_flags_not_read(args, build_model_parser("hybridsnn", command, MODEL), READ_BY, args.task, command)
    check_engine_flags(args.engine, args.backend)
    if args.engine == "reference":
        for flag, value, default in (("--lanes", args.lanes, None), ("--dt", args.dt, DEFAULT_DT)):
            if value != default:
                raise UserError(f"{flag} {value} applies to the time-stepped engines (--engine numba or "
                                "genn), not --engine reference")  # fmt: skip
        select_device(args.device)  # an unknown device, or CUDA where there is none
    elif args.device not in ("auto", "cpu"):
        raise UserError(f"--device {args.device} applies to --engine reference; the time-stepped engines run "
                        "on the CPU (numba) or on their --backend (genn)")  # fmt: skip
    if args.task == "spikes" and args.engine != "reference":
        raise UserError(f"the spikes task runs on --engine reference only, got --engine {args.engine}")
    batch_size = getattr(args, "batch_size", None)
    if args.task == "spikes" and batch_size not in (None, 1):
        raise UserError(f"the spikes task trains online (batch size 1), got --batch-size {batch_size}")
    if command == "predict":  # the inputs are read before any work; a bad file is named at once
        for path in args.input:
            check_readable_file(path, f"input file {path!r}")
        if args.labels is not None:
            check_readable_file(args.labels, f"labels file {args.labels!r}")
