"""The Omniglot one-shot memory network (seed ``OmniglotOneShot``, hebbian_memory §2.2).

Inputs are the frozen encoder's currents (64 per image, in [0, 1]; :mod:`hybridsnn.hebbian.protonet`).
Images are spiked by non-leaky IF neurons with threshold 1 — the seed's ``NonLeakyIafPscDelta`` of its
spiking CNN after threshold balancing, whose threshold is the maximum activation (our currents are already
divided by it) — so an image neuron fires at ≈ current × 1000 Hz, at most every 4th step (refractory 3).

* store phase: the 5 support images, each encoded by its own IF population run (state reset per image, as
  the seed passes every image through the spiking CNN separately), ``steps`` ms each; the labels
  ``0 … 4`` (always in presentation order) through a learned embedding (5 × 64) into one continuous LIF
  encoder run (gain 1). The writing layer gets both spike trains (128 inputs);
* recall phase: the query image's spikes drive the reading layer for ``steps`` ms;
* read-out: bias-free Linear(M → 5) on the value spike counts of the last ``readout_window`` steps.

The answer is the position of the support image whose class matches the query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from hybridsnn.errors import UserError
from hybridsnn.hebbian.config import MemoryNetworkConfig
from hybridsnn.hebbian.layers import XAVIER_GAIN, encode, hebbian_lif_config
from hybridsnn.spiking import LIFConfig, spike_counts

#: Threshold of the image IF neurons: currents are features / their training-set maximum (balanced).
IMAGE_THRESHOLD = 1.0


@dataclass(frozen=True)
class OmniglotConfig(MemoryNetworkConfig):
    """Sizes and constants (seed defaults; times in ms = steps): ``ways`` stored images per episode,
    ``feature_size`` encoder currents per image, ``label_size`` label-encoder neurons."""

    ways: int = 5
    feature_size: int = 64
    label_size: int = 64
    readout_window: int = 30

    def __post_init__(self) -> None:
        self.require_positive_ints(
            ("ways", "feature_size", "label_size", "memory_size", "steps", "readout_window")
        )
        if self.ways < 2:
            raise UserError(f"ways must be >= 2 (the seed: 5), got {self.ways}")
        if self.readout_window > self.steps:
            raise UserError(
                f"readout_window (--readout-window {self.readout_window}) must not exceed the {self.steps} "
                "steps of the recall phase (--num-time-steps)"
            )

    def image_neurons(self) -> LIFConfig:
        """The seed's ``NonLeakyIafPscDelta``: no leak, no input scaling, reset by subtraction one step after
        the spike, the same refractory period; threshold :data:`IMAGE_THRESHOLD`."""
        lif = hebbian_lif_config(
            IMAGE_THRESHOLD, self.tau_mem, self.refractory_steps, self.perfect_reset, self.dampening
        )
        return replace(lif, decay=1.0, scale_input=False)


class OmniglotSNN(nn.Module):
    """``forward(support [B, W, D], query [B, D]) -> (scores [B, W], populations)``.

    ``populations`` maps the trainable spiking populations (label encoder, write/read keys and values) to
    their spikes [T, B, N]: the rate regulariser's input (the seed skips the frozen image encoders').
    ``last_images`` holds the support and query spikes of the last call (for figures).
    """

    def __init__(self, config: OmniglotConfig) -> None:
        super().__init__()
        self.config = config
        lif = config.lif()
        self.lif = lif
        self.image_neurons = config.image_neurons()
        self.embedding = nn.Embedding(config.ways, config.label_size)
        nn.init.xavier_uniform_(self.embedding.weight, gain=XAVIER_GAIN)
        self.writing, self.reading = config.memory_layers(
            config.feature_size + config.label_size, config.feature_size, lif
        )
        self.output = nn.Linear(config.memory_size, config.ways, bias=False)

    def _image_spikes(self, currents: Tensor) -> Tensor:
        """``[B, S, D]`` currents → ``[S·T, B, D]`` spikes, every image from neurons at rest."""
        batch, items, size = currents.shape
        spikes = encode(currents.reshape(batch * items, 1, size), self.config.steps, self.image_neurons)
        steps = spikes.shape[0]
        return spikes.view(steps, batch, items, size).permute(2, 0, 1, 3).reshape(items * steps, batch, size)

    def forward(self, support: Tensor, query: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        config = self.config
        if support.dim() != 3 or support.shape[1:] != (config.ways, config.feature_size):
            raise UserError(
                f"support must be [B, {config.ways}, {config.feature_size}] currents, "
                f"got {tuple(support.shape)}"
            )
        if query.shape != (support.shape[0], config.feature_size):
            raise UserError(
                f"query must be [{support.shape[0]}, {config.feature_size}], got {tuple(query.shape)}"
            )
        positions = torch.arange(config.ways, device=support.device).expand(support.shape[0], -1)
        image_spikes = self._image_spikes(support)
        label_spikes = encode(self.embedding(positions), config.steps, self.lif)
        query_spikes = self._image_spikes(query.unsqueeze(1))
        stored = self.writing(torch.cat([image_spikes, label_spikes], dim=-1))
        read_keys, read_values = self.reading(query_spikes, stored.memory)
        scores = self.output(spike_counts(read_values, window=config.readout_window))
        self.last_memory = stored.memory.detach()
        self.last_images = (image_spikes.detach(), query_spikes.detach())
        populations = {
            "labels": label_spikes,
            "write_keys": stored.keys,
            "write_values": stored.values,
            "read_keys": read_keys,
            "read_values": read_values,
        }
        return scores, populations
