"""sym-STDP training killed with SIGKILL and resumed ends bit-identical to the run that was never killed.

The checkpoints carry the training network's whole simulation state on the numba engine (membranes,
conductances, traces, spike lists, every generator, the clock; ``NumbaModel.get_state``), and every
evaluation restarts the inference copies from their initial state, so weights, θ, assignments and the
logged metrics all continue exactly. (The other four systems: test_resume_kill.py.)
"""

from __future__ import annotations

from pathlib import Path

from conftest import require_dataset
from kill_resume import assert_same_run, cli, file_exists, kill_when, records, run_to_end

ARGS = ["train", "sym-stdp", "--neurons", "100", "--train-samples", "240", "--test-samples", "100",
        "--eval-every", "80", "--checkpoint-every", "40", "--seed", "7", "--no-progress"]  # fmt: skip


def _command(out: Path, data_root: Path, *extra: str) -> list[str]:
    return cli(*ARGS, "--output", out, "--data-root", data_root, *extra)


def test_sigkilled_training_resumes_bit_identically(data_root, tmp_path):
    require_dataset(data_root, "MNIST")
    run_to_end(_command(tmp_path, data_root, "--run-name", "whole"))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # killed right after the checkpoint of sample 80 appears (while `last` is still being written), then,
    # resumed, right after the one of sample 120 appears
    kill_when(_command(tmp_path, data_root, "--run-name", "killed"),
              file_exists(killed / "checkpoints" / "samples-00000080.safetensors"))  # fmt: skip
    assert not (killed / "checkpoints" / "final.safetensors").exists()
    kill_when(_command(tmp_path, data_root, "--run-name", "killed", "--resume", str(killed)),
              file_exists(killed / "checkpoints" / "samples-00000120.safetensors"))  # fmt: skip
    assert not (killed / "checkpoints" / "final.safetensors").exists()
    run_to_end(_command(tmp_path, data_root, "--run-name", "killed", "--resume", str(killed)))

    # every checkpoint (`last` holds the simulation state too: membranes, traces, generators, clock), the
    # records in order (none lost, none logged twice), the final metrics
    assert_same_run(killed, whole)
    assert [r["step"] for r in records(killed) if r["split"] == "test"] == [80, 160, 240]
