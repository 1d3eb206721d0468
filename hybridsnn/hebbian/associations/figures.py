"""Figures of a hebbian associations run (``hybridsnn plot hebbian RUN_DIR``).

* ``accuracy.png`` — validation accuracy per epoch; ``ood.png`` — test accuracy vs stored pairs;
* for one test example (seed: the test set's): a spike raster per population (encoders, write keys/values,
  read keys/values; SNN only), the final memory matrix and the class scores of the read-out;
* over several runs (``plot hebbian RUN_DIR RUN_DIR ...``): ``sweep.png`` — test accuracy at the trained
  number of pairs vs that number, one curve per network (SNN vs H-Mem vs LSTM); ``ood_comparison.png`` —
  every run's accuracy-vs-stored-pairs curve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hybridsnn import plots
from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.errors import UserError
from hybridsnn.hebbian.associations.data import association_sequences
from hybridsnn.hebbian.networks import AssociationConfig
from hybridsnn.results import read_json_file

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
    """All figures a run directory supports; a one-line error if it has none. Every file the figures need
    is read (and refused if damaged) before the first figure is written."""
    curves = any(r.get("split") == "val" and r.get("epoch") is not None for r in records)
    ood = read_ood(run_dir) if (run_dir / "ood.json").is_file() else None
    best = run_dir / "checkpoints" / "best.safetensors"
    example = None
    if best.is_file():
        example = load_model(load_checkpoint(best, model="hebbian"), torch.device("cpu"))
    if not curves and ood is None and example is None:
        raise UserError(f"run directory {str(run_dir)!r} has no hebbian metrics or checkpoint to plot")
    written = []
    if curves:
        written.append(
            plots.accuracy_curves(
                records,
                out / "accuracy.png",
                split="val",
                x="epoch",
                title="memorizing associations: validation accuracy",
            )
        )
    if ood is not None:
        written.append(
            plots.line_curves(
                ood["lengths"],
                {ood["network"]: ood["accuracy"]},
                out / "ood.png",
                xlabel="stored pairs (sequence length)",
                ylabel="test accuracy (%)",
                y_scale=100.0,
                title=f"trained with {ood['trained_length']} pairs",
            )
        )
    if example is not None:
        written.extend(plot_example(*example, out))
    return written


def read_ood(run_dir: Path) -> dict[str, Any]:
    """The ``ood.json`` of a finished associations run (network, trained length, lengths, accuracy)."""
    path = Path(run_dir) / "ood.json"
    if not path.is_file():
        raise UserError(f"run directory {str(run_dir)!r} has no ood.json (not a finished associations run)")
    data = read_json_file(path, "out-of-distribution results")
    if not _is_ood(data):
        raise UserError(
            f"{str(path)!r} is not an ood.json of a hebbian associations run (network, trained_length, and "
            "equally long lists of numbers lengths and accuracy)"
        )
    return data


def _is_ood(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("network"), str):
        return False
    lengths, accuracy = data.get("lengths"), data.get("accuracy")
    if not isinstance(lengths, list) or not isinstance(accuracy, list) or len(lengths) != len(accuracy):
        return False
    numbers = [data.get("trained_length"), *lengths, *accuracy]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)


def sweep_points(results: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """Per network: (trained lengths ascending, test accuracy at the trained length); a length tested by
    several runs of one network keeps the last run's value."""
    by_network: dict[str, dict[int, float]] = {}
    for result in results:
        accuracy = dict(zip(result["lengths"], result["accuracy"], strict=True))
        if result["trained_length"] in accuracy:
            by_network.setdefault(result["network"], {})[result["trained_length"]] = accuracy[
                result["trained_length"]
            ]
    return {
        network: (sorted(points), [points[length] for length in sorted(points)])
        for network, points in by_network.items()
    }


def plot_comparison(run_dirs: Sequence[Path], out: Path) -> list[Path]:
    """``sweep.png`` and ``ood_comparison.png`` over several associations runs (SNN vs baselines)."""
    results = [read_ood(run_dir) for run_dir in run_dirs]
    written = [
        plots.xy_curves(
            sweep_points(results),
            out / "sweep.png",
            xlabel="stored pairs (trained = tested)",
            ylabel="test accuracy (%)",
            y_scale=100.0,
            title="memorizing associations: accuracy vs stored pairs",
        )
    ]
    curves = {
        f"{result['network']} (trained {result['trained_length']}, {Path(run_dir).name})": (
            result["lengths"],
            result["accuracy"],
        )
        for run_dir, result in zip(run_dirs, results, strict=True)
        if len(result["lengths"]) > 1
    }
    if curves:
        written.append(
            plots.xy_curves(
                curves,
                out / "ood_comparison.png",
                xlabel="stored pairs at test",
                ylabel="test accuracy (%)",
                y_scale=100.0,
                title="out-of-distribution lengths",
            )
        )
    return written
