"""``hybridsnn train|test|plot hebbian --task associations``: the seed's memorizing-associations task.

Three networks (``--network``): ``snn`` (the spiking Hebbian-memory network), ``hmem`` (the non-spiking ReLU
H-Mem baseline) and ``lstm`` (an LSTM baseline). Training draws fresh random batches, validates every epoch
and tests the best weights at the trained and every ``--test-lengths`` sequence length (out-of-distribution
lengths, written to ``<run>/ood.json``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint
from hybridsnn.errors import UserError
from hybridsnn.hebbian.associations.data import FreshBatches, association_sequences, fixed_batches
from hybridsnn.hebbian.associations.settings import AssociationsSettings
from hybridsnn.hebbian.networks import AssociationConfig, build_network, compile_store_step
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
)
from hybridsnn.hebbian.training import AssociationSteps, steps_from_settings
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything, select_device
from hybridsnn.spiking import BestMetric, evaluate, fit, log_metrics_once, restore_state
from hybridsnn.spiking.distributed import DistributedContext, init_distributed, shutdown_distributed

TASK = "associations"
TRAIN_SET_SIZE = 9000  # the seed's nominal training-set size: iterations per epoch = ceil(9000 / batch)
OOD_FILE = "ood.json"
#: Defaults that differ between the spiking network and the H-Mem (ReLU) baseline (seed *_relu.py).
NETWORK_DEFAULTS = {
    "snn": {"gamma_pos": 0.3, "gamma_neg": 0.3, "learning_rate": 3e-3, "l2": 1e-5},
    "hmem": {"gamma_pos": 0.1, "gamma_neg": 0.1, "learning_rate": 1e-3, "l2": 0.0},
    "lstm": {"gamma_pos": 0.3, "gamma_neg": 0.3, "learning_rate": 1e-3, "l2": 0.0},
}
#: ``--quick``: the spec's first CPU smoke test (faithful dynamics, 1 pair of 4 classes, E=40, M=50,
#: B=32, l2=0), 3 × 10 = 30 Adam steps (< 1 CPU-minute). Two pairs need ~150 steps (≈ 4 CPU-min):
#: ``--quick --sequence-length 2 --num-classes 2 --epochs 6 --iterations 25``.
QUICK = {
    "sequence_length": 1,
    "num_classes": 4,
    "embedding_size": 40,
    "memory_size": 50,
    "batch_size": 32,
    "epochs": 3,
    "iterations": 10,
    "l2": 0.0,
    "val_size": 256,
    "test_size": 512,
}


def resolve_settings(args: argparse.Namespace) -> AssociationsSettings:
    """All training settings: flags, then ``--quick`` values for unset flags, then seed defaults."""
    defaults = {
        "batch_size": 512,
        "sequence_length": 10,
        "num_classes": 10,
        "embedding_size": 80,
        "memory_size": 100,
        "epochs": 250,
        "val_size": 1000,
        "test_size": 2000,
        "thr": 0.1,
        "readout_delay": 1,
        **NETWORK_DEFAULTS[args.network],
    }
    values = add_model_names(layered_settings(args, QUICK if args.quick else {}, defaults))
    if values["iterations"] is None:
        values["iterations"] = math.ceil(TRAIN_SET_SIZE / values["batch_size"])
    if values["sequence_length"] > values["num_classes"]:
        raise UserError(
            f"--sequence-length {values['sequence_length']} needs at least as many classes (labels are "
            f"drawn without replacement), got --num-classes {values['num_classes']}"
        )
    if values["test_lengths"] is None:
        values["test_lengths"] = [values["sequence_length"]]
    _lengths(values["test_lengths"], values["num_classes"])
    AssociationConfig.from_mapping(values).check()
    return AssociationsSettings.from_config(values)


def _lengths(lengths: list[int], num_classes: int) -> list[int]:
    bad = [n for n in lengths if not 1 <= n <= num_classes]
    if bad:
        raise UserError(f"test sequence length {bad[0]} (--test-lengths, --sequence-length) must be "
                        f"between 1 and the {num_classes} classes (--num-classes)")  # fmt: skip
    return sorted(set(lengths))


def check(args: argparse.Namespace, command: str) -> AssociationsSettings:
    """The associations task's settings; the checkpoint's task, settings and fit."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint:
            model = build_network(AssociationConfig.from_mapping(settings))
            restore_state(_load(args.checkpoint), {"model": model})
        return settings
    _, settings = _model_from_checkpoint(_load(args.checkpoint), torch.device("cpu"))
    _test_lengths(args, settings)
    return settings


def _test_lengths(args: argparse.Namespace, settings: AssociationsSettings) -> tuple[int, list[int]]:
    """The trained (or ``--sequence-length``) length and all tested lengths of ``test``."""
    length = args.sequence_length if args.sequence_length is not None else settings.sequence_length
    return length, _lengths(args.test_lengths or [length], settings.num_classes)


def _runtime(args: argparse.Namespace) -> DistributedContext:
    configure_threads(args.threads)
    return init_distributed(select_device(args.device))


def _test_set(config: AssociationConfig, length: int, size: int, seed: int, batch: int) -> list:
    data = association_sequences(size, length, config.num_classes, config.feature_size, seed=seed)
    return fixed_batches(data, batch)


