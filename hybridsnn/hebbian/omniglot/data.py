"""Omniglot data of the one-shot task (docs/hebbian.md, «Omniglot task»): images, character splits and
episodes.

Images come from the shared dataset layer (``load_dataset("omniglot", …)``): the two small background sets
(``small1``: 136 characters, ``small2``: 156; Greek and Latin are in both, so the union holds 242 distinct
characters) and the 20 official one-shot runs (``all_runs.zip``, characters of the evaluation alphabets).
As in the seed, drawings are resized to 28×28 and inverted (strokes 1, background 0), and every character
at 0°, 90°, 180° and 270° is a class of its own.

Episodes:

* :func:`prototypical_episode` — N-way K-shot Q-query images for pre-training the ProtoNet (Snell et al.).
* :func:`one_shot_episodes` — the memory task: 5 distinct classes, one drawing each, presented in random
  order with the labels ``0 … 4`` (= positions); the query is a *different* drawing of one of them and the
  answer is its position. Built on per-drawing feature currents ``[C, K, D]`` (the encoder is frozen).
* :func:`run_episodes` — the same 5-way episodes from the 20-way one-shot runs: each run's test drawing
  with its true class and 4 other classes of the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hybridsnn.data import OneShotRun
from hybridsnn.data.omniglot import distinct_characters
from hybridsnn.errors import UserError
from hybridsnn.hebbian.batch import batch_size, batch_to, select_examples

IMAGE_SIZE = 28
ROTATIONS = 4
BACKGROUND_SETS = ("small1", "small2")


def prepare_images(images: np.ndarray) -> Tensor:
    """uint8 drawings ``[N, 105, 105]`` (white 255 background) → float ``[N, 1, 28, 28]`` with strokes 1."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0).unsqueeze(1)
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return (1.0 - x).clamp(0.0, 1.0)


def background_characters(root: object) -> tuple[Tensor, tuple[str, ...]]:
    """The distinct characters of the small background sets: images ``[C, 20, 1, 28, 28]`` and their names
    (``Alphabet/characterNN``, sorted); a character in both sets is taken once."""
    drawings, names = distinct_characters(BACKGROUND_SETS, root)  # type: ignore[arg-type]
    images = prepare_images(drawings.reshape(-1, *drawings.shape[2:]))
    return images.view(len(names), -1, *images.shape[1:]), names


