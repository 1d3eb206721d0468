"""Training and evaluation steps of the association task (docs/hebbian.md, «Training and regulariser»), for
``spiking.fit``.

Loss = cross-entropy + ``l2`` · rate regulariser (Hz², switched on after the first epoch, as in the seed);
Adam with the learning rate multiplied by ``decay`` every ``decay_every`` epochs, gradient-norm clipping.
Under torchrun each rank trains on its slice of the global batch and metrics are summed over ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from hybridsnn.hebbian.batch import AssociationBatch
from hybridsnn.hebbian.networks import rate_regularizer
from hybridsnn.spiking.distributed import DistributedContext


def make_optimizer(
    model: nn.Module, learning_rate: float, decay: float = 0.85, decay_every: int = 20
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    """Adam and its per-epoch step decay (the seed: lr · 0.85^(epoch // 20))."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=decay_every, gamma=decay)


class AssociationSteps:
    """``train_step``/``eval_step`` for :func:`hybridsnn.spiking.fit` on classification batches.

    A batch (:class:`AssociationBatch`, :class:`~hybridsnn.hebbian.babi.data.BabiBatch`) is a named tuple
    with ``inputs`` (the model's arguments), ``target`` (class indices) and ``size``.

    ``model`` may be wrapped in DistributedDataParallel (``context.wrap``). The regulariser is active once
    ``scheduler.last_epoch`` (epochs completed, restored on resume) is at least ``regularize_from_epoch``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        context: DistributedContext,
        *,
        l2: float = 0.0,
        target_rate: float = 0.0,
        max_grad_norm: float = 40.0,
        regularize_from_epoch: int = 1,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.context = context
        self.l2 = l2
        self.target_rate = target_rate
        self.max_grad_norm = max_grad_norm
        self.regularize_from_epoch = regularize_from_epoch
        self.loss = nn.CrossEntropyLoss(reduction="sum")

    def _regularizing(self) -> bool:
        epoch = self.scheduler.last_epoch if self.scheduler is not None else 0
        return self.l2 > 0 and epoch >= self.regularize_from_epoch

    def _forward(self, batch: AssociationBatch) -> tuple[Tensor, Tensor, dict[str, Tensor], int]:
        local = self.context.shard(batch).to(self.context.device)
        scores, populations = self.model(*local.inputs)
        return scores, local.target, populations, batch.size

    def _global_means(self, total: int, **sums: Tensor) -> dict[str, float]:
        """Per-example means over the global batch of per-rank sums (e.g. ``loss=…, accuracy=…``)."""
        reduced = self.context.all_reduce_sum(torch.stack([v.detach().double() for v in sums.values()]))
        return {name: float(value) / total for name, value in zip(sums, reduced, strict=True)}

    def train_step(self, batch: AssociationBatch) -> dict[str, Any]:
        """One Adam step on the global batch (gradients averaged over ranks); mean loss, accuracy, rates."""
        assert self.optimizer is not None
        self.context.check_batch(batch.size)
        scores, target, populations, total = self._forward(batch)
        loss_sum = self.loss(scores, target)
        # mean over the global batch: each rank's slice mean, averaged by DDP over equal slices
        objective = loss_sum / target.shape[0]
        regularizer = None
        if self._regularizing():
            regularizer = rate_regularizer(populations, self.target_rate)
            objective = objective + self.l2 * regularizer
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if self.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        correct = (scores.argmax(dim=-1) == target).sum()
        metrics: dict[str, Any] = self._global_means(total, loss=loss_sum, accuracy=correct)
        if regularizer is not None:
            metrics["regularizer"] = float(regularizer.detach())
        return metrics

    @torch.no_grad()
    def eval_step(self, batch: AssociationBatch) -> dict[str, Any]:
        """Mean loss, accuracy (fraction) and read-value rate of a batch, split over the ranks."""
        scores, target, populations, total = self._forward(batch)
        sums = {"loss": self.loss(scores, target), "accuracy": (scores.argmax(dim=-1) == target).sum()}
        if "read_values" in populations:  # mean firing rate of the recall-phase value neurons, Hz
            sums["read_value_rate_hz"] = populations["read_values"].mean(dim=(0, 2)).sum() * 1000.0
        return self._global_means(total, **sums)


def steps_from_settings(
    model: nn.Module, settings: Mapping[str, Any], context: DistributedContext
) -> AssociationSteps:
    """Adam with step decay and the train/eval steps of ``model``, configured by the seed's flag names."""
    optimizer, scheduler = make_optimizer(
        model,
        settings["learning_rate"],
        settings["learning_rate_decay"],
        settings["decay_learning_rate_every"],
    )
    return AssociationSteps(
        context.wrap(model), optimizer, scheduler, context, l2=settings["l2"],
        target_rate=settings["target_rate"], max_grad_norm=settings["max_grad_norm"],
    )  # fmt: skip
