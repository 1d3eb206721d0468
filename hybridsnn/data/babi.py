"""bAbI v1.2 question answering (the 20 tasks, en-10k and en), registered in the catalog as ``babi``.

Files: ``<root>/babi/tasks_1-20_v1-2/{en-10k|en}/qa{N}_{name}_{train|test}.txt`` from the v1.2 archive
(downloaded when online). Lines are ``ID text``; ``ID 1`` starts a new story; a question line is
``ID question?<TAB>answer<TAB>supporting ids``. Every question becomes one sample holding the story sentences
so far. Text is lower-cased and split on spaces; ``?`` and ``.`` are removed (the seed removes ``?``; the
full stop is dropped here so that ``kitchen.`` and the answer ``kitchen`` are one word). Samples whose
story has more than ``max_sentences`` (50) sentences are dropped (train and test, as in the seed).
Vectorising (vocabulary, padding) is the Hebbian task's (:mod:`hybridsnn.hebbian.babi.data`).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.download import download_url, ensure_present
from hybridsnn.data.roots import resolve_root
from hybridsnn.errors import DataError, UserError

URL = "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz"
FOLDER = Path("babi")
ARCHIVE_DIR = "tasks_1-20_v1-2"
TASK_NAMES = (
    "single-supporting-fact",
    "two-supporting-facts",
    "three-supporting-facts",
    "two-arg-relations",
    "three-arg-relations",
    "yes-no-questions",
    "counting",
    "lists-sets",
    "simple-negation",
    "indefinite-knowledge",
    "basic-coreference",
    "conjunction",
    "compound-coreference",
    "time-reasoning",
    "basic-deduction",
    "basic-induction",
    "positional-reasoning",
    "size-reasoning",
    "path-finding",
    "agents-motivations",
)
MAX_SENTENCES = 50


class Sample(NamedTuple):
    """One question: the story sentences before it, the question and the one-word answer (word lists)."""

    story: list[list[str]]
    question: list[str]
    answer: str


def task_file(root: Path, task: int, split: str, ten_k: bool = True) -> Path:
    """``<root>/babi/tasks_1-20_v1-2/en-10k/qa{task}_{name}_{split}.txt`` (``en`` for the 1k version)."""
    if not 1 <= task <= len(TASK_NAMES):
        raise UserError(f"bAbI task must be 1..{len(TASK_NAMES)}, got {task}")
    if split not in ("train", "test"):
        raise UserError(f"bAbI split must be train or test, got {split!r}")
    language = "en-10k" if ten_k else "en"
    return root / FOLDER / ARCHIVE_DIR / language / f"qa{task}_{TASK_NAMES[task - 1]}_{split}.txt"


def _words(text: str) -> list[str]:
    return text.lower().replace("?", " ").replace(".", " ").split()


def parse_stories(lines: Iterable[str], max_sentences: int = MAX_SENTENCES) -> list[Sample]:
    """One :class:`Sample` per question of a bAbI text (see the module doc)."""
    samples: list[Sample] = []
    story: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        ident, _, text = line.partition(" ")
        if not ident.isdigit():
            raise DataError(f"bAbI line {number} does not start with a sentence number: {line[:60]!r}")
        if int(ident) == 1:
            story = []
        if "\t" in text:
            question, answer, *_ = text.split("\t")
            if len(story) <= max_sentences:
                samples.append(Sample([list(s) for s in story], _words(question), answer.strip().lower()))
        else:
            story.append(_words(text))
    return samples


def read_samples(path: Path, max_sentences: int = MAX_SENTENCES) -> list[Sample]:
    """The samples of one bAbI file."""
    with open(path, encoding="utf-8") as handle:
        return parse_stories(handle, max_sentences)


def babi_paths(root: Path, split: str, ten_k: bool = True) -> list[Path]:
    """The files of ``split`` of all 20 tasks."""
    return [task_file(root, task, split, ten_k) for task in range(1, len(TASK_NAMES) + 1)]


def fetch_babi(root: Path, split: str) -> None:
    """Download the v1.2 archive (all tasks, both splits) to ``<root>/babi`` and unpack it there."""
    archive = download_url(URL, root / FOLDER)
    with tarfile.open(archive) as tar:
        tar.extractall(root / FOLDER, filter="data")


def ensure_babi(root: str | Path | None, task: int, ten_k: bool = True) -> tuple[Path, Path]:
    """The train and test files of ``task``, downloading the archive (:func:`fetch_babi`) if needed and
    allowed; else one-line :class:`~hybridsnn.errors.DataError` naming the missing files."""
    base = resolve_root(root)
    files = (task_file(base, task, "train", ten_k), task_file(base, task, "test", ten_k))
    for split, path in zip(("train", "test"), files):
        ensure_present("babi", split, [path], partial(fetch_babi, base, split), None)
    return files


def load_babi(root: Path, split: str, task: int = 1, max_sentences: int = MAX_SENTENCES) -> ArrayDataset:
    """One task's questions of ``split`` (en-10k): ``x`` an object array of :class:`Sample`, ``y`` the
    answer's index into ``classes`` (the task's answer words, sorted); meta ``sentences`` (story length)."""
    path = task_file(root, int(task), split)
    if not path.is_file():
        raise DataError(f"bAbI file {path} not found")
    samples = read_samples(path, int(max_sentences))
    x = np.empty(len(samples), dtype=object)
    x[:] = samples
    classes = tuple(sorted({s.answer for s in samples}))
    y = np.array([classes.index(s.answer) for s in samples], dtype=np.int64)
    sentences = np.array([len(s.story) for s in samples], dtype=np.int64)
    return ArrayDataset(x, y, classes, "babi", split, meta={"sentences": sentences},
                        info={"task": int(task), "task_name": TASK_NAMES[int(task) - 1]})  # fmt: skip


OPTIONS = {
    "task": "bAbI task 1..20 (default 1)",
    "max_sentences": f"drop stories longer than this many sentences (default {MAX_SENTENCES})",
}
