"""Layer math of the Hebbian-memory SNN against hand-computed values (docs/hebbian.md, «Memory layers»)."""

from __future__ import annotations

import math
import re

import pytest
import torch

from hybridsnn.errors import UserError
from hybridsnn.hebbian.layers import (
    ReadingLayer,
    ReadingLayerReLU,
    WritingLayer,
    WritingLayerReLU,
    encode,
    hebbian_lif_config,
)
from hybridsnn.hebbian.networks import AssociationConfig, AssociationSNN, rate_regularizer
from hybridsnn.hebbian.plasticity import (
    FusedHebbianUpdate,
    PlasticityConfig,
    fixed_point,
    hebbian_update,
    hebbian_update_reference,
)
from hybridsnn.spiking import LIFConfig, Rectangular, lif_sequence, lif_step

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # one thread per test, restored after
A = math.exp(-1 / 20)


def _train(current: float, steps: int) -> str:
    spikes = lif_sequence(torch.full((steps, 1), current), hebbian_lif_config()).spikes
    return "".join(str(int(s)) for s in spikes[:, 0])


def test_lif_spike_trains_match_the_seed_neuron():
    assert _train(1.0, 24) == "001000100010001000100010"
    assert _train(0.15, 30).index("1") == 21  # first spike at step 22
    assert _train(8.0, 12) == "100010001000"  # 250 Hz ceiling with 3 refractory steps
    membranes = lif_sequence(torch.full((5, 1), 1.0), hebbian_lif_config()).membranes[:, 0]
    expected = [1 - A]
    for _ in range(4):
        expected.append(A * expected[-1] + (1 - A) - (0.1 if len(expected) == 3 else 0.0))
    torch.testing.assert_close(membranes, torch.tensor(expected), atol=1e-6, rtol=0)
    assert [round(v, 3) for v in membranes.tolist()] == [0.049, 0.095, 0.139, 0.081, 0.126]


@pytest.mark.parametrize("membrane", [0.05, 0.12, 0.19, 0.25])
def test_surrogate_gradient_is_triangular_on_the_scaled_membrane(membrane):
    config = hebbian_lif_config(threshold=0.1, dampening=0.7)
    current = torch.tensor([membrane / (1 - A)], requires_grad=True)  # v_1 = (1 − a)·I from rest
    spike, state = lif_step(current, None, config)
    spike.sum().backward()
    scaled = (membrane - 0.1) / 0.1
    expected = (1 - A) * 0.7 * max(0.0, 1 - abs(scaled)) / 0.1
    assert current.grad.item() == pytest.approx(expected, rel=1e-5)
    assert state.membrane.item() == pytest.approx(membrane, rel=1e-6)


def test_plasticity_matches_hand_values_and_stays_bounded():
    config = PlasticityConfig(w_max=1.0, gamma_pos=0.3, gamma_neg=0.3)
    mem = torch.tensor([[[0.0, 0.5]]])  # one value neuron, two keys
    pre, post = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.4]])
    new = hebbian_update(mem, pre, post, config)
    # 0 + 0.3·1·0.4·0.5 = 0.06 ; 0.5 + 0.3·0.5·0.4·0.5 − 0.3·0.25·0.5 = 0.4925
    torch.testing.assert_close(new, torch.tensor([[[0.06, 0.4925]]]))
    for _ in range(2000):
        mem = hebbian_update(mem, torch.tensor([[0.2, 0.6]]), torch.tensor([[0.3]]), config)
    expected = [fixed_point(0.2, 0.3, config), fixed_point(0.6, 0.3, config)]
    torch.testing.assert_close(mem[0, 0], torch.tensor(expected), atol=1e-5, rtol=0)
    assert expected == pytest.approx([0.6, 1 / 3])


