"""The seed's formulation of the simple-example HP forward pass, for golden tests and benchmarks.

A plain re-statement of the published equations (docs/hp.md, «Neuron» and «Hebbian pathway»; the seed's
simple-example HP model) in the seed's style — one ``bmm`` per Hebbian update that materialises
``[B, N_in, N_out]`` and averages it — written independently of :mod:`hybridsnn.hp.layer` so the two can be
compared. Not used for training.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hybridsnn.hp.mlp import HPMLP


class _ActFun(torch.autograd.Function):
    """The seed's spike: forward ``x > 0``, backward ``grad · 1[|x| < 0.5]``."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(x)
        return x.gt(0.0).float()

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def, override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() < 0.5).float()


def _mem_update_plastic(
    fc_weight: Tensor,
    fc_bias: Tensor,
    alpha: Tensor,
    beta: Tensor,
    eta: Tensor,
    inputs: Tensor,
    mem: Tensor,
    spike: Tensor,
    hebb: Tensor,
    *,
    thresh: float,
    decay: float,
    w_decay: float,
) -> tuple[Tensor, Tensor, Tensor]:
    state = inputs @ fc_weight.t() + fc_bias + alpha * inputs.mm(hebb)
    mem = (mem - spike * thresh) * decay + state
    now_spike = _ActFun.apply(mem - thresh)
    outer = torch.bmm((inputs * beta).unsqueeze(2), ((mem / thresh) - eta).tanh().unsqueeze(1))
    hebb = w_decay * hebb + outer.mean(dim=0).squeeze()
    return mem, now_spike.float(), hebb.clamp(min=-4, max=4)


def reference_forward(model: HPMLP, x: Tensor, hebbs: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The seed's HP forward on the weights of an ``hp`` :class:`HPMLP`: ``(scores, final traces)``."""
    cfg = model.config
    rule = cfg.rule
    hebbs = list(hebbs)
    mems = [torch.zeros(x.shape[0], layer.n_out) for layer in model.layers]
    spikes = [torch.zeros(x.shape[0], layer.n_out) for layer in model.layers]
    for step in range(cfg.time_steps):
        decay_factor = math.exp(-step / cfg.tau_w)
        signal = x
        for index, layer in enumerate(model.layers):
            mems[index], spikes[index], hebbs[index] = _mem_update_plastic(
                layer.fc.weight,
                layer.fc.bias,
                layer.alpha,
                layer.beta,
                layer.eta,
                signal * decay_factor,
                mems[index],
                spikes[index],
                hebbs[index],
                thresh=cfg.threshold,
                decay=cfg.decay,
                w_decay=rule.decay,
            )
            signal = spikes[index]
    return (mems[-1] / cfg.threshold).clamp(max=cfg.out_clamp), hebbs
