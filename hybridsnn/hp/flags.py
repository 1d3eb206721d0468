"""The flags of ``hybridsnn train|test|predict|plot hp`` and which tasks read each task-specific flag.

A task-specific flag given to a task that does not read it is refused (:data:`TRAIN_FLAGS_OF`,
:data:`TEST_FLAGS_OF`; the method-specific ones: :data:`hybridsnn.hp.methods.METHOD_FLAGS_OF`).
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from hybridsnn.checks import values
from hybridsnn.flag_groups import add_device_flags, add_subset_flag
from hybridsnn.hp.corruption import NOISE_MODES
from hybridsnn.hp.fewshot import OMNIGLOT_SETS
from hybridsnn.hp.settings import (
    EPOCH_TASKS,
    IMAGE_TASKS,
    SWEEP_TASKS,
    FewShotSettings,
    MultitaskSettings,
)
from hybridsnn.hp.sweeps import MAX_NOISE_LEVEL, MAX_OCCLUSION_LEVEL

SEED_DEFAULT = 111
MULTITASK_FLAGS = tuple(f.name for f in fields(MultitaskSettings))
FEWSHOT_FLAGS = tuple(f.name for f in fields(FewShotSettings))
#: The task-specific flags of ``train`` and the tasks that read them (others are refused for other tasks).
TRAIN_FLAGS_OF = {
    **{name: EPOCH_TASKS for name in ("dataset", "epochs", "batch_size", "train_subset", "test_subset")},
    **{name: SWEEP_TASKS for name in ("noise_levels", "noise")},
    "occlusion_levels": ("tolerance",),
    **{name: ("multitask",) for name in MULTITASK_FLAGS},
    **{name: ("fewshot",) for name in FEWSHOT_FLAGS},
}
#: The same for ``test`` (what each task's evaluation reads).
TEST_FLAGS_OF = {
    "batch_size": IMAGE_TASKS,
    "test_subset": EPOCH_TASKS,
    **{name: SWEEP_TASKS for name in ("noise_levels", "noise")},
    "occlusion_levels": ("tolerance",),
    "test_episodes": ("fewshot",),
}
_MULTITASK, _FEWSHOT = MultitaskSettings(), FewShotSettings()


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``hybridsnn <command> hp`` (its flags' types also check stored settings)."""
    from hybridsnn.cli import build_model_parser

    return build_model_parser("hybridsnn", command, "hp")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """HP flags of ``train``/``test``/``predict`` (``plot`` takes extra run directories to compare).

    Task-specific flags are refused for the tasks that do not read them (:data:`TRAIN_FLAGS_OF`).
    """
    add = parser.add_argument
    if command == "plot":
        add("compare", nargs="*", metavar="RUN_DIR", help="more run directories drawn on the same figures")
        return
    parser.set_defaults(seed=SEED_DEFAULT)
    add(
        "--method",
        default=None,
        help="hp, gp, lp (simple), ewc (multitask); default hp; test/predict: checked against the checkpoint",
    )
    add_device_flags(parser, threads_default=1)
    if command == "predict":
        add("--input", required=True, metavar="PATH", help="images to classify: .npy, IDX or PNG")
        return
    _add_evaluation_flags(parser)
    if command == "test":
        return
    _add_training_flags(parser)
    _add_multitask_flags(parser)
    _add_fewshot_flags(parser)


