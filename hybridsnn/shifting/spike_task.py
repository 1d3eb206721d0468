"""Synthetic spike / temporal-credit-assignment task with the recorded statistics of the original data
(docs/shifting.md, «Spike task»; seeded).

The original data files (Rapp, Nawrot & Stern's aggregate-label trials) are not available offline and their
generator is not public; this generator reproduces their measured statistics:

* 500 afferents, trials of 10 s, 9 frozen 1-s feature patterns (Poisson, ≈1.28 spikes per afferent,
  continuous times) with rewards [5, 0, 2, 0, 4, 0, 3, 6, 1] (three distractors);
* k = 1..5 features per trial with the empirical probabilities {1: .10, 2: .02, 3: .36, 4: .44, 5: .08},
  features may repeat, the first onset at 5–9 ms, later ones non-overlapping (≥ 0.1 s pause) up to 8.95 s;
* Poisson background at 0.37 Hz per afferent on the 1-ms grid, 14% of it deleted inside feature windows;
* label = Σ rewards of the trial's features. Draws whose sum exceeds 21 are redrawn so that there are 22
  classes (0..21), the range of the original training file.

Times are in seconds. Patterns, training and validation trials come from independent streams of one seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hybridsnn.errors import UserError


@dataclass(frozen=True)
class SpikeTaskConfig:
    """Generator settings (times in s, rates in Hz)."""

    n_afferents: int = 500
    duration_s: float = 10.0
    feature_s: float = 1.0
    dt_s: float = 1e-3
    background_hz: float = 0.37
    pattern_hz: float = 1.28
    rewards: tuple[int, ...] = (5, 0, 2, 0, 4, 0, 3, 6, 1)
    k_probabilities: tuple[float, ...] = (0.10, 0.02, 0.36, 0.44, 0.08)  # P(k = 1..5)
    first_onset_s: tuple[float, float] = (0.005, 0.009)
    latest_onset_s: float = 8.95
    min_pause_s: float = 0.1
    deleted_fraction: float = 0.14
    n_classes: int = 22

    def __post_init__(self) -> None:
        longest = self.first_onset_s[1] + (len(self.k_probabilities) - 1) * (
            self.feature_s + self.min_pause_s
        )
        if longest > self.latest_onset_s:
            raise UserError(
                f"{len(self.k_probabilities)} features of {self.feature_s} s do not fit before "
                f"{self.latest_onset_s} s"
            )
        if abs(sum(self.k_probabilities) - 1.0) > 1e-9:
            raise UserError(f"k probabilities must sum to 1, got {sum(self.k_probabilities)}")

    def at_most(self, max_features: int) -> SpikeTaskConfig:
        """The same task with at most ``max_features`` features per trial: P(k) restricted to
        k = 1..max_features and renormalised (the conditional distribution; everything else unchanged)."""
        if not 1 <= max_features <= len(self.k_probabilities):
            raise UserError(f"max_features must be 1..{len(self.k_probabilities)}, got {max_features}")
        if max_features == len(self.k_probabilities):
            return self
        kept = self.k_probabilities[:max_features]
        total = sum(kept)
        if total <= 0:
            raise UserError(f"P(k <= {max_features}) is 0 in {self.k_probabilities}")
        return replace(self, k_probabilities=tuple(p / total for p in kept))


@dataclass
class SpikeTrial:
    """One trial: events sorted by time (``times`` s float64, ``afferents`` int64), its features and label."""

    times: np.ndarray
    afferents: np.ndarray
    label: int
    features: np.ndarray  # feature ids 0..8, in onset order
    onsets: np.ndarray  # s


@dataclass
class SpikeTask:
    """The frozen patterns (per pattern: times relative to its onset, afferents) and the trial sets."""

    config: SpikeTaskConfig
    patterns: list[tuple[np.ndarray, np.ndarray]]
    train: list[SpikeTrial] = field(default_factory=list)
    validation: list[SpikeTrial] = field(default_factory=list)


def make_patterns(config: SpikeTaskConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The frozen feature patterns: Poisson spikes at ``pattern_hz`` on every afferent over ``feature_s``."""
    patterns = []
    for _ in config.rewards:
        counts = rng.poisson(config.pattern_hz * config.feature_s, size=config.n_afferents)
        afferents = np.repeat(np.arange(config.n_afferents), counts)
        times = rng.uniform(0.0, config.feature_s, size=len(afferents))
        patterns.append((times, afferents))
    return patterns