def evaluate_lengths(
    steps: AssociationSteps,
    config: AssociationConfig,
    lengths: list[int],
    size: int,
    seed: int,
    batch: int,
    progress: bool,
) -> dict[int, dict[str, float]]:
    """Test metrics at each sequence length (the seed's test set: seed ``dataset_seed + 1``)."""
    return {
        length: evaluate(
            steps.eval_step,
            _test_set(config, length, size, seed, batch),
            modules=[steps.model],
            desc=f"test L={length}",
            progress=progress,
        )
        for length in lengths
    }


def _record_tests(
    run: Run, results: dict[int, dict[str, float]], trained_length: int, network: str, main: bool
) -> dict[str, float]:
    final: dict[str, float] = {}
    for length, metrics in results.items():
        if main:
            # once: a run resumed after its last epoch repeats the tests that its killed process had begun
            log_metrics_once(run, key=("split", "sequence_length"), step=0, split="test",
                             sequence_length=length, **metrics)  # fmt: skip
        final[f"test_accuracy_L{length}"] = metrics["accuracy"]
    if trained_length in results:
        final["test_accuracy"] = results[trained_length]["accuracy"]
        final["test_loss"] = results[trained_length]["loss"]
    if main:
        write_json(
            run.path / OOD_FILE,
            {
                "network": network,
                "trained_length": trained_length,
                "lengths": list(results),
                "accuracy": [m["accuracy"] for m in results.values()],
            },
        )
    return final


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train on fresh random batches, validate every epoch, then test the best weights at all lengths."""
    settings = resolve_settings(args)
    context = _runtime(args)
    try:
        config = AssociationConfig.from_mapping(settings)
        lengths = _lengths(settings.test_lengths, config.num_classes)
        seed_everything(args.seed)
        model = build_network(config).to(context.device)
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": model})
        context.check_batch(settings.batch_size)
        if settings.compile:
            compile_store_step(model)
        steps = steps_from_settings(model, settings, context)
        length = settings.sequence_length
        train_loader = FreshBatches(
            settings.iterations, settings.batch_size, length, config.num_classes, config.feature_size
        )
        val = _test_set(config, length, settings.val_size, settings.dataset_seed, settings.batch_size)
        progress = not args.no_progress and context.is_main
        result = fit(
            run,
            train_step=steps.train_step,
            train_loader=train_loader,
            epochs=settings.epochs,
            seed=args.seed,
            state={"model": model, "optim": steps.optimizer},
            schedulers={"lr": steps.scheduler},
            eval_step=steps.eval_step,
            eval_loaders={"val": val},
            best=BestMetric("val", "accuracy"),
            resume=bool(args.resume),
            progress=progress,
        )
        restore_state(run.load_checkpoint("best"), {"model": model})
        tests = evaluate_lengths(
            steps,
            config,
            lengths,
            settings.test_size,
            settings.dataset_seed + 1,
            settings.batch_size,
            progress,
        )
        final = {
            **_record_tests(run, tests, length, config.network, context.is_main),
            "best_val_accuracy": result.best_value,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "processes": context.world_size,
        }
        samples = settings.batch_size * settings.iterations * result.epochs
        return run.finish(
            final,
            samples=samples,
            dataset="associations (synthetic)",
            engine="torch",
            device=str(context.device),
            network=config.network,
        )
    finally:
        shutdown_distributed()


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, "associations")


def _model_from_checkpoint(checkpoint: Checkpoint, device: torch.device
                           ) -> tuple[nn.Module, AssociationsSettings]:  # fmt: skip
    settings = checkpoint_settings(checkpoint, resolve_settings)  # the flags it was trained with
    model = build_network(AssociationConfig.from_mapping(settings))
    restore_state(checkpoint, {"model": model})
    return model.to(device), settings


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` on the test set, at its training length or ``--sequence-length``/lengths."""
    context = _runtime(args)
    try:
        model, settings = _model_from_checkpoint(_load(args.checkpoint), context.device)
        config = AssociationConfig.from_mapping(settings)
        length, lengths = _test_lengths(args, settings)
        size = args.test_size if args.test_size is not None else settings.test_size
        steps = AssociationSteps(model, None, None, context)
        tests = evaluate_lengths(
            steps,
            config,
            lengths,
            size,
            settings.dataset_seed + 1,
            args.batch_size if args.batch_size is not None else settings.batch_size,
            not args.no_progress and context.is_main,
        )
        final = _record_tests(run, tests, length, config.network, context.is_main)
        return run.finish(
            final,
            samples=size * len(lengths),
            dataset="associations (synthetic)",
            engine="torch",
            device=str(context.device),
            checkpoint=str(args.checkpoint),
            network=config.network,
        )
    finally:
        shutdown_distributed()


def plot(run_dir: Path, out: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Training curves, the accuracy-vs-length (OOD) curve, and one example's activity and output."""
    from hybridsnn.hebbian.associations.figures import plot_run

    return plot_run(run_dir, out, records, _model_from_checkpoint)


def plot_comparison(run_dirs: list[Path], out: Path) -> list[Path]:
    """Several associations runs drawn together: accuracy vs stored pairs per network and OOD curves."""
    from hybridsnn.hebbian.associations.figures import plot_comparison as draw

    return draw(run_dirs, out)
