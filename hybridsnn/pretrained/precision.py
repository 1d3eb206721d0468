"""The effect of float16 storage on a shipped model (maintainers; docs/pretrained.md, «Storage precision»).

``python -m hybridsnn.pretrained.precision NAME --test-args "ARGS"`` tests the model as shipped (float32)
and a copy whose floating tensors are rounded to float16 (exactly the values that float16 storage would give
back once loaded as float32) with the same ``hybridsnn test MODEL --checkpoint ... ARGS`` (the card's
metric), and records both in the model's card under ``float16``, with the change in accuracy points and the
bytes the checkpoint would take in float16. The rule of the zoo: float16 storage only where the change is
below :data:`MAX_CHANGE_POINTS`. The manifest entry of the model is rewritten (its card changed).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.errors import one_line_errors
from hybridsnn.pretrained.build import record_in_manifest, subset_metric
from hybridsnn.pretrained.catalog import CARD_FILE, shipped, zoo_root

#: The largest change of test accuracy (points, i.e. percent of the test set) that float16 storage may make.
MAX_CHANGE_POINTS = 0.1


def rounded_to_float16(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``tensors`` with every floating array rounded to the nearest float16 (kept in its own dtype; a value
    beyond ±65504 becomes ±inf, counted by :func:`overflows`); other arrays (integers, booleans) unchanged."""
    with np.errstate(over="ignore"):
        return {name: value.astype(np.float16).astype(value.dtype) if np.issubdtype(value.dtype, np.floating)
                else value for name, value in tensors.items()}  # fmt: skip


def overflows(tensors: dict[str, np.ndarray], rounded: dict[str, np.ndarray]) -> int:
    """Finite values of ``tensors`` that are infinite in ``rounded``."""
    return sum(int(np.sum(np.isfinite(tensors[name]) & ~np.isfinite(value)))
               for name, value in rounded.items() if np.issubdtype(value.dtype, np.floating))  # fmt: skip


def float16_bytes(tensors: dict[str, np.ndarray]) -> int:
    """The bytes of the tensors' data with every floating array stored as float16."""
    return sum(value.size * 2 if np.issubdtype(value.dtype, np.floating) else value.nbytes
               for value in tensors.values())  # fmt: skip


def float16_effect(name: str, test_args: list[str]) -> dict[str, Any]:
    """Measure and record the effect of float16 storage on the shipped model ``name`` (module docstring);
    returns the card's new ``float16`` entry."""
    root = zoo_root()
    entry = shipped(name, root)
    metric = str(entry.card["metric"])
    stored = load_checkpoint(entry.checkpoint)
    float32 = subset_metric(entry.model, entry.checkpoint, entry.flag, test_args, metric)
    half = rounded_to_float16(stored.tensors)
    with tempfile.TemporaryDirectory(prefix="hybridsnn-float16-") as scratch:
        copy = Path(scratch) / name
        shutil.copytree(entry.folder, copy)
        rounded = copy / str(entry.card["checkpoint"])
        save_checkpoint(rounded, half, model=stored.model,
                        config=stored.config, extra=stored.extra)  # fmt: skip
        float16 = subset_metric(entry.model, rounded, entry.flag, test_args, metric)
    change = 100.0 * (float16 - float32)
    effect = {
        "test_args": test_args,
        "float32_accuracy": float32,
        "float16_accuracy": float16,
        "change_points": round(change, 4),
        "float16_allowed": abs(change) < MAX_CHANGE_POINTS,
        "overflows": overflows(stored.tensors, half),
        "tensor_bytes_float32": int(sum(v.nbytes for v in stored.tensors.values())),
        "tensor_bytes_float16": float16_bytes(stored.tensors),
        "stored": "float32",
    }
    card = {**entry.card, "float16": effect}
    write_json(entry.folder / CARD_FILE, card)
    record_in_manifest(root, name)
    return effect


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """Command line of the float16 check."""
    parser = argparse.ArgumentParser(prog="python -m hybridsnn.pretrained.precision", description=__doc__)
    parser.add_argument("name", help="a shipped model")
    parser.add_argument("--test-args", default="", help="flags of the test ('--task mnist'); default: none, "
                        "the full test set")  # fmt: skip
    args = parser.parse_args(argv)
    effect = float16_effect(args.name, shlex.split(args.test_args))
    print(f"{args.name}: float32 {effect['float32_accuracy']:.4f}, float16 {effect['float16_accuracy']:.4f} "
          f"({effect['change_points']:+.2f} points; float16 allowed: {effect['float16_allowed']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
