"""Driver of ``hybridsnn <command> hp``: hybrid global-local plasticity SNNs (Wu et al. 2022, hp_snn spec).

Tasks (``--task``), each with the seed's defaults and a ``--quick`` variant:

* ``simple`` — 784-512-10 HP / GP / LP (``--method``) on MNIST or Fashion-MNIST, then the Gaussian-noise
  sweep (variance 0.01·i, i = 0..6) with the final model;
* ``classification`` — the MNIST / Fashion-MNIST / CIFAR-10 CNNs with early-exit decoding;
* ``tolerance`` — the tolerance MLP, then occlusion and noise sweeps; ``test`` loads the checkpoint and
  refuses one trained with another method or task;
* ``fewshot`` — Omniglot N-way K-shot with the bi-level meta step;
* ``multitask`` — permuted-MNIST continual learning (HP masks + replay meta phase, GP masks, spiking EWC).

Noise/occlusion sweeps and the continual-learning average accuracies go to ``metrics.jsonl`` as splits
``noise``/``occlusion`` (x = ``level``) and ``tasks`` (x = ``task``); ``hybridsnn plot hp RUN_DIR [RUN_DIR…]``
draws them, several runs (HP, GP, LP) on one figure.

A flag the chosen task or method does not read (``--task simple --ways 3``, ``--method gp --local-lr …``) is
refused, not ignored; :func:`validate` checks flags, checkpoints and inputs before a run folder exists.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks import values
from hybridsnn.checks.flags import refuse_flags_not_read, refuse_repeats, refuse_training_flags
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.data import read_image_file
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hp.cnn import CNNConfig, HPConvNet, get_cnn_config
from hybridsnn.hp.corruption import NOISE_MODES, add_noise, occlude_center
from hybridsnn.hp.data import TensorBatches, crop_flip, image_tensors, pixel_tensors
from hybridsnn.hp.fewshot import (
    EpisodeSampler,
    FewShotConfig,
    FewShotNet,
    MetaTrainer,
    evaluate_episodes,
    omniglot_characters,
    split_characters,
)
from hybridsnn.hp.layer import split_parameters
from hybridsnn.hp.mlp import HPMLP, SIMPLE, TOLERANCE
from hybridsnn.hp.multitask import EWCPenalty, MultitaskConfig, MultitaskNet, task_permutation
from hybridsnn.hp.training import ClassifierSteps, make_optimizers, one_hot_mse
from hybridsnn.results import Run, read_metrics
from hybridsnn.spiking import (
    BestMetric,
    check_resume,
    checkpoint_payload,
    configure_threads,
    count_correct,
    evaluate,
    fit,
    log_metrics_once,
    restore_state,
    seed_everything,
    select_device,
)

SEED_DEFAULT = 111
TASKS = ("simple", "classification", "tolerance", "fewshot", "multitask")
METHODS = {
    "simple": ("hp", "gp", "lp"),
    "tolerance": ("hp", "gp"),
    "classification": ("hp", "gp"),
    "fewshot": ("hp", "gp"),
    "multitask": ("hp", "gp", "ewc"),
}
#: Seed defaults per task: epochs, batch size, GP lr, local lr, dataset.
DEFAULTS = {
    "simple": {"epochs": 30, "batch_size": 100, "lr": 1e-3, "local_lr": 5e-4, "dataset": "mnist"},
    "tolerance": {"epochs": 51, "batch_size": 100, "lr": 1e-3, "local_lr": 5e-4, "dataset": "mnist"},
    "classification": {"epochs": None, "batch_size": None, "lr": 5e-4, "local_lr": 5e-4, "dataset": "mnist"},
    "multitask": {"epochs": 10, "batch_size": 100, "lr": 5e-4, "local_lr": 5e-5, "dataset": "mnist"},
    "fewshot": {"epochs": None, "batch_size": None, "lr": 8e-5, "local_lr": 3e-5, "dataset": "omniglot"},
}
#: ``--quick``: ≤ ~1 CPU-minute per task with clear learning (README "Quick runs"): MLP tasks 1 epoch on
#: 20 000 images (multitask: per task), few-shot 150 meta-iterations tested every 50 on 50 episodes.
QUICK = {
    "train_subset": 20000,
    "test_subset": 1000,
    "epochs": 1,
    "iterations": 150,
    "eval_every": 50,
    "test_episodes": 50,
    "tasks": 3,
    "hidden": 128,
}
#: The full CNNs take ~0.14 CPU-s per training image, too slow to learn in a minute: their quick runs use a
#: narrower CNN (conv channels / 8, hidden dense stages / 4; same neurons, rule and decoding), batches of 20
#: and fewer images (train, test).
QUICK_CNN_SUBSETS = (6000, 500)
QUICK_CNN_BATCH = 20
QUICK_CNN_DIVISORS = (8, 4)
#: Sweep levels of the seed: simple example noise 0..6; tolerance tests occlusion and noise 0..14.
SWEEP_DEFAULTS = {"simple": list(range(7)), "tolerance": list(range(15))}
CIFAR_SGD_LR = 0.08
#: Highest sweep levels: noise variance 0.01·100 = 1 (salt then hits every pixel); occlusion 14 blanks the
#: whole 28×28 image (the sweeps run on the 28×28 tasks simple and tolerance).
MAX_NOISE_LEVEL, MAX_OCCLUSION_LEVEL = 100, 14
IMAGE_TASKS = ("simple", "tolerance", "classification")
EPOCH_TASKS = (*IMAGE_TASKS, "multitask")
SWEEP_TASKS = ("simple", "tolerance")
FEWSHOT_FLAGS = ("iterations", "eval_every", "ways", "shots", "omniglot_sets", "test_episodes")
#: The task-specific flags of ``train`` and the tasks that read them (others are refused for other tasks).
TRAIN_FLAGS_OF = {
    **{name: EPOCH_TASKS for name in ("dataset", "epochs", "batch_size", "train_subset", "test_subset")},
    **{name: SWEEP_TASKS for name in ("noise_levels", "noise")},
    "occlusion_levels": ("tolerance",),
    **{name: ("multitask",) for name in ("tasks", "meta_tasks", "hidden", "sparsity", "ewc_lambda")},
    **{name: ("fewshot",) for name in FEWSHOT_FLAGS},
}
#: The same for ``test`` (what each task's evaluation reads).
TEST_FLAGS_OF = {
    "batch_size": IMAGE_TASKS,
    "test_subset": EPOCH_TASKS,
    **{name: SWEEP_TASKS for name in ("noise_levels", "noise")},
    "occlusion_levels": ("tolerance",),
    "test_episodes": ("fewshot",),
}
#: Training flags that only some methods read: the meta-local parameters α, β, η (trained at --local-lr)
#: exist for hp and lp, the replay meta phase trains them (hp), EWC's penalty is method ewc's.
METHOD_FLAGS_OF = {"local_lr": ("hp", "lp"), "meta_tasks": ("hp",), "ewc_lambda": ("ewc",)}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """HP flags of ``train``/``test``/``predict`` (``plot`` takes extra run directories to compare).

    Task-specific flags are refused for the tasks that do not read them (:data:`TRAIN_FLAGS_OF`).
    """
    add = parser.add_argument
    if command == "plot":
        add("compare", nargs="*", metavar="RUN_DIR", help="more run directories drawn on the same figures")
        return
    parser.set_defaults(seed=SEED_DEFAULT)
    add(
        "--method",
        default=None,
        help="hp, gp, lp (simple), ewc (multitask); default hp; test/predict: checked against the checkpoint",
    )
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add("--threads", type=values.count, default=1, help="CPU threads of torch, >= 1 (default: 1)")
    if command == "predict":
        add("--input", required=True, metavar="PATH", help="images to classify: .npy, IDX or PNG")
        return
    add(
        "--batch-size",
        type=values.count,
        default=None,
        help="samples per batch, >= 1 (default: the seed's; test: the checkpoint's)",
    )
    add(
        "--test-subset",
        type=values.count,
        default=None,
        metavar="N",
        help="evaluate on the first N >= 1 test samples (default: all)",
    )
    add(
        "--noise-levels",
        type=values.integer(0, MAX_NOISE_LEVEL),
        nargs="+",
        default=None,
        metavar="I",
        help=f"noise levels I = 0..{MAX_NOISE_LEVEL} of the sweep (variance 0.01·I) of --task simple and "
        "tolerance (default: simple 0..6, tolerance 0..14)",
    )
    add(
        "--occlusion-levels",
        type=values.integer(0, MAX_OCCLUSION_LEVEL),
        nargs="+",
        default=None,
        metavar="I",
        help=f"occlusion levels I = 0..{MAX_OCCLUSION_LEVEL} (central 2I×2I pixel square set to 0) of the "
        "--task tolerance sweep (default: 0..14)",
    )
    add(
        "--noise",
        default="gaussian",
        choices=NOISE_MODES,
        help="noise of the sweep of --task simple and tolerance (default: gaussian)",
    )
    add(
        "--test-episodes",
        type=values.count,
        default=100,
        help="few-shot test episodes, >= 1 (default: 100)",
    )
    if command == "test":
        return
    add(
        "--dataset",
        default=None,
        help="mnist or fashion-mnist (simple, tolerance, multitask), or cifar10 (classification); "
        "default mnist; fewshot always uses omniglot",
    )
    add(
        "--epochs",
        type=values.count,
        default=None,
        help="training epochs, >= 1 (per task for multitask; default: the seed's)",
    )
    add(
        "--lr",
        type=values.positive,
        default=None,
        help="learning rate of the GP weights, > 0 (default: seed's)",
    )
    add(
        "--local-lr",
        type=values.positive,
        default=None,
        help="learning rate of α, β, η, > 0 (default: seed's)",
    )
    add(
        "--train-subset",
        type=values.count,
        default=None,
        metavar="N",
        help="train on the first N >= 1 training samples (default: all)",
    )
    add("--tasks", type=values.count, default=50, help="multitask: permuted-MNIST tasks, >= 1 (default: 50)")
    add(
        "--meta-tasks",
        type=values.non_negative_integer,
        default=35,
        help="multitask: the first N >= 0 tasks are followed by the replay meta phase (default: 35)",
    )
    add(
        "--hidden", type=values.count, default=1024, help="multitask: hidden layer size, >= 1 (default: 1024)"
    )
    add(
        "--sparsity",
        type=values.number(0.0, 1.0, open_min=True),
        default=0.03,
        help="multitask: fraction of ones in the task masks, in (0, 1] (default: 0.03)",
    )
    add(
        "--ewc-lambda",
        type=values.non_negative,
        default=5000.0,
        help="multitask --method ewc: EWC strength, >= 0 (default: 5000)",
    )
    add(
        "--iterations",
        type=values.count,
        default=1_000_000,
        help="few-shot meta iterations, >= 1 (default: 1e6)",
    )
    add(
        "--eval-every",
        type=values.count,
        default=1000,
        help="few-shot: test every N >= 1 iterations (default: 1000)",
    )
    add("--ways", type=values.integer(2), default=5, help="few-shot N-way, >= 2 (default: 5)")
    add("--shots", type=values.count, default=1, help="few-shot K-shot, >= 1 (default: 1)")
    add(
        "--omniglot-sets",
        default="small",
        choices=("small", "full"),
        help="few-shot data: small = background_small1+2, full = background+evaluation (default: small)",
    )


# -- settings and building ------------------------------------------------------------------------------


def _first(*values: Any) -> Any:
    """The first value that is not None."""
    return next(value for value in values if value is not None)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """Resolved training settings: seed defaults of the task, then flags, then ``--quick``."""
    task = args.task
    method = args.method or "hp"
    if method not in METHODS[task]:
        raise UserError(
            f"--method {method!r} is not available for task {task}; allowed: {', '.join(METHODS[task])}"
        )
    defaults = DEFAULTS[task]
    dataset = check_dataset(task, args.dataset or defaults["dataset"])
    settings = {
        "task": task,
        "method": method,
        "dataset": dataset,
        "epochs": _first(
            args.epochs, defaults["epochs"], get_cnn_config(dataset).epochs if task == "classification" else 1
        ),
        "batch_size": _first(
            args.batch_size,
            defaults["batch_size"],
            get_cnn_config(dataset).batch_size if task == "classification" else 1,
        ),
        "lr": _first(args.lr, CIFAR_SGD_LR if dataset == "cifar10" else defaults["lr"]),
        "local_lr": args.local_lr if args.local_lr is not None else defaults["local_lr"],
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
        "tasks": args.tasks,
        "meta_tasks": args.meta_tasks,
        "hidden": args.hidden,
        "sparsity": args.sparsity,
        "ewc_lambda": args.ewc_lambda,
        "iterations": args.iterations,
        "eval_every": args.eval_every,
        "ways": args.ways,
        "shots": args.shots,
        "omniglot_sets": args.omniglot_sets,
        "test_episodes": args.test_episodes,
    }
    if args.quick:
        settings["epochs"] = min(settings["epochs"], QUICK["epochs"])
        train_cap, test_cap = (
            QUICK_CNN_SUBSETS if task == "classification" else (QUICK["train_subset"], QUICK["test_subset"])
        )
        settings["train_subset"] = min(settings["train_subset"] or train_cap, train_cap)
        settings["test_subset"] = min(settings["test_subset"] or test_cap, test_cap)
        settings["iterations"] = min(settings["iterations"], QUICK["iterations"])
        settings["eval_every"] = min(settings["eval_every"], QUICK["eval_every"], settings["iterations"])
        if task == "classification":
            settings["cnn_divisors"] = list(QUICK_CNN_DIVISORS)
            if args.batch_size is None:
                settings["batch_size"] = QUICK_CNN_BATCH
        settings["test_episodes"] = min(settings["test_episodes"], QUICK["test_episodes"])
        settings["tasks"] = min(settings["tasks"], QUICK["tasks"])
        settings["hidden"] = min(settings["hidden"], QUICK["hidden"])
        settings["sparsity"] = max(settings["sparsity"], 0.3)
    return settings  # counts are >= 1 already: their flags' type is values.count


def cnn_config(settings: dict[str, Any]) -> CNNConfig:
    """The dataset's CNN; a ``--quick`` run's is narrower (``cnn_divisors``: conv channels and hidden dense
    stages divided by them), with the same neurons, rule, time steps and decoding."""
    config = get_cnn_config(settings["dataset"])
    if not settings.get("cnn_divisors"):
        return config
    conv_div, dense_div = settings["cnn_divisors"]
    convs = tuple(
        replace(
            c,
            channels_in=c.channels_in if i == 0 else c.channels_in // conv_div,
            channels_out=c.channels_out // conv_div,
        )
        for i, c in enumerate(config.convs)
    )
    last = len(config.dense) - 1
    dense = tuple(
        replace(
            d,
            n_in=d.n_in // conv_div if i == 0 else d.n_in // dense_div,
            n_out=d.n_out if i == last else d.n_out // dense_div,
        )
        for i, d in enumerate(config.dense)
    )
    return replace(config, convs=convs, dense=dense)


def build_network(settings: dict[str, Any]) -> nn.Module:
    """The network of a task/method/dataset (from the settings or a checkpoint's config)."""
    task, method = settings["task"], settings["method"]
    if task == "simple":
        return HPMLP(SIMPLE, method)
    if task == "tolerance":
        return HPMLP(TOLERANCE, method)
    if task == "classification":
        return HPConvNet(cnn_config(settings), method)
    if task == "multitask":
        return MultitaskNet(MultitaskConfig(hidden=settings["hidden"], sparsity=settings["sparsity"]), method)
    config = FewShotConfig(ways=settings["ways"], shots=settings["shots"])
    lrs = {
        "weight_lr": settings.get("lr", config.weight_lr),
        "meta_lr": settings.get("local_lr", config.meta_lr),
    }
    return FewShotNet(replace(config, **lrs), method)


def _device(args: argparse.Namespace) -> torch.device:
    configure_threads(args.threads)
    return select_device(args.device)


def _train_parser() -> argparse.ArgumentParser:
    """The parser of ``hybridsnn train hp``: its flags' types check stored settings."""
    from hybridsnn.cli import build_model_parser

    return build_model_parser("hybridsnn", "train", "hp")


def check_dataset(task: str, dataset: str) -> str:
    """``dataset`` if ``task`` runs on it (fewshot: always omniglot)."""
    if task == "fewshot":
        return "omniglot"
    if task == "classification":
        get_cnn_config(dataset)
    elif dataset not in ("mnist", "fashion-mnist"):
        raise UserError(f"task {task} runs on mnist or fashion-mnist, got --dataset {dataset!r}")
    return dataset


#: Settings a checkpoint's config must hold besides task, method and dataset (its network and test read them).
CHECKPOINT_KEYS = {
    **{task: ("batch_size",) for task in IMAGE_TASKS},
    "multitask": ("hidden", "sparsity", "tasks"),
    "fewshot": ("ways", "shots", "omniglot_sets", "seed"),
}


def load_matching_checkpoint(path: str, args: argparse.Namespace, method: str | None = None) -> Checkpoint:
    """The HP checkpoint at ``path``; refuses one of another task, or of another method (``method``, else
    ``--method`` if given), and one whose stored settings are not what the train flags could produce.

    The seed's tolerance tests defaulted to crossed model/name pairs and silently loaded a GP state into an
    HP model (hp_snn §2.3); here the stored task and method must match what the command asks for.
    """
    checkpoint = load_checkpoint(path, model="hp")
    config, source = checkpoint.config, f"checkpoint {path!r}"
    check_stored_flags(config, _train_parser(), source)
    missing = [key for key in ("task", "method", "dataset") if key not in config]
    missing += [key for key in CHECKPOINT_KEYS.get(config.get("task"), ()) if key not in config]
    if missing:
        raise CheckpointError(f"{source} lacks the HP setting(s) {', '.join(missing)}")
    task = config["task"]
    if task != args.task:
        raise CheckpointError(f"{source} was trained for task {task!r}, not --task {args.task}")
    if config["method"] not in METHODS[task]:
        raise CheckpointError(f"{source} holds method {config['method']!r}; task {task} has methods "
                              f"{', '.join(METHODS[task])}")  # fmt: skip
    expected = method or args.method
    if expected is not None and config["method"] != expected:
        raise CheckpointError(
            f"{source} holds a {config['method']!r} model, not --method {expected}; pass the matching "
            "checkpoint"
        )
    try:
        check_dataset(task, config["dataset"])
    except UserError as exc:
        raise CheckpointError(f"{source} holds an unusable dataset: {exc}") from None
    return checkpoint


def _network_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> nn.Module:
    source = f"checkpoint {str(checkpoint.path)!r}"
    try:
        network = build_network(checkpoint.config)
    except UserError as exc:
        raise CheckpointError(f"{source} holds settings that build no HP network: {exc}") from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
        raise CheckpointError(f"{source} holds unusable HP settings ({type(exc).__name__}: {exc})") from None
    restore_state(checkpoint, {"model": network})
    return network.to(device)


def _multitask_tasks(checkpoint: Checkpoint) -> int:
    """The tasks a multitask checkpoint has learned (1 .. its ``--tasks``)."""
    trained = checkpoint.config["tasks"]
    tasks = checkpoint.extra.get("task", trained)
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1 <= tasks <= trained:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} records {tasks!r} learned tasks; "
                              f"expected a whole number in 1..{trained} (its --tasks)")  # fmt: skip
    return tasks


