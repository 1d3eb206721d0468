"""The train/evaluate loop shared by the torch models, with per-epoch metrics, checkpoints and exact resume.

A model supplies two callables:

* ``train_step(batch) -> {"loss": …, …}``: one optimisation step on a batch (forward, backward, optimiser
  steps — as many optimisers and inner steps as the learning rule needs), returning scalar metrics;
* ``eval_step(batch) -> {"accuracy": …, …}``: metrics of one batch without learning.

Per-batch metrics (floats or 0-dim tensors) are averaged over samples; a batch's sample count is the length of
its first tensor (the batch itself, its first element, or its first value). Every epoch the loop logs one
``train`` record and one record per evaluation split to ``metrics.jsonl`` and saves the checkpoint ``last``
(and ``best`` when the chosen metric improves) with the state of every object in ``state`` and ``schedulers``.

Exact resume: each epoch starts by re-seeding Python, numpy and torch from ``(seed, epoch)``, so the data
order of a shuffling DataLoader, dropout and random encodings of an epoch depend only on seed and epoch.
A run killed at any point and resumed from ``last`` therefore ends with the same weights and metrics as an
uninterrupted run (records of the unfinished epoch are dropped and recomputed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.errors import CheckpointError, UserError, unknown_choice
from hybridsnn.results import CHECKPOINT_DIR, Run
from hybridsnn.runtime import seed_everything
from hybridsnn.spiking.state import Stateful, checkpoint_payload, restore_state

StepFn = Callable[[Any], Mapping[str, "float | Tensor"]]
LAST_CHECKPOINT = "last"
BEST_CHECKPOINT = "best"
TRAIN_SPLIT = "train"
RECORD_KEYS = ("step", "epoch", "split", "time")


class Scheduler(Stateful, Protocol):
    """A learning-rate scheduler stepped once per epoch (``torch.optim.lr_scheduler.*``)."""

    def step(self) -> Any: ...


@dataclass(frozen=True)
class BestMetric:
    """Which evaluation metric selects the ``best`` checkpoint, e.g. ``BestMetric("test", "accuracy")``."""

    split: str
    metric: str
    mode: Literal["max", "min"] = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise unknown_choice("best-metric mode", self.mode, ("max", "min"))

    def value_in(self, results: Mapping[str, Mapping[str, float]]) -> float:
        """The chosen metric in one epoch's ``{split: {metric: value}}``."""
        metrics = results[self.split]
        if self.metric not in metrics:
            raise unknown_choice(f"best metric of split {self.split!r}", self.metric, sorted(metrics))
        return metrics[self.metric]

    def improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats the best value so far (None: nothing yet; NaN never improves)."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best


@dataclass
class FitResult:
    """Outcome of :func:`fit`: epochs completed, the last epoch's metrics by split, and the best epoch."""

    epochs: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    best_value: float | None = None
    best_epoch: int | None = None


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed derived from ``(seed, epoch)`` (epoch counted from 0)."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def batch_size(batch: Any) -> int:
    """Samples in a batch: the length of its first tensor (1 if it holds none)."""
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else 1
    if isinstance(batch, Mapping):
        return batch_size(next(iter(batch.values()))) if batch else 1
    if isinstance(batch, (list, tuple)):
        return batch_size(batch[0]) if batch else 1
    return 1


class MetricMeans:
    """Sample-weighted running means of per-batch metrics."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.samples = 0

    def add(self, metrics: Mapping[str, float | Tensor], samples: int) -> None:
        """Add one batch's metrics, weighted by its number of samples."""
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value) * samples
        self.samples += samples

    def means(self) -> dict[str, float]:
        """The mean of each metric over all samples added so far."""
        return {name: total / self.samples for name, total in self.sums.items()} if self.samples else {}


def _modules(state: Mapping[str, Any]) -> list[nn.Module]:
    return [obj for obj in state.values() if isinstance(obj, nn.Module)]


def _progress(loader: Iterable[Any], desc: str, enabled: bool) -> tqdm:
    return tqdm(loader, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)


