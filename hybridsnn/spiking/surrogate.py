"""Spike functions with surrogate gradients.

A spike function maps the *threshold distance* ``x = u − θ`` (membrane units) to a spike: the forward pass is
the Heaviside step ``H(x)`` (1.0 at a threshold crossing, else 0.0); the backward pass replaces the step's
derivative (zero almost everywhere) by a *surrogate* pseudo-derivative ``g(x)`` with a ``width`` (membrane
units) and a ``height`` (per membrane unit):

=============  ===================================  ===================================================
name           g(x)                                 used by (seed)
=============  ===================================  ===================================================
rectangular    height · 1[|x| < width]              HP-SNN ``ActFun``: width = lens = 0.5,
                                                    height 1 — a window of full width 1, not normalised
triangular     height · max(0, 1 − |x| / width)     Hebbian memory ``SpikeFunction``
                                                    on ``v_s = (v − θ)/θ`` with damp · max(0, 1 − |v_s|):
                                                    in membrane units width = θ, height = damp / θ
exponential    height · exp(−|x| / width)           DSL ``ExponentialSurroGrad``: width 1,
                                                    height 1 (peak 1 at u = θ)
=============  ===================================  ===================================================

The systems' equations: docs/hp.md, docs/hebbian.md and docs/dsl.md, «Model and equations».

Each ``g`` is the exact derivative of a continuous "soft step" (its integral from 0): a clipped ramp, a
piecewise quadratic and a two-sided exponential approach to ±height·width respectively. The forward pass never
uses that soft step; it only makes the backward pass a well-defined derivative that tests can check.

The comparison at the threshold differs between seeds: DSL spikes at ``u >= θ`` (``inclusive=True``), HP-SNN
and the Hebbian memory at ``u > θ`` (``inclusive=False``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from hybridsnn.errors import UserError, unknown_choice


@dataclass(frozen=True)
class Surrogate(ABC):
    """A surrogate pseudo-derivative ``g(x)`` of the Heaviside step at ``x = u − θ``.

    ``width`` is in membrane units (> 0); ``height`` is ``g``'s peak value (per membrane unit, > 0).
    Calling the surrogate on ``x`` gives spikes with this surrogate in the backward pass.
    """

    width: float = 1.0
    height: float = 1.0

    name: ClassVar[str] = ""  # the registry key, set by each subclass

    def __post_init__(self) -> None:
        for field_name in ("width", "height"):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise UserError(
                    f"surrogate {self.name!r}: {field_name} must be a finite number > 0, got {value!r}"
                )

    @abstractmethod
    def derivative(self, x: Tensor) -> Tensor:
        """The pseudo-derivative ``g(x)`` (same shape and dtype as ``x``)."""

    def __call__(self, x: Tensor, *, inclusive: bool = False) -> Tensor:
        """Spikes ``H(x)`` (``x >= 0`` if ``inclusive`` else ``x > 0``) with ``g`` as their gradient."""
        return SpikeFunction.apply(x, self, inclusive)


@dataclass(frozen=True)
class Rectangular(Surrogate):
    """Boxcar ``height · 1[|x| < width]`` (HP-SNN: width 0.5, height 1)."""

    name: ClassVar[str] = "rectangular"

    def derivative(self, x: Tensor) -> Tensor:
        return (x.abs() < self.width).to(x.dtype) * self.height


@dataclass(frozen=True)
class Triangular(Surrogate):
    """Piecewise-linear ``height · max(0, 1 − |x|/width)`` (Hebbian memory: width θ, height damp/θ)."""

    name: ClassVar[str] = "triangular"

    def derivative(self, x: Tensor) -> Tensor:
        return torch.clamp(1.0 - x.abs() / self.width, min=0.0) * self.height


@dataclass(frozen=True)
class Exponential(Surrogate):
    """Two-sided exponential ``height · exp(−|x|/width)`` (DSL: width 1, height 1)."""

    name: ClassVar[str] = "exponential"

    def derivative(self, x: Tensor) -> Tensor:
        return torch.exp(-x.abs() / self.width) * self.height


class SpikeFunction(torch.autograd.Function):
    """Heaviside forward, surrogate backward: ``apply(x, surrogate, inclusive)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, surrogate: Surrogate, inclusive: bool) -> Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        crossed = x >= 0 if inclusive else x > 0
        return crossed.to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None, None


SURROGATES: dict[str, type[Surrogate]] = {
    "rectangular": Rectangular,
    "triangular": Triangular,
    "exponential": Exponential,
}


def get_surrogate(name: str, **params: float) -> Surrogate:
    """The surrogate ``name`` with ``params`` (``width``, ``height``): ``get_surrogate("triangular")``."""
    if name not in SURROGATES:
        raise unknown_choice("surrogate", name, sorted(SURROGATES))
    unknown = sorted(set(params) - {"width", "height"})
    if unknown:
        raise UserError(f"surrogate {name!r} has no parameter {unknown[0]!r}; allowed: height, width")
    return SURROGATES[name](**params)
