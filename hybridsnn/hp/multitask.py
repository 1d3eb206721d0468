"""Continual learning on permuted MNIST with per-task masks and a replay meta phase (docs/hp.md, «Tasks»).

Network 784 → H → H → 10 without biases; θ = 0.5, λ = 0.8, T = 3, input filter τ_w = 50 steps. Each task
owns fixed random binary masks (P(1) = ``sparsity``, orientation ``N_in × N_out``). Hidden layers compute
``u += x @ (Wᵀ ⊙ M + α · H ⊙ (1 − M))`` with a Hebbian trace re-zeroed at every forward (``w_decay`` 0.8,
tanh rule, no clamp); the output is the linear read-out ``u₂ @ (W₃ᵀ ⊙ M₃)`` of the last step's layer-2
membrane (layer 3 does not spike).

Methods: ``hp`` (masks + Hebbian pathway), ``gp`` (masks only: context-dependent sparse sub-networks) and
``ewc`` (no masks, no input filter, elastic weight consolidation with λ_EWC = 5000).

Task 0 is the identity permutation; task k uses ``np.random.seed(k); np.random.shuffle(arange(784))``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hp.layer import HebbianRule, MetaInit, PlasticLinear
from hybridsnn.hp.methods import HP, Method, check_network_method
from hybridsnn.hp.mlp import hp_lif, input_filter
from hybridsnn.spiking import LIFState, lif_step

PIXELS = 784


def task_permutation(task: int, pixels: int = PIXELS) -> np.ndarray:
    """The pixel order of permuted-MNIST task ``task`` (task 0: identity), as the seed draws it."""
    order = np.arange(pixels)
    if task > 0:
        np.random.RandomState(task).shuffle(order)
    return order


@dataclass(frozen=True)
class MultitaskConfig:
    """Constants of the multitask network (seed defaults; ``hidden`` and ``sparsity`` can be scaled down)."""

    hidden: int = 1024
    sparsity: float = 0.03
    threshold: float = 0.5
    decay: float = 0.8
    time_steps: int = 3
    tau_w: float = 50.0
    trace_decay: float = 0.8
    mask_seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.time_steps < 1:
            raise UserError(f"hidden size and time steps must be >= 1, got {self.hidden}, {self.time_steps}")
        if not 0.0 < self.sparsity <= 1.0:
            raise UserError(f"mask sparsity (fraction of ones) must be in (0, 1], got {self.sparsity}")


class MultitaskNet(nn.Module):
    """``forward(x [B, 784], task) -> scores [B, 10]``."""

    def __init__(self, config: MultitaskConfig = MultitaskConfig(), method: Method = HP) -> None:
        super().__init__()
        check_network_method(method, ("multitask",), "multitask")
        self.config, self.method = config, method
        self.lif = hp_lif(config.threshold, config.decay)
        rule = (
            HebbianRule(sign=1.0, post="tanh", decay=config.trace_decay, bound=None)
            if method.hebbian
            else None
        )
        init = MetaInit(alpha=0.1, beta=1e-3, eta=0.0, eta_uniform=False)
        #: EWC: no task masks and no input filter.
        self.masked = not method.ewc
        self.tau_w = config.tau_w if self.masked else math.inf
        combine = "masked" if self.masked else "none"
        sizes = (PIXELS, config.hidden, config.hidden)
        self.hidden = nn.ModuleList(
            PlasticLinear(a, b, combine=combine, rule=rule, init=init, bias=False)
            for a, b in itertools.pairwise(sizes)
        )
        self.readout = nn.Linear(config.hidden, 10, bias=False)
        self._masks: dict[int, list[Tensor]] = {}

    def masks(self, task: int) -> list[Tensor] | None:
        """The task's masks ``[N_in, N_out]`` for the two hidden layers and the read-out (None for EWC)."""
        if not self.masked:
            return None
        if task not in self._masks:
            generator = torch.Generator().manual_seed(self.config.mask_seed * 1_000_003 + task)
            shapes = [(layer.n_in, layer.n_out) for layer in self.hidden] + [(self.config.hidden, 10)]
            device = self.readout.weight.device
            self._masks[task] = [
                (torch.rand(shape, generator=generator) < self.config.sparsity).float().to(device)
                for shape in shapes
            ]
        return self._masks[task]

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        self._masks.clear()  # masks follow the device of the weights
        return super()._apply(fn, recurse)

    def forward(self, x: Tensor, task: int) -> Tensor:
        if x.dim() != 2 or x.shape[1] != PIXELS:
            raise UserError(f"multitask input must be [B, {PIXELS}], got {tuple(x.shape)}")
        cfg = self.config
        masks = self.masks(task)
        traces = [layer.zero_trace() for layer in self.hidden]
        states: list[LIFState | None] = [None, None]
        for step in range(cfg.time_steps):
            k = input_filter(step, self.tau_w)
            signal = x
            for index, layer in enumerate(self.hidden):
                inp = signal * k
                mask = None if masks is None else masks[index]
                current = layer.current(inp, traces[index], mask)
                signal, states[index] = lif_step(current, states[index], self.lif)
                traces[index] = layer.update(traces[index], inp, states[index].membrane, cfg.threshold)
        membrane = states[-1].membrane  # type: ignore[union-attr]
        weight = self.readout.weight.t() if masks is None else self.readout.weight.t() * masks[-1]
        return membrane @ weight


class EWCPenalty:
    """Offline EWC: ``λ Σ_tasks Σ_i F_i (θ_i − θ*_i)²`` with one diagonal Fisher per finished task.

    The Fisher of a task is the mean over training batches of the squared gradient of the NLL of
    ``log_softmax(scores)`` at the predicted labels (docs/hp.md, «Tasks»).
    """

    def __init__(self, weight: float = 5000.0) -> None:
        self.weight = weight
        self.tasks: list[tuple[list[Tensor], list[Tensor]]] = []

    def consolidate(self, model: MultitaskNet, batches: list[Tensor], task: int) -> None:
        """Estimate the Fisher on ``batches`` (input vectors) and store it with the current parameters."""
        params = [p for p in model.parameters() if p.requires_grad]
        fisher = [torch.zeros_like(p) for p in params]
        for x in batches:
            model.zero_grad(set_to_none=True)
            log_probs = F.log_softmax(model(x, task), dim=1)
            F.nll_loss(log_probs, log_probs.argmax(dim=1)).backward()
            for f, p in zip(fisher, params, strict=True):
                if p.grad is not None:
                    f += p.grad.detach() ** 2
        model.zero_grad(set_to_none=True)
        self.tasks.append(([f / max(len(batches), 1) for f in fisher], [p.detach().clone() for p in params]))

    def __call__(self, model: MultitaskNet) -> Tensor:
        params = [p for p in model.parameters() if p.requires_grad]
        total = params[0].new_zeros(())
        for fisher, anchor in self.tasks:
            for f, a, p in zip(fisher, anchor, params, strict=True):
                total = total + (f * (p - a) ** 2).sum()
        return self.weight * total