def evaluate(
    eval_step: StepFn,
    loader: Iterable[Any],
    *,
    modules: Iterable[nn.Module] = (),
    no_grad: bool = True,
    desc: str = "eval",
    progress: bool = True,
) -> dict[str, float]:
    """Sample-weighted means of ``eval_step`` over ``loader`` with ``modules`` in eval mode, then restored."""
    modules = list(modules)
    was_training = [module.training for module in modules]
    for module in modules:
        module.eval()
    means = MetricMeans()
    try:
        with torch.no_grad() if no_grad else torch.enable_grad():
            bar = _progress(loader, desc, progress)
            for batch in bar:
                means.add(eval_step(batch), batch_size(batch))
                bar.set_postfix({k: f"{v:.4g}" for k, v in means.means().items()}, refresh=False)
    finally:
        for module, mode in zip(modules, was_training, strict=True):
            module.train(mode)
    return means.means()


def train_epoch(
    train_step: StepFn,
    loader: Iterable[Any],
    *,
    modules: Iterable[nn.Module] = (),
    desc: str = "train",
    progress: bool = True,
) -> tuple[dict[str, float], int]:
    """Run ``train_step`` on every batch with ``modules`` in train mode; returns (mean metrics, batches)."""
    for module in modules:
        module.train()
    means = MetricMeans()
    batches = 0
    bar = _progress(loader, desc, progress)
    for batch in bar:
        means.add(train_step(batch), batch_size(batch))
        batches += 1
        bar.set_postfix({k: f"{v:.4g}" for k, v in means.means().items()}, refresh=False)
    if batches == 0:
        raise UserError("the training data loader yielded no batches")
    return means.means(), batches


def fit(
    run: Run,
    *,
    train_step: StepFn,
    train_loader: Iterable[Any],
    epochs: int,
    seed: int,
    state: Mapping[str, Stateful],
    schedulers: Mapping[str, Scheduler] | None = None,
    eval_step: StepFn | None = None,
    eval_loaders: Mapping[str, Iterable[Any]] | None = None,
    best: BestMetric | None = None,
    resume: bool = False,
    progress: bool = True,
    eval_no_grad: bool = True,
) -> FitResult:
    """Train for ``epochs`` epochs in total (continuing from the run's ``last`` checkpoint if ``resume``).

    ``state`` names the objects to checkpoint (``{"model": model, "optim": optimizer, …}``); ``schedulers``
    are checkpointed too and stepped once after each training epoch. Schedulers stepped per batch belong in
    ``state`` and are stepped by ``train_step``. ``best`` selects the metric of the ``best`` checkpoint.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise UserError(f"epochs must be an integer >= 1, got {epochs!r}")
    schedulers = dict(schedulers or {})
    eval_loaders = dict(eval_loaders or {})
    if eval_loaders and eval_step is None:
        raise UserError("evaluation splits were given but no eval_step")
    if TRAIN_SPLIT in eval_loaders:
        raise UserError(f"evaluation split name {TRAIN_SPLIT!r} is reserved for the training metrics")
    if best is not None and best.split not in eval_loaders:
        raise unknown_choice("best-metric split", best.split, sorted(eval_loaders))
    clash = set(state) & set(schedulers)
    if clash:
        raise UserError(f"state and schedulers share the name {sorted(clash)[0]!r}; names must be unique")
    saved = {**state, **schedulers}
    modules = _modules(state)

    start, step, best_value, best_epoch = 0, 0, None, None
    if resume:
        start, step, best_value, best_epoch = _resume(run, saved, seed, best)
        run.drop_metrics_after(start)

    epoch_bar = tqdm(range(start, epochs), desc="epochs", initial=start, total=epochs, disable=not progress)
    for epoch in epoch_bar:
        seed_everything(epoch_seed(seed, epoch))
        label = f"epoch {epoch + 1}/{epochs}"
        began = time.perf_counter()
        train_metrics, batches = train_epoch(
            train_step, train_loader, modules=modules, desc=f"{label} train", progress=progress
        )
        step += batches
        for scheduler in schedulers.values():
            scheduler.step()
        results = {TRAIN_SPLIT: {**train_metrics, "seconds": time.perf_counter() - began}}
        for split, loader in eval_loaders.items():
            assert eval_step is not None
            results[split] = evaluate(
                eval_step,
                loader,
                modules=modules,
                no_grad=eval_no_grad,
                desc=f"{label} {split}",
                progress=progress,
            )
        for split, metrics in results.items():
            run.log_metrics(step=step, split=split, epoch=epoch + 1, **metrics)
        epoch_bar.set_postfix(
            {f"{split} {k}": f"{v:.4g}" for split, m in results.items() for k, v in m.items()}
        )
        value = best.value_in(results) if best is not None else math.nan
        if best is not None and best.improves(value, best_value):
            best_value, best_epoch = value, epoch + 1
            _save(run, BEST_CHECKPOINT, saved, epoch + 1, step, seed, best_value, best_epoch)
        _save(run, LAST_CHECKPOINT, saved, epoch + 1, step, seed, best_value, best_epoch)

    completed = max(start, epochs)
    last = {
        record["split"]: {k: v for k, v in record.items() if k not in RECORD_KEYS}
        for record in run.metrics
        if record.get("epoch") == completed
    }
    return FitResult(epochs=completed, metrics=last, best_value=best_value, best_epoch=best_epoch)


def log_metrics_once(run: Run, *, key: Sequence[str] = ("split", "step", "epoch"), **record: Any) -> bool:
    """``run.log_metrics(**record)`` unless the run already holds a record with the same ``key`` fields.

    For records that :func:`fit` does not drop on resume (those of work outside its epochs, or of loops with
    their own checkpoints): a run killed after logging them but before its next checkpoint does that work
    again on ``--resume``, with the same result, and must not log it twice. Returns whether it logged.
    """
    if any(all(old.get(name) == record.get(name) for name in key) for old in run.metrics):
        return False
    run.log_metrics(**record)
    return True


def _save(
    run: Run,
    name: str,
    saved: Mapping[str, Stateful],
    epoch: int,
    step: int,
    seed: int,
    best_value: float | None,
    best_epoch: int | None,
) -> None:
    tensors, extra = checkpoint_payload(
        saved, epoch=epoch, step=step, seed=seed, best_value=best_value, best_epoch=best_epoch
    )
    run.save_checkpoint(name, tensors, extra)


def _resume(
    run: Run, saved: Mapping[str, Stateful], seed: int, best: BestMetric | None
) -> tuple[int, int, float | None, int | None]:
    """Restore from the run's ``last`` checkpoint: (epochs done, steps done, best value, best epoch)."""
    if not (run.checkpoint_dir / f"{LAST_CHECKPOINT}.safetensors").exists():
        return 0, 0, None, None  # killed before the first epoch ended: start over
    checkpoint = run.load_checkpoint(LAST_CHECKPOINT)
    epoch, step, best_value, best_epoch = _resume_point(checkpoint, seed)
    restore_state(checkpoint, saved)
    if best is None:
        best_value, best_epoch = None, None
    return epoch, step, best_value, best_epoch


