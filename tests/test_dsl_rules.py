"""DSL learning rules: gradient paths against hand-derived formulas and the seed's per-step formulation,
gradient blocking between blocks, Adam101, the lr schedule, and learning on small data."""

from __future__ import annotations

import bisect
import copy
import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hybridsnn.dsl.adam101 import Adam101
from hybridsnn.dsl.block import LocalBlock, dsl_lif_config
from hybridsnn.dsl.network import DSLNetwork
from hybridsnn.dsl.rules import RULES, get_rule
from hybridsnn.dsl.seed_oracle import seed_network_window
from hybridsnn.dsl.training import make_schedulers

STEPS = 6
LIF = dsl_lif_config(tau=1.0, threshold=1.0)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # small sequential nets: 1 thread


class GradientRecorder(torch.optim.Optimizer):
    """An optimiser that never changes the weights but records every gradient it is asked to apply."""

    def __init__(self, params) -> None:
        super().__init__(params, {"lr": 0.0})
        self.records: list[list[torch.Tensor | None]] = []

    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"]]
        self.records.append([None if p.grad is None else p.grad.clone() for p in params])


def fc_network(seed: int = 0, n_in: int = 12, sizes: tuple[int, ...] = (16, 8), gain: float = 3.0,
               decoder: str = "trained") -> DSLNetwork:
    """Linear blocks n_in → sizes…, weights scaled by ``gain`` so that the neurons fire."""
    torch.manual_seed(seed)
    blocks, previous = [], n_in
    for size in sizes:
        blocks.append(LocalBlock(nn.Linear(previous, size, bias=False), lif=LIF, decoder=decoder))
        previous = size
    network = DSLNetwork(blocks, [()] * len(blocks))
    with torch.no_grad():
        for param in network.parameters():
            param.mul_(gain)
    return network


def conv_network(seed: int = 0) -> DSLNetwork:
    """conv 1→4 (8²) · pool2 · conv 4→8 (4²) · pool2 · fc 32→20, pooled classifiers of 64 inputs."""
    torch.manual_seed(seed)
    blocks = [
        LocalBlock(nn.Conv2d(1, 4, 3, padding=1, bias=False), lif=LIF, dim_out=8, dim_in_decoder=64),
        LocalBlock(nn.Conv2d(4, 8, 3, padding=1, bias=False), lif=LIF, dim_out=4, dim_in_decoder=64),
        LocalBlock(nn.Linear(32, 20, bias=False), lif=LIF),
    ]
    network = DSLNetwork(blocks, [(), ("pool2",), ("pool2", "flatten")])
    with torch.no_grad():
        for param in network.parameters():
            param.mul_(3.0)
    return network


def batch(seed: int, shape: tuple[int, ...], n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return x, F.one_hot(y, 10).float()


def recorded_gradients(network: DSLNetwork, rule: str, x: torch.Tensor, target: torch.Tensor,
                       reference: bool = False) -> list[list[list[torch.Tensor | None]]]:
    recorders = [GradientRecorder(block.parameters()) for block in network.blocks]
    if reference:
        seed_network_window(network, x, target, STEPS, rule, recorders)
    else:
        network.train_window(x, target, STEPS, get_rule(rule), recorders)
    return [recorder.records for recorder in recorders]


def test_dsl_neuron_is_leaky_soft_reset_inclusive_with_exponential_surrogate():
    assert LIF.decay == pytest.approx(math.exp(-1.0))
    block = LocalBlock(nn.Linear(1, 1, bias=False), lif=LIF)
    u = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)
    spikes = block.spike(u)
    assert spikes.tolist() == [0.0, 1.0, 1.0]  # u >= θ fires
    spikes.sum().backward()
    assert torch.allclose(u.grad, torch.exp(-(u.detach() - 1.0).abs()))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("make", [fc_network, conv_network], ids=["fc", "conv"])
def test_gradients_equal_the_seed_formulation_at_every_step(rule, make):
    network = make()
    shape = (12,) if make is fc_network else (1, 8, 8)
    x, target = batch(1, shape)
    ours = recorded_gradients(network, rule, x, target)
    seed = recorded_gradients(network, rule, x, target, reference=True)
    assert [len(r) for r in ours] == [1 if rule == "BELL" else STEPS] * len(network.blocks)
    for block_ours, block_seed in zip(ours, seed, strict=True):
        for step_ours, step_seed in zip(block_ours, block_seed, strict=True):
            for g_ours, g_seed in zip(step_ours, step_seed, strict=True):
                assert g_ours is not None and g_seed is not None
                torch.testing.assert_close(g_ours, g_seed, rtol=1e-5, atol=1e-7)


