"""Figures of Shifting Learning (matplotlib, Agg, PNG): a run's accuracy and loss curves per epoch and the
output spike times per true class (``hybridsnn plot shifting RUN``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hybridsnn import plots
from hybridsnn.atomic import write_with
from hybridsnn.errors import UserError
from hybridsnn.results import read_metrics
from hybridsnn.shifting.reporting import OUTPUTS_FILE, read_outputs


def output_spike_times(
    labels: np.ndarray, z_hat: np.ndarray, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Scatter of every output neuron's spike time t = ln ẑ per sample, grouped by the sample's true class.

    The neuron of the true class (which should fire first) is drawn in red, the others in grey; the class
    decision is the earliest output spike. Non-firing neurons sit at ln(1e5 · e_tp) ≈ 11.5.
    """
    labels = np.asarray(labels, dtype=np.int64)
    z_hat = np.asarray(z_hat, dtype=np.float64)
    if z_hat.ndim != 2 or len(labels) != len(z_hat) or len(labels) == 0:
        raise UserError(
            f"need labels (N,) and outputs (N, C) with N > 0, got {labels.shape} and {z_hat.shape}"
        )
    times = np.log(np.clip(z_hat, 1e-30, None))
    n_classes = z_hat.shape[1]
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.3, 0.3, size=z_hat.shape)
    x = labels[:, None] + jitter
    true = np.arange(n_classes)[None, :] == labels[:, None]
    fig = Figure(figsize=(max(6.0, 0.45 * n_classes + 3), 4.5), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(x[~true], times[~true], s=4, c="0.6", alpha=0.5, label="other output neurons")
    ax.scatter(x[true], times[true], s=6, c="tab:red", alpha=0.8, label="neuron of the true class")
    ax.set_xticks(range(n_classes))
    ax.set_xlabel("true class")
    ax.set_ylabel("output spike time ln ẑ (time units)")
    accuracy = float((z_hat.argmin(axis=1) == labels).mean())
    ax.set_title(title or f"output spike times per class (argmin accuracy {accuracy:.3f})")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return write_with(Path(path), lambda tmp: fig.savefig(tmp, format="png"))


def plot_run(run_dir: Path, out: Path) -> list[Path]:
    """Training curves (accuracy and loss per epoch) and the output spike times per true class of the run
    in ``run_dir``, written under ``out``; a one-line error when it holds nothing to plot."""
    records = [r for r in read_metrics(run_dir) if r.get("epoch") is not None]
    for record in records:  # a hand-edited log: numbers only, or the curves would fail half-way
        for key in ("epoch", "accuracy", "loss"):
            value = record.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise UserError(f"the metrics log of {str(run_dir)!r} holds {key} {value!r}; expected a "
                                "number")  # fmt: skip
    spike_times = read_outputs(run_dir / OUTPUTS_FILE)
    written: list[Path] = []
    if any("accuracy" in r for r in records):
        written.append(
            plots.accuracy_curves(
                records, out / "accuracy.png", x="epoch", title="Shifting Learning: accuracy"
            )
        )
    if any("loss" in r for r in records):
        written.append(
            plots.accuracy_curves(
                records,
                out / "loss.png",
                metrics=("loss",),
                x="epoch",
                ylabel="Σ(p − q)² / B",
                title="training monitor",
            )
        )
    if spike_times is not None:
        labels, z_hat, split = spike_times
        written.append(
            output_spike_times(
                labels, z_hat, out / "output_spike_times.png", title=f"output spike times, {split}"
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no shifting metrics or outputs to plot")
    return written
