"""``hybridsnn train|test hebbian --task cross-modal``: data, encoder pre-training, training and testing.

Training pre-trains the two encoders (or loads them with ``--encoders PATH``, takes those of
``--checkpoint``, or, resumed, the run's own) and saves them to
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
from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data import load_dataset
from hybridsnn.errors import UserError
from hybridsnn.hebbian.cross_modal.audio import FRAMES, N_MFCC, mfcc_images
from hybridsnn.hebbian.cross_modal.network import (
    IMAGE_PIXELS,
    CrossModalConfig,
    CrossModalPools,
    CrossModalSNN,
    CrossModalSteps,
    FreshExamples,
    fixed_examples,
    modality_pool,
)
from hybridsnn.hebbian.cross_modal.settings import CrossModalSettings
from hybridsnn.hebbian.encoders import FEATURES, DigitEncoder, load_encoders, pretrain_encoder, save_encoders
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
)
from hybridsnn.hebbian.training import make_optimizer
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything
from hybridsnn.runtime import select_device as _select_device
from hybridsnn.spiking import BestMetric, evaluate, fit, restore_state

TASK = "cross-modal"
DIGITS = 10
AUDIO_INPUTS = FRAMES * (N_MFCC - 1)  # pixels of an MFCC image
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
#: ``--quick``: 1 pair, M=50, 8 × 10 = 80 Adam steps of 16 examples, encoders 2 epochs (≈ 1 CPU-minute; the
#: recalled digits beat the mean-image baseline). 2 pairs need ~400 steps of 32 (≈ 8 CPU-min).
QUICK = {
    "sequence_length": 1,
    "memory_size": 50,
    "batch_size": 16,
    "epochs": 8,
    "iterations": 10,
    "l2": 0.0,
    "val_size": 64,
    "test_size": 256,
    "encoder_epochs": 2,
}


def resolve_settings(args: argparse.Namespace) -> CrossModalSettings:
    """Flags, then ``--quick`` values for unset flags, then the seed's cross-modal defaults."""
    values = layered_settings(args, QUICK if args.quick else {}, DEFAULTS)
    if values.get("embedding_size") not in (None, FEATURES):
        raise UserError(
            f"--embedding-size of the cross-modal task is the encoders' {FEATURES} features, "
            f"got {values['embedding_size']}"
        )
    if values.get("iterations") is None:
        values["iterations"] = math.ceil(TRAIN_SET_SIZE / values["batch_size"])
    _check_length(values["sequence_length"])
    values = add_model_names(values)
    CrossModalConfig.from_mapping(values).check()
    return CrossModalSettings.from_config(values)


def _check_length(length: int) -> None:
    if not 1 <= length <= DIGITS:
        raise UserError(f"--sequence-length must be 1..{DIGITS} digit classes (pairs of distinct digits), "
                        f"got {length}")  # fmt: skip


def check(args: argparse.Namespace, command: str) -> CrossModalSettings:
    """The settings of ``train`` (and that ``--checkpoint`` or ``--encoders`` fits them) or of the ``test``
    checkpoint (which must fit the network it was trained with) and its ``--sequence-length``."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint and args.encoders:
            raise UserError(
                "--encoders and --checkpoint both give the encoders (the checkpoint holds them); give one"
            )
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": _Bundle(CrossModalConfig.from_mapping(settings))})
        elif args.encoders:
            _given_encoders(args.encoders)
        return settings
    settings, _ = _checkpoint_bundle(_load(args.checkpoint))
    if args.sequence_length is not None:
        _check_length(args.sequence_length)
    return settings


def _given_encoders(path: Any) -> dict[str, DigitEncoder]:
    """The encoders of ``path``, refused unless they take this task's inputs (MFCC images, MNIST pixels)."""
    encoders = load_encoders(path)
    for name, size in (("audio", AUDIO_INPUTS), ("image", IMAGE_PIXELS)):
        found = encoders[name].input_size
        if found != size:
            raise UserError(
                f"encoders file {str(path)!r}: its {name} encoder takes {found} inputs; this task's {name} "
                f"inputs have {size}"
            )
    return encoders


def _checkpoint_bundle(checkpoint: Checkpoint) -> tuple[CrossModalSettings, _Bundle]:
    settings = checkpoint_settings(checkpoint, resolve_settings)
    bundle = _Bundle(CrossModalConfig.from_mapping(settings))
    restore_state(checkpoint, {"model": bundle})
    return settings, bundle


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
        self.audio_encoder = DigitEncoder(AUDIO_INPUTS)
        self.image_encoder = DigitEncoder(IMAGE_PIXELS)
        for encoder in (self.audio_encoder, self.image_encoder):
            encoder.requires_grad_(False)

    def set_encoders(self, encoders: dict[str, DigitEncoder]) -> None:
        self.audio_encoder.load_state_dict(encoders["audio"].state_dict())
        self.image_encoder.load_state_dict(encoders["image"].state_dict())

    def encoders(self) -> dict[str, DigitEncoder]:
        return {"audio": self.audio_encoder.eval(), "image": self.image_encoder.eval()}


