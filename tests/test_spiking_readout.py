"""Read-outs (spike counts, rates, membranes, predictions, accuracy) and run-time settings."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from hybridsnn.errors import UserError
from hybridsnn.runtime import autocast, configure_threads, seed_everything, select_device
from hybridsnn.spiking import (
    accuracy,
    count_correct,
    final_membrane,
    firing_rate_hz,
    mean_membrane,
    predict,
    spike_counts,
)

# 4 steps, 1 sample, 3 neurons
SPIKES = torch.tensor([[[1, 0, 0]], [[1, 1, 0]], [[0, 1, 0]], [[1, 1, 0]]], dtype=torch.float32)


def test_spike_counts_over_all_steps_and_a_final_window() -> None:
    assert spike_counts(SPIKES).tolist() == [[3, 3, 0]]
    assert spike_counts(SPIKES, window=2).tolist() == [[1, 2, 0]]  # Hebbian memory: last 30 recall steps
    assert spike_counts(SPIKES.transpose(0, 1), time_dim=1).tolist() == [[3, 3, 0]]
    with pytest.raises(UserError, match="window must be between 1 and the 4 time steps, got 5"):
        spike_counts(SPIKES, window=5)


def test_firing_rate_in_hz() -> None:
    # 3 spikes in 4 steps of 1 ms = 750 Hz; with 0.5 ms steps 1500 Hz
    assert firing_rate_hz(SPIKES).tolist() == [[750.0, 750.0, 0.0]]
    assert firing_rate_hz(SPIKES, dt_ms=0.5).tolist() == [[1500.0, 1500.0, 0.0]]
    with pytest.raises(UserError, match="dt_ms must be > 0"):
        firing_rate_hz(SPIKES, dt_ms=0)


def test_membrane_readouts() -> None:
    membranes = torch.tensor([[[0.1, 0.4]], [[0.3, 0.8]], [[0.2, 0.6]]])
    torch.testing.assert_close(mean_membrane(membranes), torch.tensor([[0.2, 0.6]]))
    # HP-SNN: last-step membrane / θ, clamped at 1.1
    torch.testing.assert_close(final_membrane(membranes, threshold=0.5), torch.tensor([[0.4, 1.2]]))
    torch.testing.assert_close(
        final_membrane(membranes, threshold=0.5, max_value=1.1), torch.tensor([[0.4, 1.1]])
    )
    with pytest.raises(UserError, match="non-empty time dimension"):
        mean_membrane(torch.zeros(0, 2))


def test_predictions_and_accuracy() -> None:
    scores = torch.tensor([[0.0, 0.0, 0.0], [1.0, 3.0, 3.0], [0.0, 1.0, 5.0], [2.0, 0.0, 1.0]])
    assert predict(scores).tolist() == [0, 1, 2, 0]  # ties go to the first class (DSL: silent output = 0)
    targets = torch.tensor([0, 2, 2, 1])
    assert count_correct(scores, targets) == 2
    assert accuracy(scores, targets) == 0.5
    with pytest.raises(UserError, match="do not match"):
        accuracy(scores, targets[:3])
    with pytest.raises(UserError, match="empty batch"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_seed_everything_repeats_all_three_generators() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first
    seed_everything(8)
    assert draw() != first
    with pytest.raises(UserError, match=r"seed must be an integer in \[0, 2\*\*32\), got -1"):
        seed_everything(-1)


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    with pytest.raises(UserError, match="unknown device 'tpu'; allowed: auto, cpu, cuda, cuda:N"):
        select_device("tpu")
    if torch.cuda.is_available():
        with pytest.raises(UserError, match="does not exist"):
            select_device("cuda:99")
    else:
        with pytest.raises(UserError, match="requested but CUDA is not available"):
            select_device("cuda")


def test_autocast_is_a_no_op_on_cpu() -> None:
    a = torch.rand(2, 2)
    with autocast(torch.device("cpu")):
        assert (a @ a).dtype == torch.float32
    with (
        pytest.raises(UserError, match="unknown autocast dtype 'int8'"),
        autocast(torch.device("cpu"), dtype="int8"),
    ):
        pass


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_autocast_uses_bfloat16_on_cuda() -> None:
    a = torch.rand(4, 4, device="cuda")
    with autocast(torch.device("cuda")):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(torch.device("cuda"), enabled=False):
        assert (a @ a).dtype == torch.float32


def test_configure_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1
        assert configure_threads(None) == 1
        with pytest.raises(UserError, match="threads must be an integer >= 1, got 0"):
            configure_threads(0)
    finally:
        torch.set_num_threads(before)
