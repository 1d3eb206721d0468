"""Data-parallel training with ``torch.distributed``, launched by ``torchrun`` (NCCL on GPUs, gloo on CPU).

``torchrun --nproc_per_node N -m hybridsnn train MODEL ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment; :func:`init_distributed`
joins them (``init_method="env://"``). Every rank draws the same global batch (the training loop seeds all
RNGs identically) and trains on its own equal slice (:meth:`DistributedContext.shard`);
``DistributedDataParallel`` averages the gradients, so N processes take the same steps as one process with
the full batch. Metrics are summed over ranks (:meth:`DistributedContext.all_reduce_sum`). Rank 0 owns the
run directory; the other ranks write theirs to a scratch folder (see :mod:`hybridsnn.cli`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from hybridsnn.errors import UserError

T = TypeVar("T", bound=Sequence[Tensor])


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


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
