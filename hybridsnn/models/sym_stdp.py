"""sym-STDP driver (Hao et al. 2020): ``hybridsnn train|test|predict|plot sym-stdp``.

Train: sequential presentation (350 ms + 150 ms rest at dt 0.5 ms) with the retry rule, symmetric STDP on
P2E and E2C with column normalisation, the 200 Hz teacher, periodic evaluation every ``--eval-every``
samples and checkpoints every ``--checkpoint-every`` samples. ``--fixed-hidden CKPT`` loads a trained hidden
layer and trains only the output layer (the paper's layer-by-layer path). Test/predict: frozen inference
with many images in flight. Checkpoints: the project format, plus import/export of the original text files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hybridsnn.checkpoint import Checkpoint, check_shapes, load_checkpoint
from hybridsnn.checks import values
from hybridsnn.checks.flags import refuse_training_flags
from hybridsnn.checks.paths import check_writable_dir
from hybridsnn.data import load_dataset, read_image_file
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run
from hybridsnn.sim import available_engines, default_engine
from hybridsnn.sim.options import (
    add_engine_tuning_flags,
    check_engine_flags,
    engine_threads,
    genn_preferences,
)
from hybridsnn.symstdp.config import DATASETS, SIZES, SymStdpConfig, make_config
from hybridsnn.symstdp.experiment import Evaluation, TrainState, evaluate, label_hidden_neurons
from hybridsnn.symstdp.network import EngineChoice, InferenceNetwork, TrainingNetwork, initial_weights
from hybridsnn.symstdp.readout import assign_labels, sl_predict, usl_predict
from hybridsnn.symstdp.textformat import export_text_checkpoint, import_text_checkpoint, read_values

MODEL = "sym-stdp"
QUICK = {
    "neurons": 100,
    "train_samples": 3000,
    "test_samples": 1000,
    "eval_every": 1000,
    "checkpoint_every": 500,
}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of ``hybridsnn <command> sym-stdp``."""
    if command == "plot":
        return
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="training/test images (default: mnist; test/predict: the checkpoint's); fashion-mnist gets the "
        "per-image mean-30 scaling",
    )
    parser.add_argument(
        "--neurons",
        type=int,
        choices=SIZES,
        default=None,
        help="hidden excitatory neurons (default 400; 100 with --quick; test/predict: from the checkpoint)",
    )
    parser.add_argument(
        "--engine",
        choices=("numba", "genn"),
        default=None,
        help=f"simulation engine (default: {default_engine()}; installed: {', '.join(available_engines())})",
    )
    parser.add_argument(
        "--backend",
        choices=("cuda", "single_threaded_cpu"),
        default=None,
        help="GeNN backend with --engine genn (default: cuda if available)",
    )
    add_engine_tuning_flags(parser)
    parser.add_argument(
        "--batch",
        type=values.count,
        default=None,
        help="images classified in parallel by the frozen inference network (default: 32 on numba, 128 with "
        "--backend cuda, 1 on other GeNN backends, which only run batch 1)",
    )
    if command in ("train", "test"):  # predict classifies its --input images
        parser.add_argument(
            "--test-samples",
            type=values.count,
            default=None,
            help="test images per evaluation (default all 10000; 1000 with --quick)",
        )
    if command == "train":
        parser.add_argument(
            "--epochs",
            type=values.count,
            default=1,
            help="passes over the training samples (default 1; the original ran 20)",
        )
        parser.add_argument(
            "--train-samples",
            type=values.count,
            default=None,
            help="training samples per epoch, the first N in file order (default all 60000)",
        )
        parser.add_argument(
            "--eval-every",
            type=values.count,
            default=None,
            help="evaluate on the test set every N training samples (default 10000)",
        )
        parser.add_argument(
            "--checkpoint-every",
            type=values.count,
            default=None,
            help="save a checkpoint every N training samples (default 10000)",
        )
        parser.add_argument(
            "--fixed-hidden",
            default=None,
            metavar="CKPT",
            help="load P2E and theta from CKPT (project file or original text folder) and "
            "train only the output layer",
        )
        parser.add_argument(
            "--export-original",
            default=None,
            metavar="DIR",
            help="also write the final weights as the original gP2E/gE2C/theta text files",
        )
    if command in ("test", "train", "predict"):
        parser.add_argument(
            "--label-samples",
            type=values.count,
            default=10000,
            help="training images for the label-assignment pass when the checkpoint has no "
            "assignments (original text checkpoints); default 10000",
        )
    if command == "predict":
        parser.add_argument(
            "--input",
            nargs="+",
            required=True,
            metavar="FILE",
            help="images to classify: IDX (.gz or raw), .npy (N,28,28) or PNG files",
        )


