"""``hybridsnn train hebbian --task babi``: one bAbI task (v1.2, 10k by default) with the QA SNN.

The training file is split 90/10 into train/validation (seeded with ``--dataset-seed``; the seed's split is
unseeded), the best validation weights are scored on the test file. ``--iterations`` caps the batches per
epoch and ``--val-size``/``--test-size`` the evaluated samples (for quick runs); unset, all are used.
``--checkpoint`` starts from the weights of a babi run over the same vocabulary (same task file).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data.babi import ensure_babi, read_samples
from hybridsnn.errors import UserError
from hybridsnn.hebbian.babi.data import BabiBatch, Vocabulary
from hybridsnn.hebbian.babi.network import QuestionAnsweringSNN
from hybridsnn.hebbian.babi.settings import BabiSettings
from hybridsnn.hebbian.networks import AssociationConfig
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
)
from hybridsnn.hebbian.training import AssociationSteps, steps_from_settings
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything
from hybridsnn.runtime import select_device as _select_device
from hybridsnn.spiking import BestMetric, evaluate, fit, restore_state
from hybridsnn.spiking.distributed import DistributedContext, init_distributed, shutdown_distributed

TASK = "babi"
DEFAULTS = {
    "babi_task": 1,
    "max_num_sentences": 50,
    "batch_size": 256,
    "epochs": 200,
    "embedding_size": 80,
    "memory_size": 100,
    "learning_rate": 3e-3,
    "l2": 1e-5,
    "thr": 0.1,
    "readout_delay": 30,
    "gamma_pos": 0.3,
    "gamma_neg": 0.3,
}
#: ``--quick``: task 1 with stories of at most 4 sentences, the time-compressed SNN of docs/hebbian.md,
#: «Quick modes» (25 ms per sentence, τ 5 ms, γ± 1.2, read-out over the last 8 ms, feedback delay
#: 30 ms → 8 ms), E = M = 32, 8 epochs × 50 batches of 32, lr 5e-3, 64 validation / 256 test questions
#: (≈ 60-70 CPU-s). With the seed's 100-ms constants the recall-phase value neurons are silent at the start
#: (0 Hz, loss ln vocab), and a quick run cannot leave that state.
QUICK = {
    "max_num_sentences": 4,
    "num_time_steps": 25,
    "tau_mem": 5.0,
    "tau_trace": 5.0,
    "gamma_pos": 1.2,
    "gamma_neg": 1.2,
    "readout_window": 8,
    "readout_delay": 8,
    "embedding_size": 32,
    "memory_size": 32,
    "batch_size": 32,
    "epochs": 8,
    "iterations": 50,
    "learning_rate": 5e-3,
    "l2": 0.0,
    "val_size": 64,
    "test_size": 256,
}


def resolve_settings(args: argparse.Namespace) -> BabiSettings:
    """Flags, then ``--quick`` values for unset flags, then the seed's bAbI defaults."""
    values = add_model_names(layered_settings(args, QUICK if args.quick else {}, DEFAULTS))
    # the sizes come from the vocabulary; any size checks the neuron and plasticity constants
    AssociationConfig.from_mapping({**values, "feature_size": 1, "num_classes": 1}).check()
    return BabiSettings.from_config(values)


