"""Classification metrics shared by the systems (numpy only: an experiment computes them without importing
matplotlib; :mod:`hybridsnn.plots` draws them)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from hybridsnn.errors import UserError


def accuracy(predictions: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of ``predictions`` equal to ``labels`` (0.0 for no samples)."""
    labels = np.asarray(labels)
    return float(np.mean(np.asarray(predictions) == labels)) if len(labels) else 0.0


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """Counts ``cm[t, p]`` of samples of true class ``t`` predicted as ``p`` (int64, square)."""
    true = np.asarray(y_true).ravel()
    pred = np.asarray(y_pred).ravel()
    if true.shape != pred.shape:
        raise UserError(f"got {true.size} true labels but {pred.size} predictions; they must pair up")
    if n_classes < 1:
        raise UserError(f"n_classes must be positive, got {n_classes}")
    for name, labels in (("true label", true), ("prediction", pred)):
        bad = labels[(labels < 0) | (labels >= n_classes) | (labels != np.round(labels))]
        if bad.size:
            raise UserError(f"{name} {bad[0].item()!r} is not a class in 0..{n_classes - 1}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (true.astype(np.int64), pred.astype(np.int64)), 1)
    return cm
