"""``hybridsnn train|test hebbian --task omniglot``: 1-shot 5-way Omniglot with the Hebbian-memory SNN.

Training (1) splits the 242 distinct characters of the two small background sets with ``--dataset-seed``
into training, validation (30) and test (40) characters, each ×4 rotations; (2) pre-trains the ProtoNet
encoder on the training characters (or loads it with ``--encoders PATH``) and saves it to
``<run>/checkpoints/encoders.safetensors``; (3) trains the memory network on fresh random episodes, validates
every epoch on fixed episodes of the validation characters and (4) tests the best weights on episodes of the
test characters and on 5-way episodes built from the 20 official one-shot runs (``all_runs.zip``:
evaluation alphabets, never seen in training). The memory network's checkpoints hold the encoder too, so
``hybridsnn test hebbian --task omniglot --checkpoint RUN/checkpoints/best.safetensors`` needs nothing else.
Chance is 1/5.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from hybridsnn import plots
from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data import OneShotRun, load_one_shot_runs
from hybridsnn.errors import UserError
from hybridsnn.hebbian.networks import compile_store_step
from hybridsnn.hebbian.omniglot.data import (
    FreshEpisodes,
    background_characters,
    fixed_episodes,
    one_shot_episodes,
    prepare_images,
    run_episodes,
    split_characters,
    with_rotations,
)
from hybridsnn.hebbian.omniglot.network import OmniglotConfig, OmniglotSNN
from hybridsnn.hebbian.omniglot.protonet import (
    CHANNELS,
    ProtoEncoder,
    ProtoNetResult,
    ProtoNetSettings,
    episode_accuracy,
    load_protonet,
    nearest_prototype_accuracy,
    pretrain_protonet,
    save_protonet,
)
from hybridsnn.hebbian.omniglot.settings import OmniglotSettings
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
    refuse_other_networks,
)
from hybridsnn.hebbian.training import AssociationSteps, steps_from_settings
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything
from hybridsnn.runtime import select_device as _select_device
from hybridsnn.spiking import BestMetric, evaluate, fit, restore_state
from hybridsnn.spiking.distributed import DistributedContext, init_distributed, shutdown_distributed

TASK = "omniglot"
WAYS = 5
VAL_CHARACTERS = 30
TEST_CHARACTERS = 40
ENCODER_FILE = "encoders"
FEATURE_BATCH = 512  # images per encoder call when computing currents (faster than one big batch on a CPU)
DATASET = "Omniglot (background small1+small2; one-shot runs)"
ENCODER_TITLE = "ProtoNet: training episodes (--encoder-ways classes), validation 5-way 1-shot"
DEFAULTS = {
    "memory_size": 100,
    "batch_size": 256,
    "epochs": 200,
    "iterations": 200,
    "learning_rate": 1e-3,
    "l2": 1e-6,
    "thr": 0.1,
    "readout_delay": 1,
    "gamma_pos": 0.3,
    "gamma_neg": 0.3,
    "val_size": 1000,
    "test_size": 2000,
    "encoder_epochs": 100,
    "encoder_iterations": 100,
    "encoder_ways": 60,
    "encoder_val_episodes": 100,
}
#: ``--quick``: ProtoNet 2 × 20 episodes of 20-way (~80 % 5-way 1-shot); memory M=40, 4 × 45 Adam steps of 32
#: episodes, time-compressed (T=20 ms per item, τ_mem = τ_trace = 4 ms, window 10 ms, γ± = 1, thr 0.2, Adam
#: 3e-3), no rate regulariser, and the memory layers warm-started (``warm_start``: keys from the image,
#: values from the label, read keys = write keys). From the seed's Xavier start the memory network needs
#: ~300 such steps to leave chance (its read-out falls silent first), more than the quick budget holds;
#: warm-started: test 46 / 36 / 44 % for seeds 0 / 1 / 2 (chance 20 %), ~83 CPU-s on one thread.
QUICK = {
    "memory_size": 40,
    "batch_size": 32,
    "epochs": 4,
    "iterations": 45,
    "learning_rate": 3e-3,
    "l2": 0.0,
    "num_time_steps": 20,
    "tau_mem": 4.0,
    "tau_trace": 4.0,
    "readout_window": 10,
    "gamma_pos": 1.0,
    "gamma_neg": 1.0,
    "thr": 0.2,
    "warm_start": True,
    "val_size": 64,
    "test_size": 256,
    "encoder_epochs": 2,
    "encoder_iterations": 20,
    "encoder_ways": 20,
    "encoder_val_episodes": 10,
}


def resolve_settings(args: argparse.Namespace) -> OmniglotSettings:
    """Flags, then ``--quick`` values for unset flags, then the seed's Omniglot defaults."""
    settings = layered_settings(args, QUICK if args.quick else {}, DEFAULTS)
    refuse_other_networks(settings, "omniglot")
    if settings.get("embedding_size") not in (None, CHANNELS):
        raise UserError(
            f"--embedding-size of the omniglot task is the encoder's {CHANNELS} features, "
            f"got {settings['embedding_size']}"
        )
    if settings.get("sequence_length") not in (None, WAYS):
        raise UserError(
            f"the omniglot task stores {WAYS} images ({WAYS}-way); "
            f"--sequence-length {settings['sequence_length']} does not apply"
        )
    settings = add_model_names(settings)
    settings["warm_start"] = bool(settings.get("warm_start"))
    _config(settings).check()
    return OmniglotSettings.from_config(settings)


