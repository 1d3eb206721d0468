"""Batch steps of DSL training and evaluation for :func:`hybridsnn.spiking.fit`: devices, mixed precision,
latency coding, per-block accuracies, optimisers and the seed's learning-rate schedule.

Under torchrun (docs/dsl.md, «torchrun») each rank runs the learning rule on its slice of the global batch,
and before *every* optimiser step of the rule (ELL and FELL step once per time step and block) the gradients
are summed over ranks, each rank's weighted by its share of the batch
(:class:`~hybridsnn.spiking.distributed.GradientAverager`): the blocks' losses are means over the batch and
do not mix examples, so this is the gradient one process computes on the full batch. Metrics are summed over
ranks, and the evaluation's predictions gathered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from torch.optim import Optimizer
from torch.optim.lr_scheduler import MultiStepLR

from hybridsnn.data import latency_spikes
from hybridsnn.dsl.adam101 import Adam101
from hybridsnn.dsl.network import DSLNetwork, layer_correct, spike_count_predictions
from hybridsnn.dsl.rules import Trainer, window_loss
from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.runtime import autocast
from hybridsnn.spiking.distributed import DistributedContext, GradientAverager

OPTIMIZERS = ("adam101", "adam")


def make_optimizers(network: DSLNetwork, name: str, lr: float) -> list[Optimizer]:
    """One Adam per block over its encoder and classifier (``adam101``: torch 1.0.1's formula, as seed)."""
    if name not in OPTIMIZERS:
        raise unknown_choice("optimizer", name, OPTIMIZERS)
    if not lr > 0:
        raise UserError(f"learning rate must be > 0, got {lr!r}")
    optimizer = Adam101 if name == "adam101" else torch.optim.Adam
    return [optimizer(block.parameters(), lr=lr) for block in network.blocks]


def make_schedulers(optimizers: list[Optimizer], milestones: Sequence[int],
                    factor: float) -> list[MultiStepLR]:  # fmt: skip
    """The seed's schedule ``lr·factor^bisect_right(milestones, epoch − 1)`` (epochs from 1), per epoch."""
    if not factor > 0:
        raise UserError(f"lr decay factor must be > 0, got {factor!r}")
    if any(m < 0 for m in milestones):
        raise UserError(f"lr decay milestones must be epochs >= 0, got {milestones}")
    return [MultiStepLR(optimizer, milestones=sorted(milestones), gamma=factor) for optimizer in optimizers]


def layer_metrics(outputs: list[Tensor], labels: Tensor, loss: Tensor) -> dict[str, float]:
    """``loss``, ``accuracy`` (the last block's classifier = the network) and ``layer<k>_accuracy``."""
    count = labels.shape[0]
    correct = layer_correct(outputs, labels)
    metrics = {"loss": float(loss), "accuracy": correct[-1] / count}
    metrics.update({f"layer{k + 1}_accuracy": c / count for k, c in enumerate(correct)})
    return metrics


class DSLSteps:
    """``train_step``/``eval_step`` over ``(images, labels)`` batches for one network and learning rule.

    ``trainer``: the learning rule (:func:`hybridsnn.dsl.rules.get_rule`); None for evaluation only.
    ``steps``: the time window T (time steps per sample).
    ``encoding``: ``real`` (the image is the current at every step) or ``latency`` (one spike per pixel at
    step ``round((T − 1)(1 − x))``). Evaluation keeps the predictions of the latest complete pass over the
    evaluation set in ``last_predictions`` (for the confusion matrix). ``context``: the torchrun ranks
    (module docstring; default: one process).
    """

    def __init__(self, network: DSLNetwork, *, steps: int, device: torch.device,
                 trainer: Trainer | None = None, optimizers: Sequence[Optimizer] = (), num_classes: int = 10,
                 encoding: str = "real", amp: bool = False, eval_samples: int | None = None,
                 context: DistributedContext | None = None) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UserError(f"time window must be an integer >= 1 steps, got {steps!r}")
        if encoding == "latency" and steps < 2:
            raise UserError("latency coding needs a time window of at least 2 steps")
        self.network, self.trainer, self.steps, self.optimizers = network, trainer, steps, list(optimizers)
        self.device, self.num_classes, self.encoding, self.amp = device, num_classes, encoding, amp
        self.temporal = encoding == "latency"
        self.eval_samples = eval_samples
        self._predictions: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self.last_predictions: tuple[np.ndarray, np.ndarray] | None = None
        self.context = context or DistributedContext(device=device)
        self.averager = GradientAverager(self.context, self.optimizers)

    def inputs(self, images: Tensor) -> Tensor:
        """Network input on the device: the images ``[B, C, H, W]`` or their latency code ``[T, B, ...]``."""
        images = images.to(self.device, non_blocking=True)
        return latency_spikes(images, self.steps) if self.encoding == "latency" else images

    def train_step(self, batch: tuple[Tensor, Tensor]) -> Mapping[str, float]:
        if self.trainer is None:
            raise RuntimeError("these DSL steps were made for evaluation only (no learning rule given)")
        total = len(batch[1])
        images, labels = self.context.shard(batch)
        self.averager.weight = self.context.share(total)
        labels = labels.to(self.device)
        target = F.one_hot(labels, self.num_classes).float()
        with autocast(self.device, enabled=self.amp):
            outputs, loss = self.network.train_window(self.inputs(images), target, self.steps, self.trainer,
                                                      self.optimizers, temporal=self.temporal)
        if self.context.enabled:
            return self._global_metrics(outputs, labels, loss, total)
        return layer_metrics(outputs, labels, loss)

    def _global_metrics(self, outputs: list[Tensor], labels: Tensor, loss: Tensor,
                        total: int) -> dict[str, float]:  # fmt: skip
        """:func:`layer_metrics` of the global batch of ``total`` from this rank's slice (all ranks)."""
        count = len(labels)
        correct = layer_correct(outputs, labels)
        sums = {"loss": float(loss) * count if count else 0.0, "accuracy": correct[-1]}
        sums.update({f"layer{k + 1}_accuracy": c for k, c in enumerate(correct)})
        return self.context.global_means(total, **sums)

    def classify(self, images: Tensor) -> list[Tensor]:
        """Classifier spikes ``[T, B, K]`` of every block (no learning)."""
        with torch.no_grad(), autocast(self.device, enabled=self.amp):
            return self.network(self.inputs(images), self.steps, temporal=self.temporal)

    def eval_step(self, batch: tuple[Tensor, Tensor]) -> Mapping[str, float]:
        total = len(batch[1])
        images, labels = self.context.shard(batch)
        labels = labels.to(self.device)
        outputs = self.classify(images)
        target = F.one_hot(labels, self.num_classes).float()
        loss = sum((window_loss(out, target) for out in outputs), start=target.new_zeros(()))
        predictions = spike_count_predictions(outputs[-1])
        if self.context.enabled:
            self._record(self.context.all_gather(predictions, total), batch[1])
            return self._global_metrics(outputs, labels, loss, total)
        self._record(predictions, labels)
        return layer_metrics(outputs, labels, loss)

    def _record(self, predictions: Tensor, labels: Tensor) -> None:
        self._predictions.append(predictions.cpu().numpy())
        self._labels.append(labels.cpu().numpy())
        seen = sum(len(p) for p in self._predictions)
        if self.eval_samples is not None and seen >= self.eval_samples:
            self.last_predictions = (np.concatenate(self._labels), np.concatenate(self._predictions))
            self._predictions, self._labels = [], []
