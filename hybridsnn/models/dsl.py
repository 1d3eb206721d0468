"""Driver of ``hybridsnn <command> dsl``: Deep Spike Learning with local classifiers (Ma et al. 2022).

The seed's flags keep their names (``--dataset --model --learning-rule --epochs --batch-size --lr
--lr-decay-fact --lr-decay-milestones --tau --thresh --time-window --dim-in-decoder --print-stats --fa
--random-matrix --encoding``); ``--seed`` defaults to the seed's 1234. Defaults differ from the seed's
``main_train.py`` only in ``--dataset MNIST --model MNISTDNN`` (the seed: CIFAR10/CIFARCNN) so that a bare
command runs on the offline data. ``test``/``predict`` (and ``train --test``) rebuild the network from the
configuration stored in ``--checkpoint``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks import values
from hybridsnn.checks.arrays import check_labels
from hybridsnn.checks.flags import refuse_training_flags
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.data import read_image_file
from hybridsnn.data.image_files import read_label_file
from hybridsnn.dsl.block import dsl_lif_config
from hybridsnn.dsl.data import (
    DATASETS,
    ENCODINGS,
    canonical_dataset,
    image_transform,
    load_split,
    make_loader,
)
from hybridsnn.dsl.network import ARCHITECTURES, DSLNetwork, build_network, get_architecture
from hybridsnn.dsl.rules import RULES
from hybridsnn.dsl.training import OPTIMIZERS, DSLSteps, make_optimizers, make_schedulers
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run, read_json_file, read_metrics
from hybridsnn.spiking import (
    BestMetric,
    check_resume,
    configure_threads,
    evaluate,
    fit,
    restore_state,
    seed_everything,
    select_device,
)

SEED_DEFAULT = 1234
QUICK_TRAIN, QUICK_TEST = 2000, 1000
CONFUSION_FILE = "confusion.json"
#: Classes of every DSL dataset (MNIST, Fashion-MNIST, CIFAR-10, SVHN).
CLASSES = 10
PREDICTIONS_FILE = "predictions.json"
#: Settings that define the network; ``test``/``predict`` take them from the checkpoint.
NETWORK_KEYS = (
    "dataset",
    "arch",
    "learning_rule",
    "tau",
    "thresh",
    "time_window",
    "dim_in_decoder",
    "fa",
    "random_matrix",
    "encoding",
)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The DSL flags (seed names) of ``train``/``test``/``predict``; ``plot`` needs none."""
    if command == "plot":
        return
    parser.set_defaults(seed=SEED_DEFAULT)
    add = parser.add_argument
    add("--batch-size", type=values.count, default=100, help="samples per batch, >= 1 (default: 100)")
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add("--amp", action="store_true", help="bfloat16 mixed precision on CUDA (no effect on CPU)")
    add("--compile", action="store_true", help="torch.compile the fixed-weight windows (evaluation, BELL)")
    add(
        "--threads",
        type=values.count,
        default=None,
        help="CPU threads of torch, >= 1 (default: torch's choice)",
    )
    if command == "predict":
        add("--input", required=True, metavar="PATH", help="images to classify: .npy, IDX or PNG/JPEG")
        add(
            "--labels",
            default=None,
            metavar="PATH",
            help="optional true labels (.npy, IDX or text; one class number per image) for the accuracy",
        )
        return
    add(
        "--test-subset",
        type=values.count,
        default=None,
        metavar="N",
        help="evaluate on the first N >= 1 test samples (default: all)",
    )
    if command == "test":
        return
    add("--dataset", default="MNIST", help=f"one of {', '.join(DATASETS)} (default: MNIST)")
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
    add(
        "--train-subset",
        type=values.count,
        default=None,
        metavar="N",
        help="train on the first N >= 1 training samples (default: all)",
    )


# -- building -------------------------------------------------------------------------------------------


