"""MFCC images of spoken digits for the cross-modal task (docs/hebbian.md, «Cross-modal task»), in plain
torch.

The seed uses ``torchaudio.transforms.MFCC(n_mfcc=21)`` (8 kHz, 400-sample Hann window, hop 200 samples =
25 ms, power spectrogram → mel filterbank → dB with an 80 dB floor → orthonormal DCT-II), drops c0,
standardises every frame and keeps a 30-frame window centred on the frame of maximal energy: a 30 × 20
image per recording. torchaudio is not a dependency here; this module computes the same pipeline with
``torch.stft`` and an HTK mel filterbank, with 40 mel bands instead of torchaudio's 128 (128 bands leave
empty filters at a 400-point FFT and 8 kHz).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from hybridsnn.errors import DataError

SAMPLE_RATE_HZ = 8000
N_FFT = 400
HOP = 200
N_MELS = 40
N_MFCC = 21  # c0 is dropped → 20 coefficients
FRAMES = 30
TOP_DB = 80.0
TRIM_LEVEL = 1e-6  # samples with |x| <= this (full scale 1) at both ends are cut


def _hz_to_mel(hz: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate_hz: int) -> Tensor:
    """Triangular HTK-mel filters ``[n_freqs, n_mels]`` (unnormalised, peak 1) from 0 Hz to Nyquist."""
    freqs = torch.linspace(0.0, sample_rate_hz / 2, n_freqs, dtype=torch.float64)
    top = _hz_to_mel(torch.tensor(sample_rate_hz / 2, dtype=torch.float64))
    mel_points = torch.linspace(0.0, float(top), n_mels + 2, dtype=torch.float64)
    hz_points = 700.0 * (10.0 ** (mel_points / 2595.0) - 1.0)
    lower, centre, upper = hz_points[:-2], hz_points[1:-1], hz_points[2:]
    rising = (freqs[:, None] - lower) / (centre - lower)
    falling = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def dct_matrix(n_in: int, n_out: int) -> Tensor:
    """Orthonormal DCT-II ``[n_in, n_out]``: ``x @ D`` gives the first ``n_out`` coefficients."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)
    basis = torch.cos(math.pi / n_in * (n[:, None] + 0.5) * k[None, :]) * math.sqrt(2.0 / n_in)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


def trim(samples: Tensor, level: float = TRIM_LEVEL) -> Tensor:
    """``samples`` without the leading and trailing samples of magnitude ``<= level``."""
    loud = torch.nonzero(samples.abs() > level).flatten()
    if loud.numel() == 0:
        raise DataError("a recording is silent (no sample above the trim level)")
    return samples[int(loud[0]) : int(loud[-1]) + 1]


def mfcc(samples: Tensor, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Tensor:
    """MFCCs ``[frames, N_MFCC]`` of a waveform in full-scale units (|x| <= 1), 25 ms hop at 8 kHz."""
    if samples.numel() <= N_FFT // 2:
        samples = torch.nn.functional.pad(samples, (0, N_FFT // 2 + 1 - samples.numel()))
    spectrum = torch.stft(
        samples.float(),
        N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spectrum.abs().pow(2).T  # [frames, n_fft/2 + 1]
    mel = power @ mel_filterbank(N_FFT // 2 + 1, N_MELS, sample_rate_hz)
    decibels = 10.0 * torch.log10(mel.clamp(min=1e-10))
    decibels = decibels.clamp(min=float(decibels.max()) - TOP_DB)
    return decibels @ dct_matrix(N_MELS, N_MFCC)


def mfcc_image(samples: Tensor, frames: int = FRAMES) -> Tensor:
    """The seed's audio image ``[frames, 20]``: trimmed, MFCC without c0, each frame standardised, the
    ``frames`` frames centred on the loudest one (zero-padded at the end if the recording is shorter)."""
    coefficients = mfcc(trim(samples))
    energy = coefficients[:, 0]
    features = coefficients[:, 1:]
    features = (features - features.mean(dim=1, keepdim=True)) / features.std(dim=1, keepdim=True).clamp(
        min=1e-6
    )
    count = features.shape[0]
    start = min(max(int(energy.argmax()) - frames // 2, 0), max(count - frames, 0))
    window = features[start : start + frames]
    return torch.nn.functional.pad(window, (0, 0, 0, frames - window.shape[0]))


def mfcc_images(waveforms: np.ndarray, lengths: np.ndarray) -> Tensor:
    """``[N, FRAMES, 20]`` images of int16 waveforms ``[N, L]`` with ``lengths`` valid samples each."""
    scale = 1.0 / 32768.0
    return torch.stack(
        [
            mfcc_image(torch.from_numpy(row[: int(n)].astype("float32") * scale))
            for row, n in zip(waveforms, lengths, strict=True)
        ]
    )
