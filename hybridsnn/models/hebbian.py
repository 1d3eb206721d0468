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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hebbian import babi_run, concentration_run, crossmodal_run, omniglot_run
from hybridsnn.hebbian.data import FreshBatches, association_sequences, fixed_batches
from hybridsnn.hebbian.networks import NETWORKS, AssociationConfig, build_network, compile_store_step
from hybridsnn.hebbian.settings import add_model_names, layered_settings, require_positive
from hybridsnn.hebbian.training import AssociationSteps, steps_from_settings
from hybridsnn.results import CONFIG_FILE, Run, read_metrics
from hybridsnn.spiking import BestMetric, configure_threads, evaluate, fit, restore_state, seed_everything
from hybridsnn.spiking import select_device as _select_device
from hybridsnn.spiking.distributed import DistributedContext, init_distributed, shutdown_distributed

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
#: ``--quick``: the spec's CPU smoke configuration (faithful dynamics, 2 pairs, 2 classes; run H of §6.3).
QUICK = {
    "sequence_length": 2,
    "num_classes": 2,
    "embedding_size": 40,
    "memory_size": 50,
    "batch_size": 32,
    "epochs": 6,
    "iterations": 25,
    "l2": 0.0,
    "val_size": 256,
    "test_size": 512,
    "test_lengths": [1, 2],
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
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add("--threads", type=int, default=None, help="CPU threads of torch (1 is best on a shared machine)")
    add("--batch-size", type=int, default=None, help="examples per batch, over all processes (default: 512)")
    add("--sequence-length", type=int, default=None, help="pairs to store per example (default 10)")
    add(
        "--test-lengths",
        type=int,
        nargs="+",
        default=None,
        metavar="L",
        help="also test at these sequence lengths (out-of-distribution; each <= --num-classes)",
    )
    add("--test-size", type=int, default=None, help="test examples (default: 2000)")
    if command != "train":
        return
    add("--babi-task", type=int, default=None, help="babi: task 1..20 of bAbI v1.2 en-10k (default 1)")
    add("--max-num-sentences", type=int, default=None, help="babi: drop longer stories (default 50)")
    add("--encoders", default=None, metavar="PATH", help="cross-modal, omniglot: pre-trained encoders file")
    add("--encoder-epochs", type=int, default=None, help="encoder epochs (cross-modal 10, omniglot 100)")
    add("--encoder-iterations", type=int, default=None, help="omniglot: ProtoNet episodes per epoch (100)")
    add("--encoder-ways", type=int, default=None, help="omniglot: classes per ProtoNet training episode (60)")
    add("--network", default="snn", choices=NETWORKS, help="snn (default), hmem (ReLU H-Mem) or lstm")
    add("--num-classes", type=int, default=None, help="number of labels (default 10)")
    add("--feature-size", type=int, default=10, help="feature vector size F (default 10)")
    add("--num-time-steps", type=int, default=None, help="steps (ms) per item (default 100)")
    add("--embedding-size", type=int, default=None, help="encoder neurons per stream E (default 80)")
    add("--memory-size", type=int, default=None, help="key/value neurons M (default 100)")
    add("--w-max", type=float, default=1.0, help="soft upper bound of memory weights (default 1)")
    add("--gamma-pos", type=float, default=None, help="potentiation rate γ+ (default 0.3; hmem 0.1)")
    add("--gamma-neg", type=float, default=None, help="depression rate γ− (default 0.3; hmem 0.1)")
    add("--tau-trace", type=float, default=None, help="trace time constant in ms (default 20)")
    add("--readout-delay", type=int, default=None, help="value→key feedback delay, steps (1; babi 30)")
    add("--readout-window", type=int, default=None, help="last recall steps counted by the read-out (30)")
    add("--thr", type=float, default=None, help="threshold in input units (0.1; cross-modal 0.05)")
    add("--perfect-reset", action="store_true", help="reset the membrane to 0 after a spike")
    add("--refractory-time-steps", type=int, default=3, help="refractory period in steps (default 3)")
    add("--tau-mem", type=float, default=None, help="membrane time constant in ms (default 20)")
    add("--dampening-factor", type=float, default=1.0, help="surrogate-gradient height (default 1)")
    add("--epochs", type=int, default=None, help="training epochs (default 250)")
    add("--iterations", type=int, default=None, help="batches per epoch (default: ceil(9000 / batch))")
    add("--learning-rate", type=float, default=None, help="Adam learning rate (default 3e-3; hmem 1e-3)")
    add("--learning-rate-decay", type=float, default=0.85, help="lr factor every N epochs (default 0.85)")
    add("--decay-learning-rate-every", type=int, default=20, help="epochs between lr decays (default 20)")
    add("--max-grad-norm", type=float, default=None, help="gradient clipping (40; concentration 0.5; 0 off)")
    add("--l2", type=float, default=None, help="rate-regulariser weight from epoch 2 (default 1e-5; hmem 0)")
    add("--target-rate", type=float, default=0.0, help="regulariser target rate in Hz (default 0)")
    add("--val-size", type=int, default=None, help="validation examples (default 1000)")
    add("--dataset-seed", type=int, default=42, help="seed of the validation/test sets (default 42)")
    add(
        "--checkpoint-steps",
        type=int,
        default=0,
        metavar="K",
        help="recompute the store loop in blocks of K steps in the backward pass (less memory; 0 = off)",
    )
    add("--compile", action="store_true", help="torch.compile the store step (~2x faster; compiles ~30 s)")
    add(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="plain autograd plasticity instead of the fused node (same numbers, more memory)",
    )
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
    require_positive(settings, ("batch_size", "epochs", "iterations", "val_size", "test_size"))
    return settings


def _lengths(lengths: list[int], num_classes: int) -> list[int]:
    bad = [n for n in lengths if not 1 <= n <= num_classes]
    if bad:
        raise UserError(f"test sequence length {bad[0]} must be between 1 and the {num_classes} classes")
    return sorted(set(lengths))


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
            run.log_metrics(step=0, split="test", sequence_length=length, **metrics)
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
    """Train on fresh random batches, validate every epoch, then test the best weights at all lengths."""
    if args.task in TASK_RUNNERS:
        return TASK_RUNNERS[args.task].train(args, run)
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
    checkpoint = load_checkpoint(path, model="hebbian")
    if checkpoint.config.get("task") != "associations" or "network" not in checkpoint.config:
        raise CheckpointError(f"checkpoint {path!r} is not a trained hebbian associations network")
    return checkpoint


def _model_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    settings = resolve_settings(argparse.Namespace(**checkpoint.config))  # the flags it was trained with
    model = build_network(AssociationConfig.from_mapping(settings))
    restore_state(checkpoint, {"model": model})
    return model.to(device), settings


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` on the test set, at its training length or ``--sequence-length``/lengths."""
    if args.task in TASK_RUNNERS:
        return TASK_RUNNERS[args.task].test(args, run)
    if args.checkpoint is None:
        raise UserError("test needs --checkpoint PATH (a checkpoint of a hebbian training run)")
    context = _runtime(args)
    try:
        model, settings = _model_from_checkpoint(_load(args.checkpoint), context.device)
        config = AssociationConfig.from_mapping(settings)
        length = args.sequence_length or settings["sequence_length"]
        lengths = _lengths(args.test_lengths or [length], config.num_classes)
        steps = AssociationSteps(model, None, None, context)
        tests = evaluate_lengths(
            steps,
            config,
            lengths,
            args.test_size or settings["test_size"],
            settings["dataset_seed"] + 1,
            args.batch_size or settings["batch_size"],
            not args.no_progress and context.is_main,
        )
        final = _record_tests(run, tests, length, config.network, context.is_main)
        return run.finish(
            final,
            samples=sum(args.test_size or settings["test_size"] for _ in lengths),
            dataset="associations (synthetic)",
            engine="torch",
            device=str(context.device),
            checkpoint=str(args.checkpoint),
            network=config.network,
        )
    finally:
        shutdown_distributed()


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Not offered: the association examples are synthetic; use ``test`` (any sequence length)."""
    raise UserError("predict is not available for hebbian; use `hybridsnn test hebbian --checkpoint PATH`")


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