def network_from(settings: dict[str, Any]) -> DSLNetwork:
    """The network described by a configuration (CLI flags or a checkpoint's stored config)."""
    dataset = canonical_dataset(settings["dataset"])
    arch = get_architecture(settings["arch"])
    if arch.input_shape != DATASETS[dataset].shape:
        raise UserError(
            f"model {arch.name} takes {arch.input_shape} images but {dataset} has "
            f"{DATASETS[dataset].shape}; pick a model for this dataset"
        )
    if settings["fa"] and settings["random_matrix"]:
        raise UserError("--fa and --random-matrix exclude each other (trained feedback alignment, or fixed "
                        "random local classifiers); give one")  # fmt: skip
    if settings["encoding"] == "latency" and settings["time_window"] < 2:
        raise UserError(f"--encoding latency needs --time-window >= 2 (a pixel x spikes at step "
                        f"round((T - 1)(1 - x))), got --time-window {settings['time_window']}")  # fmt: skip
    decoder = "fa" if settings["fa"] else "random" if settings["random_matrix"] else "trained"
    lif = dsl_lif_config(settings["tau"], settings["thresh"])
    return build_network(arch.name, lif=lif, dim_in_decoder=settings["dim_in_decoder"], decoder=decoder)


def _runtime(args: argparse.Namespace) -> torch.device:
    configure_threads(args.threads)
    return select_device(args.device)


def _maybe_compile(network: DSLNetwork, enabled: bool) -> None:
    if enabled:
        for block in network.blocks:
            block.window = torch.compile(block.window)  # type: ignore[method-assign]


def _train_parser() -> argparse.ArgumentParser:
    """The parser of ``hybridsnn train dsl``: its flags' types check stored settings."""
    from hybridsnn.cli import build_model_parser

    return build_model_parser("hybridsnn", "train", "dsl")


def _load_model_checkpoint(path: str) -> Checkpoint:
    """The DSL checkpoint at ``path``, with the network settings the train flags could have produced."""
    checkpoint = load_checkpoint(path, model="dsl")
    check_stored_flags(checkpoint.config, _train_parser(), f"checkpoint {path!r}")
    missing = [key for key in NETWORK_KEYS if key not in checkpoint.config]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} lacks the DSL setting(s) {', '.join(missing)}")
    return checkpoint


def _network_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> DSLNetwork:
    source = f"checkpoint {str(checkpoint.path)!r}"
    try:
        network = network_from(checkpoint.config)
    except UserError as exc:
        raise CheckpointError(f"{source} holds settings that build no DSL network: {exc}") from None
    restore_state(checkpoint, {"model": network})
    return network.to(device)


def _predict_images(args: argparse.Namespace, config: dict[str, Any]) -> np.ndarray:
    """The ``--input`` images, of the shape of the checkpoint's dataset."""
    return read_image_file(args.input, DATASETS[canonical_dataset(config["dataset"])].shape)


def validate(args: argparse.Namespace, command: str) -> None:
    """Everything that can be refused before the run folder is created (or a resumed run is reopened): the
    stored flags of a resumed run and its last checkpoint, the dataset/model/rule combination, the device,
    the ``--checkpoint`` (its settings, and that it fits the network), ``--input`` and ``--labels``."""
    if command == "plot":
        return
    select_device(args.device)
    if command == "train":
        if args.resume:
            check_stored_flags(vars(args), _train_parser(), f"--resume {args.resume!r}: config.json")
        network = network_from(vars(args))
        if args.checkpoint:
            restore_state(_load_model_checkpoint(args.checkpoint), {"model": network})
        if args.resume:
            check_resume(args.resume, "dsl", {"model": network_from(vars(args))}, args.seed)
        return
    if getattr(args, "test", False):  # train dsl --test
        refuse_training_flags(args, "dsl")
    checkpoint = _load_model_checkpoint(args.checkpoint)
    _network_from_checkpoint(checkpoint, torch.device("cpu"))
    if command == "predict":
        images = _predict_images(args, checkpoint.config)
        if args.labels is not None:
            read_label_file(args.labels, count=len(images), classes=CLASSES)


