"""The flags of ``hybridsnn train|test|predict dsl``, with the seed's names (docs/dsl.md, «Usage»).

``train`` takes the seed's ``--dataset --model --learning-rule --epochs --batch-size --lr --lr-decay-fact
--lr-decay-milestones --tau --thresh --time-window --dim-in-decoder --print-stats --fa --random-matrix
--encoding``; ``--seed`` defaults to the seed's 1234. ``test``/``predict`` take the network's settings from
the checkpoint, so they have only the run-time flags (and ``predict`` its inputs).
"""

from __future__ import annotations

import argparse

from hybridsnn.checks import values
from hybridsnn.dsl.data import DATASETS, ENCODINGS
from hybridsnn.dsl.network import ARCHITECTURES
from hybridsnn.dsl.rules import RULES
from hybridsnn.dsl.training import OPTIMIZERS
from hybridsnn.flag_groups import add_device_flags, add_subset_flag

SEED_DEFAULT = 1234


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The DSL flags (seed names) of ``train``/``test``/``predict``; ``plot`` needs none."""
    if command == "plot":
        return
    parser.set_defaults(seed=SEED_DEFAULT)
    add = parser.add_argument
    add("--batch-size", type=values.count, default=100, help="samples per batch, >= 1 (default: 100)")
    add_device_flags(parser, threads_default=None)
    add("--amp", action="store_true", help="bfloat16 mixed precision on CUDA (no effect on CPU)")
    add("--compile", action="store_true", help="torch.compile the fixed-weight windows (evaluation, BELL)")
    if command == "predict":
        add("--input", required=True, metavar="PATH", help="images to classify: .npy, IDX or PNG/JPEG")
        add(
            "--labels",
            default=None,
            metavar="PATH",
            help="optional true labels (.npy, IDX or text; one class number per image) for the accuracy",
        )
        return
    add_subset_flag(parser, "--test-subset", "test")
    if command == "train":
        _add_training_flags(parser)


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags only ``train`` has: the network's settings and the training schedule."""
    add = parser.add_argument
    add(
        "--dataset",
        default="MNIST",
        help=f"one of {', '.join(DATASETS)} (default: MNIST), or PATH: your own images, a .npz (x_train, "
        "y_train, x_test, y_test) or a folder train/<class>/*.png, test/<class>/*.png (docs/own_data.md); "
        "MNISTDNN/FashionDNN take any image size, the CNNs square images (sized by them)",
    )
    add(
        "--model",
        dest="arch",
        default="MNISTDNN",
        help=f"one of {', '.join(ARCHITECTURES)} (default: MNISTDNN)",
    )
    add("--learning-rule", default="ELL", choices=RULES, help="local learning rule (default: ELL)")
    add("--epochs", type=values.count, default=200, help="training epochs, >= 1 (default: 200)")
    add("--lr", type=values.positive, default=5e-4, help="initial learning rate, > 0 (default: 5e-4)")
    add(
        "--lr-decay-milestones",
        type=values.count,
        nargs="+",
        default=[100, 200],
        metavar="EPOCH",
        help="multiply the lr by --lr-decay-fact after each of these epochs >= 1 (default: 100 200)",
    )
    add(
        "--lr-decay-fact",
        type=values.number(0.0, 1.0, open_min=True),
        default=0.1,
        help="lr decay factor, in (0, 1] (default: 0.1)",
    )
    add(
        "--optimizer",
        default="adam101",
        choices=OPTIMIZERS,
        help="adam101: Adam with torch 1.0.1's formula as in the seed (default); adam: torch's Adam",
    )
    add(
        "--dim-in-decoder",
        type=values.count,
        default=1024,
        help="target input size (>= 1) of the local classifiers of conv blocks (default: 1024)",
    )
    add("--thresh", type=values.positive, default=1.0, help="firing threshold θ, > 0 (default: 1)")
    add(
        "--tau",
        type=values.positive,
        default=1.0,
        help="membrane time constant in time steps, > 0; decay exp(-1/τ) per step (default: 1)",
    )
    add("--time-window", type=values.count, default=10, help="time steps T per sample, >= 1 (default: 10)")
    add("--fa", action="store_true", help="feedback-alignment (Kolen-Pollack-like) local classifiers")
    add("--random-matrix", action="store_true", help="fixed random local classifiers")
    add("--encoding", default="real", choices=ENCODINGS, help="input coding (default: real = direct current)")
    add(
        "--print-stats",
        action="store_true",
        default=True,
        help="log every block's local accuracy (always on, as in the seed)",
    )
    add_subset_flag(parser, "--train-subset", "training")
