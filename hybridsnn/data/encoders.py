"""Spike and current encoders shared by all models. Units: rates in Hz, times and ``dt`` in ms.

Every encoder accepts a numpy array or a torch tensor and returns the same kind (a tensor stays on its
device), with time as a new leading axis: input shape ``S`` -> output ``(steps, *S)``. Spike trains are
float32 0/1 so they can be fed straight into matrix products. Random encoders take ``rng``: None (fresh
numpy generator / torch's global generator), an int seed, a ``numpy.random.Generator`` (numpy inputs) or
a ``torch.Generator`` (tensor inputs).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from hybridsnn.errors import UserError

LATENCY_MAPPINGS = ("linear", "log")


def _is_tensor(values: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(values, torch.Tensor)


def _float(values: Any) -> Any:
    """A floating-point version of ``values`` (tensor kept as tensor, float64 for numpy)."""
    if _is_tensor(values):
        return values if values.is_floating_point() else values.float()
    return np.asarray(values, dtype=np.float64)


def _check_range(values: Any, low: float, high: float, what: str) -> None:
    size = values.numel() if _is_tensor(values) else values.size
    if size == 0:
        return
    lo, hi = float(values.min()), float(values.max())
    if not (low <= lo and hi <= high):
        raise UserError(f"{what} must lie in [{low}, {high}]; got values in [{lo:g}, {hi:g}]")


def _check_steps(steps: int) -> int:
    if int(steps) < 1:
        raise UserError(f"steps must be >= 1, got {steps}")
    return int(steps)


def _uniform(shape: tuple[int, ...], like: Any, rng: Any) -> Any:
    """Uniform [0, 1) samples of ``shape`` from the generator kind matching ``like``."""
    if _is_tensor(like):
        import torch

        if isinstance(rng, np.random.Generator):
            raise UserError("a torch tensor needs rng=None, an int seed or a torch.Generator, "
                            "not a numpy Generator")
        generator = torch.Generator(device=like.device).manual_seed(rng) if isinstance(rng, int) else rng
        return torch.rand(shape, generator=generator, device=like.device)
    if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)):
        raise UserError(f"a numpy array needs rng=None, an int seed or a numpy Generator, "
                        f"not {type(rng).__name__}")
    return np.random.default_rng(rng).random(shape)


def bernoulli_spikes(probabilities: Any, steps: int, rng: Any = None) -> Any:
    """Independent spikes, each step with probability ``probabilities`` (per step, in [0, 1])."""
    p = _float(probabilities)
    _check_range(p, 0.0, 1.0, "spike probabilities per step")
    draws = _uniform((_check_steps(steps), *p.shape), p, rng)
    spikes = draws < p
    return spikes.float() if _is_tensor(spikes) else spikes.astype(np.float32)


def poisson_spikes(rates_hz: Any, steps: int, dt_ms: float, rng: Any = None) -> Any:
    """Poisson spike trains at ``rates_hz`` (Hz) for ``steps`` steps of ``dt_ms`` (ms), Bernoulli per step.

    The spike probability per step is ``p = rate[Hz] * dt[ms] / 1000``, exactly as GeNN's Poisson source;
    it must not exceed 1 (lower ``dt_ms`` for very high rates).
    """
    if dt_ms <= 0:
        raise UserError(f"dt_ms must be > 0 ms, got {dt_ms}")
    rates = _float(rates_hz)
    _check_range(rates, 0.0, 1000.0 / dt_ms, f"rates (Hz) at dt = {dt_ms} ms")
    return bernoulli_spikes(rates * (dt_ms / 1000.0), steps, rng)


def constant_current(values: Any, steps: int) -> Any:
    """``values`` repeated at every step (direct/analog input): a read-only broadcast view, no copy.

    Units are those of ``values`` (e.g. pixel intensity in [0, 1] used as an input current).
    """
    steps = _check_steps(steps)
    if _is_tensor(values):
        return values.unsqueeze(0).expand(steps, *values.shape)
    values = np.asarray(values)
    return np.broadcast_to(values, (steps, *values.shape))


def latency_times(intensity: Any, t_max_ms: float, mapping: str = "linear", tau_ms: float = 5.0,
                  threshold: float = 0.01) -> Any:
    """Time to first spike (ms) of each input intensity in [0, 1]; ``inf`` where the input never spikes.

    ``linear``: ``t = t_max * (1 - x)``: x = 1 fires at 0 ms, x = 0 at ``t_max`` (every input fires).
    ``log``: the charging time of an RC neuron driven by current x to ``threshold``:
    ``t = tau * ln(x / (x - threshold))`` for x > threshold; no spike if x <= threshold or t > t_max.
    """
    if mapping not in LATENCY_MAPPINGS:
        raise UserError(f"unknown latency mapping {mapping!r}; allowed: {', '.join(LATENCY_MAPPINGS)}")
    if t_max_ms <= 0 or tau_ms <= 0 or threshold <= 0:
        raise UserError(f"t_max_ms, tau_ms and threshold must be > 0; got {t_max_ms}, {tau_ms}, {threshold}")
    x = _float(intensity)
    _check_range(x, 0.0, 1.0, "latency intensities")
    if mapping == "linear":
        return t_max_ms * (1.0 - x)
    xp: Any = sys.modules["torch"] if _is_tensor(x) else np
    fires = x > threshold
    safe = xp.where(fires, x, xp.full_like(x, 2.0 * threshold))  # placeholder where silent: finite log
    times = tau_ms * xp.log(safe / (safe - threshold))
    return xp.where(fires & (times <= t_max_ms), times, xp.full_like(x, float("inf")))


def latency_spikes(intensity: Any, steps: int, dt_ms: float = 1.0, mapping: str = "linear",
                   t_max_ms: float | None = None, tau_ms: float = 5.0, threshold: float = 0.01) -> Any:
    """One spike per input at step ``round(t / dt_ms)`` with ``t`` from :func:`latency_times`.

    ``t_max_ms`` defaults to ``(steps - 1) * dt_ms``, so the linear mapping puts x = 1 at step 0 and x = 0
    at the last step (the DSL latency code ``round((T - 1) * (1 - x))``). Rounding is half-to-even; a
    spike that would fall after the last step is dropped.
    """
    steps = _check_steps(steps)
    t_max = (steps - 1) * dt_ms if t_max_ms is None else t_max_ms
    if t_max <= 0:
        raise UserError(f"latency coding needs t_max_ms > 0 (steps >= 2 or explicit t_max_ms), got {t_max}")
    times = latency_times(intensity, t_max, mapping, tau_ms, threshold)
    if _is_tensor(times):
        import torch

        index = torch.round(torch.nan_to_num(times / dt_ms, posinf=steps))
        grid = torch.arange(steps, device=times.device, dtype=times.dtype).reshape(-1, *([1] * times.dim()))
        return (grid == index.unsqueeze(0)).float()
    index = np.round(np.nan_to_num(times / dt_ms, posinf=steps))
    grid = np.arange(steps).reshape(-1, *([1] * times.ndim))
    return (grid == index[None]).astype(np.float32)
