"""``hybridsnn train|test hebbian --task cross-modal``: data, encoder pre-training, training and testing.

Training pre-trains the two encoders (or loads them with ``--encoders PATH``) and saves them to
``<run>/checkpoints/encoders.safetensors``; the memory network's checkpoints hold the encoders too, so
``hybridsnn test hebbian --task cross-modal --checkpoint RUN/checkpoints/best.safetensors`` needs nothing
else. Data: FSDD (recordings 5-49 train, 0-4 test) and MNIST (train / test) from the data root.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from hybridsnn import plots
from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.data import load_dataset
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hebbian.audio import FRAMES, N_MFCC, mfcc_images
from hybridsnn.hebbian.crossmodal import (
    IMAGE_PIXELS,
    CrossModalConfig,
    CrossModalPools,
    CrossModalSNN,
    CrossModalSteps,
    FreshExamples,
    fixed_examples,
    modality_pool,
)
from hybridsnn.hebbian.encoders import FEATURES, DigitEncoder, load_encoders, pretrain_encoder, save_encoders
from hybridsnn.hebbian.settings import add_model_names, layered_settings, require_positive
from hybridsnn.hebbian.training import make_optimizer
from hybridsnn.results import Run
from hybridsnn.spiking import BestMetric, configure_threads, evaluate, fit, restore_state, seed_everything
from hybridsnn.spiking import select_device as _select_device

TASK = "cross-modal"
TRAIN_SET_SIZE = 9000  # the seed: 10000 generated examples, 90 % train → iterations per epoch
ENCODER_FILE = "encoders"
DEFAULTS = {
    "sequence_length": 3,
    "memory_size": 100,
    "batch_size": 256,
    "epochs": 120,
    "learning_rate": 1e-3,
    "l2": 1e-7,
    "thr": 0.05,
    "readout_delay": 1,
    "gamma_pos": 0.3,
    "gamma_neg": 0.3,
    "val_size": 1000,
    "test_size": 1000,
    "encoder_epochs": 10,
}
#: ``--quick``: 2 pairs, M=50, 16 × 25 = 400 Adam steps of 32 examples (≈ 8 min on one CPU thread).
QUICK = {
    "sequence_length": 2,
    "memory_size": 50,
    "batch_size": 32,
    "epochs": 16,
    "iterations": 25,
    "l2": 0.0,
    "val_size": 64,
    "test_size": 256,
    "encoder_epochs": 4,
}


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Flags, then ``--quick`` values for unset flags, then the seed's cross-modal defaults."""
    settings = layered_settings(args, QUICK if args.quick else {}, DEFAULTS)
    if settings.get("embedding_size") not in (None, FEATURES):
        raise UserError(
            f"--embedding-size of the cross-modal task is the encoders' {FEATURES} features, "
            f"got {settings['embedding_size']}"
        )
    if settings.get("iterations") is None:
        settings["iterations"] = math.ceil(TRAIN_SET_SIZE / settings["batch_size"])
    require_positive(
        settings, ("batch_size", "epochs", "iterations", "val_size", "test_size", "encoder_epochs")
    )
    if not 1 <= settings["sequence_length"] <= 10:
        raise UserError(f"--sequence-length must be 1..10 digit classes, got {settings['sequence_length']}")
    return add_model_names(settings)