def _add_evaluation_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of ``test`` and ``train``: batches, test subset, corruption sweeps, few-shot test episodes."""
    add = parser.add_argument
    add(
        "--batch-size",
        type=values.count,
        default=None,
        help="samples per batch, >= 1 (default: the seed's; test: the checkpoint's)",
    )
    add_subset_flag(parser, "--test-subset", "test")
    add(
        "--noise-levels",
        type=values.integer(0, MAX_NOISE_LEVEL),
        nargs="+",
        default=None,
        metavar="I",
        help=f"noise levels I = 0..{MAX_NOISE_LEVEL} of the sweep (variance 0.01·I) of --task simple and "
        "tolerance (default: simple 0..6, tolerance 0..14)",
    )
    add(
        "--occlusion-levels",
        type=values.integer(0, MAX_OCCLUSION_LEVEL),
        nargs="+",
        default=None,
        metavar="I",
        help=f"occlusion levels I = 0..{MAX_OCCLUSION_LEVEL} (central 2I×2I pixel square set to 0) of the "
        "--task tolerance sweep (default: 0..14; a user dataset of H×W images: I <= min(H, W)/2, default "
        "0..min(H, W)/2)",
    )
    add(
        "--noise",
        default="gaussian",
        choices=NOISE_MODES,
        help="noise of the sweep of --task simple and tolerance (default: gaussian)",
    )
    add(
        "--test-episodes",
        type=values.count,
        default=_FEWSHOT.test_episodes,
        help=f"few-shot test episodes, >= 1 (default: {_FEWSHOT.test_episodes})",
    )


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """Training flags of every epoch-based task: dataset, epochs, learning rates, training subset."""
    add = parser.add_argument
    add(
        "--dataset",
        default=None,
        help="mnist or fashion-mnist (simple, tolerance, multitask), or cifar10 (classification); "
        "default mnist; fewshot always uses omniglot. simple, tolerance and classification also take PATH: "
        "your own images, a .npz (x_train, y_train, x_test, y_test) or a folder train/<class>/*.png, "
        "test/<class>/*.png; the MLP gets H*W*C inputs, the (MNIST) CNN C input channels and H, W >= 8, "
        "and both one output per class (docs/own_data.md)",
    )
    add(
        "--epochs",
        type=values.count,
        default=None,
        help="training epochs, >= 1 (per task for multitask; default: the seed's)",
    )
    add("--lr", type=values.positive, default=None,
        help="learning rate of the GP weights, > 0 (default: seed's)")  # fmt: skip
    add("--local-lr", type=values.positive, default=None,
        help="learning rate of α, β, η, > 0 (default: seed's)")  # fmt: skip
    add_subset_flag(parser, "--train-subset", "training")


def _add_multitask_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--tasks", type=values.count, default=_MULTITASK.tasks,
        help=f"multitask: permuted-MNIST tasks, >= 1 (default: {_MULTITASK.tasks})")  # fmt: skip
    add(
        "--meta-tasks",
        type=values.non_negative_integer,
        default=_MULTITASK.meta_tasks,
        help=f"multitask: the first N >= 0 tasks are followed by the replay meta phase (default: "
        f"{_MULTITASK.meta_tasks})",
    )
    add("--hidden", type=values.count, default=_MULTITASK.hidden,
        help=f"multitask: hidden layer size, >= 1 (default: {_MULTITASK.hidden})")  # fmt: skip
    add(
        "--sparsity",
        type=values.number(0.0, 1.0, open_min=True),
        default=_MULTITASK.sparsity,
        help=f"multitask: fraction of ones in the task masks, in (0, 1] (default: {_MULTITASK.sparsity})",
    )
    add(
        "--ewc-lambda",
        type=values.non_negative,
        default=_MULTITASK.ewc_lambda,
        help=f"multitask --method ewc: EWC strength, >= 0 (default: {_MULTITASK.ewc_lambda:g})",
    )


def _add_fewshot_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--iterations",
        type=values.count,
        default=_FEWSHOT.iterations,
        help=f"few-shot meta iterations, >= 1 (default: {_FEWSHOT.iterations:,})",
    )
    add(
        "--eval-every",
        type=values.count,
        default=_FEWSHOT.eval_every,
        help=f"few-shot: test every N >= 1 iterations (default: {_FEWSHOT.eval_every})",
    )
    add("--ways", type=values.integer(2), default=_FEWSHOT.ways,
        help=f"few-shot N-way, >= 2 (default: {_FEWSHOT.ways})")  # fmt: skip
    add("--shots", type=values.count, default=_FEWSHOT.shots,
        help=f"few-shot K-shot, >= 1 (default: {_FEWSHOT.shots})")  # fmt: skip
    add(
        "--omniglot-sets",
        default=_FEWSHOT.omniglot_sets,
        choices=tuple(OMNIGLOT_SETS),
        help="few-shot data: small = background_small1+2, full = background+evaluation (default: "
        f"{_FEWSHOT.omniglot_sets})",
    )
