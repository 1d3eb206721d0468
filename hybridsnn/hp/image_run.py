"""The image classification tasks ``simple``, ``tolerance`` and ``classification``: training in epochs
(resumable), testing a checkpoint, the corruption sweeps after both, and the images ``predict`` classifies.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data import load_dataset, read_image_file
from hybridsnn.errors import UserError
from hybridsnn.hp.checkpoints import load_matching_checkpoint, network_from_checkpoint
from hybridsnn.hp.data import TensorBatches, crop_flip, image_tensors, pixel_tensors
from hybridsnn.hp.layer import split_parameters, use_batch_mean
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import IMAGE_TASKS, HPSettings, test_subset_of
from hybridsnn.hp.sweeps import run_sweeps, sweeps_for
from hybridsnn.hp.training import ClassifierSteps, make_optimizers
from hybridsnn.results import Run
from hybridsnn.spiking import BestMetric, evaluate, fit, restore_state
from hybridsnn.spiking.distributed import DistributedContext, distributed_session

#: Epochs after which the Fashion-MNIST CNN's learning rate is multiplied by 0.1, and the CIFAR-10 CNN's
#: cosine schedule length (epochs), as in the seed.
FASHION_LR_MILESTONES, CIFAR_COSINE_EPOCHS = (40, 80), 120
#: Tasks that train data-parallel under torchrun (the CNNs' dropout masks and early exit depend on the whole
#: batch; few-shot and multitask have their own loops).
DISTRIBUTED_TASKS = ("simple", "tolerance")


def optimizers_of(model: nn.Module, settings: HPSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optimisers and per-epoch schedulers of the seed (docs/hp.md, «Training»): two Adams (GP weights at
    ``lr``, α β η at ``local_lr``; the MNIST CNN of a user dataset too), except the Fashion-MNIST CNN (one
    Adam over all parameters) and the CIFAR-10 CNN (SGD with momentum for the GP weights)."""
    if settings.task != "classification" or settings.cnn_name == "mnist":
        return make_optimizers(model, settings.lr, settings.local_lr), {}
    if settings.cnn_name == "fashion-mnist":
        optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
        return {"optim": optim}, {
            "lr": torch.optim.lr_scheduler.MultiStepLR(optim, list(FASHION_LR_MILESTONES), 0.1)
        }
    weights, local = split_parameters(model)
    sgd = torch.optim.SGD(weights, lr=settings.lr, momentum=0.9, weight_decay=1e-8)
    optimizers: dict[str, Any] = {"optim_base": sgd}
    if local:
        optimizers["optim_local"] = torch.optim.Adam(local, lr=settings.local_lr)
    return optimizers, {"lr": torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=CIFAR_COSINE_EPOCHS)}


def user_data(settings: HPSettings) -> dict[str, Any]:
    """``classes`` for results.json of a network of a user dataset (else nothing)."""
    return {"classes": list(settings.data.classes)} if settings.data is not None else {}


def check_test_data(settings: HPSettings, root: str | None, checkpoint: str) -> None:
    """Refuse a user dataset whose test split no longer holds the images and classes the network of
    ``checkpoint`` was trained on (the path of its training run is read again)."""
    if settings.data is not None:
        settings.data.check(load_dataset(settings.dataset, "test", root), f"checkpoint {checkpoint!r}")


def image_batches(settings: HPSettings, root: str | None, train: bool) -> TensorBatches:
    """Batches of the training (shuffled; CIFAR-10: full batches, cropped and flipped) or test split."""
    images, labels = image_tensors(
        settings.dataset,
        "train" if train else "test",
        root,
        settings.train_subset if train else settings.test_subset,
    )
    cifar = settings.dataset == "cifar10"
    return TensorBatches(
        images,
        labels,
        settings.batch_size,
        shuffle=train,
        drop_last=cifar and train,
        augment=crop_flip if cifar and train else None,
    )


def _epoch_samples(loader: TensorBatches) -> int:
    """Training samples one epoch shows (CIFAR drops the last partial batch)."""
    return len(loader) * loader.batch_size if loader.drop_last else len(loader.labels)


