"""Shifting Learning driver: ``hybridsnn train|test|predict|plot shifting --task TASK``.

Temporal-coding SNN (one spike per neuron, z = exp(t), learned "shifting timings" w and propagation factors
e_tp) trained by the three-factor rule with Adam (β2 = 0.9). The analytic torch reference
(``--engine reference``, default) runs on the CPU or a GPU; ``--engine numba|genn`` runs the time-stepped
version built from GeNN models (``hybridsnn.shifting.stepped``, XOR/Iris/MNIST tasks). A checkpoint holds the
``LayerParams`` of every layer (weights, e_tp, Adam moments; the Adam steps in the metadata), so a network
trained on one engine can be tested on another.

Tasks (the original scripts' settings): ``xor`` 2-8-2 (``--runs N``: success rate over N seeds), ``iris``
4-10-3 (``--folds``: 5-fold cross-validation), ``mnist``/``fashion-mnist`` 784-800-10 (test after every epoch,
argmin decision), ``spikes`` 500-3200-22 (synthetic aggregate-label trials, online, validation accuracy).
"""

from __future__ import annotations

import argparse
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hybridsnn.atomic import write_json, write_with
from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run, read_metrics
from hybridsnn.shifting.data import (
    ENCODINGS,
    IMAGE_DATASETS,
    Split,
    encode_features,
    encode_images,
    image_split,
    iris_folds,
    scale_iris,
    shuffled,
    xor_task,
)
from hybridsnn.shifting.reference import CHUNK_ELEMENTS, LayerParams, MultiSpikeNetwork, ReferenceNetwork
from hybridsnn.shifting.spike_task import SpikeTrial, make_spike_task
from hybridsnn.shifting.training import (
    TASK_SETTINGS,
    Network,
    Progress,
    TaskSettings,
    evaluate,
    evaluate_trials,
    layer_sizes,
    layer_tensors,
    layers_from_tensors,
    reset_layers,
    train_epochs,
    train_trials,
    trial_tensors,
)
from hybridsnn.spiking import configure_threads, seed_everything, select_device

