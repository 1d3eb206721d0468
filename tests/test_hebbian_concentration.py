"""The Concentration task of the Hebbian-memory model: game rules, players, PPO, the SNN agent, the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.cli import main
from hybridsnn.errors import UserError
from hybridsnn.hebbian.concentration.agents import (
    FaceDownRandomAgent,
    PerfectMemoryAgent,
    PolicyAgent,
    UniformRandomAgent,
    play,
)
from hybridsnn.hebbian.concentration.game import (
    EMPTY,
    FACE_DOWN,
    FACE_UP,
    ConcentrationConfig,
    ConcentrationGames,
    fixed_deck,
    split_observation,
)
from hybridsnn.hebbian.concentration.policy import (
    HebbianActorCritic,
    PolicyConfig,
    StepOutput,
    reset_where,
    state_from_dict,
    state_tensors,
    state_to_dict,
)
from hybridsnn.hebbian.concentration.ppo import PPOConfig, Rollout, gae, ppo_loss, ppo_update
from hybridsnn.hebbian.concentration.training import ConcentrationTrainer
from hybridsnn.spiking import checkpoint_payload, restore_state

pytestmark = pytest.mark.usefixtures("torch_one_thread")

GAME = ConcentrationConfig()
#: A tiny time-compressed agent (fast enough for unit tests).
TINY = dict(embedding_size=8, memory_size=8, steps=6, readout_window=6, tau_mem=2.0, tau_trace=2.0)


def _game(cards: list[int]) -> ConcentrationGames:
    games = ConcentrationGames(GAME, 1, seed=0)
    games.reset()
    games.cards[:] = torch.tensor([cards])
    return games


def _flip(games: ConcentrationGames, cell: int):
    return games.step(torch.tensor([cell]))


def _agent(**overrides) -> HebbianActorCritic:
    torch.manual_seed(0)
    sizes = {"observation_size": GAME.observation_size, "num_actions": GAME.num_cells}
    return HebbianActorCritic(PolicyConfig(**{**TINY, **sizes, **overrides}))


# -- the game ------------------------------------------------------------------------------------------


def test_a_matching_pair_is_rewarded_and_removed_and_the_game_ends_when_no_card_is_left():
    games = _game([0, 1, 0, 1])
    deck = fixed_deck(GAME)
    first = _flip(games, 0)
    parts = split_observation(first.observation, GAME)
    assert first.reward.item() == -0.5 and not first.done.item()
    assert parts.cells.tolist() == [[FACE_UP, FACE_DOWN, FACE_DOWN, FACE_DOWN]]
    assert parts.position.item() == 0 and torch.equal(parts.image[0], deck[0])
    pair = _flip(games, 2)
    parts = split_observation(pair.observation, GAME)
    assert pair.reward.item() == pytest.approx(24.5)
    assert parts.cells.tolist() == [[EMPTY, FACE_DOWN, EMPTY, FACE_DOWN]]
    assert parts.position.item() == 2 and torch.equal(parts.image[0], deck[0])
    assert _flip(games, 1).reward.item() == -0.5
    last = _flip(games, 3)
    assert last.done.item() and last.reward.item() == pytest.approx(24.5)
    assert last.flips.item() == 4 and last.episode_return.item() == pytest.approx(48.0)
    restart = split_observation(last.observation, GAME)  # the next game's first observation
    assert restart.cells.tolist() == [[FACE_DOWN] * 4] and restart.position.item() == 0
    assert restart.image.abs().sum() == 0 and games.flips.item() == 0
    assert sorted(games.cards[0].tolist()) == [0, 0, 1, 1]


def test_a_mismatch_turns_both_cards_back_and_a_second_flip_of_the_same_card_turns_it_down():
    games = _game([0, 1, 0, 1])
    _flip(games, 0)
    miss = _flip(games, 1)
    parts = split_observation(miss.observation, GAME)
    assert miss.reward.item() == -0.5 and not miss.done.item()
    assert parts.cells.tolist() == [[FACE_DOWN] * 4]  # turned back after the image was shown
    assert torch.equal(parts.image[0], fixed_deck(GAME)[1])
    _flip(games, 3)
    again = split_observation(_flip(games, 3).observation, GAME)
    assert again.cells.tolist() == [[FACE_DOWN] * 4] and again.image.abs().sum() == 0


def test_flipping_an_empty_cell_costs_a_flip_and_changes_nothing():
    games = _game([0, 1, 0, 1])
    _flip(games, 0)
    _flip(games, 2)
    empty = _flip(games, 0)
    parts = split_observation(empty.observation, GAME)
    assert empty.reward.item() == -0.5 and games.flips.item() == 3
    assert parts.cells.tolist() == [[EMPTY, FACE_DOWN, EMPTY, FACE_DOWN]] and parts.image.abs().sum() == 0


def test_the_deck_is_fixed_by_its_seed_and_layouts_by_the_game_seed():
    a, b, again = (ConcentrationGames(GAME, 50, seed=seed) for seed in (1, 2, 1))
    for games in (a, b, again):
        games.reset()
    assert torch.equal(a.images, b.images) and torch.equal(a.images[0], fixed_deck(GAME))
    assert not torch.equal(fixed_deck(ConcentrationConfig(deck_seed=7)), fixed_deck(GAME))
    assert torch.equal(a.cards, again.cards) and not torch.equal(a.cards, b.cards)
    assert (torch.sort(a.cards, dim=1).values == torch.tensor([0, 0, 1, 1])).all()  # two cards per image
    resampled = ConcentrationGames(ConcentrationConfig(resample_cards=True), 2, seed=1)
    resampled.reset()
    assert not torch.equal(resampled.images[0], resampled.images[1])


def test_an_odd_grid_has_one_empty_cell_and_observations_have_the_seed_size():
    games = ConcentrationGames(ConcentrationConfig(num_cells=5), 3, seed=0)
    parts = split_observation(games.reset(), games.config)
    assert ((parts.cells == EMPTY).sum(dim=1) == 1).all()
    assert GAME.observation_size == 26  # 4 cells: 12 cell states + 4 positions + 10 image values


# -- reference players ---------------------------------------------------------------------------------


def test_reference_players_reach_the_hand_computed_means():
    perfect = PerfectMemoryAgent(GAME, seed=3)
    flips = []
    games = ConcentrationGames(GAME, 3000, seed=5)
    observation, new_game = games.reset(), torch.ones(3000, dtype=torch.bool)
    done = torch.zeros(3000, dtype=torch.bool)
    for _ in range(6):
        step = games.step(perfect(observation, new_game))
        flips += step.flips[step.done & ~done].tolist()
        done |= step.done
        observation, new_game = step.observation, step.done
    # 2 pairs: the first two cards match with p 1/3 (4 flips), else 6 flips: mean 16/3
    assert set(flips) == {4, 6} and len(flips) == 3000
    assert sum(flips) / 3000 == pytest.approx(16 / 3, abs=0.06)
    memoryless = play(GAME, FaceDownRandomAgent(GAME, seed=3), 3000, seed=5, max_flips=200)
    assert memoryless.flips == pytest.approx(8.0, abs=0.35)  # 2 + 2·(expected tries 3)
    random = play(GAME, UniformRandomAgent(GAME, seed=3), 1000, seed=5, max_flips=400)
    assert random.flips > 12 and random.finished == 1.0
    assert random.episode_return == pytest.approx(50.0 - 0.5 * random.flips)


# -- PPO -----------------------------------------------------------------------------------------------


def test_gae_and_returns_match_hand_values():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.full((3, 1), 0.5)
    ends = torch.tensor([[False], [True], [False]])
    advantages, returns = gae(rewards, values, torch.tensor([1.0]), ends, discount=0.9, lam=0.8)
    # δ2 = 3 + 0.9·1 − 0.5 = 3.4; δ1 = 2 − 0.5 = 1.5 (episode ends); δ0 = 1 + 0.9·0.5 − 0.5 = 0.95
    # A0 = 0.95 + 0.9·0.8·1.5 = 2.03
    assert advantages[:, 0].tolist() == pytest.approx([2.03, 1.5, 3.4])
    assert returns[:, 0].tolist() == pytest.approx([2.53, 2.0, 3.9])
    _, plain = gae(rewards, values, torch.tensor([1.0]), ends, discount=0.9, lam=1.0)
    assert plain[:, 0].tolist() == pytest.approx([1 + 0.9 * 2, 2.0, 3 + 0.9])  # the seed's returns


def test_clipped_ppo_loss_matches_hand_values():
    config = PPOConfig(clip=0.2, value_coefficient=0.1, entropy_coefficient=0.01)
    log_ratio = torch.tensor([0.3, -0.5, 0.1, -0.4])
    advantages = torch.tensor([1.0, 2.0, -1.0, -1.0])
    old = torch.tensor([-1.0, -1.2, -0.7, -2.0])
    loss = ppo_loss(
        old + log_ratio,
        old,
        advantages,
        values=torch.tensor([1.0, 0.0, 0.0, 0.0]),
        old_values=torch.tensor([0.5, 0.0, 0.0, 0.0]),
        returns=torch.tensor([2.0, 1.0, 1.0, 1.0]),
        entropy=torch.tensor([1.0, 1.2, 0.8, 1.0]),
        config=config,
    )
    surrogate = [min(math.exp(0.3), 1.2), 2 * math.exp(-0.5), -math.exp(0.1), -0.8]
    assert loss.policy.item() == pytest.approx(-sum(surrogate) / 4)
    # value 1.0 may only move 0.2 from 0.5: max((1−2)², (0.7−2)²) = 1.69; the others (0−1)² = 1
    assert loss.value.item() == pytest.approx(0.5 * (1.69 + 3.0) / 4)
    assert loss.entropy.item() == pytest.approx(1.0)
    expected = 0.1 * loss.value.item() + loss.policy.item() - 0.01 * 1.0
    assert loss.total.item() == pytest.approx(expected)


class _FeedForwardPolicy(nn.Module):
    """A memoryless MLP actor-critic with the agent's interface: lets the PPO test run in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(GAME.observation_size, 64), nn.Tanh())
        self.policy_head = nn.Linear(64, GAME.num_cells)
        nn.init.orthogonal_(self.policy_head.weight, gain=0.01)
        self.value_head = nn.Linear(64, 1)

    def initial_state(self, batch: int) -> tuple[torch.Tensor]:
        return (torch.zeros(batch, 1),)

    def forward(self, observation, state, new_game) -> StepOutput:
        hidden = self.body(observation)
        return StepOutput(self.policy_head(hidden), self.value_head(hidden).squeeze(-1), state)

    def evaluate_actions(self, observations, state, new_game, actions):
        logits, values, _ = self(observations, state, new_game)
        dist = torch.distributions.Categorical(logits=logits)
        return dist.log_prob(actions), values, dist.entropy()


