"""The flags of ``hybridsnn train|test|predict sym-stdp`` and what they resolve to.

Defining the flags (:func:`add_flags`), the ``--quick`` sizes and the defaults a flag left unset stands for
(counts in samples or neurons), and the engine a run simulates on (:func:`engine_choice`). Checks that
need several flags together are the driver's ``validate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridsnn.checks import values
from hybridsnn.data.user_dataset import dataset_flag
from hybridsnn.flag_groups import add_engine_flags
from hybridsnn.sim import available_engines, default_engine
from hybridsnn.sim.options import add_engine_tuning_flags, engine_threads, genn_preferences
from hybridsnn.sym_stdp.config import DATASETS, SIZES
from hybridsnn.sym_stdp.network import EngineChoice
from hybridsnn.sym_stdp.system import SYSTEM

MODEL = SYSTEM.name
#: What ``--quick`` sets where the flag is not given: hidden neurons, and counts of samples.
QUICK = {
    "neurons": 100,
    "train_samples": 3000,
    "test_samples": 1000,
    "eval_every": 1000,
    "checkpoint_every": 500,
}
#: Defaults of a full run (``None``: all samples of the split).
DEFAULTS = {
    "neurons": 400,
    "train_samples": None,
    "test_samples": None,
    "eval_every": 10000,
    "checkpoint_every": 10000,
}


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of ``hybridsnn <command> sym-stdp`` (``plot`` has none of its own)."""
    if command == "plot":
        return
    parser.add_argument(
        "--dataset",
        type=dataset_flag(DATASETS),
        default=None,
        metavar="{" + ",".join(DATASETS) + "}|PATH",
        help="training/test images (default: mnist; test/predict: the checkpoint's); fashion-mnist gets the "
        "per-image mean-30 scaling. PATH: your own grey images, a .npz (x_train, y_train, x_test, y_test) or "
        "a folder train/<class>/*.png, test/<class>/*.png; the network gets HxW inputs and one output "
        "neuron per class (docs/own_data.md)",
    )
    parser.add_argument(
        "--neurons",
        type=int,
        choices=SIZES,
        default=None,
        help="hidden excitatory neurons (default 400; 100 with --quick; test/predict: from the checkpoint)",
    )
    installed = ", ".join(available_engines())
    add_engine_flags(parser, ("numba", "genn"), None,
                     f"simulation engine (default: {default_engine()}; installed: {installed})")  # fmt: skip
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
    if command in ("test", "predict"):
        parser.add_argument(
            "--independent-images",
            action="store_true",
            help="classify every image from the freshly loaded network with a random stream keyed by its "
            "index (numba engine), instead of one continuous simulation through all images as in the "
            "original: results then do not depend on --batch or on image order, and torchrun splits the "
            "test set over its processes (test under torchrun requires it)",
        )
    if command == "train":
        _add_training_flags(parser)
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
            help="images to classify: IDX (.gz or raw), .npy (N,H,W) or PNG files, of the checkpoint's image "
            "size (28x28 for MNIST)",
        )


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags only ``train`` reads: the schedule (in samples), the starting weights, the export."""
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


def count(args: argparse.Namespace, name: str) -> int | None:
    """The count flag ``name`` (``neurons``, ``train_samples``, ...): the value given (never replaced
    because it is falsy), else its ``--quick`` value with ``--quick``, else its full-run default."""
    value = getattr(args, name, None)
    if value is not None:
        return value
    return QUICK[name] if args.quick else DEFAULTS[name]


def engine_name(args: argparse.Namespace) -> str:
    """``--engine``, or the default engine of this machine."""
    return args.engine or default_engine()


def device_name(args: argparse.Namespace) -> str:
    """Where the simulation runs: ``cpu`` for numba, the GeNN backend otherwise."""
    return "cpu" if engine_name(args) == "numba" else (args.backend or "genn-default")


def inference_batch(args: argparse.Namespace) -> int:
    """``--batch``, else the copies in flight for inference: numba runs them on threads, CUDA in one launch,
    GeNN's CPU backend needs 1."""
    if args.batch is not None:
        return args.batch
    if engine_name(args) == "numba":
        return 32
    return 128 if args.backend == "cuda" else 1


def engine_choice(args: argparse.Namespace) -> EngineChoice:
    """The engine flags; GeNN's generated code goes under ``--output`` (numba keeps its own kernel cache)."""
    engine = engine_name(args)
    build_dir = str(Path(args.output) / "genn_build") if engine == "genn" else None
    return EngineChoice(engine, args.backend, build_dir, engine_threads(args), genn_preferences(args))
