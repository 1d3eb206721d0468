"""Per-image intensity normalisation used by sym-STDP for Fashion-MNIST (docs/sym_stdp.md,
«Decisions against the original»)."""

from __future__ import annotations

import numpy as np

from hybridsnn.errors import UserError

_CHUNK = 8192  # images per block, bounds the float64 temporary to ~50 MB for 28x28 images


def normalize_image_means(images: np.ndarray, target_mean: float = 30.0) -> np.ndarray:
    """Scale every image so its mean grey level becomes ``target_mean`` (grey levels 0..255).

    Exactly the original MATLAB preprocessing: ``gain = target_mean / mean(image)`` in float64, multiply,
    round half up and saturate to uint8, i.e. ``clip(floor(img * gain + 0.5), 0, 255)``. An all-black
    image (mean 0) stays black (MATLAB writes its NaNs as 0). Returns a new uint8 array of the same shape.
    """
    if not np.isfinite(target_mean) or target_mean < 0:
        raise UserError(f"normalize_mean must be a finite grey level >= 0, got {target_mean}")
    images = np.asarray(images)
    out = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        block = images[start:start + _CHUNK].astype(np.float64)
        means = block.reshape(len(block), -1).mean(axis=1)
        gain = np.divide(target_mean, means, out=np.zeros_like(means), where=means > 0)
        scaled = np.floor(block * gain.reshape((-1,) + (1,) * (block.ndim - 1)) + 0.5)
        out[start:start + _CHUNK] = np.clip(scaled, 0, 255)
    return out
