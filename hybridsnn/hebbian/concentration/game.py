"""The Concentration (memory card) game of the seed's reinforcement-learning task (docs/hebbian.md,
«Concentration task»).

A grid of ``num_cells`` cells holds ``num_cells // 2`` pairs of "card images" (vectors of ``card_shape``
values ~ U[0, 1)), shuffled per game; an odd grid has one empty cell. All cards start face down. An action
flips the card of one cell (a face-up card turns face down again; an empty cell does nothing). Reward per
action: ``flip_penalty`` (−0.5), plus ``match_reward`` (25) when two matching cards are face up. After each
action two face-up cards are removed (a match) or turned face down; the game ends when no card is left.

Observation (``3·N + N + card_shape`` values): per cell a one-hot state (face down, face up, empty) after the
action, the one-hot position of the flipped cell, and the image of the flipped card if it is face up after the
flip (zeros otherwise). A new game's first observation shows position 0 and a zero image.

The deck is drawn once from ``deck_seed`` and shared by all games (the seed stores it in
``images-N.npy``); ``resample_cards`` draws a new deck for every game instead. :class:`ConcentrationGames`
plays a batch of games at once; a finished game is replaced by a new one at once (as vectorised gym
environments do), and the step that finished it reports the game's flips and return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from hybridsnn.errors import UserError

FACE_DOWN, FACE_UP, EMPTY = 0, 1, 2
CELL_STATES = 3


@dataclass(frozen=True)
class ConcentrationConfig:
    """The game's rules: grid size, card vector size, rewards and the deck."""

    num_cells: int = 4
    card_shape: int = 10
    match_reward: float = 25.0
    flip_penalty: float = -0.5
    resample_cards: bool = False
    deck_seed: int = 42

    def __post_init__(self) -> None:
        for name, low in (("num_cells", 2), ("card_shape", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name} must be an integer >= {low}, got {value!r}")

    @property
    def pairs(self) -> int:
        """Pairs of cards in a game."""
        return self.num_cells // 2

    @property
    def observation_size(self) -> int:
        """Length of an observation vector."""
        return CELL_STATES * self.num_cells + self.num_cells + self.card_shape


def fixed_deck(config: ConcentrationConfig) -> Tensor:
    """The deck shared by all games: ``[pairs, card_shape]`` values ~ U[0, 1) drawn from ``deck_seed``."""
    generator = torch.Generator().manual_seed(config.deck_seed)
    return torch.rand(config.pairs, config.card_shape, generator=generator)


class Observation(NamedTuple):
    """An observation split into cell states [B, N] (FACE_DOWN, FACE_UP or EMPTY), the flipped cell [B]
    and the image shown [B, card_shape]."""

    cells: Tensor
    position: Tensor
    image: Tensor


def split_observation(observation: Tensor, config: ConcentrationConfig) -> Observation:
    """The parts of observation vectors [B, obs] of a game with ``config``."""
    n = config.num_cells
    if observation.dim() != 2 or observation.shape[1] != config.observation_size:
        raise UserError(
            f"observations must be [B, {config.observation_size}], got {tuple(observation.shape)}"
        )
    cells = observation[:, : CELL_STATES * n].reshape(-1, n, CELL_STATES).argmax(dim=2)
    position = observation[:, CELL_STATES * n : CELL_STATES * n + n].argmax(dim=1)
    return Observation(cells, position, observation[:, CELL_STATES * n + n :])


class Transition(NamedTuple):
    """One step of every game: next observation [B, obs], reward [B], done [B] (bool), and for the games
    that ended at this step their number of flips [B] and return [B] (zero elsewhere)."""

    observation: Tensor
    reward: Tensor
    done: Tensor
    flips: Tensor
    episode_return: Tensor


class ConcentrationGames:
    """``num_games`` games played side by side, their layouts drawn from ``seed``.

    State: ``cards`` [B, N] (card id per cell, −1 = no card), ``face_up`` [B, N], ``images`` [B, pairs, C]
    (each game's deck), ``flips`` [B] and ``episode_return`` [B] of the running games.
    """

    def __init__(self, config: ConcentrationConfig, num_games: int, seed: int) -> None:
        if isinstance(num_games, bool) or not isinstance(num_games, int) or num_games < 1:
            raise UserError(f"number of games must be an integer >= 1, got {num_games!r}")
        self.config = config
        self.num_games = num_games
        self.generator = torch.Generator().manual_seed(seed)
        n = config.num_cells
        self.deck = fixed_deck(config)
        self.cards = torch.full((num_games, n), -1, dtype=torch.long)
        self.face_up = torch.zeros(num_games, n, dtype=torch.bool)
        self.images = self.deck.expand(num_games, -1, -1).clone()
        self.flips = torch.zeros(num_games, dtype=torch.long)
        self.episode_return = torch.zeros(num_games)

    def reset(self) -> Tensor:
        """Start new games everywhere; returns the first observations [B, obs]."""
        everywhere = torch.ones(self.num_games, dtype=torch.bool)
        self._new_games(everywhere)
        return self._first_observation(everywhere, torch.zeros(self.num_games, self.config.card_shape))

    def _new_games(self, rows: Tensor) -> None:
        """Shuffle a fresh layout (and deck, with ``resample_cards``) into the games where ``rows``."""
        count = int(rows.sum())
        if count == 0:
            return
        n, pairs = self.config.num_cells, self.config.pairs
        cards = torch.arange(pairs).repeat_interleave(2)
        if n % 2:
            cards = torch.cat([cards, torch.tensor([-1])])
        order = torch.rand(count, n, generator=self.generator).argsort(dim=1)
        self.cards[rows] = cards[order]
        self.face_up[rows] = False
        self.flips[rows] = 0
        self.episode_return[rows] = 0.0
        if self.config.resample_cards:
            shape = (count, pairs, self.config.card_shape)
            self.images[rows] = torch.rand(shape, generator=self.generator)

    def _cell_states(self) -> Tensor:
        states = torch.where(self.face_up, FACE_UP, FACE_DOWN)
        states = torch.where(self.cards < 0, EMPTY, states)
        return torch.nn.functional.one_hot(states, CELL_STATES).flatten(1).float()

    def _observation(self, position: Tensor, image: Tensor) -> Tensor:
        where = torch.nn.functional.one_hot(position, self.config.num_cells).float()
        return torch.cat([self._cell_states(), where, image], dim=1)

    def _first_observation(self, rows: Tensor, image: Tensor) -> Tensor:
        return self._observation(torch.zeros(self.num_games, dtype=torch.long), image)[rows]

    def step(self, actions: Tensor) -> Transition:
        """Flip the card at cell ``actions[b]`` in game b (long [B]); finished games restart at once."""
        actions = torch.as_tensor(actions).reshape(-1)
        if actions.shape[0] != self.num_games or actions.dtype not in (torch.int32, torch.int64):
            raise UserError(
                f"actions must be {self.num_games} cell indices, got {tuple(actions.shape)} {actions.dtype}"
            )
        if bool(((actions < 0) | (actions >= self.config.num_cells)).any()):
            raise UserError(
                f"actions must be cell indices 0..{self.config.num_cells - 1}, got {actions.tolist()}"
            )
        rows, position = torch.arange(self.num_games), actions.long()
        occupied = self.cards >= 0
        hit = occupied[rows, position]
        self.face_up[rows, position] ^= hit
        up = self.face_up & occupied
        two_up = up.sum(dim=1) == 2
        largest = torch.where(up, self.cards, -1).max(dim=1).values
        smallest = torch.where(up, self.cards, self.config.pairs).min(dim=1).values
        match = two_up & (largest == smallest)
        reward = self.config.flip_penalty + self.config.match_reward * match.float()
        card = self.cards[rows, position].clamp(min=0)
        shown = (hit & self.face_up[rows, position]).unsqueeze(1)
        image = torch.where(shown, self.images[rows, card], 0.0)
        self.cards[up & match.unsqueeze(1)] = -1
        self.face_up[up & two_up.unsqueeze(1)] = False
        self.flips += 1
        self.episode_return += reward
        done = (self.cards < 0).all(dim=1)
        observation = self._observation(position, image)
        flips = torch.where(done, self.flips, 0)
        episode_return = torch.where(done, self.episode_return, 0.0)
        self._new_games(done)
        observation[done] = self._first_observation(done, torch.zeros_like(image))
        return Transition(observation, reward, done, flips, episode_return)

    def state_dict(self) -> dict[str, Any]:
        """The running games and the layout generator (for an exact resume)."""
        return {
            "cards": self.cards.clone(),
            "face_up": self.face_up.clone(),
            "images": self.images.clone(),
            "flips": self.flips.clone(),
            "episode_return": self.episode_return.clone(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore games saved by :meth:`state_dict` (same number of games and rules)."""
        for name in ("cards", "face_up", "images", "flips", "episode_return"):
            value = torch.as_tensor(state[name])
            current = getattr(self, name)
            if value.shape != current.shape:
                raise UserError(
                    f"saved games {name!r} have shape {tuple(value.shape)}, expected {tuple(current.shape)}"
                )
            setattr(self, name, value.to(current.dtype).clone())
        self.generator.set_state(torch.as_tensor(state["generator"]).to(torch.uint8))
