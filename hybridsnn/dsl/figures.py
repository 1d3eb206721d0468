"""The figures of a DSL run directory: accuracy curves, per-block local accuracies, confusion matrix."""

from __future__ import annotations

from pathlib import Path

from hybridsnn import metrics
from hybridsnn.dsl.confusion import CONFUSION_FILE, read_confusion
from hybridsnn.errors import UserError
from hybridsnn.results import read_metrics


def plot_run(run_dir: Path, out: Path) -> list[Path]:
    """Draw the figures ``run_dir`` has data for into ``out``; their paths (a one-line error if none)."""
    from hybridsnn import plots

    records = read_metrics(run_dir)
    written = []
    if any(r.get("epoch") is not None and "accuracy" in r for r in records):
        written.append(
            plots.accuracy_curves(
                run_dir, out / "accuracy.png", x="epoch", title="DSL: network accuracy (last classifier)"
            )
        )
    layers = sorted({k for r in records for k in r if k.startswith("layer") and k.endswith("_accuracy")})
    if layers and any(r.get("epoch") is not None for r in records):
        written.append(
            plots.accuracy_curves(
                run_dir,
                out / "local_accuracies.png",
                metrics=layers,
                split="test",
                x="epoch",
                title="DSL: local classifiers (test)",
            )
        )
    confusion = run_dir / CONFUSION_FILE
    if confusion.is_file():
        dataset, labels, predictions, classes = read_confusion(confusion)
        cm = metrics.confusion_matrix(labels, predictions, n_classes=classes)
        written.append(plots.plot_confusion(cm, out / "confusion.png", title=f"DSL {dataset} (test)"))
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no DSL metrics or confusion matrix to plot")
    return written
