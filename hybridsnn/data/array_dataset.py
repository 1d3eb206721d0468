"""The in-memory dataset every loader returns: numpy samples, int64 labels, class names, per-sample extras."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hybridsnn.errors import DataError


@dataclass
class ArrayDataset:
    """One split of a dataset held in numpy arrays.

    ``x``: samples as stored, e.g. images uint8 ``(N, H, W)`` or ``(N, H, W, C)`` with values 0..255.
    ``y``: int64 labels ``(N,)`` indexing ``classes``. ``meta``: extra per-sample arrays of length N
    (e.g. ``speaker``, ``alphabet``, ``length``). ``info``: free-form facts about the whole split
    (e.g. ``sample_rate_hz``, ``alphabets``).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    name: str
    split: str
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.int64)
        self.classes = tuple(self.classes)
        n = len(self.x)
        if len(self.y) != n:
            raise DataError(f"dataset {self.name}/{self.split}: {n} samples but {len(self.y)} labels")
        for key, values in self.meta.items():
            if len(values) != n:
                raise DataError(
                    f"dataset {self.name}/{self.split}: {n} samples but {len(values)} '{key}' entries"
                )

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, selection: int | Sequence[int] | np.ndarray) -> ArrayDataset:
        """The first ``selection`` samples (an int) or the samples at the given indices / boolean mask."""
        if isinstance(selection, (int, np.integer)):
            if selection < 0:
                raise DataError(f"subset size must be >= 0, got {selection}")
            index: Any = slice(0, int(selection))
        else:
            index = np.asarray(selection)
            if index.dtype != bool and not np.issubdtype(index.dtype, np.integer):
                raise DataError(f"subset indices must be integers or a boolean mask, got dtype {index.dtype}")
        return replace(self, x=self.x[index], y=self.y[index],
                       meta={key: values[index] for key, values in self.meta.items()})

    def to_torch(self, transform: Callable[[np.ndarray], Any] | None = None) -> Any:
        """A ``torch.utils.data.Dataset`` yielding ``(sample, label)``.

        Without ``transform`` a sample is ``torch.from_numpy(x[i])`` (stored dtype and layout); pass e.g.
        ``torchvision.transforms.ToTensor()`` for float ``(C, H, W)`` images in [0, 1].
        """
        from hybridsnn.data.torch_dataset import TorchArrayDataset

        return TorchArrayDataset(self.x, self.y, transform)
