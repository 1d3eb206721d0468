"""The corruption sweeps after training or testing ``--task simple`` and ``tolerance``: test accuracy, with
learning frozen, at each noise level (variance 0.01·i) and occlusion level (central 2i×2i square) of
:mod:`hybridsnn.hp.corruption` (docs/hp.md, «Tasks»).

Each level's accuracy goes to ``metrics.jsonl`` as a record of split ``noise`` / ``occlusion`` (x: ``level``)
and to the final metrics as ``noise<i>_accuracy`` / ``occlusion<i>_accuracy``. The noise is per pixel, so
it applies to images of any size; the occlusion square must fit the image (:func:`occlusion_limit`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hp.corruption import add_noise, occlude_center
from hybridsnn.hp.data import TensorBatches
from hybridsnn.hp.training import ClassifierSteps
from hybridsnn.results import Run
from hybridsnn.spiking import evaluate, log_metrics_once

#: Sweep levels of the seed: simple example noise 0..6; tolerance tests occlusion and noise 0..14.
SWEEP_DEFAULTS = {"simple": list(range(7)), "tolerance": list(range(15))}
#: Highest sweep levels: noise variance 0.01·100 = 1 (salt then hits every pixel); occlusion 14 blanks the
#: whole 28×28 image (the sweeps run on the 28×28 tasks simple and tolerance).
MAX_NOISE_LEVEL, MAX_OCCLUSION_LEVEL = 100, 14


def sweep(
    model: nn.Module,
    loader: TensorBatches,
    kind: str,
    levels: Sequence[int],
    device: torch.device,
    *,
    seed: int,
    flatten: bool,
    progress: bool,
    noise: str = "gaussian",
) -> dict[int, float]:
    """Accuracy (fraction correct) of ``model`` (learning frozen) at each level of ``kind`` (``noise`` of
    mode ``noise``, or ``occlusion``); the noise of a level is drawn from a generator seeded by
    ``seed·1000 + level``."""
    results = {}
    for level in levels:
        generator = torch.Generator().manual_seed(seed * 1000 + level)
        corrupt: Callable[[Tensor], Tensor] = (
            (lambda x, lv=level, gen=generator: add_noise(x, lv, noise, gen))
            if kind == "noise"
            else (lambda x, lv=level: occlude_center(x, lv))
        )
        steps = ClassifierSteps(model, {}, device, flatten=flatten, transform=corrupt)
        results[level] = evaluate(
            steps.eval_step, loader, modules=[model], desc=f"{kind} {level}", progress=progress
        )["accuracy"]
    return results


def occlusion_limit(image_size: tuple[int, int] | None) -> int:
    """The highest occlusion level whose 2I×2I square fits images of ``image_size`` ``(H, W)``: min(H, W)//2,
    at most :data:`MAX_OCCLUSION_LEVEL` (None: the 28×28 catalogued images, 14)."""
    return MAX_OCCLUSION_LEVEL if image_size is None else min(MAX_OCCLUSION_LEVEL, min(image_size) // 2)


def check_occlusion_levels(levels: Sequence[int] | None, image_size: tuple[int, int]) -> None:
    """Refuse ``--occlusion-levels`` whose square does not fit images of ``image_size`` ``(H, W)``."""
    limit = occlusion_limit(image_size)
    too_big = [level for level in levels or () if level > limit]
    if too_big:
        height, width = image_size
        raise UserError(f"--occlusion-levels {too_big[0]} does not fit the {height}x{width} images: level I "
                        f"blanks the central 2Ix2I square, so I is at most {limit} here")  # fmt: skip


def sweeps_for(task: str, args: argparse.Namespace,
               image_size: tuple[int, int] | None = None) -> dict[str, list[int]]:  # fmt: skip
    """The corruption sweeps run after training/testing ``task`` (``--noise-levels``, ``--occlusion-levels``,
    else the seed's levels; classification: none). ``image_size`` ``(H, W)`` of a user dataset: the default
    occlusion levels stop at :func:`occlusion_limit` (12×10 images: 0..5)."""
    if task not in SWEEP_DEFAULTS:
        return {}
    noise = args.noise_levels if args.noise_levels is not None else SWEEP_DEFAULTS[task]
    if task == "simple":
        return {"noise": noise}
    limit = occlusion_limit(image_size)
    defaults = [level for level in SWEEP_DEFAULTS[task] if level <= limit]
    occlusion = args.occlusion_levels if args.occlusion_levels is not None else defaults
    return {"occlusion": occlusion, "noise": noise}


def run_sweeps(
    run: Run,
    model: nn.Module,
    loader: TensorBatches,
    sweeps: dict[str, list[int]],
    device: torch.device,
    args: argparse.Namespace,
    flatten: bool,
) -> dict[str, float]:
    """Run ``sweeps`` (kind → levels) on ``loader``, log one record per level; the final metrics."""
    final: dict[str, float] = {}
    for kind, levels in sweeps.items():
        curve = sweep(
            model,
            loader,
            kind,
            levels,
            device,
            seed=args.seed,
            flatten=flatten,
            progress=not args.no_progress,
            noise=args.noise,
        )
        for level, acc in curve.items():
            extra = {"mode": args.noise} if kind == "noise" else {}
            # once: a run resumed after its last epoch repeats the sweeps that its killed process had begun
            log_metrics_once(run, step=level, split=kind, level=level, accuracy=acc, **extra)
            final[f"{kind}{level}_accuracy"] = acc
    return final
