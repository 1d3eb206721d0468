"""``hybridsnn train|test hebbian --task concentration``: the memory card game trained with PPO.

Training runs ``epochs × iterations`` PPO updates (each: ``--num-steps`` steps in each of ``--num-envs``
games, then ``--ppo-epochs`` passes over ``--ppo-batches`` minibatches of games), checkpoints after every
epoch and plays ``--val-size`` greedy validation games (the best checkpoint has the fewest flips). At the
end the best agent plays ``--test-size`` greedy test games; the same test games are played by three
reference players (uniform random, random face-down card without memory, perfect memory), written to
``<run>/baselines.json``. ``--resume RUN_DIR`` continues a run, its games included, exactly.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from hybridsnn import plots
from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import Checkpoint
from hybridsnn.errors import UserError
from hybridsnn.hebbian.concentration.agents import (
    FaceDownRandomAgent,
    PerfectMemoryAgent,
    PolicyAgent,
    UniformRandomAgent,
    play,
)
from hybridsnn.hebbian.concentration.game import ConcentrationConfig, ConcentrationGames
from hybridsnn.hebbian.concentration.policy import HebbianActorCritic, PolicyConfig
from hybridsnn.hebbian.concentration.ppo import PPOConfig
from hybridsnn.hebbian.concentration.settings import ConcentrationSettings
from hybridsnn.hebbian.concentration.training import ConcentrationTrainer
from hybridsnn.hebbian.networks import compile_store_step
from hybridsnn.hebbian.settings import (
    add_model_names,
    checkpoint_settings,
    layered_settings,
    load_task_checkpoint,
    refuse_other_networks,
)
from hybridsnn.results import Run, read_json_file
from hybridsnn.runtime import configure_threads, seed_everything
from hybridsnn.runtime import select_device as _select_device
from hybridsnn.spiking import BestMetric, fit, restore_state

TASK = "concentration"
BASELINES_FILE = "baselines.json"
BASELINES = {
    "random": UniformRandomAgent,
    "memoryless": FaceDownRandomAgent,
    "perfect_memory": PerfectMemoryAgent,
}
#: The seed's ``reinforcement_learning_task.py`` defaults; 1563 epochs × 100 updates × 64 games × 10 steps
#: ≈ its ``--num_env_steps 100e6``.
DEFAULTS = {
    "num_cells": 4,
    "card_shape": 10,
    "match_reward": 25.0,
    "flip_penalty": -0.5,
    "deck_seed": 42,
    "env_seed": 42,
    "num_envs": 64,
    "num_steps": 10,
    "embedding_size": 80,
    "memory_size": 100,
    "thr": 0.1,
    "readout_delay": 1,
    "gamma_pos": 0.3,
    "gamma_neg": 0.3,
    "learning_rate": 3e-4,
    "adam_eps": 1e-5,
    "max_grad_norm": 0.5,
    "ppo_epochs": 4,
    "ppo_batches": 16,
    "ppo_clip_param": 0.2,
    "value_coefficient": 0.1,
    "entropy_coefficient": 0.01,
    "discount_factor": 0.99,
    "gae_lambda": 1.0,
    "epochs": 1563,
    "iterations": 100,
    "val_size": 256,
    "test_size": 1000,
    "max_flips": 100,
}
#: ``--quick``: time-compressed SNN (20 ms per observation, τ 5 ms, γ± 1.2) read out over all 20 ms,
#: E = M = 32; 8 × 9 = 72 PPO updates of 64 games × 5 steps, 2 Adam steps of lr 1e-2 (decaying) each
#: (≈ 70 CPU-s; seed 0: sampled 11.6 flips per game, greedy 8.3, random 15.6 — the rules are learnt, the
#: memory not yet; seeds 1 and 3 do not learn in this budget, no variant within 2 min did on every seed;
#: ``--epochs 24``: greedy 5.96 for seed 0; docs/hebbian.md, «Concentration task»).
QUICK = {
    "embedding_size": 32,
    "memory_size": 32,
    "num_time_steps": 20,
    "tau_mem": 5.0,
    "tau_trace": 5.0,
    "readout_window": 20,
    "gamma_pos": 1.2,
    "gamma_neg": 1.2,
    "num_envs": 64,
    "num_steps": 5,
    "learning_rate": 1e-2,
    "ppo_epochs": 2,
    "ppo_batches": 1,
    "gae_lambda": 0.95,
    "epochs": 8,
    "iterations": 9,
    "val_size": 64,
    "test_size": 512,
    "max_flips": 40,
}


def resolve_settings(args: argparse.Namespace) -> ConcentrationSettings:
    """Flags, then ``--quick`` values for unset flags, then the seed's reinforcement-learning defaults."""
    values = layered_settings(args, QUICK if args.quick else {}, DEFAULTS)
    refuse_other_networks(values, "concentration")
    if values.get("batch_size") is not None:
        raise UserError(
            "--batch-size does not apply to the concentration task; use --num-envs (games in parallel)"
        )
    if values["ppo_batches"] > values["num_envs"]:
        raise UserError(
            f"--ppo-batches {values['ppo_batches']} must not exceed --num-envs {values['num_envs']}"
        )
    settings = ConcentrationSettings.from_config(add_model_names(values))
    game = game_config(settings)
    PolicyConfig.from_mapping({**settings, "observation_size": game.observation_size,
                               "num_actions": game.num_cells}).check()  # fmt: skip
    ppo_config(settings)
    return settings


