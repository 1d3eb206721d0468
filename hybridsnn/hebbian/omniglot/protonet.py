"""The Omniglot image encoder: a prototypical network (Snell et al. 2017) pre-trained here
(docs/hebbian.md, «Omniglot task»).

Architecture of the seed's ANN ProtoNet (no batch norm): 4 × [Conv 3×3 (64 channels, padding 1, no bias) →
ReLU → MaxPool 2×2], 28×28 → 14 → 7 → 3 → 1, i.e. 64 non-negative features per image. Training: episodes of
``ways`` classes with ``shots`` support and ``queries`` query drawings each; the prototype of a class is the
mean support embedding and the loss is the cross-entropy of the negative squared Euclidean distances of the
queries to the prototypes. Adam, learning rate halved every 20 epochs (the seed's ``pretrain_protonet.py``:
60-way 1-shot 5-query training, 5-way 1-shot 15-query validation, 100 epochs × 100 episodes). The weights of
the epoch with the best validation accuracy are kept.

The seed converts the conv stack into a spiking CNN (IF neurons, threshold balancing) and fine-tunes it
inside the memory network. Here the encoder stays an ANN and frozen: its features, standardised over the
training images and clipped to [0, 1] (:class:`ProtoEncoder`), are the constant input currents of 64 IF
neurons per image (:mod:`hybridsnn.hebbian.omniglot.network`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from hybridsnn.checkpoint import check_shapes, load_checkpoint, save_checkpoint
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hebbian.encoders import CalibratedEncoder
from hybridsnn.hebbian.omniglot.data import IMAGE_SIZE, prototypical_episode

CHANNELS = 64
BLOCKS = 4
ENCODER_KIND = "omniglot-protonet"
FEATURE_BATCH = 512  # images per conv-stack call (larger batches are no faster on a CPU, and need GBs)


class ProtoEncoder(CalibratedEncoder):
    """The conv stack: images ``[N, 1, 28, 28]`` → features ``[N, channels]`` (≥ 0).

    Its currents are the features standardised over the training images, ``(f − offset) / scale`` with
    ``offset`` the mean and ``scale`` the standard deviation of each feature (buffers), clipped to [0, 1]:
    a feature at or below its mean gives no current, one σ above it the full current 1. The Hebbian memory
    compares a query with the stored images by the overlap of their spike codes (``mem @ k``); the raw
    features share a large common part (cosine ≈ 0.96 between different classes), so codes of raw or
    max-scaled features overlap almost completely and a dot-product nearest neighbour on them is at chance,
    while the centred ones keep the classes apart. (The seed fine-tunes its spiking CNN inside the memory
    network, which can learn such codes; this encoder stays frozen.)
    """

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__(channels)
        if channels < 1:
            raise UserError(f"the ProtoNet needs >= 1 channel, got {channels}")
        self.register_buffer("offset", torch.zeros(channels))
        self.channels = channels
        layers: list[nn.Module] = []
        for block in range(BLOCKS):
            layers += [
                nn.Conv2d(1 if block == 0 else channels, channels, 3, padding=1, bias=False),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.body = nn.Sequential(*layers, nn.Flatten())

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise UserError(
                f"ProtoNet images must be [N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}], got {tuple(images.shape)}"
            )
        return self.body(images)

    @torch.no_grad()
    def features(self, x: Tensor, batch: int = FEATURE_BATCH) -> Tensor:
        """The features [N, channels] of images ``x``, ``batch`` images per call."""
        return torch.cat([self.body(x[i : i + batch]) for i in range(0, x.shape[0], batch)])

    def currents_of(self, features: Tensor) -> Tensor:
        """Input currents [N, channels] in [0, 1] of ``features``: standardised, clipped."""
        return ((features - self.offset) / self.scale).clamp(0.0, 1.0)

    @torch.no_grad()
    def currents(self, x: Tensor, batch: int = FEATURE_BATCH) -> Tensor:
        """Input currents [N, channels] in [0, 1] of images ``x`` (see the class doc)."""
        return self.currents_of(self.features(x, batch))

    @torch.no_grad()
    def calibrate(self, x: Tensor, batch: int = FEATURE_BATCH) -> None:
        """Set ``offset``/``scale`` to each feature's mean/standard deviation over ``x`` (scale 1 for a
        constant feature)."""
        self.calibrated_currents(x, batch)

    @torch.no_grad()
    def calibrated_currents(self, x: Tensor, batch: int = FEATURE_BATCH) -> Tensor:
        """:meth:`calibrate` on images ``x``, returning their currents (one pass of the conv stack)."""
        features = self.features(x, batch)
        std = features.std(dim=0)
        self.offset.copy_(features.mean(dim=0))
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        return self.currents_of(features)


def prototypical_loss(support: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy and accuracy (fraction) of classifying ``query`` embeddings [W, Q, D] by the
    nearest prototype (mean of ``support`` [W, S, D] per class) in squared Euclidean distance."""
    if support.dim() != 3 or query.dim() != 3 or support.shape[::2] != query.shape[::2]:
        raise UserError(
            f"prototypical loss needs support [W, S, D] and query [W, Q, D], got {tuple(support.shape)} "
            f"and {tuple(query.shape)}"
        )
    ways, queries = query.shape[:2]
    prototypes = support.mean(dim=1)
    distances = ((query.reshape(ways * queries, 1, -1) - prototypes[None]) ** 2).sum(dim=-1)
    target = torch.arange(ways, device=query.device).repeat_interleave(queries)
    loss = F.cross_entropy(-distances, target)
    return loss, (distances.argmin(dim=1) == target).float().mean()


