"""One DSL block: a bias-free Linear/Conv2d encoder with LIF neurons and its local classifier
(docs/dsl.md, «Model and equations»).

Both populations use the shared LIF step (:func:`hybridsnn.spiking.lif_step`) with DSL's parameters
(:func:`dsl_lif_config`): ``u_0 = I_0``, ``u_t = λ(u_{t−1} − θ s_{t−1}) + I_t``, ``s_t = H(u_t − θ)`` with
``u_t >= θ`` and the exponential surrogate ``exp(−|u − θ|)``. The local classifier is ``num_classes`` LIF
neurons driven by ``decoder(flatten(pool(s_t)))``.

A block's input is either *static* ``[B, ...]`` (the image, shown at every step: the seed's first layer with
real-valued encoding) or *temporal* ``[T, B, ...]`` (the previous block's spikes or a latency code).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.func import functional_call

from hybridsnn.dsl.decoder import LinearFA, make_pool
from hybridsnn.errors import UserError
from hybridsnn.spiking import Exponential, LIFConfig, decay_from_tau, lif_sequence

DECODER_KINDS = ("trained", "fa", "random")


def dsl_lif_config(tau: float = 1.0, threshold: float = 1.0) -> LIFConfig:
    """DSL's neuron: decay ``λ = exp(−1/τ)`` (τ in steps), threshold θ, soft reset, ``>=``, exp surrogate."""
    return LIFConfig(threshold=threshold, decay=decay_from_tau(tau), reset="subtract", inclusive=True,
                     surrogate=Exponential())


class LocalBlock(nn.Module):
    """Encoder + LIF neurons + local classifier (decoder + LIF neurons) of one DSL layer.

    ``encoder``: ``nn.Linear`` or ``nn.Conv2d`` without bias. ``dim_out``: the conv output height = width
    (needed for the classifier's pooling, see :mod:`hybridsnn.dsl.decoder`). ``decoder``: ``"trained"``,
    ``"fa"`` (the seed's ``--fa``) or ``"random"`` (``--random-matrix``: a frozen random classifier).
    """

    def __init__(
        self,
        encoder: nn.Linear | nn.Conv2d,
        *,
        lif: LIFConfig,
        num_classes: int = 10,
        dim_out: int | None = None,
        dim_in_decoder: int = 1024,
        decoder: str = "trained",
    ) -> None:
        super().__init__()
        if not isinstance(encoder, (nn.Linear, nn.Conv2d)) or encoder.bias is not None:
            raise UserError(f"a DSL encoder must be a bias-free nn.Linear or nn.Conv2d, got {encoder!r}")
        if lif.reset != "subtract" or lif.refractory_steps or lif.scale_input:
            raise UserError("DSL neurons use reset='subtract' without refractory period or input scaling")
        if decoder not in DECODER_KINDS:
            raise UserError(f"unknown decoder {decoder!r}; allowed: {', '.join(DECODER_KINDS)}")
        self.encoder = encoder
        if isinstance(encoder, nn.Conv2d):
            if dim_out is None:
                raise UserError("a conv block needs dim_out (its output height = width)")
            self.pool, features = make_pool(encoder.out_channels, dim_out, dim_in_decoder)
        else:
            self.pool, features = nn.Identity(), encoder.out_features
        self.decoder: nn.Module = (LinearFA(features, num_classes) if decoder == "fa"
                                   else nn.Linear(features, num_classes, bias=False))
        if decoder == "random":
            self.decoder.weight.requires_grad_(False)
        self.lif = lif
        self.num_classes = num_classes

    @property
    def decoder_features(self) -> int:
        """Input size of the local classifier (after pooling and flattening)."""
        return int(self.decoder.weight.shape[1])

    def encode(self, x: Tensor, *, copy_weights: bool = False) -> Tensor:
        """The input current ``W·x`` (float32). ``copy_weights`` routes the weights through a copy, so a
        graph kept across optimiser steps saves the copy, not the parameter
        (docs/dsl.md, «Decisions against the original»)."""
        return _apply(self.encoder, x, copy_weights).float()

    def decode(self, spikes: Tensor, *, copy_weights: bool = False) -> Tensor:
        """The classifier's input current from block spikes ``[N, ...]``: decoder(flatten(pool(s)))."""
        return _apply(self.decoder, self.pool(spikes).flatten(1), copy_weights).float()

    def spike(self, membrane: Tensor) -> Tensor:
        """Spikes ``H(u − θ)`` (``u >= θ``) with the block's surrogate gradient."""
        return self.lif.surrogate(membrane - self.lif.threshold, inclusive=self.lif.inclusive)

    def currents(self, x: Tensor, steps: int, static: bool) -> Tensor:
        """Input currents ``[T, B, ...]`` for fixed weights: a static input is encoded once and repeated."""
        if static:
            current = self.encode(x)
            return current.unsqueeze(0).expand(steps, *current.shape)
        return self.encode(x.flatten(0, 1)).unflatten(0, x.shape[:2])

    def window(self, x: Tensor, steps: int, static: bool) -> tuple[Tensor, Tensor]:
        """Block spikes ``[T, B, ...]`` and classifier spikes ``[T, B, K]`` over a window with fixed weights.

        Used for evaluation and for BELL (one update per window); the graph is kept if grad is enabled.
        """
        spikes = lif_sequence(self.currents(x, steps, static), self.lif).spikes
        drive = self.decode(spikes.flatten(0, 1)).unflatten(0, spikes.shape[:2])
        return spikes, lif_sequence(drive, self.lif).spikes


def _apply(module: nn.Module, x: Tensor, copy_weights: bool) -> Tensor:
    if not copy_weights:
        return module(x)
    return functional_call(module, {name: p * 1.0 for name, p in module.named_parameters()}, (x,))
