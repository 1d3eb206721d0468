"""HP-SNN's supervised training step: MSE on one-hot targets, two Adam optimisers (docs/hp.md, «Training»).

``optim_base`` steps the GP weights (lr 1e-3 in the simple example), ``optim_local`` the meta-local
parameters α, β, η (lr 5e-4). With the seed's ``num_updates = 1`` this is joint first-order training of both
on the same loss. Batches are ``(images [B, ...], labels [B])``; the model maps images to scores ``[B, C]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybridsnn.hp.layer import split_parameters
from hybridsnn.spiking import count_correct

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
    inputs (noise, occlusion) before flattening.
    """

    model: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    device: torch.device
    flatten: bool = True
    transform: Transform | None = field(default=None)

    def _inputs(self, images: Tensor) -> Tensor:
        images = images.to(self.device, non_blocking=True).float()
        return images.flatten(1) if self.flatten else images

    def train_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
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

    def eval_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        images, labels = batch
        images = images.to(self.device).float()
        if self.transform is not None:
            images = self.transform(images)
        labels = labels.to(self.device)
        scores = self.model(images.flatten(1) if self.flatten else images)
        return {
            "loss": one_hot_mse(scores, labels).item(),
            "accuracy": count_correct(scores, labels) / len(labels),
        }
