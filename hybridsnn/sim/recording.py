"""Spike recording buffers: one bit per neuron and timestep, packed in 32-bit words (GeNN's layout)."""

from __future__ import annotations

import numpy as np


def decode_spike_words(words: np.ndarray, start_time: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(times in ms, neuron ids) from a (timesteps, ceil(n/32)) uint32 buffer, in GeNN's order.

    Like ``pygenn``'s ``spike_recording_data``: timesteps in order, words in order, and within a word the
    highest neuron id first; the time of row k is ``start_time + k * dt``.
    """
    steps, n_words = words.shape
    bits = np.unpackbits(
        np.ascontiguousarray(words).view(np.uint8).reshape(steps, n_words, 4), axis=2, bitorder="little"
    ).reshape(steps, n_words, 32)
    step, word, bit = np.nonzero(bits[:, :, ::-1])  # highest bit first within each word
    ids = (word * 32 + (31 - bit)).astype(np.int32)
    return start_time + step * dt, ids
