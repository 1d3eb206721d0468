"""The hybrid-plasticity (HP) synapse: a gradient-trained weight W plus a Hebbian trace H (docs/hp.md,
«Hebbian pathway»).

One plastic dense layer owns ``W`` (``nn.Linear``, "global plasticity", GP), a Hebbian trace
``H ∈ R^{N_in × N_out}`` (a state tensor, not a parameter) and the meta-local parameters ``α`` (weight of the
Hebbian pathway), ``β`` and ``η`` ("local plasticity", LP). At step t, with presynaptic input ``x_t``
(``[B, N_in]``) and the layer's pre-reset membrane ``u_t`` (``[B, N_out]``, threshold θ):

Combination of W and H (:class:`Combine`):

* ``"additive"`` (simple example, tolerance, classification): ``I_t = W x_t + b + α · (x_t @ H)``, α scalar;
* ``"gated"`` (few-shot): ``I_t = x_t @ (α ⊙ Wᵀ + (1 − α) ⊙ H)``, α a ``N_in × N_out`` matrix;
* ``"masked"`` (multitask): ``I_t = x_t @ (Wᵀ ⊙ M + α · H ⊙ (1 − M))`` with a task mask M (``N_in × N_out``);
* ``"none"`` (GP baselines): ``I_t = W x_t + b`` (masked by M when a mask is given).

Hebbian update (:class:`HebbianRule`), the batch-averaged outer product written as one matrix product
(equal to the original's ``bmm(...).mean(0)``, 17× faster and ~100× less memory: docs/hp.md, «Decisions
against the original»)::

    pre  = x_t ⊙ β                                  (β clamped at ≥ 0 when ``beta_min=0``)
    post = tanh(u_t/θ − η)  or  u_t/θ − η            ("tanh" / "linear")
    H_t  = clamp(decay · H_{t−1} + sign · preᵀ post / B, −bound, bound)

and, for ``post="softmax"`` (few-shot): ``H_t = decay · H_{t−1} + min(η, 0.1) · x_tᵀ softmax(u_t − β) / B``
(β ∈ R^{N_out} shifts the softmax, η is a scalar learning rate).

The batch mean ``/ B`` is the layer's :attr:`PlasticLinear.batch_mean`: the local mean by default; under
torchrun (:func:`use_batch_mean` with :meth:`hybridsnn.spiking.distributed.DistributedContext.batch_mean`) a
differentiable mean over the global batch, so every rank's trace is the one a single process computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError, unknown_choice

Combine = Literal["additive", "gated", "masked", "none"]
COMBINE_MODES: tuple[str, ...] = get_args(Combine)
PostFactor = Literal["tanh", "linear", "softmax"]
POST_FACTORS: tuple[str, ...] = get_args(PostFactor)
#: Names of the meta-local parameters; every other parameter is a GP weight (docs/hp.md, «Training»).
LOCAL_PARAMETER_NAMES = ("alpha", "beta", "eta")
FEWSHOT_RATE_MAX = 0.1
#: ``(sum over the batch's examples, number of examples) -> mean``: how a Hebbian increment is averaged.
BatchMean = Callable[[Tensor, int], Tensor]


def local_batch_mean(total: Tensor, count: int) -> Tensor:
    """``total / count``: the mean over this process's batch."""
    return total / count


@dataclass(frozen=True)
class HebbianRule:
    """How a plastic layer updates its trace H (module docstring; variants: docs/hp.md, «Hebbian pathway»).

    sign: +1 (simple example, multitask, few-shot) or −1 (classification models).
    post: ``"tanh"``, ``"linear"`` or ``"softmax"`` (few-shot's rule).
    decay: factor on H per step (``w_decay``), in [0, 1].
    bound: clamp H to [−bound, bound] after each update; None: no clamp.
    beta_min: clamp β from below before use (Fashion-MNIST classification: 0); None: no clamp.
    """

    sign: float = 1.0
    post: PostFactor = "tanh"
    decay: float = 0.95
    bound: float | None = 4.0
    beta_min: float | None = None

    def __post_init__(self) -> None:
        if self.sign not in (1.0, -1.0):
            raise UserError(f"Hebbian sign must be +1 or -1, got {self.sign!r}")
        if self.post not in POST_FACTORS:
            raise unknown_choice("Hebbian post-synaptic factor", self.post, POST_FACTORS)
        if not 0.0 <= self.decay <= 1.0:
            raise UserError(f"Hebbian trace decay must be in [0, 1], got {self.decay!r}")
        if self.bound is not None and not (math.isfinite(self.bound) and self.bound > 0):
            raise UserError(f"Hebbian clamp bound must be a finite number > 0 or None, got {self.bound!r}")


def batch_outer(pre: Tensor, post: Tensor, mean: BatchMean = local_batch_mean) -> Tensor:
    """``mean_b pre[b]ᵀ ⊗ post[b]`` as one matrix product: ``[B, N_in], [B, N_out] -> [N_in, N_out]``."""
    if pre.dim() != 2 or post.dim() != 2 or pre.shape[0] != post.shape[0]:
        raise UserError(
            f"Hebbian factors must be [B, N_in] and [B, N_out], got {tuple(pre.shape)} "
            f"and {tuple(post.shape)}"
        )
    return mean(pre.t() @ post, pre.shape[0])