def test_ppo_on_the_game_learns_to_beat_the_random_player():
    torch.manual_seed(0)
    policy = _FeedForwardPolicy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2, eps=1e-5)
    trainer = ConcentrationTrainer(
        policy,
        ConcentrationGames(GAME, 64, seed=42),
        optimizer,
        PPOConfig(epochs=4, minibatches=1, gae_lambda=0.95),
        rollout_steps=10,
    )
    agent = PolicyAgent(policy, 256, greedy=False, seed=1)
    before = play(GAME, agent, 256, seed=9, max_flips=200).flips
    for _ in range(25):
        metrics = trainer.train_step()
    after = play(GAME, PolicyAgent(policy, 256, greedy=False, seed=1), 256, seed=9, max_flips=200).flips
    assert before > 13  # untrained: about the uniform random player (16 flips)
    assert after < 11.5 and metrics["entropy"] < 1.3


# -- the spiking agent ---------------------------------------------------------------------------------


def test_the_snn_state_is_carried_between_steps_and_zeroed_where_a_game_starts():
    agent = _agent()
    games = ConcentrationGames(GAME, 3, seed=0)
    observation = games.reset()
    fresh = agent.initial_state(3)
    with torch.no_grad():
        _, _, state = agent(observation, fresh, torch.ones(3, dtype=torch.bool))
        observation = games.step(torch.tensor([0, 1, 2])).observation
        carried = agent(observation, state, torch.zeros(3, dtype=torch.bool))
        restarted = agent(observation, state, torch.tensor([True, False, False]))
        from_rest = agent(observation, fresh, torch.zeros(3, dtype=torch.bool))
    assert state.store.memory.abs().sum() > 0
    assert torch.equal(restarted.logits[0], from_rest.logits[0])  # game 0 restarts from an empty memory
    assert torch.equal(restarted.logits[1:], carried.logits[1:])
    assert not torch.equal(carried.state.store.memory[0], from_rest.state.store.memory[0])
    zeroed = reset_where(state, torch.tensor([False, True, False]))
    for before, after in zip(state_tensors(state), state_tensors(zeroed), strict=True):
        assert (
            after[1].abs().sum() == 0
            and torch.equal(after[0], before[0])
            and torch.equal(after[2], before[2])
        )


