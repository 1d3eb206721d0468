"""The bad-input matrix's machinery: run one refused command in-process and check how it was refused.

A case is ``Case(argv, fragment)``: running ``hybridsnn <argv>`` must exit with status 2, print exactly one
line ``hybridsnn: error: ...`` on stderr that contains ``fragment`` (the bad value or the name of what is
wrong), print no traceback, and write nothing into the output folder.

In ``argv`` the placeholders are replaced before the run:

* ``{out}``  — the (initially empty) output folder, also passed as ``--output`` unless the case sets it;
* ``{tmp}``  — a scratch folder holding the files a case needs (see :func:`scratch_files`);
* ``{data}`` — the offline dataset root.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint

MODELS = ("sym-stdp", "shifting", "hp", "dsl", "hebbian")


@dataclass(frozen=True)
class Case:
    """One bad command line and a fragment its error line must contain."""

    argv: tuple[str, ...]
    fragment: str

    @property
    def id(self) -> str:
        return " ".join(self.argv).replace("{tmp}/", "").replace("{out}", "OUT")[:90]


def case(argv: str, fragment: str) -> Case:
    """A case from a command line written as one string (split on spaces)."""
    return Case(tuple(argv.split()), fragment)


def params(cases: list[Case]) -> list:
    """``pytest.param`` objects for ``@pytest.mark.parametrize("bad", ...)`` with readable ids."""
    return [pytest.param(c, id=c.id) for c in cases]


def scratch_files(folder: Path) -> Path:
    """Files the shared cases point at, written into ``folder`` (returned)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a_file.txt").write_text("not a folder\n")
    (folder / "a_folder").mkdir(exist_ok=True)
    (folder / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    (folder / "truncated.safetensors").write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":{\"dtype\"")
    save_file({"w": np.zeros(2, np.float32)}, str(folder / "foreign.safetensors"))
    save_checkpoint(folder / "demo.safetensors", {"w": np.zeros(2, np.float32)}, model="demo")
    for model in MODELS:
        save_checkpoint(folder / f"nan-{model}.safetensors", {"w": np.array([1.0, np.nan], np.float32)},
                        model=model)  # fmt: skip
    np.save(folder / "nan_images.npy", np.full((2, 28, 28), np.nan, np.float32))
    np.save(folder / "inf_images.npy", np.full((1, 28, 28), np.inf, np.float32))
    np.save(folder / "empty_images.npy", np.zeros((0, 28, 28), np.uint8))
    np.save(folder / "object_images.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    np.save(folder / "wrong_shape.npy", np.zeros((2, 27, 28), np.uint8))
    (folder / "not_an_image.png").write_bytes(b"plain text, not a PNG")
    return folder


def expand(argv: tuple[str, ...], out: Path, tmp: Path, data: Path | None) -> list[str]:
    """``argv`` with the placeholders filled in, plus ``--output {out}`` for run commands."""
    filled = [a.format(out=out, tmp=tmp, data=data or "no-data") for a in argv]
    if filled and filled[0] in cli.RUN_COMMANDS and len(filled) > 1 and "--output" not in filled:
        filled += ["--output", str(out)]
    return filled


def assert_refused(bad: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: Path | None = None,
                   scratch: Path | None = None) -> str:  # fmt: skip
    """Run ``bad`` and assert exit 2, one ``hybridsnn: error:`` line naming ``fragment``, nothing written."""
    out = tmp_path / "out"
    tmp = scratch if scratch is not None else scratch_files(tmp_path / "files")
    argv = expand(bad.argv, out, tmp, data)
    before = _listing(tmp)
    capsys.readouterr()
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip()
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, f"exit {status}, stderr: {err[-2000:]}"
    assert len(lines) == 1, f"expected one line, got: {err[-2000:]}"
    assert lines[0].startswith("hybridsnn: error: "), lines[0]
    assert bad.fragment.format(out=out, tmp=tmp) in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir()), f"written: {sorted(map(str, out.rglob('*')))}"
    assert _listing(tmp) == before, "the command changed files it was only given to read"
    return lines[0]


def _listing(folder: Path) -> dict[str, int]:
    return {os.fspath(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def damaged_run(base: Path, target: Path, *, raw: bytes | None = None, tensors: dict | None = None,
                extra: dict | None = None, config: dict | None = None) -> None:  # fmt: skip
    """A copy of the finished run ``base`` at ``target``, made interrupted, with damage to resume from.

    ``config``: entries replaced in config.json; ``raw``: bytes written over the ``last`` checkpoint;
    otherwise ``tensors`` (None removes one) and ``extra`` replace entries of ``last``.
    """
    shutil.copytree(base, target)
    (target / "results.json").unlink()
    status = json.loads((target / "status.json").read_text())
    (target / "status.json").write_text(json.dumps({**status, "status": "interrupted"}))
    if config:
        stored = json.loads((target / "config.json").read_text())
        (target / "config.json").write_text(json.dumps({**stored, **config}))
    last = target / "checkpoints" / "last.safetensors"
    if raw is not None:
        last.write_bytes(raw)
    elif tensors or extra:
        ckpt = load_checkpoint(last)
        changed = {k: v for k, v in {**ckpt.tensors, **(tensors or {})}.items() if v is not None}
        save_checkpoint(last, changed, model=ckpt.model, extra={**ckpt.extra, **(extra or {})},
                        config=ckpt.config)  # fmt: skip
