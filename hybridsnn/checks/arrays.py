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
