"""The bAbI question-answering SNN (docs/hebbian.md, «bAbI task»; seed ``QuestionAnswering``).

Words → ``Embedding(vocab, E, padding_idx=0)``; a sentence's current is the position-weighted bag of its
word embeddings, ``Σ_w P[w] ⊙ emb(word_w)`` with learned weights ``P`` [sentence_size, E] initialised to 1;
each story sentence drives LIF encoder neurons for ``steps`` steps into the writing layer; the question,
encoded the same way, drives the reading layer (value→key delay 30 steps); scores over the vocabulary =
Linear(value spike counts of the last ``readout_window`` recall steps).

Sizes come in an :class:`~hybridsnn.hebbian.networks.AssociationConfig` with ``feature_size`` = words per
sentence and ``num_classes`` = vocabulary size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hybridsnn.hebbian.layers import XAVIER_GAIN, encode
from hybridsnn.hebbian.networks import AssociationConfig
from hybridsnn.spiking import spike_counts


class QuestionAnsweringSNN(nn.Module):
    """Stores a story sentence by sentence in a Hebbian memory and answers a question with one word."""

    def __init__(self, config: AssociationConfig) -> None:
        super().__init__()
        self.config = config
        lif = config.lif()
        self.lif = lif
        self.embedding = nn.Embedding(config.num_classes, config.embedding_size, padding_idx=0)
        nn.init.xavier_uniform_(self.embedding.weight, gain=XAVIER_GAIN)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.position = nn.Parameter(torch.ones(config.feature_size, config.embedding_size))
        self.writing, self.reading = config.memory_layers(config.embedding_size, config.embedding_size, lif)
        self.output = nn.Linear(config.memory_size, config.num_classes, bias=False)

    def sentence_currents(self, words: Tensor) -> Tensor:
        """``[..., W]`` word indices → ``[..., E]`` position-weighted bags of embeddings."""
        return (self.position * self.embedding(words)).sum(dim=-2)

    def forward(self, story: Tensor, question: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Scores [B, vocab] for stories [B, S, W] and questions [B, W]; populations name → [T, B, N]."""
        steps = self.config.steps
        story_spikes = encode(self.sentence_currents(story), steps, self.lif)
        question_spikes = encode(self.sentence_currents(question).unsqueeze(1), steps, self.lif)
        stored = self.writing(story_spikes)
        read_keys, read_values = self.reading(question_spikes, stored.memory)
        self.last_memory = stored.memory.detach()
        scores = self.output(spike_counts(read_values, window=self.config.readout_window))
        populations = {
            "story": story_spikes,
            "question": question_spikes,
            "write_keys": stored.keys,
            "write_values": stored.values,
            "read_keys": read_keys,
            "read_values": read_values,
        }
        return scores, populations
