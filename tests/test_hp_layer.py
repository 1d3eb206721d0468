"""HP synapse maths against hand values and the seed's bmm formulation; variant switches; trace semantics."""

from __future__ import annotations

import math

import pytest
import torch

from hybridsnn.errors import UserError
from hybridsnn.hp.cnn import CNNConfig, ConvStage, DenseStage, HPConvNet
from hybridsnn.hp.corruption import add_noise, occlude_center
from hybridsnn.hp.layer import (
    HebbianRule,
    MetaInit,
    PlasticLinear,
    batch_outer,
    hebbian_update,
    split_parameters,
)
from hybridsnn.hp.methods import GP, HP, LP, METHODS
from hybridsnn.hp.mlp import HPMLP, MLPConfig
from hybridsnn.hp.seed_oracle import reference_forward
from hybridsnn.hp.training import make_optimizers, one_hot_mse

SMALL_MLP = MLPConfig(sizes=(12, 9, 4), threshold=0.35, decay=0.4, time_steps=6, tau_w=40.0)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_batch_outer_equals_the_seeds_bmm_mean_in_values_and_gradients():
    torch.manual_seed(0)
    pre = torch.randn(7, 5, requires_grad=True)
    post = torch.randn(7, 3, requires_grad=True)
    ours = batch_outer(pre, post)
    seed = torch.bmm(pre.unsqueeze(2), post.unsqueeze(1)).mean(dim=0)
    torch.testing.assert_close(ours, seed, rtol=1e-6, atol=1e-6)
    weights = torch.randn(5, 3)
    grads_ours = torch.autograd.grad((ours * weights).sum(), (pre, post))
    grads_seed = torch.autograd.grad((seed * weights).sum(), (pre, post))
    for a, b in zip(grads_ours, grads_seed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_hebbian_update_tanh_rule_matches_hand_values():
    rule = HebbianRule(sign=1.0, post="tanh", decay=0.5, bound=4.0)
    trace = torch.tensor([[2.0]])
    pre = torch.tensor([[1.0], [3.0]])  # two samples, one input
    mem = torch.tensor([[0.7], [0.0]])  # θ = 0.35 → u/θ = 2, 0
    beta, eta = torch.tensor([[0.5]]), torch.tensor([[1.0]])
    new = hebbian_update(trace, pre, mem, threshold=0.35, rule=rule, beta=beta, eta=eta)
    expected = 0.5 * 2.0 + ((1 * 0.5) * math.tanh(1.0) + (3 * 0.5) * math.tanh(-1.0)) / 2
    assert new.item() == pytest.approx(expected, rel=1e-6)


def test_hebbian_update_variants_sign_linear_clamp_and_beta_floor():
    trace = torch.zeros(1, 1)
    pre, mem = torch.tensor([[2.0]]), torch.tensor([[1.5]])  # u/θ = 3 for θ = 0.5
    beta, eta = torch.tensor([[-1.0]]), torch.tensor([[1.0]])
    linear = HebbianRule(sign=-1.0, post="linear", decay=0.9, bound=None)
    assert hebbian_update(
        trace, pre, mem, threshold=0.5, rule=linear, beta=beta, eta=eta
    ).item() == pytest.approx(-(2.0 * -1.0) * (3.0 - 1.0))  # = +4: negative sign, negative β
    clamped = HebbianRule(sign=-1.0, post="linear", decay=0.9, bound=2.0)
    assert hebbian_update(trace, pre, mem, threshold=0.5, rule=clamped, beta=beta, eta=eta).item() == 2.0
    floored = HebbianRule(sign=-1.0, post="linear", decay=0.9, bound=4.0, beta_min=0.0)
    assert hebbian_update(trace, pre, mem, threshold=0.5, rule=floored, beta=beta, eta=eta).item() == 0.0


def test_softmax_rule_of_few_shot_caps_the_rate_and_shifts_the_softmax():
    rule = HebbianRule(sign=1.0, post="softmax", decay=0.99, bound=None)
    trace = torch.ones(1, 2)
    pre, mem = torch.tensor([[2.0]]), torch.tensor([[1.0, 0.0]])
    beta, eta = torch.tensor([0.0, 1.0]), torch.tensor([0.5])  # rate capped at 0.1
    new = hebbian_update(trace, pre, mem, threshold=0.5, rule=rule, beta=beta, eta=eta)
    soft = torch.softmax(torch.tensor([1.0, -1.0]), dim=0)
    torch.testing.assert_close(new, 0.99 + 0.1 * 2.0 * soft.unsqueeze(0))


def test_combination_modes_give_hand_computed_currents():
    x = torch.tensor([[1.0, 2.0]])
    trace = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    additive = PlasticLinear(2, 2, rule=HebbianRule(), init=MetaInit(alpha=0.5, alpha_uniform=False))
    with torch.no_grad():
        additive.fc.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        additive.fc.bias.copy_(torch.tensor([0.1, 0.2]))
    torch.testing.assert_close(additive.current(x, trace), torch.tensor([[1.1 + 0.5, 3.2 + 1.0]]))

    gated = PlasticLinear(
        2,
        2,
        combine="gated",
        rule=HebbianRule(post="softmax", bound=None),
        bias=False,
        init=MetaInit(alpha=0.25, alpha_uniform=False, alpha_matrix=True),
    )
    with torch.no_grad():
        gated.fc.weight.copy_(torch.tensor([[4.0, 0.0], [0.0, 4.0]]))
    # weight = 0.25·Wᵀ + 0.75·H = diag(1.75)
    torch.testing.assert_close(gated.current(x, trace), torch.tensor([[1.75, 3.5]]))

    masked = PlasticLinear(
        2, 2, combine="masked", rule=HebbianRule(), bias=False, init=MetaInit(alpha=0.5, alpha_uniform=False)
    )
    with torch.no_grad():
        masked.fc.weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    # weight = Wᵀ⊙M + 0.5·H⊙(1−M) = [[1, 0], [0, 0.5]]
    torch.testing.assert_close(masked.current(x, trace, mask), torch.tensor([[1.0, 1.0]]))
    with pytest.raises(UserError, match="mask"):
        masked.current(x, trace)


def test_gp_synapse_has_no_local_parameters_and_keeps_its_trace():
    gp = PlasticLinear(3, 2, rule=None)
    assert split_parameters(gp)[1] == [] and not gp.plastic
    trace = torch.ones(3, 2)
    assert gp.update(trace, torch.ones(1, 3), torch.ones(1, 2), 0.5) is trace
    hp = PlasticLinear(3, 2, rule=HebbianRule())
    weights, local = split_parameters(hp)
    assert {id(p) for p in local} == {id(hp.alpha), id(hp.beta), id(hp.eta)} and len(weights) == 2


def test_bad_rules_and_combinations_are_refused():
    with pytest.raises(UserError, match="sign"):
        HebbianRule(sign=2.0)
    with pytest.raises(UserError, match="post-synaptic"):
        HebbianRule(post="relu")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="combination"):
        PlasticLinear(2, 2, combine="sum", rule=HebbianRule())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="softmax"):
        PlasticLinear(2, 2, combine="additive", rule=HebbianRule(post="softmax"))
    with pytest.raises(UserError, match="input must be"):
        HPMLP(SMALL_MLP)(torch.zeros(2, 5))


