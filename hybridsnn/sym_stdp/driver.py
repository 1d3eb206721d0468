"""sym-STDP driver (Hao et al. 2020): ``hybridsnn train|test|predict|plot sym-stdp``.

The command-line surface only; the system itself is in this package (docs/sym_stdp.md): the flags in
:mod:`~hybridsnn.sym_stdp.flags`, the weights a run reads in :mod:`~hybridsnn.sym_stdp.weights`, the
training procedure in :mod:`~hybridsnn.sym_stdp.experiment`, frozen inference in
:mod:`~hybridsnn.sym_stdp.evaluation` and the figures in :mod:`~hybridsnn.sym_stdp.figures`.

Train: sequential presentation with the retry rule, periodic evaluation every ``--eval-every`` samples and
checkpoints every ``--checkpoint-every`` samples; ``--fixed-hidden CKPT`` trains only the output layer (the
paper's layer-by-layer path). Test/predict: frozen inference with many images in flight. Checkpoints: the
project format, plus import/export of the original text files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hybridsnn.atomic import write_json
from hybridsnn.checks.flags import refuse_training_flags
from hybridsnn.checks.paths import check_writable_dir
from hybridsnn.data import load_dataset, read_image_file
from hybridsnn.errors import UserError
from hybridsnn.results import Run
from hybridsnn.sim.options import check_engine_flags, genn_preferences
from hybridsnn.sym_stdp import experiment, figures
from hybridsnn.sym_stdp.config import SymStdpConfig, make_config
from hybridsnn.sym_stdp.evaluation import evaluate, label_hidden_neurons, log_evaluation, progress_bar
from hybridsnn.sym_stdp.flags import (
    MODEL,
    add_flags,
    count,
    device_name,
    engine_choice,
    engine_name,
    inference_batch,
)
from hybridsnn.sym_stdp.network import InferenceNetwork
from hybridsnn.sym_stdp.readout import sl_predict, usl_predict
from hybridsnn.sym_stdp.textformat import export_text_checkpoint
from hybridsnn.sym_stdp.weights import Weights, frozen_weights, starting_weights


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of ``hybridsnn <command> sym-stdp``."""
    add_flags(parser, command)


def validate(args: argparse.Namespace, command: str) -> None:
    """Flags that depend on each other or on this machine, checked before the run folder is created (the
    counts are refused by their ``type=`` already)."""
    if command == "plot":
        return
    genn_preferences(args)
    check_engine_flags(engine_name(args), args.backend)
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


def _images(args: argparse.Namespace, split: str, limit: int | None) -> experiment.Images:
    """The first ``limit`` images (all: None) of ``split`` as uint8 pixels, with their labels."""
    options = {"normalize_mean": 30.0} if args.dataset == "fashion-mnist" else {}
    data = load_dataset(args.dataset, split, root=args.data_root, limit=limit, **options)
    return data.x, data.y


def _inference(args: argparse.Namespace, config: SymStdpConfig) -> InferenceNetwork:
    """The frozen inference network of the engine flags (its seed is ``--seed`` + 1, as in training)."""
    batch = inference_batch(args)
    return InferenceNetwork(config, engine=engine_choice(args), seed=args.seed + 1, batch=batch)


# -- train ---------------------------------------------------------------------------------------------
def train(args: argparse.Namespace, run: Run) -> dict:
    """Train both layers (or only the output layer with ``--fixed-hidden``), evaluating periodically."""
    args.dataset = args.dataset or "mnist"
    config = make_config(args.dataset, count(args, "neurons"))
    train_set = _images(args, "train", count(args, "train_samples"))
    test_set = _images(args, "test", count(args, "test_samples"))
    procedure = experiment.Procedure(
        epochs=args.epochs,
        eval_every=count(args, "eval_every"),
        checkpoint_every=count(args, "checkpoint_every"),
        seed=args.seed,
        engine=engine_choice(args),
        batch=inference_batch(args),
        plastic_hidden=args.fixed_hidden is None,
        progress=not args.no_progress,
    )
    n_train = len(train_set[0])
    state = experiment.resumed_state(run, config, n_train, procedure.epochs * n_train)
    if state is None:
        state = experiment.fresh_state(config, args.seed, n_train, _starting_weights(args, config))
    outcome = experiment.train(run, config, state, procedure, train_set, test_set)
    if args.export_original:
        export_text_checkpoint(args.export_original, state.p2e, state.e2c, state.theta)
    return run.finish(
        outcome.metrics(),
        samples=state.samples_seen,  # the whole run: a resumed run counts its earlier segments too
        dataset=args.dataset,
        engine=engine_name(args),
        device=device_name(args),
        n_hidden=config.n_hidden,
    )


