"""Adam with the update formula of torch 1.0.1, the version the DSL paper's code ran on
(docs/dsl.md, «Decisions against the original»).

torch 1.0.1 applies ``p -= lr·√(1−β2^k)/(1−β1^k) · m/(√v + eps)``; torch ≥ 1.5 divides ``√v`` by
``√(1−β2^k)`` before adding ``eps``. DSL's gradients are tiny (MSE over B·10 spikes), so the effective eps
differs enough to move the weights by up to 16 % within 40 steps. This optimizer reproduces the old formula
and writes through ``p.data`` like torch 1.0.1, so the parameters' autograd version counters do not change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from hybridsnn.errors import UserError


class Adam101(Optimizer):
    """Adam (no weight decay, no amsgrad) with torch 1.0.1's bias correction and eps placement."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if not lr >= 0.0:
            raise UserError(f"learning rate must be >= 0, got {lr!r}")
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise UserError(f"Adam betas must lie in [0, 1), got {betas!r}")
        if not eps > 0.0:
            raise UserError(f"Adam eps must be > 0, got {eps!r}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                grad = param.grad
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step = state["step"]
                step_size = group["lr"] * math.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
                param.data.addcdiv_(exp_avg, denom, value=-step_size)
        return loss
