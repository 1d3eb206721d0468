"""Free Spoken Digit Dataset: 8 kHz mono 16-bit WAVs ``<root>/fsdd/recordings/{digit}_{speaker}_{index}.wav``.

The official split (FSDD README): recordings with index 0-4 are the test set, 5-49 the training set.
Version v1.0.10 (the one the Hebbian-memory work pins) has 6 speakers x 10 digits x 50 recordings.
"""

from __future__ import annotations

import re
import tarfile
import wave
from pathlib import Path

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.download import download_url
from hybridsnn.errors import DataError

FOLDER = Path("fsdd") / "recordings"
SAMPLE_RATE_HZ = 8000
TEST_INDICES = range(5)
COUNTS = {"train": 2700, "test": 300}
VERSION = "v1.0.10"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{VERSION}.tar.gz"
OPTIONS = {"length": "crop or zero-pad every waveform to this many samples (default: the split's longest)"}
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def fsdd_paths(root: Path, split: str) -> list[Path]:
    """The recordings folder (both splits live in it)."""
    return [root / FOLDER]


def read_wav(path: Path) -> np.ndarray:
    """Samples of an 8 kHz mono 16-bit PCM WAV as int16; any other format raises DataError."""
    try:
        with wave.open(str(path), "rb") as handle:
            layout = (handle.getnchannels(), handle.getsampwidth(), handle.getframerate())
            frames = handle.readframes(handle.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise DataError(f"corrupt WAV file {path}: {exc}") from exc
    if layout != (1, 2, SAMPLE_RATE_HZ):
        raise DataError(f"WAV file {path} is {layout[0]} channel(s), {8 * layout[1]} bit, {layout[2]} Hz; "
                        f"expected 1 channel, 16 bit, {SAMPLE_RATE_HZ} Hz")
    return np.frombuffer(frames, dtype="<i2").astype(np.int16)


def load_fsdd(root: Path, split: str, length: int | None = None) -> ArrayDataset:
    """Waveforms int16 ``(N, L)`` zero-padded (or cropped) to ``L`` samples at 8 kHz, labels = spoken digit.

    meta: ``speaker`` (index into ``info["speakers"]``), ``index`` (recording number), ``length`` (valid
    samples per row, <= L). info: ``sample_rate_hz``, ``speakers``.
    """
    if length is not None and int(length) < 1:
        raise DataError(f"fsdd option length must be >= 1 sample, got {length}")
    entries = []
    for path in (root / FOLDER).glob("*.wav"):
        match = _NAME.match(path.name)
        if match is None:
            raise DataError(f"FSDD file {path} is not named {{digit}}_{{speaker}}_{{index}}.wav")
        digit, speaker, index = int(match[1]), match[2], int(match[3])
        if (index in TEST_INDICES) == (split == "test"):
            entries.append((digit, speaker, index, path))
    if not entries:
        raise DataError(f"no FSDD {split} recordings (*.wav) in {root / FOLDER}")
    entries.sort()
    waves = [read_wav(path) for *_, path in entries]
    width = int(length) if length is not None else max(len(w) for w in waves)
    x = np.zeros((len(waves), width), dtype=np.int16)
    for row, samples in zip(x, waves, strict=True):
        row[: min(width, len(samples))] = samples[:width]
    speakers = sorted({speaker for _, speaker, _, _ in entries})
    return ArrayDataset(
        x,
        np.array([digit for digit, *_ in entries]),
        tuple(str(d) for d in range(10)),
        "fsdd",
        split,
        meta={"speaker": np.array([speakers.index(s) for _, s, _, _ in entries], dtype=np.int64),
              "index": np.array([index for _, _, index, _ in entries], dtype=np.int64),
              "length": np.array([min(width, len(w)) for w in waves], dtype=np.int64)},
        info={"sample_rate_hz": SAMPLE_RATE_HZ, "speakers": tuple(speakers)},
    )


def fetch_fsdd(root: Path, split: str) -> None:
    """Download the FSDD release archive and unpack only its ``recordings/*.wav`` into ``<root>/fsdd``."""
    archive = download_url(ARCHIVE_URL, root / "fsdd", filename=f"fsdd-{VERSION}.tar.gz")
    target = root / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and Path(member.name).parent.name == "recordings" and _NAME.match(name):
                source = tar.extractfile(member)
                if source is not None:
                    (target / name).write_bytes(source.read())
