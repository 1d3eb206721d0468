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
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybridsnn.atomic import write_json
from hybridsnn.checks.flags import refuse_training_flags
from hybridsnn.checks.paths import check_writable_dir
from hybridsnn.data import ArrayDataset, load_dataset, read_image_file
from hybridsnn.data.user_dataset import as_pixels, image_shape, is_dataset_path, require_grey
from hybridsnn.errors import UserError
from hybridsnn.results import Run
from hybridsnn.sim.options import check_engine_flags, genn_preferences
from hybridsnn.sym_stdp import experiment, figures
from hybridsnn.sym_stdp.config import DATASETS, MNIST_SHAPE, USER, SymStdpConfig, make_config, user_config
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
from hybridsnn.sym_stdp.weights import Trained, Weights, check_same_data, frozen_weights, starting_weights

if TYPE_CHECKING:  # torch is imported only by a test that uses it (--independent-images)
    from hybridsnn.spiking.distributed import DistributedContext


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
    if command in ("test", "predict"):
        _check_independent_images(args, command)
    if command != "train":
        return
    if args.fixed_hidden is not None and args.checkpoint is not None:
        raise UserError(
            f"--fixed-hidden {args.fixed_hidden!r} and --checkpoint {args.checkpoint!r} both name the "
            "weights to start from; give one (--fixed-hidden trains only the output layer, --checkpoint both)"
        )
    if args.export_original is not None:
        check_writable_dir(args.export_original, f"--export-original {args.export_original!r}")


def _check_independent_images(args: argparse.Namespace, command: str) -> None:
    """``--independent-images`` needs the numba engine; a test under torchrun needs the flag (only then is a
    split test set the same as one process's; ``train --test`` does not take it)."""
    independent = getattr(args, "independent_images", False)
    if independent and engine_name(args) != "numba":
        raise UserError(f"--independent-images needs --engine numba, not {engine_name(args)!r}: PyGeNN's "
                        "random streams cannot be restarted per image")  # fmt: skip
    if command == "test" and not independent:
        from hybridsnn.spiking.distributed import torchrun_processes

        if torchrun_processes() > 1:
            raise UserError(f"a sym-stdp test under torchrun ({torchrun_processes()} processes) splits the "
                            "test set only with hybridsnn test sym-stdp --independent-images (every image "
                            "from a fresh state with its own random stream, so that the split equals one "
                            "process); add it, or run one process for the original's continuous "
                            "simulation")  # fmt: skip


def _is_user(dataset: str | None) -> bool:
    """Whether ``--dataset`` names a user's own dataset (a path) rather than mnist / fashion-mnist."""
    return dataset is not None and is_dataset_path(dataset, DATASETS)


def _split(args: argparse.Namespace, split: str, limit: int | None,
           trained: Trained | None = None) -> ArrayDataset:  # fmt: skip
    """The first ``limit`` samples (all: None) of ``split`` of ``--dataset``; a user dataset must hold grey
    images and, where ``trained`` (the checkpoint's data) is given, the size and classes it was trained on."""
    if args.dataset is None:  # test/predict of a user-data checkpoint whose training data path is gone
        what = trained.describe() if trained else "a user dataset"
        raise UserError(f"checkpoint {args.checkpoint!r} was trained on {what}; pass that data as --dataset "
                        "PATH")  # fmt: skip
    options = {"normalize_mean": 30.0} if args.dataset == "fashion-mnist" else {}
    data = load_dataset(args.dataset, split, root=args.data_root, limit=limit, **options)
    if not _is_user(args.dataset):
        return data
    require_grey(data, "sym-STDP")
    if trained is not None:
        given = Trained(USER, image_shape(data)[:2], data.classes, args.dataset)
        check_same_data(f"checkpoint {args.checkpoint!r}", trained, given)
    return data


def _images(args: argparse.Namespace, split: str, limit: int | None,
            trained: Trained | None = None) -> experiment.Images:  # fmt: skip
    """The first ``limit`` images (all: None) of ``split`` as uint8 pixels, with their labels."""
    data = _split(args, split, limit, trained)
    return as_pixels(data.x), data.y


def _config(args: argparse.Namespace, train_data: ArrayDataset) -> SymStdpConfig:
    """The configuration of ``--dataset``/``--neurons``: the original table's, or for a user dataset the
    MNIST constants with the input and output layers sized by ``train_data``."""
    n_hidden = count(args, "neurons")
    if not _is_user(args.dataset):
        return make_config(args.dataset, n_hidden)
    return user_config(n_hidden, image_shape(train_data)[:2], train_data.classes)


def _inference(args: argparse.Namespace, config: SymStdpConfig) -> InferenceNetwork:
    """The frozen inference network of the engine flags (its seed is ``--seed`` + 1, as in training)."""
    batch = inference_batch(args)
    return InferenceNetwork(config, engine=engine_choice(args), seed=args.seed + 1, batch=batch,
                            independent_images=getattr(args, "independent_images", False))  # fmt: skip


# -- train ---------------------------------------------------------------------------------------------
def train(args: argparse.Namespace, run: Run) -> dict:
    """Train both layers (or only the output layer with ``--fixed-hidden``), evaluating periodically."""
    args.dataset = args.dataset or "mnist"
    if not _is_user(args.dataset):
        make_config(args.dataset, count(args, "neurons"))  # an impossible size is refused before any reading
    train_data = _split(args, "train", count(args, "train_samples"))
    config = _config(args, train_data)
    train_set = (as_pixels(train_data.x), train_data.y)
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
        classes=list(config.classes),
    )


