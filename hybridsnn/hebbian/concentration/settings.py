"""Typed, frozen settings of the concentration task (built by :func:`.run.resolve_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsnn.hebbian.settings import MemorySettings


@dataclass(frozen=True)
class ConcentrationSettings(MemorySettings):
    """The shared memory-network settings plus the game's rules, the environments and PPO."""

    num_cells: int
    card_shape: int
    match_reward: float
    flip_penalty: float
    resample_cards: bool
    deck_seed: int
    env_seed: int
    num_envs: int
    num_steps: int
    max_flips: int
    adam_eps: float
    constant_lr: bool
    ppo_epochs: int
    ppo_batches: int
    ppo_clip_param: float
    value_coefficient: float
    entropy_coefficient: float
    discount_factor: float
    gae_lambda: float
