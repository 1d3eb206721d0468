"""Inputs of the single-spike Shifting Learning tasks: XOR, Iris and MNIST / Fashion-MNIST as z0 = exp(t0).

A feature x becomes the spike time t = 1 − x (larger values spike earlier), carried as z0 = exp(1 − x).
XOR and Iris come from the project's dataset layer (Iris is scikit-learn's bundled copy of the UCI file, with
the same 150 rows in the same class order), the images from ``hybridsnn.data.load_dataset``: MNIST /
Fashion-MNIST, or a user's own dataset (``--dataset PATH``, docs/own_data.md) of any image size and class
count, which then sizes the network's input (H·W·C) and output (K) layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from hybridsnn.data import is_dataset_path, load_dataset
from hybridsnn.errors import unknown_choice

XOR_LOW, XOR_HIGH = 0.01, 0.99
IRIS_FOLD_SIZE = 30
IRIS_OFFSET = 0.01
ENCODINGS = ("binary", "grey")
BINARY_BRIGHT, BINARY_DARK = 0.01, 2.3  # x of a pixel > 0.5 (t = 0.99) and of any other pixel (t = −1.3)
IMAGE_DATASETS = ("mnist", "fashion-mnist")


@dataclass
class Split:
    """Encoded inputs z0 (N, I) and int64 labels (N,)."""

    z0: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> Split:
        """The same split on ``device``."""
        return Split(self.z0.to(device), self.labels.to(device))

    def batches(self, batch_size: int) -> list[tuple[Tensor, Tensor]]:
        """Consecutive batches in stored order (the last one may be smaller), as in the original loaders."""
        return [
            (self.z0[start : start + batch_size], self.labels[start : start + batch_size])
            for start in range(0, len(self), batch_size)
        ]


def encode_features(x: np.ndarray | Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """z0 = exp(1 − x): feature x (unitless) -> exponential input time (t = 1 − x)."""
    return torch.exp(1.0 - torch.as_tensor(np.asarray(x), dtype=torch.float64)).to(dtype)


def xor_task() -> Split:
    """The 4 XOR patterns with inputs {0.01, 0.99} and labels [0, 1, 1, 0]."""
    data = load_dataset("xor", "all", low=XOR_LOW, high=XOR_HIGH)
    return Split(encode_features(data.x), torch.as_tensor(data.y))


def scale_iris(x: np.ndarray, root: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Measurements (cm) scaled by the global min/max of the whole Iris matrix (not per feature), + 0.01."""
    data = load_dataset("iris", "all", root=root).x
    return (np.asarray(x, dtype=np.float64) - data.min()) / (data.max() - data.min()) + IRIS_OFFSET


def iris_features(root: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 150 Iris rows, scaled (:func:`scale_iris`), and labels (0 setosa, 1 versicolour, 2 virginica)."""
    data = load_dataset("iris", "all", root=root)
    return scale_iris(data.x, root), data.y


def iris_folds(seed: int, root: str | os.PathLike[str] | None = None) -> list[tuple[Split, Split]]:
    """Five (train, test) folds over one seeded permutation: fold f tests rows 30f..30f+29 and trains on the
    other 120 rows in permutation order (fold 0 is the original single split: test rows 0–29)."""
    x, y = iris_features(root)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).numpy()
    z0, labels = encode_features(x[order]), torch.as_tensor(y[order])
    folds = []
    for fold in range(len(y) // IRIS_FOLD_SIZE):
        test = np.zeros(len(y), dtype=bool)
        test[fold * IRIS_FOLD_SIZE : (fold + 1) * IRIS_FOLD_SIZE] = True
        folds.append((Split(z0[~test], labels[~test]), Split(z0[test], labels[test])))
    return folds


def encode_images(pixels: np.ndarray, encoding: str = "binary") -> Tensor:
    """Images (N, H, W) or (N, H, W, C), uint8 0..255 or floats in [0, 1] -> z0 (N, H·W·C) float32 (784 for
    MNIST).

    ``binary`` (default, the original test path): pixel > 0.5 -> x = 0.01, otherwise x = 2.3, so dark pixels
    spike first (t = −1.3) and bright ones at t = 0.99. ``grey``: x = pixel in [0, 1] (t = 1 − pixel).
    """
    if encoding not in ENCODINGS:
        raise unknown_choice("encoding", encoding, ENCODINGS)
    values = np.asarray(pixels)
    scaled = values.astype(np.float32) / 255.0 if values.dtype == np.uint8 else values.astype(np.float32)
    flat = scaled.reshape(len(scaled), -1)
    x = np.where(flat > 0.5, BINARY_BRIGHT, BINARY_DARK) if encoding == "binary" else flat
    return encode_features(x)


@dataclass(frozen=True)
class ImageData:
    """An image task's split, encoded, with the shape of one image ((H, W) or (H, W, C)) and the classes."""

    split: Split
    image_shape: tuple[int, ...]
    classes: tuple[str, ...]


def image_data(
    source: str,
    split: str,
    *,
    encoding: str = "binary",
    limit: int | None = None,
    root: str | os.PathLike[str] | None = None,
) -> ImageData:
    """The first ``limit`` images (all with None) of ``source``/``split`` in file order, encoded;
    ``source``: mnist, fashion-mnist or the path of a user dataset."""
    if not is_user_dataset(source) and source not in IMAGE_DATASETS:
        raise unknown_choice("image dataset", source, IMAGE_DATASETS)
    data = load_dataset(source, split, root=root, limit=limit)
    encoded = Split(encode_images(data.x, encoding), torch.as_tensor(data.y))
    return ImageData(encoded, tuple(data.x.shape[1:]), data.classes)


def image_split(
    dataset: str,
    split: str,
    *,
    encoding: str = "binary",
    limit: int | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Split:
    """The encoded split of :func:`image_data`."""
    return image_data(dataset, split, encoding=encoding, limit=limit, root=root).split


def is_user_dataset(source: str | None) -> bool:
    """Whether ``source`` (``--dataset``) is the path of a user's own dataset."""
    return source is not None and is_dataset_path(source, IMAGE_DATASETS)


def shuffled(split: Split, seed: int) -> Split:
    """One seeded shuffle (the original read its shuffled training set once; the order is then fixed)."""
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    return Split(split.z0[order], split.labels[order])
