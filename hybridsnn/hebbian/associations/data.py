"""Synthetic association sequences (docs/hebbian.md, «Associations task»), registered as the task generator
``associations``.

One example: ``L`` pairs (feature vector ~ U[0, 1)^F, label drawn without replacement from C classes); the
query is an exact copy of one of the L feature vectors and the target its label.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from hybridsnn.data import register_task_generator
from hybridsnn.data.registry import TASK_GENERATORS
from hybridsnn.errors import UserError
from hybridsnn.hebbian.batch import AssociationBatch

GENERATOR_NAME = "associations"


def association_sequences(
    count: int,
    sequence_length: int,
    num_classes: int,
    feature_size: int = 10,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> AssociationBatch:
    """``count`` examples drawn from ``generator`` (or a fresh one seeded with ``seed``; else torch's RNG)."""
    for name, value in (
        ("count", count),
        ("sequence_length", sequence_length),
        ("num_classes", num_classes),
        ("feature_size", feature_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"association task: {name} must be an integer >= 1, got {value!r}")
    if sequence_length > num_classes:
        raise UserError(
            f"association task: sequence_length {sequence_length} needs at least as many classes "
            f"(labels are drawn without replacement), got num_classes {num_classes}"
        )
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    features = torch.rand(count, sequence_length, feature_size, generator=generator)
    labels = torch.rand(count, num_classes, generator=generator).argsort(dim=1)[:, :sequence_length]
    which = torch.randint(sequence_length, (count,), generator=generator)
    rows = torch.arange(count)
    return AssociationBatch(features, labels, features[rows, which], labels[rows, which])


class FreshBatches:
    """A re-iterable loader of ``batches`` fresh random batches per pass (one training epoch).

    Batches come from torch's global RNG (the seed's ``--inf_data``); ``fit`` re-seeds it every epoch.
    """

    def __init__(
        self, batches: int, batch_size: int, sequence_length: int, num_classes: int, feature_size: int = 10
    ) -> None:
        if batches < 1 or batch_size < 1:
            raise UserError(f"need >= 1 batch of >= 1 example, got {batches} batches of {batch_size}")
        self.args = (batches, batch_size, sequence_length, num_classes, feature_size)

    def __iter__(self) -> Iterator[AssociationBatch]:
        batches, batch_size, sequence_length, num_classes, feature_size = self.args
        for _ in range(batches):
            yield association_sequences(batch_size, sequence_length, num_classes, feature_size)

    def __len__(self) -> int:
        return self.args[0]


def fixed_batches(data: AssociationBatch, batch_size: int) -> list[AssociationBatch]:
    """A pre-generated set split into batches of ``batch_size`` (the last may be smaller)."""
    return [data.select(slice(start, start + batch_size)) for start in range(0, data.size, batch_size)]


if GENERATOR_NAME not in TASK_GENERATORS:
    register_task_generator(
        GENERATOR_NAME,
        association_sequences,
        "memorizing associations: L (feature, label) pairs and a query (Hebbian memory)",
    )
