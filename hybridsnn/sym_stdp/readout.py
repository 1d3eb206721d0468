"""sym-STDP readouts: SL = output neuron with most spikes; USL = Diehl & Cook label assignment
(docs/sym_stdp.md, «Model and equations», «Readouts»).

Decisions against the original ``evaluation.cc`` (docs/sym_stdp.md, «Decisions against the original»):

* SL prediction is the first maximum of the output spike counts (all zero -> class 0), as the original.
* USL class rates are divided by the number of *monitored* samples of each class (the original divides by
  the class count over the whole 60 000-image set; identical after a full epoch).
* A neuron whose best rate is 0 keeps its previous assignment (initially -1), as the original.
* A class without assigned neurons is never predicted (the original's NaN biased predictions to class 0);
  if no neuron is assigned at all the prediction is class 0, which reproduces the original's first
  evaluation (the share of zeros in the test set).
"""

from __future__ import annotations

import numpy as np


def sl_predict(output_counts: np.ndarray) -> np.ndarray:
    """Predicted class per sample from output-layer spike counts of shape (samples, classes)."""
    return np.argmax(np.asarray(output_counts), axis=1)


def assign_labels(
    hidden_counts: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    previous: np.ndarray | None = None,
) -> np.ndarray:
    """Assign each hidden neuron the class with the highest mean response (spikes per sample).

    ``hidden_counts`` has shape (samples, neurons); a sample labelled outside 0..n_classes-1 (e.g. -1) counts
    in no class. Returns int64 assignments in [-1, n_classes).
    """
    counts = np.asarray(hidden_counts)
    labels = np.asarray(labels)
    n_neurons = counts.shape[1]
    rates = np.zeros((n_classes, n_neurons))
    for c in range(n_classes):
        members = labels == c
        if members.any():  # whole counts: the float64 sum is exact in any order
            rates[c] = counts[members].sum(axis=0, dtype=np.float64) / members.sum()
    assignments = np.full(n_neurons, -1, np.int64) if previous is None else np.array(previous, np.int64)
    responsive = rates.max(axis=0) > 0
    assignments[responsive] = np.argmax(rates[:, responsive], axis=0)
    return assignments


def usl_predict(hidden_counts: np.ndarray, assignments: np.ndarray, n_classes: int) -> np.ndarray:
    """Predicted class per sample: the class whose assigned neurons fired most on average."""
    counts = np.asarray(hidden_counts, dtype=np.float64)
    scores = np.full((counts.shape[0], n_classes), -np.inf)
    for c in range(n_classes):
        members = assignments == c
        if members.any():
            scores[:, c] = counts[:, members].mean(axis=1)
    predictions = np.argmax(scores, axis=1)
    predictions[~np.isfinite(scores).any(axis=1)] = 0
    return predictions
