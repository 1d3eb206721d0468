"""The train monitor: the hidden-layer spike counts of every training sample's last accepted presentation,
from which the USL label assignment is computed (docs/sym_stdp.md, «Model and equations», «Readouts»).

In memory it is a dense (n_train, N) array of ``uint16`` counts: one presentation lasts 350 ms at 0.5 ms
steps, so no neuron can fire more than 700 times, and N = 6400 over 60 000 samples takes 768 MB instead of
the 3 GB of int64. In a checkpoint it is stored sparse (compressed rows: the hidden layer answers each image
with a few dozen spiking neurons), so the ``last`` checkpoint of an N = 6400 run holds megabytes, not a
gigabyte. The round trip is exact.
"""

from __future__ import annotations

import numpy as np

from hybridsnn.errors import CheckpointError

COUNT_DTYPE = np.uint16
"""Spike counts of one presentation (at most 700 per neuron)."""

#: The checkpoint tensors of a packed monitor: row starts (n_train + 1,), neuron of each nonzero count,
#: the count itself, and the flags of the rows that hold a response.
TENSOR_NAMES = ("monitor.row_start", "monitor.neuron", "monitor.count", "seen")


def empty_monitor(n_train: int, n_hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """No responses yet: (n_train, n_hidden) zero counts and (n_train,) False 'seen' flags."""
    return np.zeros((n_train, n_hidden), COUNT_DTYPE), np.zeros(n_train, bool)


def pack(monitor: np.ndarray, seen: np.ndarray) -> dict[str, np.ndarray]:
    """The checkpoint tensors of ``monitor`` (compressed rows of its nonzero counts) and ``seen``."""
    rows, neurons = np.nonzero(monitor)
    row_start = np.zeros(monitor.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=monitor.shape[0]), out=row_start[1:])
    return {
        "monitor.row_start": row_start,
        "monitor.neuron": neurons.astype(np.int32),
        "monitor.count": monitor[rows, neurons].astype(COUNT_DTYPE),
        "seen": seen.astype(np.uint8),
    }


def unpack(
    tensors: dict[str, np.ndarray], n_train: int, n_hidden: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """The dense monitor and 'seen' flags of the tensors written by :func:`pack`, checked to be the
    monitor of ``n_train`` samples and ``n_hidden`` neurons (a damaged one raises CheckpointError)."""
    for name in TENSOR_NAMES:
        if name not in tensors:
            raise CheckpointError(f"checkpoint {source!r} lacks tensor {name!r} (the train monitor)")
        if tensors[name].dtype.kind not in "biu" or tensors[name].ndim != 1:
            found = f"{tensors[name].dtype} values of shape {tensors[name].shape}"
            raise CheckpointError(f"checkpoint {source!r}: {name} holds {found}; expected a row of counts")
    row_start, neuron, count, seen = (tensors[name].astype(np.int64) for name in TENSOR_NAMES)
    if len(seen) != n_train:
        raise CheckpointError(f"checkpoint {source!r}: tensor 'seen' has shape {seen.shape}, the model "
                              f"expects ({n_train},)")  # fmt: skip
    nonzero = len(neuron)
    rows_fit = len(row_start) == n_train + 1 and row_start[0] == 0 and row_start[-1] == nonzero
    if not rows_fit or (np.diff(row_start) < 0).any() or len(count) != nonzero:
        raise CheckpointError(f"checkpoint {source!r}: the train monitor's rows do not fit {n_train} samples "
                              f"with {nonzero} counts")  # fmt: skip
    if nonzero and (neuron.min() < 0 or neuron.max() >= n_hidden or count.min() < 0
                    or count.max() > np.iinfo(COUNT_DTYPE).max):  # fmt: skip
        raise CheckpointError(f"checkpoint {source!r}: the train monitor names neurons outside "
                              f"0..{n_hidden - 1} or counts outside 0..65535")  # fmt: skip
    monitor = np.zeros((n_train, n_hidden), COUNT_DTYPE)
    monitor[np.repeat(np.arange(n_train), np.diff(row_start)), neuron] = count
    return monitor, seen.astype(bool)