def test_ell_gradient_equals_the_single_step_formula():
    network = fc_network(sizes=(16,))
    block = network.blocks[0]
    x, target = batch(2, (12,))
    (records,) = recorded_gradients(network, "ELL", x, target)
    W, D = block.encoder.weight.detach(), block.decoder.weight.detach()
    lam, theta = LIF.decay, LIF.threshold
    g = lambda v: torch.exp(-(v - theta).abs())  # noqa: E731
    u = v = s = o = None
    nonzero = 0
    for t in range(STEPS):
        u = x @ W.T if t == 0 else lam * u + x @ W.T - lam * theta * s
        s = (u >= theta).float()
        v = s @ D.T if t == 0 else lam * v + s @ D.T - lam * theta * o
        o = (v >= theta).float()
        dv = 2 * (o - target) / target.numel() * g(v)
        du = (dv @ D) * g(u)
        grad_w, grad_d = records[t]
        torch.testing.assert_close(grad_w, du.T @ x, rtol=1e-5, atol=1e-8)
        torch.testing.assert_close(grad_d, dv.T @ s, rtol=1e-5, atol=1e-8)
        nonzero += int(du.abs().sum() > 0)
    assert nonzero >= 2  # the check is not vacuous


def test_rules_follow_different_gradient_paths():
    network = fc_network(sizes=(16,))
    x, target = batch(3, (12,))
    grads = {rule: recorded_gradients(network, rule, x, target)[0] for rule in RULES}
    ell = [step[0] for step in grads["ELL"]]
    fell = [step[0] for step in grads["FELL"]]
    torch.testing.assert_close(ell[0], fell[0])  # at t = 0 there is no past
    assert any(not torch.allclose(a, b) for a, b in zip(ell[1:], fell[1:], strict=True))
    # BELL's one gradient is the full BPTT of Σ_t L_t: neither the ELL nor the FELL sum over steps
    bell = grads["BELL"][0][0]
    assert not torch.allclose(bell, torch.stack(ell).sum(0))
    assert not torch.allclose(bell, torch.stack(fell).sum(0))


@pytest.mark.parametrize("rule", RULES)
def test_no_gradient_crosses_blocks(rule):
    network = fc_network(sizes=(16, 8))
    x, target = batch(4, (12,))
    first, second = network.blocks
    optimizers = [Adam101(b.parameters(), lr=1e-2) for b in network.blocks]
    second_before = [p.detach().clone() for p in second.parameters()]
    original = optimizers[1].step
    snapshots = []

    def spy_step(*args, **kwargs):  # block 2 learns with block 1's gradients untouched
        snapshots.append([None if p.grad is None else p.grad.clone() for p in first.parameters()])
        return original(*args, **kwargs)

    optimizers[1].step = spy_step
    before = None
    outputs, _ = network.train_window(x, target, STEPS, get_rule(rule), optimizers)
    before = [p.grad.clone() for p in first.parameters()]
    assert all(torch.equal(a, b) for snap in snapshots for a, b in zip(snap, before, strict=True))
    assert all(not torch.equal(a, p) for a, p in zip(second_before, second.parameters(), strict=True))
    assert all(not out.requires_grad for out in outputs)
    result_spikes = first.window(x, STEPS, static=True)[0]
    assert result_spikes.requires_grad  # inside a block the graph exists; it is cut at the block boundary


def test_random_matrix_freezes_the_classifier_and_fa_trains_both_matrices_alike():
    x, target = batch(5, (12,))
    frozen = fc_network(sizes=(16,), decoder="random")
    (records,) = recorded_gradients(frozen, "ELL", x, target)
    assert all(step[1] is None and step[0] is not None for step in records)
    fa = fc_network(sizes=(16,), decoder="fa")
    decoder = fa.blocks[0].decoder
    gap = (decoder.weight - decoder.weight_fa).detach().clone()
    start = decoder.weight.detach().clone()
    optimizer = Adam101(fa.parameters(), lr=1e-2)
    for seed in range(3):
        xb, tb = batch(10 + seed, (12,))
        fa.train_window(xb, tb, STEPS, get_rule("ELL"), [optimizer])
    assert (decoder.weight - start).abs().max() > 1e-3  # the classifier did learn ...
    torch.testing.assert_close(decoder.weight - decoder.weight_fa, gap)  # ... and B moved with it


