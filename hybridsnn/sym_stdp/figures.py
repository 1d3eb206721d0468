"""The figures of a sym-STDP run (``hybridsnn plot sym-stdp RUN``), drawn from its checkpoints and metrics.

Receptive fields (P2E weights, one H×W tile per hidden neuron — 28×28 for MNIST — weights 0..1), the
weight-evolution GIF over the ``samples-*`` checkpoints, the E2C heat map, the θ histogram (mV), the hidden
spikes per training sample, the accuracy curves and the last evaluation's SL/USL confusion matrices. Every
file read is checked first.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.sym_stdp import monitor as train_monitor
from hybridsnn.sym_stdp.system import SYSTEM
from hybridsnn.sym_stdp.weights import load_trained, load_weights

#: Colour-bar label of the P2E mosaics: weights are dimensionless conductance increments (docs/sym_stdp.md).
P2E_UNIT = "P2E weight (dimensionless)"


def plot_run(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw the figures of ``run_dir`` into ``out`` (default ``run_dir/plots``); the paths written."""
    from hybridsnn import plots
    from hybridsnn.results import read_metrics

    checkpoints = sorted(p for p in (run_dir / "checkpoints").glob("samples-*.safetensors")
                         if re.fullmatch(r"samples-\d+", p.stem))  # fmt: skip
    final = run_dir / "checkpoints" / "final.safetensors"
    if not final.is_file() and not checkpoints:
        raise UserError(f"{str(run_dir)!r} has no sym-STDP checkpoints to plot")
    out = out if out is not None else run_dir / "plots"
    source = final if final.is_file() else checkpoints[-1]
    last, trained = load_trained(str(source))
    if "e2c" not in last:
        raise CheckpointError(f"checkpoint {str(source)!r} has no E2C (output layer) weights to plot")
    series = [load_weights(str(p))[0]["p2e"] for p in checkpoints]  # each one checked before drawing
    monitor, seen = _training_monitor(run_dir / "checkpoints" / "last.safetensors", last["p2e"].shape[1])
    records = [r for r in read_metrics(run_dir) if isinstance(r.get("sl_accuracy"), (int, float))]
    confusions = _last_confusions(records, run_dir, len(trained.classes))
    written = [
        plots.receptive_field_mosaic(
            last["p2e"],
            out / "receptive_fields.png",
            image_shape=trained.input_shape,
            vmin=0.0,
            vmax=1.0,
            title="P2E receptive fields",
            colorbar_label=P2E_UNIT,
        ),
        plots.heatmap(
            last["e2c"],
            out / "e2c_weights.png",
            xlabel="output neuron (class)",
            ylabel="hidden neuron",
            title="E2C weights",
            colorbar_label="E2C weight (dimensionless)",
        ),
        plots.histogram(
            last["theta"],
            out / "theta.png",
            xlabel="θ (mV)",
            ylabel="hidden neurons",
            title="adaptive threshold",
        ),
    ]
    if monitor is not None and seen.any():
        spikes = monitor[seen].sum(axis=1, dtype=np.int64)
        written.append(
            plots.histogram(
                spikes,
                out / "hidden_spike_counts.png",
                xlabel="hidden spikes per sample",
                ylabel="training samples",
                title="response of the hidden layer",
            )
        )
    if checkpoints:
        labels = [f"after {int(p.stem.split('-')[1])} samples" for p in checkpoints]
        written.append(
            plots.weight_evolution_gif(
                series,
                out / "weight_evolution.gif",
                labels=labels,
                image_shape=trained.input_shape,
                vmin=0.0,
                vmax=1.0,
                colorbar_label=P2E_UNIT,
            )
        )
    if records:
        if len(records) > 1:
            written.append(
                plots.accuracy_curves(
                    records,
                    out / "accuracy.png",
                    metrics=("sl_accuracy", "usl_accuracy"),
                    split="test",
                    xlabel="training samples",
                    ylabel="test accuracy",
                )
            )
        for kind, matrix in confusions.items():
            written.append(plots.plot_confusion(matrix, out / f"confusion_{kind}.png",
                                                title=f"{kind.upper()} confusion"))  # fmt: skip
    return written


def _training_monitor(state_file: Path, n_hidden: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The hidden spike counts per training sample and their 'seen' flags of the ``last`` checkpoint
    (None, None without one)."""
    state = load_checkpoint(state_file, model=SYSTEM.name).tensors if state_file.is_file() else {}
    if "seen" not in state:
        return None, None
    return train_monitor.unpack(state, len(state["seen"]), n_hidden, str(state_file))


def _last_confusions(records: list[dict], run_dir: Path, n_classes: int) -> dict[str, np.ndarray]:
    """The SL and USL confusion matrices (K×K counts, K = ``n_classes``) of the last evaluation."""
    confusions = {}
    if records:
        for kind in ("sl", "usl"):
            matrix = np.array(records[-1].get(f"{kind}_confusion"), dtype=object)
            shape = (n_classes, n_classes)
            if matrix.shape != shape or not all(isinstance(v, int) for v in matrix.flat):
                size = f"{n_classes}x{n_classes}"
                raise UserError(f"the metrics log of {str(run_dir)!r}: the last evaluation's "
                                f"{kind}_confusion is not a {size} matrix of counts")  # fmt: skip
            confusions[kind] = matrix.astype(np.int64)
    return confusions
