"""Checkpoints of Shifting Learning: fresh and stored layers, saving, and the checks a stored state passes.

A checkpoint holds the :class:`~hybridsnn.shifting.reference.LayerParams` of every layer as tensors
``layer{l}.{w,etp,m_w,v_w,m_p,v_p}`` (:func:`hybridsnn.shifting.training.layer_tensors`) and, in its metadata,
the task, the layer sizes, one Adam step count per layer and what the task's loop continues from
(docs/shifting.md, «Usage»). Everything read back is checked and refused with one line
(:class:`~hybridsnn.errors.CheckpointError`) when it is not a network of its task.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks import values
from hybridsnn.data.user_dataset import RESTORE_OR_RESTART, TRAINED_ON, TrainedOn
from hybridsnn.errors import CheckpointError
from hybridsnn.results import Run
from hybridsnn.shifting.data import IMAGE_DATASETS
from hybridsnn.shifting.reference import LayerParams
from hybridsnn.shifting.settings import TASK_SETTINGS, TaskSettings, setting, task_dtype
from hybridsnn.shifting.system import SYSTEM, TASKS
from hybridsnn.shifting.training import Progress, layer_sizes, layer_tensors, layers_from_tensors

MODEL = SYSTEM.name  # the model name a shifting checkpoint carries
SEED_RANGE = "a seed, a whole number 0..4294967295"


def whole(value: Any, low: int, high: int | None = None) -> bool:
    """Whether a metadata value is a whole number (not a bool) in ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and values.in_range(value, low, high)