def check(args: argparse.Namespace, command: str) -> ConcentrationSettings:
    """The settings of ``train`` (and that ``--checkpoint`` fits them) or of the ``test`` checkpoint."""
    if command == "train":
        settings = resolve_settings(args)
        if args.checkpoint:
            restore_state(_load(args.checkpoint), {"model": build_policy(settings, game_config(settings))})
        return settings
    return _checkpoint_policy(_load(args.checkpoint))[0]


def _checkpoint_policy(
    checkpoint: Checkpoint,
) -> tuple[ConcentrationSettings, ConcentrationConfig, HebbianActorCritic]:
    settings = checkpoint_settings(checkpoint, resolve_settings)
    game = game_config(settings)
    policy = build_policy(settings, game)
    restore_state(checkpoint, {"model": policy})
    return settings, game, policy


def game_config(settings: ConcentrationSettings) -> ConcentrationConfig:
    """The game's rules from the settings."""
    return ConcentrationConfig(
        num_cells=settings.num_cells,
        card_shape=settings.card_shape,
        match_reward=settings.match_reward,
        flip_penalty=settings.flip_penalty,
        resample_cards=bool(settings.resample_cards),
        deck_seed=settings.deck_seed,
    )


def build_policy(settings: ConcentrationSettings, game: ConcentrationConfig) -> HebbianActorCritic:
    """The Hebbian-memory actor-critic for ``game``."""
    sizes = {"observation_size": game.observation_size, "num_actions": game.num_cells}
    return HebbianActorCritic(PolicyConfig.from_mapping({**settings, **sizes}))


def ppo_config(settings: ConcentrationSettings) -> PPOConfig:
    """PPO hyper-parameters from the seed's flag names."""
    return PPOConfig(
        clip=settings.ppo_clip_param,
        epochs=settings.ppo_epochs,
        minibatches=settings.ppo_batches,
        value_coefficient=settings.value_coefficient,
        entropy_coefficient=settings.entropy_coefficient,
        max_grad_norm=settings.max_grad_norm,
        discount=settings.discount_factor,
        gae_lambda=settings.gae_lambda,
    )


def baseline_stats(game: ConcentrationConfig, games: int, seed: int, max_flips: int) -> dict[str, float]:
    """Mean flips, finished fraction and return of the reference players on the test games."""
    stats: dict[str, float] = {}
    for name, player in BASELINES.items():
        stats.update(play(game, player(game, seed), games, seed, max_flips).to_dict(f"{name}_"))
    return stats


def _test_games(policy: HebbianActorCritic, game: ConcentrationConfig, settings: ConcentrationSettings
                ) -> dict:  # fmt: skip
    """Greedy (``flips`` …; the seed's evaluation) and sampled (``sampled_flips`` …) test games."""
    size, seed, limit = settings.test_size, settings.env_seed + 1, settings.max_flips
    policy.eval()
    greedy = play(game, PolicyAgent(policy, size, greedy=True), size, seed, limit).to_dict()
    sampled = play(game, PolicyAgent(policy, size, greedy=False, seed=seed), size, seed, limit)
    return greedy | sampled.to_dict("sampled_")


def _final(test: dict[str, float], baselines: dict[str, float]) -> dict[str, float]:
    return {f"test_{key}": value for key, value in test.items() if not key.endswith("games")} | {
        key: value for key, value in baselines.items() if not key.endswith("_games")
    }


