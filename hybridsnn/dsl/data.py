"""DSL's datasets and transforms (docs/dsl.md, «Model and equations»), loaded through
:func:`hybridsnn.data.load_dataset`.

MNIST and Fashion-MNIST: ``ToTensor`` only (pixels in [0, 1]). CIFAR-10: ``RandomCrop(32, padding=4)`` and
``RandomHorizontalFlip`` for training, then ``Normalize`` with the seed's statistics. SVHN (``train`` split
only, as in the seed): ``Normalize``. With latency coding the images stay in [0, 1] (no ``Normalize``): the
seed normalised SVHN before latency coding, which puts spike times outside the window
(docs/dsl.md, «Decisions against the original»). A user's own dataset (``--dataset PATH``,
docs/own_data.md): ``ToTensor`` only, no augmentation (the catalogued datasets' statistics do not apply).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybridsnn.data import ArrayDataset, load_dataset
from hybridsnn.data.user_dataset import is_dataset_path, load_user_dataset
from hybridsnn.errors import UserError, unknown_choice

ENCODINGS = ("real", "latency")
#: Classes of every DSL dataset (MNIST, Fashion-MNIST, CIFAR-10, SVHN).
CLASSES = 10


@dataclass(frozen=True)
class DatasetInfo:
    """A seed dataset: registry name, image shape ``(C, H, W)``, normalisation, train augmentation."""

    registry_name: str
    shape: tuple[int, int, int]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    augment: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "MNIST": DatasetInfo("mnist", (1, 28, 28)),
    "FashionMNIST": DatasetInfo("fashion-mnist", (1, 28, 28)),
    "CIFAR10": DatasetInfo("cifar10", (3, 32, 32), (0.424, 0.415, 0.384), (0.283, 0.278, 0.284), True),
    "SVHN": DatasetInfo("svhn", (3, 32, 32), (0.431, 0.430, 0.446), (0.197, 0.198, 0.199)),
}
ALIASES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10", "svhn": "SVHN"}


def is_user_dataset(name: object) -> bool:
    """Whether a ``--dataset`` value is the path of a user's own dataset (not a DSL dataset name)."""
    return isinstance(name, str) and is_dataset_path(name, (*DATASETS, *ALIASES))


def canonical_dataset(name: str) -> str:
    """The seed's name of a dataset given by its seed name or its hybridsnn registry name."""
    if name in DATASETS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise unknown_choice("DSL dataset", name, (*DATASETS, *ALIASES))


def image_transform(dataset: str, *, train: bool, encoding: str = "real") -> Any:
    """The torchvision transform of one numpy sample ``(H, W[, C])`` to a ``(C, H, W)`` tensor."""
    from torchvision import transforms

    if encoding not in ENCODINGS:
        raise unknown_choice("encoding", encoding, ENCODINGS)
    steps: list[Any] = [transforms.Lambda(np.array), transforms.ToTensor()]  # a writable copy of the sample
    if is_user_dataset(dataset):
        return transforms.Compose(steps)
    info = DATASETS[canonical_dataset(dataset)]
    if train and info.augment:
        steps += [transforms.RandomCrop(info.shape[1], padding=4), transforms.RandomHorizontalFlip()]
    if info.mean is not None and encoding == "real":
        steps.append(transforms.Normalize(info.mean, info.std))
    return transforms.Compose(steps)


def load_split(dataset: str, split: str, root: str | os.PathLike[str] | None,
               subset: int | None = None) -> ArrayDataset:
    """The seed's split (SVHN: ``train``, not ``extra``), optionally its first ``subset`` >= 1 samples; a
    user dataset's split when ``dataset`` is its path."""
    if is_user_dataset(dataset):
        return load_user_dataset(dataset, split, limit=subset)
    return load_dataset(DATASETS[canonical_dataset(dataset)].registry_name, split, root, limit=subset)


def make_loader(data: ArrayDataset, dataset: str, *, train: bool, batch_size: int, encoding: str,
                pin_memory: bool = False) -> Any:
    """A DataLoader of ``(image [B, C, H, W], label [B])``; shuffled for training (torch's global RNG)."""
    from torch.utils.data import DataLoader

    if batch_size < 1:
        raise UserError(f"batch size must be >= 1, got {batch_size}")
    transform = image_transform(dataset, train=train, encoding=encoding)
    return DataLoader(data.to_torch(transform), batch_size=batch_size, shuffle=train, num_workers=0,
                      pin_memory=pin_memory)