def _starting_weights(args: argparse.Namespace, config: SymStdpConfig) -> Weights | None:
    """``--fixed-hidden`` (a trained hidden layer) or ``--checkpoint`` (both layers, to train further)."""
    start = args.fixed_hidden or args.checkpoint
    if not start:
        return None
    flag = "--fixed-hidden" if args.fixed_hidden else "--checkpoint"
    return starting_weights(start, flag, config, neurons_given=args.neurons is not None,
                            with_output_layer=bool(args.checkpoint))  # fmt: skip


# -- test / predict --------------------------------------------------------------------------------------
def _checkpoint_weights(args: argparse.Namespace) -> Weights:
    """The ``--checkpoint`` weights for test/predict, checked against ``--dataset``/``--neurons``; sets
    ``args.dataset`` to the dataset they were trained on where none was given."""
    weights, trained_on = frozen_weights(args.checkpoint, args.dataset, args.neurons)
    args.dataset = args.dataset or trained_on or "mnist"
    return weights


def _frozen_model(args: argparse.Namespace, weights: Weights) -> tuple[SymStdpConfig, InferenceNetwork]:
    """The inference network of ``weights``; labels the hidden neurons first where the checkpoint has no
    assignments (the original's text files)."""
    config = make_config(args.dataset, weights["theta"].shape[0])
    network = _inference(args, config)
    if "assignments" not in weights:
        x, y = _images(args, "train", args.label_samples)
        weights["assignments"] = label_hidden_neurons(
            network, weights["p2e"], weights["e2c"], weights["theta"], x, y, config
        )
    return config, network


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate a checkpoint on the test set with plasticity, θ and teacher frozen."""
    weights = _checkpoint_weights(args)
    config, network = _frozen_model(args, weights)
    x, y = _images(args, "test", count(args, "test_samples"))
    with progress_bar(len(x), "test", not args.no_progress) as pbar:
        result = evaluate(network, weights["p2e"], weights["e2c"], weights["theta"], weights["assignments"],
                          x, y, pbar.update)  # fmt: skip
    log_evaluation(run, result, step=0, epoch=None)
    return run.finish(
        result.metrics(),
        samples=len(y),
        dataset=args.dataset,
        engine=engine_name(args),
        device=device_name(args),
        n_hidden=config.n_hidden,
    )


def read_images(paths: list[str]) -> np.ndarray:
    """28x28 images as uint8 pixels (0..255, the input rates' unit) from IDX, .npy or PNG files."""
    images = [read_image_file(path, (1, 28, 28)) for path in paths]
    scaled = [np.rint(x * 255.0) if x.dtype != np.uint8 else x for x in images]  # [0, 1] floats -> pixels
    return np.concatenate(scaled).astype(np.uint8)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the ``--input`` images with a checkpoint; writes ``predictions.json`` in the run directory."""
    weights = _checkpoint_weights(args)
    images = read_images(args.input)  # before the network is built and any labelling pass runs
    config, network = _frozen_model(args, weights)
    network.load_weights(weights["p2e"], weights["e2c"], weights["theta"])
    with progress_bar(len(images), "predict", not args.no_progress) as pbar:
        hidden, output, _ = network.classify(images, pbar.update)
    sl = sl_predict(output)
    usl = usl_predict(hidden, weights["assignments"], config.n_classes)
    write_json(
        run.path / "predictions.json",
        {"sl": sl.tolist(), "usl": usl.tolist(), "output_counts": output.tolist()},
    )
    print(" ".join(str(p) for p in sl))
    return run.finish(
        {"predictions": len(sl)}, samples=len(sl), engine=engine_name(args), device=device_name(args)
    )


# -- plot ------------------------------------------------------------------------------------------------
def plot(args: argparse.Namespace) -> list[Path]:
    """Receptive fields, weight-evolution GIF, E2C heat map, θ histogram, curves, confusion, spike counts."""
    return figures.plot_run(Path(args.run_dir), Path(args.output) if args.output else None)