# -- checks before the run folder exists ----------------------------------------------------------------


def validate(args: argparse.Namespace, command: str) -> None:
    """Everything that can be refused before the run folder is created (or a resumed run is reopened): the
    stored flags of a resumed run, the task's method and dataset, flags the task or method does not read,
    the device, and the ``--checkpoint`` (its task and method, that it builds the network) and ``--input``."""
    if command == "plot":
        return
    select_device(args.device)
    if command == "train":
        _validate_train(args)
        return
    if getattr(args, "test", False):  # train hp --test
        refuse_training_flags(args, "hp")
    from hybridsnn.cli import build_model_parser

    refuse_flags_not_read(args, build_model_parser("hybridsnn", command, "hp"), TEST_FLAGS_OF, args.task,
                          command)  # fmt: skip
    _repeats(args)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    _network_from_checkpoint(checkpoint, torch.device("cpu"))
    if args.task == "multitask":
        _multitask_tasks(checkpoint)
    if command == "predict":
        _predict_images(args, checkpoint)


def _validate_train(args: argparse.Namespace) -> None:
    if args.resume:
        check_stored_flags(vars(args), _train_parser(), f"--resume {args.resume!r}: config.json")
        if args.task not in IMAGE_TASKS:
            raise UserError(f"--resume works for the epoch-based tasks ({', '.join(IMAGE_TASKS)}), not "
                            f"{args.task}; start a new run")  # fmt: skip
    settings = settings_from(args)
    parser = _train_parser()
    refuse_flags_not_read(args, parser, TRAIN_FLAGS_OF, args.task, "train")
    refuse_flags_not_read(args, parser, METHOD_FLAGS_OF, settings["method"], "train", choice="--method")
    if args.local_lr is not None and args.task == "classification" and settings["dataset"] == "fashion-mnist":
        raise UserError(f"--local-lr {args.local_lr} does not apply to the Fashion-MNIST CNN: it trains "
                        "every parameter with one Adam at --lr (as the seed); leave it out")  # fmt: skip
    _repeats(args)
    if args.checkpoint:
        if args.task not in IMAGE_TASKS:
            raise UserError(f"--checkpoint starts training from a checkpoint for --task "
                            f"{', '.join(IMAGE_TASKS)}; --task {args.task} always starts afresh")  # fmt: skip
        checkpoint = load_matching_checkpoint(args.checkpoint, args, method=settings["method"])
        restore_state(checkpoint, {"model": build_network(settings)})
    if args.resume:
        check_resume(args.resume, "hp", {"model": build_network(settings)}, args.seed)


