"""The Hebbian memory's plasticity rule ("inverted Oja with soft upper bound"; docs/hebbian.md, «Plasticity»).

For a batch of memory matrices ``mem[b, i, j]`` (i = value/post-synaptic, j = key/pre-synaptic), the key
trace ``pre[b, j]`` and the value trace ``post[b, i]`` (dimensionless, normalised traces in [0, 1])::

    Δw_ij = γ+ · (w_max − w_ij) · post_i · pre_j  −  γ− · pre_j² · w_ij

With ``mem_0 = 0`` and non-negative traces the weights stay in ``[0, w_max]``; for constant traces the fixed
point is ``w* = w_max · post / (post + (γ−/γ+) · pre)``.

Two implementations give identical values and gradients:

* :func:`hebbian_update_reference` — plain autograd ops; autograd keeps ≈3 B×M×M tensors per call.
* :class:`FusedHebbianUpdate` — one autograd node that saves only its inputs (``mem``, ``pre``, ``post``)
  and computes the three gradients by hand; ``mem`` is shared with the memory read of the same step, so a
  store step keeps one B×M×M tensor for the backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from hybridsnn.errors import UserError


@dataclass(frozen=True)
class PlasticityConfig:
    """Constants of the rule: upper bound ``w_max`` and rates ``gamma_pos`` (γ+), ``gamma_neg`` (γ−) per step.

    The seed's spiking tasks use w_max = 1, γ+ = γ− = 0.3; the non-spiking H-Mem baselines γ± = 0.1.
    """

    w_max: float = 1.0
    gamma_pos: float = 0.3
    gamma_neg: float = 0.3

    def __post_init__(self) -> None:
        for name in ("w_max", "gamma_pos", "gamma_neg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"plasticity {name} must be a finite number, got {value!r}")
            if value < 0 or (name == "w_max" and value == 0):
                raise UserError(
                    f"plasticity {name} must be {'> 0' if name == 'w_max' else '>= 0'}, got {value}"
                )


def _check(mem: Tensor, pre: Tensor, post: Tensor) -> None:
    if mem.dim() != 3 or pre.shape != (mem.shape[0], mem.shape[2]) or post.shape != mem.shape[:2]:
        raise UserError(
            f"memory update needs mem [B, M_post, M_pre], pre [B, M_pre] and post [B, M_post]; got "
            f"{tuple(mem.shape)}, {tuple(pre.shape)} and {tuple(post.shape)}"
        )


def hebbian_update_reference(mem: Tensor, pre: Tensor, post: Tensor, config: PlasticityConfig) -> Tensor:
    """``mem + Δw`` written with ordinary autograd ops (the reference for the fused version)."""
    _check(mem, pre, post)
    outer = post.unsqueeze(2) * pre.unsqueeze(1)
    potentiation = config.gamma_pos * (config.w_max - mem) * outer
    depression = config.gamma_neg * (pre**2).unsqueeze(1) * mem
    return mem + potentiation - depression


class FusedHebbianUpdate(torch.autograd.Function):
    """``apply(mem, pre, post, w_max, gamma_pos, gamma_neg) -> mem + Δw`` saving only mem, pre and post."""

    @staticmethod
    def forward(
        ctx: Any, mem: Tensor, pre: Tensor, post: Tensor, w_max: float, gamma_pos: float, gamma_neg: float
    ) -> Tensor:
        ctx.save_for_backward(mem, pre, post)
        ctx.constants = (w_max, gamma_pos, gamma_neg)
        outer = post.unsqueeze(2) * pre.unsqueeze(1)
        # mem·(1 − γ+·outer − γ−·pre²) + γ+·w_max·outer
        keep = 1.0 - gamma_pos * outer - gamma_neg * (pre**2).unsqueeze(1)
        return mem * keep + (gamma_pos * w_max) * outer

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        mem, pre, post = ctx.saved_tensors
        w_max, gamma_pos, gamma_neg = ctx.constants
        grad_mem = grad_pre = grad_post = None
        if ctx.needs_input_grad[0]:
            outer = post.unsqueeze(2) * pre.unsqueeze(1)
            grad_mem = grad * (1.0 - gamma_pos * outer - gamma_neg * (pre**2).unsqueeze(1))
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            weighted = grad * (gamma_pos * (w_max - mem))  # ∂Δ/∂outer ⊙ grad
            if ctx.needs_input_grad[2]:
                grad_post = torch.einsum("bij,bj->bi", weighted, pre)
            if ctx.needs_input_grad[1]:
                decay = torch.einsum("bij,bij->bj", grad, mem)
                grad_pre = torch.einsum("bij,bi->bj", weighted, post) - 2.0 * gamma_neg * pre * decay
        return grad_mem, grad_pre, grad_post, None, None, None


def hebbian_update(
    mem: Tensor, pre: Tensor, post: Tensor, config: PlasticityConfig, *, fused: bool = True
) -> Tensor:
    """One application of the rule to ``mem`` [B, M_post, M_pre] with traces ``pre`` [B, M_pre], ``post``."""
    if not fused:
        return hebbian_update_reference(mem, pre, post, config)
    _check(mem, pre, post)
    return FusedHebbianUpdate.apply(mem, pre, post, config.w_max, config.gamma_pos, config.gamma_neg)


def fixed_point(pre: float, post: float, config: PlasticityConfig) -> float:
    """The weight ``w* = w_max·post/(post + (γ−/γ+)·pre)`` the rule converges to under constant traces."""
    if config.gamma_pos == 0 or post + (config.gamma_neg / config.gamma_pos) * pre == 0:
        raise UserError("the rule has no unique fixed point for γ+ = 0 or zero traces")
    return config.w_max * post / (post + (config.gamma_neg / config.gamma_pos) * pre)
