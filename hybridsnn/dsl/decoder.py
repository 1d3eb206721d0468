"""The local classifier's input: spike pooling of conv blocks (``--dim-in-decoder``) and the FA/KP layer.

Pooling (docs/dsl.md, «Model and equations»; from anokland/local-loss): a conv block's spikes
``[B, C, H, W]`` (H = W = ``dim_out``) are average-pooled with a kernel that doubles alternately in height
and width until ``C·h·w <= dim_in_decoder`` (or the kernel reaches ``dim_out``); stride = kernel. The pooled
map is flattened into the classifier.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hybridsnn.errors import UserError


def decoder_pooling(channels: int, dim_out: int, dim_in_decoder: int) -> tuple[tuple[int, int] | None,
                                                                              tuple[int, int], int]:
    """``(kernel or None, padding, decoder input size)`` for ``channels × dim_out × dim_out`` spike maps."""
    for name, value in (("channels", channels), ("dim_out", dim_out), ("dim_in_decoder", dim_in_decoder)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be an integer >= 1, got {value!r}")
    kh = kw = 1
    h = w = dim_out
    size = channels * h * w
    while size > dim_in_decoder and kh < dim_out:
        kh *= 2
        h = math.ceil(dim_out / kh)
        size = channels * h * w
        if size > dim_in_decoder:
            kw *= 2
            w = math.ceil(dim_out / kw)
            size = channels * h * w
    if kh == 1 and kw == 1:
        return None, (0, 0), size
    padding = ((kh * (h - dim_out // kh)) // 2, (kw * (w - dim_out // kw)) // 2)
    return (kh, kw), padding, size


def make_pool(channels: int, dim_out: int, dim_in_decoder: int) -> tuple[nn.Module, int]:
    """The pooling module (``nn.Identity`` when none is needed) and the decoder input size."""
    kernel, padding, size = decoder_pooling(channels, dim_out, dim_in_decoder)
    if kernel is None:
        return nn.Identity(), size
    return nn.AvgPool2d(kernel, stride=kernel, padding=padding), size


class _KolenPollack(torch.autograd.Function):
    """``y = x Wᵀ``; the input gradient uses the feedback matrix B, and W and B both get ``gᵀx``."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx: Any, x: Tensor, weight: Tensor, feedback: Tensor) -> Tensor:
        ctx.save_for_backward(x, feedback)
        return F.linear(x, weight)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, Tensor, Tensor]:
        x, feedback = ctx.saved_tensors
        grad_input = grad_output @ feedback if ctx.needs_input_grad[0] else None
        grad_weight = grad_output.flatten(0, -2).t() @ x.flatten(0, -2)
        return grad_input, grad_weight, grad_weight


def _default_linear_weight(in_features: int, out_features: int) -> Tensor:
    return nn.Linear(in_features, out_features, bias=False).weight.detach().clone()


class LinearFA(nn.Module):
    """The seed's ``--fa`` classifier layer: bias-free linear map with a trained feedback matrix
    (docs/dsl.md, «Decisions against the original»).

    As in the seed, the feedback matrix ``weight_fa`` receives the *same* gradient as ``weight`` (a
    Kolen-Pollack-like rule), so with Adam and no weight decay ``weight − weight_fa`` keeps its initial value.
    Both start from PyTorch's default ``nn.Linear`` initialisation.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(_default_linear_weight(in_features, out_features))
        self.weight_fa = nn.Parameter(_default_linear_weight(in_features, out_features))

    def forward(self, x: Tensor) -> Tensor:
        return _KolenPollack.apply(x, self.weight, self.weight_fa)
