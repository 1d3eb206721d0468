"""Save and restore torch training state (models, optimisers, schedulers) in hybridsnn checkpoints.

Each object is stored under its name: tensors as ``<name>/<path>`` safetensors entries, the non-tensor leaves
(step counts, learning rates, param groups, milestones) as JSON in the checkpoint's ``extra["state"]``.
Restoring reads only arrays and JSON, so loading a checkpoint never executes code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from hybridsnn.checkpoint import Checkpoint, flatten_state, unflatten_state
from hybridsnn.errors import CheckpointError, UserError

STATE_KEY = "state"


@runtime_checkable
class Stateful(Protocol):
    """Anything with torch-style ``state_dict``/``load_state_dict`` (modules, optimisers, schedulers)."""

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> Any: ...


def checkpoint_payload(
    objects: Mapping[str, Stateful], **extra: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, extra)`` for :meth:`hybridsnn.results.Run.save_checkpoint` holding every object's state.

    ``extra`` keyword values (epoch, step, …) are stored beside the state; they must be JSON-able.
    """
    if STATE_KEY in extra:
        raise UserError(f"checkpoint extra key {STATE_KEY!r} is reserved for the training state")
    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for name, obj in objects.items():
        if not name or "/" in name:
            raise UserError(f"state name {name!r} must be non-empty and contain no '/'")
        obj_tensors, obj_scalars = flatten_state(obj.state_dict(), prefix=f"{name}/")
        tensors.update(obj_tensors)
        scalars.update(obj_scalars)
    return tensors, {**extra, STATE_KEY: {"names": list(objects), "scalars": scalars}}


def restore_state(checkpoint: Checkpoint, objects: Mapping[str, Stateful]) -> None:
    """Load each object's state from ``checkpoint`` (written via :func:`checkpoint_payload`) in place.

    Raises :class:`CheckpointError` if an object is missing from the checkpoint or does not match it.
    """
    source = str(checkpoint.path) if checkpoint.path is not None else "<checkpoint>"
    meta = checkpoint.extra.get(STATE_KEY)
    if not isinstance(meta, Mapping) or "names" not in meta:
        raise CheckpointError(f"checkpoint {source!r} holds no training state")
    tensors = {key: torch.from_numpy(array) for key, array in checkpoint.tensors.items()}
    scalars = meta.get("scalars", {})
    for name, obj in objects.items():
        if name not in meta["names"]:
            raise CheckpointError(
                f"checkpoint {source!r} holds no state for {name!r}; it has {meta['names']}"
            )
        loaded = unflatten_state(tensors, scalars, prefix=f"{name}/")
        try:
            obj.load_state_dict(_match_types(obj.state_dict(), loaded))
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {source!r} does not fit {name!r}: {_summary(exc)}") from None


def _summary(exc: BaseException) -> str:
    """torch's ``load_state_dict`` error (a heading, then one line per problem): its first problem and how
    many more there are."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    problems = lines[1:] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines
    if len(problems) <= 1:
        return " ".join(problems) or type(exc).__name__
    return f"{problems[0]} (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"


def _match_types(template: Any, loaded: Any) -> Any:
    """Give ``loaded`` (from JSON) the container types of ``template``: tuples and Counters come back."""
    if isinstance(template, Mapping) and isinstance(loaded, Mapping):
        matched = {
            key: _match_types(template[key], value) if key in template else value
            for key, value in loaded.items()
        }
        return Counter(matched) if isinstance(template, Counter) else matched
    if isinstance(template, (list, tuple)) and isinstance(loaded, list) and len(template) == len(loaded):
        items = [_match_types(t, value) for t, value in zip(template, loaded, strict=True)]
        return tuple(items) if isinstance(template, tuple) else items
    return loaded
