"""Batches of the Hebbian tasks: every task's batch is a NamedTuple of tensors with the first dimension N
(examples), and shares :func:`batch_size`, :func:`select_examples` and :func:`batch_to`, which the training
steps (:mod:`hybridsnn.hebbian.training`) use. The associations task's batch is defined here (its generator
is :mod:`hybridsnn.hebbian.associations.data`); the others beside their task's data."""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import torch
from torch import Tensor

Batch = TypeVar("Batch", bound=tuple)


def batch_size(batch: Any) -> int:
    """Number of examples: the length of the first dimension of the batch's tensors."""
    return int(batch[0].shape[0])


def select_examples(batch: Batch, index: slice | Tensor) -> Batch:
    """The examples of ``batch`` at ``index`` (a slice or an index tensor), as a batch of the same type."""
    return type(batch)(*(t[index] for t in batch))


def batch_to(batch: Batch, device: torch.device | str) -> Batch:
    """``batch`` with every tensor moved to ``device``."""
    return type(batch)(*(t.to(device) for t in batch))


class AssociationBatch(NamedTuple):
    """Features [N, L, F] (float), labels [N, L] (int64), query [N, F], target [N] (int64)."""

    features: Tensor
    labels: Tensor
    query: Tensor
    target: Tensor

    size = property(batch_size)
    select = select_examples
    to = batch_to

    @property
    def inputs(self) -> tuple[Tensor, Tensor, Tensor]:
        """The network's arguments: features, labels, query."""
        return self.features, self.labels, self.query
