"""Data-parallel training with ``torch.distributed``, launched by ``torchrun`` (NCCL on GPUs, gloo on CPU).

``torchrun --nproc_per_node N -m hybridsnn train MODEL ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment; :func:`init_distributed`
joins them (``init_method="env://"``). Every rank draws the same global batch (the training loop seeds all
RNGs identically) and trains on its own equal slice (:meth:`DistributedContext.shard`);
``DistributedDataParallel`` averages the gradients, so N processes take the same steps as one process with
the full batch. Metrics are summed over ranks (:meth:`DistributedContext.all_reduce_sum`). Rank 0 owns the
run directory; the other ranks write theirs to a scratch folder (see :mod:`hybridsnn.cli`).

Models whose optimiser steps are not one ``backward`` of one forward (DSL's local rules step several times
per batch; HP-SNN's Hebbian traces mix the examples of a batch) do not use DDP: :class:`GradientAverager`
sums the gradients over ranks right before every optimiser step (each rank's weighted by its share of the
global batch, so a last batch that splits unevenly still weighs every example equally), and
:meth:`DistributedContext.batch_mean` is a differentiable mean over the global batch (an all-reduce whose
backward all-reduces the gradients) for batch statistics such as the Hebbian increment ``preᵀ post / B``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from hybridsnn.errors import UserError

T = TypeVar("T", bound=Sequence[Tensor])


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def torchrun_processes() -> int:
    """The number of torchrun processes (``WORLD_SIZE``; 1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def refuse_uneven_torchrun_batch(batch_size: int, flag: str = "--batch-size") -> None:
    """Refuse, before a run folder exists, a batch that does not split into equal slices over the torchrun
    processes (nothing to check without torchrun)."""
    processes = torchrun_processes()
    if processes > 1 and batch_size % processes:
        raise UserError(f"{flag} {batch_size} must be divisible by the {processes} torchrun processes, "
                        "so that every process trains on an equal slice")  # fmt: skip


def process_rank() -> int:
    """This process's rank among the torchrun processes (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


@dataclass(frozen=True)
class DistributedContext:
    """Rank and number of processes (1 and rank 0 without torchrun) and this process's device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, checkpoints and plots."""
        return self.rank == 0

    def check_batch(self, batch_size: int) -> None:
        """Refuse a global training batch that does not split into equal slices (gradients would differ)."""
        if batch_size % self.world_size:
            raise UserError(
                f"batch size {batch_size} must be divisible by the {self.world_size} torchrun "
                "processes so that every process trains on an equal slice"
            )

    def shard(self, batch: T) -> T:
        """This rank's slice of every tensor in a (named) tuple of batch tensors (first dim = examples)."""
        if not self.enabled:
            return batch
        parts = [tensor.tensor_split(self.world_size)[self.rank] for tensor in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else type(batch)(parts)

    def slice_sizes(self, total: int) -> list[int]:
        """Examples of each rank's slice of a global batch of ``total`` (as :meth:`shard` splits it)."""
        whole, rest = divmod(total, self.world_size)  # Tensor.tensor_split: the first ``rest`` get one more
        return [whole + (rank < rest) for rank in range(self.world_size)]

    def share(self, total: int) -> float:
        """This rank's fraction of a global batch of ``total`` examples (1.0 without torchrun)."""
        return self.slice_sizes(total)[self.rank] / total if total else 0.0

    def global_means(self, total: int, **sums: Tensor | float) -> dict[str, float]:
        """Per-example means over a global batch of ``total`` examples of per-rank sums (``loss=…``, …),
        reduced in one all-reduce (float64)."""
        values = torch.tensor([float(value) for value in sums.values()], dtype=torch.float64)
        reduced = self.all_reduce_sum(values.to(self.device)).cpu()
        return {name: float(value) / total for name, value in zip(sums, reduced, strict=True)}

    def batch_mean(self, local_sum: Tensor, count: int) -> Tensor:
        """The mean over the global batch of a per-example quantity whose sum over this rank's ``count``
        examples is ``local_sum``; differentiable (the backward all-reduces the gradients, so every rank's
        examples receive the gradient of every rank's loss). Without torchrun: ``local_sum / count``."""
        if not self.enabled:
            return local_sum / count
        from torch.distributed.nn.functional import all_reduce

        counted = torch.cat([local_sum.reshape(-1), local_sum.new_full((1,), float(count))])
        reduced = all_reduce(counted)
        return (reduced[:-1] / reduced[-1].detach()).reshape(local_sum.shape)

    def slice_range(self, total: int) -> range:
        """The indices of this rank's contiguous slice of ``total`` items (as :meth:`shard` splits them)."""
        sizes = self.slice_sizes(total)
        start = sum(sizes[: self.rank])
        return range(start, start + sizes[self.rank])

    def all_gather(self, local: Tensor, total: int) -> Tensor:
        """Every rank's slice of a global batch of ``total`` examples (``local``: this rank's, first dim =
        examples), concatenated in rank order: the tensor one process would have (unchanged without
        torchrun)."""
        return self.gather_slices(local, self.slice_sizes(total))

    def gather_slices(self, local: Tensor, sizes: Sequence[int]) -> Tensor:
        """The ranks' tensors concatenated in rank order, rank r's holding ``sizes[r]`` rows (``local``:
        this rank's; on its device). Unchanged without torchrun."""
        if not self.enabled:
            return local
        padded = local.new_zeros((max(sizes), *local.shape[1:]), device=self.device)
        padded[: len(local)] = local.to(self.device)
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)]).to(local.device)

    def all_reduce_sum(self, values: Tensor) -> Tensor:
        """``values`` summed over all ranks (returned unchanged without torchrun)."""
        if self.enabled:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in ``DistributedDataParallel`` (gradient averaging) when distributed, else itself."""
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


class GradientAverager:
    """Sums the gradients of ``optimizers`` over the ranks right before each of their steps.

    Each rank's gradients are multiplied by :attr:`weight` first: set it to the rank's share of the global
    batch (:meth:`DistributedContext.share`) when the local loss is a mean over the rank's slice, so that the
    sum is the gradient of the mean over the global batch; leave it at 1 when the local loss is already
    scaled by that share. A rank with an empty slice (weight 0) adds zeros, whatever its (NaN) gradients.
    Parameters without a gradient are skipped (the same on every rank: all ranks run the same code).
    Without torchrun nothing is attached and gradients are left as they are.
    """

    def __init__(self, context: DistributedContext, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        self.context = context
        self.weight = 1.0
        self.handles = [opt.register_step_pre_hook(self._before_step) for opt in optimizers
                        ] if context.enabled else []  # fmt: skip

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([grad.reshape(-1) for grad in grads])
        flat = flat * self.weight if self.weight else torch.zeros_like(flat)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def detach(self) -> None:
        """Stop averaging (remove the hooks)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the torchrun process group if launched by torchrun; otherwise a single-process context.

    On CUDA each process takes GPU ``LOCAL_RANK`` and the NCCL backend; on CPU the gloo backend.
    """
    if not launched_by_torchrun():
        return DistributedContext(device=device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def shutdown_distributed() -> None:
    """Leave the process group (no-op without torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def distributed_session(device: torch.device) -> Iterator[DistributedContext]:
    """:func:`init_distributed` for the body of a ``with`` block, :func:`shutdown_distributed` when it
    ends (also on an error), so no process group outlives the command."""
    context = init_distributed(device)
    try:
        yield context
    finally:
        shutdown_distributed()