# -- helpers -------------------------------------------------------------------------------------------
def validate(args: argparse.Namespace, command: str) -> None:
    """Flags that depend on each other or on this machine, checked before the run folder is created (the
    counts are refused by their ``type=`` already)."""
    if command == "plot":
        return
    genn_preferences(args)
    check_engine_flags(_engine(args), args.backend)
    if getattr(args, "test", False):  # train sym-stdp --test: the training flags are not read
        refuse_training_flags(args, MODEL)
    if command != "train":
        return
    if args.fixed_hidden is not None and args.checkpoint is not None:
        raise UserError(
            f"--fixed-hidden {args.fixed_hidden!r} and --checkpoint {args.checkpoint!r} both name the "
            "weights to start from; give one (--fixed-hidden trains only the output layer, --checkpoint both)"
        )
    if args.export_original is not None:
        check_writable_dir(args.export_original, f"--export-original {args.export_original!r}")


def _given(value: int | None, default: int | None) -> int | None:
    """A count flag: the value given (never replaced because it is falsy), else the default."""
    return default if value is None else value


def _config(args: argparse.Namespace, n_hidden: int) -> SymStdpConfig:
    return make_config(args.dataset, n_hidden)


def _engine(args: argparse.Namespace) -> str:
    return args.engine or default_engine()


def _device(args: argparse.Namespace) -> str:
    """Where the simulation runs: ``cpu`` for numba, the GeNN backend otherwise."""
    return "cpu" if _engine(args) == "numba" else (args.backend or "genn-default")


def _default_batch(args: argparse.Namespace) -> int:
    """Copies in flight for inference: numba runs them on threads, CUDA in one launch, GeNN CPU needs 1."""
    if _engine(args) == "numba":
        return 32
    return 128 if args.backend == "cuda" else 1


def _engine_choice(args: argparse.Namespace) -> EngineChoice:
    """The engine flags; GeNN's generated code goes under ``--output`` (numba keeps its own kernel cache)."""
    build_dir = str(Path(args.output) / "genn_build") if _engine(args) == "genn" else None
    return EngineChoice(_engine(args), args.backend, build_dir, engine_threads(args), genn_preferences(args))