def test_hp_mlp_matches_the_seed_formulation_with_carried_traces():
    torch.manual_seed(1)
    model = HPMLP(SMALL_MLP, HP)
    with torch.no_grad():
        for layer in model.layers:
            layer.alpha.fill_(0.3)
            layer.beta.uniform_(0.0, 0.5)
        model.trace0.uniform_(-1, 1)
        model.trace1.uniform_(-1, 1)
    x = torch.rand(8, 12) * 2
    start = [t.clone() for t in model.traces()]
    model.train()
    ours = model(x)
    seed, hebbs = reference_forward(model, x, start)
    torch.testing.assert_close(ours, seed, rtol=1e-6, atol=1e-6)
    for stored, hebb in zip(model.traces(), hebbs, strict=True):
        torch.testing.assert_close(stored, hebb.detach(), rtol=1e-6, atol=1e-6)
        assert not stored.requires_grad
    assert not torch.equal(model.trace0, start[0])  # the trace evolved and was carried


def test_evaluation_uses_but_does_not_overwrite_the_training_trace():
    torch.manual_seed(2)
    model = HPMLP(SMALL_MLP, HP)
    x = torch.rand(4, 12)
    model.train()
    model(x)
    kept = [t.clone() for t in model.traces()]
    model.eval()
    first = model(x)
    assert all(torch.equal(a, b) for a, b in zip(kept, model.traces(), strict=True))
    torch.testing.assert_close(model(x), first)  # same trace → same answer
    model.reset_traces()
    assert not torch.allclose(model(x), first)  # the stored trace matters at test time