def _test(steps: CrossModalSteps, pools: CrossModalPools, settings: CrossModalSettings, progress: bool
          ) -> dict[str, float]:  # fmt: skip
    """Test metrics, plus ``mean_image_mse``: the MSE of always answering the mean MNIST test image."""
    data = fixed_examples(
        pools,
        settings.test_size,
        settings.sequence_length,
        settings.dataset_seed + 1,
        settings.batch_size,
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
    config = CrossModalConfig.from_mapping(settings)
    saved = run.checkpoint_dir / f"{ENCODER_FILE}.safetensors"
    checkpoint = _load(args.checkpoint) if args.checkpoint else None
    if checkpoint is not None:  # its encoders, which its network was trained with
        start = _Bundle(config)
        restore_state(checkpoint, {"model": start})
        given: dict[str, DigitEncoder] | None = start.encoders()
    elif args.encoders:
        given = _given_encoders(args.encoders)
    else:  # a resumed run's own encoders, else pre-trained below
        given = _given_encoders(saved) if args.resume and saved.is_file() else None
    seed_everything(args.seed)
    pools, encoders, encoder_accuracy = load_data(
        args.data_root, given, settings.encoder_epochs, args.seed, progress
    )
    save_encoders(saved, encoders, extra=encoder_accuracy)
    seed_everything(args.seed)
    bundle = _Bundle(config)
    bundle.set_encoders(encoders)
    if checkpoint is not None:
        restore_state(checkpoint, {"model": bundle})
    bundle.to(device)
    optimizer, scheduler = make_optimizer(
        bundle.network,
        settings.learning_rate,
        settings.learning_rate_decay,
        settings.decay_learning_rate_every,
    )
    steps = CrossModalSteps(
        bundle.network,
        bundle.image_encoder,
        optimizer,
        device,
        l2=settings.l2,
        target_rate=settings.target_rate,
        max_grad_norm=settings.max_grad_norm,
    )
    length = settings.sequence_length
    val = fixed_examples(
        pools["train"], settings.val_size, length, settings.dataset_seed, settings.batch_size
    )
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=FreshExamples(pools["train"], settings.iterations, settings.batch_size, length),
        epochs=settings.epochs,
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
        samples=settings.batch_size * settings.iterations * result.epochs,
        dataset="FSDD → MNIST",
        engine="torch",
        device=str(device),
    )


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, TASK)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` (a cross-modal training checkpoint) on the test examples (same digits)."""
    settings, bundle = _checkpoint_bundle(_load(args.checkpoint))
    settings = settings.replace(
        **{key: getattr(args, key) for key in ("test_size", "batch_size", "sequence_length")
           if getattr(args, key) is not None}
    )  # fmt: skip
    configure_threads(args.threads)
    device = _select_device(args.device)
    bundle.to(device)
    pools, _, encoder_accuracy = load_data(args.data_root, bundle.encoders(), 1, args.seed, False)
    steps = CrossModalSteps(bundle.network, bundle.image_encoder, None, device)
    metrics = _test(steps, pools["test"], settings, not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    return run.finish(
        {**_final(metrics), **encoder_accuracy},
        samples=settings.test_size,
        dataset="FSDD → MNIST",
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


def plot(run_dir: Path, out: Path, records: list[dict[str, Any]], data_root: Any = None) -> list[Path]:
    """``mse.png`` / ``accuracy.png`` (validation per epoch) and ``recall.png``: for 8 test examples a row
    of the stored images, the target and the recalled image (white = 0, black = 1). The checkpoint and the
    data are read (and refused if damaged or missing) before the first figure is written."""
    curves = any(r.get("split") == "val" and r.get("epoch") is not None for r in records)
    best = run_dir / "checkpoints" / "best.safetensors"
    tiles = _recall_tiles(best, data_root) if best.is_file() else None
    if not curves and tiles is None:
        raise UserError(f"run directory {str(run_dir)!r} has no cross-modal metrics or checkpoint to plot")
    written = []
    if curves:
        axes = {"mse": ("recall MSE (pixel intensity 0..1, squared)", 1.0),
                "accuracy": ("recalls classified correctly (%)", 100.0)}  # fmt: skip
        for metric, (ylabel, y_scale) in axes.items():
            curve = plots.metric_curves(records, metrics=(metric,), split="val", x="epoch")[0]
            written.append(
                plots.line_curves(
                    curve.x,
                    {"validation": curve.y},
                    out / f"{metric}.png",
                    xlabel="epoch",
                    ylabel=ylabel,
                    y_scale=y_scale,
                    title=f"cross-modal: validation {metric}",
                )
            )
    if tiles is not None:
        written.append(
            plots.receptive_field_mosaic(
                tiles.flatten(0, 1).T.numpy(),
                out / "recall.png",
                n_cols=tiles.shape[1],
                cmap="gray_r",
                vmin=0.0,
                vmax=1.0,
                title="stored | target | recalled",
                colorbar_label="pixel intensity (0..1)",
            )
        )
    return written


def _recall_tiles(best: Path, data_root: Any) -> torch.Tensor:
    """Stored images, target and recall of 8 test examples of the checkpoint ``best``, [8, L + 2, 784]."""
    settings, bundle = _checkpoint_bundle(_load(str(best)))
    pools, _, _ = load_data(data_root or settings.data_root, bundle.encoders(), 1, 0, False)
    example = pools["test"].sample(8, settings.sequence_length, torch.Generator().manual_seed(0))
    bundle.eval()
    with torch.no_grad():
        recalled, _ = bundle.network(example.audio, example.images, example.query)
    stored = torch.stack([pools["test"].pixels[_rows(pools["test"], example.images[n])] for n in range(8)])
    return torch.cat([stored, example.target[:, None], recalled.clamp(0, 1)[:, None]], dim=1)


def _rows(pools: CrossModalPools, currents: torch.Tensor) -> torch.Tensor:
    """Indices of the image pool rows whose currents equal ``currents`` [L, D]."""
    match = (pools.image.currents[None] == currents[:, None]).all(dim=-1)  # [L, N]
    return match.float().argmax(dim=1)
