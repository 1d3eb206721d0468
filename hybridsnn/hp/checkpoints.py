"""HP-SNN checkpoints read back: of the task (and method) asked for, with settings the flags could produce,
and the network they hold.

The seed's tolerance tests defaulted to crossed model/name pairs and silently loaded a GP state into an HP
model (docs/hp.md, «Decisions against the original»); here the stored task and method must match what the
command asks for.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hp.flags import command_parser
from hybridsnn.hp.methods import methods_of
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import IMAGE_TASKS, HPSettings, check_dataset
from hybridsnn.spiking import restore_state

#: Settings a checkpoint's config must hold besides task, method and dataset (its network and test read them).
CHECKPOINT_KEYS = {
    **{task: ("batch_size",) for task in IMAGE_TASKS},
    "multitask": ("hidden", "sparsity", "tasks"),
    "fewshot": ("ways", "shots", "omniglot_sets", "seed"),
}


def load_matching_checkpoint(path: str, args: argparse.Namespace, method: str | None = None) -> Checkpoint:
    """The HP checkpoint at ``path``; refuses one of another task, or of another method (``method``, else
    ``--method`` if given), and one whose stored settings are not what the train flags could produce."""
    checkpoint = load_checkpoint(path, model="hp")
    config, source = checkpoint.config, f"checkpoint {path!r}"
    check_stored_flags(config, command_parser("train"), source)
    missing = [key for key in ("task", "method", "dataset") if key not in config]
    missing += [key for key in CHECKPOINT_KEYS.get(config.get("task"), ()) if key not in config]
    if missing:
        raise CheckpointError(f"{source} lacks the HP setting(s) {', '.join(missing)}")
    task = config["task"]
    if task != args.task:
        raise CheckpointError(f"{source} was trained for task {task!r}, not --task {args.task}")
    if config["method"] not in methods_of(task):
        raise CheckpointError(f"{source} holds method {config['method']!r}; task {task} has methods "
                              f"{', '.join(methods_of(task))}")  # fmt: skip
    expected = method or args.method
    if expected is not None and config["method"] != expected:
        raise CheckpointError(
            f"{source} holds a {config['method']!r} model, not --method {expected}; pass the matching "
            "checkpoint"
        )
    try:
        check_dataset(task, config["dataset"])
    except UserError as exc:
        raise CheckpointError(f"{source} holds an unusable dataset: {exc}") from None
    return checkpoint


def network_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> tuple[HPSettings, nn.Module]:
    """The checkpoint's settings and its network on ``device`` (settings that build none: refused)."""
    source = f"checkpoint {str(checkpoint.path)!r}"
    try:
        settings = HPSettings.from_config(checkpoint.config)
        network = build_network(settings)
    except UserError as exc:
        raise CheckpointError(f"{source} holds settings that build no HP network: {exc}") from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
        raise CheckpointError(f"{source} holds unusable HP settings ({type(exc).__name__}: {exc})") from None
    restore_state(checkpoint, {"model": network})
    return settings, network.to(device)


def multitask_tasks(checkpoint: Checkpoint) -> int:
    """The tasks a multitask checkpoint has learned (1 .. its ``--tasks``)."""
    trained = checkpoint.config["tasks"]
    tasks = checkpoint.extra.get("task", trained)
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1 <= tasks <= trained:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} records {tasks!r} learned tasks; "
                              f"expected a whole number in 1..{trained} (its --tasks)")  # fmt: skip
    return tasks