def test_rollouts_flag_new_games_after_episode_ends_and_ppo_updates_the_snn():
    agent = _agent()
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-3)
    trainer = ConcentrationTrainer(
        agent,
        ConcentrationGames(GAME, 8, seed=1),
        optimizer,
        PPOConfig(epochs=1, minibatches=2),
        rollout_steps=12,
    )
    torch.manual_seed(0)
    rollout = trainer.collect()
    assert rollout.ends.any()
    assert torch.equal(rollout.new_game[1:], rollout.ends[:-1]) and rollout.new_game[0].all()
    weights = [p.detach().clone() for p in agent.parameters()]
    metrics = ppo_update(agent, optimizer, rollout, PPOConfig(epochs=1, minibatches=2))
    assert all(math.isfinite(v) for v in metrics.values())
    assert all(not torch.equal(w, p) for w, p in zip(weights, agent.parameters(), strict=True))


def test_trainer_checkpoint_round_trip_continues_the_same_games(tmp_path):
    def trainer() -> ConcentrationTrainer:
        agent = _agent()
        optimizer = torch.optim.Adam(agent.parameters(), lr=1e-3)
        return ConcentrationTrainer(
            agent, ConcentrationGames(GAME, 4, seed=3), optimizer, PPOConfig(minibatches=2), rollout_steps=3
        )

    first = trainer()
    torch.manual_seed(1)
    first.train_step()
    tensors, extra = checkpoint_payload({"model": first.policy, "optim": first.optimizer, "games": first})
    path = save_checkpoint(tmp_path / "ckpt.safetensors", tensors, model="hebbian", config={}, extra=extra)
    second = trainer()
    restore_state(
        load_checkpoint(path, model="hebbian"),
        {"model": second.policy, "optim": second.optimizer, "games": second},
    )
    torch.manual_seed(2)
    a = first.collect()
    torch.manual_seed(2)
    b = second.collect()
    for x, y in zip(a[:7], b[:7], strict=True):
        assert torch.equal(x, y)
    assert all(
        torch.equal(x, y)
        for x, y in zip(state_tensors(first.memory), state_tensors(second.memory), strict=True)
    )


