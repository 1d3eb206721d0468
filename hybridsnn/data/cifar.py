"""CIFAR-10 (torchvision's ``<root>/cifar-10-batches-py/``) and SVHN (``<root>/SVHN/<split>_32x32.mat``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.errors import DataError

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
SVHN_FOLDER = "SVHN"
DIGIT_CLASSES = tuple(str(d) for d in range(10))


def cifar10_paths(root: Path, split: str) -> list[Path]:
    """The pickled batches of ``split`` plus ``batches.meta`` (class names)."""
    folder = root / CIFAR_FOLDER
    return [folder / name for name in [*CIFAR_BATCHES[split], "batches.meta"]]


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DataError(f"corrupt CIFAR-10 batch file {path}: {exc}") from exc


def load_cifar10(root: Path, split: str) -> ArrayDataset:
    """Images uint8 ``(N, 32, 32, 3)`` (height, width, RGB, as torchvision's ``.data``) and labels."""
    *batches, meta = cifar10_paths(root, split)
    images, labels = [], []
    for path in batches:
        batch = _unpickle(path)
        try:
            data, batch_labels = np.asarray(batch["data"], dtype=np.uint8), batch["labels"]
        except (KeyError, TypeError) as exc:
            raise DataError(f"CIFAR-10 batch file {path} lacks 'data'/'labels': {exc}") from exc
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(batch_labels):
            raise DataError(f"CIFAR-10 batch file {path} holds data {data.shape} with {len(batch_labels)} "
                            "labels; expected (N, 3072) with N labels")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch_labels))
    classes = tuple(_unpickle(meta).get("label_names", ()))
    return ArrayDataset(np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), classes,
                        "cifar10", split)


def fetch_cifar10(root: Path, split: str) -> None:
    """Download and extract CIFAR-10 (both splits) with torchvision into ``root``."""
    import torchvision.datasets

    torchvision.datasets.CIFAR10(str(root), train=split == "train", download=True)


def svhn_paths(root: Path, split: str) -> list[Path]:
    """The MATLAB file of ``split`` (train, test or extra)."""
    return [root / SVHN_FOLDER / f"{split}_32x32.mat"]


def load_svhn(root: Path, split: str) -> ArrayDataset:
    """Images uint8 ``(N, 32, 32, 3)`` and digit labels 0..9 (the file's label 10 means digit 0)."""
    from scipy.io import loadmat

    (path,) = svhn_paths(root, split)
    try:
        mat = loadmat(path)
        images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"corrupt SVHN file {path}: {exc}") from exc
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
        raise DataError(f"SVHN file {path} holds X {images.shape} and {len(labels)} labels; "
                        "expected X (32, 32, 3, N) and N labels")
    labels[labels == 10] = 0
    images = np.ascontiguousarray(images.transpose(3, 0, 1, 2))
    return ArrayDataset(images, labels, DIGIT_CLASSES, "svhn", split)


def fetch_svhn(root: Path, split: str) -> None:
    """Download ``<split>_32x32.mat`` with torchvision into ``<root>/SVHN``."""
    import torchvision.datasets

    torchvision.datasets.SVHN(str(root / SVHN_FOLDER), split=split, download=True)
