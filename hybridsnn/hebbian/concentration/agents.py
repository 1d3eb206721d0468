"""Players of the Concentration game and the evaluation that lets them play.

An agent maps observations [B, obs] and new-game flags [B] (bool; the observation starts a new game, so
anything remembered about the old one must go) to cells to flip [B]. Reference players:

* :class:`UniformRandomAgent` — any cell, uniformly (the random-policy baseline);
* :class:`FaceDownRandomAgent` — a random face-down cell: the best an agent without memory can do
  (2 pairs: 8 flips on average);
* :class:`PerfectMemoryAgent` — remembers every card it has seen: flips a known pair, else the partner
  of the face-up card if known, else an unseen card (2 pairs: 16/3 ≈ 5.33 flips on average).

:class:`PolicyAgent` plays with the Hebbian-memory actor-critic (greedy, as the seed's evaluation, or
sampling). :func:`play` plays a fixed set of games and returns :class:`GameStats`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import torch
from torch import Tensor

from hybridsnn.errors import UserError
from hybridsnn.hebbian.concentration.game import (
    FACE_DOWN,
    FACE_UP,
    ConcentrationConfig,
    ConcentrationGames,
    split_observation,
)
from hybridsnn.hebbian.concentration.policy import HebbianActorCritic


class Agent(Protocol):
    """Chooses the cell to flip in each game."""

    def __call__(self, observation: Tensor, new_game: Tensor) -> Tensor: ...


def random_cells(allowed: Tensor, generator: torch.Generator) -> Tensor:
    """One cell per row drawn uniformly from the True entries of ``allowed`` [B, N] (any cell if none)."""
    weights = torch.where(allowed.any(dim=1, keepdim=True), allowed.float(), 1.0)
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


class UniformRandomAgent:
    """Flips any cell (empty, face up or face down) with equal probability."""

    def __init__(self, config: ConcentrationConfig, seed: int = 0) -> None:
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, observation: Tensor, new_game: Tensor) -> Tensor:
        return random_cells(
            torch.ones(observation.shape[0], self.config.num_cells, dtype=torch.bool), self.generator
        )


class FaceDownRandomAgent:
    """Flips a random face-down card: uses the visible cell states only, no memory."""

    def __init__(self, config: ConcentrationConfig, seed: int = 0) -> None:
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, observation: Tensor, new_game: Tensor) -> Tensor:
        cells = split_observation(observation, self.config).cells
        return random_cells(cells == FACE_DOWN, self.generator)


class PerfectMemoryAgent:
    """Remembers the image seen at every cell of the current game and plays greedily with it."""

    def __init__(self, config: ConcentrationConfig, seed: int = 0) -> None:
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        self.seen: Tensor | None = None
        self.known: Tensor | None = None

    def _remember(self, observation: Tensor, new_game: Tensor) -> tuple[Tensor, Tensor]:
        batch, n = observation.shape[0], self.config.num_cells
        if self.seen is None or self.known is None or self.seen.shape[0] != batch:
            self.seen = torch.zeros(batch, n, self.config.card_shape)
            self.known = torch.zeros(batch, n, dtype=torch.bool)
        self.known[new_game] = False
        parts = split_observation(observation, self.config)
        shown = parts.image.abs().sum(dim=1) > 0  # images are U[0, 1) vectors: never all zero
        rows = torch.arange(batch)[shown]
        self.seen[rows, parts.position[shown]] = parts.image[shown]
        self.known[rows, parts.position[shown]] = True
        return parts.cells, self.known

    def __call__(self, observation: Tensor, new_game: Tensor) -> Tensor:
        cells, known = self._remember(observation, new_game)
        assert self.seen is not None
        n = self.config.num_cells
        face_down = cells == FACE_DOWN
        same = (self.seen.unsqueeze(2) == self.seen.unsqueeze(1)).all(dim=3)
        same &= known.unsqueeze(2) & known.unsqueeze(1) & ~torch.eye(n, dtype=torch.bool)
        face_up = cells == FACE_UP
        up_cell = face_up.float().argmax(dim=1)
        partner = same[torch.arange(cells.shape[0]), up_cell] & face_down
        known_pair = (same & face_down.unsqueeze(2) & face_down.unsqueeze(1)).any(dim=2)
        preferred = torch.where(face_up.any(dim=1, keepdim=True), partner, known_pair)
        unseen = random_cells(face_down & ~known, self.generator)
        return torch.where(preferred.any(dim=1), preferred.float().argmax(dim=1), unseen)


class PolicyAgent:
    """Plays with a :class:`HebbianActorCritic`, carrying its SNN state: greedy actions (the seed's
    evaluation) or actions sampled from the policy with a generator seeded by ``seed``."""

    def __init__(self, policy: HebbianActorCritic, batch: int, *, greedy: bool = True, seed: int = 0) -> None:
        self.policy = policy
        self.greedy = greedy
        self.generator = torch.Generator().manual_seed(seed)
        self.state = policy.initial_state(batch)
        self.device = policy.policy_head.weight.device

    @torch.no_grad()
    def __call__(self, observation: Tensor, new_game: Tensor) -> Tensor:
        logits, _, self.state = self.policy(observation.to(self.device), self.state, new_game.to(self.device))
        if self.greedy:
            return logits.argmax(dim=-1).cpu()
        probabilities = torch.softmax(logits.float(), dim=-1).cpu()
        return torch.multinomial(probabilities, 1, generator=self.generator).squeeze(1)


@dataclass(frozen=True)
class GameStats:
    """Outcome of :func:`play`: mean flips per game (unfinished games count ``max_flips``), fraction of
    games finished, mean return (unfinished games: the return so far) and the number of games."""

    flips: float
    finished: float
    episode_return: float
    games: int

    def to_dict(self, prefix: str = "") -> dict[str, float]:
        """The stats as metrics, names prefixed by ``prefix``."""
        return {f"{prefix}{name}": float(value) for name, value in asdict(self).items()}


def play(
    config: ConcentrationConfig, agent: Agent, num_games: int, seed: int, max_flips: int = 100
) -> GameStats:
    """Let ``agent`` play ``num_games`` games side by side (layouts from ``seed``), each until it ends or
    ``max_flips`` flips have been made."""
    if isinstance(max_flips, bool) or not isinstance(max_flips, int) or max_flips < 1:
        raise UserError(f"max_flips must be an integer >= 1, got {max_flips!r}")
    games = ConcentrationGames(config, num_games, seed)
    observation, new_game = games.reset(), torch.ones(num_games, dtype=torch.bool)
    flips = torch.full((num_games,), float(max_flips))
    returns = torch.zeros(num_games)
    finished = torch.zeros(num_games, dtype=torch.bool)
    for _ in range(max_flips):
        step = games.step(agent(observation, new_game))
        first_end = step.done & ~finished
        flips[first_end] = step.flips[first_end].float()
        returns[first_end] = step.episode_return[first_end]
        finished |= step.done
        if bool(finished.all()):
            break
        observation, new_game = step.observation, step.done
    returns[~finished] = games.episode_return[~finished]
    return GameStats(float(flips.mean()), float(finished.float().mean()), float(returns.mean()), num_games)