def test_lp_trains_only_the_readout_and_gp_ignores_the_local_optimiser():
    torch.manual_seed(3)
    lp = HPMLP(SMALL_MLP, LP)
    one_hot_mse(lp(torch.rand(5, 12)), torch.tensor([0, 1, 2, 3, 0])).backward()
    first, second = lp.layers
    assert all(not p.requires_grad for p in first.parameters())
    assert second.fc.weight.grad is not None and second.alpha.grad is not None
    gp = HPMLP(SMALL_MLP, GP)
    assert set(make_optimizers(gp, 1e-3, 5e-4)) == {"optim_base"}
    assert set(make_optimizers(HPMLP(SMALL_MLP, HP), 1e-3, 5e-4)) == {"optim_base", "optim_local"}


@pytest.mark.parametrize("method", ["hp", "gp", "lp"])
def test_a_few_optimisation_steps_reduce_the_loss(method):
    torch.manual_seed(4)
    model = HPMLP(SMALL_MLP, METHODS[method])
    optimizers = make_optimizers(model, 1e-2, 5e-3)
    x, y = torch.rand(32, 12) * 2, torch.arange(32) % 4
    losses = []
    for _ in range(25):
        for opt in optimizers.values():
            opt.zero_grad()
        loss = one_hot_mse(model(x), y)
        loss.backward()
        for opt in optimizers.values():
            opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def _tiny_cnn(exit_fraction: float) -> CNNConfig:
    return CNNConfig(
        "tiny",
        (1, 8, 8),
        (ConvStage(1, 3, pool=True), ConvStage(3, 4, pool=True, dropout=True)),
        (DenseStage("plastic", 16, 6), DenseStage("spiking", 6, 3)),
        threshold=0.3,
        decay=0.6,
        reset="zero",
        tau_w=40.0,
        time_steps=6,
        rule=HebbianRule(sign=-1.0, post="linear", bound=2.0),
        init=MetaInit(alpha=0.1, alpha_uniform=False),
        exit_fraction=exit_fraction,
        out_clamp=1.1,
        batch_size=4,
        epochs=1,
    )


def test_cnn_early_exit_stops_when_enough_outputs_cross_threshold():
    torch.manual_seed(5)
    x = torch.rand(4, 1, 8, 8)
    eager = HPConvNet(_tiny_cnn(exit_fraction=-1.0)).eval()
    eager(x)
    assert eager.steps_used == 2  # step 1 is the first allowed exit
    never = HPConvNet(_tiny_cnn(exit_fraction=1.0)).eval()
    scores = never(x)
    assert never.steps_used == 6 and scores.shape == (4, 3) and scores.max() <= 1.1 + 1e-6
    never.train()
    one_hot_mse(never(x), torch.tensor([0, 1, 2, 0])).backward()
    assert never.dense[0].alpha.grad is not None and not torch.equal(never.trace, torch.zeros(16, 6))