def test_fused_update_equals_reference_in_values_and_gradients():
    generator = torch.Generator().manual_seed(0)
    config = PlasticityConfig(w_max=0.8, gamma_pos=0.3, gamma_neg=0.2)
    mem = torch.rand(3, 4, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    pre = torch.rand(3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    post = torch.rand(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(
        hebbian_update(mem, pre, post, config), hebbian_update_reference(mem, pre, post, config)
    )
    assert torch.autograd.gradcheck(
        lambda m, k, v: FusedHebbianUpdate.apply(m, k, v, 0.8, 0.3, 0.2), (mem, pre, post)
    )


def test_fused_update_saves_fewer_tensors():
    def saved_bytes(fused: bool) -> int:
        total = 0

        def pack(tensor):
            nonlocal total
            total += tensor.numel() * tensor.element_size()
            return tensor

        mem = torch.zeros(2, 6, 6, requires_grad=True)
        pre, post = torch.rand(2, 6, requires_grad=True), torch.rand(2, 6, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            hebbian_update(mem * 1.0, pre, post, PlasticityConfig(), fused=fused)
        return total

    assert saved_bytes(True) == 4 * (2 * 6 * 6 + 2 * 6 + 2 * 6)  # mem, pre, post only
    assert saved_bytes(False) > 2.5 * saved_bytes(True)


def test_bad_plasticity_and_shapes_are_refused():
    with pytest.raises(UserError, match="gamma_pos"):
        PlasticityConfig(gamma_pos=-0.1)
    with pytest.raises(UserError, match="w_max"):
        PlasticityConfig(w_max=0.0)
    with pytest.raises(UserError, match="memory update needs"):
        hebbian_update(torch.zeros(2, 3, 3), torch.zeros(2, 4), torch.zeros(2, 3), PlasticityConfig())


def _writing(fused: bool, checkpoint_steps: int) -> WritingLayer:
    torch.manual_seed(3)
    return WritingLayer(
        6, 5, hebbian_lif_config(), PlasticityConfig(), fused=fused, checkpoint_steps=checkpoint_steps
    )


def test_store_loop_variants_agree_in_values_and_gradients():
    inputs = (torch.rand(23, 4, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float() * 3.0
    results = []
    for fused, block in ((False, 0), (True, 0), (True, 5)):
        layer = _writing(fused, block)
        stored = layer(inputs)
        (stored.memory.square().sum() + stored.values.sum()).backward()
        results.append((stored, layer.weight.grad))
    reference, grad = results[0]
    assert reference.memory.abs().sum() > 0 and grad.abs().sum() > 0
    for stored, other_grad in results[1:]:
        torch.testing.assert_close(stored.memory, reference.memory)
        torch.testing.assert_close(stored.keys, reference.keys)
        torch.testing.assert_close(other_grad, grad, rtol=1e-4, atol=1e-6)


def test_store_step_follows_the_seed_update_order():
    layer = _writing(True, 0)
    inputs = torch.ones(2, 1, 6)
    currents_k, currents_v = (inputs @ layer.weight.T).chunk(2, dim=-1)
    stored = layer(inputs)
    lif, d = layer.lif, math.exp(-1 / 20)
    k1, ks = lif_step(currents_k[0], None, lif)
    v1, vs = lif_step(currents_v[0], None, lif)  # memory is empty at step 1
    mem = hebbian_update(torch.zeros(1, 5, 5), (1 - d) * k1, (1 - d) * v1, layer.plasticity)
    k2, _ = lif_step(currents_k[1], ks, lif)
    v2, _ = lif_step(currents_v[1] + 0.2 * (mem @ k2.unsqueeze(2)).squeeze(2), vs, lif)
    mem = hebbian_update(
        mem, (1 - d) * k2 + d * (1 - d) * k1, (1 - d) * v2 + d * (1 - d) * v1, layer.plasticity
    )
    torch.testing.assert_close(stored.memory, mem)


def _memoryless() -> LIFConfig:
    """A neuron that spikes exactly when its input exceeds 0.5 (no leak, hard reset)."""
    return LIFConfig(threshold=0.5, decay=0.0, reset="zero", surrogate=Rectangular())


@pytest.mark.parametrize("delay", [1, 3])
def test_reading_feedback_uses_value_spikes_of_step_t_minus_delay(delay):
    layer = ReadingLayer(2, 2, _memoryless(), readout_delay=delay)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    query = torch.zeros(9, 1, 2)
    query[0, 0, 0] = 1.0  # key 0 fires at step 0 only by the query
    keys, values = layer(query, torch.eye(2).unsqueeze(0))
    expected = torch.tensor([1.0 if t % delay == 0 else 0.0 for t in range(9)])
    torch.testing.assert_close(keys[:, 0, 0], expected)
    torch.testing.assert_close(values[:, 0, 0], expected)
    assert keys[:, 0, 1].sum() == 0


def test_encoding_holds_each_item_for_its_steps_and_carries_state():
    current = torch.tensor([[[1.0], [0.0]]])  # two items
    spikes = encode(current, 12, hebbian_lif_config())
    assert spikes.shape == (24, 1, 1)
    expected = lif_sequence(torch.cat([torch.ones(12, 1, 1), torch.zeros(12, 1, 1)]), hebbian_lif_config())
    torch.testing.assert_close(spikes, expected.spikes)
    with pytest.raises(UserError, match="encode needs"):
        encode(torch.zeros(2, 3), 5, hebbian_lif_config())


def test_snn_feeds_the_encoders_with_gain_embedding_size():
    config = AssociationConfig(num_classes=3, embedding_size=4, memory_size=3, steps=6, readout_window=3)
    model = AssociationSNN(config)
    features, labels = torch.rand(2, 2, 10), torch.tensor([[0, 1], [2, 0]])
    _, populations = model(features, labels, features[:, 0])
    expected = encode(4 * model.projection(features), 6, model.lif)
    torch.testing.assert_close(populations["features"], expected)
    assert populations["write_values"].shape == (12, 2, 3) and populations["read_values"].shape == (6, 2, 3)


def test_relu_hmem_layers_match_hand_computation():
    torch.manual_seed(0)
    config = PlasticityConfig(gamma_pos=0.1, gamma_neg=0.1)
    writing, reading = WritingLayerReLU(3, 2, config), ReadingLayerReLU(3, 2)
    item = torch.rand(1, 1, 3)
    stored = writing(item)
    key, value = torch.relu(item[0] @ writing.weight.T).chunk(2, dim=-1)
    torch.testing.assert_close(stored.memory, 0.1 * value.unsqueeze(2) * key.unsqueeze(1))
    query = torch.rand(1, 3)
    _, read = reading(query, stored.memory)
    torch.testing.assert_close(
        read, (stored.memory @ torch.relu(query @ reading.weight.T).unsqueeze(2))[..., 0]
    )


def test_rate_regularizer_in_hz():
    spikes = torch.zeros(10, 2, 3)
    spikes[:, 0, 0] = 1.0  # example 0, neuron 0 fires every ms: 1000 Hz; batch mean 500 Hz
    assert rate_regularizer({"a": spikes}).item() == pytest.approx(500.0**2 / 3)
    assert rate_regularizer({"a": spikes}, target_hz=10.0).item() == pytest.approx(
        (490.0**2 + 2 * 10.0**2) / 3
    )


@pytest.mark.slow
def test_compiled_store_step_matches_eager():
    from hybridsnn.hebbian.networks import compile_store_step

    config = AssociationConfig(num_classes=2, embedding_size=6, memory_size=5, steps=12, readout_window=4)
    torch.manual_seed(0)
    eager = AssociationSNN(config)
    compiled = AssociationSNN(config)
    compiled.load_state_dict(eager.state_dict())
    compile_store_step(compiled)
    features, labels = torch.rand(3, 2, 10), torch.tensor([[0, 1], [1, 0], [0, 1]])
    for model in (eager, compiled):
        scores, _ = model(features, labels, features[:, 1])
        scores.square().sum().backward()
    torch.testing.assert_close(compiled.last_memory, eager.last_memory)
    torch.testing.assert_close(compiled.writing.weight.grad, eager.writing.weight.grad, rtol=1e-4, atol=1e-6)


SUBSETS = [(True, False, False), (False, True, False), (False, False, True), (True, True, False),
           (False, True, True), (True, False, True)]  # fmt: skip


@pytest.mark.parametrize("needs", SUBSETS)
def test_fused_gradients_equal_the_reference_for_every_subset_of_inputs(needs):
    generator = torch.Generator().manual_seed(1)
    shapes = ((2, 3, 4), (2, 4), (2, 3))
    values = [torch.rand(*s, generator=generator, dtype=torch.float64) for s in shapes]
    weights = torch.rand(2, 3, 4, generator=generator, dtype=torch.float64)
    config = PlasticityConfig(w_max=0.8, gamma_pos=0.3, gamma_neg=0.2)
    grads = []
    for update in (hebbian_update, hebbian_update_reference):
        inputs = [v.clone().requires_grad_(n) for v, n in zip(values, needs, strict=True)]
        (update(*inputs, config) * weights).sum().backward()
        grads.append([i.grad for i in inputs])
    for fused, reference, needed in zip(*grads, needs, strict=True):
        assert (fused is None) == (not needed) and (reference is None) == (not needed)
        if needed:
            torch.testing.assert_close(fused, reference)


def test_hebbian_update_is_the_fused_node_unless_asked_otherwise():
    mem = torch.zeros(1, 2, 2, requires_grad=True)
    pre, post = torch.ones(1, 2), torch.ones(1, 2)
    fused = hebbian_update(mem, pre, post, PlasticityConfig())
    plain = hebbian_update(mem, pre, post, PlasticityConfig(), fused=False)
    assert type(fused.grad_fn).__name__ == "FusedHebbianUpdateBackward"
    assert "Fused" not in type(plain.grad_fn).__name__


def test_fixed_point_by_hand_and_where_it_does_not_exist():
    equal = PlasticityConfig(w_max=1.0, gamma_pos=0.3, gamma_neg=0.3)
    assert fixed_point(0.3, 0.3, equal) == pytest.approx(0.5)  # post = pre: halfway
    assert fixed_point(0.0, 0.5, equal) == 1.0  # no key trace, no depression: w_max
    unit = PlasticityConfig(w_max=2.0, gamma_pos=1.0, gamma_neg=0.5)
    assert fixed_point(0.4, 0.2, unit) == pytest.approx(2.0 * 0.2 / (0.2 + 0.5 * 0.4))
    for pre, post, config in ((0.5, 0.5, PlasticityConfig(gamma_pos=0.0)), (0.0, 0.0, equal)):
        with pytest.raises(UserError, match="the rule has no unique fixed point for γ\\+ = 0 or zero traces"):
            fixed_point(pre, post, config)


def test_plasticity_config_takes_zero_rates_and_refuses_non_numbers():
    assert PlasticityConfig(gamma_pos=0.0, gamma_neg=0.0).gamma_neg == 0.0  # a frozen rule is allowed
    for kwargs, message in (
        ({"gamma_pos": True}, "plasticity gamma_pos must be a finite number, got True"),
        ({"gamma_neg": "0.3"}, "plasticity gamma_neg must be a finite number, got '0.3'"),
        ({"w_max": math.inf}, "plasticity w_max must be a finite number, got inf"),
        ({"w_max": -1.0}, "plasticity w_max must be > 0, got -1.0"),
        ({"gamma_neg": -0.5}, "plasticity gamma_neg must be >= 0, got -0.5"),
    ):
        with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
            PlasticityConfig(**kwargs)
