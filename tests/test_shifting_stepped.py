"""The time-stepped Shifting Learning network (GeNN models on the numba engine, and on PyGeNN when present)
against hand-computed spike times and against the analytic torch reference."""

from __future__ import annotations

import math

import pytest
import torch

from hybridsnn import sim
from hybridsnn.errors import UserError
from hybridsnn.shifting.reference import SENTINEL, LayerParams, ReferenceNetwork
from hybridsnn.shifting.stepped import ETP_MIN, SteppedNetwork

XOR_X = torch.tensor([[0.01, 0.01], [0.01, 0.99], [0.99, 0.01], [0.99, 0.99]])
XOR_Y = torch.tensor([0, 1, 1, 0])
DT = 0.001  # one time step everywhere: networks of equal depth then share one compiled kernel


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "shifting-build"


def single_layer(weights: list[float], etp: float = 1.0) -> list[LayerParams]:
    w = torch.tensor(weights).reshape(-1, 1)
    zero = torch.zeros(1)
    return [LayerParams(w, torch.tensor([etp]), torch.zeros_like(w), torch.zeros_like(w), zero, zero.clone())]


def random_net(sizes: tuple[int, ...], seed: int) -> tuple[ReferenceNetwork, ReferenceNetwork]:
    """Two independent copies of the same randomly initialised network."""
    nets = [ReferenceNetwork.create(sizes, torch.Generator().manual_seed(seed)) for _ in range(2)]
    return nets[0], nets[1]


def grid_inputs(count: int, n_in: int, dt: float, seed: int) -> torch.Tensor:
    """z0 = exp(t0) with t0 in [0, 1) on the dt grid (the stepped inputs are then exact)."""
    steps = torch.randint(0, round(1 / dt), (count, n_in), generator=torch.Generator().manual_seed(seed))
    return torch.exp(steps.double() * dt).float()


def test_single_neuron_fires_at_the_hand_computed_time(build_dir):
    # inputs at t = 0.2 and 0.5 with w = 0.8, 0.7: after the first A = 0.8 < θ, after both A = 1.5 and
    # z = (0.8 e^0.2 + 0.7 e^0.5) / 0.5 = 4.26245, i.e. t = 1.44983; e_tp = 1.5 delays it by ln 1.5
    z_hand = (0.8 * math.exp(0.2) + 0.7 * math.exp(0.5)) / 0.5
    net = SteppedNetwork(single_layer([0.8, 0.7], etp=1.5), dt=DT, build_dir=build_dir)
    z0 = torch.exp(torch.tensor([[0.2, 0.5]]))
    (z_hat,) = net.forward(z0)
    assert z_hat.item() == pytest.approx(1.5 * z_hand, rel=1e-5)
    (t_spike,) = net.spike_times(z0)
    assert abs(t_spike.item() - math.log(1.5 * z_hand)) <= DT / 2 + 1e-5


def test_relaxed_causality_keeps_a_scheduled_spike(build_dir):
    # w = 1.5, -1.0: the first input schedules z = 1.5·1/0.5 = 3 (t = 1.0986); the inhibitory input at
    # t = 0.5 arrives before that but cannot cancel it (the code's relaxed semantics)
    net = SteppedNetwork(single_layer([1.5, -1.0]), dt=DT, build_dir=build_dir)
    (z_hat,) = net.forward(torch.exp(torch.tensor([[0.0, 0.5]])))
    assert z_hat.item() == pytest.approx(3.0, rel=1e-5)


def test_a_later_larger_candidate_does_not_replace_the_scheduled_minimum(build_dir):
    # w = 1.5, -0.2: the first input schedules z = 1.5/0.5 = 3; the second (t = 0.5, z = e^0.5) gives the
    # valid candidate (1.5 − 0.2 e^0.5)/(1.3 − 1) = 3.90, later than 3: the neuron keeps the minimum
    later = (1.5 - 0.2 * math.exp(0.5)) / 0.3
    assert later > 3.0 and later >= math.exp(0.5)
    layers = single_layer([1.5, -0.2])
    z0 = torch.exp(torch.tensor([[0.0, 0.5]]))
    (z_hat,) = SteppedNetwork(layers, dt=DT, build_dir=build_dir).forward(z0)
    assert z_hat.item() == pytest.approx(3.0, rel=1e-5)
    assert ReferenceNetwork(layers).forward(z0)[-1].item() == pytest.approx(3.0, rel=1e-6)


