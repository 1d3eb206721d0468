"""qa1-format synthetic bAbI stories for tests that cannot download bAbI v1.2 (docs/hebbian.md, «bAbI task»).

Like the real task 1 ("single supporting fact"): four actors, six places, five verbs of motion; a story is
five blocks of two "Mary moved to the bathroom." sentences and one "Where is Mary?" question about an actor
already mentioned, whose answer is the place of that actor's last move (its line number = supporting fact).
"""

from __future__ import annotations

import random
from pathlib import Path

from hybridsnn.data.babi import task_file

ACTORS = ("Mary", "John", "Sandra", "Daniel")
PLACES = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
VERBS = ("moved to", "went to", "went back to", "journeyed to", "travelled to")


def qa1_story(rng: random.Random, blocks: int = 5) -> list[str]:
    """The numbered lines of one story (``blocks`` × two moves and a question)."""
    lines: list[str] = []
    last_move: dict[str, tuple[str, int]] = {}
    for _ in range(blocks):
        for _ in range(2):
            actor, place = rng.choice(ACTORS), rng.choice(PLACES)
            lines.append(f"{len(lines) + 1} {actor} {rng.choice(VERBS)} the {place}.")
            last_move[actor] = (place, len(lines))
        actor = rng.choice(sorted(last_move))
        place, line = last_move[actor]
        lines.append(f"{len(lines) + 1} Where is {actor}? \t{place}\t{line}")
    return lines


def write_qa1(root: Path, train_stories: int = 2000, test_stories: int = 200, seed: int = 0) -> Path:
    """Write qa1-format train/test files (en-10k sizes: 10 000 / 1000 questions) under ``root``."""
    rng = random.Random(seed)
    for split, count in (("train", train_stories), ("test", test_stories)):
        path = task_file(root, 1, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(line for _ in range(count) for line in qa1_story(rng)) + "\n")
    return root