def _repeats(args: argparse.Namespace) -> None:
    refuse_repeats("--noise-levels", getattr(args, "noise_levels", None))
    refuse_repeats("--occlusion-levels", getattr(args, "occlusion_levels", None))


# -- image classification tasks (simple, tolerance, classification) -------------------------------------


def _optimizers(model: nn.Module, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optimisers and per-epoch schedulers of the seed (hp_snn §1.4, §2.2)."""
    if settings["task"] != "classification" or settings["dataset"] == "mnist":
        return make_optimizers(model, settings["lr"], settings["local_lr"]), {}
    if settings["dataset"] == "fashion-mnist":
        optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=settings["lr"])
        return {"optim": optim}, {"lr": torch.optim.lr_scheduler.MultiStepLR(optim, [40, 80], 0.1)}
    weights, local = split_parameters(model)
    sgd = torch.optim.SGD(weights, lr=settings["lr"], momentum=0.9, weight_decay=1e-8)
    optimizers: dict[str, Any] = {"optim_base": sgd}
    if local:
        optimizers["optim_local"] = torch.optim.Adam(local, lr=settings["local_lr"])
    return optimizers, {"lr": torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=120)}


def _image_data(settings: dict[str, Any], root: str | None, train: bool) -> TensorBatches:
    images, labels = image_tensors(
        settings["dataset"],
        "train" if train else "test",
        root,
        settings["train_subset" if train else "test_subset"],
    )
    cifar = settings["dataset"] == "cifar10"
    return TensorBatches(
        images,
        labels,
        settings["batch_size"],
        shuffle=train,
        drop_last=cifar and train,
        augment=crop_flip if cifar and train else None,
    )


def sweep(
    model: nn.Module,
    loader: TensorBatches,
    kind: str,
    levels: Sequence[int],
    device: torch.device,
    *,
    seed: int,
    flatten: bool,
    progress: bool,
    noise: str = "gaussian",
) -> dict[int, float]:
    """Accuracy of ``model`` (learning frozen) at each level of ``kind`` (``noise`` of mode ``noise``, or
    ``occlusion``); the noise of a level is drawn from a generator seeded by ``seed·1000 + level``."""
    results = {}
    for level in levels:
        generator = torch.Generator().manual_seed(seed * 1000 + level)
        corrupt: Callable[[Tensor], Tensor] = (
            (lambda x, lv=level, gen=generator: add_noise(x, lv, noise, gen))
            if kind == "noise"
            else (lambda x, lv=level: occlude_center(x, lv))
        )
        steps = ClassifierSteps(model, {}, device, flatten=flatten, transform=corrupt)
        results[level] = evaluate(
            steps.eval_step, loader, modules=[model], desc=f"{kind} {level}", progress=progress
        )["accuracy"]
    return results


def _sweeps_for(task: str, args: argparse.Namespace) -> dict[str, list[int]]:
    """The corruption sweeps run after training/testing a task (classification: none)."""
    if task not in SWEEP_DEFAULTS:
        return {}
    noise = args.noise_levels if args.noise_levels is not None else SWEEP_DEFAULTS[task]
    if task == "simple":
        return {"noise": noise}
    occlusion = args.occlusion_levels if args.occlusion_levels is not None else SWEEP_DEFAULTS[task]
    return {"occlusion": occlusion, "noise": noise}


def _run_sweeps(
    run: Run,
    model: nn.Module,
    loader: TensorBatches,
    sweeps: dict[str, list[int]],
    device: torch.device,
    args: argparse.Namespace,
    flatten: bool,
) -> dict[str, float]:
    final: dict[str, float] = {}
    for kind, levels in sweeps.items():
        curve = sweep(
            model,
            loader,
            kind,
            levels,
            device,
            seed=args.seed,
            flatten=flatten,
            progress=not args.no_progress,
            noise=args.noise,
        )
        for level, acc in curve.items():
            extra = {"mode": args.noise} if kind == "noise" else {}
            # once: a run resumed after its last epoch repeats the sweeps that its killed process had begun
            log_metrics_once(run, step=level, split=kind, level=level, accuracy=acc, **extra)
            final[f"{kind}{level}_accuracy"] = acc
    return final


def _train_images(args: argparse.Namespace, run: Run, settings: dict[str, Any], device: torch.device) -> dict:
    model = build_network(settings).to(device)
    if args.checkpoint:
        checkpoint = load_matching_checkpoint(args.checkpoint, args, method=settings["method"])
        restore_state(checkpoint, {"model": model})
    train_loader = _image_data(settings, args.data_root, train=True)
    test_loader = _image_data(settings, args.data_root, train=False)
    optimizers, schedulers = _optimizers(model, settings)
    flatten = settings["task"] != "classification"
    steps = ClassifierSteps(model, optimizers, device, flatten=flatten)
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=train_loader,
        epochs=settings["epochs"],
        seed=args.seed,
        state={"model": model, **optimizers},
        schedulers=schedulers,
        eval_step=steps.eval_step,
        eval_loaders={"test": test_loader},
        best=BestMetric("test", "accuracy"),
        resume=bool(args.resume),
        progress=not args.no_progress,
    )
    final = {
        "test_accuracy": result.metrics.get("test", {}).get("accuracy"),
        "train_loss": result.metrics.get("train", {}).get("loss"),
        "best_test_accuracy": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
    }
    final.update(
        _run_sweeps(run, model, test_loader, _sweeps_for(settings["task"], args), device, args, flatten)
    )
    return run.finish(
        final,
        samples=_epoch_samples(train_loader) * result.epochs,  # every epoch of the run, resumed or not
        dataset=settings["dataset"],
        engine="torch",
        device=str(device),
        method=settings["method"],
    )


def _epoch_samples(loader: TensorBatches) -> int:
    """Training samples one epoch shows (CIFAR drops the last partial batch)."""
    return len(loader) * loader.batch_size if loader.drop_last else len(loader.labels)


def _test_images(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    config = checkpoint.config
    model = _network_from_checkpoint(checkpoint, device)
    settings = {
        **config,
        "test_subset": QUICK["test_subset"] if args.quick and args.test_subset is None else args.test_subset,
        "batch_size": args.batch_size or config["batch_size"],
    }
    loader = _image_data(settings, args.data_root, train=False)
    flatten = config["task"] != "classification"
    steps = ClassifierSteps(model, {}, device, flatten=flatten)
    metrics = evaluate(steps.eval_step, loader, modules=[model], progress=not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    final = {"test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"]}
    final.update(_run_sweeps(run, model, loader, _sweeps_for(config["task"], args), device, args, flatten))
    return run.finish(
        final,
        samples=len(loader.labels),
        dataset=config["dataset"],
        engine="torch",
        device=str(device),
        method=config["method"],
        checkpoint=str(args.checkpoint),
    )


# -- multitask ------------------------------------------------------------------------------------------


def _permuted(images: Tensor, task: int) -> Tensor:
    return images[:, torch.from_numpy(task_permutation(task))]


def multitask_accuracies(
    model: MultitaskNet, images: Tensor, labels: Tensor, tasks: int, batch: int, device: torch.device
) -> list[float]:
    """Test accuracy of every task ``0..tasks-1`` (each with its permutation and mask)."""
    model.eval()
    accuracies = []
    with torch.no_grad():
        for task in range(tasks):
            permuted = _permuted(images, task)
            correct = sum(
                count_correct(
                    model(permuted[i : i + batch].to(device), task), labels[i : i + batch].to(device)
                )
                for i in range(0, len(labels), batch)
            )
            accuracies.append(correct / len(labels))
    model.train()
    return accuracies


def _train_multitask(
    args: argparse.Namespace, run: Run, settings: dict[str, Any], device: torch.device
) -> dict:
    model = build_network(settings).to(device)
    assert isinstance(model, MultitaskNet)
    train_x, train_y = image_tensors(
        "mnist" if settings["dataset"] == "mnist" else settings["dataset"],
        "train",
        args.data_root,
        settings["train_subset"],
    )
    test_x, test_y = image_tensors(settings["dataset"], "test", args.data_root, settings["test_subset"])
    train_x, test_x = train_x.flatten(1), test_x.flatten(1)
    weights, local = split_parameters(model)
    optim_w = torch.optim.Adam(weights, lr=settings["lr"])
    optim_local = torch.optim.Adam(local, lr=settings["local_lr"]) if local else None
    ewc = EWCPenalty(settings["ewc_lambda"]) if settings["method"] == "ewc" else None
    state: dict[str, Any] = {"model": model, "optim_w": optim_w}
    if optim_local is not None:
        state["optim_local"] = optim_local
    batch, step, averages = settings["batch_size"], 0, []
    loader = TensorBatches(train_x, train_y, batch, shuffle=True)
    for task in range(settings["tasks"]):
        perm = torch.from_numpy(task_permutation(task))
        for epoch in range(settings["epochs"]):
            seed_everything(args.seed * 10_007 + task * 101 + epoch)
            losses = []
            for images, labels in loader:
                optim_w.zero_grad(set_to_none=True)
                loss = one_hot_mse(model(images[:, perm].to(device), task), labels.to(device))
                if ewc is not None and ewc.tasks:
                    loss = loss + ewc(model)
                loss.backward()
                optim_w.step()
                losses.append(loss.item())
                step += 1
            run.log_metrics(
                step=step,
                split="train",
                epoch=task + (epoch + 1) / settings["epochs"],
                task=task,
                loss=float(np.mean(losses)),
            )
        if optim_local is not None and task < settings["meta_tasks"]:
            _meta_phase(model, optim_local, loader, task, device)
        if ewc is not None:
            ewc.consolidate(model, [images[:, perm].to(device) for images, _ in loader], task)
        accuracies = multitask_accuracies(model, test_x, test_y, task + 1, 1000, device)
        averages.append(float(np.mean(accuracies)))
        run.log_metrics(
            step=step,
            split="tasks",
            epoch=task + 1,
            task=task + 1,
            accuracy=averages[-1],
            current_task_accuracy=accuracies[-1],
            first_task_accuracy=accuracies[0],
        )
        tensors, extra = checkpoint_payload(state, task=task + 1, averages=averages)
        run.save_checkpoint("last", tensors, extra)
    final = {"average_accuracy": averages[-1], "tasks": settings["tasks"], "averages": averages}
    return run.finish(
        final,
        samples=len(train_y) * settings["epochs"] * settings["tasks"],
        dataset=f"permuted-{settings['dataset']}",
        engine="torch",
        device=str(device),
        method=settings["method"],
    )


def _meta_phase(
    model: MultitaskNet,
    optimizer: torch.optim.Optimizer,
    loader: TensorBatches,
    task: int,
    device: torch.device,
) -> None:
    """One epoch training only α, β, η on batches replayed from a random earlier task (task 0: itself)."""
    for images, labels in loader:
        replay = int(np.random.randint(task)) if task > 0 else 0
        optimizer.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
        loss = one_hot_mse(model(_permuted(images, replay).to(device), replay), labels.to(device))
        loss.backward()
        optimizer.step()
    model.zero_grad(set_to_none=True)


def _test_multitask(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    model = _network_from_checkpoint(checkpoint, device)
    assert isinstance(model, MultitaskNet)
    tasks = _multitask_tasks(checkpoint)
    subset = QUICK["test_subset"] if args.quick and args.test_subset is None else args.test_subset
    test_x, test_y = image_tensors(checkpoint.config["dataset"], "test", args.data_root, subset)
    accuracies = multitask_accuracies(model, test_x.flatten(1), test_y, tasks, 1000, device)
    for task, acc in enumerate(accuracies):
        run.log_metrics(step=task, split="test", task=task + 1, accuracy=acc)
    return run.finish(
        {"average_accuracy": float(np.mean(accuracies)), "tasks": tasks},
        samples=len(test_y) * tasks,
        dataset=f"permuted-{checkpoint.config['dataset']}",
        engine="torch",
        device=str(device),
        method=checkpoint.config["method"],
    )


# -- few-shot -------------------------------------------------------------------------------------------


def _fewshot_samplers(
    settings: dict[str, Any], root: str | None, seed: int, config: FewShotConfig
) -> tuple[EpisodeSampler, EpisodeSampler]:
    train_chars, test_chars = split_characters(omniglot_characters(root, settings["omniglot_sets"]), seed)
    return (
        EpisodeSampler(train_chars, config, seed=seed + 1, flip=True),
        EpisodeSampler(test_chars, config, seed=seed + 2, flip=False),
    )


def _train_fewshot(
    args: argparse.Namespace, run: Run, settings: dict[str, Any], device: torch.device
) -> dict:
    model = build_network(settings).to(device)
    assert isinstance(model, FewShotNet)
    trainer = MetaTrainer(model)
    train_sampler, test_sampler = _fewshot_samplers(settings, args.data_root, args.seed, model.config)
    best, history, means = None, [], {}
    for iteration in range(1, settings["iterations"] + 1):
        for key, value in trainer.iteration(train_sampler).items():
            means.setdefault(key, []).append(value)
        if iteration % settings["eval_every"] == 0 or iteration == settings["iterations"]:
            accuracy = evaluate_episodes(model, test_sampler, settings["test_episodes"])
            history.append(accuracy)
            run.log_metrics(step=iteration, split="train", **{k: float(np.mean(v)) for k, v in means.items()})
            run.log_metrics(step=iteration, split="test", accuracy=accuracy)
            means = {}
            tensors, extra = checkpoint_payload(trainer.state(), iteration=iteration)  # type: ignore[arg-type]
            run.save_checkpoint("last", tensors, extra)
            if best is None or accuracy > best:
                best = accuracy
                run.save_checkpoint("best", tensors, extra)
    final = {
        "test_accuracy": history[-1],
        "best_test_accuracy": best,
        "iterations": settings["iterations"],
        "chance": 1.0 / settings["ways"],
    }
    return run.finish(
        final,
        samples=settings["iterations"],
        dataset=f"omniglot-{settings['omniglot_sets']}",
        engine="torch",
        device=str(device),
        method=settings["method"],
    )


def _test_fewshot(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    model = _network_from_checkpoint(checkpoint, device)
    assert isinstance(model, FewShotNet)
    _, test_sampler = _fewshot_samplers(
        checkpoint.config, args.data_root, checkpoint.config["seed"], model.config
    )
    accuracy = evaluate_episodes(model, test_sampler, args.test_episodes)
    run.log_metrics(step=0, split="test", accuracy=accuracy)
    return run.finish(
        {"test_accuracy": accuracy, "episodes": args.test_episodes},
        samples=args.test_episodes,
        dataset=f"omniglot-{checkpoint.config['omniglot_sets']}",
        engine="torch",
        device=str(device),
        method=checkpoint.config["method"],
    )


# -- commands -------------------------------------------------------------------------------------------


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train the task's network (``--method``), then run the task's sweeps / evaluations."""
    device = _device(args)
    seed_everything(args.seed, deterministic=True)
    settings = settings_from(args)  # checked (with --resume's task) by validate
    run.config.update(settings)
    if args.task == "multitask":
        return _train_multitask(args, run, settings, device)
    if args.task == "fewshot":
        return _train_fewshot(args, run, settings, device)
    return _train_images(args, run, settings, device)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` (of the same ``--task``, and ``--method`` if given) with learning frozen."""
    device = _device(args)
    seed_everything(args.seed, deterministic=True)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    if args.task == "multitask":
        return _test_multitask(args, run, checkpoint, device)
    if args.task == "fewshot":
        return _test_fewshot(args, run, checkpoint, device)
    return _test_images(args, run, checkpoint, device)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the 28×28 / 32×32 images in ``--input`` with an image-task checkpoint."""
    device = _device(args)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    config = checkpoint.config
    images = _predict_images(args, checkpoint)
    model = _network_from_checkpoint(checkpoint, device).eval()
    with torch.no_grad():
        scores = model(
            images.to(device) if config["task"] == "classification" else images.flatten(1).to(device)
        )
    predicted = scores.argmax(dim=1).cpu().numpy()
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        {"samples": len(predicted), "predictions": predicted.tolist()},
        samples=len(predicted),
        dataset=config["dataset"],
        engine="torch",
        device=str(device),
    )


def _predict_images(args: argparse.Namespace, checkpoint: Checkpoint) -> Tensor:
    """The ``--input`` images as the network's input ``[N, C, H, W]`` (prepared as in training)."""
    config = checkpoint.config
    if config["task"] not in IMAGE_TASKS:
        raise UserError(
            f"predict classifies single images; task {config['task']} needs episodes/tasks, use test"
        )
    shape = (3, 32, 32) if config["dataset"] == "cifar10" else (1, 28, 28)
    return pixel_tensors(read_image_file(args.input, shape), config["dataset"])


# -- plots ----------------------------------------------------------------------------------------------


def _label(run_dir: Path) -> str:
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    return str(config.get("method") or "hp").upper()


def _sweep_points(run_dir: Path, kind: str) -> list[tuple[float, float]]:
    """``(level, accuracy)`` of the run's ``kind`` sweep records (a record without both numbers: refused)."""
    points = []
    for record in read_metrics(run_dir):
        if record.get("split") != kind:
            continue
        level, accuracy = record.get("level"), record.get("accuracy")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (level, accuracy)):
            raise UserError(f"metrics log of {str(run_dir)!r} holds a {kind} record with level {level!r} and "
                            f"accuracy {accuracy!r}; expected two numbers")  # fmt: skip
        points.append((level, accuracy))
    return points


def plot(args: argparse.Namespace) -> list[Path]:
    """Noise/occlusion curves (all given runs on one figure), continual-learning and learning curves."""
    from hybridsnn import plots

    run_dirs = [Path(args.run_dir), *map(Path, args.compare)]
    for run_dir in run_dirs:
        if not (run_dir / "config.json").is_file():
            raise UserError(f"run directory {str(run_dir)!r} does not exist or has no config.json")
    refuse_repeats("plot hp RUN_DIR", [str(d.resolve()) for d in run_dirs])
    out = Path(args.output) if args.output else run_dirs[0] / "plots"
    labels = [_label(d) for d in run_dirs]
    if len(set(labels)) < len(labels):  # two runs of one method: tell their curves apart by folder
        labels = [f"{label} ({d.name})" for label, d in zip(labels, run_dirs, strict=True)]
    written = []
    for kind, xlabel in (
        ("noise", "Gaussian noise level i (variance 0.01·i)"),
        ("occlusion", "occlusion level i (central 2i×2i square)"),
    ):
        curves = {}
        for label, run_dir in zip(labels, run_dirs, strict=True):
            points = sorted(_sweep_points(run_dir, kind))
            if points:
                curves[label] = points
        if curves:
            levels = sorted({lv for pts in curves.values() for lv, _ in pts})
            series = {k: [dict(v).get(lv, np.nan) for lv in levels] for k, v in curves.items()}
            written.append(
                plots.line_curves(
                    levels,
                    series,
                    out / f"{kind}.png",
                    xlabel=xlabel,
                    ylabel="test accuracy",
                    title=f"HP-SNN: accuracy vs {kind}",
                )
            )
    records = [read_metrics(d) for d in run_dirs]
    if any(r.get("split") == "tasks" for recs in records for r in recs):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "continual.png",
                split="tasks",
                x="epoch",
                labels=labels,
                xlabel="tasks learned",
                ylabel="average accuracy over seen tasks",
                title="HP-SNN: permuted-MNIST continual learning",
            )
        )
    task = json.loads((run_dirs[0] / "config.json").read_text(encoding="utf-8")).get("task")
    if task == "fewshot" and any(r.get("split") == "test" and r.get("step", 0) > 0 for r in records[0]):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "learning.png",
                split="test",
                x="step",
                labels=labels,
                xlabel="meta iterations",
                ylabel="test accuracy",
                title="HP-SNN: few-shot learning curve",
            )
        )
    elif any(r.get("split") == "test" and r.get("epoch") is not None for recs in records for r in recs):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "accuracy.png",
                split="test",
                x="epoch",
                labels=labels,
                title="HP-SNN: test accuracy",
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dirs[0])!r} has no HP metrics to plot")
    return written