def test_inputs_of_one_step_form_one_candidate(build_dir):
    # two inputs at t = 0 with w = 1.5, -0.4: the reference forms a candidate per input, 1.5/0.5 = 3 after
    # the first; the stepped neuron sees both in one step: (1.5 - 0.4)/(1.1 - 1) = 11 (a known difference)
    layers = single_layer([1.5, -0.4])
    z0 = torch.ones(1, 2)
    assert ReferenceNetwork(layers).forward(z0)[0].item() == pytest.approx(3.0)
    (z_hat,) = SteppedNetwork(layers, dt=DT, build_dir=build_dir).forward(z0)
    assert z_hat.item() == pytest.approx(11.0, rel=1e-4)


def test_silent_neuron_gets_the_sentinel(build_dir):
    net = SteppedNetwork(single_layer([0.3, 0.2], etp=2.0), dt=DT, build_dir=build_dir)
    z0 = torch.exp(torch.tensor([[0.1, 0.4]]))
    (z_hat,) = net.forward(z0)
    assert z_hat.item() == pytest.approx(2.0 * SENTINEL, rel=1e-6)
    (t_spike,) = net.spike_times(z0)
    assert abs(t_spike.item() - math.log(2.0 * SENTINEL)) <= DT / 2 + 1e-4


def test_forward_agrees_with_reference_within_dt(build_dir):
    ref, copy = random_net((5, 12, 4), seed=2)
    z0 = torch.exp(1 - torch.rand(48, 5, generator=torch.Generator().manual_seed(5)))
    net = SteppedNetwork(copy.layers, dt=DT, batch_size=16, build_dir=build_dir)
    stepped, analytic = net.forward(z0), ref.forward(z0)
    for a, b in zip(stepped, analytic, strict=True):
        assert a.shape == b.shape
        # input and spike times are rounded to the nearest step: |Δ ln z| ≤ DT/2 per layer
        assert torch.allclose(a, b, rtol=DT, atol=0)
    assert torch.equal(net.output(z0), stepped[-1])  # stops at the outputs, same values
    assert torch.equal(net.predict(z0), ref.predict(z0))


