"""Driver of ``hybridsnn <command> hebbian``: memory-enriched SNNs with Hebbian plasticity (Limbacher 2022).

Implemented tasks: ``associations`` (the seed's memorizing-associations task) with three networks:
``--network snn`` (the spiking Hebbian-memory network), ``hmem`` (the non-spiking ReLU H-Mem baseline) and
``lstm`` (an LSTM baseline); ``cross-modal`` (FSDD → MNIST, :mod:`hybridsnn.hebbian.crossmodal_run`),
``babi`` (bAbI QA, :mod:`hybridsnn.hebbian.babi_run`), ``omniglot`` (1-shot 5-way,
:mod:`hybridsnn.hebbian.omniglot_run`), ``concentration`` (memory card game with PPO,
:mod:`hybridsnn.hebbian.concentration_run`).

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
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks import values
from hybridsnn.checks.flags import refuse_flags_not_read, refuse_training_flags
from hybridsnn.errors import UserError
from hybridsnn.hebbian import babi_run, concentration_run, crossmodal_run, omniglot_run
from hybridsnn.hebbian.data import FreshBatches, association_sequences, fixed_batches
from hybridsnn.hebbian.networks import NETWORKS, AssociationConfig, build_network, compile_store_step
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
    memory_errors_refused,
    train_parser,
)
from hybridsnn.hebbian.training import AssociationSteps, steps_from_settings
from hybridsnn.results import CONFIG_FILE, Run, read_metrics
from hybridsnn.spiking import (
    BestMetric,
    configure_threads,
    evaluate,
    fit,
    log_metrics_once,
    restore_state,
    seed_everything,
)
from hybridsnn.spiking import select_device as _select_device
from hybridsnn.spiking.distributed import (
    DistributedContext,
    init_distributed,
    launched_by_torchrun,
    shutdown_distributed,
)

#: Tasks with their own runner module (``TASK``, ``train(args, run)``, ``test(args, run)``, optionally
#: ``plot(run_dir, out, records)``); ``associations`` is run by this module.
TASK_RUNNERS = {
    runner.TASK: runner for runner in (crossmodal_run, babi_run, omniglot_run, concentration_run)
}
TRAIN_SET_SIZE = 9000  # the seed's nominal training-set size: iterations per epoch = ceil(9000 / batch)
OOD_FILE = "ood.json"
#: Defaults that differ between the spiking network and the H-Mem (ReLU) baseline (seed *_relu.py).
NETWORK_DEFAULTS = {
    "snn": {"gamma_pos": 0.3, "gamma_neg": 0.3, "learning_rate": 3e-3, "l2": 1e-5},
    "hmem": {"gamma_pos": 0.1, "gamma_neg": 0.1, "learning_rate": 1e-3, "l2": 0.0},
    "lstm": {"gamma_pos": 0.3, "gamma_neg": 0.3, "learning_rate": 1e-3, "l2": 0.0},
}
#: ``--quick``: the spec's first CPU smoke test (§6.3: faithful dynamics, 1 pair of 4 classes, E=40, M=50,
#: B=32, l2=0), 3 × 10 = 30 Adam steps (< 1 CPU-minute). Two pairs need ~150 steps (≈ 4 CPU-min):
#: ``--quick --sequence-length 2 --num-classes 2 --epochs 6 --iterations 25``.
QUICK = {
    "sequence_length": 1,
    "num_classes": 4,
    "embedding_size": 40,
    "memory_size": 50,
    "batch_size": 32,
    "epochs": 3,
    "iterations": 10,
    "l2": 0.0,
    "val_size": 256,
    "test_size": 512,
}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The seed's flags (with dashes) for train/test; plot: runs to compare."""
    if command == "plot":
        parser.add_argument(
            "compare",
            nargs="*",
            metavar="RUN_DIR",
            help="more associations runs drawn together with the first: accuracy vs stored pairs per network "
            "(sweep.png) and their out-of-distribution curves (ood_comparison.png)",
        )
        return
    add = parser.add_argument
    # fmt: off
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add("--threads", type=values.count, default=None, metavar="N",
        help="CPU threads of torch, >= 1 (default: torch's choice; 1 is best on a shared machine)")
    add("--batch-size", type=values.count, default=None, metavar="N",
        help="examples per batch, over all processes, >= 1 (default 512; babi, cross-modal, omniglot 256)")
    add("--sequence-length", type=values.count, default=None, metavar="L",
        help="pairs to store per example, >= 1, <= --num-classes (default 10; cross-modal 3, 1..10)")
    add("--test-lengths", type=values.count, nargs="+", default=None, metavar="L",
        help="associations: also test at these sequence lengths (out-of-distribution; each 1..classes)")
    add("--test-size", type=values.count, default=None, metavar="N",
        help="test examples, >= 1 (default 2000)")
    if command != "train":
        return
    add("--babi-task", type=values.integer(1, 20), default=None, metavar="N",
        help="babi: task 1..20 of bAbI v1.2 en-10k (default 1)")
    add("--max-num-sentences", type=values.count, default=None, metavar="N",
        help="babi: drop stories longer than N sentences, >= 1 (default 50)")
    add("--encoders", default=None, metavar="PATH",
        help="cross-modal, omniglot: encoders file written by an earlier run of the same task "
        "(RUN/checkpoints/encoders.safetensors) instead of pre-training them")
    add("--encoder-epochs", type=values.count, default=None, metavar="N",
        help="cross-modal, omniglot: encoder pre-training epochs, >= 1 (cross-modal 10, omniglot 100)")
    add("--encoder-iterations", type=values.count, default=None, metavar="N",
        help="omniglot: ProtoNet episodes per epoch, >= 1 (default 100)")
    add("--encoder-ways", type=values.integer(2), default=None, metavar="N",
        help="omniglot: classes per ProtoNet training episode, >= 2 (default 60)")
    add("--network", default="snn", choices=NETWORKS,
        help="associations: snn (default), hmem (ReLU H-Mem) or lstm")
    add("--num-classes", type=values.count, default=None, metavar="N",
        help="associations: number of labels, >= 1 (default 10)")
    add("--feature-size", type=values.count, default=10, metavar="F",
        help="associations: feature vector size, >= 1 (default 10)")
    add("--num-time-steps", type=values.count, default=None, metavar="T",
        help="steps (ms) per item, >= 1 (default 100)")
    add("--embedding-size", type=values.count, default=None, metavar="E",
        help="encoder neurons per stream, >= 1 (default 80; cross-modal, omniglot: their encoders' 64)")
    add("--memory-size", type=values.count, default=None, metavar="M",
        help="key/value neurons, >= 1 (default 100)")
    add("--w-max", type=values.positive, default=1.0,
        help="soft upper bound of memory weights, > 0 (default 1)")
    add("--gamma-pos", type=values.non_negative, default=None,
        help="potentiation rate γ+ per step, >= 0 (default 0.3; hmem 0.1)")
    add("--gamma-neg", type=values.non_negative, default=None,
        help="depression rate γ− per step, >= 0 (default 0.3; hmem 0.1)")
    add("--tau-trace", type=values.positive, default=None, metavar="MS",
        help="trace time constant in ms, > 0 (default 20)")
    add("--readout-delay", type=values.count, default=None, metavar="STEPS",
        help="value→key feedback delay in steps, >= 1 (default 1; babi 30)")
    add("--readout-window", type=values.count, default=None, metavar="STEPS",
        help="last recall steps counted by the read-out, 1..--num-time-steps (default 30; not cross-modal)")
    add("--thr", type=values.positive, default=None,
        help="firing threshold in input units, > 0 (default 0.1; cross-modal 0.05)")
    add("--perfect-reset", action="store_true", help="reset the membrane to 0 after a spike")
    add("--refractory-time-steps", type=values.non_negative_integer, default=3, metavar="STEPS",
        help="refractory period in steps, >= 0 (default 3)")
    add("--tau-mem", type=values.positive, default=None, metavar="MS",
        help="membrane time constant in ms, > 0 (default 20)")
    add("--dampening-factor", type=values.positive, default=1.0,
        help="surrogate-gradient height, > 0 (default 1)")
    add("--epochs", type=values.count, default=None, metavar="N", help="training epochs, >= 1 (default 250)")
    add("--iterations", type=values.count, default=None, metavar="N",
        help="batches per epoch, >= 1 (default: ceil(9000 / batch))")
    add("--learning-rate", type=values.positive, default=None, metavar="LR",
        help="Adam learning rate, > 0 (default 3e-3; hmem and lstm 1e-3)")
    add("--learning-rate-decay", type=values.number(0.0, 1.0, open_min=True), default=0.85,
        help="learning-rate factor every --decay-learning-rate-every epochs, in (0, 1] (default 0.85)")
    add("--decay-learning-rate-every", type=values.count, default=20, metavar="N",
        help="epochs between learning-rate decays, >= 1 (default 20)")
    add("--max-grad-norm", type=values.non_negative, default=None,
        help="gradient-norm clipping, >= 0 (default 40; concentration 0.5; 0 = off)")
    add("--l2", type=values.non_negative, default=None,
        help="rate-regulariser weight from epoch 2, >= 0 (default 1e-5; hmem 0)")
    add("--target-rate", type=values.non_negative, default=0.0, metavar="HZ",
        help="regulariser target rate in Hz, >= 0 (default 0)")
    add("--val-size", type=values.count, default=None, metavar="N",
        help="validation examples, >= 1 (default 1000)")
    add("--dataset-seed", type=values.seed, default=42,
        help="seed of the data split and the validation/test sets, 0..2**32-1 (default 42)")
    add("--checkpoint-steps", type=values.non_negative_integer, default=0, metavar="K",
        help="recompute the store loop in blocks of K steps in the backward pass (less memory; 0 = off)")
    add("--compile", action="store_true",
        help="torch.compile the store step (~2x faster; compiles ~30 s; not babi, cross-modal)")
    add(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="plain autograd plasticity instead of the fused node (same numbers, more memory)",
    )
    # fmt: on
    concentration_run.add_arguments(add)