def _audio(root: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("fsdd", split, root=root)
    return mfcc_images(data.x, data.meta["length"]).flatten(1), torch.from_numpy(data.y)


def _images(root: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("mnist", split, root=root)
    return torch.from_numpy(data.x).float().flatten(1) / 255.0, torch.from_numpy(data.y)


def load_data(
    root: Any, encoders: dict[str, DigitEncoder] | None, epochs: int, seed: int, progress: bool
) -> tuple[dict[str, CrossModalPools], dict[str, DigitEncoder], dict[str, float]]:
    """Train/test pools of encoder currents, the encoders (pre-trained here unless given) and their
    accuracies (fractions) on both splits."""
    raw = {"audio": {s: _audio(root, s) for s in ("train", "test")}}
    raw["image"] = {s: _images(root, s) for s in ("train", "test")}
    if encoders is None:
        encoders = {
            name: pretrain_encoder(
                *splits["train"], *splits["test"], epochs=epochs, seed=seed, progress=progress, desc=name
            ).encoder
            for name, splits in raw.items()
        }
    accuracy = {
        f"{name}_encoder_{split}_accuracy": encoders[name].accuracy(*xy)
        for name, splits in raw.items()
        for split, xy in splits.items()
    }
    pools = {
        split: CrossModalPools(
            modality_pool(encoders["audio"].currents(raw["audio"][split][0]), raw["audio"][split][1]),
            modality_pool(encoders["image"].currents(raw["image"][split][0]), raw["image"][split][1]),
            raw["image"][split][0],
            same_digit=split == "test",
        )
        for split in ("train", "test")
    }
    return pools, encoders, accuracy


class _Bundle(torch.nn.Module):
    """The memory network and its frozen encoders, checkpointed together."""

    def __init__(self, config: CrossModalConfig) -> None:
        super().__init__()
        self.network = CrossModalSNN(config)
        self.audio_encoder = DigitEncoder(FRAMES * (N_MFCC - 1))
        self.image_encoder = DigitEncoder(IMAGE_PIXELS)
        for encoder in (self.audio_encoder, self.image_encoder):
            encoder.requires_grad_(False)

    def set_encoders(self, encoders: dict[str, DigitEncoder]) -> None:
        self.audio_encoder.load_state_dict(encoders["audio"].state_dict())
        self.image_encoder.load_state_dict(encoders["image"].state_dict())

    def encoders(self) -> dict[str, DigitEncoder]:
        return {"audio": self.audio_encoder.eval(), "image": self.image_encoder.eval()}


def _test(steps: CrossModalSteps, pools: CrossModalPools, settings: dict, progress: bool) -> dict[str, float]:
    """Test metrics, plus ``mean_image_mse``: the MSE of always answering the mean MNIST test image."""
    data = fixed_examples(
        pools,
        settings["test_size"],
        settings["sequence_length"],
        settings["dataset_seed"] + 1,
        settings["batch_size"],
    )
    metrics = evaluate(steps.eval_step, data, modules=[steps.model], desc="test", progress=progress)
    targets = torch.cat([batch.target for batch in data])
    metrics["mean_image_mse"] = float(((targets - pools.pixels.mean(dim=0)) ** 2).mean())
    return metrics


def _final(test: dict[str, float]) -> dict[str, float]:
    return {f"test_{key}": test[key] for key in ("mse", "accuracy", "mean_image_mse")}


def train(args: argparse.Namespace, run: Run) -> dict:
    """Pre-train (or load) the encoders, train the memory network on fresh examples, test the best one."""
    settings = resolve_settings(args)
    configure_threads(args.threads)
    device = _select_device(args.device)
    progress = not args.no_progress
    seed_everything(args.seed)
    given = load_encoders(args.encoders) if args.encoders else None
    pools, encoders, encoder_accuracy = load_data(
        args.data_root, given, settings["encoder_epochs"], args.seed, progress
    )
    save_encoders(run.checkpoint_dir / f"{ENCODER_FILE}.safetensors", encoders, extra=encoder_accuracy)
    config = CrossModalConfig.from_mapping(settings)
    seed_everything(args.seed)
    bundle = _Bundle(config)
    bundle.set_encoders(encoders)
    if args.checkpoint:
        restore_state(_load(args.checkpoint), {"model": bundle})
    bundle.to(device)
    optimizer, scheduler = make_optimizer(
        bundle.network,
        settings["learning_rate"],
        settings["learning_rate_decay"],
        settings["decay_learning_rate_every"],
    )
    steps = CrossModalSteps(
        bundle.network,
        bundle.image_encoder,
        optimizer,
        device,
        l2=settings["l2"],
        target_rate=settings["target_rate"],
        max_grad_norm=settings["max_grad_norm"],
    )
    length = settings["sequence_length"]
    val = fixed_examples(
        pools["train"], settings["val_size"], length, settings["dataset_seed"], settings["batch_size"]
    )
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=FreshExamples(pools["train"], settings["iterations"], settings["batch_size"], length),
        epochs=settings["epochs"],
        seed=args.seed,
        state={"model": bundle, "optim": optimizer},
        schedulers={"lr": scheduler},
        eval_step=steps.eval_step,
        eval_loaders={"val": val},
        best=BestMetric("val", "mse", mode="min"),
        resume=bool(args.resume),
        progress=progress,
    )
    restore_state(run.load_checkpoint("best"), {"model": bundle})
    test = _test(steps, pools["test"], settings, progress)
    run.log_metrics(step=0, split="test", **test)
    final = {
        **_final(test),
        "best_val_mse": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        **encoder_accuracy,
    }
    return run.finish(
        final,
        samples=settings["batch_size"] * settings["iterations"] * result.epochs,
        dataset="FSDD → MNIST",
        engine="torch",
        device=str(device),
    )


def _load(path: str) -> Checkpoint:
    checkpoint = load_checkpoint(path, model="hebbian")
    if checkpoint.config.get("task") != TASK:
        raise CheckpointError(f"checkpoint {path!r} is not a trained hebbian cross-modal network")
    return checkpoint


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` (a cross-modal training checkpoint) on the test examples (same digits)."""
    if args.checkpoint is None:
        raise UserError("test needs --checkpoint PATH (a checkpoint of a hebbian cross-modal training run)")
    checkpoint = _load(args.checkpoint)
    settings = resolve_settings(argparse.Namespace(**checkpoint.config))
    for key in ("test_size", "batch_size", "sequence_length"):
        if getattr(args, key, None):
            settings[key] = getattr(args, key)
    configure_threads(args.threads)
    device = _select_device(args.device)
    bundle = _Bundle(CrossModalConfig.from_mapping(settings))
    restore_state(checkpoint, {"model": bundle})
    bundle.to(device)
    pools, _, encoder_accuracy = load_data(args.data_root, bundle.encoders(), 1, args.seed, False)
    steps = CrossModalSteps(bundle.network, bundle.image_encoder, None, device)
    metrics = _test(steps, pools["test"], settings, not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    return run.finish(
        {**_final(metrics), **encoder_accuracy},
        samples=settings["test_size"],
        dataset="FSDD → MNIST",
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


def plot(run_dir: Path, out: Path, records: list[dict[str, Any]], data_root: Any = None) -> list[Path]:
    """``mse.png`` / ``accuracy.png`` (validation per epoch) and ``recall.png``: for 8 test examples a row
    of the stored images, the target and the recalled image (white = 0, black = 1)."""
    written = []
    if any(r.get("split") == "val" and r.get("epoch") is not None for r in records):
        for metric in ("mse", "accuracy"):
            curves = plots.metric_curves(records, metrics=(metric,), split="val", x="epoch")
            written.append(
                plots.line_curves(
                    curves[0].x,
                    {"validation": curves[0].y},
                    out / f"{metric}.png",
                    xlabel="epoch",
                    ylabel=metric,
                    title=f"cross-modal: validation {metric}",
                )
            )
    best = run_dir / "checkpoints" / "best.safetensors"
    if best.is_file():
        checkpoint = _load(str(best))
        settings = resolve_settings(argparse.Namespace(**checkpoint.config))
        bundle = _Bundle(CrossModalConfig.from_mapping(settings))
        restore_state(checkpoint, {"model": bundle})
        pools, _, _ = load_data(data_root or settings["data_root"], bundle.encoders(), 1, 0, False)
        example = pools["test"].sample(8, settings["sequence_length"], torch.Generator().manual_seed(0))
        bundle.eval()
        with torch.no_grad():
            recalled, _ = bundle.network(example.audio, example.images, example.query)
        stored = torch.stack(
            [pools["test"].pixels[_rows(pools["test"], example.images[n])] for n in range(8)]
        )  # [8, L, 784]
        tiles = torch.cat([stored, example.target[:, None], recalled.clamp(0, 1)[:, None]], dim=1)
        written.append(
            plots.receptive_field_mosaic(
                tiles.flatten(0, 1).T.numpy(),
                out / "recall.png",
                n_cols=tiles.shape[1],
                cmap="gray_r",
                vmin=0.0,
                vmax=1.0,
                title="stored | target | recalled",
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no cross-modal metrics or checkpoint to plot")
    return written


def _rows(pools: CrossModalPools, currents: torch.Tensor) -> torch.Tensor:
    """Indices of the image pool rows whose currents equal ``currents`` [L, D]."""
    match = (pools.image.currents[None] == currents[:, None]).all(dim=-1)  # [L, N]
    return match.float().argmax(dim=1)