def check(args: argparse.Namespace, command: str) -> OmniglotSettings:
    """The settings of ``train`` (and that ``--checkpoint`` or ``--encoders`` fits them) or of the ``test``
    checkpoint (which must fit the network it was trained with)."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint and args.encoders:
            raise UserError(
                "--encoders and --checkpoint both give the encoder (the checkpoint holds one); give one"
            )
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": _Bundle(_config(settings))})
        elif args.encoders:
            _check_encoder(load_protonet(args.encoders), args.encoders)
        return settings
    return _checkpoint_bundle(_load(args.checkpoint))[0]


def _check_encoder(encoder: ProtoEncoder, source: Any) -> ProtoEncoder:
    if encoder.channels != CHANNELS:
        raise UserError(
            f"the encoder of {str(source)!r} has {encoder.channels} features; the task needs {CHANNELS}"
        )
    return encoder


def _checkpoint_bundle(checkpoint: Checkpoint) -> tuple[OmniglotSettings, _Bundle]:
    settings = checkpoint_settings(checkpoint, resolve_settings)
    bundle = _Bundle(_config(settings))
    restore_state(checkpoint, {"model": bundle})
    return settings, bundle


def _config(settings: Mapping[str, Any]) -> OmniglotConfig:
    return OmniglotConfig.from_mapping(
        {**settings, "ways": WAYS, "feature_size": CHANNELS, "label_size": CHANNELS}
    )


def character_images(root: Any, seed: int) -> dict[str, torch.Tensor]:
    """Images ``[C, 20, 1, 28, 28]`` of the training, validation and test classes (characters × rotations)."""
    characters, names = background_characters(root)
    split = split_characters(len(names), seed, VAL_CHARACTERS, TEST_CHARACTERS)
    return {name: with_rotations(characters[index]) for name, index in split.items()}


class RunSet(NamedTuple):
    """The 20 one-shot runs with their training (``support``, class k at index k) and test (``queries``)
    drawings, as images ``[20 runs, 20, 1, 28, 28]`` or as encoder currents ``[20, 20, 64]``."""

    runs: list[OneShotRun]
    support: torch.Tensor
    queries: torch.Tensor

    def answers(self) -> torch.Tensor:
        """The class of every test drawing, ``[20 runs, 20]``."""
        return torch.from_numpy(np.stack([run.answers for run in self.runs]))


def runs_images(root: Any) -> RunSet:
    """The official one-shot runs (``all_runs.zip``) as images."""
    runs = load_one_shot_runs(root)
    support = torch.stack([prepare_images(run.support) for run in runs])
    return RunSet(runs, support, torch.stack([prepare_images(run.queries) for run in runs]))


def _currents(encoder: ProtoEncoder, images: torch.Tensor) -> torch.Tensor:
    """Encoder currents of ``images`` [C, K, 1, 28, 28] as ``[C, K, 64]``."""
    return encoder.currents(images.flatten(0, 1), batch=FEATURE_BATCH).view(*images.shape[:2], -1)


def encoder_metrics(
    encoder: ProtoEncoder, images: dict[str, torch.Tensor], runs: RunSet, episodes: int, seed: int
) -> dict[str, float]:
    """ProtoNet accuracies (fractions): 5-way 1-shot 15-query episodes of the validation and test classes,
    and the 20-way one-shot runs (nearest support image, the official benchmark)."""
    answers = runs.answers()
    runs_accuracy = sum(
        nearest_prototype_accuracy(encoder, support, queries, answer)
        for support, queries, answer in zip(runs.support, runs.queries, answers, strict=True)
    ) / len(answers)
    return {
        "encoder_val_accuracy": episode_accuracy(encoder, images["val"], episodes, seed=seed),
        "encoder_test_accuracy": episode_accuracy(encoder, images["test"], episodes, seed=seed + 1),
        "encoder_runs_20way_accuracy": runs_accuracy,
    }


def pretrain_encoder(
    settings: OmniglotSettings, images: dict[str, torch.Tensor], run: Run, seed: int, progress: bool
) -> ProtoNetResult:
    """Pre-train the ProtoNet on the training classes (the result holds the calibrated encoder and the
    currents of the training images); per-epoch metrics are logged as splits ``encoder_train`` and
    ``encoder_val`` with ``encoder_epoch``."""
    ways, classes = settings["encoder_ways"], images["train"].shape[0]
    if ways > classes:
        raise UserError(f"--encoder-ways {ways} exceeds the {classes} training classes (characters, rotated)")
    protonet = ProtoNetSettings(
        epochs=settings["encoder_epochs"],
        iterations=settings["encoder_iterations"],
        ways=settings["encoder_ways"],
        val_episodes=settings["encoder_val_episodes"],
    )

    def log(epoch: int, metrics: dict[str, float]) -> None:
        step = epoch * protonet.iterations
        run.log_metrics(
            step=step,
            split="encoder_train",
            encoder_epoch=epoch,
            loss=metrics["loss"],
            accuracy=metrics["accuracy"],
        )
        run.log_metrics(step=step, split="encoder_val", encoder_epoch=epoch, accuracy=metrics["val_accuracy"])

    return pretrain_protonet(images["train"], images["val"], protonet, seed=seed, progress=progress, log=log)


class _Bundle(torch.nn.Module):
    """The memory network and its frozen encoder, checkpointed together."""

    def __init__(self, config: OmniglotConfig) -> None:
        super().__init__()
        self.network = OmniglotSNN(config)
        self.encoder = ProtoEncoder(config.feature_size).requires_grad_(False).eval()


def _test(
    steps: AssociationSteps,
    pools: dict[str, Any],
    settings: OmniglotSettings,
    progress: bool,
    run: Run | None,
) -> dict[str, float]:
    """Accuracy/loss on ``test_size`` episodes of the test classes (seed ``dataset_seed + 1``) and on the
    400 episodes of the one-shot runs (seed ``dataset_seed + 2``)."""
    seed, batch = settings["dataset_seed"], settings["batch_size"]
    sets = {
        "test": one_shot_episodes(
            pools["test"], settings["test_size"], WAYS, torch.Generator().manual_seed(seed + 1)
        ),
        "test_runs": run_episodes(
            pools["runs"].runs, pools["runs"].support, pools["runs"].queries, WAYS, seed + 2
        ),
    }
    final = {}
    for split, data in sets.items():
        metrics = evaluate(
            steps.eval_step, fixed_episodes(data, batch), modules=[steps.model], desc=split, progress=progress
        )
        if run is not None:
            run.log_metrics(step=0, split=split, **metrics)
        final[f"{split}_accuracy"] = metrics["accuracy"]
        final[f"{split}_loss"] = metrics["loss"]
    return final


def _pools(
    encoder: ProtoEncoder,
    images: dict[str, torch.Tensor],
    runs: RunSet,
    splits: tuple[str, ...],
    known: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Encoder currents of the classes of ``splits`` ([C, 20, 64] each) and of the one-shot runs;
    ``known`` holds currents [C·20, 64] already computed (the training images', while calibrating)."""
    known = known or {}
    pools: dict[str, Any] = {}
    for name in splits:
        given = known.get(name)
        pools[name] = (
            _currents(encoder, images[name]) if given is None else given.view(*images[name].shape[:2], -1)
        )
    pools["runs"] = RunSet(runs.runs, _currents(encoder, runs.support), _currents(encoder, runs.queries))
    return pools


