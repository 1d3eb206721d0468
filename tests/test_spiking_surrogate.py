"""Spike functions: Heaviside forward, surrogate backward against hand formulas and against the derivative of
the soft step each surrogate integrates to (gradcheck in float64), and the registry's errors.

The spike's own backward is *not* the derivative of its forward (the step's derivative is 0 almost
everywhere), so ``gradcheck`` on the spike function itself would be meaningless. What is meaningful is
that each surrogate ``g`` is the exact derivative of an explicit soft step ``G`` written out here by hand:
a test-only autograd Function with forward ``G`` and backward the library's ``g`` must pass ``gradcheck``
(which compares the backward with central finite differences of the forward), and a deliberately wrong
``G`` must fail it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from hybridsnn.errors import UserError
from hybridsnn.spiking import Exponential, Rectangular, Surrogate, Triangular, get_surrogate


def spike_grad(surrogate: Surrogate, x: torch.Tensor, upstream: float = 1.0) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (surrogate(x) * upstream).sum().backward()
    assert x.grad is not None
    return x.grad


# -- forward -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_heaviside_with_inclusive_or_strict_threshold(dtype: torch.dtype) -> None:
    x = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 2.0], dtype=dtype)
    for surrogate in (Rectangular(), Triangular(), Exponential()):
        strict = surrogate(x)
        assert strict.dtype == dtype
        assert strict.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # HP-SNN / Hebbian memory: u > θ
        assert surrogate(x, inclusive=True).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]  # DSL: u >= θ


# -- backward against hand formulas --------------------------------------------------------------------
def test_rectangular_backward_is_a_boxcar_of_height_one_and_half_width_lens() -> None:
    # HP-SNN ActFun: grad * 1[|u − θ| < lens], lens = 0.5 (window of full width 1, height 1, not normalised)
    x = torch.tensor([-0.6, -0.5, -0.49, 0.0, 0.3, 0.5, 0.7], dtype=torch.float64)
    assert spike_grad(Rectangular(width=0.5, height=1.0), x).tolist() == [0, 0, 1, 1, 1, 0, 0]
    assert spike_grad(Rectangular(width=0.5, height=1.0), x, upstream=3.0).tolist() == [0, 0, 3, 3, 3, 0, 0]


def test_triangular_backward_matches_hand_values() -> None:
    # width 0.1, height 10: g(x) = 10 * max(0, 1 - |x| / 0.1)
    x = torch.tensor([-0.2, -0.05, 0.0, 0.025, 0.1, 0.3], dtype=torch.float64)
    expected = torch.tensor([0.0, 5.0, 10.0, 7.5, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(spike_grad(Triangular(width=0.1, height=10.0), x), expected)


def test_exponential_backward_is_dsl_exp_minus_abs_distance() -> None:
    # DSL ExponentialSurroGrad: grad * exp(-|u - θ|)
    x = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64)
    expected = torch.tensor([math.exp(-1), 1.0, math.exp(-0.5), math.exp(-2)], dtype=torch.float64)
    torch.testing.assert_close(spike_grad(Exponential(), x), expected)
    torch.testing.assert_close(
        spike_grad(Exponential(width=2.0, height=0.5), x), 0.5 * torch.exp(-x.abs() / 2)
    )


def test_triangular_in_membrane_units_equals_hebbian_memory_scaled_surrogate() -> None:
    """Hebbian memory: z = H(v_s), dz/dv_s = damp * max(0, 1 - |v_s|), v_s = (v - θ)/θ; autograd adds 1/θ."""
    theta, damp = 0.1, 0.7

    class HebbianSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, v_scaled: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(v_scaled)
            return (v_scaled > 0).to(v_scaled.dtype)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (v_scaled,) = ctx.saved_tensors
            return grad * damp * torch.clamp(1 - v_scaled.abs(), min=0)

    v = torch.linspace(-0.1, 0.35, 46, dtype=torch.float64, requires_grad=True)
    reference = HebbianSpike.apply((v - theta) / theta)
    (reference_grad,) = torch.autograd.grad(reference.sum(), v)
    ours = Triangular(width=theta, height=damp / theta)(v - theta)
    (ours_grad,) = torch.autograd.grad(ours.sum(), v)
    assert torch.equal(ours, reference)
    torch.testing.assert_close(ours_grad, reference_grad)
    assert reference_grad.abs().sum() > 0


# -- backward as the derivative of an explicit soft step (gradcheck) -----------------------------------
def soft_step(name: str, x: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """Hand-written integrals G(x) = ∫_0^x g of each surrogate."""
    if name == "rectangular":
        return height * x.clamp(-width, width)
    if name == "triangular":
        a = x.abs().clamp(max=width)
        return height * torch.sign(x) * (a - a * a / (2 * width))
    return height * width * torch.sign(x) * (1 - torch.exp(-x.abs() / width))


def with_surrogate_backward(surrogate: Surrogate, primitive: Any) -> Any:
    class SoftStep(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return primitive(x)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return grad * surrogate.derivative(x)

    return SoftStep.apply


# points away from the boxcar's jumps at ±width, where g has no derivative-of-anything meaning
POINTS = torch.tensor([-2.3, -0.7, -0.31, -0.05, 0.0, 0.02, 0.27, 0.45, 1.9], dtype=torch.float64)


@pytest.mark.parametrize("name", ["rectangular", "triangular", "exponential"])
def test_surrogate_is_the_derivative_of_its_soft_step(name: str) -> None:
    width, height = 0.6, 1.7
    surrogate = get_surrogate(name, width=width, height=height)
    fn = with_surrogate_backward(surrogate, lambda x: soft_step(name, x, width, height))
    assert torch.autograd.gradcheck(fn, (POINTS.clone().requires_grad_(True),), eps=1e-6, atol=1e-7)
    # the spike function's backward uses exactly this derivative
    torch.testing.assert_close(spike_grad(surrogate, POINTS), surrogate.derivative(POINTS))


@pytest.mark.parametrize("name", ["rectangular", "triangular", "exponential"])
def test_gradcheck_detects_a_surrogate_that_is_not_the_derivative(name: str) -> None:
    surrogate = get_surrogate(name, width=0.6, height=1.7)
    wrong = with_surrogate_backward(surrogate, lambda x: soft_step(name, x, 0.6, 1.9))
    assert not torch.autograd.gradcheck(
        wrong, (POINTS.clone().requires_grad_(True),), eps=1e-6, atol=1e-7, raise_exception=False
    )


# -- registry ------------------------------------------------------------------------------------------
def test_registry_builds_each_surrogate_with_parameters() -> None:
    surrogate = get_surrogate("rectangular", width=0.5)
    assert isinstance(surrogate, Rectangular)
    assert (surrogate.width, surrogate.height) == (0.5, 1.0)
    assert isinstance(get_surrogate("triangular", height=10.0), Triangular)
    assert get_surrogate("exponential") == Exponential(width=1.0, height=1.0)


def test_registry_rejects_unknown_names_and_parameters() -> None:
    with pytest.raises(UserError, match=r"unknown surrogate 'sigmoid'; allowed: exponential, rectangular"):
        get_surrogate("sigmoid")
    with pytest.raises(UserError, match=r"no parameter 'slope'; allowed: height, width"):
        get_surrogate("exponential", slope=2.0)


@pytest.mark.parametrize("params", [{"width": 0.0}, {"height": -1.0}, {"width": float("nan")}])
def test_surrogate_parameters_must_be_positive(params: dict[str, float]) -> None:
    with pytest.raises(UserError, match="must be a finite number > 0"):
        get_surrogate("triangular", **params)
