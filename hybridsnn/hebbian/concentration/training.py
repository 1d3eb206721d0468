"""PPO training of the Hebbian-memory agent on Concentration games, as ``train_step``/``eval_step`` for
:func:`hybridsnn.spiking.fit` (one "batch" = one PPO update: a rollout of ``rollout_steps`` steps in every
game, then :func:`~hybridsnn.hebbian.concentration.ppo.ppo_update`).

:class:`ConcentrationTrainer` keeps the running games, the last observations and the agent's SNN state
from one update to the next and saves them in checkpoints, so a resumed run continues the same games.
Its ``eval_step`` plays fixed greedy games and also reports the games finished during training since the
last report (sampled actions: the seed's "Info/steps").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from hybridsnn.hebbian.concentration.agents import PolicyAgent, play
from hybridsnn.hebbian.concentration.game import ConcentrationGames
from hybridsnn.hebbian.concentration.policy import (
    HebbianActorCritic,
    MemoryState,
    state_from_dict,
    state_to_dict,
)
from hybridsnn.hebbian.concentration.ppo import PPOConfig, Rollout, ppo_update


class ConcentrationTrainer:
    """Rollouts in ``games`` with ``policy`` and PPO updates with ``optimizer`` (and a per-update
    ``scheduler``, e.g. the seed's linear learning-rate decay).

    ``eval_games`` greedy games with layouts from ``eval_seed`` are played by :meth:`eval_step`, each for at
    most ``max_flips`` flips.
    """

    def __init__(
        self,
        policy: HebbianActorCritic,
        games: ConcentrationGames,
        optimizer: torch.optim.Optimizer,
        ppo: PPOConfig,
        *,
        rollout_steps: int,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        eval_games: int = 256,
        eval_seed: int = 0,
        max_flips: int = 100,
    ) -> None:
        self.policy = policy
        self.games = games
        self.optimizer = optimizer
        self.ppo = ppo
        self.rollout_steps = rollout_steps
        self.scheduler = scheduler
        self.eval_games = eval_games
        self.eval_seed = eval_seed
        self.max_flips = max_flips
        self.device = policy.policy_head.weight.device
        self.observation = games.reset()
        self.new_game = torch.ones(games.num_games, dtype=torch.bool)
        self.memory: MemoryState = policy.initial_state(games.num_games)
        self.finished = torch.zeros(3, dtype=torch.float64)  # flips, return, games since the last report

    @torch.no_grad()
    def collect(self) -> Rollout:
        """Play ``rollout_steps`` sampled steps in every game, carrying the SNN state across updates."""
        start = self.memory
        steps: dict[str, list[Tensor]] = {k: [] for k in Rollout._fields[:7]}
        for _ in range(self.rollout_steps):
            observation, new_game = self.observation.to(self.device), self.new_game.to(self.device)
            logits, value, self.memory = self.policy(observation, self.memory, new_game)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            step = self.games.step(action.cpu())
            self.finished += torch.stack(
                [step.flips.sum(), step.episode_return.sum(), step.done.sum()]
            ).double()
            for name, tensor in zip(
                steps,
                (observation, new_game, action, dist.log_prob(action), value, step.reward, step.done),
                strict=True,
            ):
                steps[name].append(tensor.to(self.device))
            self.observation, self.new_game = step.observation, step.done
        next_value = self.policy(
            self.observation.to(self.device), self.memory, self.new_game.to(self.device)
        ).value
        return Rollout(*(torch.stack(v) for v in steps.values()), start, next_value)

    def train_step(self, batch: Any = None) -> dict[str, float]:
        """One rollout and PPO update; the loss parts, mean reward per flip and learning rate."""
        self.policy.train()
        rollout = self.collect()
        metrics = ppo_update(self.policy, self.optimizer, rollout, self.ppo)
        metrics["reward_per_flip"] = float(rollout.rewards.mean())
        metrics["learning_rate"] = float(self.optimizer.param_groups[0]["lr"])
        if self.scheduler is not None:
            self.scheduler.step()
        return metrics

    def eval_step(self, batch: Any = None) -> dict[str, float]:
        """Greedy play of the evaluation games (flips, finished, episode_return) and the sampled training
        games finished since the last call (rollout_flips, rollout_return, rollout_games)."""
        agent = PolicyAgent(self.policy, self.eval_games, greedy=True)
        stats = play(self.games.config, agent, self.eval_games, self.eval_seed, self.max_flips).to_dict()
        flips, returns, count = self.finished.tolist()
        self.finished.zero_()
        if count:
            stats.update(rollout_flips=flips / count, rollout_return=returns / count)
        return {**stats, "rollout_games": count}

    def state_dict(self) -> dict[str, Any]:
        """The running games, last observations, SNN state and the finished-games tally."""
        return {
            "games": self.games.state_dict(),
            "observation": self.observation.clone(),
            "new_game": self.new_game.clone(),
            "memory": state_to_dict(self.memory),
            "finished": self.finished.clone(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        self.games.load_state_dict(state["games"])
        self.observation = torch.as_tensor(state["observation"]).float()
        self.new_game = torch.as_tensor(state["new_game"]).bool()
        self.memory = state_from_dict(self.policy.initial_state(self.games.num_games), state["memory"])
        self.finished = torch.as_tensor(state["finished"]).double()
