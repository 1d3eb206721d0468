"""bAbI samples as the QA network's input: the vocabulary (word 0 is ``NIL``) and the padded batches of word
indices. Reading and parsing the files is the data catalog's (:mod:`hybridsnn.data.babi`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from hybridsnn.data.babi import Sample
from hybridsnn.errors import DataError
from hybridsnn.hebbian.batch import batch_size, batch_to, select_examples

NIL = "nil"


class BabiBatch(NamedTuple):
    """Stories [N, S, W] and questions [N, W] of word indices (0 = NIL padding), answers [N]."""

    story: Tensor
    question: Tensor
    target: Tensor

    size = property(batch_size)
    select = select_examples
    to = batch_to

    @property
    def inputs(self) -> tuple[Tensor, Tensor]:
        return self.story, self.question


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