def _resume_point(checkpoint: Checkpoint, seed: int) -> tuple[int, int, float | None, int | None]:
    """The (epoch, step, best value, best epoch) a ``last`` checkpoint of :func:`fit` records, checked."""
    extra, source = checkpoint.extra, str(checkpoint.path)
    if extra.get("seed") != seed:
        raise CheckpointError(
            f"checkpoint {source!r} was trained with seed {extra.get('seed')!r}, not {seed}; "
            "resume with the same seed"
        )

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    epoch, step = extra.get("epoch"), extra.get("step")
    best_value, best_epoch = extra.get("best_value"), extra.get("best_epoch")
    if not (whole(epoch) and whole(step)):
        raise CheckpointError(f"checkpoint {source!r} records epoch {epoch!r} and step {step!r}; a training "
                              "checkpoint records both as whole numbers >= 0")  # fmt: skip
    number = isinstance(best_value, (int, float)) and not isinstance(best_value, bool)
    if not (best_value is None or (number and math.isfinite(best_value))) or not (
            best_epoch is None or whole(best_epoch)):  # fmt: skip
        raise CheckpointError(f"checkpoint {source!r} records best value {best_value!r} at epoch "
                              f"{best_epoch!r}; expected a finite number and a whole number, or "
                              "none")  # fmt: skip
    return epoch, step, best_value, best_epoch


def check_resume(
    run_dir: str | Path, model: str, objects: Mapping[str, Stateful], seed: int
) -> Checkpoint | None:
    """Refuse, before ``--resume`` reopens a run (and rewrites its status), a ``last`` checkpoint that
    :func:`fit` could not continue from: unreadable or corrupt, of another model or seed, without its epoch
    and step, or not fitting ``objects`` (their state is overwritten: pass freshly built ones). Returns that
    checkpoint; None for a run without one (it starts over)."""
    path = Path(run_dir) / CHECKPOINT_DIR / f"{LAST_CHECKPOINT}.safetensors"
    if not path.exists():
        return None
    checkpoint = load_checkpoint(path, model=model)
    _resume_point(checkpoint, seed)
    restore_state(checkpoint, objects)
    return checkpoint