# -- settings -------------------------------------------------------------------------------------------


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """All training settings: flags, then ``--quick`` values for unset flags, then seed defaults."""
    defaults = {
        "batch_size": 512,
        "sequence_length": 10,
        "num_classes": 10,
        "embedding_size": 80,
        "memory_size": 100,
        "epochs": 250,
        "val_size": 1000,
        "test_size": 2000,
        "thr": 0.1,
        "readout_delay": 1,
        **NETWORK_DEFAULTS[args.network],
    }
    settings = add_model_names(layered_settings(args, QUICK if args.quick else {}, defaults))
    if settings["iterations"] is None:
        settings["iterations"] = math.ceil(TRAIN_SET_SIZE / settings["batch_size"])
    if settings["sequence_length"] > settings["num_classes"]:
        raise UserError(
            f"--sequence-length {settings['sequence_length']} needs at least as many classes (labels are "
            f"drawn without replacement), got --num-classes {settings['num_classes']}"
        )
    if settings["test_lengths"] is None:
        settings["test_lengths"] = [settings["sequence_length"]]
    _lengths(settings["test_lengths"], settings["num_classes"])
    AssociationConfig.from_mapping(settings).check()
    return settings


def _lengths(lengths: list[int], num_classes: int) -> list[int]:
    bad = [n for n in lengths if not 1 <= n <= num_classes]
    if bad:
        raise UserError(f"test sequence length {bad[0]} (--test-lengths, --sequence-length) must be "
                        f"between 1 and the {num_classes} classes (--num-classes)")  # fmt: skip
    return sorted(set(lengths))


