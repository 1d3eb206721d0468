"""Cross-modal associations (docs/hebbian.md, «Cross-modal task»): store (spoken digit → MNIST image) pairs,
recall images.

Data: an example holds ``L`` pairs of distinct audio digit classes; in training the image classes are a
random permutation of the audio classes (arbitrary associations), in the test set they are the same digit.
The query is a *different* recording of one stored audio class; the target is the exact image stored with
it. Inputs are the frozen encoder currents (:mod:`hybridsnn.hebbian.encoders`), so a batch holds currents,
not raw data.

Network (seed ``CrossModalAssociations``): audio and image currents → LIF encoders (gain 1, ``steps`` per
pair) → writing layer on both spike trains; query currents → LIF encoder → reading layer; decoder = two
spiking dense layers ``M → 256 → 784``; the recalled image = decoder spike counts over the whole recall
phase / 15. Loss MSE against the stored image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hebbian.batch import batch_size, batch_to, select_examples
from hybridsnn.hebbian.config import MemoryNetworkConfig
from hybridsnn.hebbian.layers import encode, xavier_parameter
from hybridsnn.hebbian.networks import rate_regularizer
from hybridsnn.spiking import lif_sequence

DIGITS = 10
IMAGE_PIXELS = 784
#: The seed divides the decoder's output spike counts by 15 (network_models.py:234-237).
OUTPUT_DIVISOR = 15.0


class CrossModalBatch(NamedTuple):
    """Audio currents [N, L, A], image currents [N, L, I], query currents [N, A], target image [N, 784]
    (pixels in [0, 1]) and its digit [N]."""

    audio: Tensor
    images: Tensor
    query: Tensor
    target: Tensor
    digit: Tensor

    size = property(batch_size)
    select = select_examples
    to = batch_to


class ModalityPool(NamedTuple):
    """Items of one modality grouped by digit: ``currents`` [N, D], ``by_class`` [10, K] row indices
    (K = the smallest class size; the rest of larger classes is not used)."""

    currents: Tensor
    by_class: Tensor


def modality_pool(currents: Tensor, labels: Tensor) -> ModalityPool:
    """Group ``currents`` [N, D] by ``labels`` [N] (digits 0-9; every digit needs >= 2 items)."""
    groups = [torch.nonzero(labels == digit).flatten() for digit in range(DIGITS)]
    smallest = min(len(g) for g in groups)
    if smallest < 2:
        raise UserError(f"cross-modal data need >= 2 items of every digit, the smallest class has {smallest}")
    return ModalityPool(currents, torch.stack([g[:smallest] for g in groups]))


@dataclass
class CrossModalPools:
    """The audio and image pools of one split, plus the images [N, 784] (targets) and their digits."""

    audio: ModalityPool
    image: ModalityPool
    pixels: Tensor
    same_digit: bool

    def sample(self, count: int, length: int, generator: torch.Generator | None = None) -> CrossModalBatch:
        """``count`` examples of ``length`` pairs (see the module doc); random numbers from ``generator``."""
        if not 1 <= length <= DIGITS or count < 1:
            raise UserError(
                f"cross-modal examples need 1..{DIGITS} pairs and >= 1 example, got {length}, {count}"
            )
        rows = torch.arange(count)
        audio_classes = torch.rand(count, DIGITS, generator=generator).argsort(dim=1)[:, :length]
        image_classes = audio_classes
        if not self.same_digit:
            shuffle = torch.rand(count, length, generator=generator).argsort(dim=1)
            image_classes = audio_classes.gather(1, shuffle)
        audio_k, image_k = self.audio.by_class.shape[1], self.image.by_class.shape[1]
        audio_pick = torch.randint(audio_k, (count, length), generator=generator)
        image_pick = torch.randint(image_k, (count, length), generator=generator)
        audio_rows = self.audio.by_class[audio_classes, audio_pick]
        image_rows = self.image.by_class[image_classes, image_pick]
        which = torch.randint(length, (count,), generator=generator)
        other = (audio_pick[rows, which] + torch.randint(1, audio_k, (count,), generator=generator)) % audio_k
        query_rows = self.audio.by_class[audio_classes[rows, which], other]
        target_rows = image_rows[rows, which]
        return CrossModalBatch(
            self.audio.currents[audio_rows],
            self.image.currents[image_rows],
            self.audio.currents[query_rows],
            self.pixels[target_rows],
            image_classes[rows, which],
        )


class FreshExamples:
    """``batches`` fresh random batches per pass (torch's global RNG, re-seeded by ``fit`` every epoch)."""

    def __init__(self, pools: CrossModalPools, batches: int, batch_size: int, length: int) -> None:
        self.pools, self.batches, self.batch_size, self.length = pools, batches, batch_size, length

    def __iter__(self) -> Iterator[CrossModalBatch]:
        for _ in range(self.batches):
            yield self.pools.sample(self.batch_size, self.length)

    def __len__(self) -> int:
        return self.batches


def fixed_examples(pools: CrossModalPools, count: int, length: int, seed: int, batch: int) -> list:
    """A reproducible set of ``count`` examples (seed ``seed``) split into batches."""
    data = pools.sample(count, length, torch.Generator().manual_seed(seed))
    return [data.select(slice(i, i + batch)) for i in range(0, count, batch)]


@dataclass(frozen=True)
class CrossModalConfig(MemoryNetworkConfig):
    """Sizes and constants of the cross-modal SNN (seed defaults; times in ms = steps)."""

    threshold: float = 0.05
    audio_size: int = 64
    image_size: int = 64
    decoder_size: int = 256

    def __post_init__(self) -> None:
        self.require_positive_ints(("audio_size", "image_size", "memory_size", "decoder_size", "steps"))


class SpikingDense(nn.Module):
    """Bias-free dense layer of LIF neurons (seed ``DenseLayer``): spikes [T, B, in] → spikes [T, B, out]."""

    def __init__(self, input_size: int, output_size: int, lif: Any) -> None:
        super().__init__()
        self.weight = xavier_parameter(output_size, input_size)
        self.lif = lif

    def forward(self, spikes: Tensor) -> Tensor:
        return lif_sequence(spikes @ self.weight.T, self.lif).spikes


class CrossModalSNN(nn.Module):
    """Stores (audio, image) current pairs in a Hebbian memory and decodes an image for an audio query."""

    def __init__(self, config: CrossModalConfig) -> None:
        super().__init__()
        self.config = config
        lif = config.lif()
        self.lif = lif
        self.writing, self.reading = config.memory_layers(
            config.audio_size + config.image_size, config.audio_size, lif
        )
        self.decoder_hidden = SpikingDense(config.memory_size, config.decoder_size, lif)
        self.decoder_output = SpikingDense(config.decoder_size, IMAGE_PIXELS, lif)

    def forward(self, audio: Tensor, images: Tensor, query: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Recalled images [B, 784] and the spiking populations (name → spikes [T, B, N])."""
        steps = self.config.steps
        audio_spikes = encode(audio, steps, self.lif)
        image_spikes = encode(images, steps, self.lif)
        query_spikes = encode(query.unsqueeze(1), steps, self.lif)
        stored = self.writing(torch.cat([audio_spikes, image_spikes], dim=-1))
        read_keys, read_values = self.reading(query_spikes, stored.memory)
        hidden = self.decoder_hidden(read_values)
        output = self.decoder_output(hidden)
        self.last_memory = stored.memory.detach()
        populations = {
            "audio": audio_spikes,
            "images": image_spikes,
            "query": query_spikes,
            "write_keys": stored.keys,
            "write_values": stored.values,
            "read_keys": read_keys,
            "read_values": read_values,
            "decoder_hidden": hidden,
            "decoder_output": output,
        }
        return output.sum(dim=0) / OUTPUT_DIVISOR, populations


class CrossModalSteps:
    """``train_step``/``eval_step`` for :func:`hybridsnn.spiking.fit`: MSE (+ ``l2`` · rate regulariser in
    Hz², from the first epoch as in the seed), Adam, gradient clipping; evaluation also scores the recalled
    images with the pre-trained MNIST ``classifier``."""

    def __init__(
        self,
        model: CrossModalSNN,
        classifier: nn.Module,
        optimizer: torch.optim.Optimizer | None,
        device: torch.device,
        *,
        l2: float = 0.0,
        target_rate: float = 0.0,
        max_grad_norm: float = 40.0,
    ) -> None:
        self.model, self.classifier, self.optimizer, self.device = model, classifier, optimizer, device
        self.l2, self.target_rate, self.max_grad_norm = l2, target_rate, max_grad_norm

    def _forward(self, batch: CrossModalBatch) -> tuple[Tensor, CrossModalBatch, dict[str, Tensor]]:
        batch = batch.to(self.device)
        recalled, populations = self.model(batch.audio, batch.images, batch.query)
        return recalled, batch, populations

    def train_step(self, batch: CrossModalBatch) -> dict[str, float]:
        """One Adam step; mean squared error per pixel (and the regulariser when ``l2 > 0``)."""
        assert self.optimizer is not None
        recalled, batch, populations = self._forward(batch)
        mse = nn.functional.mse_loss(recalled, batch.target)
        objective = mse
        metrics = {"mse": float(mse.detach())}
        if self.l2 > 0:
            regularizer = rate_regularizer(populations, self.target_rate)
            objective = objective + self.l2 * regularizer
            metrics["regularizer"] = float(regularizer.detach())
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if self.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return metrics

    @torch.no_grad()
    def eval_step(self, batch: CrossModalBatch) -> dict[str, float]:
        """MSE per pixel, the classifier's accuracy on the recalled images and the read-value rate (Hz)."""
        recalled, batch, populations = self._forward(batch)
        predicted = self.classifier(recalled.clamp(0.0, 1.0)).argmax(dim=1)
        return {
            "mse": float(nn.functional.mse_loss(recalled, batch.target)),
            "accuracy": float((predicted == batch.digit).float().mean()),
            "read_value_rate_hz": float(populations["read_values"].mean()) * 1000.0,
        }
