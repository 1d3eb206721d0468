"""Driver of ``hybridsnn <command> dsl``: Deep Spike Learning with local classifiers (Ma et al. 2022).

The entry points the CLI calls (:mod:`hybridsnn.registry`): the flags are in :mod:`hybridsnn.dsl.flags`,
the settings they resolve to in :mod:`hybridsnn.dsl.settings`. Defaults differ from the seed's training
script only in ``--dataset MNIST --model MNISTDNN`` (the seed: CIFAR10/CIFARCNN) so that a bare command runs
on the offline data (docs/dsl.md, «Decisions against the original»). ``test``/``predict`` (and
``train --test``) rebuild the network from the configuration stored in ``--checkpoint``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybridsnn.atomic import write_json
from hybridsnn.checks.flags import refuse_training_flags
from hybridsnn.data import ArrayDataset, read_image_file
from hybridsnn.data.image_files import read_label_file
from hybridsnn.data.user_dataset import TRAINED_ON, check_resumed_data, check_same_data
from hybridsnn.dsl.checkpoints import load_model_checkpoint, load_trained
from hybridsnn.dsl.confusion import save_confusion
from hybridsnn.dsl.data import image_transform, load_split, make_loader
from hybridsnn.dsl.figures import plot_run
from hybridsnn.dsl.flags import add_arguments
from hybridsnn.dsl.network import DSLNetwork
from hybridsnn.dsl.settings import DSLSettings, TrainingSettings, evaluation_subset, trained_on
from hybridsnn.dsl.training import DSLSteps, make_optimizers, make_schedulers
from hybridsnn.metrics import accuracy
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything, select_device
from hybridsnn.spiking import BestMetric, check_resume, evaluate, fit, restore_state
from hybridsnn.spiking.distributed import (
    DistributedContext,
    distributed_session,
    launched_by_torchrun,
    refuse_uneven_torchrun_batch,
)

__all__ = ["add_arguments", "plot", "predict", "test", "train", "validate"]

PREDICTIONS_FILE = "predictions.json"


def _runtime(args: argparse.Namespace) -> torch.device:
    configure_threads(args.threads)
    return select_device(args.device)


def _maybe_compile(network: DSLNetwork, enabled: bool) -> None:
    if enabled:
        for block in network.blocks:
            block.window = torch.compile(block.window)  # type: ignore[method-assign]


def _loader(data: ArrayDataset, settings: DSLSettings, batch_size: int, device: torch.device, *,
            train: bool) -> Any:  # fmt: skip
    """Batches of ``data`` for ``settings``' dataset and coding; shuffled for training."""
    return make_loader(data, settings.dataset, train=train, batch_size=batch_size, encoding=settings.encoding,
                       pin_memory=device.type == "cuda")  # fmt: skip


def _steps(network: DSLNetwork, settings: DSLSettings, device: torch.device, amp: bool,
           **options: Any) -> DSLSteps:  # fmt: skip
    """The batch steps of ``network`` with ``settings``' time window and coding; ``options`` of DSLSteps."""
    return DSLSteps(network, steps=settings.time_window, device=device, encoding=settings.encoding, amp=amp,
                    **options)  # fmt: skip


def _predict_images(args: argparse.Namespace, settings: DSLSettings) -> np.ndarray:
    """The ``--input`` images, of the shape of the checkpoint's dataset."""
    return read_image_file(args.input, settings.image_shape)


def _user_data(settings: DSLSettings) -> dict[str, Any]:
    """``classes`` for results.json / predictions.json of a network of a user dataset (else nothing)."""
    return {"classes": list(settings.data.classes)} if settings.data is not None else {}


def _test_data(args: argparse.Namespace, settings: DSLSettings) -> ArrayDataset:
    """The test split ``test`` evaluates (a user dataset: checked to be what the network was trained on)."""
    data = load_split(settings.dataset, "test", args.data_root, evaluation_subset(args))
    if settings.data is not None:
        settings.data.check(data, f"checkpoint {str(args.checkpoint)!r}")
    return data


def _split_metrics(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in metrics.items() if name != "seconds"}