def _images(args: argparse.Namespace, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    options = {"normalize_mean": 30.0} if args.dataset == "fashion-mnist" else {}
    data = load_dataset(args.dataset, split, root=args.data_root, **options)
    if limit is not None:
        data = data.subset(min(limit, len(data)))
    return data.x, data.y


def _inference(args: argparse.Namespace, config: SymStdpConfig) -> InferenceNetwork:
    batch = args.batch if args.batch is not None else _default_batch(args)
    return InferenceNetwork(
        config,
        engine=_engine_choice(args),
        seed=args.seed + 1,
        batch=batch,
    )


def _progress(total: int, desc: str, args: argparse.Namespace) -> tqdm:
    return tqdm(total=total, desc=desc, unit="img", disable=args.no_progress, leave=False)


def load_weights(path: str, n_input: int = 784) -> tuple[dict[str, np.ndarray], str | None]:
    """P2E, θ, and E2C and assignments where present, from a project checkpoint or an original folder;
    with the dataset the checkpoint was trained on (None for the original text files, which do not say).

    Every array is checked (float weights ≥ 0, finite, of one network's shapes; assignments integers in
    -1..9), so a damaged or foreign file ends in one line naming it, never in a traceback later."""
    source = Path(path)
    if source.is_dir():
        theta_file = source / "theta"
        n_hidden = read_values(theta_file).size if theta_file.exists() else 0  # missing: named below
        if theta_file.exists():
            _hidden_size(n_hidden, f"original checkpoint {str(source)!r}")
        weights = import_text_checkpoint(source, n_hidden, n_input)
        check_weights(weights, f"original checkpoint {str(source)!r}", n_input)
        return weights, None
    ckpt = load_checkpoint(source, model=MODEL)
    weights = dict(ckpt.tensors)
    missing = [name for name in ("p2e", "theta") if name not in weights]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(source)!r} lacks {' and '.join(missing)}; it has {sorted(weights)}"
        )
    check_weights(weights, f"checkpoint {str(source)!r}", n_input)
    meta = ckpt.extra.get("sym_stdp", {})
    dataset = meta.get("dataset") if isinstance(meta, dict) else meta
    if dataset is not None and dataset not in DATASETS:
        raise CheckpointError(
            f"checkpoint {str(source)!r} names the dataset {dataset!r}; sym-STDP trains on "
            f"{', '.join(DATASETS)}"
        )
    return weights, dataset


def _hidden_size(n_hidden: int, where: str) -> int:
    """``n_hidden`` (the length of θ) if a sym-STDP network has that many hidden neurons."""
    if n_hidden not in SIZES:
        raise CheckpointError(
            f"{where}: theta holds {n_hidden} values, i.e. {n_hidden} hidden neurons; sym-STDP networks have "
            f"{', '.join(map(str, SIZES[:-1]))} or {SIZES[-1]}"
        )
    return n_hidden


def check_weights(weights: dict[str, np.ndarray], where: str, n_input: int = 784, n_classes: int = 10) -> int:
    """The hidden size of ``weights`` (p2e, theta; e2c, assignments where present) if they are one network's:
    float conductances ≥ 0 and θ of consistent shapes, assignments integers in -1..n_classes-1."""
    theta = weights["theta"]
    if theta.ndim != 1:
        raise CheckpointError(f"{where}: theta has shape {theta.shape}; expected one value per hidden neuron")
    n_hidden = _hidden_size(theta.shape[0], where)
    expected = {"p2e": (n_input, n_hidden), "theta": (n_hidden,)}
    if "e2c" in weights:
        expected["e2c"] = (n_hidden, n_classes)
    if "assignments" in weights:
        expected["assignments"] = (n_hidden,)
    for name, shape in expected.items():
        if weights[name].shape != shape:
            raise CheckpointError(
                f"{where}: {name} has shape {weights[name].shape}; a network of {n_hidden} hidden neurons "
                f"needs {shape}"
            )
    for name in ("p2e", "e2c", "theta"):
        if name in weights and weights[name].dtype.kind != "f":
            raise CheckpointError(f"{where}: {name} holds {weights[name].dtype} values; expected floats")
    for name in ("p2e", "e2c"):
        if name in weights and weights[name].size and weights[name].min() < 0:
            raise CheckpointError(
                f"{where}: {name} holds negative weights (down to {weights[name].min():g}); conductances "
                "are >= 0"
            )
    if "assignments" in weights:
        labels = weights["assignments"]
        if labels.dtype.kind not in "iu":
            raise CheckpointError(
                f"{where}: assignments hold {labels.dtype} values; expected integer classes"
            )
        if labels.size and (labels.min() < -1 or labels.max() >= n_classes):
            raise CheckpointError(
                f"{where}: assignments range {labels.min()}..{labels.max()}; expected classes -1 (none) .. "
                f"{n_classes - 1}"
            )
    return n_hidden


def _log_evaluation(run: Run, result: Evaluation, step: int, epoch: float, split: str = "test") -> None:
    run.log_metrics(step=step, epoch=epoch, split=split, **result.metrics())


