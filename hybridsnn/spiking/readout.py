"""Read-outs of spiking layers and classification accuracy.

Spike and membrane tensors have time on ``time_dim`` (default 0, i.e. ``[T, B, N]``). Scores are ``[B, C]``.

* DSL predicts ``argmax`` of the output spike counts over all T steps (docs/dsl.md, «Model and equations»).
* HP-SNN trains on the last-step membrane divided by θ, clamped at 1.1 (docs/hp.md, «Model and equations»).
* The Hebbian memory reads the value-neuron spike counts of the last 30 recall steps and regularises firing
  rates in Hz (docs/hebbian.md, «Model and equations»).
"""

from __future__ import annotations

from torch import Tensor

from hybridsnn.errors import UserError


def _time_length(values: Tensor, time_dim: int) -> int:
    if values.dim() == 0 or values.shape[time_dim] == 0:
        raise UserError(
            f"read-out needs a non-empty time dimension {time_dim}, got shape {tuple(values.shape)}"
        )
    return int(values.shape[time_dim])


def spike_counts(spikes: Tensor, *, window: int | None = None, time_dim: int = 0) -> Tensor:
    """Spikes per neuron summed over time, or over the last ``window`` steps only."""
    steps = _time_length(spikes, time_dim)
    if window is not None:
        if not 1 <= window <= steps:
            raise UserError(f"read-out window must be between 1 and the {steps} time steps, got {window}")
        spikes = spikes.narrow(time_dim, steps - window, window)
    return spikes.sum(dim=time_dim)


def firing_rate_hz(spikes: Tensor, *, dt_ms: float = 1.0, time_dim: int = 0) -> Tensor:
    """Mean firing rate per neuron in Hz for steps of ``dt_ms`` milliseconds."""
    if dt_ms <= 0:
        raise UserError(f"dt_ms must be > 0 milliseconds, got {dt_ms}")
    steps = _time_length(spikes, time_dim)
    return spikes.sum(dim=time_dim) * (1000.0 / (steps * dt_ms))


def mean_membrane(membranes: Tensor, *, time_dim: int = 0) -> Tensor:
    """Membrane potential averaged over time (membrane units)."""
    _time_length(membranes, time_dim)
    return membranes.mean(dim=time_dim)


def final_membrane(
    membranes: Tensor, *, threshold: float = 1.0, max_value: float | None = None, time_dim: int = 0
) -> Tensor:
    """The last step's membrane divided by ``threshold``, clamped from above at ``max_value`` if given."""
    steps = _time_length(membranes, time_dim)
    scaled = membranes.select(time_dim, steps - 1) / threshold
    return scaled if max_value is None else scaled.clamp(max=max_value)


def predict(scores: Tensor) -> Tensor:
    """Predicted class per sample: ``argmax`` over the last dim (a tie, e.g. all zero, gives the first)."""
    return scores.argmax(dim=-1)


def count_correct(scores: Tensor, targets: Tensor) -> int:
    """Number of samples whose predicted class equals the integer target."""
    if scores.shape[:-1] != targets.shape:
        raise UserError(f"scores {tuple(scores.shape)} and targets {tuple(targets.shape)} do not match")
    return int((predict(scores) == targets).sum().item())


def accuracy(scores: Tensor, targets: Tensor) -> float:
    """Fraction of correctly classified samples, in [0, 1]."""
    total = targets.numel()
    if total == 0:
        raise UserError("accuracy of an empty batch is undefined")
    return count_correct(scores, targets) / total
