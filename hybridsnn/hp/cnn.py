"""The convolutional HP classifiers of the classification experiment (docs/hp.md, «Tasks»).

Spiking convolutions (k3, stride 1, pad 1), average pooling after some of them, dropout 0.5 on the inputs of
the deeper layers, then dense stages; one dense stage is the HP synapse. Conv1's input is never scaled by the
input filter ``exp(−t/τ_w)``; every other input is, except the CIFAR plastic stage (``scale_input=False``).
The Hebbian trace of the plastic stage is carried across batches like the MLP's (:mod:`hybridsnn.hp.mlp`).

Early exit ("rank order" decoding): after step ≥ 1 the time loop stops as soon as the fraction of samples
with at least one output neuron above θ exceeds ``exit_fraction`` — in training and test alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.hp.layer import HebbianRule, MetaInit, PlasticLinear
from hybridsnn.hp.methods import HP, Method, check_network_method
from hybridsnn.hp.mlp import hp_lif, input_filter
from hybridsnn.spiking import LIFState, lif_step

DenseKind = Literal["spiking", "plastic", "integrator"]


@dataclass(frozen=True)
class ConvStage:
    """A spiking convolution ``in → out`` channels, optionally followed by 2×2 average pooling."""

    channels_in: int
    channels_out: int
    pool: bool = False
    dropout: bool = False


@dataclass(frozen=True)
class DenseStage:
    """A dense stage: spiking LIF, the plastic HP synapse, or a non-spiking leaky integrator (output)."""

    kind: DenseKind
    n_in: int
    n_out: int
    dropout: bool = False
    scale_input: bool = True


@dataclass(frozen=True)
class CNNConfig:
    """One seed's CNN (constants: docs/hp.md, «Tasks»).

    output_weight_scale: factor on the last dense layer's initial weights (Fashion-MNIST: 0.5).
    weight_shift: CIFAR's init shift ``W += mean(W) · 1.1^k`` for layers k = 2 (conv2) … 7 (fc2).
    """

    name: str
    input_shape: tuple[int, int, int]
    convs: tuple[ConvStage, ...]
    dense: tuple[DenseStage, ...]
    threshold: float
    decay: float
    reset: str
    tau_w: float
    time_steps: int
    rule: HebbianRule
    init: MetaInit
    exit_fraction: float
    out_clamp: float | None
    batch_size: int
    epochs: int
    dropout: float = 0.5
    output_weight_scale: float = 1.0
    weight_shift: bool = False


_MNIST_CONVS = (
    ConvStage(1, 128, pool=True),
    ConvStage(128, 256, pool=True, dropout=True),
    ConvStage(256, 256, pool=True, dropout=True),
)
_MNIST_DENSE = (DenseStage("plastic", 2304, 512), DenseStage("spiking", 512, 10))
_CLASSIFICATION_INIT = MetaInit(
    alpha=0.1, beta=1e-3, eta=0.0, alpha_uniform=False, beta_uniform=False, eta_uniform=False
)

CNN_CONFIGS = {
    "mnist": CNNConfig(
        "mnist",
        (1, 28, 28),
        _MNIST_CONVS,
        _MNIST_DENSE,
        threshold=0.3,
        decay=0.6,
        reset="subtract",
        tau_w=40.0,
        time_steps=10,
        rule=HebbianRule(sign=-1.0, post="linear", decay=0.95, bound=2.0),
        init=_CLASSIFICATION_INIT,
        exit_fraction=0.8,
        out_clamp=None,
        batch_size=100,
        epochs=100,
    ),
    "fashion-mnist": CNNConfig(
        "fashion-mnist",
        (1, 28, 28),
        _MNIST_CONVS,
        _MNIST_DENSE,
        threshold=0.45,
        decay=0.75,
        reset="zero",
        tau_w=30.0,
        time_steps=10,
        rule=HebbianRule(sign=-1.0, post="linear", decay=0.9, bound=4.0, beta_min=0.0),
        init=_CLASSIFICATION_INIT,
        exit_fraction=0.9,
        out_clamp=1.1,
        batch_size=50,
        epochs=101,
        output_weight_scale=0.5,
    ),
    "cifar10": CNNConfig(
        "cifar10",
        (3, 32, 32),
        (
            ConvStage(3, 128),
            ConvStage(128, 256, pool=True, dropout=True),
            ConvStage(256, 512, pool=True, dropout=True),
            ConvStage(512, 1024, dropout=True),
            ConvStage(1024, 512, dropout=True),
        ),
        (
            DenseStage("spiking", 32768, 1024, dropout=True),
            DenseStage("plastic", 1024, 512, scale_input=False),
            DenseStage("integrator", 512, 10),
        ),
        threshold=0.5,
        decay=0.7,
        reset="subtract",
        tau_w=50.0,
        time_steps=8,
        rule=HebbianRule(sign=-1.0, post="linear", decay=0.9, bound=None),
        init=MetaInit(alpha=1e-3, beta=1e-3, eta=0.0, eta_uniform=False),
        exit_fraction=0.7,
        out_clamp=1.1,
        batch_size=50,
        epochs=120,
        weight_shift=True,
    ),
}


#: The CNN a user's own dataset (``--dataset PATH``) trains: the seed's MNIST CNN (its neurons, rule,
#: decoding, optimisers), sized by the images (:func:`sized_for_images`).
USER_DATA_CNN = "mnist"


def get_cnn_config(dataset: str) -> CNNConfig:
    """The classification CNN of ``dataset`` (mnist, fashion-mnist, cifar10)."""
    if dataset not in CNN_CONFIGS:
        raise unknown_choice("classification dataset", dataset, CNN_CONFIGS)
    return CNN_CONFIGS[dataset]


def sized_for_images(config: CNNConfig, chw: tuple[int, int, int], classes: int, source: str) -> CNNConfig:
    """``config`` for images of ``chw`` = (C, H, W) pixels and ``classes`` outputs: conv1 takes C channels,
    the first dense stage the last convolution's map flattened (channels · ⌊H/2^p⌋ · ⌊W/2^p⌋ after p 2×2
    poolings), the last dense stage K outputs; every other stage, neuron and constant unchanged.
    ``source`` (the ``--dataset``) is named when the images are smaller than 2^p pixels a side."""
    channels, height, width = chw
    pools = sum(stage.pool for stage in config.convs)
    side = 2**pools
    if height < side or width < side:
        raise UserError(f"--dataset {source} holds {height}x{width} images; the {config.name} CNN pools them "
                        f"{pools} times (2x2) and takes images of at least {side}x{side} pixels")  # fmt: skip
    convs = (replace(config.convs[0], channels_in=channels), *config.convs[1:])
    flat = config.convs[-1].channels_out * (height // side) * (width // side)
    dense = list(config.dense)
    dense[0] = replace(dense[0], n_in=flat)
    dense[-1] = replace(dense[-1], n_out=classes)
    return replace(config, input_shape=chw, convs=convs, dense=tuple(dense))


class HPConvNet(nn.Module):
    """Spiking CNN with one HP dense stage; ``forward(images [B, C, H, W]) -> scores [B, classes]``.

    A method without Hebbian pathway (gp) drops that of the plastic stage. ``steps_used`` holds the number of
    time steps the last forward ran (early exit).
    """

    def __init__(self, config: CNNConfig, method: Method = HP) -> None:
        super().__init__()
        check_network_method(method, ("classification",), "classification")
        self.config, self.method = config, method
        self.lif = hp_lif(config.threshold, config.decay, config.reset)
        self.convs = nn.ModuleList(nn.Conv2d(c.channels_in, c.channels_out, 3, 1, 1) for c in config.convs)
        rule = config.rule if method.hebbian else None
        self.dense = nn.ModuleList(
            PlasticLinear(d.n_in, d.n_out, rule=rule if d.kind == "plastic" else None, init=config.init)
            for d in config.dense
        )
        plastic = [d for d in config.dense if d.kind == "plastic"]
        if len(plastic) != 1:
            raise UserError(f"a classification CNN needs exactly one plastic stage, got {len(plastic)}")
        self.register_buffer("trace", torch.zeros(plastic[0].n_in, plastic[0].n_out))
        self.steps_used = 0
        self._initial_weights()

    def _initial_weights(self) -> None:
        with torch.no_grad():
            self.dense[-1].fc.weight.mul_(self.config.output_weight_scale)
            if self.config.weight_shift:
                weights = [conv.weight for conv in self.convs[1:]] + [d.fc.weight for d in self.dense[:-1]]
                for k, weight in enumerate(weights, start=2):
                    weight.add_(weight.mean() * 1.1**k)

    def forward(self, images: Tensor) -> Tensor:
        cfg = self.config
        if images.dim() != 4 or tuple(images.shape[1:]) != cfg.input_shape:
            raise UserError(
                f"{cfg.name} CNN input must be [B, {', '.join(map(str, cfg.input_shape))}], "
                f"got {tuple(images.shape)}"
            )
        trace = self.trace.clone()  # the buffer is overwritten below
        conv_states: list[LIFState | None] = [None] * len(self.convs)
        dense_states: list[LIFState | None] = [None] * len(self.dense)
        integrator: Tensor | None = None
        for step in range(cfg.time_steps):
            k = input_filter(step, cfg.tau_w)
            signal = images
            for index, (conv, stage) in enumerate(zip(self.convs, cfg.convs, strict=True)):
                if stage.dropout:
                    signal = F.dropout(signal, cfg.dropout, self.training)
                current = conv(signal if index == 0 else signal * k)
                signal, conv_states[index] = lif_step(current, conv_states[index], self.lif)
                if stage.pool:
                    signal = F.avg_pool2d(signal, 2)
            signal = signal.flatten(1)
            for index, (layer, stage) in enumerate(zip(self.dense, cfg.dense, strict=True)):
                if stage.dropout:
                    signal = F.dropout(signal, cfg.dropout, self.training)
                inp = signal * k if stage.scale_input else signal
                if stage.kind == "integrator":
                    current = layer.current(inp)
                    integrator = current if integrator is None else integrator * cfg.decay + current
                    continue
                current = layer.current(inp, trace if stage.kind == "plastic" else None)
                signal, dense_states[index] = lif_step(current, dense_states[index], self.lif)
                if stage.kind == "plastic":
                    trace = layer.update(trace, inp, dense_states[index].membrane, cfg.threshold)
            output = integrator if integrator is not None else dense_states[-1].membrane  # type: ignore[union-attr]
            if step >= 1 and (output > cfg.threshold).any(dim=1).float().mean() > cfg.exit_fraction:
                break
        self.steps_used = step + 1
        if self.training:
            self.trace.copy_(trace.detach())
        if cfg.out_clamp is None:
            return output / cfg.threshold
        return output.clamp(max=cfg.out_clamp * cfg.threshold) / cfg.threshold