def _save_confusion(run: Run, steps: DSLSteps, dataset: str) -> None:
    if steps.last_predictions is None:
        return
    labels, predictions = steps.last_predictions
    write_json(
        run.path / CONFUSION_FILE,
        {"dataset": dataset, "labels": labels.tolist(), "predictions": predictions.tolist()},
    )


def _split_metrics(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in metrics.items() if name != "seconds"}


# -- commands -------------------------------------------------------------------------------------------


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train with the chosen rule; one ``train`` and one ``test`` record per epoch in ``metrics.jsonl``."""
    device = _runtime(args)
    seed_everything(args.seed, deterministic=True)
    settings = vars(args)
    epochs, train_subset, test_subset = args.epochs, args.train_subset, args.test_subset
    if args.quick:
        epochs = 1
        train_subset = min(train_subset or QUICK_TRAIN, QUICK_TRAIN)
        test_subset = min(test_subset or QUICK_TEST, QUICK_TEST)
    network = network_from(settings).to(device)
    if args.checkpoint:
        restore_state(_load_model_checkpoint(args.checkpoint), {"model": network})
    _maybe_compile(network, args.compile)
    train_data = load_split(args.dataset, "train", args.data_root, train_subset)
    test_data = load_split(args.dataset, "test", args.data_root, test_subset)
    pin = device.type == "cuda"
    train_loader = make_loader(
        train_data,
        args.dataset,
        train=True,
        batch_size=args.batch_size,
        encoding=args.encoding,
        pin_memory=pin,
    )
    test_loader = make_loader(
        test_data,
        args.dataset,
        train=False,
        batch_size=args.batch_size,
        encoding=args.encoding,
        pin_memory=pin,
    )
    optimizers = make_optimizers(network, args.optimizer, args.lr)
    schedulers = make_schedulers(optimizers, args.lr_decay_milestones, args.lr_decay_fact)
    steps = DSLSteps(
        network,
        rule=args.learning_rule,
        steps=args.time_window,
        optimizers=optimizers,
        device=device,
        num_classes=len(train_data.classes),
        encoding=args.encoding,
        amp=args.amp,
        eval_samples=len(test_data),
    )
    state = {"model": network, **{f"optim{k}": opt for k, opt in enumerate(optimizers)}}
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=train_loader,
        epochs=epochs,
        seed=args.seed,
        state=state,
        schedulers={f"lr{k}": s for k, s in enumerate(schedulers)},
        eval_step=steps.eval_step,
        eval_loaders={"test": test_loader},
        best=BestMetric("test", "accuracy"),
        resume=bool(args.resume),
        progress=not args.no_progress,
    )
    _save_confusion(run, steps, canonical_dataset(args.dataset))
    final = {
        **_split_metrics(result.metrics.get("test", {}), "test"),
        **_split_metrics(result.metrics.get("train", {}), "train"),
        "best_test_accuracy": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
    }
    return run.finish(
        final,
        samples=len(train_data) * max(result.epochs, 1),
        dataset=args.dataset,
        engine="torch",
        device=str(device),
        learning_rule=args.learning_rule,
        arch=args.arch,
    )


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` on the test split of the dataset it was trained on."""
    device = _runtime(args)
    checkpoint = _load_model_checkpoint(args.checkpoint)
    config = checkpoint.config
    network = _network_from_checkpoint(checkpoint, device)
    _maybe_compile(network, args.compile)
    data = load_split(
        config["dataset"],
        "test",
        args.data_root,
        QUICK_TEST if args.quick and args.test_subset is None else args.test_subset,
    )
    loader = make_loader(
        data,
        config["dataset"],
        train=False,
        batch_size=args.batch_size,
        encoding=config["encoding"],
        pin_memory=device.type == "cuda",
    )
    steps = DSLSteps(
        network,
        rule=config["learning_rule"],
        steps=config["time_window"],
        optimizers=[],
        device=device,
        num_classes=len(data.classes),
        encoding=config["encoding"],
        amp=args.amp,
        eval_samples=len(data),
    )
    metrics = evaluate(steps.eval_step, loader, modules=[network], progress=not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    _save_confusion(run, steps, canonical_dataset(config["dataset"]))
    return run.finish(
        _split_metrics(metrics, "test"),
        samples=len(data),
        dataset=config["dataset"],
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
        learning_rule=config["learning_rule"],
        arch=config["arch"],
    )


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the images in ``--input``; writes ``predictions.json`` and prints one class per image."""
    device = _runtime(args)
    checkpoint = _load_model_checkpoint(args.checkpoint)
    config = checkpoint.config
    dataset = canonical_dataset(config["dataset"])
    network = _network_from_checkpoint(checkpoint, device)
    images = _predict_images(args, config)
    transform = image_transform(dataset, train=False, encoding=config["encoding"])
    batch = torch.stack([transform(image) for image in images])
    steps = DSLSteps(
        network,
        rule=config["learning_rule"],
        steps=config["time_window"],
        optimizers=[],
        device=device,
        encoding=config["encoding"],
        amp=args.amp,
    )
    network.eval()
    counts = torch.cat([steps.classify(chunk)[-1].sum(dim=0).cpu() for chunk in batch.split(args.batch_size)])
    predicted = counts.argmax(dim=-1).numpy()
    metrics: dict[str, Any] = {"samples": len(predicted)}
    if args.labels is not None:
        labels = read_label_file(args.labels, count=len(predicted), classes=CLASSES)
        metrics["accuracy"] = float((predicted == labels).mean())
    write_json(
        run.path / PREDICTIONS_FILE,
        {"predictions": predicted.tolist(), "spike_counts": counts.numpy().tolist()},
    )
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        metrics,
        samples=len(predicted),
        dataset=dataset,
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


def _read_confusion(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """``(dataset, labels, predictions)`` of a run's ``confusion.json``, checked (a one-line error if not)."""
    data = read_json_file(path, "confusion file")
    where = f"confusion file {str(path)!r}"
    if not isinstance(data.get("labels"), list) or not isinstance(data.get("predictions"), list):
        raise UserError(f"{where} lacks the lists 'labels' and 'predictions'")
    try:
        labels, predictions = (np.asarray(data[key], dtype=float) for key in ("labels", "predictions"))
    except (TypeError, ValueError):
        raise UserError(f"{where} holds labels or predictions that are not numbers") from None
    labels = check_labels(labels, f"{where}: 'labels'", classes=CLASSES)
    predictions = check_labels(predictions, f"{where}: 'predictions'", count=len(labels), classes=CLASSES)
    return str(data.get("dataset", "?")), labels, predictions


def plot(args: argparse.Namespace) -> list[Path]:
    """Accuracy curves, per-block local accuracies and the confusion matrix of a DSL run directory."""
    from hybridsnn import plots

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory {str(run_dir)!r} does not exist")
    out = Path(args.output) if args.output else run_dir / "plots"
    records = read_metrics(run_dir)
    written = []
    if any(r.get("epoch") is not None and "accuracy" in r for r in records):
        written.append(
            plots.accuracy_curves(
                run_dir, out / "accuracy.png", x="epoch", title="DSL: network accuracy (last classifier)"
            )
        )
    layers = sorted({k for r in records for k in r if k.startswith("layer") and k.endswith("_accuracy")})
    if layers and any(r.get("epoch") is not None for r in records):
        written.append(
            plots.accuracy_curves(
                run_dir,
                out / "local_accuracies.png",
                metrics=layers,
                split="test",
                x="epoch",
                title="DSL: local classifiers (test)",
            )
        )
    confusion = run_dir / CONFUSION_FILE
    if confusion.is_file():
        dataset, labels, predictions = _read_confusion(confusion)
        cm = plots.confusion_matrix(labels, predictions, n_classes=CLASSES)
        written.append(plots.plot_confusion(cm, out / "confusion.png", title=f"DSL {dataset} (test)"))
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no DSL metrics or confusion matrix to plot")
    return written
