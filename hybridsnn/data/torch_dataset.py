"""A torch view of numpy samples and labels (imported only when ``ArrayDataset.to_torch`` is called)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class TorchArrayDataset(Dataset):
    """``(transform(x[i]) or torch.from_numpy(x[i]), int64 label)`` pairs over numpy arrays (no copy)."""

    def __init__(self, x: np.ndarray, y: np.ndarray,
                 transform: Callable[[np.ndarray], Any] | None = None) -> None:
        self.x = x
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[Any, torch.Tensor]:
        sample = self.x[index]
        if self.transform is not None:
            return self.transform(sample), self.y[index]
        return torch.from_numpy(np.array(sample)), self.y[index]
