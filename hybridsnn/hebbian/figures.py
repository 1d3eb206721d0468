"""Figures of a hebbian associations run (``hybridsnn plot hebbian RUN_DIR``).

* ``accuracy.png`` — validation accuracy per epoch; ``ood.png`` — test accuracy vs stored pairs;
* for one test example (seed: the test set's): a spike raster per population (encoders, write keys/values,
  read keys/values; SNN only), the final memory matrix and the class scores of the read-out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hybridsnn import plots
from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.errors import UserError
from hybridsnn.hebbian.data import association_sequences
from hybridsnn.hebbian.networks import AssociationConfig

ModelLoader = Callable[[Any, torch.device], tuple[torch.nn.Module, dict[str, Any]]]


def plot_example(model: torch.nn.Module, settings: Mapping[str, Any], out: Path) -> list[Path]:
    """Rasters, memory and output of one test example (1 ms steps)."""
    config = AssociationConfig.from_mapping(settings)
    example = association_sequences(
        1,
        settings["sequence_length"],
        config.num_classes,
        config.feature_size,
        seed=settings["dataset_seed"] + 1,
    )
    model.eval()
    with torch.no_grad():
        scores, populations = model(example.features, example.labels, example.query)
    written = []
    for name, spikes in populations.items():
        rate = float(spikes.mean()) * 1000.0
        written.append(
            plots.spike_raster_matrix(
                spikes[:, 0], out / f"raster_{name}.png", dt_ms=1.0, title=f"{name} ({rate:.1f} Hz mean)"
            )
        )
    memory = getattr(model, "last_memory", None)
    if memory is not None:
        written.append(
            plots.heatmap(
                memory[0],
                out / "memory.png",
                xlabel="key neuron",
                ylabel="value neuron",
                title="memory after the store phase",
                cmap="RdBu_r",
                colorbar_label="weight",
            )
        )
    labels = ", ".join(str(int(v)) for v in example.labels[0])
    written.append(
        plots.line_curves(
            list(range(config.num_classes)),
            {"score": scores[0]},
            out / "output.png",
            xlabel="class",
            ylabel="read-out score",
            title=f"stored labels {labels}; target {int(example.target[0])}, "
            f"predicted {int(scores[0].argmax())}",
        )
    )
    return written


def plot_run(
    run_dir: Path, out: Path, records: Sequence[Mapping[str, Any]], load_model: ModelLoader
) -> list[Path]:
    """All figures a run directory supports; a one-line error if it has none."""
    written = []
    if any(r.get("split") == "val" and r.get("epoch") is not None for r in records):
        written.append(
            plots.accuracy_curves(
                records,
                out / "accuracy.png",
                split="val",
                x="epoch",
                title="memorizing associations: validation accuracy",
            )
        )
    ood = run_dir / "ood.json"
    if ood.is_file():
        data = json.loads(ood.read_text(encoding="utf-8"))
        written.append(
            plots.line_curves(
                data["lengths"],
                {data["network"]: data["accuracy"]},
                out / "ood.png",
                xlabel="stored pairs (sequence length)",
                ylabel="test accuracy",
                title=f"trained with {data['trained_length']} pairs",
            )
        )
    best = run_dir / "checkpoints" / "best.safetensors"
    if best.is_file():
        model, settings = load_model(load_checkpoint(best, model="hebbian"), torch.device("cpu"))
        written.extend(plot_example(model, settings, out))
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no hebbian metrics or checkpoint to plot")
    return written
