"""Helpers of the kill-and-resume tests: run ``hybridsnn`` in a subprocess, SIGKILL it at a chosen moment
(it gets no chance to clean up or save anything), and compare the files two runs left behind, without the
wall-clock fields."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from conftest import REPO_ROOT

from hybridsnn.checkpoint import load_checkpoint

#: Fields of a metrics record (or of the final metrics) that measure wall-clock time, not what was computed;
#: also every ``*_per_s`` (throughput) and ``ms_per_*`` (time per sample) field.
TIMING_KEYS = frozenset({"time", "seconds", "wall_s", "wall_time_s"})
#: Files of a run directory that are compared field by field, or that name the process and the time.
RUN_FILES = frozenset({"config.json", "status.json", "results.json", "metrics.jsonl"})
TIMEOUT_S = 300


def cli(*args: str | os.PathLike[str]) -> list[str]:
    """The command line of ``python -m hybridsnn.cli ARGS``."""
    return [sys.executable, "-m", "hybridsnn.cli", *map(str, args)]


def env() -> dict[str, str]:
    """The environment of the subprocesses: this one, with the checkout first on ``PYTHONPATH``."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_to_end(command: Sequence[str]) -> None:
    """Run ``command`` to the end; fails with its output unless it exits with status 0."""
    done = subprocess.run(list(command), env=env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-3000:]}"


def kill_when(command: Sequence[str], ready: Callable[[], bool], delay_s: float = 0.0) -> None:
    """Start ``command`` and SIGKILL it ``delay_s`` after ``ready()`` first holds.

    Fails if the process ended before the signal reached it (then the kill tested nothing): a process that
    was killed reports ``-SIGKILL``, one that had already exited its own status.
    """
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(list(command), env=env(), stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + TIMEOUT_S
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-3000:]
                raise AssertionError(f"the run ended (status {process.returncode}) or timed out before the "
                                     f"moment to kill it came:\n{tail}")  # fmt: skip
            time.sleep(0.002)
        if delay_s:
            time.sleep(delay_s)
        process.send_signal(signal.SIGKILL)
        status = process.wait()
    assert status == -signal.SIGKILL, f"the run had already ended (status {status}) when the kill came"


def file_exists(path: Path) -> Callable[[], bool]:
    """A ``ready`` condition: ``path`` exists."""
    return path.exists


def record_count(run: Path) -> int:
    """Records in a run's ``metrics.jsonl`` so far (written atomically: never a partial line)."""
    path = run / "metrics.jsonl"
    try:
        return len(path.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return 0


def records_reach(run: Path, count: int) -> Callable[[], bool]:
    """A ``ready`` condition: the run has logged at least ``count`` metrics records."""
    return lambda: record_count(run) >= count


def without_timing(values: dict) -> dict:
    """``values`` without the fields that measure wall-clock time."""
    return {k: v for k, v in values.items()
            if k not in TIMING_KEYS and not k.endswith("_per_s") and not k.startswith("ms_per_")}  # fmt: skip


def records(run: Path) -> list[dict]:
    """Every record of a run's ``metrics.jsonl`` in order, without its wall-clock fields."""
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [without_timing(json.loads(line)) for line in lines]


def assert_same_records(resumed: list[dict], whole: list[dict]) -> None:
    """The same records in the same order; else the first difference (a record lost or logged twice)."""
    if resumed == whole:
        return
    common = min(len(resumed), len(whole))
    index = next((i for i in range(common) if resumed[i] != whole[i]), common)
    raise AssertionError(
        f"metrics records differ at index {index} ({len(resumed)} records resumed, {len(whole)} whole):\n"
        f"  resumed {resumed[index] if index < len(resumed) else '(none)'}\n"
        f"  whole   {whole[index] if index < len(whole) else '(none)'}"
    )


def checkpoint_names(run: Path) -> list[str]:
    """A run's checkpoint files (not the temporary files of writes that a kill cut off)."""
    return sorted(p.name for p in (run / "checkpoints").glob("*.safetensors") if not p.name.startswith("."))


def assert_same_checkpoint(resumed: Path, whole: Path) -> None:
    """Both checkpoints hold the same tensors, bit for bit, and the same extra metadata (epoch, step, ...)."""
    a, b = load_checkpoint(resumed), load_checkpoint(whole)
    assert sorted(a.tensors) == sorted(b.tensors), f"{resumed.name}: other tensors"
    for name in b.tensors:
        np.testing.assert_array_equal(a.tensors[name], b.tensors[name], err_msg=f"{resumed.name}: {name}")
        assert a.tensors[name].dtype == b.tensors[name].dtype, f"{resumed.name}: {name}"
    assert a.extra == b.extra, f"{resumed.name}: metadata differs:\n  resumed {a.extra}\n  whole   {b.extra}"


def assert_same_run(resumed: Path, whole: Path) -> None:
    """Two completed runs of the same command left the same results behind.

    The same checkpoint files, each with the same tensors and metadata; the same metrics records in the same
    order (none lost, none logged twice) without their wall-clock fields; the same final metrics; and the
    same other outputs (``.npz`` arrays, JSON files such as a confusion matrix).
    """
    names = checkpoint_names(whole)
    assert checkpoint_names(resumed) == names, f"checkpoints differ: {checkpoint_names(resumed)} vs {names}"
    for name in names:
        assert_same_checkpoint(resumed / "checkpoints" / name, whole / "checkpoints" / name)
    assert_same_records(records(resumed), records(whole))
    final = without_timing(_results(resumed)["metrics"]), without_timing(_results(whole)["metrics"])
    assert final[0] == final[1], f"final metrics differ:\n  resumed {final[0]}\n  whole   {final[1]}"
    outputs = _outputs(whole)
    assert _outputs(resumed) == outputs, f"other files differ: {_outputs(resumed)} vs {outputs}"
    for name in outputs:
        if name.endswith(".npz"):  # the zip entries carry their write time: compare the arrays
            with np.load(resumed / name) as a, np.load(whole / name) as b:
                assert sorted(a.files) == sorted(b.files), name
                for key in b.files:
                    np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
        else:
            assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text(encoding="utf-8"))


def _outputs(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.is_file() and p.name not in RUN_FILES
                  and not p.name.startswith("."))  # fmt: skip