# -- checks before the run folder is created ---------------------------------------------------------------

#: Training flags that only some tasks read (destination → those tasks); given to another task they are
#: refused instead of being ignored. (The tasks' own checks come first: omniglot and concentration name
#: --network, cross-modal and omniglot --embedding-size, omniglot --sequence-length, concentration
#: --batch-size.)
ALL_BUT_CONCENTRATION = ("associations", "omniglot", "cross-modal", "babi")
TRAIN_FLAGS_OF = {
    "babi_task": ("babi",),
    "max_num_sentences": ("babi",),
    "encoders": ("cross-modal", "omniglot"),
    "encoder_epochs": ("cross-modal", "omniglot"),
    "encoder_iterations": ("omniglot",),
    "encoder_ways": ("omniglot",),
    "network": ("associations",),
    "num_classes": ("associations",),
    "feature_size": ("associations",),
    "sequence_length": ("associations", "cross-modal", "omniglot"),
    "test_lengths": ("associations",),
    "readout_window": ("associations", "omniglot", "babi", "concentration"),
    "compile": ("associations", "omniglot", "concentration"),
    "batch_size": ALL_BUT_CONCENTRATION,
    "learning_rate_decay": ALL_BUT_CONCENTRATION,
    "decay_learning_rate_every": ALL_BUT_CONCENTRATION,
    "l2": ALL_BUT_CONCENTRATION,
    "target_rate": ALL_BUT_CONCENTRATION,
    "dataset_seed": ALL_BUT_CONCENTRATION,
    **{name: ("concentration",) for name in concentration_run.FLAGS},
}
#: The same for ``test``: what each task's evaluation reads.
TEST_FLAGS_OF = {
    "sequence_length": ("associations", "cross-modal"),
    "test_lengths": ("associations",),
    "batch_size": ALL_BUT_CONCENTRATION,
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
    _select_device(args.device)
    runner = TASK_RUNNERS.get(args.task)
    with memory_errors_refused():  # the checks build the network of a --checkpoint
        settings = runner.check(args, command) if runner is not None else _check(args, command)
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


def _check(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The associations task's settings; the checkpoint's task, settings and fit."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint:
            model = build_network(AssociationConfig.from_mapping(settings))
            restore_state(_load(args.checkpoint), {"model": model})
        return settings
    _, settings = _model_from_checkpoint(_load(args.checkpoint), torch.device("cpu"))
    _test_lengths(args, settings)
    return settings


def _test_lengths(args: argparse.Namespace, settings: dict[str, Any]) -> tuple[int, list[int]]:
    """The trained (or ``--sequence-length``) length and all tested lengths of ``test``."""
    length = args.sequence_length if args.sequence_length is not None else settings["sequence_length"]
    return length, _lengths(args.test_lengths or [length], settings["num_classes"])


def _runtime(args: argparse.Namespace) -> DistributedContext:
    configure_threads(args.threads)
    return init_distributed(_select_device(args.device))


def _test_set(config: AssociationConfig, length: int, size: int, seed: int, batch: int) -> list:
    data = association_sequences(size, length, config.num_classes, config.feature_size, seed=seed)
    return fixed_batches(data, batch)


def evaluate_lengths(
    steps: AssociationSteps,
    config: AssociationConfig,
    lengths: list[int],
    size: int,
    seed: int,
    batch: int,
    progress: bool,
) -> dict[int, dict[str, float]]:
    """Test metrics at each sequence length (the seed's test set: seed ``dataset_seed + 1``)."""
    return {
        length: evaluate(
            steps.eval_step,
            _test_set(config, length, size, seed, batch),
            modules=[steps.model],
            desc=f"test L={length}",
            progress=progress,
        )
        for length in lengths
    }


def _record_tests(
    run: Run, results: dict[int, dict[str, float]], trained_length: int, network: str, main: bool
) -> dict[str, float]:
    final: dict[str, float] = {}
    for length, metrics in results.items():
        if main:
            # once: a run resumed after its last epoch repeats the tests that its killed process had begun
            log_metrics_once(run, key=("split", "sequence_length"), step=0, split="test",
                             sequence_length=length, **metrics)  # fmt: skip
        final[f"test_accuracy_L{length}"] = metrics["accuracy"]
    if trained_length in results:
        final["test_accuracy"] = results[trained_length]["accuracy"]
        final["test_loss"] = results[trained_length]["loss"]
    if main:
        write_json(
            run.path / OOD_FILE,
            {
                "network": network,
                "trained_length": trained_length,
                "lengths": list(results),
                "accuracy": [m["accuracy"] for m in results.values()],
            },
        )
    return final


# -- commands -------------------------------------------------------------------------------------------


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train ``--task`` (its runner module, or :func:`train_associations`)."""
    runner = TASK_RUNNERS.get(args.task)
    with memory_errors_refused():
        return runner.train(args, run) if runner is not None else train_associations(args, run)


def train_associations(args: argparse.Namespace, run: Run) -> dict:
    """Train on fresh random batches, validate every epoch, then test the best weights at all lengths."""
    settings = resolve_settings(args)
    context = _runtime(args)
    try:
        config = AssociationConfig.from_mapping(settings)
        lengths = _lengths(settings["test_lengths"], config.num_classes)
        seed_everything(args.seed)
        model = build_network(config).to(context.device)
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": model})
        context.check_batch(settings["batch_size"])
        if settings["compile"]:
            compile_store_step(model)
        steps = steps_from_settings(model, settings, context)
        length = settings["sequence_length"]
        train_loader = FreshBatches(
            settings["iterations"], settings["batch_size"], length, config.num_classes, config.feature_size
        )
        val = _test_set(
            config, length, settings["val_size"], settings["dataset_seed"], settings["batch_size"]
        )
        progress = not args.no_progress and context.is_main
        result = fit(
            run,
            train_step=steps.train_step,
            train_loader=train_loader,
            epochs=settings["epochs"],
            seed=args.seed,
            state={"model": model, "optim": steps.optimizer},
            schedulers={"lr": steps.scheduler},
            eval_step=steps.eval_step,
            eval_loaders={"val": val},
            best=BestMetric("val", "accuracy"),
            resume=bool(args.resume),
            progress=progress,
        )
        restore_state(run.load_checkpoint("best"), {"model": model})
        tests = evaluate_lengths(
            steps,
            config,
            lengths,
            settings["test_size"],
            settings["dataset_seed"] + 1,
            settings["batch_size"],
            progress,
        )
        final = {
            **_record_tests(run, tests, length, config.network, context.is_main),
            "best_val_accuracy": result.best_value,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "processes": context.world_size,
        }
        samples = settings["batch_size"] * settings["iterations"] * result.epochs
        return run.finish(
            final,
            samples=samples,
            dataset="associations (synthetic)",
            engine="torch",
            device=str(context.device),
            network=config.network,
        )
    finally:
        shutdown_distributed()


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, "associations")


def _model_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    settings = checkpoint_settings(checkpoint, resolve_settings)  # the flags it was trained with
    model = build_network(AssociationConfig.from_mapping(settings))
    restore_state(checkpoint, {"model": model})
    return model.to(device), settings


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` of ``--task`` (its runner module, or :func:`test_associations`)."""
    runner = TASK_RUNNERS.get(args.task)
    with memory_errors_refused():
        return runner.test(args, run) if runner is not None else test_associations(args, run)


def test_associations(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` on the test set, at its training length or ``--sequence-length``/lengths."""
    context = _runtime(args)
    try:
        model, settings = _model_from_checkpoint(_load(args.checkpoint), context.device)
        config = AssociationConfig.from_mapping(settings)
        length, lengths = _test_lengths(args, settings)
        size = args.test_size if args.test_size is not None else settings["test_size"]
        steps = AssociationSteps(model, None, None, context)
        tests = evaluate_lengths(
            steps,
            config,
            lengths,
            size,
            settings["dataset_seed"] + 1,
            args.batch_size if args.batch_size is not None else settings["batch_size"],
            not args.no_progress and context.is_main,
        )
        final = _record_tests(run, tests, length, config.network, context.is_main)
        return run.finish(
            final,
            samples=size * len(lengths),
            dataset="associations (synthetic)",
            engine="torch",
            device=str(context.device),
            checkpoint=str(args.checkpoint),
            network=config.network,
        )
    finally:
        shutdown_distributed()


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Not offered (:func:`validate` refuses it first): the examples are synthetic episodes; use ``test``."""
    raise UserError(PREDICT_UNAVAILABLE)


def plot(args: argparse.Namespace) -> list[Path]:
    """Training curves, the accuracy-vs-length (OOD) curve, and one example's activity and output."""
    from hybridsnn.hebbian.figures import plot_run

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory {str(run_dir)!r} does not exist")
    out = Path(args.output) if args.output else run_dir / "plots"
    if args.compare:
        from hybridsnn.hebbian.figures import plot_comparison

        return plot_comparison([run_dir, *map(Path, args.compare)], out)
    config = run_dir / CONFIG_FILE
    task = json.loads(config.read_text(encoding="utf-8")).get("task") if config.is_file() else None
    if task in TASK_RUNNERS and hasattr(TASK_RUNNERS[task], "plot"):
        return TASK_RUNNERS[task].plot(run_dir, out, read_metrics(run_dir))
    return plot_run(
        run_dir,
        out,
        read_metrics(run_dir),
        _model_from_checkpoint,
    )
