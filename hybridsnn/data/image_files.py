"""Images to classify, read from files a user hands to ``hybridsnn predict``: .npy, IDX or PNG/JPEG."""

from __future__ import annotations

import os

import numpy as np

from hybridsnn.checks.arrays import check_labels, check_numeric_array
from hybridsnn.checks.paths import check_readable_file
from hybridsnn.data.idx import read_idx
from hybridsnn.errors import DataError


def read_image_file(path: str | os.PathLike[str], shape: tuple[int, int, int]) -> np.ndarray:
    """Images to classify from ``.npy``, IDX (``*-ubyte[.gz]``, ``.idx``) or an image file (PNG, JPEG…).

    Returns ``(N, H, W)`` or ``(N, H, W, C)`` as stored (uint8 0..255, or floats in [0, 1]) checked
    against ``shape`` = ``(C, H, W)``.
    """
    path = check_readable_file(path, f"input file {str(path)!r}")
    name = path.name.lower()
    channels, height, width = shape
    if name.endswith(".npy"):
        try:
            images = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"input {str(path)!r} is not a readable .npy array of numbers ({exc})") from None
    elif "ubyte" in name or name.endswith((".idx", ".idx.gz")):
        images = read_idx(path)
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                images = np.asarray(image.convert("L" if channels == 1 else "RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"cannot read image {str(path)!r}: {exc}") from None
    images = check_numeric_array(np.asarray(images), f"input {str(path)!r}")
    single = (height, width) if channels == 1 else (height, width, channels)
    if images.shape == single:
        images = images[None]
    if images.shape[1:] != single:
        raise DataError(
            f"input {str(path)!r} holds shape {images.shape}; expected {single} or (N, *{single})"
        )
    if images.dtype != np.uint8:
        images = images.astype(np.float32)
        if images.size and (images.min() < 0.0 or images.max() > 1.0):
            raise DataError(
                f"input {str(path)!r}: non-uint8 pixels must lie in [0, 1], "
                f"got {images.min():g}..{images.max():g}"
            )
    return images


def read_label_file(path: str | os.PathLike[str], *, count: int, classes: int | None = None) -> np.ndarray:
    """True labels from ``.npy``, IDX or a text file (whitespace- or comma-separated numbers): ``count``
    whole numbers in ``0 .. classes-1`` (see :func:`hybridsnn.checks.arrays.check_labels`), as int64."""
    path = check_readable_file(path, f"labels file {str(path)!r}")
    name = path.name.lower()
    if name.endswith(".npy"):
        try:
            labels = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"labels file {str(path)!r} is not a readable .npy array of numbers "
                            f"({exc})") from None  # fmt: skip
    elif "ubyte" in name or name.endswith((".idx", ".idx.gz")):
        labels = read_idx(path)
    else:
        try:
            text = path.read_text(encoding="utf-8").replace(",", " ")
            labels = np.array([float(word) for word in text.split()])
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            raise DataError(f"labels file {str(path)!r} is not a text file of numbers ({exc})") from None
    return check_labels(np.asarray(labels), f"labels file {str(path)!r}", count=count, classes=classes)