def test_salt_pepper_and_speckle_follow_the_seeds_parameters():
    images = torch.full((4, 1, 28, 28), 0.5)
    gen = torch.Generator().manual_seed(1)
    salt = add_noise(images, 10, "salt", gen)  # fraction 0.1 set to 1
    assert set(salt.unique().tolist()) == {0.5, 1.0} and (salt == 1).float().mean() == pytest.approx(
        0.1, abs=0.02
    )
    pepper = add_noise(images, 5, "pepper", gen)  # fraction 6·0.05 = 0.3 set to 0
    assert (pepper == 0).float().mean() == pytest.approx(0.3, abs=0.03)
    sp = add_noise(images, 10, "sp", gen)  # fraction 0.2, half each
    assert (sp == 0).float().mean() == pytest.approx(0.1, abs=0.02)
    assert (sp == 1).float().mean() == pytest.approx(0.1, abs=0.02)
    assert torch.equal(add_noise(torch.zeros(1, 1, 4, 4), 3, "speckle", gen), torch.zeros(1, 1, 4, 4))
    with pytest.raises(UserError, match="noise mode"):
        add_noise(images, 1, "poisson")


def test_noise_and_occlusion_transforms():
    images = torch.full((2, 1, 28, 28), 0.5)
    assert add_noise(images, 0) is images
    noisy = add_noise(images, 6, generator=torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert noisy.std().item() == pytest.approx(math.sqrt(0.06), rel=0.1)
    occluded = occlude_center(torch.ones(1, 1, 28, 28), 2)
    assert occluded.sum().item() == 28 * 28 - 16 and occluded[0, 0, 12:16, 12:16].sum() == 0
    assert occluded[0, 0, 11, 12] == 1 and occluded[0, 0, 16, 15] == 1
    with pytest.raises(UserError, match="occlusion level"):
        occlude_center(images, 15)
    with pytest.raises(UserError, match="B, C, H, W"):
        add_noise(torch.ones(28, 28), 1)


def test_trace_decays_from_its_value_and_is_clamped_on_both_sides():
    pre, mem = torch.tensor([[2.0]]), torch.tensor([[1.5]])  # u/θ = 3 for θ = 0.5
    beta, eta = torch.tensor([[1.0]]), torch.tensor([[1.0]])
    rule = HebbianRule(sign=-1.0, post="linear", decay=0.5, bound=3.0)
    # 0.5·(−2) − 2·(3 − 1) = −5, clamped to −3
    kwargs = {"threshold": 0.5, "rule": rule, "beta": beta, "eta": eta}
    assert hebbian_update(torch.tensor([[-2.0]]), pre, mem, **kwargs).item() == -3.0
    loose = HebbianRule(sign=-1.0, post="linear", decay=0.5, bound=None)
    assert hebbian_update(torch.tensor([[-2.0]]), pre, mem, **{**kwargs, "rule": loose}).item() == -5.0
    softmax = HebbianRule(post="softmax", decay=0.5, bound=None)
    trace = torch.tensor([[2.0, -4.0]])
    new = hebbian_update(trace, pre, torch.tensor([[0.0, 0.0]]), threshold=0.5, rule=softmax,
                         beta=torch.zeros(2), eta=torch.tensor([0.05]))  # fmt: skip
    torch.testing.assert_close(new, torch.tensor([[1.0 + 0.05, -2.0 + 0.05]]))  # 0.5·H + 0.05·2·½


def test_rule_and_batch_factor_bounds_are_inclusive_where_documented():
    for decay in (0.0, 1.0):
        assert HebbianRule(decay=decay).decay == decay
    for decay in (-0.1, 1.01, 2.0):
        with pytest.raises(UserError, match=r"decay must be in \[0, 1\], got"):
            HebbianRule(decay=decay)
    assert HebbianRule(bound=0.5).bound == 0.5 and HebbianRule(bound=None).bound is None
    for bound in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(UserError, match="clamp bound must be a finite number > 0 or None"):
            HebbianRule(bound=bound)
    with pytest.raises(UserError, match=r"post-synaptic factor.*'relu'"):
        HebbianRule(post="relu")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"HP combination.*'sum'"):
        PlasticLinear(2, 2, combine="sum", rule=HebbianRule())  # type: ignore[arg-type]
    for pre, post in ((torch.ones(3), torch.ones(3, 2)), (torch.ones(3, 2), torch.ones(3)),
                      (torch.ones(3, 2), torch.ones(4, 2))):  # fmt: skip
        with pytest.raises(UserError, match=r"must be \[B, N_in\] and \[B, N_out\], got \("):
            batch_outer(pre, post)