# -- bad input -----------------------------------------------------------------------------------------


def test_bad_inputs_end_with_one_line_errors():
    for bad in ({"num_cells": 1}, {"card_shape": 0}, {"num_cells": 4.0}):
        with pytest.raises(UserError, match="must be an integer"):
            ConcentrationConfig(**bad)
    games = ConcentrationGames(GAME, 2, seed=0)
    games.reset()
    with pytest.raises(UserError, match=r"cell indices 0\.\.3"):
        games.step(torch.tensor([0, 4]))
    with pytest.raises(UserError, match="2 cell indices"):
        games.step(torch.tensor([0]))
    with pytest.raises(UserError, match="minibatches must be an integer"):
        PPOConfig(minibatches=0)
    with pytest.raises(UserError, match="discount must be"):
        PPOConfig(discount=1.5)
    with pytest.raises(UserError, match="readout_window"):
        _agent(readout_window=7)
    with pytest.raises(UserError, match="gae needs"):
        gae(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, 2), 0.9, 0.9)
    with pytest.raises(UserError, match="does not fit"):
        state_from_dict(_agent().initial_state(2), state_to_dict(_agent().initial_state(3)))
    with pytest.raises(UserError, match="at least as many environments"):
        rollout = Rollout(*(torch.zeros(2, 1) for _ in range(7)), (), torch.zeros(1))
        ppo_update(
            _FeedForwardPolicy(), torch.optim.SGD([torch.zeros(1, requires_grad=True)]), rollout, PPOConfig()
        )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--num-envs", "4", "--ppo-batches", "8"], "--ppo-batches 8 must not exceed --num-envs 4"),
        (["--batch-size", "8"], "--num-envs"),
    ],
)
def test_cli_refuses_bad_flags_with_one_line(tmp_path, capsys, flags, message):
    argv = ["train", "hebbian", "--task", "concentration", "--output", str(tmp_path), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


# -- command line --------------------------------------------------------------------------------------

TINY_FLAGS = [
    "--task", "concentration", "--quick", "--constant-lr", "--iterations", "1", "--num-envs", "8",
    "--embedding-size", "8", "--memory-size", "8", "--num-time-steps", "5", "--readout-window", "5",
    "--val-size", "8", "--test-size", "16", "--max-flips", "10", "--threads", "1", "--no-progress",
]  # fmt: skip


def _records(run_dir) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in ("time", "seconds")} for line in lines]


