"""A DSL run's ``confusion.json``: the test labels and the network's predictions of the last full evaluation,
written by ``train``/``test`` and read back, checked, by ``plot``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridsnn.atomic import write_json
from hybridsnn.checks.arrays import check_labels
from hybridsnn.dsl.data import CLASSES
from hybridsnn.dsl.training import DSLSteps
from hybridsnn.errors import UserError
from hybridsnn.results import read_json_file

CONFUSION_FILE = "confusion.json"


def save_confusion(run_dir: Path, steps: DSLSteps, dataset: str, classes: int = CLASSES) -> None:
    """Write the last complete evaluation of ``steps`` (if any) to ``run_dir/confusion.json``; ``classes``:
    the network's K (a user dataset's; the catalogued datasets have 10)."""
    if steps.last_predictions is None:
        return
    labels, predictions = steps.last_predictions
    write_json(
        run_dir / CONFUSION_FILE,
        {
            "dataset": dataset,
            "classes": classes,
            "labels": labels.tolist(),
            "predictions": predictions.tolist(),
        },
    )


def read_confusion(path: Path) -> tuple[str, np.ndarray, np.ndarray, int]:
    """``(dataset, labels, predictions, classes)`` of a run's ``confusion.json``, checked (a one-line error if
    not); ``classes``: K (10 when the file does not say)."""
    data = read_json_file(path, "confusion file")
    where = f"confusion file {str(path)!r}"
    if not isinstance(data.get("labels"), list) or not isinstance(data.get("predictions"), list):
        raise UserError(f"{where} lacks the lists 'labels' and 'predictions'")
    try:
        labels, predictions = (np.asarray(data[key], dtype=float) for key in ("labels", "predictions"))
    except (TypeError, ValueError):
        raise UserError(f"{where} holds labels or predictions that are not numbers") from None
    classes = data.get("classes", CLASSES)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise UserError(f"{where} holds classes {classes!r}; expected the number of classes, >= 2")
    labels = check_labels(labels, f"{where}: 'labels'", classes=classes)
    predictions = check_labels(predictions, f"{where}: 'predictions'", count=len(labels), classes=classes)
    return str(data.get("dataset", "?")), labels, predictions, classes
