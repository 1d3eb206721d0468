"""HP-SNN's supervised training step: MSE on one-hot targets, two Adam optimisers (docs/hp.md, «Training»).

``optim_base`` steps the GP weights (lr 1e-3 in the simple example), ``optim_local`` the meta-local
parameters α, β, η (lr 5e-4). With the seed's ``num_updates = 1`` this is joint first-order training of both
on the same loss. Batches are ``(images [B, ...], labels [B])``; the model maps images to scores ``[B, C]``.

Under torchrun (docs/hp.md, «torchrun») each rank computes its slice of the global batch: its loss is its
sum of squared errors over ``B·C`` of the *global* batch, the gradients are summed over ranks before each
optimiser step (:class:`~hybridsnn.spiking.distributed.GradientAverager`) and the model's Hebbian
increments are global-batch means (:func:`~hybridsnn.hp.layer.use_batch_mean`), so every rank takes the
step one process takes on the full batch. Metrics are summed over ranks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybridsnn.hp.layer import split_parameters
from hybridsnn.spiking import count_correct
from hybridsnn.spiking.distributed import DistributedContext, GradientAverager

Transform = Callable[[Tensor], Tensor]


def make_optimizers(model: nn.Module, weight_lr: float, local_lr: float) -> dict[str, torch.optim.Optimizer]:
    """``{"optim_base": Adam(GP weights), "optim_local": Adam(α, β, η)}`` (the second only if any exist)."""
    weights, local = split_parameters(model)
    optimizers = {"optim_base": torch.optim.Adam(weights, lr=weight_lr)}
    if local:
        optimizers["optim_local"] = torch.optim.Adam(local, lr=local_lr)
    return optimizers


def one_hot_mse(scores: Tensor, labels: Tensor) -> Tensor:
    """``MSELoss(scores, one_hot(labels))`` as in every HP-SNN classification script."""
    return F.mse_loss(scores, F.one_hot(labels, scores.shape[-1]).to(scores.dtype))


@dataclass
class ClassifierSteps:
    """``train_step``/``eval_step`` for :func:`hybridsnn.spiking.fit` with a scores-producing model.

    ``flatten``: feed ``[B, H·W·C]`` vectors (MLP) instead of images. ``transform`` corrupts evaluation
    inputs (noise, occlusion) before flattening. ``context``: the torchrun ranks (module docstring; the
    model's plastic layers must use ``context.batch_mean``); without torchrun one process, as before.
    """

    model: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    device: torch.device
    flatten: bool = True
    transform: Transform | None = field(default=None)
    context: DistributedContext = field(default_factory=DistributedContext)

    def __post_init__(self) -> None:
        self.averager = GradientAverager(self.context, self.optimizers.values())

    def _inputs(self, images: Tensor) -> Tensor:
        images = images.to(self.device, non_blocking=True).float()
        return images.flatten(1) if self.flatten else images

    def train_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        if self.context.enabled:
            return self._distributed_train_step(batch)
        images, labels = batch
        labels = labels.to(self.device)
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        scores = self.model(self._inputs(images))
        loss = one_hot_mse(scores, labels)
        loss.backward()
        for optimizer in self.optimizers.values():
            optimizer.step()
        return {"loss": loss.item(), "accuracy": count_correct(scores.detach(), labels) / len(labels)}

    def _distributed_train_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        """This rank's slice of the step one process takes on ``batch`` (module docstring)."""
        total = len(batch[1])
        images, labels = self.context.shard(batch)
        labels = labels.to(self.device)
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        scores = self.model(self._inputs(images))
        squared = _squared_errors(scores, labels)
        (squared / (total * scores.shape[-1])).backward()  # this rank's part of the global MSE
        for optimizer in self.optimizers.values():
            optimizer.step()
        return self.context.global_means(total, loss=squared.detach() / scores.shape[-1],
                                         accuracy=count_correct(scores.detach(), labels))  # fmt: skip

    def eval_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        if self.context.enabled:
            total = len(batch[1])
            images, labels = self.context.shard(batch)
            scores, labels = self._eval_scores(images, labels)
            return self.context.global_means(total, loss=_squared_errors(scores, labels) / scores.shape[-1],
                                             accuracy=count_correct(scores, labels))  # fmt: skip
        scores, labels = self._eval_scores(*batch)
        return {
            "loss": one_hot_mse(scores, labels).item(),
            "accuracy": count_correct(scores, labels) / len(labels),
        }

    def _eval_scores(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        images = images.to(self.device).float()
        if self.transform is not None:
            images = self.transform(images)
        labels = labels.to(self.device)
        return self.model(images.flatten(1) if self.flatten else images), labels


def _squared_errors(scores: Tensor, labels: Tensor) -> Tensor:
    """``Σ (scores − one_hot(labels))²`` over the batch and the classes (0 for an empty batch)."""
    return F.mse_loss(scores, F.one_hot(labels, scores.shape[-1]).to(scores.dtype), reduction="sum")
