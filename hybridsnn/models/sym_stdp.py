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

from hybridsnn.checkpoint import check_shapes, load_checkpoint
from hybridsnn.data import load_dataset, read_image_file
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run
from hybridsnn.sim import available_engines, default_engine
from hybridsnn.sim.options import add_engine_tuning_flags, engine_threads, genn_preferences
from hybridsnn.symstdp.config import DATASETS, SIZES, SymStdpConfig, make_config
from hybridsnn.symstdp.experiment import Evaluation, TrainState, evaluate, label_hidden_neurons
from hybridsnn.symstdp.network import EngineChoice, InferenceNetwork, TrainingNetwork, initial_weights
from hybridsnn.symstdp.readout import assign_labels, sl_predict, usl_predict
from hybridsnn.symstdp.textformat import TEXT_FILES, export_text_checkpoint, import_text_checkpoint

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
        type=int,
        default=None,
        help="images classified in parallel by the frozen inference network (default: 32 on numba, 128 with "
        "--backend cuda, 1 on other GeNN backends, which only run batch 1)",
    )
    parser.add_argument(
        "--test-samples",
        type=int,
        default=None,
        help="test images per evaluation (default all 10000; 1000 with --quick)",
    )
    if command == "train":
        parser.add_argument(
            "--epochs",
            type=int,
            default=1,
            help="passes over the training samples (default 1; the original ran 20)",
        )
        parser.add_argument(
            "--train-samples",
            type=int,
            default=None,
            help="training samples per epoch, the first N in file order (default all 60000)",
        )
        parser.add_argument(
            "--eval-every",
            type=int,
            default=None,
            help="evaluate on the test set every N training samples (default 10000)",
        )
        parser.add_argument(
            "--checkpoint-every",
            type=int,
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
    if command in ("test", "train"):
        parser.add_argument(
            "--label-samples",
            type=int,
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
COUNT_FLAGS = ("train_samples", "test_samples", "batch", "eval_every", "checkpoint_every", "epochs",
               "label_samples")  # fmt: skip
"""Count flags of the sym-STDP commands: given, they must be at least 1 (0 never means "the default")."""


def validate(args: argparse.Namespace, command: str) -> None:
    """Engine and count flags checked before the run folder is created."""
    if command == "plot":
        return
    engine_threads(args)
    genn_preferences(args)
    for name in COUNT_FLAGS:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} {value}: must be at least 1")


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
    batch = args.batch or _default_batch(args)
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
    with the dataset the checkpoint was trained on (None for the original text files, which do not say)."""
    source = Path(path)
    if source.is_dir():
        theta_file = source / "theta"
        if not theta_file.is_file():
            raise CheckpointError(
                f"{str(source)!r} holds no original checkpoint (need {', '.join(TEXT_FILES)})"
            )
        n_hidden = len(theta_file.read_text().split())
        return import_text_checkpoint(source, n_hidden, n_input), None
    ckpt = load_checkpoint(source, model=MODEL)
    weights = dict(ckpt.tensors)
    if "p2e" not in weights or "theta" not in weights:
        raise CheckpointError(f"checkpoint {str(source)!r} lacks the P2E weights or theta")
    n_hidden = weights["theta"].shape[0]
    expected = {"p2e": (n_input, n_hidden), "theta": (n_hidden,)}
    if "e2c" in weights:
        expected["e2c"] = (n_hidden, 10)
    check_shapes(weights, expected, source=str(source))
    if n_hidden not in SIZES:
        raise CheckpointError(f"checkpoint {str(source)!r} has {n_hidden} hidden neurons; allowed: {SIZES}")
    return weights, ckpt.extra.get("sym_stdp", {}).get("dataset")


def _log_evaluation(run: Run, result: Evaluation, step: int, epoch: float, split: str = "test") -> None:
    run.log_metrics(step=step, epoch=epoch, split=split, **result.metrics())


# -- train ---------------------------------------------------------------------------------------------
def train(args: argparse.Namespace, run: Run) -> dict:
    """Train both layers (or only the output layer with ``--fixed-hidden``), evaluating periodically."""
    quick = QUICK if args.quick else {}
    args.dataset = args.dataset or "mnist"
    n_hidden = args.neurons or quick.get("neurons", 400)
    config = _config(args, n_hidden)
    train_x, train_y = _images(args, "train", args.train_samples or quick.get("train_samples"))
    test_x, test_y = _images(args, "test", args.test_samples or quick.get("test_samples"))
    eval_every = args.eval_every or quick.get("eval_every", 10000)
    checkpoint_every = args.checkpoint_every or quick.get("checkpoint_every", 10000)
    total = args.epochs * len(train_x)

    state = _initial_state(args, run, config, len(train_x))
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
        samples=trained,
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


def _initial_state(args: argparse.Namespace, run: Run, config: SymStdpConfig, n_train: int) -> TrainState:
    last = run.checkpoint_dir / "last.safetensors"
    if last.is_file():  # --resume: continue from the last checkpoint
        ckpt = run.load_checkpoint("last")
        check_shapes(
            ckpt.tensors,
            {"p2e": (config.n_input, config.n_hidden), "monitor": (n_train, config.n_hidden)},
            source=str(last),
        )
        return TrainState.from_tensors(ckpt.tensors, ckpt.extra["samples_seen"], ckpt.extra["attempts"])
    rng = np.random.default_rng(args.seed)
    p2e, e2c = initial_weights(config, rng)
    theta = np.full(config.n_hidden, config.theta_init, np.float32)
    start = args.fixed_hidden or args.checkpoint
    if start:  # --fixed-hidden: a trained hidden layer; --checkpoint: continue training from its weights
        loaded, _ = load_weights(start, config.n_input)
        check_shapes(loaded, {"p2e": p2e.shape, "theta": theta.shape}, source=start)
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


def _save(run: Run, state: TrainState, config: SymStdpConfig, name: str) -> None:
    """Weights, θ and assignments under ``name``; the full state (with the train monitor) as ``last``."""
    extra = {"samples_seen": state.samples_seen, "attempts": state.attempts, "sym_stdp": config.to_dict()}
    full = state.tensors()
    run.save_checkpoint(name, {k: full[k] for k in ("p2e", "e2c", "theta", "assignments")}, extra=extra)
    run.save_checkpoint("last", full, extra=extra)


# -- test / predict --------------------------------------------------------------------------------------
def _frozen_model(args: argparse.Namespace) -> tuple[SymStdpConfig, dict[str, np.ndarray], InferenceNetwork]:
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
    config = _config(args, n_hidden)
    network = _inference(args, config)
    if "assignments" not in weights:
        x, y = _images(args, "train", args.label_samples)
        weights["assignments"] = label_hidden_neurons(
            network, weights["p2e"], weights["e2c"], weights["theta"], x, y, config
        )
    return config, weights, network


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate a checkpoint on the test set with plasticity, θ and teacher frozen."""
    _, weights, network = _frozen_model(args)
    x, y = _images(args, "test", args.test_samples)
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
    config, weights, network = _frozen_model(args)
    images = read_images(args.input)
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
    from hybridsnn import plots
    from hybridsnn.results import read_metrics

    run_dir = Path(args.run_dir)
    checkpoints = sorted((run_dir / "checkpoints").glob("samples-*.safetensors"))
    final = run_dir / "checkpoints" / "final.safetensors"
    if not final.is_file() and not checkpoints:
        raise UserError(f"{str(run_dir)!r} has no sym-STDP checkpoints to plot")
    out = Path(args.output) if args.output else run_dir / "plots"
    last = load_checkpoint(final if final.is_file() else checkpoints[-1], model=MODEL).tensors
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
    state = load_checkpoint(run_dir / "checkpoints" / "last.safetensors", model=MODEL).tensors
    if "monitor" in state and state["seen"].any():
        spikes = state["monitor"][state["seen"].astype(bool)].sum(axis=1)
        written.append(
            plots.histogram(
                spikes,
                out / "hidden_spike_counts.png",
                xlabel="hidden spikes per sample",
                title="response of the hidden layer",
            )
        )
    if checkpoints:
        series = [load_checkpoint(p, model=MODEL).tensors["p2e"] for p in checkpoints]
        labels = [f"after {int(p.stem.split('-')[1])} samples" for p in checkpoints]
        written.append(
            plots.weight_evolution_gif(
                series, out / "weight_evolution.gif", labels=labels, vmin=0.0, vmax=1.0
            )
        )
    records = [r for r in read_metrics(run_dir) if "sl_accuracy" in r]
    if records:
        if len(records) > 1:
            written.append(
                plots.accuracy_curves(
                    records, out / "accuracy.png", metrics=("sl_accuracy", "usl_accuracy"), split="test"
                )
            )
        for kind in ("sl", "usl"):
            written.append(
                plots.plot_confusion(
                    np.array(records[-1][f"{kind}_confusion"]),
                    out / f"confusion_{kind}.png",
                    title=f"{kind.upper()} confusion",
                )
            )
    return written
