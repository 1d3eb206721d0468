"""Training loops of Shifting Learning: resumable epochs and online trials, evaluation, layer tensors.

Every network (the analytic :class:`~hybridsnn.shifting.reference.ReferenceNetwork` or the time-stepped
``SteppedNetwork``) exposes ``layers``, ``forward``, ``train_step`` and ``predict``; the loops here use only
those, so they run on every engine. Progress (finished epochs, batches of the current epoch and the running
sums of the epoch's monitor) is a small dataclass that goes into the checkpoint metadata for exact resume.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from hybridsnn.errors import CheckpointError
from hybridsnn.shifting.data import Split
from hybridsnn.shifting.reference import LayerParams, MultiSpikeNetwork
from hybridsnn.shifting.settings import TaskSettings
from hybridsnn.shifting.spike_task import SpikeTrial
from hybridsnn.spiking.distributed import DistributedContext

LAYER_TENSORS = ("w", "etp", "m_w", "v_w", "m_p", "v_p")
#: Samples per forward of :func:`evaluate` (the original loaders' test batch).
EVAL_BATCH = 100


class Network(Protocol):
    """What the loops need from a network of any engine."""

    layers: list[LayerParams]

    def forward(self, z0: Tensor) -> list[Tensor]: ...

    def train_step(self, z0: Tensor, labels: Tensor, lr_w: float, lr_p: float) -> dict[str, float]: ...

    def predict(self, z0: Tensor) -> Tensor: ...


@dataclass
class Progress:
    """Where training stands: finished epochs, finished batches of the current epoch, the epoch's sums."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0

    def add(self, metrics: Mapping[str, float], count: int) -> None:
        """Account one finished batch of ``count`` samples (its monitor loss and pre-update accuracy)."""
        self.batch += 1
        self.loss_sum += metrics["loss"] * count
        self.correct += metrics["accuracy"] * count
        self.seen += count

    def close_epoch(self) -> dict[str, float]:
        """The finished epoch's mean loss and accuracy; moves on to the next epoch."""
        metrics = {"loss": self.loss_sum / max(self.seen, 1), "accuracy": self.correct / max(self.seen, 1)}
        self.epoch, self.batch, self.loss_sum, self.correct, self.seen = self.epoch + 1, 0, 0.0, 0.0, 0
        return metrics

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Any, source: str = "") -> Progress:
        """The progress stored by :meth:`to_dict`; a one-line error if it is not (a damaged checkpoint)."""
        counts, sums = ("epoch", "batch", "seen"), ("loss_sum", "correct")
        valid = isinstance(values, Mapping) and all(
            isinstance(values.get(key), int) and not isinstance(values.get(key), bool) and values[key] >= 0
            for key in counts
        ) and all(
            isinstance(values.get(key), (int, float)) and not isinstance(values.get(key), bool)
            and math.isfinite(values[key]) and values[key] >= 0 for key in sums
        )  # fmt: skip
        if not valid:
            raise CheckpointError(f"checkpoint {source!r}: progress is {values!r}; expected whole numbers "
                                  "epoch, batch, seen >= 0 and finite sums loss_sum, correct >= 0"
                                  )  # fmt: skip
        return cls(**{key: values[key] for key in (*counts, *sums)})


# -- checkpoints -------------------------------------------------------------------------------------------


def layer_tensors(layers: Sequence[LayerParams]) -> dict[str, Tensor]:
    """Checkpoint tensors ``layer{l}.{w,etp,m_w,v_w,m_p,v_p}``."""
    return {
        f"layer{index}.{name}": value
        for index, layer in enumerate(layers)
        for name, value in layer.tensors().items()
    }


def layers_from_tensors(
    tensors: Mapping[str, np.ndarray],
    steps: Sequence[int],
    *,
    dtype: torch.dtype = torch.float32,
    source: str = "",
) -> list[LayerParams]:
    """Rebuild the layers stored by :func:`layer_tensors` (with their Adam step counters)."""
    layers = []
    for index, step in enumerate(steps):
        names = [f"layer{index}.{name}" for name in LAYER_TENSORS]
        missing = [name for name in names if name not in tensors]
        if missing:
            raise CheckpointError(f"checkpoint {source!r} lacks {', '.join(missing)}")
        values = {
            name: torch.from_numpy(np.array(tensors[key])).to(dtype)
            for name, key in zip(LAYER_TENSORS, names, strict=True)
        }
        n_in, n_out = values["w"].shape
        for name in LAYER_TENSORS:
            expected = (n_in, n_out) if name in ("w", "m_w", "v_w") else (n_out,)
            if tuple(values[name].shape) != expected:
                raise CheckpointError(
                    f"checkpoint {source!r}: layer{index}.{name} has shape {tuple(values[name].shape)}, "
                    f"expected {expected}"
                )
        if layers and n_in != layers[-1].w.shape[1]:
            raise CheckpointError(f"checkpoint {source!r}: layer{index}.w has {n_in} inputs, but "
                                  f"layer{index - 1} has {layers[-1].w.shape[1]} neurons")  # fmt: skip
        layers.append(LayerParams(**values, step=int(step)))
    return layers


def layer_sizes(layers: Sequence[LayerParams]) -> list[int]:
    """(inputs, hidden..., outputs) of a list of layers."""
    return [layers[0].w.shape[0], *(layer.w.shape[1] for layer in layers)]


def reset_layers(layers: Sequence[LayerParams], fresh: Sequence[LayerParams]) -> None:
    """Copy ``fresh`` parameters into ``layers`` in place (a network object can then train a new run)."""
    for layer, new in zip(layers, fresh, strict=True):
        for name in LAYER_TENSORS:
            getattr(layer, name).copy_(getattr(new, name))
        layer.step = new.step


