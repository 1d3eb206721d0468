"""The Iris experiment (the original ``SL_small``): 4-10-3 cross-validation over ``--folds`` folds of one
seeded permutation of the 150 rows (fold f tests rows 30f..30f+29; fold 0 is the original single split).

Fold f starts from seed SEED + f. Every :data:`IRIS_LOG_EVERY` epochs a fold logs its train and test
accuracy and saves the resumable ``last`` state; ``fold-F`` is saved at the end of each fold.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from hybridsnn.results import Run
from hybridsnn.shifting.checkpoints import resume_point, save_layers, start_layers
from hybridsnn.shifting.data import Split, iris_folds
from hybridsnn.shifting.networks import build_network, engine_name, run_device
from hybridsnn.shifting.reporting import progress_bar, save_outputs
from hybridsnn.shifting.settings import TaskSettings, setting
from hybridsnn.shifting.training import Network, Progress, evaluate, reset_layers, train_epochs
from hybridsnn.spiking.training import log_metrics_once

IRIS_LOG_EVERY = 10  # epochs between Iris records (the original printed every 50)


def train_iris(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """Cross-validation over ``--folds`` folds of one seeded permutation (fold 0 = the original split)."""
    device = run_device(args)
    n_folds = setting(args, "folds")
    folds = iris_folds(args.seed, args.data_root)
    point = resume_point(run, args, settings, n_batches=-(-len(folds[0][0]) // settings.batch_size))
    resumed = point[0] if point else None
    state: dict[str, Any] = {"fold": 0, "fold_test": [], "fold_train": [], "done": False}
    if resumed:
        state = {key: resumed.extra[key] for key in state}
    network: Network | None = None
    for fold in range(state["fold"], n_folds):
        train_split, test_split = (part.to(device) for part in folds[fold])
        progress = Progress()
        if point and not state["done"]:  # continue the fold that was interrupted
            layers = [layer.to(device) for layer in point[1]]
            progress = Progress.from_dict(point[0].extra["progress"])
        else:
            layers = start_layers(args, settings.sizes, args.seed + fold, device)
        if network is None:
            network = build_network(args, layers, device)
        else:
            reset_layers(network.layers, layers)
        state.update(fold=fold, done=False)
        _iris_fold(args, run, network, (train_split, test_split), settings, progress, state)
        train_accuracy, _ = evaluate(network, train_split)
        test_accuracy, z_hat = evaluate(network, test_split)
        state["fold_test"] = [*state["fold_test"], test_accuracy]
        state["fold_train"] = [*state["fold_train"], train_accuracy]
        save_layers(run, f"fold-{fold}", args, network.layers, **state)
        if fold == 0:
            save_layers(run, "final", args, network.layers, **state)
            save_outputs(run, test_split.labels, z_hat, "iris fold 0 test")
        state.update(fold=fold + 1, done=True)
        save_layers(run, "last", args, network.layers, **state, progress=Progress(settings.epochs).to_dict())
        point = None
    tests, trains = state["fold_test"], state["fold_train"]
    metrics = {
        "test_accuracy": float(np.mean(tests)),
        "train_accuracy": float(np.mean(trains)),
        "fold_test_accuracies": tests,
        "folds": n_folds,
    }
    return run.finish(
        metrics,
        samples=120 * settings.epochs * n_folds,
        dataset="iris",
        engine=engine_name(args),
        device=str(device),
    )


def _iris_fold(
    args: argparse.Namespace,
    run: Run,
    network: Network,
    splits: tuple[Split, Split],
    settings: TaskSettings,
    progress: Progress,
    state: dict[str, Any],
) -> None:
    """Train one fold; log train and test accuracy and save the state every ``IRIS_LOG_EVERY`` epochs."""
    fold = state["fold"]
    bar = progress_bar(settings.epochs, progress.epoch, f"iris fold {fold}", args, unit="epoch")

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        bar.update(1)
        if progress.epoch % IRIS_LOG_EVERY == 0 or progress.epoch == settings.epochs:
            accuracy, _ = evaluate(network, splits[1])
            step, epoch = progress.epoch, progress.epoch
            log_metrics_once(run, step=step, epoch=epoch, split=f"train-fold{fold}", **metrics)
            log_metrics_once(run, step=step, epoch=epoch, split=f"test-fold{fold}", accuracy=accuracy)
            save_layers(run, "last", args, network.layers, **state, progress=progress.to_dict())

    train_epochs(network, splits[0], settings, progress, on_epoch=on_epoch)
    bar.close()
