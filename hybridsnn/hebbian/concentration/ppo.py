"""Proximal policy optimisation for a recurrent policy (seed ``agents/ppo.py``, docs/hebbian.md,
«Concentration task»).

* :func:`gae` — generalised advantage estimates and returns; ``λ = 1`` gives the seed's plain discounted
  returns bootstrapped with the value of the state after the rollout (``advantage = return − value``).
* :func:`ppo_loss` — clipped surrogate objective, clipped value loss (both with the clip parameter),
  entropy bonus: ``value_coefficient·L_value + L_policy − entropy_coefficient·H``.
* :class:`Rollout` — one rollout of T steps from B environments (the storage) and its minibatches of
  environments: each minibatch replays whole sequences from the state at the start of the rollout, so
  gradients flow through the recurrent (memory) state over all T steps, as in the seed.
* :func:`ppo_update` — several epochs over the minibatches with Adam and gradient-norm clipping.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hebbian.concentration.policy import map_state


@dataclass(frozen=True)
class PPOConfig:
    """The seed's PPO hyper-parameters (``--ppo_clip_param 0.2 --ppo_epochs 4 --ppo_batches 16
    --value_coefficient 0.1 --entropy_coefficient 0.01 --max_grad_norm 0.5 --discount_factor 0.99``)."""

    clip: float = 0.2
    epochs: int = 4
    minibatches: int = 16
    value_coefficient: float = 0.1
    entropy_coefficient: float = 0.01
    max_grad_norm: float = 0.5
    discount: float = 0.99
    gae_lambda: float = 1.0
    clip_value_loss: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "minibatches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"PPO {name} must be an integer >= 1, got {value!r}")
        for name, low, high in (("clip", 0.0, None), ("discount", 0.0, 1.0), ("gae_lambda", 0.0, 1.0)):
            value = getattr(self, name)
            if not low <= value or (high is not None and value > high) or (name == "clip" and value == 0):
                bounds = f"in [{low}, {high}]" if high is not None else f"> {low}"
                raise UserError(f"PPO {name} must be {bounds}, got {value!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The configuration's field names."""
        return tuple(f.name for f in fields(cls))


def gae(
    rewards: Tensor, values: Tensor, next_value: Tensor, ends: Tensor, discount: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Advantages and returns [T, B] of ``rewards``/``values`` [T, B]; ``ends`` [T, B] marks the steps that
    ended an episode (no bootstrapping across them); ``next_value`` [B] is the value after the last step.

    ``δ_t = r_t + γ·V_{t+1}·(1 − end_t) − V_t``, ``A_t = δ_t + γλ·(1 − end_t)·A_{t+1}``, ``R_t = A_t + V_t``.
    """
    if not rewards.shape == values.shape == ends.shape or next_value.shape != rewards.shape[1:]:
        raise UserError(
            f"gae needs rewards, values, ends [T, B] and next_value [B], got {tuple(rewards.shape)}, "
            f"{tuple(values.shape)}, {tuple(ends.shape)}, {tuple(next_value.shape)}"
        )
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    following = next_value
    for t in reversed(range(rewards.shape[0])):
        going_on = 1.0 - ends[t].to(rewards.dtype)
        delta = rewards[t] + discount * following * going_on - values[t]
        running = delta + discount * lam * going_on * running
        advantages[t] = running
        following = values[t]
    return advantages, advantages + values


class PPOLoss(NamedTuple):
    """The objective to minimise and its parts (0-dim tensors)."""

    total: Tensor
    policy: Tensor
    value: Tensor
    entropy: Tensor


def ppo_loss(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    entropy: Tensor,
    config: PPOConfig,
) -> PPOLoss:
    """Clipped PPO objective over all elements of the (equally shaped) inputs."""
    ratio = torch.exp(log_probs - old_log_probs)
    clipped_ratio = ratio.clamp(1.0 - config.clip, 1.0 + config.clip)
    policy = -torch.min(ratio * advantages, clipped_ratio * advantages).mean()
    value_error = (values - returns) ** 2
    if config.clip_value_loss:
        clipped_values = old_values + (values - old_values).clamp(-config.clip, config.clip)
        value_error = torch.max(value_error, (clipped_values - returns) ** 2)
    value = 0.5 * value_error.mean()
    mean_entropy = entropy.mean()
    total = config.value_coefficient * value + policy - config.entropy_coefficient * mean_entropy
    return PPOLoss(total, policy, value, mean_entropy)


class RecurrentPolicy(Protocol):
    """A policy that can replay a rollout from its first recurrent state."""

    def parameters(self) -> Any: ...

    def evaluate_actions(
        self, observations: Tensor, state: Any, new_game: Tensor, actions: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]: ...


class Rollout(NamedTuple):
    """T steps of B environments: observations [T, B, obs], new-episode flags [T, B] (the observation starts
    an episode), actions, their log-probabilities, values, rewards and episode ends [T, B], the policy's
    recurrent state before the first step (detached) and the value after the last step [B]."""

    observations: Tensor
    new_game: Tensor
    actions: Tensor
    log_probs: Tensor
    values: Tensor
    rewards: Tensor
    ends: Tensor
    start_state: Any
    next_value: Tensor

    def select(self, envs: Tensor) -> Rollout:
        """The rollout of the environments ``envs`` (indices) only."""
        per_step = [tensor[:, envs] for tensor in self[:7]]
        return Rollout(*per_step, map_state(lambda t: t[envs], self.start_state), self.next_value[envs])


def ppo_update(
    policy: RecurrentPolicy,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    config: PPOConfig,
) -> dict[str, float]:
    """``config.epochs`` passes over ``config.minibatches`` random minibatches of environments; returns the
    mean loss parts and the fraction of clipped ratios."""
    batch = rollout.actions.shape[1]
    if config.minibatches > batch:
        raise UserError(
            f"PPO needs at least as many environments ({batch}) as minibatches ({config.minibatches})"
        )
    advantages, returns = gae(
        rollout.rewards, rollout.values, rollout.next_value, rollout.ends, config.discount, config.gae_lambda
    )
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-5)
    totals = {"loss": 0.0, "policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
    updates = 0
    for _ in range(config.epochs):
        for envs in torch.randperm(batch).chunk(config.minibatches):
            part = rollout.select(envs)
            log_probs, values, entropy = policy.evaluate_actions(
                part.observations, part.start_state, part.new_game, part.actions
            )
            loss = ppo_loss(
                log_probs,
                part.log_probs,
                advantages[:, envs],
                values,
                part.values,
                returns[:, envs],
                entropy,
                config,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            if config.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
            clipped = ((log_probs - part.log_probs).exp() - 1.0).abs() > config.clip
            for name, value in zip(totals, (*loss, clipped.float().mean()), strict=True):
                totals[name] += float(value.detach())
            updates += 1
    return {name: value / updates for name, value in totals.items()}