def _draw_features(config: SpikeTaskConfig, rng: np.random.Generator) -> np.ndarray:
    """Feature ids of one trial with Σ rewards < n_classes (redrawn otherwise)."""
    rewards = np.asarray(config.rewards)
    while True:
        k = 1 + rng.choice(len(config.k_probabilities), p=config.k_probabilities)
        features = rng.integers(0, len(rewards), size=k)
        if rewards[features].sum() < config.n_classes:
            return features


def _draw_onsets(config: SpikeTaskConfig, k: int, rng: np.random.Generator) -> np.ndarray:
    """Non-overlapping onsets (s): the first in ``first_onset_s``, the others spread over the slack."""
    first = rng.integers(
        round(config.first_onset_s[0] / config.dt_s), round(config.first_onset_s[1] / config.dt_s) + 1
    )
    first_s = first * config.dt_s
    slot = config.feature_s + config.min_pause_s
    slack = config.latest_onset_s - first_s - (k - 1) * slot
    offsets = np.sort(rng.uniform(0.0, slack, size=k - 1))
    return np.concatenate([[first_s], first_s + slot * np.arange(1, k) + offsets])


def _background(config: SpikeTaskConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson background on the dt grid: at most one spike per afferent and bin, probability rate·dt."""
    bins = round(config.duration_s / config.dt_s)
    cells = config.n_afferents * bins
    count = rng.binomial(cells, config.background_hz * config.dt_s)
    flat = rng.choice(cells, size=count, replace=False)
    return (flat % bins) * config.dt_s, flat // bins


def make_trial(
    config: SpikeTaskConfig, patterns: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> SpikeTrial:
    """One trial: background with deletions inside the feature windows, plus the embedded features."""
    features = _draw_features(config, rng)
    onsets = _draw_onsets(config, len(features), rng)
    bg_times, bg_afferents = _background(config, rng)
    inside = np.zeros(len(bg_times), dtype=bool)
    for onset in onsets:
        inside |= (bg_times >= onset) & (bg_times < onset + config.feature_s)
    keep = ~(inside & (rng.random(len(bg_times)) < config.deleted_fraction))
    times, afferents = [bg_times[keep]], [bg_afferents[keep]]
    for feature, onset in zip(features, onsets, strict=True):
        pattern_times, pattern_afferents = patterns[feature]
        times.append(onset + pattern_times)
        afferents.append(pattern_afferents)
    all_times, all_afferents = np.concatenate(times), np.concatenate(afferents).astype(np.int64)
    order = np.argsort(all_times, kind="stable")
    label = int(np.asarray(config.rewards)[features].sum())
    return SpikeTrial(all_times[order], all_afferents[order], label, features, onsets)


def make_spike_task(
    n_train: int = 200, n_validation: int = 50, seed: int = 0, config: SpikeTaskConfig | None = None
) -> SpikeTask:
    """Frozen patterns and ``n_train`` + ``n_validation`` trials, deterministic for a given ``seed``."""
    if n_train < 1 or n_validation < 0:
        raise UserError(
            f"need at least 1 training trial and >= 0 validation trials, got {n_train}/{n_validation}"
        )
    config = config or SpikeTaskConfig()
    pattern_seq, train_seq, validation_seq = np.random.SeedSequence(seed).spawn(3)
    patterns = make_patterns(config, np.random.default_rng(pattern_seq))
    train_rng, validation_rng = np.random.default_rng(train_seq), np.random.default_rng(validation_seq)
    return SpikeTask(
        config,
        patterns,
        [make_trial(config, patterns, train_rng) for _ in range(n_train)],
        [make_trial(config, patterns, validation_rng) for _ in range(n_validation)],
    )
