"""DSL networks: a chain of :class:`LocalBlock` s joined by detached spikes, and the seed's six architectures.

Between blocks the spikes may be average-pooled 2×2 at every step (``pool2``; the next block then sees rates
in {0, .25, .5, .75, 1}) and flattened (``flatten``), as in the seed's models
(docs/dsl.md, «Model and equations»). The network's prediction is the spike count of the *last* block's
classifier; every block's classifier also predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import Optimizer

from hybridsnn.dsl.block import LocalBlock
from hybridsnn.dsl.rules import Trainer
from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.spiking import LIFConfig, predict

INPUT_OPS = ("pool2", "flatten")


@dataclass(frozen=True)
class LayerSpec:
    """One block: ``fc`` (in → out features) or ``conv`` (in → out channels, k×k kernel, padding, output
    size ``dim_out``); ``before``: ops applied to the block's input (``pool2``, ``flatten``), in order."""

    kind: str
    n_in: int
    n_out: int
    kernel: int = 0
    padding: int = 0
    dim_out: int | None = None
    before: tuple[str, ...] = ()


def _fc(n_in: int, n_out: int, *before: str) -> LayerSpec:
    return LayerSpec("fc", n_in, n_out, before=before)


def _conv(c_in: int, c_out: int, kernel: int, padding: int, dim_out: int, *before: str) -> LayerSpec:
    return LayerSpec("conv", c_in, c_out, kernel, padding, dim_out, before)