# -- train ---------------------------------------------------------------------------------------------
def train(args: argparse.Namespace, run: Run) -> dict:
    """Train both layers (or only the output layer with ``--fixed-hidden``), evaluating periodically."""
    quick = QUICK if args.quick else {}
    args.dataset = args.dataset or "mnist"
    n_hidden = _given(args.neurons, quick.get("neurons", 400))
    config = _config(args, n_hidden)
    train_x, train_y = _images(args, "train", _given(args.train_samples, quick.get("train_samples")))
    test_x, test_y = _images(args, "test", _given(args.test_samples, quick.get("test_samples")))
    eval_every = _given(args.eval_every, quick.get("eval_every", 10000))
    checkpoint_every = _given(args.checkpoint_every, quick.get("checkpoint_every", 10000))
    total = args.epochs * len(train_x)

    state = _initial_state(args, run, config, len(train_x), total)
    # --resume recomputes everything after the last checkpoint: forget the evaluations a killed run had
    # logged since (their epoch is samples/len(train); a fresh run has none)
    run.drop_metrics_after(state.samples_seen / len(train_y))
    network = TrainingNetwork(
        config,
        state.p2e,
        state.e2c,
        state.theta,
        engine=_engine_choice(args),
        seed=args.seed,
        plastic_hidden=args.fixed_hidden is None,
    )
    if state.engine_state and hasattr(network.model, "set_state"):
        network.model.set_state(state.engine_state)  # continue the simulation itself, bit for bit
    inference = _inference(args, config)
    first_sample, first_attempt = state.samples_seen, state.attempts
    learn_seconds = 0.0
    result: Evaluation | None = None
    bar = tqdm(total=total, initial=state.samples_seen, desc=f"sym-STDP N={n_hidden}", unit="img",
               disable=args.no_progress)  # fmt: skip
    while state.samples_seen < total:
        index = state.samples_seen % len(train_x)
        tick = time.perf_counter()
        counts, attempts = network.learn_sample(train_x[index], int(train_y[index]))
        learn_seconds += time.perf_counter() - tick
        state.monitor[index], state.seen[index] = counts, True
        state.samples_seen += 1
        state.attempts += attempts
        bar.update(1)
        done = state.samples_seen == total
        if state.samples_seen % eval_every == 0 or done:
            state.p2e, state.e2c, state.theta = network.weights()
            result = _evaluate_training(args, run, state, train_y, inference, test_x, test_y)
            bar.set_postfix(sl=f"{result.sl_accuracy:.3f}", usl=f"{result.usl_accuracy:.3f}")
        if state.samples_seen % checkpoint_every == 0 or done:
            state.p2e, state.e2c, state.theta = network.weights()
            if hasattr(network.model, "get_state"):
                state.engine_state = network.model.get_state()
            _save(run, state, config, f"samples-{state.samples_seen:08d}")
    bar.close()
    _save(run, state, config, "final")
    if args.export_original:
        export_text_checkpoint(args.export_original, state.p2e, state.e2c, state.theta)
    trained = state.samples_seen - first_sample
    metrics = {
        **(result.metrics() if result else {}),
        "train_samples": state.samples_seen,
        "mean_train_attempts": state.attempts / max(state.samples_seen, 1),
        "ms_per_train_sample": 1000.0 * learn_seconds / max(trained, 1),
        "ms_per_presentation": 1000.0 * learn_seconds / max(state.attempts - first_attempt, 1),
    }
    return run.finish(
        metrics,
        samples=state.samples_seen,  # the whole run: a resumed run counts its earlier segments too
        dataset=args.dataset,
        engine=_engine(args),
        device=_device(args),
        n_hidden=n_hidden,
    )


