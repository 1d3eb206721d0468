"""Arrays from users' files and from checkpoints: numeric, non-empty where data is expected, and finite."""

from __future__ import annotations

import numpy as np

from hybridsnn.errors import UserError

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def non_finite_count(array: np.ndarray) -> int:
    """How many entries of ``array`` are NaN or ±inf (0 for integer and bool arrays)."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def check_numeric_array(array: np.ndarray, where: str, *, allow_empty: bool = False) -> np.ndarray:
    """``array`` if it holds numbers (bool/int/float), is non-empty (unless allowed) and is finite.

    ``where`` names the source in the message, e.g. ``"input 'digits.npy'"`` or
    ``"checkpoint 'run/final.safetensors': tensor 'p2e'"``.
    """
    array = np.asarray(array)
    if array.dtype.kind not in NUMERIC_KINDS:
        raise UserError(f"{where} holds values of dtype {array.dtype}; expected numbers (integer or float)")
    if array.size == 0 and not allow_empty:
        raise UserError(f"{where} is empty (shape {array.shape})")
    bad = non_finite_count(array)
    if bad:
        raise UserError(f"{where} holds {bad} NaN or infinite value{'s' if bad > 1 else ''}; expected finite "
                        "numbers")  # fmt: skip
    return array


def check_labels(labels: np.ndarray, where: str, *, count: int | None = None,
                 classes: int | None = None) -> np.ndarray:  # fmt: skip
    """``labels`` as int64 class indices: a 1-D array of finite whole numbers (integers, or floats such as
    ``3.0`` from a text file) in ``0 .. classes-1``, ``count`` of them if given."""
    labels = check_numeric_array(labels, where)
    if labels.ndim != 1:
        raise UserError(f"{where} holds shape {labels.shape}; expected one label per sample, shape (N,)")
    if labels.dtype.kind == "b":
        raise UserError(f"{where} holds booleans; expected class numbers (whole numbers)")
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise UserError(f"{where} holds fractional values; expected class numbers (whole numbers)")
    if count is not None and len(labels) != count:
        raise UserError(f"{where} holds {len(labels)} labels for {count} samples; expected one per sample")
    low, high = int(labels.min()), int(labels.max())  # whole numbers by now
    if low < 0 or (classes is not None and high >= classes):
        allowed = f"0..{classes - 1}" if classes is not None else ">= 0"
        raise UserError(f"{where} holds labels {low}..{high}; expected class numbers {allowed}")
    return labels.astype(np.int64)
