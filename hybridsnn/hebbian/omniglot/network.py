"""The Omniglot one-shot memory network (seed ``OmniglotOneShot``, docs/hebbian.md, «Omniglot task»).

Inputs are the frozen encoder's currents (64 per image, in [0, 1];
:mod:`hybridsnn.hebbian.omniglot.protonet`).
Images are spiked by non-leaky IF neurons — the seed's ``NonLeakyIafPscDelta`` at the output of its spiking
CNN after threshold balancing: its pixel encoder fires at most every ``refractory + 1`` steps and each
layer's threshold is the layer's maximum activation, so the largest activation fires at the refractory
ceiling and smaller ones proportionally slower. Our currents are already divided by the training maximum,
so the balanced threshold is ``refractory + 1`` (:func:`balanced_image_threshold`): an image neuron fires at
current × 250 Hz (refractory 3), never saturating below the maximum.

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


def balanced_image_threshold(refractory_steps: int) -> float:
    """Threshold of the image IF neurons for currents in [0, 1] (features / their training maximum): the
    maximum, 1 per step, fires at the refractory ceiling, one spike per ``refractory_steps + 1`` steps, and a
    current c at c / (refractory_steps + 1) spikes per step. (Threshold 1 let every current above
    1 / (refractory_steps + 1) fire at the ceiling: 80 % of the ProtoNet's features, all alike.)"""
    return float(refractory_steps + 1)


@dataclass(frozen=True)
class OmniglotConfig(MemoryNetworkConfig):
    """Sizes and constants (seed defaults; times in ms = steps): ``ways`` stored images per episode,
    ``feature_size`` encoder currents per image, ``label_size`` label-encoder neurons; ``warm_start``
    (not the seed's, ``--quick`` only) starts the memory layers from the structure of the solution
    (:meth:`OmniglotSNN.warm_start`)."""

    ways: int = 5
    feature_size: int = 64
    label_size: int = 64
    readout_window: int = 30
    warm_start: bool = False

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
        the spike, the same refractory period; threshold :func:`balanced_image_threshold`."""
        lif = hebbian_lif_config(
            balanced_image_threshold(self.refractory_steps),
            self.tau_mem,
            self.refractory_steps,
            self.perfect_reset,
            self.dampening,
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
        if config.warm_start:
            self.warm_start()

    @torch.no_grad()
    def warm_start(self) -> None:
        """Zero the label→key and image→value weights of the writing layer (keys start driven by the image
        alone, values by the label alone) and copy its image→key weights into the reading layer's
        query→key weights (a query starts addressing the memory as its image was stored). The seed's
        Xavier start needs hundreds of steps to find this structure (the read-out first falls silent);
        from here the quick run's ~150 steps learn the read-out and refine all weights."""
        images, size = self.config.feature_size, self.config.memory_size
        keys, values = self.writing.weight[:size], self.writing.weight[size:]
        keys[:, images:] = 0.0
        values[:, :images] = 0.0
        self.reading.weight[:, :images] = keys[:, :images]

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