MODEL = "shifting"
TASKS = tuple(TASK_SETTINGS)
ENGINES = ("reference", "numba", "genn")
GPU_CHUNK_ELEMENTS = 1 << 26
OUTPUTS_FILE = "outputs.npz"
PREDICTIONS_FILE = "predictions.json"
IRIS_LOG_EVERY = 10  # epochs between Iris records (the original printed every 50)
#: --quick: small, fast versions of every task (seconds to a minute on a laptop CPU).
QUICK: dict[str, dict[str, int]] = {
    "xor": {"runs": 5},
    "iris": {"folds": 2, "epochs": 100},
    "mnist": {"train_size": 2000, "test_size": 500, "epochs": 1, "batch_size": 32},
    "fashion-mnist": {"train_size": 2000, "test_size": 500, "epochs": 1, "batch_size": 32},
    "spikes": {"hidden": 100, "train_size": 20, "test_size": 10, "epochs": 2},
}
#: Defaults of the size flags where the task has no quick value.
FULL_SIZES = {"runs": 1, "folds": 5, "train_size": None, "test_size": None}
SPIKE_SIZES = {"train_size": 200, "test_size": 50}
#: Flags a resumed run takes from its stored configuration.
RESUMED_FLAGS = (
    "task",
    "seed",
    "quick",
    "epochs",
    "batch_size",
    "lr_w",
    "lr_w_end",
    "lr_p",
    "hidden",
    "runs",
    "folds",
    "train_size",
    "test_size",
    "encoding",
    "engine",
    "dt",
    "lanes",
    "backend",
    "data_seed",
    "checkpoint",
    "checkpoint_every",
)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of ``hybridsnn <command> shifting``; ``plot`` needs none."""
    if command == "plot":
        return
    add = parser.add_argument
    add(
        "--engine",
        choices=ENGINES,
        default="reference",
        help="reference: analytic torch model (default); numba/genn: time-stepped GeNN-model version",
    )
    add("--backend", default=None, help="GeNN backend with --engine genn (cuda, single_threaded_cpu)")
    add(
        "--dt",
        type=float,
        default=0.01,
        help="time step of the time-stepped engines, time units (default 0.01)",
    )
    add(
        "--lanes",
        type=int,
        default=None,
        help="samples simulated together by the time-stepped engines (default: the batch size)",
    )
    add(
        "--device",
        default="auto",
        help="torch device of the reference: auto, cpu, cuda, cuda:N (default auto)",
    )
    add("--threads", type=int, default=None, help="CPU threads of torch (default: torch's choice)")
    add(
        "--test-size",
        type=int,
        default=None,
        help="mnist: first N test images (default 10000); spikes: validation trials (default 50)",
    )
    add(
        "--data-seed", type=int, default=0, help="seed of the synthetic spike trials and patterns (default 0)"
    )
    if command == "predict":
        add(
            "--input",
            nargs="+",
            required=True,
            metavar="FILE",
            help="mnist: images (.npy, IDX, PNG); xor/iris: features (.npy or text, one sample per row, "
            "iris in cm); spikes: .npz with 'times' (s) and 'afferents' of one trial",
        )
        add(
            "--labels", default=None, metavar="FILE", help="true labels (.npy or text) to report the accuracy"
        )
        return
    if command == "test":
        return
    add(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the task's; xor/iris 400, mnist 20)",
    )
    add(
        "--batch-size", type=int, default=None, help="samples per update (default: xor 4, iris 30, mnist 128)"
    )
    add("--lr-w", type=float, default=None, help="initial learning rate of the shifting timings w")
    add("--lr-w-end", type=float, default=None, help="final learning rate of w (geometric decay per epoch)")
    add("--lr-p", type=float, default=None, help="learning rate of the propagation factors e_tp")
    add(
        "--hidden",
        type=int,
        default=None,
        help="hidden neurons (default: xor 8, iris 10, mnist 800, spikes 3200)",
    )
    add("--runs", type=int, default=None, help="xor: independent runs with seeds SEED..SEED+N-1 (default 1)")
    add("--folds", type=int, default=None, help="iris: cross-validation folds to run, 1..5 (default 5)")
    add(
        "--train-size",
        type=int,
        default=None,
        help="mnist: first N training images (default 60000); spikes: training trials (default 200)",
    )
    add(
        "--encoding",
        choices=ENCODINGS,
        default="binary",
        help="mnist input: binary (pixel > 0.5 -> t = 0.99, else t = -1.3; default) or grey (t = 1 - pixel)",
    )
    add(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="also save the resumable state every N batches/trials (default: once per epoch)",
    )


# -- settings ---------------------------------------------------------------------------------------------


def _quick(args: argparse.Namespace, key: str) -> Any:
    """A size flag: the value given, else the --quick value, else the full default."""
    value = getattr(args, key, None)
    if value is not None:
        return value
    if args.quick and key in QUICK[args.task]:
        return QUICK[args.task][key]
    return SPIKE_SIZES[key] if args.task == "spikes" and key in SPIKE_SIZES else FULL_SIZES.get(key)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def task_settings(args: argparse.Namespace) -> TaskSettings:
    """The task's settings with the given flags (and --quick) applied, checked."""
    base = TASK_SETTINGS[args.task]
    hidden = _quick(args, "hidden")
    settings = TaskSettings(
        base.sizes,
        _or(_quick(args, "epochs"), base.epochs),
        _or(_quick(args, "batch_size"), base.batch_size),
        _or(args.lr_w, base.lr_w),
        _or(args.lr_w_end, base.lr_w_end),
        _or(args.lr_p, base.lr_p),
    )
    if hidden is not None:
        settings = settings.with_hidden(hidden)
    for name, value in (
        ("--epochs", settings.epochs),
        ("--batch-size", settings.batch_size),
        ("--hidden", settings.sizes[1]),
    ):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if settings.lr_w <= 0 or settings.lr_w_end <= 0 or settings.lr_p < 0:
        raise UserError(
            f"learning rates must be > 0 (lr-p >= 0), got {settings.lr_w}, {settings.lr_w_end}, "
            f"{settings.lr_p}"
        )
    if args.task == "spikes" and settings.batch_size != 1:
        raise UserError(
            f"the spikes task trains online (batch size 1), got --batch-size {settings.batch_size}"
        )
    return settings