def _starting_weights(args: argparse.Namespace, config: SymStdpConfig) -> Weights | None:
    """``--fixed-hidden`` (a trained hidden layer) or ``--checkpoint`` (both layers, to train further)."""
    start = args.fixed_hidden or args.checkpoint
    if not start:
        return None
    flag = "--fixed-hidden" if args.fixed_hidden else "--checkpoint"
    return starting_weights(start, flag, config, neurons_given=args.neurons is not None,
                            with_output_layer=bool(args.checkpoint), data_path=args.dataset)  # fmt: skip


# -- test / predict --------------------------------------------------------------------------------------
def _checkpoint_weights(args: argparse.Namespace) -> tuple[Weights, Trained]:
    """The ``--checkpoint`` weights for test/predict and what they were trained on, checked against
    ``--dataset``/``--neurons``; sets ``args.dataset`` to the dataset they were trained on where none was
    given (a user dataset: the training run's path if it still exists, else None)."""
    kind = None if args.dataset is None else (USER if _is_user(args.dataset) else args.dataset)
    weights, trained = frozen_weights(args.checkpoint, kind, args.neurons, args.dataset)
    if args.dataset is None:
        if trained.dataset == USER:
            found = trained.path is not None and os.path.exists(trained.path)
            args.dataset = trained.path if found else None
        else:
            args.dataset = trained.dataset or "mnist"
    return weights, trained


def _frozen_model(args: argparse.Namespace, weights: Weights,
                  trained: Trained) -> tuple[SymStdpConfig, InferenceNetwork]:  # fmt: skip
    """The inference network of ``weights``; labels the hidden neurons first where the checkpoint has no
    assignments (the original's text files)."""
    config = trained.config(weights["theta"].shape[0])
    network = _inference(args, config)
    if "assignments" not in weights:
        x, y = _images(args, "train", args.label_samples, trained)
        weights["assignments"] = label_hidden_neurons(
            network, weights["p2e"], weights["e2c"], weights["theta"], x, y, config
        )
    return config, network


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate a checkpoint on the test set with plasticity, θ and teacher frozen. With
    ``--independent-images`` under torchrun the test set is split over the processes and the spike counts
    gathered: process 0 records what one process gets."""
    if not getattr(args, "independent_images", False):
        return _test(args, run, None)
    import torch

    from hybridsnn.spiking.distributed import distributed_session

    with distributed_session(torch.device("cpu")) as context:
        return _test(args, run, context)


def _test(args: argparse.Namespace, run: Run, context: DistributedContext | None) -> dict:
    weights, trained = _checkpoint_weights(args)
    x, y = _images(args, "test", count(args, "test_samples"), trained)  # checked before the network is built
    config, network = _frozen_model(args, weights, trained)
    mine = len(x) if context is None else len(context.slice_range(len(x)))
    shown = not args.no_progress and (context is None or context.is_main)
    with progress_bar(mine, "test", shown) as pbar:
        result = evaluate(network, weights["p2e"], weights["e2c"], weights["theta"], weights["assignments"],
                          x, y, pbar.update, context)  # fmt: skip
    log_evaluation(run, result, step=0, epoch=None)
    return run.finish(
        result.metrics(),
        samples=len(y),
        dataset=args.dataset,
        engine=engine_name(args),
        device=device_name(args),
        n_hidden=config.n_hidden,
        classes=list(config.classes),
    )


def read_images(paths: list[str], shape: tuple[int, int] = MNIST_SHAPE) -> np.ndarray:
    """Grey images of ``shape`` = (H, W) (28x28 for MNIST) as uint8 pixels (0..255, the input rates' unit)
    from IDX, .npy or PNG files."""
    return np.concatenate([as_pixels(read_image_file(path, (1, *shape))) for path in paths])


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the ``--input`` images with a checkpoint; writes ``predictions.json`` in the run directory."""
    weights, trained = _checkpoint_weights(args)
    images = read_images(args.input, trained.input_shape)  # before the network is built and any labelling
    config, network = _frozen_model(args, weights, trained)
    network.load_weights(weights["p2e"], weights["e2c"], weights["theta"])
    with progress_bar(len(images), "predict", not args.no_progress) as pbar:
        hidden, output, _ = network.classify(images, pbar.update)
    sl = sl_predict(output)
    usl = usl_predict(hidden, weights["assignments"], config.n_classes)
    write_json(
        run.path / "predictions.json",
        {
            "sl": sl.tolist(),
            "usl": usl.tolist(),
            "output_counts": output.tolist(),
            "classes": list(config.classes),
        },
    )
    print(" ".join(str(p) for p in sl))
    return run.finish({"predictions": len(sl)}, samples=len(sl), engine=engine_name(args),
                      device=device_name(args), classes=list(config.classes))  # fmt: skip


# -- plot ------------------------------------------------------------------------------------------------
def plot(args: argparse.Namespace) -> list[Path]:
    """Receptive fields, weight-evolution GIF, E2C heat map, θ histogram, curves, confusion, spike counts."""
    return figures.plot_run(Path(args.run_dir), Path(args.output) if args.output else None)