def test_train_resume_test_and_plot_from_the_command_line(tmp_path, capsys, interrupt_at_checkpoint):
    out = str(tmp_path)
    interrupt_at_checkpoint(2)
    assert main(["train", "hebbian", *TINY_FLAGS, "--epochs", "3", "--output", out, "--run-name", "a"]) == 130
    assert not (tmp_path / "a" / "results.json").exists()
    assert main(["train", "hebbian", *TINY_FLAGS, "--epochs", "3", "--resume", f"{out}/a"]) == 0
    assert main(["train", "hebbian", *TINY_FLAGS, "--epochs", "3", "--output", out, "--run-name", "b"]) == 0
    resumed = [r for r in _records(tmp_path / "a") if r["epoch"] is not None]
    straight = [r for r in _records(tmp_path / "b") if r["epoch"] is not None]
    assert resumed == straight and len(straight) == 6  # the resumed run continued the same games exactly
    results = json.loads((tmp_path / "b" / "results.json").read_text())["metrics"]
    assert results["perfect_memory_flips"] < results["memoryless_flips"] < results["random_flips"]
    best = tmp_path / "b" / "checkpoints" / "best.safetensors"
    test_argv = ["test", "hebbian", "--task", "concentration", "--checkpoint", str(best), "--output", out]
    assert main([*test_argv, "--run-name", "t", "--no-progress"]) == 0
    tested = json.loads((tmp_path / "t" / "results.json").read_text())["metrics"]
    assert tested["test_flips"] == results["test_flips"]
    assert tested["test_sampled_flips"] == results["test_sampled_flips"]
    assert main(["plot", "hebbian", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "plots" / "flips.png").stat().st_size > 0
    assert main(["test", "hebbian", "--task", "concentration", "--output", out]) == 2
    assert "needs --checkpoint" in capsys.readouterr().err