@dataclass(frozen=True)
class Architecture:
    """A seed model: input image shape ``(C, H, W)`` and its blocks."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("MNISTDNN", (1, 28, 28), (_fc(784, 800, "flatten"),)),
        Architecture("FashionDNN", (1, 28, 28), (_fc(784, 6400, "flatten"),)),
        Architecture("MNISTCNN", (1, 28, 28), (_conv(1, 12, 5, 0, 24), _conv(12, 64, 5, 0, 8, "pool2"))),
        Architecture(
            "FashionCNN",
            (1, 28, 28),
            (_conv(1, 32, 5, 0, 24), _conv(32, 64, 5, 0, 8, "pool2"), _fc(1024, 1024, "pool2", "flatten")),
        ),
        Architecture(
            "SVHNCNN",
            (3, 32, 32),
            (
                _conv(3, 64, 3, 1, 32),
                _conv(64, 64, 3, 1, 32),
                _conv(64, 128, 3, 1, 16, "pool2"),
                _conv(128, 128, 3, 1, 16),
                _conv(128, 128, 3, 1, 16),
                _fc(8192, 1024, "pool2", "flatten"),
            ),
        ),
        Architecture(
            "CIFARCNN",
            (3, 32, 32),
            (
                _conv(3, 96, 3, 1, 32),
                _conv(96, 256, 3, 1, 32),
                _conv(256, 384, 3, 1, 16, "pool2"),
                _conv(384, 384, 3, 1, 8, "pool2"),
                _conv(384, 256, 3, 1, 8),
                _fc(16384, 1024, "flatten"),
                _fc(1024, 1024),
            ),
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    """The seed model ``name`` (MNISTDNN, MNISTCNN, FashionDNN, FashionCNN, SVHNCNN, CIFARCNN)."""
    if name not in ARCHITECTURES:
        raise unknown_choice("DSL model", name, tuple(ARCHITECTURES))
    return ARCHITECTURES[name]


def prepare_input(x: Tensor, ops: tuple[str, ...], static: bool) -> Tensor:
    """Apply ``pool2``/``flatten`` to a block input, static ``[B, ...]`` or temporal ``[T, B, ...]``."""
    lead = 1 if static else 2
    for op in ops:
        if op == "pool2":
            folded = x if static else x.flatten(0, 1)
            pooled = F.avg_pool2d(folded, 2)
            x = pooled if static else pooled.unflatten(0, x.shape[:2])
        elif op == "flatten":
            x = x.flatten(lead)
        else:
            raise unknown_choice("block input op", op, INPUT_OPS)
    return x


class DSLNetwork(nn.Module):
    """A chain of local-learning blocks; ``inputs[i]`` are the ops applied before block i."""

    def __init__(self, blocks: list[LocalBlock], inputs: list[tuple[str, ...]]) -> None:
        super().__init__()
        if not blocks or len(blocks) != len(inputs):
            raise UserError("a DSL network needs at least one block and one input-op tuple per block")
        self.blocks = nn.ModuleList(blocks)
        self.inputs = [tuple(ops) for ops in inputs]

    def forward(self, x: Tensor, steps: int, *, temporal: bool = False) -> list[Tensor]:
        """Classifier spikes ``[T, B, K]`` of every block, for fixed weights.

        ``x``: a static batch ``[B, ...]`` shown at every step, or (``temporal``) spikes ``[T, B, ...]``.
        """
        static = not temporal
        outputs = []
        for block, ops in zip(self.blocks, self.inputs, strict=True):
            spikes, out = block.window(prepare_input(x, ops, static), steps, static)
            outputs.append(out)
            x, static = spikes, False
        return outputs

    def train_window(self, x: Tensor, target: Tensor, steps: int, trainer: Trainer,
                     optimizers: list[Optimizer], *, temporal: bool = False) -> tuple[list[Tensor], Tensor]:
        """Train each block in turn on one batch with ``trainer`` (a learning rule, see
        :func:`hybridsnn.dsl.rules.get_rule`); classifier spikes per block, ``Σ`` loss.

        ``x`` and ``temporal`` as in :meth:`forward`; ``target``: one-hot labels ``[B, K]``.
        """
        static = not temporal
        outputs, total = [], target.new_zeros(())
        for block, ops, optimizer in zip(self.blocks, self.inputs, optimizers, strict=True):
            result = trainer(block, prepare_input(x, ops, static), target, steps, static, optimizer)
            outputs.append(result.outputs)
            total = total + result.loss
            x, static = result.spikes, False
        return outputs, total


def takes_any_size(arch: Architecture) -> bool:
    """Whether ``arch`` is fully connected (MNISTDNN, FashionDNN), so its first layer can take images of any
    size (C·H·W inputs); the CNNs take square images of any size (:func:`sized_layers`)."""
    return all(layer.kind == "fc" for layer in arch.layers)


def sized_layers(
    arch: Architecture, input_shape: tuple[int, int, int], source: str = "the images"
) -> tuple[LayerSpec, ...]:
    """``arch``'s blocks for images of ``input_shape`` ``(C, H, W)``; for the model's own shape its blocks.

    A fully connected model's first layer takes C·H·W inputs. A CNN takes square images (H = W: its local
    classifiers pool square maps, :mod:`hybridsnn.dsl.decoder`): conv1 takes C channels, and the side is
    carried through the blocks (``pool2``: ⌊side/2⌋; a k×k convolution with padding p: side + 2p − k + 1),
    which gives every conv block's ``dim_out`` and the first dense block's C·side² inputs; channel counts
    and the other dense sizes stay the seed's. Images too small for the convolutions and poolings (a side < 1
    somewhere), or not square, are refused in one line naming ``source``."""
    channels, height, width = input_shape
    if takes_any_size(arch):
        return (replace(arch.layers[0], n_in=channels * height * width), *arch.layers[1:])
    if height != width:
        raise UserError(f"model {arch.name} takes square images (its local classifiers pool square maps) but "
                        f"{source} holds {height}x{width}x{channels} images; use MNISTDNN or FashionDNN (any "
                        "image size)")  # fmt: skip
    side, layers = height, []
    for index, layer in enumerate(arch.layers):
        side //= 2 ** layer.before.count("pool2")  # "flatten" comes last where a block has both
        if layer.kind == "conv":
            side += 2 * layer.padding - layer.kernel + 1
            layers.append(replace(layer, n_in=channels, dim_out=side))
        else:
            layers.append(replace(layer, n_in=channels * side * side) if "flatten" in layer.before else layer)
        if side < 1:
            raise UserError(f"model {arch.name} cannot take {source}: {height}x{width} images shrink to "
                            f"nothing by block {index + 1}; it needs larger images")  # fmt: skip
        channels = layer.n_out
    return tuple(layers)


def build_network(name: str, *, lif: LIFConfig, num_classes: int = 10, dim_in_decoder: int = 1024,
                  decoder: str = "trained", input_shape: tuple[int, int, int] | None = None) -> DSLNetwork:
    """The seed model ``name`` with PyTorch's default (kaiming-uniform) initialisation and no biases;
    ``num_classes`` neurons per local classifier, images of ``input_shape`` ``(C, H, W)`` (None: the
    model's; another shape: :func:`sized_layers`)."""
    arch = get_architecture(name)
    layers = sized_layers(arch, input_shape) if input_shape is not None else arch.layers
    blocks = []
    for layer in layers:
        if layer.kind == "fc":
            encoder: nn.Linear | nn.Conv2d = nn.Linear(layer.n_in, layer.n_out, bias=False)
        else:
            encoder = nn.Conv2d(layer.n_in, layer.n_out, layer.kernel, padding=layer.padding, bias=False)
        blocks.append(LocalBlock(encoder, lif=lif, num_classes=num_classes, dim_out=layer.dim_out,
                                 dim_in_decoder=dim_in_decoder, decoder=decoder))
    return DSLNetwork(blocks, [layer.before for layer in layers])


def spike_count_predictions(outputs: Tensor) -> Tensor:
    """Predicted class per sample from classifier spikes ``[T, B, K]``: argmax of the count (ties: first)."""
    return predict(outputs.sum(dim=0))


def layer_correct(outputs: list[Tensor], labels: Tensor) -> list[int]:
    """Correctly classified samples of each block's classifier."""
    with torch.no_grad():
        return [int((spike_count_predictions(out) == labels).sum()) for out in outputs]
