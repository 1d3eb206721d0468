"""The concentration task's training flags (the seed's names with dashes), added to
``hybridsnn train hebbian`` by :mod:`hybridsnn.hebbian.flags`."""

from __future__ import annotations

from typing import Any

from hybridsnn.checks import values

#: Destinations of the flags below (read by this task only).
FLAGS = (
    "num_cells", "card_shape", "match_reward", "flip_penalty", "resample_cards", "deck_seed", "env_seed",
    "num_envs", "num_steps", "ppo_epochs", "ppo_batches", "ppo_clip_param", "value_coefficient",
    "entropy_coefficient", "discount_factor", "gae_lambda", "adam_eps", "constant_lr", "max_flips",
)  # fmt: skip


def add_arguments(add: Any) -> None:
    """The task's training flags (the seed's names with dashes); ``add`` is ``parser.add_argument``."""
    add(
        "--num-cells",
        type=values.integer(2),
        default=None,
        metavar="N",
        help="concentration: cells of the grid, >= 2 (default 4; paper 4, 6)",
    )
    add(
        "--card-shape",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: values per card image, >= 1 (default 10)",
    )
    add(
        "--match-reward",
        type=values.finite,
        default=None,
        help="concentration: reward of a pair (default 25)",
    )
    add(
        "--flip-penalty",
        type=values.finite,
        default=None,
        help="concentration: reward per flip (default -0.5)",
    )
    add("--resample-cards", action="store_true", help="concentration: a new deck for every game")
    add(
        "--deck-seed",
        type=values.seed,
        default=None,
        help="concentration: seed of the fixed deck, 0..2**32-1 (default 42)",
    )
    add(
        "--env-seed",
        type=values.seed,
        default=None,
        help="concentration: seed of the game layouts, 0..2**32-1 (default 42)",
    )
    add(
        "--num-envs",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: games played in parallel, >= 1 (default 64)",
    )
    add(
        "--num-steps",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: steps per game and update, >= 1 (default 10)",
    )
    add(
        "--ppo-epochs",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: passes over a rollout, >= 1 (default 4)",
    )
    add(
        "--ppo-batches",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: minibatches of games, 1..--num-envs (default 16)",
    )
    add(
        "--ppo-clip-param",
        type=values.positive,
        default=None,
        help="concentration: PPO clip, > 0 (default 0.2)",
    )
    add(
        "--value-coefficient",
        type=values.non_negative,
        default=None,
        help="concentration: value-loss weight, >= 0 (default 0.1)",
    )
    add(
        "--entropy-coefficient",
        type=values.non_negative,
        default=None,
        help="concentration: entropy weight, >= 0 (default 0.01)",
    )
    add(
        "--discount-factor",
        type=values.probability,
        default=None,
        help="concentration: discount γ, in [0, 1] (default 0.99)",
    )
    add(
        "--gae-lambda",
        type=values.probability,
        default=None,
        help="concentration: GAE λ, in [0, 1] (default 1 = the seed's returns)",
    )
    add(
        "--adam-eps",
        type=values.positive,
        default=None,
        help="concentration: Adam epsilon, > 0 (default 1e-5)",
    )
    add("--constant-lr", action="store_true", help="concentration: no linear learning-rate decay")
    add(
        "--max-flips",
        type=values.count,
        default=None,
        metavar="N",
        help="concentration: flips before an evaluation game stops, >= 1 (default 100)",
    )
