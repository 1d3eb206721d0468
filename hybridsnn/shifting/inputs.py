"""The ``--input`` files of ``predict shifting``, read and checked: XOR features (unitless, 0..1), Iris
measurements (cm, 0..100), images (.npy, IDX, PNG) and one spike-task trial (.npz, times in seconds).

Features and images become input times z0 = exp(1 − x) (:mod:`hybridsnn.shifting.data`); a spike trial
stays an event list (:class:`~hybridsnn.shifting.spike_task.SpikeTrial`, label −1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from hybridsnn.checks.arrays import check_numeric_array
from hybridsnn.checks.paths import check_readable_file
from hybridsnn.errors import UserError
from hybridsnn.shifting.data import IMAGE_DATASETS, encode_features, encode_images, scale_iris
from hybridsnn.shifting.spike_task import SpikeTaskConfig, SpikeTrial

#: Allowed feature values of the predict inputs (xor: features; iris: measurements in cm).
FEATURE_RANGES = {"xor": (0.0, 1.0, "features in [0, 1]"), "iris": (0.0, 100.0, "measurements in cm, 0..100")}
SPIKE_TRIAL_S = SpikeTaskConfig().duration_s  # length of a spike-task trial, s
MNIST_SHAPE = (28, 28)  # (H, W) of the catalogued image tasks' images


def starts_with(path: Path, magic: bytes) -> bool:
    """Whether the file at ``path`` begins with the bytes ``magic`` (a format's signature)."""
    with open(path, "rb") as handle:
        return handle.read(len(magic)) == magic


def read_features(path: str, n_features: int, task: str | None = None) -> np.ndarray:
    """Samples (N, n_features) from ``.npy`` or a text file (comma or whitespace separated), finite numbers
    (within the task's :data:`FEATURE_RANGES`); a 1-D array is one sample."""
    where = f"input {path!r}"
    source = check_readable_file(path, f"input file {path!r}")
    rows: list[list[float]] = []
    try:
        if source.suffix == ".npy":
            if not starts_with(source, b"\x93NUMPY"):
                raise ValueError("no .npy header")
            values = np.load(source, allow_pickle=False)
        else:
            text = source.read_text(encoding="utf-8").replace(",", " ")
            rows = [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{where} is not readable as numbers (.npy, or text with one sample per row): "
                        f"{exc}") from None  # fmt: skip
    if source.suffix != ".npy":
        if len({len(row) for row in rows}) > 1:
            raise UserError(f"{where} has rows of different lengths; expected {n_features} numbers a row")
        values = np.array(rows)
    values = check_numeric_array(np.asarray(values), where)
    if values.ndim == 1:
        values = values[None]
    if values.ndim != 2 or values.shape[1] != n_features:
        raise UserError(f"{where} holds shape {values.shape}; expected rows of {n_features} features, "
                        f"(N, {n_features})")  # fmt: skip
    if task in FEATURE_RANGES:
        low, high, allowed = FEATURE_RANGES[task]
        if values.min() < low or values.max() > high:
            raise UserError(f"{where} holds values {values.min():g}..{values.max():g}; {task} takes "
                            f"{allowed}")  # fmt: skip
    return values.astype(np.float64)


def read_spike_trial(path: str, n_inputs: int) -> SpikeTrial:
    """One trial from an ``.npz`` with ``times`` (s, within the trial) and ``afferents`` (0..n_inputs-1)."""
    where = f"input {path!r}"
    source = check_readable_file(path, f"input file {path!r}")
    try:
        if not starts_with(source, b"PK"):  # an .npz is a zip archive of .npy arrays
            raise ValueError("not an .npz archive")
        with np.load(source, allow_pickle=False) as data:
            missing = [key for key in ("times", "afferents") if key not in data.files]
            if missing:
                found = ", ".join(data.files) or "none"
                raise ValueError(f"no {' or '.join(missing)} array in it (it has {found})")
            times, afferents = np.asarray(data["times"]), np.asarray(data["afferents"])
    except (OSError, ValueError, EOFError, AttributeError, TypeError) as exc:
        raise UserError(f"{where} is not a spike trial (.npz with 'times' and 'afferents'): {exc}") from None
    times = check_numeric_array(times, f"{where}: times")
    afferents = check_numeric_array(afferents, f"{where}: afferents")
    if times.ndim != 1 or times.shape != afferents.shape:
        raise UserError(f"{where}: times {times.shape} and afferents {afferents.shape} must be vectors of "
                        "one length, one entry per spike")  # fmt: skip
    if afferents.dtype.kind not in "iu" and not np.all(afferents == np.round(afferents)):
        raise UserError(f"{where}: afferents hold fractional values; expected input indices "
                        f"0..{n_inputs - 1}")  # fmt: skip
    if afferents.min() < 0 or afferents.max() >= n_inputs:
        raise UserError(f"{where}: afferents range {afferents.min():g}..{afferents.max():g}; expected input "
                        f"indices 0..{n_inputs - 1}")  # fmt: skip
    if times.min() < 0 or times.max() > SPIKE_TRIAL_S:
        raise UserError(f"{where}: times range {times.min():g}..{times.max():g} s; a trial lasts "
                        f"0..{SPIKE_TRIAL_S:g} s")  # fmt: skip
    order = np.argsort(times, kind="stable")
    return SpikeTrial(times[order].astype(np.float64), afferents[order].astype(np.int64), -1, np.empty(0),
                      np.empty(0))  # fmt: skip


def predict_inputs(
    args: argparse.Namespace, n_inputs: int, encoding: str, image_shape: tuple[int, ...] = MNIST_SHAPE
) -> torch.Tensor | list[SpikeTrial]:
    """The ``--input`` files as z0 (N, I), or as spike trials for the spikes task; images must be of
    ``image_shape``, (H, W) or (H, W, C): the network's (28x28 for MNIST, a user dataset's own)."""
    if args.task == "spikes":
        return [read_spike_trial(path, n_inputs) for path in args.input]
    if args.task in IMAGE_DATASETS:
        from hybridsnn.data import read_image_file

        channels = image_shape[2] if len(image_shape) == 3 else 1
        shape = (channels, image_shape[0], image_shape[1])
        images = np.concatenate([read_image_file(path, shape) for path in args.input])
        return encode_images(images, encoding)
    x = np.concatenate([read_features(path, n_inputs, args.task) for path in args.input])
    return encode_features(scale_iris(x, args.data_root) if args.task == "iris" else x)