def train(args: argparse.Namespace, run: Run) -> dict:
    """PPO training with per-epoch validation games, then test games of the best agent and the baselines."""
    settings = resolve_settings(args)
    configure_threads(args.threads)
    device = _select_device(args.device)
    progress = not args.no_progress
    game = game_config(settings)
    seed_everything(args.seed)
    policy = build_policy(settings, game)
    if args.checkpoint:
        restore_state(_load(args.checkpoint), {"model": policy})
    policy.to(device)
    if settings.compile:
        compile_store_step(policy.core)
    optimizer = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate, eps=settings.adam_eps)
    updates = settings.epochs * settings.iterations
    scheduler = (
        None
        if settings.constant_lr
        else torch.optim.lr_scheduler.LambdaLR(optimizer, lambda update: 1.0 - update / updates)
    )
    trainer = ConcentrationTrainer(
        policy,
        ConcentrationGames(game, settings.num_envs, settings.env_seed),
        optimizer,
        ppo_config(settings),
        rollout_steps=settings.num_steps,
        scheduler=scheduler,
        eval_games=settings.val_size,
        eval_seed=settings.env_seed + 2,
        max_flips=settings.max_flips,
    )
    baselines = baseline_stats(game, settings.test_size, settings.env_seed + 1, settings.max_flips)
    write_json(run.path / BASELINES_FILE, baselines)
    state: dict[str, Any] = {"model": policy, "optim": optimizer, "games": trainer}
    if scheduler is not None:
        state["lr"] = scheduler
    result = fit(
        run,
        train_step=trainer.train_step,
        train_loader=range(settings.iterations),
        epochs=settings.epochs,
        seed=args.seed,
        state=state,
        eval_step=trainer.eval_step,
        eval_loaders={"val": [0]},
        best=BestMetric("val", "flips", mode="min"),
        resume=bool(args.resume),
        progress=progress,
    )
    restore_state(run.load_checkpoint("best"), {"model": policy})
    test = _test_games(policy, game, settings)
    run.log_metrics(step=0, split="test", **test)
    env_steps = result.epochs * settings.iterations * settings.num_envs * settings.num_steps
    final = {
        **_final(test, baselines),
        "best_val_flips": result.best_value,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "env_steps": env_steps,
    }
    return run.finish(
        final,
        samples=env_steps,
        dataset=f"Concentration (synthetic, {game.num_cells} cells)",
        engine="torch",
        device=str(device),
    )


def _load(path: str) -> Checkpoint:
    return load_task_checkpoint(path, TASK)


def test(args: argparse.Namespace, run: Run) -> dict:
    """Greedy test games of ``--checkpoint`` (``--test-size`` games) next to the reference players."""
    settings, game, policy = _checkpoint_policy(_load(args.checkpoint))
    if args.test_size is not None:
        settings = settings.replace(test_size=args.test_size)
    configure_threads(args.threads)
    device = _select_device(args.device)
    test_stats = _test_games(policy.to(device), game, settings)
    baselines = baseline_stats(game, settings.test_size, settings.env_seed + 1, settings.max_flips)
    run.log_metrics(step=0, split="test", **test_stats)
    return run.finish(
        _final(test_stats, baselines),
        samples=settings.test_size,
        dataset=f"Concentration (synthetic, {game.num_cells} cells)",
        engine="torch",
        device=str(device),
        checkpoint=str(args.checkpoint),
    )


def plot(run_dir: Path, out: Path, records: list[dict[str, Any]]) -> list[Path]:
    """``flips.png``: mean flips per game by epoch — greedy validation games and the sampled training
    games — with the reference players' levels; ``return.png`` likewise for the episode return."""
    baselines_path = run_dir / BASELINES_FILE
    baselines = read_json_file(baselines_path, "baselines file") if baselines_path.is_file() else {}
    val = [r for r in records if r.get("split") == "val" and r.get("epoch") is not None]
    if not val:
        raise UserError(f"run directory {str(run_dir)!r} has no concentration validation records to plot")
    epochs = [r["epoch"] for r in val]
    written = []
    for metric, label in (("flips", "flips per game"), ("episode_return", "return per game")):
        rollout_key = "rollout_flips" if metric == "flips" else "rollout_return"
        series = {
            "validation (greedy)": [r.get(metric, math.nan) for r in val],
            "training games (sampled)": [r.get(rollout_key, math.nan) for r in val],
        }
        for name in BASELINES:
            if isinstance(baselines.get(f"{name}_{metric}"), (int, float)):
                series[name.replace("_", " ")] = [baselines[f"{name}_{metric}"]] * len(val)
        written.append(
            plots.line_curves(
                epochs,
                series,
                out / f"{metric}.png",
                xlabel="epoch",
                ylabel=label,
                title=f"concentration: {label}",
            )
        )
    return written
