"""Pre-trained digit encoders of the cross-modal task (docs/hebbian.md, «Cross-modal task»), small enough
for a CPU.

The seed pre-trains two ``DigitClassifier`` CNNs (4 conv blocks + Linear 64→10; one on MNIST, one on FSDD MFCC
images), converts the conv part into a spiking network with threshold balancing and fine-tunes it inside the
memory network. Here each encoder is an MLP classifier ``input → 256 → 64 → 10`` (ReLU) trained with Adam;
its 64 ReLU features, divided by their maximum over the training set (the analogue of threshold balancing),
are the constant input currents (in [0, 1]) of 64 LIF encoder neurons. The encoders stay frozen during the
memory training, so their features are computed once per data set. The MNIST encoder's full classifier also
scores the recalled images. Weights are saved as one safetensors checkpoint (:func:`save_encoders`).

:class:`CalibratedEncoder` (features → currents in [0, 1]) is shared with the Omniglot ProtoNet
(:mod:`hybridsnn.hebbian.omniglot.protonet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hybridsnn.checkpoint import check_shapes, load_checkpoint, save_checkpoint
from hybridsnn.errors import CheckpointError, UserError

FEATURES = 64
HIDDEN = 256
CLASSES = 10
ENCODER_KIND = "cross-modal-encoders"
MODALITIES = ("audio", "image")


class CalibratedEncoder(nn.Module):
    """A frozen feature extractor ``body`` (non-negative features [N, F]) whose features, divided by their
    maximum over the training set, are the constant input currents of the SNN's encoder neurons.

    ``scale`` [F] (a buffer) is that per-feature maximum; :meth:`currents` divides by it and clips to [0, 1].
    Subclasses set ``body``.
    """

    body: nn.Module

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(features))

    @torch.no_grad()
    def currents(self, x: Tensor, batch: int = 4096) -> Tensor:
        """Encoder input currents [N, F] in [0, 1] (features / training-set maximum)."""
        parts = [self.body(x[i : i + batch]) / self.scale for i in range(0, x.shape[0], batch)]
        return torch.cat(parts).clamp(0.0, 1.0)

    @torch.no_grad()
    def calibrate(self, x: Tensor, batch: int = 4096) -> None:
        """Set ``scale`` to each feature's maximum over ``x`` (1 for features that never fire)."""
        peak = torch.stack([self.body(x[i : i + batch]).amax(dim=0) for i in range(0, x.shape[0], batch)])
        peak = peak.amax(dim=0)
        self.scale.copy_(torch.where(peak > 0, peak, torch.ones_like(peak)))


class DigitEncoder(CalibratedEncoder):
    """MLP digit classifier whose 64 penultimate ReLU units are the encoder features."""

    def __init__(self, input_size: int) -> None:
        super().__init__(FEATURES)
        self.input_size = input_size
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(input_size, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, FEATURES), nn.ReLU()
        )
        self.head = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        """Class scores [N, 10]."""
        return self.head(self.body(x))

    @torch.no_grad()
    def accuracy(self, x: Tensor, y: Tensor, batch: int = 4096) -> float:
        """Fraction of ``x`` classified as ``y``."""
        correct = sum(
            int((self(x[i : i + batch]).argmax(dim=1) == y[i : i + batch]).sum())
            for i in range(0, x.shape[0], batch)
        )
        return correct / max(1, x.shape[0])


@dataclass(frozen=True)
class PretrainResult:
    """A trained, calibrated encoder and its accuracies (fractions) on the training and held-out data."""

    encoder: DigitEncoder
    train_accuracy: float
    test_accuracy: float


def pretrain_encoder(
    x: Tensor,
    y: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
    desc: str = "pretrain",
) -> PretrainResult:
    """Train a :class:`DigitEncoder` on ``x`` [N, …] / ``y`` [N] with Adam + cross-entropy, then calibrate."""
    if epochs < 1 or batch_size < 1:
        raise UserError(f"encoder pre-training needs epochs >= 1 and batch >= 1, got {epochs}, {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    encoder = DigitEncoder(int(x[0].numel()))
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(encoder(x[index]), y[index]).backward()
            optimizer.step()
    encoder.eval()
    encoder.calibrate(x)
    return PretrainResult(encoder, encoder.accuracy(x, y), encoder.accuracy(x_test, y_test))


def save_encoders(path: str | Path, encoders: dict[str, DigitEncoder], extra: dict | None = None) -> Path:
    """Write both encoders (``audio``, ``image``) into one hybridsnn safetensors checkpoint."""
    tensors = {
        f"{name}/{key}": value
        for name, encoder in encoders.items()
        for key, value in encoder.state_dict().items()
    }
    config = {"kind": ENCODER_KIND, **{f"{name}_input_size": e.input_size for name, e in encoders.items()}}
    return save_checkpoint(path, tensors, model="hebbian", config=config, extra=extra)


def load_encoders(path: str | Path) -> dict[str, DigitEncoder]:
    """The encoders written by :func:`save_encoders` (refuses other checkpoints or wrong shapes)."""
    checkpoint = load_checkpoint(path, model="hebbian")
    if checkpoint.config.get("kind") != ENCODER_KIND:
        raise CheckpointError(f"checkpoint {str(path)!r} does not hold cross-modal encoders")
    encoders = {}
    for name in MODALITIES:
        size = checkpoint.config.get(f"{name}_input_size")
        if not isinstance(size, int):
            raise CheckpointError(f"checkpoint {str(path)!r} has no {name} encoder")
        encoder = DigitEncoder(size)
        state = encoder.state_dict()
        arrays = checkpoint.subtree(name)
        check_shapes(arrays, {k: tuple(v.shape) for k, v in state.items()}, source=str(path))
        encoder.load_state_dict({k: torch.from_numpy(arrays[k].copy()) for k in state})
        encoders[name] = encoder.eval()
    return encoders