def test_fa_layer_gradients_by_hand():
    """y = x Wᵀ; the input gets g B (the feedback matrix, not W), and W and B both get gᵀ x."""
    from hybridsnn.dsl.decoder import LinearFA

    torch.manual_seed(3)
    layer = LinearFA(4, 3)
    x = torch.randn(5, 4, requires_grad=True)
    g = torch.randn(5, 3)
    y = layer(x)
    torch.testing.assert_close(y, x @ layer.weight.t())
    y.backward(g)
    torch.testing.assert_close(x.grad, g @ layer.weight_fa.detach())
    assert not torch.allclose(x.grad, g @ layer.weight.detach())
    torch.testing.assert_close(layer.weight.grad, g.t() @ x.detach())
    torch.testing.assert_close(layer.weight_fa.grad, g.t() @ x.detach())


@pytest.mark.parametrize("rule", RULES)
def test_training_matches_the_seed_formulation_with_adam101(rule):
    network = conv_network()
    seed = copy.deepcopy(network)
    ours_opt = [Adam101(b.parameters(), lr=5e-3) for b in network.blocks]
    seed_opt = [Adam101(b.parameters(), lr=5e-3) for b in seed.blocks]
    start = [p.detach().clone() for p in network.parameters()]
    for step in range(3):
        x, target = batch(20 + step, (1, 8, 8), n=16)
        network.train_window(x, target, STEPS, get_rule(rule), ours_opt)
        seed_network_window(seed, x, target, STEPS, rule, seed_opt)
    moved = max((p - q).abs().max().item() for p, q in zip(network.parameters(), start, strict=True))
    assert moved > 1e-3
    for ours, theirs in zip(network.parameters(), seed.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-6)
    x, target = batch(99, (1, 8, 8))
    with torch.no_grad():
        seed_outputs, _ = seed_network_window(seed, x, target, STEPS, rule, None)
        for a, b in zip(network(x, STEPS), seed_outputs, strict=True):
            assert torch.equal(a, b)


def test_evaluation_is_rule_independent():
    network = conv_network()
    x, target = batch(6, (1, 8, 8))
    with torch.no_grad():
        results = [seed_network_window(network, x, target, STEPS, rule, None)[0] for rule in RULES]
    for outputs in results[1:]:
        for a, b in zip(outputs, results[0], strict=True):
            assert torch.equal(a, b)


def test_adam101_uses_torch_1_0_1_formula_and_differs_from_torch_adam():
    grad = torch.tensor([1e-6, -3e-6, 2e-3])
    lr, (b1, b2), eps = 1e-3, (0.9, 0.999), 1e-8
    params = [torch.zeros(3, requires_grad=True) for _ in range(2)]
    ours, stock = Adam101([params[0]], lr=lr), torch.optim.Adam([params[1]], lr=lr)
    m = v = torch.zeros(3)
    expected = torch.zeros(3)
    for k in range(1, 4):
        for p in params:
            p.grad = grad.clone()
        ours.step()
        stock.step()
        m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad**2
        expected -= lr * math.sqrt(1 - b2**k) / (1 - b1**k) * m / (v.sqrt() + eps)
    torch.testing.assert_close(params[0].detach(), expected)
    assert not torch.allclose(params[0], params[1], rtol=1e-3, atol=0)  # eps placement matters here


def test_lr_schedule_is_the_seeds_bisect_rule():
    param = torch.zeros(1, requires_grad=True)
    optimizer = Adam101([param], lr=5e-4)
    (scheduler,) = make_schedulers([optimizer], [15, 30, 45], 0.2)
    for epoch in range(1, 51):
        expected = 5e-4 * 0.2 ** bisect.bisect_right([15, 30, 45], epoch - 1)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
        param.grad = torch.zeros(1)
        optimizer.step()  # an epoch of training (zero gradient: nothing moves)
        scheduler.step()


@pytest.mark.parametrize(("rule", "lr"), [("ELL", 3e-3), ("FELL", 3e-3), ("BELL", 1e-2)])
def test_a_few_steps_lower_the_loss(rule, lr):
    """20 updates on one batch of 100 digits: Σ_t L_t falls far below the silent network's T·0.1."""
    x_train, y_train, _, _ = digits_split()
    torch.manual_seed(0)
    block = LocalBlock(nn.Linear(64, 100, bias=False), lif=LIF)
    network = DSLNetwork([block], [()])
    optimizers = [Adam101(block.parameters(), lr=lr)]
    target = F.one_hot(y_train[:100], 10).float()
    trainer = get_rule(rule)
    losses = [float(network.train_window(x_train[:100], target, STEPS, trainer, optimizers)[1])
              for _ in range(20)]
    assert losses[0] == pytest.approx(STEPS * 0.1)  # silent at the start: every target neuron misses
    assert max(losses[-3:]) < 0.5 * losses[0]


