"""Spike encoders: Poisson/Bernoulli statistics, seeding, constant current, latency hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hybridsnn.data import bernoulli_spikes, constant_current, latency_spikes, latency_times, poisson_spikes
from hybridsnn.errors import UserError


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_poisson_rate_within_a_few_sigma(kind):
    steps, n, rate_hz, dt_ms = 20000, 10, 50.0, 1.0
    rates = np.full(n, rate_hz)
    spikes = poisson_spikes(torch.tensor(rates) if kind == "torch" else rates, steps, dt_ms, rng=3)
    spikes = spikes.numpy() if kind == "torch" else spikes
    assert spikes.shape == (steps, n) and spikes.dtype == np.float32
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    p = rate_hz * dt_ms / 1000.0  # 0.05 per step
    total, trials = spikes.sum(), steps * n
    assert abs(total - trials * p) < 4 * math.sqrt(trials * p * (1 - p))
    measured_hz = spikes.mean(axis=0) / (dt_ms / 1000.0)
    assert np.all(np.abs(measured_hz - rate_hz) < 4 * math.sqrt(p * (1 - p) / steps) * 1000.0)
    # independent steps: counts in 100-step windows have binomial variance n p (1 - p)
    windows = spikes.reshape(steps // 100, 100, n).sum(axis=1)
    assert windows.var() == pytest.approx(100 * p * (1 - p), rel=0.1)


def test_poisson_per_step_probability_of_sym_stdp_pixels():
    # sym-STDP: rate = pixel / 8 * intensity Hz at dt 0.5 ms; pixel 255, intensity 2 -> p = 0.031875
    pixels = np.full(4, 255, dtype=np.uint8)
    spikes = poisson_spikes(pixels / 8 * 2, 40000, 0.5, rng=0)
    p = 0.031875
    assert abs(spikes.mean() - p) < 4 * math.sqrt(p * (1 - p) / spikes.size)


def test_rates_scale_linearly_with_dt():
    rates = np.array([0.0, 20.0, 100.0])
    spikes = poisson_spikes(rates, 50000, 0.1, rng=1)
    assert spikes[:, 0].sum() == 0
    assert spikes[:, 2].mean() == pytest.approx(0.01, rel=0.1)
    assert spikes[:, 1].mean() == pytest.approx(0.002, rel=0.2)


def test_seeding_and_generators():
    rates = np.full((3, 4), 200.0)
    five = poisson_spikes(rates, 100, 1.0, rng=5)
    np.testing.assert_array_equal(five, poisson_spikes(rates, 100, 1.0, rng=5))
    assert not np.array_equal(five, poisson_spikes(rates, 100, 1.0, rng=6))
    gen = np.random.default_rng(9)
    first, second = bernoulli_spikes(np.full(8, 0.5), 50, gen), bernoulli_spikes(np.full(8, 0.5), 50, gen)
    assert not np.array_equal(first, second)  # a passed generator advances
    t = torch.full((3, 4), 200.0)
    assert torch.equal(poisson_spikes(t, 100, 1.0, rng=5), poisson_spikes(t, 100, 1.0, rng=5))
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(bernoulli_spikes(t / 400, 30, g1), bernoulli_spikes(t / 400, 30, g2))
    with pytest.raises(UserError, match="numpy Generator"):
        bernoulli_spikes(t / 400, 3, np.random.default_rng(0))
    with pytest.raises(UserError, match="not Generator"):
        bernoulli_spikes(np.zeros(2), 3, torch.Generator())


def test_bernoulli_extremes_and_shape():
    p = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    spikes = bernoulli_spikes(p, 7)
    assert spikes.shape == (7, 2, 2) and spikes.dtype == torch.float32
    assert torch.equal(spikes, p.expand(7, 2, 2))
    assert bernoulli_spikes(np.array(0.25), 4).shape == (4,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: poisson_spikes(np.array([3000.0]), 10, 1.0),
         r"rates \(Hz\) at dt = 1.0 ms must lie in \[0.0, 1000.0\]"),
        (lambda: poisson_spikes(np.array([-1.0]), 10, 1.0), "must lie in"),
        (lambda: poisson_spikes(np.array([1.0]), 10, 0.0), "dt_ms must be > 0"),
        (lambda: bernoulli_spikes(np.array([1.5]), 10), r"probabilities per step must lie in \[0.0, 1.0\]"),
        (lambda: bernoulli_spikes(np.array([0.5]), 0), "steps must be >= 1"),
        (lambda: latency_times(np.array([1.2]), 10.0), r"latency intensities must lie in \[0.0, 1.0\]"),
        (lambda: latency_times(np.array([0.5]), 10.0, mapping="cubic"), "unknown latency mapping 'cubic'"),
        (lambda: latency_spikes(np.array([0.5]), 1), "t_max_ms > 0"),
    ],
)
def test_bad_encoder_arguments(call, message):
    with pytest.raises(UserError, match=message):
        call()


def test_constant_current_is_a_view_repeated_over_steps():
    values = np.array([[0.1, 0.2], [0.3, 0.4]])
    current = constant_current(values, 5)
    assert current.shape == (5, 2, 2) and np.shares_memory(current, values)
    np.testing.assert_array_equal(current[3], values)
    tensor = torch.tensor([1.0, 2.0], requires_grad=True)
    repeated = constant_current(tensor, 3)
    assert repeated.shape == (3, 2)
    repeated.sum().backward()
    assert tensor.grad.tolist() == [3.0, 3.0]


def test_linear_latency_hand_values():
    x = np.array([1.0, 0.5, 0.0, 0.25])
    np.testing.assert_allclose(latency_times(x, 10.0), [0.0, 5.0, 10.0, 7.5])
    # 5 steps of 1 ms: t_max = 4 ms, times 0, 2, 4, 3 ms
    spikes = latency_spikes(x, 5)
    assert spikes.shape == (5, 4) and spikes.sum(axis=0).tolist() == [1, 1, 1, 1]
    assert spikes.argmax(axis=0).tolist() == [0, 2, 4, 3]
    # dt 0.5 ms with t_max 2 ms: times 0, 1, 2, 1.5 ms -> steps 0, 2, 4, 3
    assert latency_spikes(x, 5, dt_ms=0.5).argmax(axis=0).tolist() == [0, 2, 4, 3]
    # an explicit t_max past the window drops late spikes: times 0, 5, 10, 7.5 ms in 6 steps of 1 ms
    late = latency_spikes(x, 6, t_max_ms=10.0)
    assert late.sum(axis=0).tolist() == [1, 1, 0, 0] and late[5, 1] == 1


def test_linear_latency_matches_dsl_formula_on_images():
    rng = np.random.default_rng(0)
    images = rng.random((4, 3, 8, 8))
    steps = 10
    spikes = latency_spikes(torch.tensor(images, dtype=torch.float64), steps)
    index = np.round((steps - 1) - (steps - 1) * images).astype(int)  # DSL: round((T-1) - (T-1) x)
    expected = (np.arange(steps)[:, None, None, None, None] == index[None]).astype(np.float32)
    np.testing.assert_array_equal(spikes.numpy(), expected)


def test_log_latency_hand_values():
    x = np.array([1.0, 0.02, 0.01, 0.0, 0.5])
    times = latency_times(x, 10.0, mapping="log", tau_ms=5.0, threshold=0.01)
    assert times[0] == pytest.approx(5.0 * math.log(1 / 0.99))
    assert times[1] == pytest.approx(5.0 * math.log(2.0))
    assert math.isinf(times[2]) and math.isinf(times[3])
    assert times[4] == pytest.approx(5.0 * math.log(0.5 / 0.49))
    short = latency_times(x, 3.0, mapping="log", tau_ms=5.0, threshold=0.01)
    assert math.isinf(short[1]) and short[0] == pytest.approx(times[0])  # 3.47 ms > t_max 3 ms: silent
    torch_times = latency_times(torch.tensor(x), 10.0, mapping="log", tau_ms=5.0, threshold=0.01)
    np.testing.assert_allclose(torch_times.numpy(), times)
    spikes = latency_spikes(x, 11, mapping="log", tau_ms=5.0, threshold=0.01)
    assert spikes.sum(axis=0).tolist() == [1, 1, 0, 0, 1] and spikes[3, 1] == 1  # 3.47 ms -> step 3
