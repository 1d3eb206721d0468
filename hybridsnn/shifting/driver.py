"""Driver of ``hybridsnn train|test|predict|plot shifting --task TASK``: Shifting Learning (SZU-ADDG).

Temporal-coding SNN (one spike per neuron, z = exp(t), learned "shifting timings" w and propagation factors
e_tp) trained by the three-factor rule with Adam (β2 = 0.9); docs/shifting.md, «Model and equations». The
analytic model (``--engine reference``, default) runs on the CPU or a GPU; ``--engine numba|genn`` runs the
time-stepped version built from GeNN models (XOR/Iris/MNIST tasks). A checkpoint holds the ``LayerParams``
of every layer, so a network trained on one engine can be tested on another.

The entry points the CLI calls (:mod:`hybridsnn.registry`). The flags and their checks are in
:mod:`hybridsnn.shifting.flags`, the settings they resolve to (and ``--quick``) in
:mod:`hybridsnn.shifting.settings`, the experiment of each task in ``xor_run``, ``iris_run``, ``image_run``
and ``spike_run``, checkpoints in :mod:`hybridsnn.shifting.checkpoints`. Tasks (the original scripts'
settings): ``xor`` 2-8-2 (``--runs N``: success rate over N seeds), ``iris`` 4-10-3 (``--folds``: 5-fold
cross-validation), ``mnist``/``fashion-mnist`` 784-800-10 (test after every epoch, argmin decision),
``spikes`` 500-3200-22 (synthetic aggregate-label trials, online, validation accuracy).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data.image_files import read_label_file
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything
from hybridsnn.shifting.checkpoint_data import checkpoint_split, checkpoint_trials, stored_encoding
from hybridsnn.shifting.checkpoints import user_data
from hybridsnn.shifting.flags import add_arguments, validate
from hybridsnn.shifting.image_run import train_images
from hybridsnn.shifting.inputs import MNIST_SHAPE, predict_inputs
from hybridsnn.shifting.iris_run import train_iris
from hybridsnn.shifting.networks import engine_name, frozen_network, run_device
from hybridsnn.shifting.reporting import save_outputs
from hybridsnn.shifting.settings import restore_flags, task_settings
from hybridsnn.shifting.spike_run import train_spikes
from hybridsnn.shifting.training import (
    evaluate_on_ranks,
    evaluate_trials_on_ranks,
    layer_sizes,
    trial_tensors,
)
from hybridsnn.shifting.xor_run import train_xor
from hybridsnn.spiking.distributed import DistributedContext, distributed_session

__all__ = ["add_arguments", "plot", "predict", "test", "train", "validate"]

PREDICTIONS_FILE = "predictions.json"


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train the task's network; records in ``metrics.jsonl``, checkpoints, final ``results.json``."""
    if args.resume:
        restore_flags(args, run)
    configure_threads(args.threads)
    seed_everything(args.seed)
    settings = task_settings(args)
    trainer = {"xor": train_xor, "iris": train_iris, "spikes": train_spikes}.get(args.task, train_images)
    return trainer(args, run, settings)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` with learning off on its task's test data (argmin decision). Under
    torchrun (``torchrun --nproc_per_node N -m hybridsnn test shifting ...``) the test set is split over the
    processes in whole batches and the outputs ẑ gathered: process 0 records the result one process gets."""
    with distributed_session(run_device(args)) as context:
        return _test(args, run, context)


def _test(args: argparse.Namespace, run: Run, context: DistributedContext) -> dict:
    checkpoint, network, device = frozen_network(args)
    if args.task == "spikes":
        trials, labels = checkpoint_trials(args, checkpoint)
        accuracy, z_hat = evaluate_trials_on_ranks(network, trials, context, device)  # type: ignore[arg-type]
        dataset = "spikes (synthetic validation)"
    else:
        split, dataset = checkpoint_split(args, checkpoint)
        accuracy, z_hat = evaluate_on_ranks(network, split.to(device), context)
        labels = split.labels
    run.log_metrics(step=0, split="test", accuracy=accuracy)
    save_outputs(run, labels, z_hat, f"{args.task} test")
    return run.finish(
        {"test_accuracy": accuracy, "test_samples": len(labels)},
        samples=len(labels),
        dataset=dataset,
        engine=engine_name(args),
        device=str(device),
        checkpoint=str(args.checkpoint),
        **_classes(checkpoint, args),
    )


def _classes(checkpoint: Checkpoint, args: argparse.Namespace) -> dict[str, list[str]]:
    """``{"classes": [...]}`` for a network of a user dataset (its class names), else nothing."""
    data = user_data(checkpoint, str(args.checkpoint))
    return {"classes": list(data.classes)} if data else {}


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify ``--input`` (earliest output spike); writes ``predictions.json``, prints one class a line."""
    checkpoint, network, device = frozen_network(args)
    sizes = layer_sizes(network.layers)
    data = user_data(checkpoint, str(args.checkpoint))
    shape = data.image_shape if data else MNIST_SHAPE
    inputs = predict_inputs(args, sizes[0], stored_encoding(checkpoint), shape)
    count = len(inputs)
    labels = read_label_file(args.labels, count=count, classes=sizes[-1]) if args.labels else None
    if isinstance(inputs, list):
        z_hat = torch.cat([network.forward(*trial_tensors(t, device))[-1].cpu() for t in inputs])  # type: ignore[call-arg]
    else:
        z_hat = torch.cat([network.forward(chunk.to(device))[-1].cpu() for chunk in inputs.split(256)])
    predicted = z_hat.argmin(dim=1).numpy()
    metrics: dict[str, Any] = {"samples": len(predicted)}
    if labels is not None:
        metrics["accuracy"] = float((predicted == labels).mean())
    write_json(
        run.path / PREDICTIONS_FILE,
        {
            "predictions": predicted.tolist(),
            "spike_times": torch.log(z_hat).tolist(),
            **_classes(checkpoint, args),
        },
    )
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        metrics,
        samples=len(predicted),
        dataset=args.task,
        engine=engine_name(args),
        device=str(device),
        checkpoint=str(args.checkpoint),
        **_classes(checkpoint, args),
    )


def plot(args: argparse.Namespace) -> list[Path]:
    """Training curves (accuracy and loss per epoch) and the output spike times per true class."""
    from hybridsnn.shifting.figures import plot_run

    run_dir = Path(args.run_dir)  # the CLI checked it is a run of this model
    return plot_run(run_dir, Path(args.output) if args.output else run_dir / "plots")
