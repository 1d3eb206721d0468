"""``--task fewshot``: Omniglot N-way K-shot meta-training (docs/hp.md, «Tasks»), tested every ``eval_every``
iterations on fresh episodes of the held-out characters; checkpoints ``last`` and ``best``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.hp.checkpoints import network_from_checkpoint
from hybridsnn.hp.fewshot import (
    EpisodeSampler,
    FewShotConfig,
    FewShotNet,
    MetaTrainer,
    evaluate_episodes,
    omniglot_characters,
    split_characters,
)
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import FewShotSettings, HPSettings
from hybridsnn.results import Run
from hybridsnn.spiking import checkpoint_payload


def _samplers(
    part: FewShotSettings, root: str | None, seed: int, config: FewShotConfig
) -> tuple[EpisodeSampler, EpisodeSampler]:
    """Episode samplers of the training and the test characters (split and drawn from ``seed``)."""
    train_chars, test_chars = split_characters(omniglot_characters(root, part.omniglot_sets), seed)
    return (
        EpisodeSampler(train_chars, config, seed=seed + 1, flip=True),
        EpisodeSampler(test_chars, config, seed=seed + 2, flip=False),
    )


def train(args: argparse.Namespace, run: Run, settings: HPSettings, device: torch.device) -> dict:
    """Meta-train for ``iterations``; test (and checkpoint) every ``eval_every`` and at the end."""
    model = build_network(settings).to(device)
    assert isinstance(model, FewShotNet)
    part = settings.fewshot
    trainer = MetaTrainer(model)
    train_sampler, test_sampler = _samplers(part, args.data_root, args.seed, model.config)
    best, history, means = None, [], {}
    for iteration in range(1, part.iterations + 1):
        for key, value in trainer.iteration(train_sampler).items():
            means.setdefault(key, []).append(value)
        if iteration % part.eval_every == 0 or iteration == part.iterations:
            accuracy = evaluate_episodes(model, test_sampler, part.test_episodes)
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
        "iterations": part.iterations,
        "chance": 1.0 / part.ways,
    }
    return run.finish(
        final,
        samples=part.iterations,
        dataset=f"omniglot-{part.omniglot_sets}",
        engine="torch",
        device=str(device),
        method=settings.method.name,
    )


def test(args: argparse.Namespace, run: Run, checkpoint: Checkpoint, device: torch.device) -> dict:
    """Accuracy of the checkpoint's network on ``--test-episodes`` episodes of the test characters (the
    split of the training run's seed)."""
    settings, model = network_from_checkpoint(checkpoint, device)
    assert isinstance(model, FewShotNet)
    part = settings.fewshot
    _, test_sampler = _samplers(part, args.data_root, checkpoint.config["seed"], model.config)
    accuracy = evaluate_episodes(model, test_sampler, args.test_episodes)
    run.log_metrics(step=0, split="test", accuracy=accuracy)
    return run.finish(
        {"test_accuracy": accuracy, "episodes": args.test_episodes},
        samples=args.test_episodes,
        dataset=f"omniglot-{part.omniglot_sets}",
        engine="torch",
        device=str(device),
        method=settings.method.name,
    )
