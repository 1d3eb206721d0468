"""Shifting Learning inputs: XOR/Iris/MNIST encodings and folds, and the synthetic spike task's statistics."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from hybridsnn.errors import DataError, UserError
from hybridsnn.shifting.data import encode_images, image_split, iris_features, iris_folds, xor_task
from hybridsnn.shifting.spike_task import SpikeTaskConfig, make_spike_task
from tests.conftest import require_dataset


def test_xor_inputs_are_exp_of_one_minus_x_with_labels_0110():
    data = xor_task()
    assert data.labels.tolist() == [0, 1, 1, 0]
    low, high = math.exp(0.99), math.exp(0.01)
    expected = [[low, low], [low, high], [high, low], [high, high]]
    assert data.z0.tolist() == [pytest.approx(row, rel=1e-6) for row in expected]


def test_iris_uses_one_global_min_max_plus_0_01():
    x, y = iris_features()
    assert x.shape == (150, 4) and x.min() == pytest.approx(0.01) and x.max() == pytest.approx(1.01)
    assert np.bincount(y).tolist() == [50, 50, 50]
    # global scaling keeps the ratio of two features' ranges (per-feature scaling would make both 1)
    assert np.ptp(x[:, 0]) != pytest.approx(np.ptp(x[:, 1]))


def test_iris_folds_partition_one_seeded_permutation():
    folds = iris_folds(7)
    assert len(folds) == 5
    tests = torch.cat([test.z0 for _, test in folds])
    assert all(len(train) == 120 and len(test) == 30 for train, test in folds)
    # the five test sets, in order, are the whole permutation: fold 0's test rows then its training rows
    assert torch.equal(tests, torch.cat([folds[0][1].z0, folds[0][0].z0]))
    again = iris_folds(7)
    assert torch.equal(folds[2][1].z0, again[2][1].z0)
    assert not torch.equal(folds[0][1].z0, iris_folds(8)[0][1].z0)
    # fold 1 trains on fold 0's test rows first, then on folds 2..4, in permutation order
    assert torch.equal(folds[1][0].z0[:30], folds[0][1].z0)


def test_binary_encoding_splits_at_half_and_grey_is_linear():
    pixels = np.array([[[0, 127, 128, 255]]], dtype=np.uint8)
    binary = encode_images(pixels, "binary")[0].tolist()
    dark, bright = math.exp(1 - 2.3), math.exp(1 - 0.01)
    assert binary == pytest.approx([dark, dark, bright, bright], rel=1e-6)
    grey = encode_images(pixels, "grey")[0].tolist()
    assert grey == pytest.approx([math.exp(1 - p / 255) for p in (0, 127, 128, 255)], rel=1e-6)
    floats = encode_images(np.array([[[0.2, 0.7]]], dtype=np.float32), "grey")[0].tolist()
    assert floats == pytest.approx([math.exp(0.8), math.exp(0.3)], rel=1e-6)
    with pytest.raises(UserError, match="encoding"):
        encode_images(pixels, "rate")


def test_mnist_split_is_flattened_and_limited(data_root):
    require_dataset(data_root, "MNIST/raw/t10k-images-idx3-ubyte.gz")
    split = image_split("mnist", "test", limit=5, root=data_root)
    assert split.z0.shape == (5, 784) and split.z0.dtype == torch.float32
    values = torch.unique(split.z0).tolist()
    assert values == pytest.approx([math.exp(-1.3), math.exp(0.99)], rel=1e-6)  # binary: two input times
    with pytest.raises(UserError, match=">= 1 samples, got 0"):  # load_dataset(..., limit=) refuses it
        image_split("mnist", "test", limit=0, root=data_root)


def test_missing_fashion_mnist_gives_the_dataset_layers_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDSNN_OFFLINE", "1")
    with pytest.raises(DataError, match="fashion-mnist"):
        image_split("fashion-mnist", "train", root=tmp_path)


# -- synthetic spike task ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task():
    return make_spike_task(300, 20, seed=1)


def test_spike_task_is_deterministic_by_seed(task):
    again = make_spike_task(300, 20, seed=1)
    assert all(np.array_equal(a.times, b.times) for a, b in zip(task.train, again.train, strict=True))
    other = make_spike_task(5, 1, seed=2)
    assert not np.array_equal(task.train[0].times, other.train[0].times)
    # the validation trials do not depend on how many training trials are drawn
    assert np.array_equal(make_spike_task(3, 20, seed=1).validation[5].times, task.validation[5].times)


def test_trials_have_sorted_events_in_range_and_labels_summing_rewards(task):
    rewards = np.array(task.config.rewards)
    for trial in task.train:
        assert np.all(np.diff(trial.times) >= 0) and trial.times.min() >= 0 and trial.times.max() < 10.0
        assert trial.afferents.min() >= 0 and trial.afferents.max() < 500
        assert trial.label == rewards[trial.features].sum() and 0 <= trial.label <= 21
        assert 0.005 <= trial.onsets[0] <= 0.009 + 1e-12 and trial.onsets[-1] <= 8.95
        assert np.all(np.diff(trial.onsets) >= 1.1 - 1e-9)  # non-overlapping, ≥ 0.1 s pause
    labels = [trial.label for trial in task.train]
    assert max(labels) >= 15 and min(labels) <= 2


def test_spike_counts_and_feature_numbers_match_the_recorded_data(task):
    counts = np.array([len(trial.times) for trial in task.train])
    assert 3700 < counts.mean() < 4150  # recorded: mean 3940, range 2350-4983
    assert [len(times) for times, _ in task.patterns] == pytest.approx(
        [640] * 9, abs=80
    )  # ≈1.28 per afferent
    k = np.bincount([len(trial.features) for trial in task.train], minlength=6)[1:] / len(task.train)
    assert k == pytest.approx([0.10, 0.02, 0.36, 0.44, 0.08], abs=0.07)


def test_background_rate_and_deletions_inside_feature_windows():
    config = replace(SpikeTaskConfig(), pattern_hz=0.0)  # background only
    trials = make_spike_task(60, 0, seed=3, config=config).train
    inside = outside = inside_s = 0.0
    for trial in trials:
        window = np.zeros(len(trial.times), dtype=bool)
        for onset in trial.onsets:
            window |= (trial.times >= onset) & (trial.times < onset + 1.0)
        inside += window.sum()
        outside += (~window).sum()
        inside_s += len(trial.onsets)
    rate_outside = outside / (500 * (10.0 * len(trials) - inside_s))
    rate_inside = inside / (500 * inside_s)
    assert rate_outside == pytest.approx(0.37, rel=0.03)
    assert 1 - rate_inside / rate_outside == pytest.approx(0.14, abs=0.03)
    times = np.concatenate([trial.times for trial in trials])
    assert np.allclose(times * 1000, np.round(times * 1000))  # background on the 1-ms grid


def test_at_most_restricts_k_to_the_conditional_distribution_and_keeps_the_patterns():
    full = SpikeTaskConfig()
    assert full.at_most(2).k_probabilities == pytest.approx((0.10 / 0.12, 0.02 / 0.12))
    assert full.at_most(1).k_probabilities == (1.0,) and full.at_most(5) == full
    assert replace(full.at_most(2), k_probabilities=full.k_probabilities) == full  # nothing else changes
    quick = make_spike_task(400, 20, seed=1, config=full.at_most(2))
    k = np.array([len(trial.features) for trial in quick.train])
    assert set(k) == {1, 2} and np.mean(k == 1) == pytest.approx(0.83, abs=0.06)
    # the same frozen patterns as the full task of that seed (the quick task is a subset of its trials)
    for (times, afferents), (full_times, full_afferents) in zip(
        quick.patterns, make_spike_task(1, 0, seed=1).patterns, strict=True
    ):
        assert np.array_equal(times, full_times) and np.array_equal(afferents, full_afferents)
    for bad in (0, 6):
        with pytest.raises(UserError, match=r"max_features must be 1\.\.5"):
            full.at_most(bad)


def test_bad_spike_task_sizes_are_refused():
    with pytest.raises(UserError, match="training trial"):
        make_spike_task(0, 5)