def check(args: argparse.Namespace, command: str) -> BabiSettings:
    """The settings of ``train`` (and the task of its ``--checkpoint``) or of the ``test`` checkpoint."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint:
            _load(args.checkpoint)  # whether it fits depends on the vocabulary, checked when it is read
        return settings
    return checkpoint_settings(_load(args.checkpoint), resolve_settings)


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, TASK)


class ShuffledBatches:
    """Batches of a fixed set in a fresh random order every pass (torch's global RNG), at most ``limit``;
    ``drop_last``: no smaller last batch (torchrun processes train on equal slices of every batch)."""

    def __init__(self, data: BabiBatch, batch_size: int, limit: int | None = None, drop_last: bool = False
                 ) -> None:  # fmt: skip
        self.data, self.batch_size, self.limit = data, batch_size, limit
        self.drop_last = drop_last

    def __len__(self) -> int:
        count = self.data.size // self.batch_size if self.drop_last else -(-self.data.size // self.batch_size)
        return count if self.limit is None else min(count, self.limit)

    def samples(self) -> int:
        """Examples in one pass."""
        return min(self.data.size, len(self) * self.batch_size)

    def __iter__(self) -> Iterator[BabiBatch]:
        order = torch.randperm(self.data.size)
        for n in range(len(self)):
            yield self.data.select(order[n * self.batch_size : (n + 1) * self.batch_size])


def _batches(data: BabiBatch, size: int | None, batch: int) -> list[BabiBatch]:
    data = data.select(slice(0, size))
    return [data.select(slice(i, i + batch)) for i in range(0, data.size, batch)]


def load_splits(settings: Mapping[str, Any]) -> tuple[Vocabulary, BabiBatch, BabiBatch, BabiBatch]:
    """Vocabulary, train, validation (10 % of the training file) and test samples (``settings``: typed, or
    a resolved dict)."""
    settings = BabiSettings.of(settings)
    train_file, test_file = ensure_babi(settings.data_root, settings.babi_task)
    train = read_samples(train_file, settings.max_num_sentences)
    test = read_samples(test_file, settings.max_num_sentences)
    vocabulary = Vocabulary.build([train, test])
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(settings.dataset_seed))
    val_count = len(train) // 10
    train_set = vocabulary.vectorise([train[i] for i in order[val_count:].tolist()])
    val_set = vocabulary.vectorise([train[i] for i in order[:val_count].tolist()])
    return vocabulary, train_set, val_set, vocabulary.vectorise(test)


def _config(settings: Mapping[str, Any], vocabulary: Vocabulary) -> AssociationConfig:
    return AssociationConfig.from_mapping(
        {**settings, "feature_size": vocabulary.sentence_size, "num_classes": len(vocabulary.words)}
    )


def _test(
    steps: AssociationSteps, test_set: BabiBatch, settings: BabiSettings, progress: bool, run: Run | None
) -> dict[str, float]:
    batches = _batches(test_set, settings.test_size, settings.batch_size)
    test = evaluate(steps.eval_step, batches, modules=[steps.model], desc="test", progress=progress)
    if run is not None:
        run.log_metrics(step=0, split="test", **test)
    return test


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train the QA SNN on one bAbI task, validate every epoch, test the best weights."""
    settings = resolve_settings(args)
    configure_threads(args.threads)
    context = init_distributed(_select_device(args.device))
    try:
        vocabulary, train_set, val_set, test_set = load_splits(settings)
        config = _config(settings, vocabulary)
        seed_everything(args.seed)
        model = QuestionAnsweringSNN(config).to(context.device)
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": model})
        steps = steps_from_settings(model, settings, context)
        batch = settings.batch_size
        progress = not args.no_progress and context.is_main
        train_loader = ShuffledBatches(train_set, batch, settings.iterations, drop_last=context.enabled)
        if len(train_loader) == 0:
            raise UserError(f"--batch-size {batch} is larger than the {train_set.size} training questions")
        result = fit(
            run,
            train_step=steps.train_step,
            train_loader=train_loader,
            epochs=settings.epochs,
            seed=args.seed,
            state={"model": model, "optim": steps.optimizer},
            schedulers={"lr": steps.scheduler},
            eval_step=steps.eval_step,
            eval_loaders={"val": _batches(val_set, settings.val_size, batch)},
            best=BestMetric("val", "accuracy"),
            resume=bool(args.resume),
            progress=progress,
        )
        restore_state(run.load_checkpoint("best"), {"model": model})
        test = _test(steps, test_set, settings, progress, run if context.is_main else None)
        final = {
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "best_val_accuracy": result.best_value,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "vocabulary": len(vocabulary.words),
            "story_sentences": train_set.story.shape[1],
        }
        return run.finish(
            final,
            samples=train_loader.samples() * result.epochs,
            dataset=f"bAbI v1.2 task {settings.babi_task}",
            engine="torch",
            device=str(context.device),
        )
    finally:
        shutdown_distributed()


def test(args: argparse.Namespace, run: Run) -> dict:
    """Score ``--checkpoint`` (a babi training checkpoint) on its task's test file."""
    checkpoint = _load(args.checkpoint)
    settings = checkpoint_settings(checkpoint, resolve_settings)
    settings = settings.replace(
        **{
            k: getattr(args, k)
            for k in ("test_size", "batch_size", "data_root")
            if getattr(args, k) is not None
        }
    )
    configure_threads(args.threads)
    context = DistributedContext(device=_select_device(args.device))
    vocabulary, _, _, test_set = load_splits(settings)
    model = QuestionAnsweringSNN(_config(settings, vocabulary))
    restore_state(checkpoint, {"model": model})
    model.to(context.device)
    steps = AssociationSteps(model, None, None, context)
    metrics = _test(steps, test_set, settings, not args.no_progress, run)
    return run.finish(
        {"test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"]},
        samples=min(test_set.size, settings.test_size or test_set.size),
        dataset=f"bAbI v1.2 task {settings.babi_task}",
        engine="torch",
        device=str(context.device),
        checkpoint=str(args.checkpoint),
    )
