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
from hybridsnn.checks import values
from hybridsnn.checks.arrays import check_numeric_array
from hybridsnn.checks.flags import refuse_flags_not_read, refuse_training_flags
from hybridsnn.checks.paths import check_readable_file
from hybridsnn.data.image_files import read_label_file
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
from hybridsnn.shifting.spike_task import SpikeTaskConfig, SpikeTrial, make_spike_task
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
from hybridsnn.sim.options import check_engine_flags
from hybridsnn.spiking import configure_threads, log_metrics_once, seed_everything, select_device

MODEL = "shifting"
TASKS = tuple(TASK_SETTINGS)
ENGINES = ("reference", "numba", "genn")
GPU_CHUNK_ELEMENTS = 1 << 26
GENN_BACKENDS = ("cuda", "single_threaded_cpu")
DEFAULT_DT = 0.01  # time step of the time-stepped engines, code-time units
OUTPUTS_FILE = "outputs.npz"
PREDICTIONS_FILE = "predictions.json"
SEED_RANGE = "a seed, a whole number 0..4294967295"
IRIS_FOLDS = 5  # folds of the 150 rows (30 test rows each)
IRIS_LOG_EVERY = 10  # epochs between Iris records (the original printed every 50)
#: --quick: small, fast versions of every task (each well under a minute on one CPU core; README "Quick
#: runs"). MNIST needs ~600 steps of 32 to learn (2000 images stayed at chance); the spike task only shows
#: its loss falling at this budget (it memorises its trials after ~1e4 online steps).
QUICK: dict[str, dict[str, int]] = {
    "xor": {"runs": 20},
    "iris": {"folds": 2, "epochs": 100},
    "mnist": {"train_size": 20000, "test_size": 1000, "epochs": 1, "batch_size": 32},
    "fashion-mnist": {"train_size": 20000, "test_size": 1000, "epochs": 1, "batch_size": 32},
    "spikes": {"hidden": 100, "train_size": 20, "test_size": 10, "epochs": 10},
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
    add("--backend", choices=GENN_BACKENDS, default=None, help="GeNN backend with --engine genn")
    add(
        "--dt",
        type=values.number(0.0, 1.0, open_min=True),
        default=DEFAULT_DT,
        help="time step of the time-stepped engines in code-time units (z = exp(t)), 0 < dt <= 1 "
        "(default 0.01)",
    )
    add(
        "--lanes",
        type=values.count,
        default=None,
        help="samples simulated together by the time-stepped engines (default: the batch size)",
    )
    add(
        "--device",
        default="auto",
        help="torch device of the reference: auto, cpu, cuda, cuda:N (default auto)",
    )
    add("--threads", type=values.count, default=None, help="CPU threads of torch (default: torch's choice)")
    add(
        "--test-size",
        type=values.count,
        default=None,
        help="mnist: first N test images (default 10000); spikes: validation trials (default 50)",
    )
    if command == "predict":
        add(
            "--input",
            nargs="+",
            required=True,
            metavar="FILE",
            help="mnist: images (.npy, IDX, PNG); xor: features in [0, 1], iris: measurements in cm "
            "(0..100), both .npy or text, one sample per row; spikes: .npz with 'times' (s, 0..10) and "
            "'afferents' of one trial",
        )
        add(
            "--labels",
            default=None,
            metavar="FILE",
            help="true labels (.npy, IDX or text, one class per sample) to report the accuracy",
        )
        return
    if command == "test":
        return
    add(
        "--data-seed",
        type=values.seed,
        default=0,
        help="spikes: seed of the synthetic spike trials and patterns, 0..2**32-1 (default 0)",
    )
    add(
        "--epochs",
        type=values.count,
        default=None,
        help="training epochs (default: the task's; xor/iris 400, mnist 20, spikes 200)",
    )
    add(
        "--batch-size",
        type=values.count,
        default=None,
        help="samples per update (default: xor 4, iris 30, mnist 128; spikes trains online, 1)",
    )
    add(
        "--lr-w",
        type=values.positive,
        default=None,
        help="initial learning rate of the shifting timings w, > 0 (default: xor 1e-3, iris 1e-2, "
        "mnist 1e-4, spikes 1e-5)",
    )
    add(
        "--lr-w-end",
        type=values.positive,
        default=None,
        help="final learning rate of w (geometric decay per epoch), > 0 (default: xor 1e-3, iris 1e-2, "
        "mnist 1e-6, spikes 1e-6)",
    )
    add(
        "--lr-p",
        type=values.non_negative,
        default=None,
        help="learning rate of the propagation factors e_tp, >= 0 (0 freezes them; default: xor 1e-2, "
        "iris 1e-6, mnist 1e-4, spikes 1e-6)",
    )
    add(
        "--hidden",
        type=values.count,
        default=None,
        help="hidden neurons (default: xor 8, iris 10, mnist 800, spikes 3200)",
    )
    add(
        "--runs",
        type=values.count,
        default=None,
        help="xor: independent runs with seeds SEED..SEED+N-1 (default 1)",
    )
    add(
        "--folds",
        type=values.integer(1, 5),
        default=None,
        help="iris: cross-validation folds to run, 1..5 (default 5)",
    )
    add(
        "--train-size",
        type=values.count,
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
        type=values.count,
        default=None,
        metavar="N",
        help="mnist/spikes: also save the resumable state every N batches/trials (default: once per epoch)",
    )


#: The tasks that read each task-specific flag; given for another task, the flag is refused.
READ_BY = {
    "runs": ("xor",),
    "folds": ("iris",),
    "train_size": ("mnist", "fashion-mnist", "spikes"),
    "test_size": ("mnist", "fashion-mnist", "spikes"),
    "encoding": IMAGE_DATASETS,
    "checkpoint_every": ("mnist", "fashion-mnist", "spikes"),
    "data_seed": ("spikes",),
}


def validate(args: argparse.Namespace, command: str) -> None:
    """Flags that depend on each other, the task or this machine, checked before the run folder is created
    (single values are refused by their ``type=`` already)."""
    if command == "plot":
        return
    from hybridsnn.cli import build_model_parser

    if getattr(args, "test", False):  # train shifting --test: the training flags are not read
        refuse_training_flags(args, MODEL)
    refuse_flags_not_read(args, build_model_parser("hybridsnn", command, MODEL), READ_BY, args.task, command)
    check_engine_flags(args.engine, args.backend)
    if args.engine == "reference":
        for flag, value, default in (("--lanes", args.lanes, None), ("--dt", args.dt, DEFAULT_DT)):
            if value != default:
                raise UserError(f"{flag} {value} applies to the time-stepped engines (--engine numba or "
                                "genn), not --engine reference")  # fmt: skip
        select_device(args.device)  # an unknown device, or CUDA where there is none
    elif args.device not in ("auto", "cpu"):
        raise UserError(f"--device {args.device} applies to --engine reference; the time-stepped engines run "
                        "on the CPU (numba) or on their --backend (genn)")  # fmt: skip
    if args.task == "spikes" and args.engine != "reference":
        raise UserError(f"the spikes task runs on --engine reference only, got --engine {args.engine}")
    batch_size = getattr(args, "batch_size", None)
    if args.task == "spikes" and batch_size not in (None, 1):
        raise UserError(f"the spikes task trains online (batch size 1), got --batch-size {batch_size}")
    if command == "predict":  # the inputs are read before any work; a bad file is named at once
        for path in args.input:
            check_readable_file(path, f"input file {path!r}")
        if args.labels is not None:
            check_readable_file(args.labels, f"labels file {args.labels!r}")


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
    """The task's settings with the given flags (and --quick) applied."""
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
    return settings  # each flag was checked by its type=, the combinations by validate()


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
    if args.task == "spikes":  # reference engine only (validate() refused the others)
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
    return checkpoint, checked_layers(checkpoint, str(path))


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    """Whether a metadata value is a whole number (not a bool) in ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and values.in_range(value, low, high)


def checked_layers(checkpoint: Checkpoint, source: str) -> list[LayerParams]:
    """The layers of a shifting checkpoint, refused with one line when its metadata (task, one Adam step
    count per layer), its tensors (float, chaining shapes) or its sizes (the task's inputs and outputs) are
    not a network of its task."""
    task, steps = checkpoint.extra.get("task"), checkpoint.extra.get("steps")
    if not isinstance(task, str) or task not in TASKS:
        raise CheckpointError(f"checkpoint {source!r} names the task {task!r}; shifting tasks are "
                              f"{', '.join(TASKS)}")  # fmt: skip
    if not isinstance(steps, list) or not steps or not all(_whole(step, 0) for step in steps):
        raise CheckpointError(f"checkpoint {source!r}: the Adam steps {steps!r} are not a list of whole "
                              "numbers >= 0, one per layer")  # fmt: skip
    for name, array in checkpoint.tensors.items():
        if array.dtype.kind != "f":
            raise CheckpointError(f"checkpoint {source!r}: {name} holds {array.dtype} values; expected "
                                  "floats")  # fmt: skip
    layers = layers_from_tensors(checkpoint.tensors, steps, dtype=_dtype(task), source=source)
    sizes, base = layer_sizes(layers), TASK_SETTINGS[task].sizes
    if sizes[0] != base[0] or sizes[-1] != base[-1]:
        raise CheckpointError(f"checkpoint {source!r} holds a network of sizes {sizes}; a {task} network has "
                              f"{base[0]} inputs and {base[-1]} outputs")  # fmt: skip
    return layers


def _resume_point(
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
        runs = _quick(args, "runs")
        need("runs_done", _whole(extra.get("runs_done"), 0, runs), f"a whole number 0..{runs}")
        need("successes", _whole(extra.get("successes"), 0, extra["runs_done"]),
             "a whole number 0..runs_done")  # fmt: skip
        return checkpoint, layers
    progress = Progress.from_dict(extra.get("progress"), source=source)
    need("progress", progress.epoch <= settings.epochs and (n_batches is None or progress.batch <= n_batches),
         f"at most {settings.epochs} epochs" + (f" of {n_batches} batches" if n_batches else ""))  # fmt: skip
    if args.task == "iris":
        folds = _quick(args, "folds")
        need("fold", _whole(extra.get("fold"), 0, folds), f"a whole number 0..{folds}")
        need("done", isinstance(extra.get("done"), bool), "true or false")
        for name in ("fold_test", "fold_train"):
            scores = extra.get(name)
            need(name, isinstance(scores, list) and len(scores) == extra["fold"] and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores),
                f"one accuracy per finished fold ({extra['fold']})")  # fmt: skip
    elif args.task in IMAGE_DATASETS:
        best = extra.get("best")
        need("best", isinstance(best, dict) and isinstance(best.get("accuracy"), (int, float))
             and _whole(best.get("epoch"), 0, settings.epochs),
             "the best accuracy and its epoch")  # fmt: skip
    return checkpoint, layers


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
    point = _resume_point(run, args, settings)
    resumed = point[0] if point else None
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
        log_metrics_once(run, step=index, split="runs", seed=args.seed + index, success=success, **last)
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
            log_metrics_once(log_to, step=progress.epoch, epoch=progress.epoch, split="train", **metrics)

    train_epochs(network, data, settings, Progress(), on_epoch=on_epoch)
    return last


def _train_iris(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """Cross-validation over ``--folds`` folds of one seeded permutation (fold 0 = the original split)."""
    device = _device(args)
    n_folds = _quick(args, "folds")
    folds = iris_folds(args.seed, args.data_root)
    point = _resume_point(run, args, settings, n_batches=-(-len(folds[0][0]) // settings.batch_size))
    resumed = point[0] if point else None
    state: dict[str, Any] = {"fold": 0, "fold_test": [], "fold_train": [], "done": False}
    if resumed:
        state = {key: resumed.extra[key] for key in state}
    network: Network | None = None
    for fold in range(state["fold"], n_folds):
        train_split, test_split = (part.to(device) for part in folds[fold])
        progress = Progress()
        if point and not state["done"]:  # continue the fold that was interrupted
            layers = [layer.to(device) for layer in point[1]]
            progress = Progress.from_dict(point[0].extra["progress"])
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
        point = None
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
            log_metrics_once(run, step=step, epoch=epoch, split=f"train-fold{fold}", **metrics)
            log_metrics_once(run, step=step, epoch=epoch, split=f"test-fold{fold}", accuracy=accuracy)
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
    n_batches = -(-len(train_split) // settings.batch_size)
    point = _resume_point(run, args, settings, n_batches)
    if point:
        layers = [layer.to(device) for layer in point[1]]
        progress = Progress.from_dict(point[0].extra["progress"])
        best = point[0].extra["best"]
        run.drop_metrics_after(progress.epoch)  # records of an epoch that was cut off are recomputed
    else:
        layers = _start_layers(args, settings.sizes, args.seed, device)
        progress, best = Progress(), {"accuracy": -1.0, "epoch": 0}
    network = build_network(args, layers, device)
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
    point = _resume_point(run, args, settings, n_batches=len(train_trials_))
    if point:
        layers = [layer.to(device) for layer in point[1]]
        progress = Progress.from_dict(point[0].extra["progress"])
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
    checkpoint, layers = load_model(args.checkpoint)
    task = checkpoint.extra["task"]
    if task != args.task:
        raise UserError(f"checkpoint {args.checkpoint!r} was trained on task {task}; pass --task {task}")
    configure_threads(args.threads)
    seed_everything(args.seed)
    device = _device(args)
    return checkpoint, build_network(args, [layer.to(device) for layer in layers], device), device


def _stored(checkpoint: Checkpoint, key: str, default: Any, ok: Any, allowed: str) -> Any:
    """A value of the training run's configuration stored in a checkpoint (``default`` when absent),
    refused with one line when ``ok(value)`` is false (a hand-edited or damaged checkpoint)."""
    value = checkpoint.config.get(key)
    if value is None:
        return default
    if not ok(value):
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r}: its training configuration holds {key} "
                              f"{value!r}; expected {allowed}")  # fmt: skip
    return value


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` with learning off on its task's test data (argmin decision)."""
    checkpoint, network, device = _frozen(args)
    if args.task == "spikes":
        data_seed = _stored(checkpoint, "data_seed", 0, lambda v: _whole(v, 0, 2**32 - 1), SEED_RANGE)
        count = args.test_size
        if count is None:
            count = _stored(checkpoint, "test_size", SPIKE_SIZES["test_size"], lambda v: _whole(v, 1),
                            "a count >= 1")  # fmt: skip
        trials = _spike_trials(argparse.Namespace(data_seed=data_seed), 1, count)[1]
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


def _encoding(checkpoint: Checkpoint) -> str:
    return _stored(checkpoint, "encoding", "binary", lambda v: v in ENCODINGS, " or ".join(ENCODINGS))


def _test_split(args: argparse.Namespace, checkpoint: Checkpoint) -> tuple[Split, str]:
    """XOR: the 4 patterns; Iris: the checkpoint's fold test rows; images: the test split."""
    if args.task == "xor":
        return xor_task(), "xor"
    if args.task == "iris":
        fold = checkpoint.extra.get("fold", 0)
        if not _whole(fold, 0, IRIS_FOLDS - 1):
            raise CheckpointError(f"checkpoint {args.checkpoint!r}: fold is {fold!r}; expected "
                                  f"0..{IRIS_FOLDS - 1}")  # fmt: skip
        seed = _stored(checkpoint, "seed", 0, lambda v: _whole(v, 0, 2**32 - 1), SEED_RANGE)
        return iris_folds(seed, args.data_root)[fold][1], f"iris fold {fold}"
    limit = _quick(args, "test_size")
    split = image_split(args.task, "test", encoding=_encoding(checkpoint), limit=limit, root=args.data_root)
    return split, args.task


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(magic)) == magic


#: Allowed feature values of the predict inputs (xor: features; iris: measurements in cm).
FEATURE_RANGES = {"xor": (0.0, 1.0, "features in [0, 1]"), "iris": (0.0, 100.0, "measurements in cm, 0..100")}


def read_features(path: str, n_features: int, task: str | None = None) -> np.ndarray:
    """Samples (N, n_features) from ``.npy`` or a text file (comma or whitespace separated), finite numbers
    (within the task's :data:`FEATURE_RANGES`); a 1-D array is one sample."""
    where = f"input {path!r}"
    source = check_readable_file(path, f"input file {path!r}")
    rows: list[list[float]] = []
    try:
        if source.suffix == ".npy":
            if not _starts_with(source, b"\x93NUMPY"):
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


SPIKE_TRIAL_S = SpikeTaskConfig().duration_s


def read_spike_trial(path: str, n_inputs: int) -> SpikeTrial:
    """One trial from an ``.npz`` with ``times`` (s, within the trial) and ``afferents`` (0..n_inputs-1)."""
    where = f"input {path!r}"
    source = check_readable_file(path, f"input file {path!r}")
    try:
        if not _starts_with(source, b"PK"):  # an .npz is a zip archive of .npy arrays
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


def _predict_inputs(
    args: argparse.Namespace, n_inputs: int, encoding: str
) -> torch.Tensor | list[SpikeTrial]:
    """The ``--input`` files as z0 (N, I), or as spike trials for the spikes task."""
    if args.task == "spikes":
        return [read_spike_trial(path, n_inputs) for path in args.input]
    if args.task in IMAGE_DATASETS:
        from hybridsnn.data import read_image_file

        images = np.concatenate([read_image_file(path, (1, 28, 28)) for path in args.input])
        return encode_images(images, encoding)
    x = np.concatenate([read_features(path, n_inputs, args.task) for path in args.input])
    return encode_features(scale_iris(x, args.data_root) if args.task == "iris" else x)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify ``--input`` (earliest output spike); writes ``predictions.json``, prints one class a line."""
    checkpoint, network, device = _frozen(args)
    sizes = layer_sizes(network.layers)
    inputs = _predict_inputs(args, sizes[0], _encoding(checkpoint))
    count = len(inputs)
    labels = read_label_file(args.labels, count=count, classes=sizes[-1]) if args.labels else None
    if isinstance(inputs, list):
        z_hat = torch.cat([network.forward(*trial_tensors(t, device))[-1].cpu() for t in inputs])  # type: ignore[call-arg]
    else:
        z_hat = torch.cat([network.forward(chunk.to(device))[-1].cpu() for chunk in inputs.split(256)])
    predicted = z_hat.argmin(dim=1).numpy()
    metrics: dict[str, Any] = {"samples": len(predicted)}
    if labels is not None:
        metrics["accuracy"] = float((predicted == labels).mean())
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
    for record in records:  # a hand-edited log: numbers only, or the curves would fail half-way
        for key in ("epoch", "accuracy", "loss"):
            value = record.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise UserError(f"the metrics log of {str(run_dir)!r} holds {key} {value!r}; expected a "
                                "number")  # fmt: skip
    spike_times = _read_outputs(run_dir / OUTPUTS_FILE)
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
    if spike_times is not None:
        labels, z_hat, split = spike_times
        written.append(
            output_spike_times(
                labels, z_hat, out / "output_spike_times.png", title=f"output spike times, {split}"
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dir)!r} has no shifting metrics or outputs to plot")
    return written


def _read_outputs(path: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The labels, output ẑ and split name a run saved in ``outputs.npz`` (None if there is none), checked."""
    if not path.is_file():
        return None
    try:
        if not _starts_with(path, b"PK"):
            raise ValueError("not an .npz archive")
        with np.load(path, allow_pickle=False) as data:
            labels, z_hat, split = data["labels"], data["z_hat"], str(data["split"])
    except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise UserError(f"{str(path)!r} is not a readable outputs file of a shifting run ({exc})") from None
    labels = check_numeric_array(labels, f"{str(path)!r}: labels")
    z_hat = check_numeric_array(z_hat, f"{str(path)!r}: z_hat")
    if labels.ndim != 1 or z_hat.ndim != 2 or len(labels) != len(z_hat) or labels.dtype.kind not in "iu":
        raise UserError(f"{str(path)!r} holds labels {labels.shape} {labels.dtype} and z_hat {z_hat.shape}; "
                        "expected integer labels (N,) and outputs (N, classes)")  # fmt: skip
    return labels, z_hat, split