def test_chunking_and_padding_do_not_change_results(build_dir):
    _, copy = random_net((5, 12, 4), seed=3)
    z0 = torch.exp(1 - torch.rand(7, 5, generator=torch.Generator().manual_seed(1)))
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    whole = SteppedNetwork(copy.layers, dt=DT, batch_size=7, build_dir=build_dir)
    chunked = SteppedNetwork(copy.layers, dt=DT, batch_size=3, build_dir=build_dir)
    for a, b in zip(whole.forward(z0), chunked.forward(z0), strict=True):
        assert torch.allclose(a, b, rtol=1e-5)
    grads_whole, _, _ = whole.gradients(z0, labels)
    grads_chunked, _, _ = chunked.gradients(z0, labels)
    for (a, b), (c, d) in zip(grads_whole, grads_chunked, strict=True):
        assert torch.allclose(a, c, rtol=1e-5, atol=1e-5) and torch.allclose(b, d, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sizes", [(4, 6, 3), (4, 6, 5, 3)])
def test_gradients_agree_with_reference(build_dir, sizes):
    ref, copy = random_net(sizes, seed=1)
    z0 = grid_inputs(12, sizes[0], DT, seed=4)
    labels = torch.randint(0, sizes[-1], (12,), generator=torch.Generator().manual_seed(2))
    net = SteppedNetwork(copy.layers, dt=DT, batch_size=12, build_dir=build_dir)
    stepped, z_stepped, _ = net.gradients(z0, labels)
    analytic, z_analytic, _ = ref.gradients(z0, labels)
    assert torch.allclose(z_stepped, z_analytic, rtol=DT)
    for (g_w, g_p), (r_w, r_p) in zip(stepped, analytic, strict=True):
        assert r_w.abs().max() > 0.1  # the comparison is not trivially between zeros
        assert (g_w - r_w).abs().max() <= 5e-3 * r_w.abs().max()
        assert (g_p - r_p).abs().max() <= 5e-3 * r_p.abs().max()


def test_train_step_moves_weights_like_the_reference(build_dir):
    # the first Adam step moves every parameter by lr·sign(g): both sides must move identically
    ref, copy = random_net((4, 6, 3), seed=1)
    z0 = grid_inputs(12, 4, DT, seed=4)
    labels = torch.randint(0, 3, (12,), generator=torch.Generator().manual_seed(2))
    net = SteppedNetwork(copy.layers, dt=DT, batch_size=12, build_dir=build_dir)
    before = [layer.w.clone() for layer in copy.layers]
    stats_stepped = net.train_step(z0, labels, 1e-2, 1e-3)
    stats_ref = ref.train_step(z0, labels, 1e-2, 1e-3)
    assert stats_stepped["accuracy"] == stats_ref["accuracy"]
    assert stats_stepped["loss"] == pytest.approx(stats_ref["loss"], rel=1e-2)
    for old, mine, theirs in zip(before, copy.layers, ref.layers, strict=True):
        assert torch.allclose((mine.w - old).abs(), torch.full_like(old, 1e-2), rtol=1e-3)
        assert torch.allclose(mine.w, theirs.w, atol=1e-6)
        assert mine.step == theirs.step == 1


def test_small_etp_acts_as_the_minimum_delay(build_dir):
    ref, copy = random_net((4, 6, 3), seed=1)
    for net in (ref, copy):
        net.layers[0].etp[:2] = torch.tensor([-0.5, 0.001])
    stepped = SteppedNetwork(copy.layers, dt=DT, batch_size=4, build_dir=build_dir)
    z0 = grid_inputs(4, 4, DT, seed=3)
    ref.layers[0].etp.clamp_(min=ETP_MIN)
    for a, b in zip(stepped.forward(z0), ref.forward(z0), strict=True):
        assert torch.allclose(a, b, rtol=1e-3)
    assert copy.layers[0].etp[0].item() == -0.5  # the parameter itself is left alone


def test_xor_learns_on_the_stepped_network(build_dir):
    # η_w = 1e-2 (10x the original) so that this seed solves XOR within 100 epochs; the float64 reference
    # trained from the same start (near-exact arithmetic, no time grid) takes the same path to the solution
    ref, copy = random_net((2, 8, 2), seed=0)
    ref = ReferenceNetwork([layer.to(dtype=torch.float64) for layer in ref.layers], **ref.options)
    net = SteppedNetwork(copy.layers, dt=DT, batch_size=4, build_dir=build_dir)
    z0 = torch.exp(1 - XOR_X)
    runs = {}
    for name, network, inputs in (("stepped", net, z0), ("reference", ref, z0.double())):
        first = network.train_step(inputs, XOR_Y, 1e-2, 1e-2)
        for _ in range(99):
            last = network.train_step(inputs, XOR_Y, 1e-2, 1e-2)
        assert first["accuracy"] <= 0.75 and last["accuracy"] == 1.0, name
        assert last["loss"] < first["loss"] / 5, name
        runs[name] = (first["loss"], last["loss"])
    assert runs["stepped"][0] == pytest.approx(runs["reference"][0], rel=1e-3)  # the same start
    assert runs["stepped"][1] == pytest.approx(runs["reference"][1], rel=0.3)  # the same end, but for dt


@pytest.mark.genn
@pytest.mark.skipif(not sim.pygenn_available(), reason="pygenn is not installed")
def test_numba_and_genn_engines_agree(build_dir):
    _, copy = random_net((4, 6, 3), seed=1)
    z0 = torch.exp(1 - torch.rand(3, 4, generator=torch.Generator().manual_seed(8)))
    labels = torch.tensor([0, 2, 1])
    results = {}
    for engine in ("numba", "genn"):
        backend = "single_threaded_cpu" if engine == "genn" else None
        net = SteppedNetwork(copy.layers, engine=engine, dt=DT, backend=backend, build_dir=build_dir)
        results[engine] = (net.forward(z0), net.gradients(z0, labels)[0])
    (z_numba, g_numba), (z_genn, g_genn) = results["numba"], results["genn"]
    for a, b in zip(z_numba, z_genn, strict=True):
        assert torch.allclose(a, b, rtol=1e-6)
    for (a, b), (c, d) in zip(g_numba, g_genn, strict=True):
        assert torch.allclose(a, c, rtol=1e-5, atol=1e-6) and torch.allclose(b, d, rtol=1e-5, atol=1e-6)


def test_bad_inputs_are_refused(build_dir):
    _, copy = random_net((4, 6, 3), seed=1)
    net = SteppedNetwork(copy.layers, dt=DT, batch_size=2, build_dir=build_dir)
    good = torch.ones(2, 4)
    with pytest.raises(UserError, match=r"shape \(B, 4\)"):
        net.forward(torch.ones(2, 5))
    with pytest.raises(UserError, match="finite and > 0"):
        net.predict(torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(UserError, match=r"labels must be in \[0, 2\]"):
        net.train_step(good, torch.tensor([0, 3]), 1e-3, 1e-3)
    with pytest.raises(UserError, match="labels must be 2 integers"):
        net.train_step(good, torch.tensor([0.0, 1.0]), 1e-3, 1e-3)
    with pytest.raises(UserError, match="dt must be in"):
        SteppedNetwork(copy.layers, dt=0.0)
    with pytest.raises(UserError, match="at least one layer"):
        SteppedNetwork([])
    with pytest.raises(UserError, match="do not follow"):
        SteppedNetwork([copy.layers[1], copy.layers[0]])
    with pytest.raises(UserError, match="unknown engine"):
        SteppedNetwork(copy.layers, engine="brian")
    copy.layers[0].w[0, 0] = float("nan")
    with pytest.raises(UserError, match="must be finite"):
        net.forward(good)