def _check_size(name: str, value: int | None, low: int = 1, high: int | None = None) -> None:
    if value is not None and (value < low or (high is not None and value > high)):
        allowed = f"{low}..{high}" if high is not None else f">= {low}"
        raise UserError(f"--{name.replace('_', '-')} must be {allowed}, got {value}")


def _device(args: argparse.Namespace) -> torch.device:
    if args.engine != "reference":
        return torch.device("cpu")
    return select_device(args.device)


def _dtype(task: str) -> torch.dtype:
    return torch.float64 if task == "spikes" else torch.float32


def fresh_layers(
    sizes: tuple[int, ...], seed: int, dtype: torch.dtype, device: torch.device
) -> list[LayerParams]:
    """Newly initialised layers (w ~ U[0, 8/n_in), e_tp = 1) from a CPU generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return [LayerParams.init(a, b, generator, dtype).to(device) for a, b in pairwise(sizes)]


def build_network(args: argparse.Namespace, layers: list[LayerParams], device: torch.device) -> Network:
    """The network object of ``--engine`` around ``layers`` (the time-stepped one imported only when used)."""
    if args.task == "spikes":
        if args.engine != "reference":
            raise UserError(f"the spikes task runs on --engine reference only, got --engine {args.engine}")
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


def _chunk(device: torch.device) -> int:
    return GPU_CHUNK_ELEMENTS if device.type == "cuda" else CHUNK_ELEMENTS


def _restore_flags(args: argparse.Namespace, run: Run) -> None:
    """A resumed run continues with the flags it was started with."""
    for key in RESUMED_FLAGS:
        if key in run.config:
            setattr(args, key, run.config[key])


def _engine_name(args: argparse.Namespace) -> str:
    return args.engine if args.engine == "reference" else f"{args.engine}-stepped"


def _progress_bar(total: int, initial: int, desc: str, args: argparse.Namespace, unit: str = "batch") -> tqdm:
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=args.no_progress, leave=False)


# -- checkpoints ------------------------------------------------------------------------------------------


def _save(run: Run, name: str, args: argparse.Namespace, layers: list[LayerParams], **extra: Any) -> Path:
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
    steps, task = checkpoint.extra.get("steps"), checkpoint.extra.get("task")
    if not isinstance(steps, list) or task not in TASKS:
        raise CheckpointError(f"checkpoint {path!r} lacks the shifting metadata (task, Adam steps)")
    return checkpoint, layers_from_tensors(checkpoint.tensors, steps, dtype=_dtype(task), source=str(path))


def _resume_point(run: Run) -> Checkpoint | None:
    """The ``last`` checkpoint of a run directory that is being resumed, if any."""
    last = run.checkpoint_dir / "last.safetensors"
    return run.load_checkpoint("last") if last.is_file() else None


def _start_layers(
    args: argparse.Namespace, sizes: tuple[int, ...], seed: int, device: torch.device
) -> list[LayerParams]:
    """Fresh layers, or the ``--checkpoint`` ones (training continues from a trained network)."""
    if not args.checkpoint:
        return fresh_layers(sizes, seed, _dtype(args.task), device)
    checkpoint, layers = load_model(args.checkpoint)
    if checkpoint.extra["task"] != args.task or tuple(layer_sizes(layers)) != tuple(sizes):
        raise CheckpointError(
            f"checkpoint {args.checkpoint!r} holds a {checkpoint.extra['task']} network of sizes "
            f"{layer_sizes(layers)}, not {args.task} {list(sizes)}"
        )
    return [layer.to(device) for layer in layers]


def _save_outputs(run: Run, labels: torch.Tensor, z_hat: torch.Tensor, split: str) -> None:
    """The output ẑ and true labels of the last evaluation, for ``plot``."""
    arrays = {"labels": labels.cpu().numpy(), "z_hat": z_hat.cpu().double().numpy(), "split": np.array(split)}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: np.savez would append ".npz" to a bare path
            np.savez(handle, **arrays)

    write_with(run.path / OUTPUTS_FILE, write)


# -- train ------------------------------------------------------------------------------------------------


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train the task's network; records in ``metrics.jsonl``, checkpoints, final ``results.json``."""
    if args.resume:
        _restore_flags(args, run)
    for name, high in (
        ("runs", None),
        ("folds", 5),
        ("train_size", None),
        ("test_size", None),
        ("checkpoint_every", None),
        ("lanes", None),
    ):
        _check_size(name, getattr(args, name), high=high)
    if args.dt <= 0:
        raise UserError(f"--dt must be > 0, got {args.dt}")
    configure_threads(args.threads)
    seed_everything(args.seed)
    settings = task_settings(args)
    trainer = {"xor": _train_xor, "iris": _train_iris, "spikes": _train_spikes}.get(args.task, _train_images)
    return trainer(args, run, settings)


