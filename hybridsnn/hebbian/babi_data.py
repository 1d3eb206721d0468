"""bAbI question answering data (hebbian_memory §2.4): download, parse, vectorise.

Files: ``<root>/babi/tasks_1-20_v1-2/{en-10k|en}/qa{N}_{name}_{train|test}.txt`` from the v1.2 archive
(downloaded when online). Lines are ``ID text``; ``ID 1`` starts a new story; a question line is
``ID question?<TAB>answer<TAB>supporting ids``. Every question becomes one sample holding the story sentences
so far. Text is lower-cased and split on spaces; ``?`` and ``.`` are removed (the seed removes ``?``; the
full stop is dropped here so that ``kitchen.`` and the answer ``kitchen`` are one word). Samples whose
story has more than ``max_sentences`` (50) sentences are dropped (train and test, as in
the seed). Word 0 is ``NIL``.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from hybridsnn.data.download import DOWNLOAD_TIMEOUT_S, download_url, socket_timeout
from hybridsnn.data.roots import DATA_ENV, offline_requested, resolve_root
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
NIL = "nil"


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


def ensure_babi(root: str | Path | None, task: int, ten_k: bool = True) -> tuple[Path, Path]:
    """The train and test files of ``task``, downloading the archive to ``<root>/babi`` if needed."""
    base = resolve_root(root)
    files = (task_file(base, task, "train", ten_k), task_file(base, task, "test", ten_k))
    if all(f.is_file() for f in files):
        return files
    if offline_requested():
        reason = "downloads are disabled"
    else:
        folder_existed = (base / FOLDER).exists()
        try:
            with socket_timeout(DOWNLOAD_TIMEOUT_S):
                archive = download_url(URL, base / FOLDER)
            with tarfile.open(archive) as tar:
                tar.extractall(base / FOLDER, filter="data")
        except Exception as exc:  # network, HTTP or archive failure: one line below
            reason = f"download of {URL} failed: {type(exc).__name__}"
            if not folder_existed and (base / FOLDER).is_dir() and not any((base / FOLDER).iterdir()):
                (base / FOLDER).rmdir()  # leave the data root as it was
        else:
            if all(f.is_file() for f in files):
                return files
            reason = f"the archive from {URL} lacks it"
    raise DataError(
        f"bAbI file {files[0]} not found ({reason}); set {DATA_ENV} to the folder that holds "
        f"{FOLDER / ARCHIVE_DIR}/ or connect to the internet to download it"
    )


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


class BabiBatch(NamedTuple):
    """Stories [N, S, W] and questions [N, W] of word indices (0 = NIL padding), answers [N]."""

    story: Tensor
    question: Tensor
    target: Tensor

    @property
    def size(self) -> int:
        return int(self.target.shape[0])

    @property
    def inputs(self) -> tuple[Tensor, Tensor]:
        return self.story, self.question

    def select(self, index: slice | Tensor) -> BabiBatch:
        return BabiBatch(*(t[index] for t in self))

    def to(self, device: torch.device | str) -> BabiBatch:
        return BabiBatch(*(t.to(device) for t in self))


@dataclass(frozen=True)
class Vocabulary:
    """Words in a fixed order, index 0 = NIL; ``sentence_size`` = the most words in one sentence/question."""

    words: tuple[str, ...]
    sentence_size: int

    @classmethod
    def build(cls, splits: Sequence[Sequence[Sample]]) -> Vocabulary:
        """The vocabulary over all samples of all splits (the seed: train + test)."""
        words: set[str] = set()
        size = 1
        for samples in splits:
            for sample in samples:
                for sentence in [*sample.story, sample.question]:
                    words.update(sentence)
                    size = max(size, len(sentence))
                words.add(sample.answer)
        return cls((NIL, *sorted(words - {NIL})), size)

    def index(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise DataError(f"bAbI word {word!r} is not in the vocabulary") from None

    def vectorise(self, samples: Sequence[Sample]) -> BabiBatch:
        """Word indices padded to ``sentence_size``; stories padded in front with empty sentences to the
        longest story of ``samples`` (the seed's ``--padding pre``)."""
        if not samples:
            raise DataError("no bAbI samples to vectorise")
        lookup = {w: i for i, w in enumerate(self.words)}
        length = max(1, max(len(s.story) for s in samples))

        def sentence(words: list[str]) -> list[int]:
            return [lookup[w] for w in words] + [0] * (self.sentence_size - len(words))

        stories = torch.zeros(len(samples), length, self.sentence_size, dtype=torch.long)
        for n, sample in enumerate(samples):
            if sample.story:
                stories[n, length - len(sample.story) :] = torch.tensor([sentence(s) for s in sample.story])
        questions = torch.tensor([sentence(s.question) for s in samples])
        answers = torch.tensor([self.index(s.answer) for s in samples])
        return BabiBatch(stories, questions, answers)