def _evaluate_training(
    args: argparse.Namespace,
    run: Run,
    state: TrainState,
    train_y: np.ndarray,
    inference: InferenceNetwork,
    test_x: np.ndarray,
    test_y: np.ndarray,
) -> Evaluation:
    """Assign hidden neurons from the training monitor, test the current weights, log the metrics."""
    seen = state.seen
    state.assignments = assign_labels(
        state.monitor[seen], train_y[seen], inference.config.n_classes, state.assignments
    )
    with _progress(len(test_x), "evaluate", args) as pbar:
        result = evaluate(
            inference, state.p2e, state.e2c, state.theta, state.assignments, test_x, test_y, pbar.update
        )
    _log_evaluation(run, result, state.samples_seen, state.samples_seen / len(train_y))
    return result


def _initial_state(
    args: argparse.Namespace, run: Run, config: SymStdpConfig, n_train: int, total: int
) -> TrainState:
    last = run.checkpoint_dir / "last.safetensors"
    if last.is_file():  # --resume: continue from the last checkpoint
        return _resumed_state(run.load_checkpoint("last"), config, n_train, total, str(last))
    rng = np.random.default_rng(args.seed)
    p2e, e2c = initial_weights(config, rng)
    theta = np.full(config.n_hidden, config.theta_init, np.float32)
    flag = "--fixed-hidden" if args.fixed_hidden else "--checkpoint"
    start = args.fixed_hidden or args.checkpoint
    if start:  # --fixed-hidden: a trained hidden layer; --checkpoint: continue training from its weights
        loaded, trained_on = load_weights(start, config.n_input)
        n_hidden = loaded["theta"].shape[0]
        if n_hidden != config.n_hidden:
            given = f"--neurons {config.n_hidden}" + ("" if args.neurons is not None else " (the default)")
            raise CheckpointError(f"{flag} {start!r} has {n_hidden} hidden neurons, not {given}; pass "
                                  f"--neurons {n_hidden}")  # fmt: skip
        if trained_on is not None and trained_on != config.dataset:
            raise CheckpointError(f"{flag} {start!r} was trained on {trained_on}, not --dataset "
                                  f"{config.dataset} (the two use different constants)")  # fmt: skip
        p2e, theta = loaded["p2e"].astype(np.float32), loaded["theta"].astype(np.float32)
        if args.checkpoint and "e2c" in loaded:
            e2c = loaded["e2c"].astype(np.float32)
    return TrainState(
        p2e,
        e2c,
        theta,
        np.zeros((n_train, config.n_hidden), np.int64),
        np.zeros(n_train, bool),
        np.full(config.n_hidden, -1, np.int64),
    )


def _resumed_state(
    ckpt: Checkpoint, config: SymStdpConfig, n_train: int, total: int, source: str
) -> TrainState:
    """The training state of a run's ``last`` checkpoint, checked against the run's configuration."""
    n = config.n_hidden
    check_shapes(ckpt.tensors, {"p2e": (config.n_input, n), "e2c": (n, config.n_classes), "theta": (n,),
                                "assignments": (n,), "monitor": (n_train, n), "seen": (n_train,)},
                 source=source)  # fmt: skip
    check_weights(ckpt.tensors, f"checkpoint {source!r}", config.n_input, config.n_classes)
    for name in ("monitor", "seen"):
        if ckpt.tensors[name].dtype.kind not in "biu":
            raise CheckpointError(f"checkpoint {source!r}: {name} holds {ckpt.tensors[name].dtype} values; "
                                  "expected counts")  # fmt: skip
    seen, attempts = ckpt.extra.get("samples_seen"), ckpt.extra.get("attempts")
    for name, value, low, high in (("samples_seen", seen, 0, total), ("attempts", attempts, seen, None)):
        if isinstance(value, bool) or not isinstance(value, int) or not values.in_range(value, low, high):
            allowed = f"a whole number {low}..{high}" if high is not None else f"a whole number >= {low}"
            raise CheckpointError(f"checkpoint {source!r}: {name} is {value!r}; this run needs {allowed}")
    return TrainState.from_tensors(ckpt.tensors, seen, attempts)


