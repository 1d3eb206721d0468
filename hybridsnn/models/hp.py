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
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.data import read_image_file
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hp.cnn import HPConvNet, get_cnn_config
from hybridsnn.hp.corruption import NOISE_MODES, add_noise, occlude_center
from hybridsnn.hp.data import TensorBatches, crop_flip, image_tensors
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
    checkpoint_payload,
    configure_threads,
    count_correct,
    evaluate,
    fit,
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
QUICK = {
    "train_subset": 2000,
    "test_subset": 1000,
    "epochs": 1,
    "iterations": 20,
    "test_episodes": 20,
    "tasks": 3,
    "hidden": 128,
}
#: The CNNs are ~50× costlier per image than the MLPs: their quick runs use fewer images.
QUICK_CNN_SUBSETS = (300, 200)
#: Sweep levels of the seed: simple example noise 0..6; tolerance tests occlusion and noise 0..14.
SWEEP_DEFAULTS = {"simple": list(range(7)), "tolerance": list(range(15))}
CIFAR_SGD_LR = 0.08


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """HP flags of ``train``/``test``/``predict`` (``plot`` takes extra run directories to compare)."""
    add = parser.add_argument
    if command == "plot":
        add("compare", nargs="*", metavar="RUN_DIR", help="more run directories drawn on the same figures")
        return
    parser.set_defaults(seed=SEED_DEFAULT)
    add(
        "--method",
        default=None,
        help="hp, gp, lp (simple), ewc (multitask); default hp; test: checked against the checkpoint",
    )
    add("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add("--threads", type=int, default=1, help="CPU threads of torch (default: 1)")
    add("--batch-size", type=int, default=None, help="samples per batch (default: the seed's)")
    add("--test-subset", type=int, default=None, metavar="N", help="evaluate on the first N test samples")
    add(
        "--noise-levels",
        type=int,
        nargs="+",
        default=None,
        metavar="I",
        help="Gaussian noise levels (variance 0.01·I) of the sweep (default: simple 0..6, tolerance 0..14)",
    )
    add(
        "--occlusion-levels",
        type=int,
        nargs="+",
        default=None,
        metavar="I",
        help="occlusion levels (central 2I×2I square) of the tolerance sweep (default: 0..14)",
    )
    add("--noise", default="gaussian", choices=NOISE_MODES, help="noise of the sweep (default: gaussian)")
    add("--test-episodes", type=int, default=100, help="few-shot test episodes (default: 100)")
    if command == "predict":
        add("--input", required=True, metavar="PATH", help="images to classify: .npy, IDX or PNG")
        return
    if command == "test":
        return
    add("--dataset", default=None, help="mnist, fashion-mnist or cifar10 (classification); default mnist")
    add("--epochs", type=int, default=None, help="training epochs (per task for multitask; default: seed's)")
    add("--lr", type=float, default=None, help="learning rate of the GP weights (default: seed's)")
    add("--local-lr", type=float, default=None, help="learning rate of α, β, η (default: seed's)")
    add("--train-subset", type=int, default=None, metavar="N", help="train on the first N training samples")
    add("--tasks", type=int, default=50, help="multitask: number of permuted-MNIST tasks (default: 50)")
    add("--meta-tasks", type=int, default=35, help="multitask: tasks followed by the replay meta phase")
    add("--hidden", type=int, default=1024, help="multitask: hidden layer size (default: 1024)")
    add("--sparsity", type=float, default=0.03, help="multitask: fraction of ones in task masks")
    add("--ewc-lambda", type=float, default=5000.0, help="multitask EWC strength (default: 5000)")
    add("--iterations", type=int, default=1_000_000, help="few-shot meta iterations (default: 1e6)")
    add("--eval-every", type=int, default=1000, help="few-shot: test every N iterations (default: 1000)")
    add("--ways", type=int, default=5, help="few-shot N-way (default: 5)")
    add("--shots", type=int, default=1, help="few-shot K-shot (default: 1)")
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
    dataset = args.dataset or defaults["dataset"]
    if task == "fewshot":
        dataset = "omniglot"
    elif task == "classification":
        get_cnn_config(dataset)
    elif dataset not in ("mnist", "fashion-mnist"):
        raise UserError(f"task {task} runs on mnist or fashion-mnist, got --dataset {dataset!r}")
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
        settings["eval_every"] = min(settings["eval_every"], settings["iterations"])
        settings["test_episodes"] = min(settings["test_episodes"], QUICK["test_episodes"])
        settings["tasks"] = min(settings["tasks"], QUICK["tasks"])
        settings["hidden"] = min(settings["hidden"], QUICK["hidden"])
        settings["sparsity"] = max(settings["sparsity"], 0.3)
    for key in ("epochs", "batch_size", "tasks", "hidden", "iterations", "eval_every", "test_episodes"):
        if settings[key] < 1:
            raise UserError(f"--{key.replace('_', '-')} must be >= 1, got {settings[key]}")
    return settings


def build_network(settings: dict[str, Any]) -> nn.Module:
    """The network of a task/method/dataset (from the settings or a checkpoint's config)."""
    task, method = settings["task"], settings["method"]
    if task == "simple":
        return HPMLP(SIMPLE, method)
    if task == "tolerance":
        return HPMLP(TOLERANCE, method)
    if task == "classification":
        return HPConvNet(get_cnn_config(settings["dataset"]), method)
    if task == "multitask":
        return MultitaskNet(MultitaskConfig(hidden=settings["hidden"], sparsity=settings["sparsity"]), method)
    return FewShotNet(FewShotConfig(ways=settings["ways"], shots=settings["shots"]), method)


def _device(args: argparse.Namespace) -> torch.device:
    configure_threads(args.threads)
    return select_device(args.device)


def load_matching_checkpoint(path: str, args: argparse.Namespace) -> Checkpoint:
    """The HP checkpoint at ``path``; refuses one of another task, or of another ``--method`` if given.

    The seed's tolerance tests defaulted to crossed model/name pairs and silently loaded a GP state into an
    HP model (hp_snn §2.3); here the stored task and method must match what the command asks for.
    """
    checkpoint = load_checkpoint(path, model="hp")
    config = checkpoint.config
    missing = [key for key in ("task", "method", "dataset") if key not in config]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} lacks the HP setting(s) {', '.join(missing)}")
    if config["task"] != args.task:
        raise CheckpointError(
            f"checkpoint {path!r} was trained for task {config['task']!r}, not --task {args.task}"
        )
    if args.method is not None and config["method"] != args.method:
        raise CheckpointError(
            f"checkpoint {path!r} holds a {config['method']!r} model, not --method "
            f"{args.method}; pass the matching checkpoint"
        )
    return checkpoint


