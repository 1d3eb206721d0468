"""Driver of ``hybridsnn <command> hp``: hybrid global-local plasticity SNNs (Wu et al. 2022; docs/hp.md).

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

The parts: flags (:mod:`~hybridsnn.hp.flags`), methods (:mod:`~hybridsnn.hp.methods`), settings
(:mod:`~hybridsnn.hp.settings`), checks (:mod:`~hybridsnn.hp.validation`), the per-task loops
(:mod:`~hybridsnn.hp.image_run`, :mod:`~hybridsnn.hp.multitask_run`, :mod:`~hybridsnn.hp.fewshot_run`) and
the figures (:mod:`~hybridsnn.hp.figures`).
"""

from __future__ import annotations

import argparse
from types import ModuleType

import torch

from hybridsnn.hp import fewshot_run, image_run, multitask_run
from hybridsnn.hp.checkpoints import load_matching_checkpoint, network_from_checkpoint
from hybridsnn.hp.figures import plot
from hybridsnn.hp.flags import add_arguments
from hybridsnn.hp.settings import settings_from
from hybridsnn.hp.validation import validate
from hybridsnn.results import Run
from hybridsnn.runtime import configure_threads, seed_everything, select_device

__all__ = ["add_arguments", "plot", "predict", "test", "train", "validate"]


def _task_run(task: str) -> ModuleType:
    """The module with the ``train``/``test`` loops of ``task``."""
    return {"multitask": multitask_run, "fewshot": fewshot_run}.get(task, image_run)


def _device(args: argparse.Namespace) -> torch.device:
    configure_threads(args.threads)
    return select_device(args.device)


def train(args: argparse.Namespace, run: Run) -> dict:
    """Train the task's network (``--method``), then run the task's sweeps / evaluations."""
    device = _device(args)
    seed_everything(args.seed, deterministic=True)
    settings = settings_from(args)  # checked (with --resume's task) by validate
    run.config.update(settings.to_config())
    return _task_run(args.task).train(args, run, settings, device)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Evaluate ``--checkpoint`` (of the same ``--task``, and ``--method`` if given) with learning frozen."""
    device = _device(args)
    seed_everything(args.seed, deterministic=True)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    return _task_run(args.task).test(args, run, checkpoint, device)


def predict(args: argparse.Namespace, run: Run) -> dict:
    """Classify the 28×28 / 32×32 images in ``--input`` (a user-data network: images of its size) with an
    image-task checkpoint."""
    device = _device(args)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    settings, model = network_from_checkpoint(checkpoint, device)
    images = image_run.predict_images(args, settings)
    model.eval()
    with torch.no_grad():
        inputs = images if settings.task == "classification" else images.flatten(1)
        scores = model(inputs.to(device))
    predicted = scores.argmax(dim=1).cpu().numpy()
    for index, label in enumerate(predicted):
        print(f"{index}\t{label}")
    return run.finish(
        {"samples": len(predicted), "predictions": predicted.tolist()},
        samples=len(predicted),
        dataset=settings.dataset,
        engine="torch",
        device=str(device),
        **image_run.user_data(settings),
    )
