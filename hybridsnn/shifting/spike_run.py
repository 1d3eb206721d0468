"""The spike-task experiment (the original ``SL_TCA``): 500-H-22 trained online (one update per trial, the
same trial order every epoch) on synthetic aggregate-label trials, validated after every epoch.

The trials come from :mod:`hybridsnn.shifting.spike_task` (times in seconds), seeded by ``--data-seed``;
``--quick`` draws at most 2 features per trial (:func:`hybridsnn.shifting.settings.spike_config`).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from hybridsnn.results import Run
from hybridsnn.shifting.checkpoints import resume_point, save_layers, start_layers
from hybridsnn.shifting.networks import build_network, engine_name, run_device
from hybridsnn.shifting.reporting import progress_bar, save_outputs
from hybridsnn.shifting.settings import TaskSettings, setting, spike_config
from hybridsnn.shifting.spike_task import SpikeTrial, make_spike_task
from hybridsnn.shifting.training import Progress, evaluate_trials, train_trials


def spike_trials(
    args: argparse.Namespace, n_train: int, n_validation: int
) -> tuple[list[SpikeTrial], list[SpikeTrial]]:
    """The training and validation trials of ``args.data_seed`` for the task of ``args`` (--quick or not)."""
    task = make_spike_task(n_train, n_validation, seed=args.data_seed, config=spike_config(args))
    return task.train, task.validation


def _majority(trials: list[SpikeTrial]) -> float:
    """The accuracy of always answering the commonest label of ``trials`` (NaN for none)."""
    labels = [trial.label for trial in trials]
    return max(labels.count(label) for label in set(labels)) / len(labels) if labels else float("nan")


def train_spikes(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """Online training on synthetic trials; accuracy on the validation trials after every epoch."""
    device = run_device(args)
    train_set, validation = spike_trials(args, setting(args, "train_size"), setting(args, "test_size"))
    point = resume_point(run, args, settings, n_batches=len(train_set))
    if point:
        layers = [layer.to(device) for layer in point[1]]
        progress = Progress.from_dict(point[0].extra["progress"])
        run.drop_metrics_after(progress.epoch)
    else:
        layers = start_layers(args, settings.sizes, args.seed, device)
        progress = Progress()
    network = build_network(args, layers, device)
    bar = progress_bar(
        settings.epochs * len(train_set),
        progress.epoch * len(train_set) + progress.batch,
        "spikes train",
        args,
        unit="trial",
    )
    final: dict[str, Any] = {}

    def on_batch(progress: Progress) -> None:
        bar.update(1)
        if args.checkpoint_every and progress.batch % args.checkpoint_every == 0:
            save_layers(run, "last", args, network.layers, progress=progress.to_dict())

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        accuracy, z_hat = evaluate_trials(network, validation, device)
        step = progress.epoch * len(train_set)
        run.log_metrics(step=step, epoch=progress.epoch, split="train", **metrics)
        run.log_metrics(step=step, epoch=progress.epoch, split="validation", accuracy=accuracy)
        save_outputs(run, torch.tensor([t.label for t in validation]), z_hat, "spikes validation")
        save_layers(run, "last", args, network.layers, progress=progress.to_dict())
        final.update(validation_accuracy=accuracy, train_online_accuracy=metrics["accuracy"])

    majority = _majority(validation)
    train_trials(network, train_set, settings, progress, device=device, on_batch=on_batch, on_epoch=on_epoch)
    bar.close()
    save_layers(run, "final", args, network.layers, progress=progress.to_dict())
    metrics = {
        **final,
        "epochs": settings.epochs,
        "train_trials": len(train_set),
        "validation_trials": len(validation),
        "validation_majority_class": majority,  # the accuracy of always answering the commonest label
        "max_features": len(spike_config(args).k_probabilities),
        "hidden": settings.sizes[1],
    }
    return run.finish(
        metrics,
        samples=len(train_set) * settings.epochs,
        dataset="spikes (synthetic)",
        engine=engine_name(args),
        device=str(device),
    )
