"""Checks a loaded split against what the dataset must look like: count, sample shape, dtype, label range."""

from __future__ import annotations

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.errors import DataError


def validate_split(ds: ArrayDataset, *, count: int | None = None, sample_shape: tuple[int, ...] | None = None,
                   dtype: str | None = None) -> ArrayDataset:
    """Return ``ds`` unchanged if it is well-formed, else raise DataError naming the dataset and the defect.

    ``count``: exact number of samples; ``sample_shape``: shape of one sample (``x.shape[1:]``);
    ``dtype``: numpy dtype name of ``x``. Labels must always lie in ``0 .. len(classes) - 1``.
    """
    where = f"dataset {ds.name}/{ds.split}"
    if count is not None and len(ds) != count:
        raise DataError(f"{where} has {len(ds)} samples; expected {count}")
    if sample_shape is not None and tuple(ds.x.shape[1:]) != tuple(sample_shape):
        raise DataError(f"{where} sample shape is {tuple(ds.x.shape[1:])}; expected {tuple(sample_shape)}")
    if dtype is not None and ds.x.dtype != np.dtype(dtype):
        raise DataError(f"{where} has samples of dtype {ds.x.dtype}; expected {dtype}")
    if len(ds) and (ds.y.min() < 0 or ds.y.max() >= len(ds.classes)):
        raise DataError(f"{where} has labels {ds.y.min()}..{ds.y.max()}; expected 0..{len(ds.classes) - 1}")
    return ds