def _network_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> nn.Module:
    network = build_network(checkpoint.config)
    restore_state(checkpoint, {"model": network})
    return network.to(device)


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
            run.log_metrics(step=level, split=kind, level=level, accuracy=acc, **extra)
            final[f"{kind}{level}_accuracy"] = acc
    return final


def _train_images(args: argparse.Namespace, run: Run, settings: dict[str, Any], device: torch.device) -> dict:
    model = build_network(settings).to(device)
    if args.checkpoint:
        restore_state(load_matching_checkpoint(args.checkpoint, args), {"model": model})
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
        samples=len(train_loader.labels) * result.epochs,
        dataset=settings["dataset"],
        engine="torch",
        device=str(device),
        method=settings["method"],
    )


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
        dataset="permuted-mnist",
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
    tasks = int(checkpoint.extra.get("task", checkpoint.config["tasks"]))
    subset = QUICK["test_subset"] if args.quick and args.test_subset is None else args.test_subset
    test_x, test_y = image_tensors("mnist", "test", args.data_root, subset)
    accuracies = multitask_accuracies(model, test_x.flatten(1), test_y, tasks, 1000, device)
    for task, acc in enumerate(accuracies):
        run.log_metrics(step=task, split="test", task=task + 1, accuracy=acc)
    return run.finish(
        {"average_accuracy": float(np.mean(accuracies)), "tasks": tasks},
        samples=len(test_y) * tasks,
        dataset="permuted-mnist",
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
    settings = settings_from(args)
    if args.resume and args.task in ("multitask", "fewshot"):
        raise UserError(
            f"--resume works for the epoch-based tasks (simple, classification, tolerance), "
            f"not {args.task}; start a new run"
        )
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
    if args.checkpoint is None:
        raise UserError("predict needs --checkpoint PATH (a trained HP checkpoint)")
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    config = checkpoint.config
    if config["task"] in ("multitask", "fewshot"):
        raise UserError(
            f"predict classifies single images; task {config['task']} needs episodes/tasks, use test"
        )
    model = _network_from_checkpoint(checkpoint, device).eval()
    shape = (3, 32, 32) if config["dataset"] == "cifar10" else (1, 28, 28)
    images = torch.from_numpy(np.asarray(read_image_file(args.input, shape), dtype=np.float32))
    images = images / 255.0 if images.max() > 1.0 else images
    images = images.permute(0, 3, 1, 2) if images.dim() == 4 else images.unsqueeze(1)
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


# -- plots ----------------------------------------------------------------------------------------------


def _label(run_dir: Path) -> str:
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    return str(config.get("method") or "hp").upper()


def plot(args: argparse.Namespace) -> list[Path]:
    """Noise/occlusion curves (all given runs on one figure), continual-learning and learning curves."""
    from hybridsnn import plots

    run_dirs = [Path(args.run_dir), *map(Path, args.compare)]
    for run_dir in run_dirs:
        if not (run_dir / "config.json").is_file():
            raise UserError(f"run directory {str(run_dir)!r} does not exist or has no config.json")
    out = Path(args.output) if args.output else run_dirs[0] / "plots"
    labels = [_label(d) for d in run_dirs]
    written = []
    for kind, xlabel in (
        ("noise", "Gaussian noise level i (variance 0.01·i)"),
        ("occlusion", "occlusion level i (central 2i×2i square)"),
    ):
        curves = {}
        for label, run_dir in zip(labels, run_dirs, strict=True):
            points = sorted(
                (r["level"], r["accuracy"]) for r in read_metrics(run_dir) if r.get("split") == kind
            )
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
