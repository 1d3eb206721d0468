"""sym-STDP training killed with SIGKILL and resumed ends bit-identical to the run that was never killed.

The checkpoints carry the training network's whole simulation state on the numba engine (membranes,
conductances, traces, spike lists, every generator, the clock; ``NumbaModel.get_state``), and every
evaluation restarts the inference copies from their initial state, so weights, θ, assignments and the
logged metrics all continue exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import REPO_ROOT, require_dataset

from hybridsnn.checkpoint import load_checkpoint

ARGS = ["train", "sym-stdp", "--neurons", "100", "--train-samples", "240", "--test-samples", "100",
        "--eval-every", "80", "--checkpoint-every", "40", "--seed", "7", "--no-progress"]  # fmt: skip


def _command(out: Path, data_root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hybridsnn.cli", *ARGS, "--output", str(out), "--data-root", str(data_root),
            *extra]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _kill_after(command: list[str], checkpoint: Path, delay_s: float) -> None:
    """Start ``command`` and SIGKILL it ``delay_s`` after ``checkpoint`` appears (possibly while it is
    still writing ``last``: checkpoints are written atomically, so the resume starts from a whole one)."""
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.005)
    time.sleep(delay_s)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _test_records(run: Path) -> dict[int, dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if k not in ("time", "wall_s", "eval_samples_per_s")}
            for r in records if r.get("split") == "test"}  # fmt: skip


def test_sigkilled_training_resumes_bit_identically(data_root, tmp_path):
    require_dataset(data_root, "MNIST")
    subprocess.run(_command(tmp_path, data_root, "--run-name", "whole"), env=_env(), check=True,
                   capture_output=True)  # fmt: skip
    killed = tmp_path / "killed"
    _kill_after(_command(tmp_path, data_root, "--run-name", "killed"), killed / "checkpoints" /
                "samples-00000080.safetensors", 0.0)  # fmt: skip
    assert not (killed / "checkpoints" / "final.safetensors").exists()
    _kill_after(_command(tmp_path, data_root, "--resume", str(killed)), killed / "checkpoints" /
                "samples-00000120.safetensors", 0.0)  # fmt: skip
    assert not (killed / "checkpoints" / "final.safetensors").exists()
    subprocess.run(_command(tmp_path, data_root, "--resume", str(killed)), env=_env(), check=True,
                   capture_output=True)  # fmt: skip

    whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "final.safetensors").tensors
    resumed = load_checkpoint(killed / "checkpoints" / "final.safetensors").tensors
    for name in ("p2e", "e2c", "theta", "assignments"):
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
    last_whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.safetensors").tensors
    last_resumed = load_checkpoint(killed / "checkpoints" / "last.safetensors").tensors
    assert set(last_resumed) == set(last_whole)
    for name in last_whole:  # the simulation state too: membranes, traces, generators, clock
        np.testing.assert_array_equal(last_resumed[name], last_whole[name], err_msg=name)
    assert _test_records(killed) == _test_records(tmp_path / "whole")
    assert sorted(_test_records(killed)) == [80, 160, 240]