@functools.cache
def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """sklearn's bundled 8×8 digits in [0, 1]: 1437 train / 360 test after a seeded permutation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    x, y = x[order], y[order]
    return x[:1437], y[:1437], x[1437:], y[1437:]


@pytest.mark.parametrize(("rule", "lr"), [("ELL", 1e-3), ("FELL", 1e-3), ("BELL", 3e-3)])
def test_each_rule_learns_sklearn_digits(rule, lr):
    """digits-fc with 200 neurons (docs/dsl.md, «How it is checked»): test error far below chance (90 %)
    after 3 epochs."""
    torch.manual_seed(1234)
    block = LocalBlock(nn.Linear(64, 200, bias=False), lif=dsl_lif_config())
    network = DSLNetwork([block], [()])
    optimizers = [Adam101(block.parameters(), lr=lr)]
    x_train, y_train, x_test, y_test = digits_split()
    trainer = get_rule(rule)
    for _ in range(3):
        for index in torch.randperm(len(y_train)).split(100):
            target = F.one_hot(y_train[index], 10).float()
            network.train_window(x_train[index], target, 10, trainer, optimizers)
    with torch.no_grad():
        counts = network(x_test, 10)[-1].sum(0)
    error = (counts.argmax(-1) != y_test).float().mean().item()
    assert error < 0.15


def test_latency_coded_input_learns_through_the_temporal_first_layer():
    """``--encoding latency``: a spike per pixel at step round((T−1)(1−x)); the first block sees [T, B, …]."""
    from hybridsnn.dsl.training import DSLSteps

    torch.manual_seed(1234)
    block = LocalBlock(nn.Linear(64, 200, bias=False), lif=dsl_lif_config())
    network = DSLNetwork([block], [("flatten",)])
    steps = DSLSteps(network, trainer=get_rule("ELL"), steps=10, device=torch.device("cpu"),
                     optimizers=[Adam101(block.parameters(), lr=3e-3)], encoding="latency")
    x_train, y_train, x_test, y_test = digits_split()
    coded = steps.inputs(x_test[:2].view(-1, 1, 8, 8))
    assert coded.shape == (10, 2, 1, 8, 8) and torch.equal(coded.sum(0), torch.ones(2, 1, 8, 8))
    assert torch.equal(coded[0, 0, 0], (x_test[0].view(8, 8) == 1.0).float())  # brightest pixels fire first
    for _ in range(3):
        for index in torch.randperm(len(y_train)).split(100):
            steps.train_step((x_train[index].view(-1, 1, 8, 8), y_train[index]))
    assert steps.eval_step((x_test.view(-1, 1, 8, 8), y_test))["accuracy"] > 0.3  # chance: 0.1


def test_fa_layer_starts_from_two_consecutive_default_linear_initialisations():
    """PyTorch's nn.Linear default (kaiming-uniform, a = √5) for W, then for B, with no bias draw between."""
    from hybridsnn.dsl.decoder import LinearFA

    torch.manual_seed(5)
    layer = LinearFA(4, 3)
    torch.manual_seed(5)
    expected = [nn.init.kaiming_uniform_(torch.empty(3, 4), a=math.sqrt(5)) for _ in range(2)]
    assert torch.equal(layer.weight.detach(), expected[0])
    assert torch.equal(layer.weight_fa.detach(), expected[1])


class _DataSGD(torch.optim.Optimizer):
    """Plain SGD through ``p.data`` (no version-counter bump, unlike torch.optim.SGD)."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data.add_(p.grad, alpha=-group["lr"])


def test_fell_graph_holds_weight_copies_so_torch_optimisers_can_update_in_place():
    """FELL keeps the window's graph across optimiser steps. A torch optimiser updates the parameters in place
    (bumping their version), so the graph must save copies of the weights, not the parameters
    (docs/dsl.md, «Decisions against the original»); the conv network's second block runs on temporal input
    (the spikes of the first)."""
    trained = []
    for make_optimizer in (lambda p: torch.optim.SGD(p, lr=0.05), lambda p: _DataSGD(p, lr=0.05)):
        network = conv_network()
        start = [p.detach().clone() for p in network.parameters()]
        optimizers = [make_optimizer(block.parameters()) for block in network.blocks]
        for step in range(2):
            x, target = batch(20 + step, (1, 8, 8), n=4)
            network.train_window(x, target, STEPS, get_rule("FELL"), optimizers)
        moved = [(p - q).abs().max().item() for p, q in zip(network.parameters(), start, strict=True)]
        assert max(moved) > 1e-3
        trained.append([p.detach() for p in network.parameters()])
    for in_place, through_data in zip(*trained, strict=True):
        assert torch.equal(in_place, through_data)
