"""Image tensors and mini-batches for the HP-SNN experiments (MNIST, Fashion-MNIST, CIFAR-10).

Pixels are ToTensor values in [0, 1] (``[N, C, H, W]`` float32). CIFAR-10 is normalised with the seed's
statistics and, for training, randomly cropped (padding 4) and flipped per batch (docs/hp.md, «Tasks»). A
user's own dataset (``--dataset PATH``) takes ToTensor values only, as MNIST.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hybridsnn.data import load_dataset
from hybridsnn.data.user_dataset import is_dataset_path
from hybridsnn.errors import UserError, unknown_choice

DATASETS = ("mnist", "fashion-mnist", "cifar10")
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def image_tensors(
    dataset: str, split: str, root: str | os.PathLike[str] | None, subset: int | None = None
) -> tuple[Tensor, Tensor]:
    """``(images [N, C, H, W] float32, labels [N] int64)`` of a split, optionally its first ``subset`` >= 1
    samples (all of them when the split is smaller)."""
    if dataset not in DATASETS and not is_dataset_path(dataset, DATASETS):
        raise unknown_choice("HP dataset", dataset, DATASETS)
    data = load_dataset(dataset, split, root, limit=subset)  # a path: the user dataset (docs/own_data.md)
    return pixel_tensors(data.x, dataset), torch.from_numpy(data.y)


def pixel_tensors(pixels: np.ndarray, dataset: str) -> Tensor:
    """Images ``[N, H, W]`` / ``[N, H, W, C]`` (uint8 0..255, or floats in [0, 1]) as the network's input
    ``[N, C, H, W]`` float32: ToTensor values, CIFAR-10 normalised with the seed's statistics."""
    scale = 255.0 if pixels.dtype == np.uint8 else 1.0
    images = torch.from_numpy(np.asarray(pixels, dtype=np.float32) / scale)
    images = images.permute(0, 3, 1, 2) if images.dim() == 4 else images.unsqueeze(1)
    if dataset == "cifar10":
        mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
        images = (images - mean) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return images.contiguous()


def crop_flip(images: Tensor) -> Tensor:
    """Random crop with zero padding 4 and random horizontal flip, per image (torch's global RNG)."""
    size = images.shape[-1]
    padded = F.pad(images, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (len(images), 2))
    flips = torch.rand(len(images)) < 0.5
    out = torch.stack([padded[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(offsets.tolist())])
    out[flips] = out[flips].flip(-1)
    return out


@dataclass
class TensorBatches:
    """Mini-batches of in-memory tensors; shuffled with torch's global RNG (re-seeded per epoch by ``fit``).

    ``drop_last`` keeps every batch full (CIFAR in the seed); ``augment`` transforms each image batch.
    """

    images: Tensor
    labels: Tensor
    batch_size: int
    shuffle: bool = False
    drop_last: bool = False
    augment: Callable[[Tensor], Tensor] | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UserError(f"batch size must be >= 1, got {self.batch_size}")
        if len(self.images) != len(self.labels):
            raise UserError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        full, rest = divmod(len(self.labels), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            images = self.images[index]
            yield (self.augment(images) if self.augment else images), self.labels[index]