def validate(args: argparse.Namespace, command: str) -> None:
    """Everything that can be refused before the run folder is created (or a resumed run is reopened): the
    dataset/model/rule combination, the device, a resumed run's last checkpoint, the ``--checkpoint`` (its
    settings, and that it fits the network), ``--input`` and ``--labels``. (The CLI has already checked a
    resumed run's stored flags.)"""
    if command == "plot":
        return
    select_device(args.device)
    if command == "train":
        settings = DSLSettings.from_args(args)
        if launched_by_torchrun():
            refuse_uneven_torchrun_batch(TrainingSettings.from_args(args).batch_size)
        network = settings.build()
        if args.checkpoint:
            start = load_model_checkpoint(args.checkpoint)
            stored = trained_on(start.config) if isinstance(start.config.get("dataset"), str) else None
            check_same_data(stored, settings.data, str(args.checkpoint), settings.dataset)
            restore_state(start, {"model": network})
        if args.resume:
            last = check_resume(args.resume, "dsl", {"model": settings.build()}, args.seed)
            check_resumed_data(last.config if last else {}, settings.data, args.resume)
        return
    if getattr(args, "test", False):  # train dsl --test
        refuse_training_flags(args, "dsl")
    settings, _ = load_trained(args.checkpoint, torch.device("cpu"))
    if command == "test":
        _test_data(args, settings)
    if command == "predict":
        images = _predict_images(args, settings)
        if args.labels is not None:
            read_label_file(args.labels, count=len(images), classes=settings.num_classes)


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train with the chosen rule; one ``train`` and one ``test`` record per epoch in ``metrics.jsonl``.
    Under torchrun the batches are split over the processes (docs/dsl.md, «torchrun»)."""
    with distributed_session(_runtime(args)) as context:
        return _train(args, run, context)


def _train(args: argparse.Namespace, run: Run, context: DistributedContext) -> dict:
    device = context.device
    seed_everything(args.seed, deterministic=True)
    settings, plan = DSLSettings.from_args(args), TrainingSettings.from_args(args)
    network = settings.build().to(device)
    if args.checkpoint:
        restore_state(load_model_checkpoint(args.checkpoint), {"model": network})
    _maybe_compile(network, args.compile)
    train_data = load_split(settings.dataset, "train", args.data_root, plan.train_subset)
    test_data = load_split(settings.dataset, "test", args.data_root, plan.test_subset)
    if settings.data is not None:  # every checkpoint records the user dataset's image shape and classes
        run.config[TRAINED_ON] = settings.data.to_dict()
    train_loader = _loader(train_data, settings, plan.batch_size, device, train=True)
    test_loader = _loader(test_data, settings, plan.batch_size, device, train=False)
    optimizers = make_optimizers(network, plan.optimizer, plan.lr)
    schedulers = make_schedulers(optimizers, plan.lr_decay_milestones, plan.lr_decay_fact)
    steps = _steps(network, settings, device, args.amp, trainer=settings.trainer, optimizers=optimizers,
                   num_classes=len(train_data.classes), eval_samples=len(test_data),
                   context=context)  # fmt: skip
    state = {"model": network, **{f"optim{k}": opt for k, opt in enumerate(optimizers)}}
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=train_loader,
        epochs=plan.epochs,
        seed=args.seed,
        state=state,
        schedulers={f"lr{k}": s for k, s in enumerate(schedulers)},
        eval_step=steps.eval_step,
        eval_loaders={"test": test_loader},
        best=BestMetric("test", "accuracy"),
        resume=bool(args.resume),
        progress=not args.no_progress and context.is_main,
    )
    save_confusion(run.path, steps, settings.seed_dataset, settings.num_classes)
    final = {
        **_split_metrics(result.metrics.get("test", {}), "test"),
        **_split_metrics(result.metrics.get("train", {}), "train"),
        "best_test_accuracy": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
    }
    if context.enabled:
        final["processes"] = context.world_size
    return run.finish(
        final,
        samples=len(train_data) * max(result.epochs, 1),
        dataset=settings.dataset,
        engine="torch",
        device=str(device),
        learning_rule=settings.learning_rule,
        arch=settings.arch,
        **_user_data(settings),
    )


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` on the test split of the dataset it was trained on."""
    device = _runtime(args)
    settings, network = load_trained(args.checkpoint, device)
    _maybe_compile(network, args.compile)
    data = _test_data(args, settings)
    loader = _loader(data, settings, args.batch_size, device, train=False)
    steps = _steps(network, settings, device, args.amp, num_classes=len(data.classes), eval_samples=len(data))
    metrics = evaluate(steps.eval_step, loader, modules=[network], progress=not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    save_confusion(run.path, steps, settings.seed_dataset, settings.num_classes)
    return run.finish(
        _split_metrics(metrics, "test"),
        samples=len(data),
        dataset=settings.dataset,
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
        learning_rule=settings.learning_rule,
        arch=settings.arch,
        **_user_data(settings),
    )


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the images in ``--input``; writes ``predictions.json`` and prints one class per image."""
    device = _runtime(args)
    settings, network = load_trained(args.checkpoint, device)
    images = _predict_images(args, settings)
    transform = image_transform(settings.dataset, train=False, encoding=settings.encoding)
    batch = torch.stack([transform(image) for image in images])
    steps = _steps(network, settings, device, args.amp)
    network.eval()
    counts = torch.cat([steps.classify(chunk)[-1].sum(dim=0).cpu() for chunk in batch.split(args.batch_size)])
    predicted = counts.argmax(dim=-1).numpy()
    metrics: dict[str, Any] = {"samples": len(predicted)}
    if args.labels is not None:
        labels = read_label_file(args.labels, count=len(predicted), classes=settings.num_classes)
        metrics["accuracy"] = accuracy(predicted, labels)
    write_json(
        run.path / PREDICTIONS_FILE,
        {"predictions": predicted.tolist(), "spike_counts": counts.numpy().tolist(), **_user_data(settings)},
    )
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        metrics,
        samples=len(predicted),
        dataset=settings.seed_dataset,
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
        **_user_data(settings),
    )


def plot(args: argparse.Namespace) -> list[Path]:
    """Accuracy curves, per-block local accuracies and the confusion matrix of a DSL run directory."""
    run_dir = Path(args.run_dir)  # the CLI checked it is a run of this model
    return plot_run(run_dir, Path(args.output) if args.output else run_dir / "plots")