# -- loops -------------------------------------------------------------------------------------------------


def train_epochs(
    network: Network,
    split: Split,
    settings: TaskSettings,
    progress: Progress,
    *,
    on_batch: Callable[[Progress], None] | None = None,
    on_epoch: Callable[[Progress, dict[str, float]], None] | None = None,
) -> None:
    """Train until ``settings.epochs`` epochs are done, continuing from ``progress``.

    The batches are consecutive slices of ``split`` in its stored order, the same every epoch (as in the
    original scripts). ``on_batch`` runs after every batch, ``on_epoch`` after every epoch with its means.
    """
    batches = split.batches(settings.batch_size)
    while progress.epoch < settings.epochs:
        lr_w = settings.learning_rate(progress.epoch)
        for z0, labels in batches[progress.batch :]:
            progress.add(network.train_step(z0, labels, lr_w, settings.lr_p), len(labels))
            if on_batch is not None:
                on_batch(progress)
        metrics = progress.close_epoch()
        if on_epoch is not None:
            on_epoch(progress, metrics)


def evaluate(network: Network, split: Split, batch_size: int = EVAL_BATCH) -> tuple[float, Tensor]:
    """Argmin accuracy on ``split`` and the output ẑ (N, C) on the CPU."""
    outputs = [network.forward(z0)[-1].cpu() for z0, _ in split.batches(batch_size)]
    z_hat = torch.cat(outputs)
    return argmin_accuracy(z_hat, split.labels), z_hat


def argmin_accuracy(z_hat: Tensor, labels: Tensor) -> float:
    """Fraction of samples whose earliest output spike (argmin of ẑ) is their label (NaN for none)."""
    return float((z_hat.argmin(dim=1) == labels.cpu()).double().mean()) if len(labels) else float("nan")


def evaluate_on_ranks(network: Network, split: Split, context: DistributedContext,
                      batch_size: int = EVAL_BATCH) -> tuple[float, Tensor]:  # fmt: skip
    """:func:`evaluate` with the batches split over the torchrun ranks (contiguous runs of whole batches,
    so every batch is computed as one process computes it) and ẑ gathered (float64, on the CPU): the same
    accuracy and ẑ as one process. ``split`` on the network's device."""
    batches = math.ceil(len(split) / batch_size)
    bounds = [min(len(split), batch_size * sum(context.slice_sizes(batches)[:rank]))
              for rank in range(context.world_size + 1)]  # fmt: skip
    low, high = bounds[context.rank], bounds[context.rank + 1]
    classes = layer_sizes(network.layers)[-1]
    local = [network.forward(z0)[-1].cpu().double() for z0, _ in Split(split.z0[low:high],
             split.labels[low:high]).batches(batch_size)]  # fmt: skip
    z_local = torch.cat(local) if local else torch.empty((0, classes), dtype=torch.float64)
    sizes = [b - a for a, b in itertools.pairwise(bounds)]
    z_hat = context.gather_slices(z_local, sizes)
    return argmin_accuracy(z_hat, split.labels), z_hat


# -- spike task (multi-spike input layer, online) ----------------------------------------------------------


def trial_tensors(trial: SpikeTrial, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """A trial's event times (s, float64) and afferent indices as tensors on ``device``."""
    return torch.from_numpy(trial.times).to(device), torch.from_numpy(trial.afferents).to(device)


def train_trials(
    network: MultiSpikeNetwork,
    trials: Sequence[SpikeTrial],
    settings: TaskSettings,
    progress: Progress,
    *,
    device: torch.device | str = "cpu",
    on_batch: Callable[[Progress], None] | None = None,
    on_epoch: Callable[[Progress, dict[str, float]], None] | None = None,
) -> None:
    """Online training (one update per trial, fixed trial order) until ``settings.epochs`` epochs are done."""
    while progress.epoch < settings.epochs:
        lr_w = settings.learning_rate(progress.epoch)
        for trial in trials[progress.batch :]:
            times, afferents = trial_tensors(trial, device)
            progress.add(network.train_step(times, afferents, trial.label, lr_w, settings.lr_p), 1)
            if on_batch is not None:
                on_batch(progress)
        metrics = progress.close_epoch()
        if on_epoch is not None:
            on_epoch(progress, metrics)


def evaluate_trials(
    network: MultiSpikeNetwork, trials: Sequence[SpikeTrial], device: torch.device | str = "cpu"
) -> tuple[float, Tensor]:
    """Argmin accuracy over ``trials`` and the output ẑ (N, C) on the CPU."""
    if not trials:
        return float("nan"), torch.empty((0, network.n_classes), dtype=torch.float64)
    z_hat = torch.cat([network.forward(*trial_tensors(trial, device))[-1].cpu() for trial in trials])
    labels = torch.tensor([trial.label for trial in trials])
    return float((z_hat.argmin(dim=1) == labels).double().mean()), z_hat


def evaluate_trials_on_ranks(network: MultiSpikeNetwork, trials: Sequence[SpikeTrial],
                             context: DistributedContext,
                             device: torch.device | str = "cpu") -> tuple[float, Tensor]:  # fmt: skip
    """:func:`evaluate_trials` with the trials split over the torchrun ranks and ẑ gathered (each trial is
    computed alone, so the result is one process's)."""
    mine = context.slice_range(len(trials))
    _, z_local = evaluate_trials(network, trials[mine.start : mine.stop], device)
    z_hat = context.gather_slices(z_local.double(), context.slice_sizes(len(trials)))
    return argmin_accuracy(z_hat, torch.tensor([trial.label for trial in trials])), z_hat