def hebbian_update(
    trace: Tensor,
    pre: Tensor,
    membrane: Tensor,
    *,
    threshold: float,
    rule: HebbianRule,
    beta: Tensor,
    eta: Tensor,
    mean: BatchMean = local_batch_mean,
) -> Tensor:
    """The trace after one step (module docstring); differentiable in β, η, ``pre`` and ``membrane``."""
    if rule.post == "softmax":
        rate = eta.clamp(max=FEWSHOT_RATE_MAX)
        return rule.decay * trace + rate * batch_outer(pre, torch.softmax(membrane - beta, dim=-1), mean)
    scale = beta if rule.beta_min is None else beta.clamp(min=rule.beta_min)
    post = membrane / threshold - eta
    if rule.post == "tanh":
        post = post.tanh()
    trace = rule.decay * trace + rule.sign * batch_outer(pre * scale, post, mean)
    return trace if rule.bound is None else trace.clamp(-rule.bound, rule.bound)


@dataclass(frozen=True)
class MetaInit:
    """Initial meta-local parameters: each is ``scale · U(0, 1)`` (uniform=True) or the constant ``scale``.

    alpha_matrix: α is an ``N_in × N_out`` matrix (few-shot) instead of a scalar.
    """

    alpha: float = 1e-2
    beta: float = 1e-2
    eta: float = 1e-2
    alpha_uniform: bool = True
    beta_uniform: bool = True
    eta_uniform: bool = True
    alpha_matrix: bool = False


def _init(shape: tuple[int, ...], scale: float, uniform: bool) -> nn.Parameter:
    values = scale * torch.rand(shape) if uniform else torch.full(shape, float(scale))
    return nn.Parameter(values)


class PlasticLinear(nn.Module):
    """A dense HP synapse: ``current(x, trace, mask)`` and ``update(trace, x, membrane)`` (module docstring).

    ``rule=None`` gives a GP synapse (no Hebbian pathway; its trace stays zero and it has no meta-local
    parameters).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        combine: Combine = "additive",
        rule: HebbianRule | None,
        init: MetaInit = MetaInit(),
        bias: bool = True,
    ) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise unknown_choice("HP combination", combine, COMBINE_MODES)
        if rule is None and combine in ("additive", "gated"):
            combine = "none"
        if rule is not None and combine == "none":
            raise UserError("a Hebbian rule needs a combination mode other than 'none'")
        if rule is not None and (rule.post == "softmax") != (combine == "gated"):
            raise UserError(
                "the softmax Hebbian rule goes with the 'gated' combination (few-shot) and only it"
            )
        self.fc = nn.Linear(n_in, n_out, bias=bias)
        self.combine, self.rule = combine, rule
        self.n_in, self.n_out = n_in, n_out
        #: How :meth:`update` averages the Hebbian increment over the batch (module docstring).
        self.batch_mean: BatchMean = local_batch_mean
        if rule is not None:
            softmax = rule.post == "softmax"
            self.alpha = _init((n_in, n_out) if init.alpha_matrix else (1,), init.alpha, init.alpha_uniform)
            self.beta = _init((n_out,) if softmax else (1, n_in), init.beta, init.beta_uniform)
            self.eta = _init((1,) if softmax else (1, n_out), init.eta, init.eta_uniform)

    @property
    def plastic(self) -> bool:
        """True if the layer has a Hebbian pathway."""
        return self.rule is not None

    def zero_trace(self, like: Tensor | None = None) -> Tensor:
        """A zero trace ``[N_in, N_out]`` on the device/dtype of the weights (or of ``like``)."""
        ref = self.fc.weight if like is None else like
        return torch.zeros(self.n_in, self.n_out, device=ref.device, dtype=ref.dtype)

    def current(self, x: Tensor, trace: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Input current ``[B, N_out]`` for ``x`` ``[B, N_in]`` (mask ``[N_in, N_out]`` for "masked")."""
        if self.combine in ("masked", "none") and mask is not None:
            weight = self.fc.weight.t() * mask
            if self.plastic and trace is not None:
                weight = weight + self.alpha * trace * (1.0 - mask)
            out = x @ weight
            return out if self.fc.bias is None else out + self.fc.bias
        if self.combine == "masked":
            raise UserError("the 'masked' combination needs a task mask")
        if self.combine == "gated":
            assert trace is not None
            return x @ (self.alpha * self.fc.weight.t() + (1.0 - self.alpha) * trace)
        out = self.fc(x)
        if self.plastic and trace is not None:
            out = out + self.alpha * (x @ trace)
        return out

    def update(self, trace: Tensor, x: Tensor, membrane: Tensor, threshold: float) -> Tensor:
        """The trace after this step (unchanged for a GP synapse)."""
        if self.rule is None:
            return trace
        return hebbian_update(trace, x, membrane, threshold=threshold, rule=self.rule, beta=self.beta,
                              eta=self.eta, mean=self.batch_mean)  # fmt: skip


def use_batch_mean(model: nn.Module, mean: BatchMean = local_batch_mean) -> None:
    """Make every plastic layer of ``model`` average its Hebbian increments with ``mean``."""
    for module in model.modules():
        if isinstance(module, PlasticLinear):
            module.batch_mean = mean


def split_parameters(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(GP weights, meta-local parameters)`` by name (α, β, η are local), trainable ones only."""
    weights, local = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        (local if name.rsplit(".", 1)[-1] in LOCAL_PARAMETER_NAMES else weights).append(param)
    return weights, local
