"""A minimal model driver used by the CLI tests: 'trains' a 2-parameter model on the xor task."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.results import Run


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--epochs", type=int, default=2, help="passes over the data")


def train(args: argparse.Namespace, run: Run) -> dict:
    """``DEMO_STOP_AT=E``: Ctrl-C after epoch E's checkpoint; ``DEMO_CRASH_AT=E``: a bug there."""
    start = 0
    w = np.full(2, float(args.seed), np.float32)
    if run.checkpoints():
        last = run.load_checkpoint("last")
        start, w = last.extra["epoch"] + 1, last.tensors["w"]
    for epoch in range(start, args.epochs):
        if str(epoch) == os.environ.get("DEMO_STOP_AT"):
            raise KeyboardInterrupt
        if str(epoch) == os.environ.get("DEMO_CRASH_AT"):
            raise RuntimeError("demo bug")
        w += 1.0
        run.log_metrics(step=epoch, epoch=epoch, split="train", loss=1.0 / (epoch + 1))
        run.save_checkpoint("last", {"w": w}, extra={"epoch": epoch})
    return run.finish({"loss": 1.0 / args.epochs}, samples=4 * args.epochs)


def test(args: argparse.Namespace, run: Run) -> dict:
    ckpt = load_checkpoint(args.checkpoint, model="demo", expected_shapes={"w": (2,)})
    return run.finish({"weight_sum": float(ckpt.tensors["w"].sum())}, samples=4)


def predict(args: argparse.Namespace, run: Run) -> dict:
    return test(args, run)


def plot(args: argparse.Namespace) -> list[Path]:
    return []
