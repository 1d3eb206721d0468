"""Test-time corruptions of the robustness and tolerance experiments (docs/hp.md, «Tasks»).

Images are float tensors ``[B, C, H, W]`` with pixels in [0, 1].

* Noise at level i with ``v = 0.01·i``, as skimage's ``random_noise(..., clip=True)`` with the seed's
  parameters, but drawn from a seeded generator (the seed's calls were unseeded: docs/hp.md, «Decisions
  against the original»): ``gaussian`` ``clip(x + N(0, var=v))``; ``salt`` a fraction v of pixels set to
  1; ``pepper`` a fraction 6v set to 0; ``sp`` a fraction 2v, half salt, half pepper; ``speckle``
  ``clip(x + x·N(0, var=10000·v))``.
* Occlusion at level i: the central ``2i × 2i`` square ``[14−i : 14+i]`` (for 28×28 images) set to 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hybridsnn.errors import UserError, unknown_choice

NOISE_VARIANCE_STEP = 0.01
NOISE_MODES = ("gaussian", "salt", "pepper", "sp", "speckle")


def _check_images(images: Tensor) -> None:
    if images.dim() != 4:
        raise UserError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")


def add_noise(
    images: Tensor, level: int, mode: str = "gaussian", generator: torch.Generator | None = None
) -> Tensor:
    """Images corrupted by noise ``mode`` at ``level`` (module docstring), clipped to [0, 1]."""
    _check_images(images)
    if mode not in NOISE_MODES:
        raise unknown_choice("noise mode", mode, NOISE_MODES)
    if level < 0:
        raise UserError(f"noise level must be >= 0, got {level}")
    if level == 0:
        return images
    v = NOISE_VARIANCE_STEP * level

    def draw(kind: str) -> Tensor:
        sample = torch.randn if kind == "normal" else torch.rand
        return sample(images.shape, generator=generator, dtype=images.dtype).to(images.device)

    if mode == "gaussian":
        return (images + v**0.5 * draw("normal")).clamp(0.0, 1.0)
    if mode == "speckle":
        return (images + images * (10000 * v) ** 0.5 * draw("normal")).clamp(0.0, 1.0)
    amount = {"salt": v, "pepper": 6 * v, "sp": 2 * v}[mode]
    hit = draw("uniform") < amount
    value = {"salt": 1.0, "pepper": 0.0}.get(mode)
    fill = torch.full_like(images, value) if value is not None else (draw("uniform") < 0.5).to(images.dtype)
    return torch.where(hit, fill, images)


def occlude_center(images: Tensor, level: int) -> Tensor:
    """A copy of the images with the central ``2·level`` square set to 0 (level 0: unchanged)."""
    _check_images(images)
    height, width = images.shape[-2:]
    if not 0 <= level <= min(height, width) // 2:
        raise UserError(f"occlusion level must be in 0..{min(height, width) // 2}, got {level}")
    out = images.clone()
    cy, cx = height // 2, width // 2
    out[..., cy - level : cy + level, cx - level : cx + level] = 0.0
    return out
