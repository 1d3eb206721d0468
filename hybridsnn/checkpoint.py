"""Checkpoints: safetensors files whose metadata names the model, its config and the format version.

Loading never executes code. A checkpoint written for another model, by another format version, with
metadata of the wrong JSON type, with NaN or infinite values, or with tensors whose names or shapes differ
from what the loader expects is refused with one clear line.

Nested state (torch ``state_dict`` of a model or optimiser) is stored flat: tensor names are ``/``-joined
paths (``model/fc.weight``, ``optim/state/0/exp_avg``) and the non-tensor leaves (step counts, learning
rates, param groups) go into the ``extra`` JSON metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from hybridsnn.atomic import json_default, write_with
from hybridsnn.checks.arrays import non_finite_count
from hybridsnn.errors import CheckpointError

FORMAT_NAME = "hybridsnn-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint: arrays by name, the model name, its resolved config and extra metadata."""

    tensors: dict[str, np.ndarray]
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def subtree(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays under ``prefix/`` with the prefix removed (e.g. ``subtree("model")``)."""
        head = prefix.rstrip("/") + "/"
        return {k[len(head) :]: v for k, v in self.tensors.items() if k.startswith(head)}


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.asarray(value, order="C")  # contiguous, and 0-dim arrays stay 0-dim


def save_checkpoint(
    path: str | os.PathLike[str],
    tensors: Mapping[str, Any],
    *,
    model: str,
    config: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Atomically write ``tensors`` (numpy arrays or torch tensors) with model/config/extra metadata."""
    arrays = {name: _to_numpy(value) for name, value in tensors.items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "model": model,
        "config": json.dumps(dict(config or {}), sort_keys=True, default=json_default),
        "extra": json.dumps(dict(extra or {}), sort_keys=True, default=json_default),
    }
    return write_with(path, lambda tmp: save_file(arrays, str(tmp), metadata=metadata))


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    expected_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Checkpoint:
    """Read a checkpoint, refusing a missing/malformed file, another model, or unexpected shapes."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a folder; expected a .safetensors file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a readable safetensors file ({exc})"
        ) from None
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a hybridsnn checkpoint (no '{FORMAT_NAME}' tag)"
        )
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {version!r}; "
            f"this hybridsnn reads version {FORMAT_VERSION}"
        )
    stored_model = metadata.get("model", "")
    if model is not None and stored_model != model:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by model {stored_model!r}, not {model!r}"
        )
    try:
        config = json.loads(metadata.get("config", "{}"))
        extra = json.loads(metadata.get("extra", "{}"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has corrupt metadata ({exc})") from None
    for key, value in (("config", config), ("extra", extra)):
        if not isinstance(value, dict):
            found = type(value).__name__
            where = f"checkpoint {str(path)!r}: metadata"
            raise CheckpointError(f"{where} {key!r} must be an object, not {found}")
    for name, array in tensors.items():
        bad = non_finite_count(array)
        if bad:
            raise CheckpointError(
                f"checkpoint {str(path)!r}: tensor {name!r} holds {bad} NaN or infinite value(s); "
                "a usable checkpoint holds finite numbers only"
            )
    if expected_shapes is not None:
        check_shapes(tensors, expected_shapes, source=str(path))
    return Checkpoint(tensors=tensors, model=stored_model, config=config, extra=extra, path=path)


def check_shapes(
    tensors: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]], *, source: str
) -> None:
    """Raise a one-line :class:`CheckpointError` if a tensor is missing or has another shape."""
    for name, shape in expected.items():
        if name not in tensors:
            raise CheckpointError(f"checkpoint {source!r} lacks tensor {name!r}; it has {sorted(tensors)}")
        got = tuple(tensors[name].shape)
        if got != tuple(shape):
            raise CheckpointError(
                f"checkpoint {source!r}: tensor {name!r} has shape {got}, the model expects {tuple(shape)}"
            )


def flatten_state(state: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a nested state dict into (tensors by ``/``-path, JSON-able non-tensor leaves by path)."""
    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            sub_t, sub_s = flatten_state(value, name + "/")
            tensors.update(sub_t)
            scalars.update(sub_s)
            if not value:
                scalars[name] = {}
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            tensors[name] = value
        else:
            scalars[name] = value
    return tensors, scalars


def unflatten_state(
    tensors: Mapping[str, Any], scalars: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Inverse of :func:`flatten_state` for the entries under ``prefix``; integer keys are restored."""
    root: dict[str, Any] = {}
    for flat in (tensors, scalars):
        for name, value in flat.items():
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            node = root
            for part in parts[:-1]:
                node = node.setdefault(_key(part), {})
            node[_key(parts[-1])] = value
    return root


def _key(part: str) -> str | int:
    return int(part) if part.isdigit() else part