def test_meta_parameters_have_the_documented_shapes_and_initial_values():
    torch.manual_seed(0)
    hp = PlasticLinear(3, 2, rule=HebbianRule(), init=MetaInit(alpha=0.5, beta=0.25, eta=0.125))
    assert (hp.alpha.shape, hp.beta.shape, hp.eta.shape) == ((1,), (1, 3), (1, 2))
    for param, scale in ((hp.alpha, 0.5), (hp.beta, 0.25), (hp.eta, 0.125)):
        assert param.min() >= 0.0 and param.max() < scale  # scale · U(0, 1)
    assert len(set(hp.beta.flatten().tolist())) == 3  # drawn, not constant
    constant = MetaInit(alpha=0.5, beta=0.25, eta=0.125, alpha_uniform=False, beta_uniform=False,
                        eta_uniform=False, alpha_matrix=True)  # fmt: skip
    fewshot = PlasticLinear(3, 2, combine="gated", rule=HebbianRule(post="softmax"), init=constant)
    assert (fewshot.alpha.shape, fewshot.beta.shape, fewshot.eta.shape) == ((3, 2), (2,), (1,))
    assert fewshot.alpha.eq(0.5).all() and fewshot.beta.eq(0.25).all() and fewshot.eta.eq(0.125).all()


def test_gp_synapse_falls_back_to_the_plain_or_masked_weight():
    x = torch.tensor([[1.0, 2.0]])
    weight, bias = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([0.1, 0.2])
    for combine in ("additive", "gated", "none"):
        gp = PlasticLinear(2, 2, combine=combine, rule=None)
        assert gp.combine == "none" and not gp.plastic
        with torch.no_grad():
            gp.fc.weight.copy_(weight)
            gp.fc.bias.copy_(bias)
        trace = torch.ones(2, 2)  # ignored: a GP synapse has no Hebbian pathway
        torch.testing.assert_close(gp.current(x, trace), torch.tensor([[1.1, 3.2]]))
        mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # x @ (Wᵀ ⊙ M) + b = [1, 2] @ [[1, 0], [0, 1]] + b
        torch.testing.assert_close(gp.current(x, trace, mask), torch.tensor([[1.1, 2.2]]))
    assert PlasticLinear(2, 2, combine="masked", rule=None).combine == "masked"
    with pytest.raises(UserError, match="a Hebbian rule needs a combination mode other than 'none'"):
        PlasticLinear(2, 2, combine="none", rule=HebbianRule())


def test_zero_trace_has_the_layer_shape_and_the_dtype_and_device_asked_for():
    layer = PlasticLinear(3, 2, rule=HebbianRule())
    trace = layer.zero_trace()
    assert trace.shape == (3, 2) and trace.dtype == torch.float32 and not trace.any()
    assert layer.zero_trace(torch.ones(1, dtype=torch.float64)).dtype == torch.float64
    assert layer.double().zero_trace().dtype == torch.float64  # the weights' dtype by default
