"""Small built-in datasets that need no files: Iris (scikit-learn's bundled copy) and the 4 XOR patterns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.errors import DataError

XOR_OPTIONS = {"low": "input value standing for 0 (default 0.0; Shifting Learning uses 0.01)",
               "high": "input value standing for 1 (default 1.0; Shifting Learning uses 0.99)"}


def no_files(root: Path, split: str) -> list[Path]:
    """Built-in datasets need no files under the data root."""
    return []


def load_iris(root: Path, split: str) -> ArrayDataset:
    """The 150 UCI Iris rows in their original class order: 4 features in cm (float64), 3 classes."""
    try:
        from sklearn.datasets import load_iris as sklearn_load_iris
    except ImportError as exc:
        raise DataError("dataset iris needs scikit-learn: pip install 'scikit-learn>=1.3'") from exc
    bunch = sklearn_load_iris()
    return ArrayDataset(np.asarray(bunch.data, dtype=np.float64), bunch.target, tuple(bunch.target_names),
                        "iris", split)


def load_xor(root: Path, split: str, low: float = 0.0, high: float = 1.0) -> ArrayDataset:
    """The XOR truth table: inputs ``[[low, low], [low, high], [high, low], [high, high]]``, labels 0110."""
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    x = np.where(bits == 1, float(high), float(low))
    return ArrayDataset(x, bits[:, 0] ^ bits[:, 1], ("0", "1"), "xor", split, info={"low": low, "high": high})
