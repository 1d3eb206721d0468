"""Classifying a labelled set with frozen sym-STDP weights: SL and USL accuracy, the labelling pass for
checkpoints without assignments, and logging the result (docs/sym_stdp.md, «Model and equations», «Readouts»
and «Frozen inference»).

Accuracies are fractions in [0, 1]; confusion matrices count samples ``[true, predicted]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from hybridsnn.errors import UserError
from hybridsnn.metrics import accuracy, confusion_matrix
from hybridsnn.results import Run
from hybridsnn.sym_stdp.config import SymStdpConfig
from hybridsnn.sym_stdp.network import InferenceNetwork
from hybridsnn.sym_stdp.readout import assign_labels, sl_predict, usl_predict

if TYPE_CHECKING:  # torch is imported only where an evaluation is split over processes
    from hybridsnn.spiking.distributed import DistributedContext


@dataclass
class Evaluation:
    """Result of classifying a labelled set with frozen weights."""

    sl_accuracy: float
    usl_accuracy: float
    sl_confusion: np.ndarray
    usl_confusion: np.ndarray
    mean_attempts: float
    mean_hidden_spikes: float
    samples: int
    seconds: float
    sl_predictions: np.ndarray = field(repr=False)
    usl_predictions: np.ndarray = field(repr=False)

    def metrics(self) -> dict[str, object]:
        """Metrics for ``metrics.jsonl`` / ``results.json`` (accuracies as fractions)."""
        return {
            "sl_accuracy": self.sl_accuracy, "usl_accuracy": self.usl_accuracy,
            "mean_attempts": self.mean_attempts, "mean_hidden_spikes": self.mean_hidden_spikes,
            "eval_samples": self.samples, "eval_samples_per_s": self.samples / max(self.seconds, 1e-9),
            "sl_confusion": self.sl_confusion.tolist(), "usl_confusion": self.usl_confusion.tolist(),
        }  # fmt: skip


def evaluate(
    network: InferenceNetwork,
    p2e: np.ndarray,
    e2c: np.ndarray,
    theta: np.ndarray,
    assignments: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    progress: Callable[[int], None] | None = None,
    context: DistributedContext | None = None,
) -> Evaluation:
    """Classify ``images`` with frozen weights; SL and USL accuracy and confusion matrices. With a torchrun
    ``context`` (and a network of independent images) every process classifies its slice and all of them
    get the result of the whole set."""
    n_classes = network.config.n_classes
    start = time.perf_counter()
    network.load_weights(p2e, e2c, theta)
    if context is not None and context.enabled:
        hidden, output, attempts = classify_on_ranks(network, images, context, progress)
    else:
        hidden, output, attempts = network.classify(images, progress)
    sl = sl_predict(output)
    usl = usl_predict(hidden, assignments, n_classes)
    return Evaluation(
        sl_accuracy=accuracy(sl, labels), usl_accuracy=accuracy(usl, labels),
        sl_confusion=confusion_matrix(labels, sl, n_classes),
        usl_confusion=confusion_matrix(labels, usl, n_classes),
        mean_attempts=float(attempts.mean()), mean_hidden_spikes=float(hidden.sum(axis=1).mean()),
        samples=len(labels), seconds=time.perf_counter() - start, sl_predictions=sl, usl_predictions=usl,
    )  # fmt: skip


def classify_on_ranks(
    network: InferenceNetwork,
    images: np.ndarray,
    context: DistributedContext,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`InferenceNetwork.classify` of ``images`` split over the torchrun ranks (contiguous slices, each
    classified as those rows of the whole set) with the counts gathered in rank order. The network must
    classify independent images: only then is the result the one a single process gets."""
    import torch

    if not network.independent_images:
        raise UserError("splitting a sym-STDP evaluation over processes needs --independent-images")
    mine = context.slice_range(len(images))
    counts = network.classify(images[mine.start : mine.stop], progress, first_index=mine.start)
    sizes = context.slice_sizes(len(images))
    hidden, output, attempts = (
        context.gather_slices(torch.from_numpy(np.ascontiguousarray(part.reshape(len(part), -1))), sizes)
        .numpy() for part in counts
    )  # fmt: skip
    return hidden, output, attempts.reshape(-1)


def label_hidden_neurons(
    network: InferenceNetwork,
    p2e: np.ndarray,
    e2c: np.ndarray,
    theta: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    config: SymStdpConfig,
) -> np.ndarray:
    """Diehl&Cook labelling pass with frozen weights (for checkpoints that carry no assignments)."""
    network.load_weights(p2e, e2c, theta)
    hidden, _, _ = network.classify(images)
    return assign_labels(hidden, labels, config.n_classes)


def log_evaluation(run: Run, result: Evaluation, step: int, epoch: float | None, split: str = "test") -> None:
    """One ``metrics.jsonl`` record of ``result`` after ``step`` training samples (``epoch`` of them)."""
    run.log_metrics(step=step, epoch=epoch, split=split, **result.metrics())


def progress_bar(total: int, desc: str, show: bool) -> tqdm:
    """A bar counting classified images (``show`` False: ``--no-progress``); it disappears when done."""
    return tqdm(total=total, desc=desc, unit="img", disable=not show, leave=False)
