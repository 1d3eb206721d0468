"""The network object of ``--engine`` for a task: the analytic reference on its torch device, or the
time-stepped GeNN-model version (imported only when used).

The reference (``--engine reference``, :mod:`hybridsnn.shifting.reference`) is the engine of the analytic
model, not a test oracle; ``--engine numba|genn`` builds :class:`~hybridsnn.shifting.stepped.SteppedNetwork`
on the CPU (numba) or its GeNN backend. Both take the same :class:`~hybridsnn.shifting.reference.LayerParams`,
so a checkpoint of one engine runs on the other (docs/shifting.md, «Model and equations»).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.errors import UserError
from hybridsnn.runtime import configure_threads, seed_everything, select_device
from hybridsnn.shifting.checkpoints import load_model
from hybridsnn.shifting.reference import CHUNK_ELEMENTS, LayerParams, MultiSpikeNetwork, ReferenceNetwork
from hybridsnn.shifting.settings import TASK_SETTINGS
from hybridsnn.shifting.training import Network

GPU_CHUNK_ELEMENTS = 1 << 26  # largest (chunk, inputs, outputs) temporary of the reference on a GPU, elements


def run_device(args: argparse.Namespace) -> torch.device:
    """``--device`` for the reference; the time-stepped engines keep their tensors on the CPU."""
    if args.engine != "reference":
        return torch.device("cpu")
    return select_device(args.device)


def _chunk(device: torch.device) -> int:
    return GPU_CHUNK_ELEMENTS if device.type == "cuda" else CHUNK_ELEMENTS


def build_network(args: argparse.Namespace, layers: list[LayerParams], device: torch.device) -> Network:
    """The network object of ``--engine`` around ``layers`` (the time-stepped one imported only when used)."""
    if args.task == "spikes":  # reference engine only (flags.validate() refused the others)
        return MultiSpikeNetwork(layers, chunk_elements=_chunk(device))  # type: ignore[return-value]
    if args.engine == "reference":
        return ReferenceNetwork(layers, chunk_elements=_chunk(device))
    from hybridsnn.shifting.stepped import SteppedNetwork

    lanes = args.lanes or getattr(args, "batch_size", None) or TASK_SETTINGS[args.task].batch_size
    if args.engine == "genn" and args.backend != "cuda" and args.lanes is None:
        lanes = 1
    build_dir = str(Path(args.output) / "genn_build") if args.engine == "genn" else None
    return SteppedNetwork(
        layers,
        engine=args.engine,
        dt=args.dt,
        batch_size=lanes,
        backend=args.backend,
        seed=args.seed,
        build_dir=build_dir,
    )


def engine_name(args: argparse.Namespace) -> str:
    """The engine as ``results.json`` names it: ``reference``, ``numba-stepped`` or ``genn-stepped``."""
    return args.engine if args.engine == "reference" else f"{args.engine}-stepped"


def frozen_network(args: argparse.Namespace) -> tuple[Checkpoint, Network, torch.device]:
    """The checkpoint of ``--checkpoint`` as a network of ``--engine``; its task must be ``--task``."""
    checkpoint, layers = load_model(args.checkpoint)
    task = checkpoint.extra["task"]
    if task != args.task:
        raise UserError(f"checkpoint {args.checkpoint!r} was trained on task {task}; pass --task {task}")
    configure_threads(args.threads)
    seed_everything(args.seed)
    device = run_device(args)
    return checkpoint, build_network(args, [layer.to(device) for layer in layers], device), device
