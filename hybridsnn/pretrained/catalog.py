"""The shipped models: their manifest, their cards, and the checked path of a model named on the command line.

``--pretrained NAME`` (and ``pretrained:NAME`` given to a checkpoint flag) is resolved here: the name must be
in the manifest, every file of the model must be present with the manifest's sha256 and no other file may lie
in its folder, and the card must name the model (system) of the command. Any failure is one line. The zoo's
folder is this package, or ``$HYBRIDSNN_PRETRAINED`` (a zoo of one's own, or a test's).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridsnn.errors import UserError

ZOO_ENV = "HYBRIDSNN_PRETRAINED"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "hybridsnn-pretrained"
CARD_FILE = "card.json"
MODELS_DIR = "models"
VALUE_PREFIX = "pretrained:"
"""A checkpoint flag's value that names a shipped model (``--fixed-hidden pretrained:NAME``)."""


@dataclass(frozen=True)
class Pretrained:
    """One shipped model: its name, its folder (a trimmed run directory) and its model card."""

    name: str
    folder: Path
    card: dict[str, Any]

    @property
    def model(self) -> str:
        """The CLI model (system) it belongs to, e.g. ``sym-stdp``."""
        return str(self.card["model"])

    @property
    def checkpoint(self) -> Path:
        """The checkpoint file that ``--checkpoint`` (or the card's flag) receives."""
        return self.folder / str(self.card["checkpoint"])

    @property
    def flag(self) -> str:
        """The argparse destination ``--pretrained`` fills: ``checkpoint`` (``encoders`` for encoders)."""
        return str(self.card.get("flag", "checkpoint"))


def zoo_root() -> Path:
    """The folder holding ``manifest.json`` and ``models/``."""
    return Path(os.environ.get(ZOO_ENV) or Path(__file__).parent)


def sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(root: Path | None = None) -> dict[str, dict[str, str]]:
    """Model name -> {file path inside the model's folder: sha256}; empty when the zoo has no manifest."""
    path = (root or zoo_root()) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
        models = manifest["models"]
        ok = manifest.get("format") == MANIFEST_FORMAT and isinstance(models, dict) and all(
            isinstance(files, dict) and all(isinstance(v, str) for v in files.values())
            for files in models.values()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise UserError(f"the pretrained manifest {str(path)!r} is damaged; reinstall hybridsnn")
    return models


def verified(name: str, files: dict[str, str], root: Path) -> Pretrained:
    """The model ``name`` of the zoo at ``root`` once its ``files`` ({path: sha256}) are checked."""
    folder = root / MODELS_DIR / name
    for relative, digest in sorted(files.items()):
        path = folder / relative
        if not path.is_file():
            raise UserError(f"pretrained model {name!r}: file {relative!r} is missing from {str(folder)!r}; "
                            "reinstall hybridsnn")  # fmt: skip
        if sha256(path) != digest:
            raise UserError(f"pretrained model {name!r}: file {relative!r} does not match its sha256 in the "
                            "manifest (altered or damaged); reinstall hybridsnn")  # fmt: skip
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    foreign = sorted(present - set(files))
    if foreign:
        raise UserError(f"pretrained model {name!r}: {foreign[0]!r} in {str(folder)!r} is not in the "
                        "manifest (a foreign file); remove it or reinstall hybridsnn")  # fmt: skip
    card = json.loads((folder / CARD_FILE).read_text())
    return Pretrained(name, folder, card)


def shipped(name: str, root: Path | None = None) -> Pretrained:
    """The checked model ``name`` of the zoo at ``root`` (default :func:`zoo_root`), of any system; a name
    the manifest does not list is refused in one line."""
    root = root or zoo_root()
    manifest = read_manifest(root)
    if name not in manifest:
        allowed = ", ".join(sorted(manifest)) or "none are installed"
        raise UserError(f"pretrained model {name!r} is not shipped (available: {allowed})")
    return verified(name, manifest[name], root)


def available(model: str | None = None, root: Path | None = None) -> list[Pretrained]:
    """Every shipped model (of ``model`` only, when given), each checked against the manifest."""
    root = root or zoo_root()
    entries = [verified(name, files, root) for name, files in sorted(read_manifest(root).items())]
    return [e for e in entries if model is None or e.model == model]


def resolve(name: str, model: str, what: str = "--pretrained") -> Pretrained:
    """The checked shipped model ``name`` of ``model``; a one-line UserError names what is wrong."""
    root = zoo_root()
    manifest = read_manifest(root)
    if name not in manifest:
        allowed = ", ".join(sorted(manifest)) if manifest else "none are installed"
        raise UserError(f"{what} {name!r} is not a shipped model (available: {allowed}; "
                        "see hybridsnn pretrained list)")  # fmt: skip
    entry = verified(name, manifest[name], root)
    if entry.model != model:
        raise UserError(f"{what} {name!r} is a {entry.model} model, not {model}; use it with "
                        f"hybridsnn <command> {entry.model} {what} {name}")  # fmt: skip
    return entry
