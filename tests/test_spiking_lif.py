"""LIF steps against hand-computed membranes for each reset variant, refractoriness, gradients through the
reset path, and the runs over time."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hybridsnn.errors import UserError
from hybridsnn.spiking import (
    LIF,
    Exponential,
    LIFConfig,
    LIFState,
    Rectangular,
    SpikingLayer,
    Triangular,
    decay_from_tau,
    initial_state,
    lif_sequence,
    lif_step,
)

F64 = torch.float64


def run(config: LIFConfig, currents: list[float]) -> tuple[list[float], list[float]]:
    """Membranes and spikes of one neuron driven by ``currents`` (one per step)."""
    trace = lif_sequence(torch.tensor(currents, dtype=F64).unsqueeze(1), config)
    return trace.membranes.squeeze(1).tolist(), trace.spikes.squeeze(1).tolist()


def test_decay_from_tau() -> None:
    assert decay_from_tau(1.0) == pytest.approx(math.exp(-1))  # DSL default: tau 1 step
    assert decay_from_tau(20.0, dt_ms=1.0) == pytest.approx(0.951229, abs=1e-6)  # Hebbian memory
    assert decay_from_tau(10.0, dt_ms=0.5) == pytest.approx(math.exp(-0.05))
    assert LIFConfig.from_tau(20.0, threshold=0.1).decay == decay_from_tau(20.0)
    with pytest.raises(UserError, match="tau_ms must be a finite number of milliseconds > 0, got 0"):
        decay_from_tau(0)


# θ = 1, λ = 0.5, currents 1.5, 1.0, 0.2, 0.9 — worked by hand:
#  subtract (DSL, HP):  u0 = 1.5 (spike); u1 = 0.5·(1.5 − 1) + 1.0 = 1.25 (spike);
#                       u2 = 0.5·(1.25 − 1) + 0.2 = 0.325; u3 = 0.5·0.325 + 0.9 = 1.0625 (spike)
#  subtract_after_leak (Hebbian memory): u1 = 0.75 + 1.0 − 1 = 0.75; u2 = 0.375 + 0.2 = 0.575;
#                       u3 = 0.2875 + 0.9 = 1.1875 (spike)
#  zero (HP fmnist/few-shot, Hebbian perfect_reset): u1 = 0 + 1.0 = 1.0 (no spike: 1.0 > 1 is false);
#                       u2 = 0.5 + 0.2 = 0.7; u3 = 0.35 + 0.9 = 1.25 (spike)
HAND = {
    "subtract": ([1.5, 1.25, 0.325, 1.0625], [1, 1, 0, 1]),
    "subtract_after_leak": ([1.5, 0.75, 0.575, 1.1875], [1, 0, 0, 1]),
    "zero": ([1.5, 1.0, 0.7, 1.25], [1, 0, 0, 1]),
}


@pytest.mark.parametrize("reset", sorted(HAND))
def test_reset_variants_match_hand_computed_steps(reset: str) -> None:
    membranes, spikes = run(LIFConfig(threshold=1.0, decay=0.5, reset=reset), [1.5, 1.0, 0.2, 0.9])
    expected_u, expected_s = HAND[reset]
    assert membranes == pytest.approx(expected_u, abs=1e-12)
    assert spikes == expected_s


def test_inclusive_threshold_spikes_at_exactly_theta() -> None:
    # zero reset: u1 = 1.0 exactly; DSL's u >= θ fires there, u > θ does not
    config = LIFConfig(threshold=1.0, decay=0.5, reset="zero", inclusive=True)
    membranes, spikes = run(config, [1.5, 1.0, 0.2, 0.9])
    assert spikes == [1, 1, 0, 1]
    assert membranes == pytest.approx([1.5, 1.0, 0.2, 1.0], abs=1e-12)  # u2 = 0·0.5 + 0.2 after the reset


def test_scaled_input_relaxes_to_the_current() -> None:
    # λ = 0.5, g = 1 − λ: u = 0.5, 0.75, 0.875 for I = 1 (below θ = 2)
    membranes, spikes = run(LIFConfig(threshold=2.0, decay=0.5, scale_input=True), [1.0, 1.0, 1.0])
    assert membranes == pytest.approx([0.5, 0.75, 0.875], abs=1e-12)
    assert spikes == [0, 0, 0]


def test_non_leaky_if_integrates_and_subtracts() -> None:
    # decay 1 (Hebbian memory's IF in the converted CNN): u = 0.6, 1.2 (spike), 1.2 − 1 + 0.6 = 0.8
    membranes, spikes = run(LIFConfig(threshold=1.0, decay=1.0, reset="subtract_after_leak"), [0.6, 0.6, 0.6])
    assert membranes == pytest.approx([0.6, 1.2, 0.8], abs=1e-12)
    assert spikes == [0, 1, 0]


def hebbian_neuron() -> LIFConfig:
    """IafPscDelta defaults: thr 0.1, tau_mem 20 ms at 1 ms steps, 3 refractory steps, damp 1."""
    return LIFConfig.from_tau(
        20.0,
        threshold=0.1,
        reset="subtract_after_leak",
        scale_input=True,
        refractory_steps=3,
        surrogate=Triangular(width=0.1, height=1.0 / 0.1),
    )


def test_hebbian_neuron_constant_current_spike_train_from_spec() -> None:
    """The Hebbian-memory seed's LIF unit test (a) (docs/hebbian.md, «How it is checked»): I = 1 gives
    spikes 001000100010… and v = 0.049, 0.095, 0.139, 0.081, 0.126."""
    membranes, spikes = run(hebbian_neuron(), [1.0] * 24)
    assert "".join(str(int(s)) for s in spikes) == "001000100010001000100010"
    assert [round(v, 3) for v in membranes[:5]] == [0.049, 0.095, 0.139, 0.081, 0.126]
    _, weak = run(hebbian_neuron(), [0.15] * 30)
    assert weak.index(1.0) == 21  # first spike at (1-based) step 22
    _, strong = run(hebbian_neuron(), [8.0] * 12)
    assert "".join(str(int(s)) for s in strong) == "100010001000"  # the 250 Hz ceiling


def test_refractory_counter_counts_down_and_membrane_keeps_integrating() -> None:
    config = LIFConfig(threshold=1.0, decay=1.0, reset="subtract_after_leak", refractory_steps=2)
    state = None
    counters, spikes, membranes = [], [], []
    for current in [1.5, 1.5, 1.5, 1.5, 0.0]:
        spike, state = lif_step(torch.tensor([current], dtype=F64), state, config)
        assert state.refractory is not None and state.refractory.dtype == torch.int32
        counters.append(int(state.refractory))
        spikes.append(int(spike))
        membranes.append(float(state.membrane))
    # u: 1.5 (spike, r=2); 1.5+1.5−1 = 2.0 (refractory, r=1); 3.5 (refractory, r=0); 5.0 (spike, r=2); 4.0
    assert spikes == [1, 0, 0, 1, 0]
    assert counters == [2, 1, 0, 2, 1]
    assert membranes == pytest.approx([1.5, 2.0, 3.5, 5.0, 4.0])


def test_refractory_neurons_pass_no_gradient() -> None:
    config = LIFConfig(threshold=1.0, decay=1.0, reset="subtract_after_leak", refractory_steps=1)
    current = torch.tensor([1.5], dtype=F64, requires_grad=True)
    _, state = lif_step(current, None, config)
    later = torch.tensor([0.9], dtype=F64, requires_grad=True)
    spike, _ = lif_step(later, state, config)  # refractory now: u = 1.4 would cross, the spike is suppressed
    assert float(spike.detach()) == 0.0
    (grad,) = torch.autograd.grad(spike.sum(), later)
    assert float(grad) == 0.0


def test_gradient_flows_through_the_reset_and_detach_cuts_it() -> None:
    # subtract reset: u1 = λ(u0 − θ s0) + I1, so du1/dI0 = λ (1 − θ g(u0 − θ)) with g = exp(−|x|)
    config = LIFConfig(threshold=1.0, decay=0.5, surrogate=Exponential())
    current0 = torch.tensor([1.5], dtype=F64, requires_grad=True)
    _, state = lif_step(current0, None, config)
    _, next_state = lif_step(torch.tensor([0.2], dtype=F64), state, config)
    (grad,) = torch.autograd.grad(next_state.membrane.sum(), current0)
    assert float(grad) == pytest.approx(0.5 * (1 - math.exp(-0.5)))
    _, cut = lif_step(torch.tensor([0.2], dtype=F64), state.detach(), config)  # DSL's ELL
    assert not cut.membrane.requires_grad


def test_zero_initial_state_gives_u0_equal_to_the_input() -> None:
    current = torch.randn(4, 3, dtype=F64)
    state = initial_state(current, LIFConfig())
    assert state.refractory is None and not state.membrane.any() and not state.spike.any()
    _, after = lif_step(current, None, LIFConfig(decay=0.3))
    assert torch.equal(after.membrane, current)


def test_sequence_equals_step_loop_and_module() -> None:
    config = LIFConfig(threshold=0.4, decay=0.6, reset="zero", surrogate=Rectangular(width=0.5))
    currents = torch.rand(7, 5, 3, dtype=F64)
    trace = lif_sequence(currents, config)
    state = None
    for t in range(7):
        spike, state = lif_step(currents[t], state, config)
        assert torch.equal(trace.spikes[t], spike)
        assert torch.equal(trace.membranes[t], state.membrane)
    assert trace.spikes.shape == (7, 5, 3) and trace.spikes.any()
    module_trace = LIF(config).sequence(currents)
    assert torch.equal(module_trace.spikes, trace.spikes)
    # continuing from a state equals one long run
    first = lif_sequence(currents[:3], config)
    second = lif_sequence(currents[3:], config, first.state)
    assert torch.equal(torch.cat([first.membranes, second.membranes]), trace.membranes)


def test_spiking_layer_folds_time_into_the_batch() -> None:
    torch.manual_seed(0)
    layer = SpikingLayer(nn.Linear(4, 6, bias=False).double(), LIFConfig(threshold=0.3, decay=0.5))
    inputs = torch.rand(5, 2, 4, dtype=F64)
    trace = layer(inputs)
    expected = lif_sequence(torch.stack([layer.synapse(x) for x in inputs]), layer.neurons.config)
    torch.testing.assert_close(trace.membranes, expected.membranes)
    assert torch.equal(trace.spikes, expected.spikes)
    static = layer(inputs[0], time_steps=5)  # the same image at every step (direct current input)
    repeated = layer(inputs[0].expand(5, 2, 4))
    torch.testing.assert_close(static.membranes, repeated.membranes)
    assert static.spikes.shape == (5, 2, 6)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold": 0.0}, "threshold must be a finite number > 0"),
        ({"decay": 1.5}, r"decay must be a number in \[0, 1\]"),
        ({"reset": "soft"}, "unknown LIF reset 'soft'; allowed: subtract, subtract_after_leak, zero"),
        ({"refractory_steps": -1}, "refractory_steps must be an integer >= 0"),
        ({"refractory_steps": 1.5}, "refractory_steps must be an integer >= 0"),
        ({"surrogate": "exponential"}, "surrogate must be a Surrogate"),
    ],
)
def test_config_rejects_bad_values(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        LIFConfig(**fields)  # type: ignore[arg-type]


def test_state_without_counter_is_refused_for_refractory_neurons() -> None:
    current = torch.zeros(3)
    with pytest.raises(UserError, match="no refractory counter"):
        lif_step(current, LIFState(current, current), LIFConfig(refractory_steps=2))
    with pytest.raises(UserError, match="non-empty time dimension"):
        lif_sequence(torch.zeros(0, 3), LIFConfig())
