"""A straightforward transcription of the seed's per-step formulation (docs/dsl.md, «Model and equations»),
the yardstick for :mod:`hybridsnn.dsl.rules`: tests check that both give the same weights, and
``bench/dsl.py`` compares speed (docs/dsl.md, «How it is checked»).

It follows the seed's code paths literally: the encoder and classifier are evaluated at every step (also in
evaluation and BELL), the membrane is written ``λu + I − λθs``, the spike function is its own
``ExponentialSurroGrad``, FELL keeps the whole graph (``retain_graph``) for every layer, and the weights are
updated through ``p.data`` (use :class:`~hybridsnn.dsl.adam101.Adam101`), which is how the seed's FELL ran
on torch 1.0.1 (docs/dsl.md, «Decisions against the original»). It reuses a
:class:`~hybridsnn.dsl.block.LocalBlock`'s modules.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.optim import Optimizer

from hybridsnn.dsl.block import LocalBlock
from hybridsnn.dsl.network import DSLNetwork, prepare_input
from hybridsnn.dsl.rules import RULES
from hybridsnn.errors import unknown_choice


class SeedSpike(torch.autograd.Function):
    """The seed's spike: ``(u >= θ).float()``; backward ``grad · exp(−|u − θ|)``."""

    @staticmethod
    def forward(ctx: Any, membrane: Tensor, threshold: float) -> Tensor:
        ctx.save_for_backward(membrane)
        ctx.threshold = threshold
        return membrane.ge(threshold).float()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        (membrane,) = ctx.saved_tensors
        return grad_output * torch.exp(-(membrane - ctx.threshold).abs()), None


def _classifier_input(block: LocalBlock, spikes: Tensor) -> Tensor:
    return block.decoder(block.pool(spikes).view(spikes.shape[0], -1))


def seed_block_window(block: LocalBlock, x: Tensor, target: Tensor, steps: int, static: bool, rule: str,
                      optimizer: Optimizer | None) -> tuple[Tensor, Tensor, float]:
    """One block over one window as the seed computes it; learns when ``optimizer`` is given.

    Returns (spikes ``[T, B, ...]`` detached, classifier spikes ``[T, B, K]``, ``Σ_t L_t``).
    """
    if rule not in RULES:
        raise unknown_choice("learning rule", rule, RULES)
    lam, theta = block.lif.decay, block.lif.threshold
    training = optimizer is not None
    u = s = v = o = v_clean = o_clean = None
    spikes, outputs, bell_loss, total = [], [], 0.0, 0.0
    for t in range(steps):
        current = block.encoder(x if static else x[t])
        if rule == "ELL" and t > 0:
            u = lam * u.detach() + current - lam * theta * s.detach()
        else:
            u = current if t == 0 else lam * u + current - lam * theta * s
        s = SeedSpike.apply(u, theta)
        drive = _classifier_input(block, s)
        if rule == "FELL":
            v_aux = drive if t == 0 else lam * v_clean + drive - lam * theta * o_clean
            loss = F.mse_loss(SeedSpike.apply(v_aux, theta), target)
            if training:
                optimizer.zero_grad()
                loss.backward(retain_graph=True)
            clean_drive = _classifier_input(block, s.detach())
            v_clean = clean_drive if t == 0 else lam * v_clean + clean_drive - lam * theta * o_clean
            o_clean = SeedSpike.apply(v_clean, theta)
            out = o_clean
            if training:
                optimizer.step()
        else:
            if rule == "ELL" and t > 0:
                v = lam * v.detach() + drive - lam * theta * o.detach()
            else:
                v = drive if t == 0 else lam * v + drive - lam * theta * o
            o = SeedSpike.apply(v, theta)
            out = o
            loss = F.mse_loss(o, target)
            if rule == "ELL" and training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            bell_loss = bell_loss + loss
        total += float(loss.detach())
        spikes.append(s.detach())
        outputs.append(out.detach())
    if rule == "BELL" and training:
        optimizer.zero_grad()
        bell_loss.backward()
        optimizer.step()
    return torch.stack(spikes), torch.stack(outputs), total


def seed_network_window(network: DSLNetwork, x: Tensor, target: Tensor, steps: int, rule: str,
                        optimizers: list[Optimizer] | None, *, temporal: bool = False
                        ) -> tuple[list[Tensor], float]:
    """Every block in turn as the seed does (training if ``optimizers``); classifier spikes and ``Σ`` loss."""
    static = not temporal
    outputs, total = [], 0.0
    for index, (block, ops) in enumerate(zip(network.blocks, network.inputs, strict=True)):
        optimizer = None if optimizers is None else optimizers[index]
        with torch.set_grad_enabled(optimizer is not None):
            spikes, out, loss = seed_block_window(block, prepare_input(x, ops, static), target, steps, static,
                                                  rule, optimizer)
        outputs.append(out)
        total += loss
        x, static = spikes, False
    return outputs, total
