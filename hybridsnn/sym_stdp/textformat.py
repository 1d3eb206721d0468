"""Import and export of the original sym-STDP text checkpoints: ``gP2E``, ``gE2C``, ``theta``
(docs/sym_stdp.md, «Usage», «Checkpoints»).

Files are whitespace-separated decimal numbers (6 significant digits in the original):
``gP2E`` holds 784 lines of ``n_hidden`` values (g[pixel][neuron]), ``gE2C`` ``n_hidden`` lines of 10 values,
``theta`` one line of ``n_hidden`` values. Readers only count tokens, as the original's did.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hybridsnn.atomic import write_text
from hybridsnn.errors import CheckpointError

TEXT_FILES = ("gP2E", "gE2C", "theta")


def read_values(path: str | os.PathLike[str]) -> np.ndarray:
    """All whitespace-separated numbers of ``path`` as a flat float32 array: finite, at least one."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"original checkpoint file {str(path)!r} is a folder; expected a text file")
    if not path.is_file():
        raise CheckpointError(f"original checkpoint file {str(path)!r} does not exist")
    try:
        tokens = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"original checkpoint file {str(path)!r} is not readable text ({exc})"
        ) from None
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
            values = np.array(tokens, dtype=np.float32)
    except ValueError as exc:
        raise CheckpointError(f"original checkpoint file {str(path)!r} holds a non-number ({exc})") from None
    if values.size == 0:
        raise CheckpointError(f"original checkpoint file {str(path)!r} holds no numbers")
    if not np.isfinite(values).all():  # float32 overflow (1e39) counts as infinite too
        bad = int(values.size - np.isfinite(values).sum())
        raise CheckpointError(
            f"original checkpoint file {str(path)!r} holds {bad} NaN or infinite value(s); expected finite "
            "numbers"
        )
    return values


def read_matrix(path: str | os.PathLike[str], shape: tuple[int, ...]) -> np.ndarray:
    """Read ``prod(shape)`` whitespace-separated numbers from ``path`` into a float32 array."""
    values = read_values(path)
    expected = int(np.prod(shape))
    if values.size != expected:
        raise CheckpointError(
            f"original checkpoint file {str(path)!r} holds {values.size} numbers; "
            f"a {'x'.join(map(str, shape))} network needs {expected} (truncated or of another network?)"
        )
    return values.reshape(shape)


def write_matrix(path: str | os.PathLike[str], matrix: np.ndarray) -> Path:
    """Write a 1-D or 2-D array as the original did: one row per line, values then a space, 6 digits."""
    rows = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    lines = ["".join(f"{v:.6g} " for v in row) for row in rows]
    return write_text(path, "\n".join(lines) + "\n\n")


def import_text_checkpoint(
    folder: str | os.PathLike[str], n_hidden: int, n_input: int = 784, n_classes: int = 10
) -> dict[str, np.ndarray]:
    """Read ``gP2E``, ``theta`` and (when present) ``gE2C`` from ``folder``; keys p2e, theta, e2c."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"original checkpoint folder {str(folder)!r} does not exist")
    missing = [name for name in ("gP2E", "theta") if not (folder / name).exists()]
    if missing:
        raise CheckpointError(
            f"original checkpoint folder {str(folder)!r} lacks {' and '.join(missing)} (the original's "
            f"checkpoint is the files {', '.join(TEXT_FILES)}; gE2C may be absent)"
        )
    arrays = {
        "p2e": read_matrix(folder / "gP2E", (n_input, n_hidden)),
        "theta": read_matrix(folder / "theta", (n_hidden,)),
    }
    if (folder / "gE2C").exists():
        arrays["e2c"] = read_matrix(folder / "gE2C", (n_hidden, n_classes))
    return arrays


def export_text_checkpoint(
    folder: str | os.PathLike[str], p2e: np.ndarray, e2c: np.ndarray, theta: np.ndarray
) -> list[Path]:
    """Write ``gP2E``, ``gE2C`` and ``theta`` into ``folder`` in the original layout."""
    folder = Path(folder)
    return [
        write_matrix(folder / "gP2E", p2e),
        write_matrix(folder / "gE2C", e2c),
        write_matrix(folder / "theta", np.asarray(theta).reshape(1, -1)),
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m hybridsnn.sym_stdp.textformat CHECKPOINT FOLDER``: export a project checkpoint's weights as
    the original text files (how the pretrained zoo's ``original/`` folders are made, docs/pretrained.md)."""
    import argparse

    from hybridsnn.sym_stdp.weights import load_weights

    parser = argparse.ArgumentParser(prog="python -m hybridsnn.sym_stdp.textformat", description=main.__doc__)
    parser.add_argument("checkpoint", help="a sym-STDP project checkpoint (.safetensors)")
    parser.add_argument("folder", help="folder that receives gP2E, gE2C and theta")
    args = parser.parse_args(argv)
    weights, _ = load_weights(args.checkpoint)
    for path in export_text_checkpoint(args.folder, weights["p2e"], weights["e2c"], weights["theta"]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
