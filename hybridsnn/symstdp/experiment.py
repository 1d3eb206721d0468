"""The sym-STDP training/evaluation procedure (spec §5.2), with the original's periodic test-set evaluation.

Training presents samples sequentially (the original's fixed order, no shuffling) to one plastic network.
Every ``eval_every`` samples the current weights are copied into a frozen batched inference network that
classifies the test subset: SL accuracy from the output layer, USL accuracy from Diehl&Cook label
assignments computed on the hidden responses recorded during training (the "train monitor").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hybridsnn.plots import confusion_matrix
from hybridsnn.symstdp.config import SymStdpConfig
from hybridsnn.symstdp.network import InferenceNetwork
from hybridsnn.symstdp.readout import accuracy, assign_labels, sl_predict, usl_predict


@dataclass
class TrainState:
    """Everything a training run carries from sample to sample (saved in checkpoints for resume)."""

    p2e: np.ndarray
    e2c: np.ndarray
    theta: np.ndarray
    monitor: np.ndarray  # (n_train, n_hidden) hidden spike counts of the last accepted presentation
    seen: np.ndarray  # (n_train,) bool: the monitor row holds a response
    assignments: np.ndarray  # (n_hidden,) class of each hidden neuron, -1 = none yet
    samples_seen: int = 0
    attempts: int = 0
    engine_state: dict[str, np.ndarray] = field(default_factory=dict)
    """The training network's simulation state (numba engine: ``get_state``), for exact resume."""

    def tensors(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (engine state under ``engine.<name>``)."""
        return {
            "p2e": self.p2e,
            "e2c": self.e2c,
            "theta": self.theta,
            "assignments": self.assignments,
            "monitor": self.monitor.astype(np.uint16),
            "seen": self.seen.astype(np.uint8),
            **{f"engine.{k}": v for k, v in self.engine_state.items()},
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], samples_seen: int, attempts: int) -> TrainState:
        """Rebuild the state saved by :meth:`tensors`."""
        return cls(
            tensors["p2e"],
            tensors["e2c"],
            tensors["theta"],
            tensors["monitor"].astype(np.int64),
            tensors["seen"].astype(bool),
            tensors["assignments"].astype(np.int64),
            samples_seen,
            attempts,
            {k[len("engine.") :]: v for k, v in tensors.items() if k.startswith("engine.")},
        )


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
) -> Evaluation:
    """Classify ``images`` with frozen weights; SL and USL accuracy and confusion matrices."""
    n_classes = network.config.n_classes
    start = time.perf_counter()
    network.load_weights(p2e, e2c, theta)
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