def _given_encoder(
    args: argparse.Namespace, settings: OmniglotSettings, bundle: _Bundle, run: Run
) -> ProtoEncoder | None:
    """The encoder of ``--checkpoint`` (restored into ``bundle`` with the network), of ``--encoders``, or of
    the run being resumed; None when it must be pre-trained."""
    saved = run.checkpoint_dir / f"{ENCODER_FILE}.safetensors"
    if args.checkpoint:
        restore_state(_load(args.checkpoint), {"model": bundle})
        return bundle.encoder
    if settings.get("encoders"):
        return _check_encoder(load_protonet(settings["encoders"]), settings["encoders"])
    if args.resume and saved.is_file():
        return load_protonet(saved)
    return None


def train(args: argparse.Namespace, run: Run) -> dict:
    """Pre-train (or load) the encoder, train the memory network on fresh episodes, test the best weights."""
    settings = resolve_settings(args)
    configure_threads(args.threads)
    context = init_distributed(_select_device(args.device))
    try:
        progress = not args.no_progress and context.is_main
        seed_everything(args.seed)
        config = _config(settings)
        bundle = _Bundle(config)
        encoder = _given_encoder(args, settings, bundle, run)
        images = character_images(args.data_root, settings["dataset_seed"])
        runs = runs_images(args.data_root)
        known = {}
        if encoder is None:
            pretrained = pretrain_encoder(settings, images, run, args.seed, progress)
            encoder = pretrained.encoder
            if pretrained.train_currents is not None:
                known["train"] = pretrained.train_currents
        if encoder.channels != config.feature_size:
            raise UserError(
                f"the encoder has {encoder.channels} features; the task needs {config.feature_size}"
            )
        bundle.encoder.load_state_dict(encoder.state_dict())
        encoder = bundle.encoder
        encoder_results = encoder_metrics(
            encoder, images, runs, settings["encoder_val_episodes"], settings["dataset_seed"]
        )
        if context.is_main:
            save_protonet(run.checkpoint_dir / f"{ENCODER_FILE}.safetensors", encoder, extra=encoder_results)
        pools = _pools(encoder, images, runs, ("train", "val", "test"), known)
        seed_everything(args.seed)
        bundle.to(context.device)
        if settings.get("compile"):
            compile_store_step(bundle.network)
        steps = steps_from_settings(bundle.network, settings, context)
        batch = settings["batch_size"]
        val = one_shot_episodes(
            pools["val"], settings["val_size"], WAYS, torch.Generator().manual_seed(settings["dataset_seed"])
        )
        result = fit(
            run,
            train_step=steps.train_step,
            train_loader=FreshEpisodes(pools["train"], settings["iterations"], batch, WAYS),
            epochs=settings["epochs"],
            seed=args.seed,
            state={"model": bundle, "optim": steps.optimizer},
            schedulers={"lr": steps.scheduler},
            eval_step=steps.eval_step,
            eval_loaders={"val": fixed_episodes(val, batch)},
            best=BestMetric("val", "accuracy"),
            resume=bool(args.resume),
            progress=progress,
        )
        restore_state(run.load_checkpoint("best"), {"model": bundle})
        final = {
            **_test(steps, pools, settings, progress, run if context.is_main else None),
            "best_val_accuracy": result.best_value,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "chance": 1.0 / WAYS,
            **encoder_results,
        }
        return run.finish(
            final,
            samples=batch * settings["iterations"] * result.epochs,
            dataset=DATASET,
            engine="torch",
            device=str(context.device),
        )
    finally:
        shutdown_distributed()


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, TASK)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Score ``--checkpoint`` (an omniglot training checkpoint) on the test characters and one-shot runs."""
    settings, bundle = _checkpoint_bundle(_load(args.checkpoint))
    given = ("test_size", "batch_size", "data_root")
    settings = settings.replace(**{k: getattr(args, k) for k in given if getattr(args, k) is not None})
    configure_threads(args.threads)
    context = DistributedContext(device=_select_device(args.device))
    images = character_images(settings["data_root"], settings["dataset_seed"])
    pools = _pools(bundle.encoder, images, runs_images(settings["data_root"]), ("test",))
    bundle.to(context.device)
    steps = AssociationSteps(bundle.network, None, None, context)
    final = _test(steps, pools, settings, not args.no_progress, run)
    return run.finish(
        {**final, "chance": 1.0 / WAYS},
        samples=settings["test_size"] + pools["runs"].answers().numel(),
        dataset=DATASET,
        engine="torch",
        device=str(context.device),
        checkpoint=str(args.checkpoint),
    )


def _curve(records: list[dict[str, Any]], split: str, key: str) -> list[tuple[float, float]]:
    return [
        (r[key], r["accuracy"])
        for r in records
        if r.get("split") == split and r.get(key) is not None and "accuracy" in r
    ]


def plot(run_dir: Path, out: Path, records: list[dict[str, Any]]) -> list[Path]:
    """``encoder_accuracy.png`` (ProtoNet training/validation accuracy per pre-training epoch) and
    ``accuracy.png`` (memory network training/validation accuracy per epoch, in %; chance 20 %)."""
    figures = {
        "encoder_accuracy": ("encoder_epoch", "encoder_", "pre-training epoch", ENCODER_TITLE),
        "accuracy": (
            "epoch",
            "",
            "epoch",
            f"Hebbian memory: {WAYS}-way 1-shot accuracy (chance {100 / WAYS:g} %)",
        ),
    }
    written = []
    for name, (key, prefix, xlabel, title) in figures.items():
        validation = _curve(records, f"{prefix}val", key)
        if not validation:
            continue
        series = {"validation": [y for _, y in validation]}
        training = _curve(records, f"{prefix}train", key)
        if [x for x, _ in training] == [x for x, _ in validation]:
            series["training"] = [y for _, y in training]
        written.append(
            plots.line_curves(
                [x for x, _ in validation],
                series,
                out / f"{name}.png",
                xlabel=xlabel,
                ylabel="accuracy (%)",
                title=title,
                y_scale=100.0,
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no omniglot metrics to plot")
    return written
