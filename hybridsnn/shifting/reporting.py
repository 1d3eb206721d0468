"""What a Shifting Learning run reports besides ``metrics.jsonl`` and its checkpoints: the terminal progress
bar, and ``outputs.npz`` — the output ẑ (N, classes; ẑ = exp(t), t in code-time units) and the true labels
of the run's last evaluation, read back by ``plot``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from hybridsnn.atomic import write_with
from hybridsnn.checks.arrays import check_numeric_array
from hybridsnn.errors import UserError
from hybridsnn.results import Run
from hybridsnn.shifting.inputs import starts_with

OUTPUTS_FILE = "outputs.npz"


def progress_bar(total: int, initial: int, desc: str, args: argparse.Namespace, unit: str = "batch") -> tqdm:
    """A transient bar of ``total`` ``unit`` starting at ``initial`` (off with ``--no-progress``)."""
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=args.no_progress, leave=False)


def save_outputs(run: Run, labels: torch.Tensor, z_hat: torch.Tensor, split: str) -> None:
    """The output ẑ and true labels of the last evaluation, for ``plot``."""
    arrays = {"labels": labels.cpu().numpy(), "z_hat": z_hat.cpu().double().numpy(), "split": np.array(split)}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: np.savez would append ".npz" to a bare path
            np.savez(handle, **arrays)

    write_with(run.path / OUTPUTS_FILE, write)


def read_outputs(path: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The labels, output ẑ and split name a run saved in ``outputs.npz`` (None if there is none), checked."""
    if not path.is_file():
        return None
    try:
        if not starts_with(path, b"PK"):
            raise ValueError("not an .npz archive")
        with np.load(path, allow_pickle=False) as data:
            labels, z_hat, split = data["labels"], data["z_hat"], str(data["split"])
    except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise UserError(f"{str(path)!r} is not a readable outputs file of a shifting run ({exc})") from None
    labels = check_numeric_array(labels, f"{str(path)!r}: labels")
    z_hat = check_numeric_array(z_hat, f"{str(path)!r}: z_hat")
    if labels.ndim != 1 or z_hat.ndim != 2 or len(labels) != len(z_hat) or labels.dtype.kind not in "iu":
        raise UserError(f"{str(path)!r} holds labels {labels.shape} {labels.dtype} and z_hat {z_hat.shape}; "
                        "expected integer labels (N,) and outputs (N, classes)")  # fmt: skip
    return labels, z_hat, split
