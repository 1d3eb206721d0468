"""Driver of ``hybridsnn <command> hebbian``: memory-enriched SNNs with Hebbian plasticity (Limbacher 2022).

Each task is run by the ``run`` module of its sub-package: ``associations`` (the seed's
memorizing-associations task, :mod:`hybridsnn.hebbian.associations.run`; networks ``--network snn``, ``hmem``,
``lstm``), ``cross-modal`` (FSDD → MNIST, :mod:`hybridsnn.hebbian.cross_modal.run`),
``babi`` (bAbI QA, :mod:`hybridsnn.hebbian.babi.run`), ``omniglot`` (1-shot 5-way,
:mod:`hybridsnn.hebbian.omniglot.run`), ``concentration`` (memory card game with PPO,
:mod:`hybridsnn.hebbian.concentration.run`).

The seed's flags keep their names with dashes (``--sequence-length --num-classes --num-time-steps
--embedding-size --memory-size --w-max --gamma-pos --gamma-neg --tau-trace --readout-delay --thr
--perfect-reset --refractory-time-steps --tau-mem --dampening-factor --epochs --batch-size
--learning-rate --learning-rate-decay --decay-learning-rate-every --max-grad-norm --l2 --target-rate
--dataset-seed``). The seed's ``--resume CKPT --evaluate`` is ``hybridsnn test hebbian --checkpoint CKPT``
(``--sequence-length`` and ``--batch-size`` may differ from training, as in the seed: the OOD test);
continuing an interrupted training is ``hybridsnn train hebbian --resume RUN_DIR``. Distributed training:
``torchrun --nproc_per_node N -m hybridsnn train hebbian ...`` (see :mod:`hybridsnn.spiking.distributed`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.checks.flags import refuse_flags_not_read, refuse_training_flags
from hybridsnn.errors import UserError
from hybridsnn.hebbian.associations import run as associations_run
from hybridsnn.hebbian.babi import run as babi_run
from hybridsnn.hebbian.concentration import run as concentration_run
from hybridsnn.hebbian.cross_modal import run as cross_modal_run
from hybridsnn.hebbian.flags import TEST_FLAGS_OF, TRAIN_FLAGS_OF
from hybridsnn.hebbian.flags import add_arguments as add_arguments  # the CLI reads it here
from hybridsnn.hebbian.omniglot import run as omniglot_run
from hybridsnn.hebbian.settings import memory_errors_refused, train_parser
from hybridsnn.results import Run, read_config, read_metrics
from hybridsnn.runtime import select_device
from hybridsnn.spiking.distributed import launched_by_torchrun

#: Each task's runner module: ``TASK``, ``check(args, command)``, ``train(args, run)``, ``test(args, run)``,
#: optionally ``plot(run_dir, out, records)``.
TASK_RUNNERS = {
    runner.TASK: runner
    for runner in (associations_run, cross_modal_run, babi_run, omniglot_run, concentration_run)
}
#: Tasks whose training runs data-parallel under torchrun (the others run in one process).
DISTRIBUTED_TASKS = ("associations", "babi", "omniglot")
PREDICT_UNAVAILABLE = (
    "predict is not available for hebbian (its tasks' examples are episodes, not single inputs); evaluate a "
    "checkpoint with `hybridsnn test hebbian --task TASK --checkpoint PATH`"
)


def validate(args: argparse.Namespace, command: str) -> None:
    """Everything that can be refused before the run folder is created: the flags of a resumed run, the
    task's settings and their combinations, flags the task does not read, the device, the torchrun batch
    split, and the ``--checkpoint``/``--encoders`` files (their task, and that they fit the network)."""
    if command == "plot":
        return
    if command == "predict":
        raise UserError(PREDICT_UNAVAILABLE)
    if getattr(args, "resume", None):  # (the CLI has checked the stored config.json)
        for path in sorted((Path(args.resume) / "checkpoints").glob("*.safetensors")):
            load_checkpoint(path, model="hebbian")  # a damaged one is refused before the run is touched
    select_device(args.device)
    with memory_errors_refused():  # the checks build the network of a --checkpoint
        settings = TASK_RUNNERS[args.task].check(args, command)
    _refuse_flags_of_other_tasks(args, command)
    if launched_by_torchrun() and command == "train":
        processes = int(os.environ["WORLD_SIZE"])
        if args.task not in DISTRIBUTED_TASKS:
            raise UserError(f"--task {args.task} trains in one process; start it without torchrun (it runs "
                            f"data-parallel for --task {', '.join(DISTRIBUTED_TASKS)})")  # fmt: skip
        batch = settings["batch_size"]
        if batch % processes:
            raise UserError(f"--batch-size {batch} must be divisible by the {processes} torchrun processes, "
                            "so that every process trains on an equal slice")  # fmt: skip


def _refuse_flags_of_other_tasks(args: argparse.Namespace, command: str) -> None:
    """Refuse a training flag given to ``train --test``, and a flag the task does not read."""
    if command == "test":
        refuse_training_flags(args, "hebbian")
    table = TRAIN_FLAGS_OF if command == "train" else TEST_FLAGS_OF
    refuse_flags_not_read(args, train_parser(), table, args.task, command)


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train ``--task`` with its runner module."""
    with memory_errors_refused():
        return TASK_RUNNERS[args.task].train(args, run)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` of ``--task`` with its runner module."""
    with memory_errors_refused():
        return TASK_RUNNERS[args.task].test(args, run)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Not offered (:func:`validate` refuses it first): the examples are synthetic episodes; use ``test``."""
    raise UserError(PREDICT_UNAVAILABLE)


def plot(args: argparse.Namespace) -> list[Path]:
    """The figures of the run's task (the CLI checked that it is a hebbian run directory; a task without
    figures of its own is drawn as an associations run); with ``compare``: several associations runs
    drawn together."""
    run_dir = Path(args.run_dir)
    out = Path(args.output) if args.output else run_dir / "plots"
    if args.compare:
        return associations_run.plot_comparison([run_dir, *map(Path, args.compare)], out)
    runner = TASK_RUNNERS.get(read_config(run_dir).get("task"))
    if runner is None or not hasattr(runner, "plot"):
        runner = associations_run
    return runner.plot(run_dir, out, read_metrics(run_dir))