def train(args: argparse.Namespace, run: Run, settings: HPSettings, device: torch.device) -> dict:
    """Train the task's network for ``epochs`` (from ``--checkpoint`` if given), testing after each epoch,
    then run the task's corruption sweeps with the final model. Under torchrun (``simple``, ``tolerance``:
    docs/hp.md, «torchrun») the epochs run data-parallel; the sweeps run whole in every process."""
    with distributed_session(device) as context:
        return _train(args, run, settings, context)


def _train(args: argparse.Namespace, run: Run, settings: HPSettings, context: DistributedContext) -> dict:
    device = context.device
    model = build_network(settings).to(device)
    if args.checkpoint:
        checkpoint = load_matching_checkpoint(args.checkpoint, args, method=settings.method.name)
        restore_state(checkpoint, {"model": model})
    train_loader = image_batches(settings, args.data_root, train=True)
    test_loader = image_batches(settings, args.data_root, train=False)
    optimizers, schedulers = optimizers_of(model, settings)
    flatten = settings.task != "classification"
    steps = ClassifierSteps(model, optimizers, device, flatten=flatten, context=context)
    use_batch_mean(model, context.batch_mean)  # Hebbian increments: means over the global batch
    result = fit(
        run,
        train_step=steps.train_step,
        train_loader=train_loader,
        epochs=settings.epochs,
        seed=args.seed,
        state={"model": model, **optimizers},
        schedulers=schedulers,
        eval_step=steps.eval_step,
        eval_loaders={"test": test_loader},
        best=BestMetric("test", "accuracy"),
        resume=bool(args.resume),
        progress=not args.no_progress and context.is_main,
    )
    use_batch_mean(model)  # the sweeps run on whole batches in every process
    final = {
        "test_accuracy": result.metrics.get("test", {}).get("accuracy"),
        "train_loss": result.metrics.get("train", {}).get("loss"),
        "best_test_accuracy": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
    }
    if context.enabled:
        final["processes"] = context.world_size
    sweeps = sweeps_for(settings.task, args, settings.image_size)
    final.update(run_sweeps(run, model, test_loader, sweeps, device, args, flatten))
    return run.finish(
        final,
        samples=_epoch_samples(train_loader) * result.epochs,  # every epoch of the run, resumed or not
        dataset=settings.dataset,
        engine="torch",
        device=str(device),
        method=settings.method.name,
        **user_data(settings),
    )


def test(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    """Test the checkpoint's network (learning frozen), then run the task's corruption sweeps."""
    stored, model = network_from_checkpoint(checkpoint, device)
    settings = replace(
        stored,
        test_subset=test_subset_of(args),
        batch_size=args.batch_size or stored.batch_size,
    )
    check_test_data(settings, args.data_root, str(args.checkpoint))
    loader = image_batches(settings, args.data_root, train=False)
    flatten = settings.task != "classification"
    steps = ClassifierSteps(model, {}, device, flatten=flatten)
    metrics = evaluate(steps.eval_step, loader, modules=[model], progress=not args.no_progress)
    run.log_metrics(step=0, split="test", **metrics)
    final = {"test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"]}
    sweeps = sweeps_for(settings.task, args, settings.image_size)
    final.update(run_sweeps(run, model, loader, sweeps, device, args, flatten))
    return run.finish(
        final,
        samples=len(loader.labels),
        dataset=settings.dataset,
        engine="torch",
        device=str(device),
        method=settings.method.name,
        checkpoint=str(args.checkpoint),
        **user_data(settings),
    )


def predict_images(args: argparse.Namespace, settings: HPSettings) -> Tensor:
    """The ``--input`` images as the network's input ``[N, C, H, W]`` (pixels prepared as in training)."""
    if settings.task not in IMAGE_TASKS:
        raise UserError(
            f"predict classifies single images; task {settings.task} needs episodes/tasks, use test"
        )
    if settings.data is not None:
        shape = settings.data.chw
    else:
        shape = (3, 32, 32) if settings.dataset == "cifar10" else (1, 28, 28)
    return pixel_tensors(read_image_file(args.input, shape), settings.dataset)