def _train_xor(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """``--runs`` independent runs (seeds SEED, SEED+1, ...); success = all 4 decisions right at the end."""
    device = _device(args)
    runs = _quick(args, "runs")
    data = xor_task().to(device)
    resumed = _resume_point(run)
    done = resumed.extra["runs_done"] if resumed else 0
    successes = resumed.extra["successes"] if resumed else 0
    network = build_network(args, _start_layers(args, settings.sizes, args.seed, device), device)
    bar = _progress_bar(runs, done, "xor runs", args, unit="run")
    for index in range(done, runs):
        if index > 0 or resumed:
            reset_layers(network.layers, _start_layers(args, settings.sizes, args.seed + index, device))
        last = _xor_run(network, data, settings, run if index == 0 else None)
        success = last["accuracy"] == 1.0
        successes += int(success)
        run.log_metrics(step=index, split="runs", seed=args.seed + index, success=success, **last)
        if index == 0:
            _save_outputs(run, data.labels, evaluate(network, data)[1], "xor")
            _save(run, "final", args, network.layers, runs_done=1, successes=successes, run_index=0)
        _save(run, "last", args, network.layers, runs_done=index + 1, successes=successes, run_index=index)
        bar.update(1)
        bar.set_postfix(success_rate=f"{successes / (index + 1):.2f}")
    bar.close()
    metrics = {"success_rate": successes / runs, "successes": successes, "runs": runs}
    return run.finish(
        metrics,
        samples=4 * settings.epochs * runs,
        dataset="xor",
        engine=_engine_name(args),
        device=str(device),
    )


def _xor_run(network: Network, data: Split, settings: TaskSettings, log_to: Run | None) -> dict[str, float]:
    """Train one XOR run (full batch); the last epoch's loss and pre-update accuracy. ``log_to`` gets the
    per-epoch records (the first run only)."""
    last: dict[str, float] = {}

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        last.update(metrics)
        if log_to is not None:
            log_to.log_metrics(step=progress.epoch, epoch=progress.epoch, split="train", **metrics)

    train_epochs(network, data, settings, Progress(), on_epoch=on_epoch)
    return last


def _train_iris(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """Cross-validation over ``--folds`` folds of one seeded permutation (fold 0 = the original split)."""
    device = _device(args)
    n_folds = _quick(args, "folds")
    folds = iris_folds(args.seed, args.data_root)
    resumed = _resume_point(run)
    state: dict[str, Any] = {"fold": 0, "fold_test": [], "fold_train": [], "done": False}
    if resumed:
        state = {key: resumed.extra[key] for key in state}
    network: Network | None = None
    for fold in range(state["fold"], n_folds):
        train_split, test_split = (part.to(device) for part in folds[fold])
        progress = Progress()
        if resumed and not state["done"]:  # continue the fold that was interrupted
            layers = layers_from_tensors(resumed.tensors, resumed.extra["steps"], source="last")
            layers = [layer.to(device) for layer in layers]
            progress = Progress.from_dict(resumed.extra["progress"])
        else:
            layers = _start_layers(args, settings.sizes, args.seed + fold, device)
        if network is None:
            network = build_network(args, layers, device)
        else:
            reset_layers(network.layers, layers)
        state.update(fold=fold, done=False)
        _iris_fold(args, run, network, (train_split, test_split), settings, progress, state)
        train_accuracy, _ = evaluate(network, train_split)
        test_accuracy, z_hat = evaluate(network, test_split)
        state["fold_test"] = [*state["fold_test"], test_accuracy]
        state["fold_train"] = [*state["fold_train"], train_accuracy]
        _save(run, f"fold-{fold}", args, network.layers, **state)
        if fold == 0:
            _save(run, "final", args, network.layers, **state)
            _save_outputs(run, test_split.labels, z_hat, "iris fold 0 test")
        state.update(fold=fold + 1, done=True)
        _save(run, "last", args, network.layers, **state, progress=Progress(settings.epochs).to_dict())
        resumed = None
    tests, trains = state["fold_test"], state["fold_train"]
    metrics = {
        "test_accuracy": float(np.mean(tests)),
        "train_accuracy": float(np.mean(trains)),
        "fold_test_accuracies": tests,
        "folds": n_folds,
    }
    return run.finish(
        metrics,
        samples=120 * settings.epochs * n_folds,
        dataset="iris",
        engine=_engine_name(args),
        device=str(device),
    )


def _iris_fold(
    args: argparse.Namespace,
    run: Run,
    network: Network,
    splits: tuple[Split, Split],
    settings: TaskSettings,
    progress: Progress,
    state: dict[str, Any],
) -> None:
    """Train one fold; log train and test accuracy and save the state every ``IRIS_LOG_EVERY`` epochs."""
    fold = state["fold"]
    bar = _progress_bar(settings.epochs, progress.epoch, f"iris fold {fold}", args, unit="epoch")

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        bar.update(1)
        if progress.epoch % IRIS_LOG_EVERY == 0 or progress.epoch == settings.epochs:
            accuracy, _ = evaluate(network, splits[1])
            step, epoch = progress.epoch, progress.epoch
            run.log_metrics(step=step, epoch=epoch, split=f"train-fold{fold}", **metrics)
            run.log_metrics(step=step, epoch=epoch, split=f"test-fold{fold}", accuracy=accuracy)
            _save(run, "last", args, network.layers, **state, progress=progress.to_dict())

    train_epochs(network, splits[0], settings, progress, on_epoch=on_epoch)
    bar.close()


def _train_images(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """MNIST / Fashion-MNIST: one fixed shuffled order, test (argmin) after every epoch."""
    device = _device(args)
    train_split = shuffled(
        image_split(
            args.task, "train", encoding=args.encoding, limit=_quick(args, "train_size"), root=args.data_root
        ),
        args.seed,
    ).to(device)
    test_split = image_split(
        args.task, "test", encoding=args.encoding, limit=_quick(args, "test_size"), root=args.data_root
    ).to(device)
    resumed = _resume_point(run)
    if resumed:
        layers = [layer.to(device) for layer in layers_from_tensors(resumed.tensors, resumed.extra["steps"])]
        progress = Progress.from_dict(resumed.extra["progress"])
        best = resumed.extra["best"]
        run.drop_metrics_after(progress.epoch)  # records of an epoch that was cut off are recomputed
    else:
        layers = _start_layers(args, settings.sizes, args.seed, device)
        progress, best = Progress(), {"accuracy": -1.0, "epoch": 0}
    network = build_network(args, layers, device)
    n_batches = -(-len(train_split) // settings.batch_size)
    bar = _progress_bar(
        settings.epochs * n_batches, progress.epoch * n_batches + progress.batch, f"{args.task} train", args
    )
    final: dict[str, Any] = {}

    def on_batch(progress: Progress) -> None:
        bar.update(1)
        bar.set_postfix(acc=f"{progress.correct / max(progress.seen, 1):.3f}")
        if args.checkpoint_every and progress.batch % args.checkpoint_every == 0:
            _save(run, "last", args, network.layers, progress=progress.to_dict(), best=best)

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        accuracy, z_hat = evaluate(network, test_split)
        if accuracy > best["accuracy"]:
            best.update(accuracy=accuracy, epoch=progress.epoch)
        lr_w = settings.learning_rate(progress.epoch - 1)
        run.log_metrics(
            step=progress.epoch * n_batches, epoch=progress.epoch, split="train", lr_w=lr_w, **metrics
        )
        run.log_metrics(
            step=progress.epoch * n_batches, epoch=progress.epoch, split="test", accuracy=accuracy
        )
        _save_outputs(run, test_split.labels, z_hat, f"{args.task} test")
        _save(
            run, f"epoch-{progress.epoch:03d}", args, network.layers, progress=progress.to_dict(), best=best
        )
        _save(run, "last", args, network.layers, progress=progress.to_dict(), best=best)
        final.update(test_accuracy=accuracy, train_accuracy=metrics["accuracy"], train_loss=metrics["loss"])

    train_epochs(network, train_split, settings, progress, on_batch=on_batch, on_epoch=on_epoch)
    bar.close()
    if not final:  # resumed after the last epoch had finished
        final["test_accuracy"], _ = evaluate(network, test_split)
    _save(run, "final", args, network.layers, progress=progress.to_dict(), best=best)
    metrics = {
        **final,
        "best_test_accuracy": best["accuracy"],
        "best_epoch": best["epoch"],
        "epochs": settings.epochs,
        "train_samples": len(train_split),
        "test_samples": len(test_split),
    }
    return run.finish(
        metrics,
        samples=len(train_split) * settings.epochs,
        dataset=args.task,
        engine=_engine_name(args),
        device=str(device),
        encoding=args.encoding,
    )


def _spike_trials(args: argparse.Namespace, n_train: int, n_validation: int) -> tuple[list, list]:
    task = make_spike_task(n_train, n_validation, seed=args.data_seed)
    return task.train, task.validation


def _train_spikes(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """Online training on synthetic trials; accuracy on the validation trials after every epoch."""
    device = _device(args)
    train_trials_, validation = _spike_trials(args, _quick(args, "train_size"), _quick(args, "test_size"))
    resumed = _resume_point(run)
    if resumed:
        layers = layers_from_tensors(resumed.tensors, resumed.extra["steps"], dtype=torch.float64)
        layers = [layer.to(device) for layer in layers]
        progress = Progress.from_dict(resumed.extra["progress"])
        run.drop_metrics_after(progress.epoch)
    else:
        layers = _start_layers(args, settings.sizes, args.seed, device)
        progress = Progress()
    network = build_network(args, layers, device)
    bar = _progress_bar(
        settings.epochs * len(train_trials_),
        progress.epoch * len(train_trials_) + progress.batch,
        "spikes train",
        args,
        unit="trial",
    )
    final: dict[str, Any] = {}

    def on_batch(progress: Progress) -> None:
        bar.update(1)
        if args.checkpoint_every and progress.batch % args.checkpoint_every == 0:
            _save(run, "last", args, network.layers, progress=progress.to_dict())

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        accuracy, z_hat = evaluate_trials(network, validation, device)
        step = progress.epoch * len(train_trials_)
        run.log_metrics(step=step, epoch=progress.epoch, split="train", **metrics)
        run.log_metrics(step=step, epoch=progress.epoch, split="validation", accuracy=accuracy)
        _save_outputs(run, torch.tensor([t.label for t in validation]), z_hat, "spikes validation")
        _save(run, "last", args, network.layers, progress=progress.to_dict())
        final.update(validation_accuracy=accuracy, train_online_accuracy=metrics["accuracy"])

    train_trials(
        network, train_trials_, settings, progress, device=device, on_batch=on_batch, on_epoch=on_epoch
    )
    bar.close()
    _save(run, "final", args, network.layers, progress=progress.to_dict())
    metrics = {
        **final,
        "epochs": settings.epochs,
        "train_trials": len(train_trials_),
        "validation_trials": len(validation),
        "hidden": settings.sizes[1],
    }
    return run.finish(
        metrics,
        samples=len(train_trials_) * settings.epochs,
        dataset="spikes (synthetic)",
        engine=_engine_name(args),
        device=str(device),
    )


# -- test / predict ---------------------------------------------------------------------------------------


def _frozen(args: argparse.Namespace) -> tuple[Checkpoint, Network, torch.device]:
    """The checkpoint of ``--checkpoint`` as a network of ``--engine``; its task must be ``--task``."""
    if not args.checkpoint:
        raise UserError("this command needs --checkpoint PATH (a trained shifting checkpoint)")
    checkpoint, layers = load_model(args.checkpoint)
    task = checkpoint.extra["task"]
    if task != args.task:
        raise UserError(f"checkpoint {args.checkpoint!r} was trained on task {task}; pass --task {task}")
    _check_size("test_size", args.test_size)
    configure_threads(args.threads)
    seed_everything(args.seed)
    device = _device(args)
    return checkpoint, build_network(args, [layer.to(device) for layer in layers], device), device


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` with learning off on its task's test data (argmin decision)."""
    checkpoint, network, device = _frozen(args)
    config = checkpoint.config
    if args.task == "spikes":
        data_args = argparse.Namespace(data_seed=config.get("data_seed", 0))
        count = args.test_size or config.get("test_size") or SPIKE_SIZES["test_size"]
        trials = _spike_trials(data_args, 1, count)[1]
        accuracy, z_hat = evaluate_trials(network, trials, device)  # type: ignore[arg-type]
        labels, dataset = torch.tensor([t.label for t in trials]), "spikes (synthetic validation)"
    else:
        split, dataset = _test_split(args, checkpoint)
        accuracy, z_hat = evaluate(network, split.to(device))
        labels = split.labels
    run.log_metrics(step=0, split="test", accuracy=accuracy)
    _save_outputs(run, labels, z_hat, f"{args.task} test")
    return run.finish(
        {"test_accuracy": accuracy, "test_samples": len(labels)},
        samples=len(labels),
        dataset=dataset,
        engine=_engine_name(args),
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


def _test_split(args: argparse.Namespace, checkpoint: Checkpoint) -> tuple[Split, str]:
    """XOR: the 4 patterns; Iris: the checkpoint's fold test rows; images: the test split."""
    if args.task == "xor":
        return xor_task(), "xor"
    if args.task == "iris":
        fold = int(checkpoint.extra.get("fold", 0))
        return iris_folds(int(checkpoint.config["seed"]), args.data_root)[fold][1], f"iris fold {fold}"
    encoding = checkpoint.config.get("encoding", "binary")
    limit = _quick(args, "test_size")
    return image_split(args.task, "test", encoding=encoding, limit=limit, root=args.data_root), args.task


def read_features(path: str, n_features: int) -> np.ndarray:
    """Samples (N, n_features) from ``.npy`` or a text file (comma or whitespace separated)."""
    source = Path(path)
    if not source.is_file():
        raise UserError(f"input file {path!r} does not exist")
    try:
        if source.suffix == ".npy":
            values = np.load(source, allow_pickle=False)
        else:
            text = source.read_text(encoding="utf-8").replace(",", " ")
            values = np.array(
                [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
            )
    except ValueError as exc:
        raise UserError(f"cannot read numbers from {path!r}: {exc}") from None
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if values.ndim != 2 or values.shape[1] != n_features or not np.all(np.isfinite(values)):
        raise UserError(
            f"input {path!r} must hold finite rows of {n_features} features, got shape {values.shape}"
        )
    return values


def _predict_inputs(args: argparse.Namespace, checkpoint: Checkpoint) -> torch.Tensor | list[SpikeTrial]:
    """The ``--input`` files as z0 (N, I), or as spike trials for the spikes task."""
    if args.task == "spikes":
        trials = []
        for path in args.input:
            try:
                with np.load(path, allow_pickle=False) as data:
                    times, afferents = (
                        np.asarray(data["times"], np.float64),
                        np.asarray(data["afferents"], np.int64),
                    )
            except (OSError, KeyError, ValueError) as exc:
                raise UserError(
                    f"cannot read a spike trial (times, afferents) from {path!r}: {exc}"
                ) from None
            n_in = int(checkpoint.extra["sizes"][0])
            if (
                times.shape != afferents.shape
                or times.ndim != 1
                or (afferents.size and (afferents.min() < 0 or afferents.max() >= n_in))
            ):
                raise UserError(
                    f"{path!r}: times and afferents must be equal-length vectors, afferents in 0..{n_in - 1}"
                )
            order = np.argsort(times, kind="stable")
            trials.append(SpikeTrial(times[order], afferents[order], -1, np.empty(0), np.empty(0)))
        return trials
    if args.task in IMAGE_DATASETS:
        from hybridsnn.data import read_image_file

        images = np.concatenate([read_image_file(path, (1, 28, 28)) for path in args.input])
        return encode_images(images, checkpoint.config.get("encoding", "binary"))
    n_features = int(checkpoint.extra["sizes"][0])
    x = np.concatenate([read_features(path, n_features) for path in args.input])
    return encode_features(scale_iris(x, args.data_root) if args.task == "iris" else x)


def read_labels(path: str, count: int) -> np.ndarray:
    """Integer labels (.npy or text, one per sample)."""
    values = read_features(path, 1) if not path.endswith(".npy") else np.load(path, allow_pickle=False)
    labels = np.asarray(values).reshape(-1)
    if len(labels) != count:
        raise UserError(f"labels file {path!r} holds {len(labels)} labels for {count} inputs")
    return labels.astype(np.int64)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify ``--input`` (earliest output spike); writes ``predictions.json``, prints one class a line."""
    checkpoint, network, device = _frozen(args)
    inputs = _predict_inputs(args, checkpoint)
    if isinstance(inputs, list):
        z_hat = torch.cat([network.forward(*trial_tensors(t, device))[-1].cpu() for t in inputs])  # type: ignore[call-arg]
    else:
        z_hat = torch.cat([network.forward(chunk.to(device))[-1].cpu() for chunk in inputs.split(256)])
    predicted = z_hat.argmin(dim=1).numpy()
    metrics: dict[str, Any] = {"samples": len(predicted)}
    if args.labels:
        metrics["accuracy"] = float((predicted == read_labels(args.labels, len(predicted))).mean())
    write_json(
        run.path / PREDICTIONS_FILE,
        {"predictions": predicted.tolist(), "spike_times": torch.log(z_hat).tolist()},
    )
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        metrics,
        samples=len(predicted),
        dataset=args.task,
        engine=_engine_name(args),
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


# -- plot -------------------------------------------------------------------------------------------------


def plot(args: argparse.Namespace) -> list[Path]:
    """Training curves (accuracy and loss per epoch) and the output spike times per true class."""
    from hybridsnn import plots
    from hybridsnn.shifting.figures import output_spike_times

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory {str(run_dir)!r} does not exist")
    out = Path(args.output) if args.output else run_dir / "plots"
    records = [r for r in read_metrics(run_dir) if r.get("epoch") is not None]
    written: list[Path] = []
    if any("accuracy" in r for r in records):
        written.append(
            plots.accuracy_curves(
                records, out / "accuracy.png", x="epoch", title="Shifting Learning: accuracy"
            )
        )
    if any("loss" in r for r in records):
        written.append(
            plots.accuracy_curves(
                records,
                out / "loss.png",
                metrics=("loss",),
                x="epoch",
                ylabel="Σ(p − q)² / B",
                title="training monitor",
            )
        )
    outputs = run_dir / OUTPUTS_FILE
    if outputs.is_file():
        with np.load(outputs, allow_pickle=False) as data:
            written.append(
                output_spike_times(
                    data["labels"],
                    data["z_hat"],
                    out / "output_spike_times.png",
                    title=f"output spike times, {data['split']}",
                )
            )
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no shifting metrics or outputs to plot")
    return written
