"""Omniglot (Lake et al.): the image sets and the 20 official 20-way one-shot classification runs.

Files (brendenlake/omniglot ``python/``) under ``<root>/omniglot/``, read straight from the zip or from the
extracted folder of the same name: ``images_background.zip`` (964 characters), ``images_evaluation.zip``
(659), ``images_background_small1.zip`` (136), ``images_background_small2.zip`` (156), ``all_runs.zip``.
Images are 105x105 uint8 with white background 255 and black ink 0; every character has 20 drawings.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.download import download_url
from hybridsnn.data.registry import load_dataset
from hybridsnn.data.roots import locate
from hybridsnn.errors import DataError

FOLDER = "omniglot"
#: Split name -> archive stem.
ARCHIVES = {
    "background": "images_background",
    "evaluation": "images_evaluation",
    "small1": "images_background_small1",
    "small2": "images_background_small2",
    "runs": "all_runs",
}
DRAWINGS_PER_CHARACTER = 20
COUNTS = {"background": 964 * DRAWINGS_PER_CHARACTER, "evaluation": 659 * DRAWINGS_PER_CHARACTER,
          "small1": 136 * DRAWINGS_PER_CHARACTER, "small2": 156 * DRAWINGS_PER_CHARACTER,
          "runs": 20 * 40}
IMAGE_SHAPE = (105, 105)
URL_BASE = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
RUN_CLASSES = tuple(f"class{k:02d}" for k in range(1, 21))
_DRAWING = re.compile(r"^([^/]+)/(character\d+)/\d+_(\d+)\.png$")
_RUN_LABELS = re.compile(r"^run\d+/class_labels\.txt$")


def omniglot_paths(root: Path, split: str) -> list[Path]:
    """The zip of ``split``; the extracted folder ``<root>/omniglot/<stem>/`` is accepted as well."""
    return [root / FOLDER / f"{ARCHIVES[split]}.zip"]


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(relative name, bytes)`` of each file in a folder, or in a zip minus its top folder named like it."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield file.relative_to(path).as_posix(), file.read_bytes()
        return
    prefix = path.stem + "/"
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in sorted(archive.infolist(), key=lambda e: e.filename):
                if not entry.is_dir():
                    name = entry.filename
                    yield name[len(prefix):] if name.startswith(prefix) else name, archive.read(entry)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"corrupt Omniglot archive {path}: {exc}") from exc


def _decode_png(data: bytes, source: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DataError(f"corrupt Omniglot image {source}: {exc}") from exc
    if pixels.shape != IMAGE_SHAPE:
        raise DataError(f"Omniglot image {source} is {pixels.shape}; expected {IMAGE_SHAPE}")
    return pixels


def load_omniglot(root: Path, split: str) -> ArrayDataset:
    """An image set (``split`` != ``runs``) or the one-shot runs, from the zip or its extracted folder."""
    (expected,) = omniglot_paths(root, split)
    path = locate(expected) or expected
    return _load_runs(path) if split == "runs" else _load_images(path, split)


def _load_images(path: Path, split: str) -> ArrayDataset:
    """y = character index (classes ``Alphabet/characterNN``); meta ``alphabet`` index, ``drawer`` 1..20."""
    images, keys = [], []
    for name, data in _members(path):
        match = _DRAWING.match(name)
        if match:
            images.append(_decode_png(data, f"{path}:{name}"))
            keys.append(match.groups())
    if not images:
        raise DataError(f"Omniglot archive {path} contains no Alphabet/characterNN/*.png drawings")
    characters = sorted({f"{alphabet}/{character}" for alphabet, character, _ in keys})
    alphabets = sorted({alphabet for alphabet, _, _ in keys})
    char_index = {c: i for i, c in enumerate(characters)}
    alpha_index = {a: i for i, a in enumerate(alphabets)}
    return ArrayDataset(
        np.stack(images),
        np.array([char_index[f"{a}/{c}"] for a, c, _ in keys]),
        tuple(characters),
        "omniglot",
        split,
        meta={"alphabet": np.array([alpha_index[a] for a, _, _ in keys], dtype=np.int64),
              "drawer": np.array([int(d) for _, _, d in keys], dtype=np.int64)},
        info={"alphabets": tuple(alphabets)},
    )


def _load_runs(path: Path) -> ArrayDataset:
    """Per run: 20 training images (y = 0..19 for class01..class20), then 20 test items with y = answer.

    meta ``run`` is 1..20 and ``role`` is 0 for a training (support) image, 1 for a test (query) image.
    """
    files = dict(_members(path))
    images, labels, runs, roles = [], [], [], []
    run_names = sorted(name.split("/", 1)[0] for name in files if _RUN_LABELS.match(name))
    if not run_names:
        raise DataError(f"Omniglot runs archive {path} contains no runNN/class_labels.txt")
    for run_name in run_names:
        answers = _parse_class_labels(files[f"{run_name}/class_labels.txt"].decode(), f"{path}:{run_name}")
        training = sorted(set(answers.values()))
        if len(training) != len(RUN_CLASSES) or len(answers) != len(RUN_CLASSES):
            raise DataError(f"Omniglot run {path}:{run_name} lists {len(answers)} test items and "
                            f"{len(training)} training classes; expected {len(RUN_CLASSES)} each")
        entries = [(t, training.index(t), 0) for t in training] + [(q, training.index(answers[q]), 1)
                                                                      for q in sorted(answers)]
        for file, label, role in entries:
            member = f"{run_name}/{file}"
            if member not in files:
                raise DataError(f"Omniglot runs archive {path} lacks {member}")
            images.append(_decode_png(files[member], f"{path}:{member}"))
            labels.append(label)
            runs.append(int(run_name[3:]))
            roles.append(role)
    return ArrayDataset(np.stack(images), np.array(labels), RUN_CLASSES, "omniglot", "runs",
                        meta={"run": np.array(runs, dtype=np.int64), "role": np.array(roles, dtype=np.int64)})


def _parse_class_labels(text: str, source: str) -> dict[str, str]:
    """``class_labels.txt`` lines ``runNN/test/itemXX.png runNN/training/classYY.png`` -> {test: training}."""
    answers = {}
    for line in text.splitlines():
        if line.strip():
            parts = line.split()
            if len(parts) != 2:
                raise DataError(f"bad line in {source}/class_labels.txt: {line!r}; expected two image paths")
            test, train = (p.split("/", 1)[1] for p in parts)
            answers[test] = train
    return answers


def fetch_omniglot(root: Path, split: str) -> None:
    """Download the zip of ``split`` from brendenlake/omniglot into ``<root>/omniglot``."""
    subfolder = "one-shot-classification/" if split == "runs" else ""
    download_url(f"{URL_BASE}/{subfolder}{ARCHIVES[split]}.zip", root / FOLDER)


@dataclass(frozen=True)
class OneShotRun:
    """A 20-way one-shot run: ``support`` images (class k at index k), ``queries`` and their ``answers``."""

    run: int
    support: np.ndarray
    queries: np.ndarray
    answers: np.ndarray


def one_shot_runs(ds: ArrayDataset) -> list[OneShotRun]:
    """Split the ``omniglot``/``runs`` dataset into its :class:`OneShotRun` objects, ordered by run number."""
    result = []
    for run in np.unique(ds.meta["run"]):
        support = (ds.meta["run"] == run) & (ds.meta["role"] == 0)
        query = (ds.meta["run"] == run) & (ds.meta["role"] == 1)
        result.append(OneShotRun(int(run), ds.x[support], ds.x[query], ds.y[query]))
    return result


def load_one_shot_runs(root: str | os.PathLike[str] | None = None,
                       download: bool | None = None) -> list[OneShotRun]:
    """The 20 official one-shot runs (``all_runs.zip``) as :class:`OneShotRun` objects."""
    return one_shot_runs(load_dataset("omniglot", split="runs", root=root, download=download))


def distinct_characters(
    splits: tuple[str, ...], root: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The drawings of every character of ``splits``, each character once: ``[C, 20, 105, 105]`` uint8 and the
    names (``Alphabet/characterNN``, sorted). The small background sets share two alphabets (Greek, Latin)
    with identical drawings, so concatenating them would put one character into two classes."""
    drawings: dict[str, np.ndarray] = {}
    for split in splits:
        data = load_dataset("omniglot", split=split, root=root)
        for index, name in enumerate(data.classes):
            drawings.setdefault(name, data.x[data.y == index])
    names = tuple(sorted(drawings))
    counts = {len(drawings[name]) for name in names}
    if len(counts) != 1:
        raise DataError(f"Omniglot characters have unequal numbers of drawings: {sorted(counts)}")
    return np.stack([drawings[name] for name in names]), names