def fresh_layers(
    sizes: tuple[int, ...], seed: int, dtype: torch.dtype, device: torch.device
) -> list[LayerParams]:
    """Newly initialised layers (w ~ U[0, 8/n_in), e_tp = 1) from a CPU generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return [LayerParams.init(a, b, generator, dtype).to(device) for a, b in pairwise(sizes)]


def save_layers(
    run: Run, name: str, args: argparse.Namespace, layers: list[LayerParams], **extra: Any
) -> Path:
    """Checkpoint ``name`` of ``run``: the layers, the task, sizes and Adam steps, plus ``extra`` metadata."""
    meta = {
        "task": args.task,
        "sizes": layer_sizes(layers),
        "steps": [layer.step for layer in layers],
        **extra,
    }
    return run.save_checkpoint(name, layer_tensors(layers), extra=meta)


def load_model(path: str) -> tuple[Checkpoint, list[LayerParams]]:
    """A shifting checkpoint and its layers (float64 for the spikes task, float32 otherwise), on the CPU."""
    checkpoint = load_checkpoint(path, model=MODEL)
    return checkpoint, checked_layers(checkpoint, str(path))


def checked_layers(checkpoint: Checkpoint, source: str) -> list[LayerParams]:
    """The layers of a shifting checkpoint, refused with one line when its metadata (task, one Adam step
    count per layer), its tensors (float, chaining shapes) or its sizes (the task's inputs and outputs) are
    not a network of its task."""
    task, steps = checkpoint.extra.get("task"), checkpoint.extra.get("steps")
    if not isinstance(task, str) or task not in TASKS:
        raise CheckpointError(f"checkpoint {source!r} names the task {task!r}; shifting tasks are "
                              f"{', '.join(TASKS)}")  # fmt: skip
    if not isinstance(steps, list) or not steps or not all(whole(step, 0) for step in steps):
        raise CheckpointError(f"checkpoint {source!r}: the Adam steps {steps!r} are not a list of whole "
                              "numbers >= 0, one per layer")  # fmt: skip
    for name, array in checkpoint.tensors.items():
        if array.dtype.kind != "f":
            raise CheckpointError(f"checkpoint {source!r}: {name} holds {array.dtype} values; expected "
                                  "floats")  # fmt: skip
    layers = layers_from_tensors(checkpoint.tensors, steps, dtype=task_dtype(task), source=source)
    sizes, base = layer_sizes(layers), TASK_SETTINGS[task].sizes
    data = user_data(checkpoint, source)
    n_in, n_out = (data.n_inputs, data.n_outputs) if data else (base[0], base[-1])
    if sizes[0] != n_in or sizes[-1] != n_out:
        kind = f"{task} network" + (f" of {data.describe()}" if data else "")
        raise CheckpointError(f"checkpoint {source!r} holds a network of sizes {sizes}; a {kind} has "
                              f"{n_in} inputs and {n_out} outputs")  # fmt: skip
    return layers


def user_data(checkpoint: Checkpoint, source: str) -> TrainedOn | None:
    """The user dataset the checkpoint's network was trained on (None for a catalogued dataset), refused
    with one line when damaged. Grey images stored as ``[H, W]`` (checkpoints before the record was shared
    with DSL and HP) read as ``[H, W, 1]``."""
    meta = checkpoint.extra.get(TRAINED_ON)
    if meta is None:
        return None
    shape = meta.get("image_shape") if isinstance(meta, dict) else None
    if isinstance(shape, list) and len(shape) == 2 and all(whole(n, 1) for n in shape):
        meta = {**meta, "image_shape": [*meta["image_shape"], 1]}
    return TrainedOn.from_dict(meta, f"checkpoint {source!r}")


def check_same_images(checkpoint: Checkpoint, data: TrainedOn, source: str) -> None:
    """Refuse in one line, naming ``source``, to continue training a network of ``checkpoint`` on ``data``
    (what the run's ``--dataset`` path holds now) when its image shape or classes are not the ones the
    checkpoint was trained on."""
    trained = user_data(checkpoint, str(checkpoint.path))
    if trained is not None:
        trained.check_same(data, f"{source}: the run", RESTORE_OR_RESTART)


def stored(checkpoint: Checkpoint, key: str, default: Any, ok: Callable[[Any], bool], allowed: str) -> Any:
    """A value of the training run's configuration stored in a checkpoint (``default`` when absent),
    refused with one line when ``ok(value)`` is false (a hand-edited or damaged checkpoint)."""
    value = checkpoint.config.get(key)
    if value is None:
        return default
    if not ok(value):
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r}: its training configuration holds {key} "
                              f"{value!r}; expected {allowed}")  # fmt: skip
    return value


def resume_point(
    run: Run, args: argparse.Namespace, settings: TaskSettings, n_batches: int | None = None
) -> tuple[Checkpoint, list[LayerParams]] | None:
    """The ``last`` checkpoint of a run directory that is being resumed, if any, with its layers; checked
    against the run: its task and sizes, and the metadata its task's loop continues from."""
    last = run.checkpoint_dir / "last.safetensors"
    if not last.is_file():
        return None
    checkpoint, source = run.load_checkpoint("last"), str(last)
    layers = checked_layers(checkpoint, source)
    if checkpoint.extra["task"] != args.task or tuple(layer_sizes(layers)) != tuple(settings.sizes):
        raise CheckpointError(f"checkpoint {source!r} holds a {checkpoint.extra['task']} network of sizes "
                              f"{layer_sizes(layers)}, not this run's {args.task} "
                              f"{list(settings.sizes)}")  # fmt: skip
    extra = checkpoint.extra

    def need(name: str, ok: bool, allowed: str) -> None:
        if not ok:
            raise CheckpointError(f"checkpoint {source!r}: {name} is {extra.get(name)!r}; this run needs "
                                  f"{allowed}")  # fmt: skip

    if args.task == "xor":
        runs = setting(args, "runs")
        need("runs_done", whole(extra.get("runs_done"), 0, runs), f"a whole number 0..{runs}")
        need("successes", whole(extra.get("successes"), 0, extra["runs_done"]),
             "a whole number 0..runs_done")  # fmt: skip
        return checkpoint, layers
    progress = Progress.from_dict(extra.get("progress"), source=source)
    need("progress", progress.epoch <= settings.epochs and (n_batches is None or progress.batch <= n_batches),
         f"at most {settings.epochs} epochs" + (f" of {n_batches} batches" if n_batches else ""))  # fmt: skip
    if args.task == "iris":
        folds = setting(args, "folds")
        need("fold", whole(extra.get("fold"), 0, folds), f"a whole number 0..{folds}")
        need("done", isinstance(extra.get("done"), bool), "true or false")
        for name in ("fold_test", "fold_train"):
            scores = extra.get(name)
            need(name, isinstance(scores, list) and len(scores) == extra["fold"] and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores),
                f"one accuracy per finished fold ({extra['fold']})")  # fmt: skip
    elif args.task in IMAGE_DATASETS:
        best = extra.get("best")
        need("best", isinstance(best, dict) and isinstance(best.get("accuracy"), (int, float))
             and whole(best.get("epoch"), 0, settings.epochs),
             "the best accuracy and its epoch")  # fmt: skip
    return checkpoint, layers


def start_layers(
    args: argparse.Namespace, sizes: tuple[int, ...], seed: int, device: torch.device
) -> list[LayerParams]:
    """Fresh layers, or the ``--checkpoint`` ones (training continues from a trained network)."""
    if not args.checkpoint:
        return fresh_layers(sizes, seed, task_dtype(args.task), device)
    checkpoint, layers = load_model(args.checkpoint)
    if checkpoint.extra["task"] != args.task or tuple(layer_sizes(layers)) != tuple(sizes):
        raise CheckpointError(
            f"checkpoint {args.checkpoint!r} holds a {checkpoint.extra['task']} network of sizes "
            f"{layer_sizes(layers)}, not {args.task} {list(sizes)}"
        )
    return [layer.to(device) for layer in layers]