def episode_metrics(
    encoder: ProtoEncoder, images: Tensor, ways: int, shots: int, queries: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Loss and accuracy of one random episode drawn from ``images`` [C, K, 1, 28, 28]."""
    support, query = prototypical_episode(images, ways, shots, queries, generator)
    embedded = encoder(torch.cat([support.flatten(0, 1), query.flatten(0, 1)]))
    return prototypical_loss(
        embedded[: ways * shots].view(ways, shots, -1), embedded[ways * shots :].view(ways, queries, -1)
    )


@torch.no_grad()
def episode_accuracy(
    encoder: ProtoEncoder,
    images: Tensor,
    episodes: int,
    ways: int = 5,
    shots: int = 1,
    queries: int = 15,
    seed: int = 0,
) -> float:
    """Mean accuracy over ``episodes`` seeded evaluation episodes (the seed: 5-way 1-shot 15-query)."""
    was_training = encoder.training
    encoder.eval()
    generator = torch.Generator().manual_seed(seed)
    total = sum(
        float(episode_metrics(encoder, images, ways, shots, queries, generator)[1]) for _ in range(episodes)
    )
    encoder.train(was_training)
    return total / episodes


@dataclass(frozen=True)
class ProtoNetSettings:
    """Pre-training schedule (seed defaults): epochs × ``iterations`` episodes of ``ways``-way ``shots``-shot
    ``queries``-query; validation on ``val_episodes`` 5-way 1-shot ``val_queries``-query episodes per epoch;
    Adam with the learning rate × ``decay`` every ``decay_every`` epochs."""

    epochs: int = 100
    iterations: int = 100
    ways: int = 60
    shots: int = 1
    queries: int = 5
    val_episodes: int = 100
    val_queries: int = 15
    learning_rate: float = 1e-3
    decay: float = 0.5
    decay_every: int = 20

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "iterations",
            "ways",
            "shots",
            "queries",
            "val_episodes",
            "val_queries",
            "decay_every",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"ProtoNet {name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class ProtoNetResult:
    """The calibrated encoder of the best epoch, its validation accuracy (fraction), that epoch and the
    currents of the training images ``[C·K, channels]`` (computed while calibrating)."""

    encoder: ProtoEncoder
    val_accuracy: float
    best_epoch: int
    train_currents: Tensor | None = None


EpochLog = Callable[[int, dict[str, float]], None]


def pretrain_protonet(
    train_images: Tensor,
    val_images: Tensor,
    settings: ProtoNetSettings,
    *,
    seed: int = 0,
    channels: int = CHANNELS,
    progress: bool = False,
    log: EpochLog | None = None,
) -> ProtoNetResult:
    """Train a :class:`ProtoEncoder` on ``train_images`` [C, K, 1, 28, 28]; keep the epoch with the best
    accuracy on ``val_images`` episodes; calibrate it on the training images. ``log(epoch, metrics)`` receives
    each epoch's mean training loss/accuracy and validation accuracy."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    encoder = ProtoEncoder(channels)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, settings.decay_every, settings.decay)
    best_state, best_accuracy, best_epoch = copy.deepcopy(encoder.state_dict()), -1.0, 0
    for epoch in tqdm(range(1, settings.epochs + 1), desc="ProtoNet", disable=not progress, leave=False):
        loss_sum = accuracy_sum = 0.0
        for _ in range(settings.iterations):
            loss, accuracy = episode_metrics(
                encoder, train_images, settings.ways, settings.shots, settings.queries, generator
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum, accuracy_sum = loss_sum + loss.item(), accuracy_sum + accuracy.item()
        scheduler.step()
        val_accuracy = episode_accuracy(
            encoder, val_images, settings.val_episodes, queries=settings.val_queries, seed=seed + 1
        )
        if log is not None:
            log(
                epoch,
                {
                    "loss": loss_sum / settings.iterations,
                    "accuracy": accuracy_sum / settings.iterations,
                    "val_accuracy": val_accuracy,
                },
            )
        if val_accuracy > best_accuracy:
            best_state, best_accuracy, best_epoch = copy.deepcopy(encoder.state_dict()), val_accuracy, epoch
    encoder.load_state_dict(best_state)
    encoder.eval()
    currents = encoder.calibrated_currents(train_images.flatten(0, 1))
    return ProtoNetResult(encoder, best_accuracy, best_epoch, currents)


@torch.no_grad()
def nearest_prototype_accuracy(
    encoder: ProtoEncoder, support: Tensor, queries: Tensor, answers: Tensor
) -> float:
    """One-shot classification of ``queries`` [Q, 1, 28, 28] by the nearest embedded ``support`` image
    [W, 1, 28, 28] (Euclidean distance); fraction matching ``answers`` [Q]."""
    distances = torch.cdist(encoder(queries), encoder(support))
    return float((distances.argmin(dim=1) == answers).float().mean())


def save_protonet(path: str | Path, encoder: ProtoEncoder, extra: dict | None = None) -> Path:
    """Write the encoder (weights and calibration) as a hybridsnn safetensors checkpoint."""
    config = {"kind": ENCODER_KIND, "channels": encoder.channels}
    return save_checkpoint(path, dict(encoder.state_dict()), model="hebbian", config=config, extra=extra)


def load_protonet(path: str | Path) -> ProtoEncoder:
    """The encoder written by :func:`save_protonet` (refuses other checkpoints or wrong shapes)."""
    checkpoint = load_checkpoint(path, model="hebbian")
    channels = checkpoint.config.get("channels")
    if checkpoint.config.get("kind") != ENCODER_KIND or not isinstance(channels, int):
        raise CheckpointError(f"checkpoint {str(path)!r} does not hold an Omniglot ProtoNet encoder")
    encoder = ProtoEncoder(channels)
    state = encoder.state_dict()
    check_shapes(checkpoint.tensors, {k: tuple(v.shape) for k, v in state.items()}, source=str(path))
    encoder.load_state_dict({k: torch.from_numpy(checkpoint.tensors[k].copy()) for k in state})
    return encoder.eval()