def _save(run: Run, state: TrainState, config: SymStdpConfig, name: str) -> None:
    """Weights, θ and assignments under ``name``; the full state (with the train monitor) as ``last``."""
    extra = {"samples_seen": state.samples_seen, "attempts": state.attempts, "sym_stdp": config.to_dict()}
    full = state.tensors()
    run.save_checkpoint(name, {k: full[k] for k in ("p2e", "e2c", "theta", "assignments")}, extra=extra)
    run.save_checkpoint("last", full, extra=extra)


# -- test / predict --------------------------------------------------------------------------------------
def _frozen_weights(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The ``--checkpoint`` weights for test/predict, checked against ``--dataset``/``--neurons``."""
    weights, trained_on = load_weights(args.checkpoint)
    if args.dataset and trained_on and args.dataset != trained_on:
        raise CheckpointError(
            f"checkpoint {args.checkpoint!r} was trained on {trained_on}, not --dataset {args.dataset} "
            "(the two use different constants)"
        )
    args.dataset = args.dataset or trained_on or "mnist"
    n_hidden = weights["theta"].shape[0]
    if args.neurons is not None and args.neurons != n_hidden:
        raise CheckpointError(
            f"checkpoint {args.checkpoint!r} has {n_hidden} hidden neurons, not --neurons {args.neurons}"
        )
    if "e2c" not in weights:
        raise CheckpointError(f"checkpoint {args.checkpoint!r} has no E2C (output layer) weights to test")
    return weights


def _frozen_model(
    args: argparse.Namespace, weights: dict[str, np.ndarray]
) -> tuple[SymStdpConfig, InferenceNetwork]:
    """The inference network of ``weights``; labels the hidden neurons first where the checkpoint has no
    assignments (the original's text files)."""
    config = _config(args, weights["theta"].shape[0])
    network = _inference(args, config)
    if "assignments" not in weights:
        x, y = _images(args, "train", args.label_samples)
        weights["assignments"] = label_hidden_neurons(
            network, weights["p2e"], weights["e2c"], weights["theta"], x, y, config
        )
    return config, network


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate a checkpoint on the test set with plasticity, θ and teacher frozen."""
    weights = _frozen_weights(args)
    _, network = _frozen_model(args, weights)
    x, y = _images(args, "test", _given(args.test_samples, QUICK["test_samples"] if args.quick else None))
    with _progress(len(x), "test", args) as pbar:
        result = evaluate(
            network,
            weights["p2e"],
            weights["e2c"],
            weights["theta"],
            weights["assignments"],
            x,
            y,
            pbar.update,
        )
    _log_evaluation(run, result, step=0, epoch=None)
    return run.finish(
        result.metrics(),
        samples=len(y),
        dataset=args.dataset,
        engine=_engine(args),
        device=_device(args),
        n_hidden=int(weights["theta"].shape[0]),
    )


def read_images(paths: list[str]) -> np.ndarray:
    """28x28 images as uint8 pixels (0..255, the input rates' unit) from IDX, .npy or PNG files."""
    images = [read_image_file(path, (1, 28, 28)) for path in paths]
    scaled = [np.rint(x * 255.0) if x.dtype != np.uint8 else x for x in images]  # [0, 1] floats -> pixels
    return np.concatenate(scaled).astype(np.uint8)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the ``--input`` images with a checkpoint; writes ``predictions.json`` in the run directory."""
    weights = _frozen_weights(args)
    images = read_images(args.input)  # before the network is built and any labelling pass runs
    config, network = _frozen_model(args, weights)
    network.load_weights(weights["p2e"], weights["e2c"], weights["theta"])
    with _progress(len(images), "predict", args) as pbar:
        hidden, output, _ = network.classify(images, pbar.update)
    sl = sl_predict(output)
    usl = usl_predict(hidden, weights["assignments"], config.n_classes)
    from hybridsnn.atomic import write_json

    write_json(
        run.path / "predictions.json",
        {"sl": sl.tolist(), "usl": usl.tolist(), "output_counts": output.tolist()},
    )
    print(" ".join(str(p) for p in sl))
    return run.finish({"predictions": len(sl)}, samples=len(sl), engine=_engine(args), device=_device(args))


# -- plot ------------------------------------------------------------------------------------------------
def plot(args: argparse.Namespace) -> list[Path]:
    """Receptive fields, weight-evolution GIF, E2C heat map, θ histogram, curves, confusion, spike counts."""
    import re

    from hybridsnn import plots
    from hybridsnn.results import read_metrics

    run_dir = Path(args.run_dir)
    checkpoints = sorted(p for p in (run_dir / "checkpoints").glob("samples-*.safetensors")
                         if re.fullmatch(r"samples-\d+", p.stem))  # fmt: skip
    final = run_dir / "checkpoints" / "final.safetensors"
    if not final.is_file() and not checkpoints:
        raise UserError(f"{str(run_dir)!r} has no sym-STDP checkpoints to plot")
    out = Path(args.output) if args.output else run_dir / "plots"
    source = final if final.is_file() else checkpoints[-1]
    last, _ = load_weights(str(source))
    if "e2c" not in last:
        raise CheckpointError(f"checkpoint {str(source)!r} has no E2C (output layer) weights to plot")
    series = [load_weights(str(p))[0]["p2e"] for p in checkpoints]  # each one checked before drawing
    state_file = run_dir / "checkpoints" / "last.safetensors"
    state = load_checkpoint(state_file, model=MODEL).tensors if state_file.is_file() else {}
    monitor, seen = state.get("monitor"), state.get("seen")
    if monitor is not None and (seen is None or monitor.ndim != 2 or seen.shape != monitor.shape[:1]):
        raise CheckpointError(f"checkpoint {str(state_file)!r}: the training monitor and its 'seen' flags do "
                              "not fit each other")  # fmt: skip
    records = [r for r in read_metrics(run_dir) if isinstance(r.get("sl_accuracy"), (int, float))]
    confusions = {}
    if records:
        for kind in ("sl", "usl"):
            matrix = np.array(records[-1].get(f"{kind}_confusion"), dtype=object)
            if matrix.shape != (10, 10) or not all(isinstance(v, int) for v in matrix.flat):
                raise UserError(f"the metrics log of {str(run_dir)!r}: the last evaluation's "
                                f"{kind}_confusion is not a 10x10 matrix of counts")  # fmt: skip
            confusions[kind] = matrix.astype(np.int64)
    written = [
        plots.receptive_field_mosaic(
            last["p2e"], out / "receptive_fields.png", vmin=0.0, vmax=1.0, title="P2E receptive fields"
        ),
        plots.heatmap(
            last["e2c"],
            out / "e2c_weights.png",
            xlabel="output neuron",
            ylabel="hidden neuron",
            title="E2C weights",
        ),
        plots.histogram(last["theta"], out / "theta.png", xlabel="theta (mV)", title="adaptive threshold"),
    ]
    if monitor is not None and seen.any():
        spikes = monitor[seen.astype(bool)].sum(axis=1)
        written.append(
            plots.histogram(
                spikes,
                out / "hidden_spike_counts.png",
                xlabel="hidden spikes per sample",
                title="response of the hidden layer",
            )
        )
    if checkpoints:
        labels = [f"after {int(p.stem.split('-')[1])} samples" for p in checkpoints]
        written.append(
            plots.weight_evolution_gif(
                series, out / "weight_evolution.gif", labels=labels, vmin=0.0, vmax=1.0
            )
        )
    if records:
        if len(records) > 1:
            written.append(
                plots.accuracy_curves(
                    records, out / "accuracy.png", metrics=("sl_accuracy", "usl_accuracy"), split="test"
                )
            )
        for kind, matrix in confusions.items():
            written.append(plots.plot_confusion(matrix, out / f"confusion_{kind}.png",
                                                title=f"{kind.upper()} confusion"))  # fmt: skip
    return written