def split_characters(count: int, seed: int, val: int, test: int) -> dict[str, Tensor]:
    """Indices of ``count`` characters in a seeded random order: the last ``test`` are the test characters,
    the ``val`` before them the validation characters, the rest the training characters."""
    if min(val, test) < 1 or count - val - test < 1:
        raise UserError(
            f"cannot split {count} characters into >= 1 training, {val} validation and {test} test characters"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return {
        "train": order[: count - val - test],
        "val": order[count - val - test : count - test],
        "test": order[count - test :],
    }


def with_rotations(characters: Tensor) -> Tensor:
    """``[C, K, 1, H, W]`` → ``[4C, K, 1, H, W]``: the characters turned by 0°, 90°, 180° and 270°."""
    return torch.cat([torch.rot90(characters, k, dims=(-2, -1)) for k in range(ROTATIONS)])


def _check_pool(classes: int, drawings: int, ways: int, needed: int) -> None:
    if ways < 2 or classes < ways or drawings < needed:
        raise UserError(
            f"{ways}-way episodes need >= 2 ways, >= {ways} classes and >= {needed} drawings per class; "
            f"got {classes} classes of {drawings} drawings"
        )


def prototypical_episode(
    images: Tensor, ways: int, shots: int, queries: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Support ``[ways, shots, …]`` and query ``[ways, queries, …]`` drawings of ``ways`` random distinct
    classes of ``images`` [C, K, …]; within a class no drawing is used twice."""
    _check_pool(images.shape[0], images.shape[1], ways, shots + queries)
    if shots < 1 or queries < 1:
        raise UserError(f"episodes need >= 1 shot and >= 1 query, got {shots} and {queries}")
    chosen = torch.randperm(images.shape[0], generator=generator)[:ways]
    drawings = torch.rand(ways, images.shape[1], generator=generator).argsort(dim=1)[:, : shots + queries]
    picked = images[chosen[:, None], drawings]
    return picked[:, :shots], picked[:, shots:]


class OneShotBatch(NamedTuple):
    """Memory-task episodes: support currents [N, W, D] (label = position), query currents [N, D] and the
    position of the query's class [N] (int64)."""

    support: Tensor
    query: Tensor
    target: Tensor

    size = property(batch_size)
    select = select_examples
    to = batch_to

    @property
    def inputs(self) -> tuple[Tensor, Tensor]:
        """The network's arguments: support, query."""
        return self.support, self.query


def one_shot_episodes(
    pool: Tensor, count: int, ways: int = 5, generator: torch.Generator | None = None
) -> OneShotBatch:
    """``count`` memory-task episodes from per-drawing currents ``pool`` [C, K, D] (see the module doc)."""
    classes, drawings = pool.shape[:2]
    _check_pool(classes, drawings, ways, 2)
    if count < 1:
        raise UserError(f"need >= 1 episode, got {count}")
    chosen = torch.rand(count, classes, generator=generator).argsort(dim=1)[:, :ways]
    picks = torch.randint(drawings, (count, ways), generator=generator)
    target = torch.randint(ways, (count,), generator=generator)
    rows = torch.arange(count)
    other = (picks[rows, target] + torch.randint(1, drawings, (count,), generator=generator)) % drawings
    return OneShotBatch(pool[chosen, picks], pool[chosen[rows, target], other], target)


def run_episodes(
    runs: Sequence[OneShotRun], support: Tensor, queries: Tensor, ways: int = 5, seed: int = 0
) -> OneShotBatch:
    """One ``ways``-way episode per test drawing of the one-shot ``runs``.

    ``support`` [R, 20, D] and ``queries`` [R, 20, D] are the currents of each run's training (class k at
    index k) and test drawings. The episode holds the query's true class and ``ways − 1`` other random
    classes of its run, in random order.
    """
    generator = torch.Generator().manual_seed(seed)
    answers = torch.from_numpy(np.stack([run.answers for run in runs]))  # [R, Q]
    count, per_run, classes = answers.numel(), answers.shape[1], support.shape[1]
    _check_pool(classes, 1, ways, 1)
    answers = answers.flatten()
    run_of = torch.arange(len(runs)).repeat_interleave(per_run)
    draw = torch.rand(count, classes, generator=generator)
    draw[torch.arange(count), answers] = 2.0  # never among the distractors
    candidates = torch.cat([answers[:, None], draw.argsort(dim=1)[:, : ways - 1]], dim=1)
    order = torch.rand(count, ways, generator=generator).argsort(dim=1)
    chosen = candidates.gather(1, order)
    target = (order == 0).long().argmax(dim=1)
    return OneShotBatch(support[run_of[:, None], chosen], queries.flatten(0, 1), target)


def fixed_episodes(data: OneShotBatch, batch_size: int) -> list[OneShotBatch]:
    """A pre-drawn episode set in batches of ``batch_size`` (the last may be smaller)."""
    return [data.select(slice(start, start + batch_size)) for start in range(0, data.size, batch_size)]


class FreshEpisodes:
    """``batches`` batches of fresh random episodes per pass (torch's global RNG, re-seeded by ``fit``)."""

    def __init__(self, pool: Tensor, batches: int, batch_size: int, ways: int = 5) -> None:
        self.pool, self.batches, self.batch_size, self.ways = pool, batches, batch_size, ways

    def __iter__(self) -> Iterator[OneShotBatch]:
        for _ in range(self.batches):
            yield one_shot_episodes(self.pool, self.batch_size, self.ways)

    def __len__(self) -> int:
        return self.batches
