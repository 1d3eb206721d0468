"""Settings of the Shifting Learning tasks: the original scripts' values, ``--quick``, and their resolution.

:class:`TaskSettings` is the one settings type of the system (network sizes, epochs, batch size, learning
rates); :data:`TASK_SETTINGS` holds the original scripts' values per task (docs/shifting.md, «Usage») and
:func:`task_settings` applies the flags and ``--quick`` to them. Learning rates are per update (Adam step
sizes, unitless); sizes are neuron counts; epochs are passes over the training data.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

import torch

from hybridsnn.results import Run
from hybridsnn.shifting.spike_task import SpikeTaskConfig


@dataclass(frozen=True)
class TaskSettings:
    """Network sizes, epochs, batch size and learning rates (η_w from ``lr_w`` to ``lr_w_end``; η_p fixed)."""

    sizes: tuple[int, ...]
    epochs: int
    batch_size: int
    lr_w: float
    lr_w_end: float
    lr_p: float

    def learning_rate(self, epoch: int) -> float:
        """η_w of (0-based) ``epoch``: lr_w · (lr_w_end / lr_w)^(epoch / epochs), set once per epoch."""
        return self.lr_w * (self.lr_w_end / self.lr_w) ** (epoch / self.epochs)

    def with_hidden(self, hidden: int) -> TaskSettings:
        """The same settings with ``hidden`` neurons in the (single) hidden layer."""
        return replace(self, sizes=(self.sizes[0], hidden, self.sizes[-1]))

    def with_io(self, inputs: int, outputs: int) -> TaskSettings:
        """The same settings with ``inputs`` input and ``outputs`` output neurons (a user dataset's H·W·C
        and K)."""
        return replace(self, sizes=(inputs, *self.sizes[1:-1], outputs))


#: The original scripts' settings (docs/shifting.md, «Usage», the settings table).
TASK_SETTINGS = {
    "xor": TaskSettings((2, 8, 2), 400, 4, 1e-3, 1e-3, 1e-2),
    "iris": TaskSettings((4, 10, 3), 400, 30, 1e-2, 1e-2, 1e-6),
    "mnist": TaskSettings((784, 800, 10), 20, 128, 1e-4, 1e-6, 1e-4),
    "fashion-mnist": TaskSettings((784, 800, 10), 20, 128, 1e-4, 1e-6, 1e-4),
    "spikes": TaskSettings((500, 3200, 22), 200, 1, 1e-5, 1e-6, 1e-6),
}

#: --quick: small, fast versions of every task (each well under a minute on one CPU core; docs/shifting.md,
#: «Reproduction»). MNIST needs ~600 steps of 32 to learn (2000 images stayed at chance). The full spike task
#: (k = 1..5 features, labels Σ rewards 0..21, majority class ~10 %) is not learnable at this budget: with the
#: default η_w nothing moves, with 10x it memorises its trials while validation stays near 10-17 % (4000
#: trials x 4 epochs included), and even perfect recognition of the first feature gives only ~17 %. The quick
#: spike task therefore keeps the generator, patterns and rewards but draws at most ``max_features`` = 2
#: features per trial (P(k) of the full task restricted to k <= 2: 83 % one feature, 17 % two; labels 0..12,
#: majority class ~30 %), trains 500-100-22 on 100 trials for 15 epochs with η_w 1e-4 -> 1e-5 (10x the
#: task's; the default stayed at the majority class for 40 epochs) and validates on 100 trials. It learns to
#: recognise the trial's first pattern (validation ~85-90 %); the second feature is not integrated at this
#: budget.
QUICK: dict[str, dict[str, int | float]] = {
    "xor": {"runs": 20},
    "iris": {"folds": 2, "epochs": 100},
    "mnist": {"train_size": 20000, "test_size": 1000, "epochs": 1, "batch_size": 32},
    "fashion-mnist": {"train_size": 20000, "test_size": 1000, "epochs": 1, "batch_size": 32},
    "spikes": {
        "hidden": 100,
        "train_size": 100,
        "test_size": 100,
        "epochs": 15,
        "lr_w": 1e-4,
        "lr_w_end": 1e-5,
        "max_features": 2,
    },
}
#: Defaults of the size flags where the task has no quick value.
FULL_SIZES = {"runs": 1, "folds": 5, "train_size": None, "test_size": None}
#: The spike task's trial counts (training, validation) without --quick.
SPIKE_SIZES = {"train_size": 200, "test_size": 50}
#: Flags a resumed run takes from its stored configuration.
RESUMED_FLAGS = (
    "task",
    "seed",
    "quick",
    "epochs",
    "batch_size",
    "lr_w",
    "lr_w_end",
    "lr_p",
    "hidden",
    "runs",
    "folds",
    "train_size",
    "test_size",
    "encoding",
    "dataset",
    "engine",
    "dt",
    "lanes",
    "backend",
    "data_seed",
    "checkpoint",
    "checkpoint_every",
)


def setting(args: argparse.Namespace, key: str) -> Any:
    """A task setting ``key`` of ``args.task``: the flag's value if given, else the --quick value, else the
    full default (None where the task's :class:`TaskSettings` value applies)."""
    value = getattr(args, key, None)
    if value is not None:
        return value
    if args.quick and key in QUICK[args.task]:
        return QUICK[args.task][key]
    return SPIKE_SIZES[key] if args.task == "spikes" and key in SPIKE_SIZES else FULL_SIZES.get(key)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def task_settings(args: argparse.Namespace) -> TaskSettings:
    """The task's settings with the given flags (and --quick) applied."""
    base = TASK_SETTINGS[args.task]
    hidden = setting(args, "hidden")
    settings = TaskSettings(
        base.sizes,
        _or(setting(args, "epochs"), base.epochs),
        _or(setting(args, "batch_size"), base.batch_size),
        _or(setting(args, "lr_w"), base.lr_w),
        _or(setting(args, "lr_w_end"), base.lr_w_end),
        _or(args.lr_p, base.lr_p),
    )
    if hidden is not None:
        settings = settings.with_hidden(hidden)
    return settings  # each flag was checked by its type=, the combinations by flags.validate()


def spike_config(args: argparse.Namespace) -> SpikeTaskConfig:
    """The spike task's generator settings: the full task, or with --quick at most QUICK max_features
    features per trial."""
    max_features = setting(args, "max_features")
    config = SpikeTaskConfig()
    return config if max_features is None else config.at_most(max_features)


def task_dtype(task: str) -> torch.dtype:
    """float64 for the spike task (as its original script), float32 for the single-spike tasks."""
    return torch.float64 if task == "spikes" else torch.float32


def restore_flags(args: argparse.Namespace, run: Run) -> None:
    """A resumed run continues with the flags it was started with."""
    for key in RESUMED_FLAGS:
        if key in run.config:
            setattr(args, key, run.config[key])
