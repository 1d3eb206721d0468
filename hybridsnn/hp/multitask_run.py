"""``--task multitask``: permuted-MNIST tasks learned in turn (docs/hp.md, «Tasks»), each for ``epochs``,
followed by the replay meta phase (hp, the first ``meta_tasks`` tasks) or the EWC consolidation (ewc); after
each task the average test accuracy over the tasks seen so far (split ``tasks`` of ``metrics.jsonl``).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.hp.checkpoints import multitask_tasks, network_from_checkpoint
from hybridsnn.hp.data import TensorBatches, image_tensors
from hybridsnn.hp.layer import split_parameters
from hybridsnn.hp.multitask import EWCPenalty, MultitaskNet, task_permutation
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import HPSettings, test_subset_of
from hybridsnn.hp.training import one_hot_mse
from hybridsnn.results import Run
from hybridsnn.runtime import seed_everything
from hybridsnn.spiking import checkpoint_payload, count_correct

#: Test images per forward when the tasks' accuracies are measured.
TEST_BATCH = 1000


def _permuted(images: Tensor, task: int) -> Tensor:
    return images[:, torch.from_numpy(task_permutation(task))]


def multitask_accuracies(
    model: MultitaskNet, images: Tensor, labels: Tensor, tasks: int, batch: int, device: torch.device
) -> list[float]:
    """Test accuracy (fraction correct) of every task ``0..tasks-1`` (each with its permutation and mask)."""
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


def train(args: argparse.Namespace, run: Run, settings: HPSettings, device: torch.device) -> dict:
    """Learn the tasks in turn; checkpoint ``last`` after each task."""
    model = build_network(settings).to(device)
    assert isinstance(model, MultitaskNet)
    part = settings.multitask
    train_x, train_y = image_tensors(settings.dataset, "train", args.data_root, settings.train_subset)
    test_x, test_y = image_tensors(settings.dataset, "test", args.data_root, settings.test_subset)
    train_x, test_x = train_x.flatten(1), test_x.flatten(1)
    weights, local = split_parameters(model)
    optim_w = torch.optim.Adam(weights, lr=settings.lr)
    optim_local = torch.optim.Adam(local, lr=settings.local_lr) if local else None
    ewc = EWCPenalty(part.ewc_lambda) if settings.method.ewc else None
    state: dict[str, Any] = {"model": model, "optim_w": optim_w}
    if optim_local is not None:
        state["optim_local"] = optim_local
    batch, step, averages = settings.batch_size, 0, []
    loader = TensorBatches(train_x, train_y, batch, shuffle=True)
    for task in range(part.tasks):
        perm = torch.from_numpy(task_permutation(task))
        for epoch in range(settings.epochs):
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
                epoch=task + (epoch + 1) / settings.epochs,
                task=task,
                loss=float(np.mean(losses)),
            )
        if optim_local is not None and task < part.meta_tasks:
            _meta_phase(model, optim_local, loader, task, device)
        if ewc is not None:
            ewc.consolidate(model, [images[:, perm].to(device) for images, _ in loader], task)
        accuracies = multitask_accuracies(model, test_x, test_y, task + 1, TEST_BATCH, device)
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
    final = {"average_accuracy": averages[-1], "tasks": part.tasks, "averages": averages}
    return run.finish(
        final,
        samples=len(train_y) * settings.epochs * part.tasks,
        dataset=f"permuted-{settings.dataset}",
        engine="torch",
        device=str(device),
        method=settings.method.name,
    )


def test(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    """The test accuracy of every task the checkpoint has learned, and their average."""
    settings, model = network_from_checkpoint(checkpoint, device)
    assert isinstance(model, MultitaskNet)
    tasks = multitask_tasks(checkpoint)
    test_x, test_y = image_tensors(settings.dataset, "test", args.data_root, test_subset_of(args))
    accuracies = multitask_accuracies(model, test_x.flatten(1), test_y, tasks, TEST_BATCH, device)
    for task, acc in enumerate(accuracies):
        run.log_metrics(step=task, split="test", task=task + 1, accuracy=acc)
    return run.finish(
        {"average_accuracy": float(np.mean(accuracies)), "tasks": tasks},
        samples=len(test_y) * tasks,
        dataset=f"permuted-{settings.dataset}",
        engine="torch",
        device=str(device),
        method=settings.method.name,
    )
