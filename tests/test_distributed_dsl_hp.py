"""torchrun/gloo data parallelism of DSL and HP-SNN: 2 processes, each on its slice of every batch, end with
the weights, optimiser states, Hebbian traces and metrics of 1 process on the full batch; and
``test shifting`` and ``test sym-stdp --independent-images`` split over 2 processes give exactly the
outputs of 1 process.

Tolerance ``rtol=1e-4, atol=1e-5`` (weights are ~0.05; a run whose gradients or Hebbian increments are not
averaged over the ranks misses by ~1e-3): the sums over ranks add in another order than one process's sums.
The sizes leave an uneven last batch (49 = 20 + 20 + 9, split 5/4), so the share-weighting is exercised too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.shifting.data import Split
from hybridsnn.shifting.spike_task import SpikeTrial
from hybridsnn.shifting.training import evaluate, evaluate_on_ranks, evaluate_trials, evaluate_trials_on_ranks
from hybridsnn.spiking.distributed import DistributedContext
from tests.conftest import REPO_ROOT, require_dataset

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
SIZES = ["--train-subset", "49", "--test-subset", "25", "--batch-size", "20", "--threads", "1",
         "--no-progress"]  # fmt: skip
DSL = ["train", "dsl", "--dataset", "MNIST", "--model", "MNISTDNN", "--learning-rule", "FELL",
       "--time-window", "4", "--epochs", "1", "--lr", "2e-3", *SIZES]  # fmt: skip
HP = ["train", "hp", "--task", "simple", "--epochs", "2", "--noise-levels", "0", *SIZES]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def mnist(data_root: Path) -> Path:
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    return data_root


def _torchrun(*argv: str) -> None:
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 -m hybridsnn ARGV`` (gloo, CPU)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "hybridsnn", *argv]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _tensors(run_dir: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(run_dir / "checkpoints" / "last.safetensors").tensors


def _records(run_dir: Path, split: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def _assert_same_state(ddp: Path, one: Path) -> dict[str, np.ndarray]:
    got, want = _tensors(ddp), _tensors(one)
    assert got.keys() == want.keys()
    moments = [key for key in want if key.endswith("exp_avg")]
    assert moments and all(np.abs(want[key]).max() > 0 for key in moments)  # gradients flowed
    for key in want:
        np.testing.assert_allclose(got[key], want[key], **TOLERANCE, err_msg=key)
    return want


def _assert_same_metrics(ddp: Path, one: Path, split: str) -> None:
    got, want = _records(ddp, split), _records(one, split)
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        for key in ("loss", "accuracy"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5), (split, key)


def test_dsl_two_processes_equal_one_process_with_the_full_batch(mnist, tmp_path):
    """FELL steps the optimiser at every time step: the gradients are averaged before each of those steps,
    and the test set's predictions (confusion matrix) are gathered from both ranks in order."""
    flags = [*DSL, "--data-root", str(mnist), "--output", str(tmp_path)]
    _torchrun(*flags, "--run-name", "ddp")
    assert cli.main([*flags, "--run-name", "one"]) == 0
    ddp, one = tmp_path / "ddp", tmp_path / "one"
    assert json.loads((ddp / "results.json").read_text())["metrics"]["processes"] == 2
    _assert_same_state(ddp, one)
    _assert_same_metrics(ddp, one, "train")
    _assert_same_metrics(ddp, one, "test")
    confusion = [json.loads((run / "confusion.json").read_text()) for run in (ddp, one)]
    assert len(confusion[0]["predictions"]) == 25 and confusion[0] == confusion[1]


def test_hp_resumed_under_torchrun_equals_one_uninterrupted_process(mnist, tmp_path, interrupt_at_checkpoint):
    """A 1-process run stopped after epoch 1, resumed by 2 processes for epoch 2, ends as the 1-process run
    of 2 epochs: GP gradients and meta-local (α, β, η) gradients summed over ranks, and the Hebbian traces
    (the carried buffers ``trace0``/``trace1``, built from batch means of pre·post) global-batch means."""
    flags = [*HP, "--data-root", str(mnist)]
    assert cli.main([*flags, "--output", str(tmp_path), "--run-name", "whole"]) == 0
    interrupt_at_checkpoint(2)  # Ctrl-C right after epoch 1's `best` and `last` checkpoints
    assert cli.main([*flags, "--output", str(tmp_path), "--run-name", "part"]) == 130
    part = tmp_path / "part"
    assert load_checkpoint(part / "checkpoints" / "last.safetensors").extra["epoch"] == 1
    _torchrun("train", "hp", "--resume", str(part))
    assert json.loads((part / "results.json").read_text())["metrics"]["processes"] == 2
    state = _assert_same_state(part, tmp_path / "whole")
    assert {"model/trace0", "model/trace1"} <= state.keys() and np.abs(state["model/trace0"]).max() > 0.01
    _assert_same_metrics(part, tmp_path / "whole", "train")
    _assert_same_metrics(part, tmp_path / "whole", "test")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "dsl", "--batch-size", "7"], "--batch-size 7 must be divisible by the 2 torchrun"),
        (["train", "hp", "--task", "simple", "--batch-size", "7"], "--batch-size 7 must be divisible"),
        (["train", "hp", "--task", "fewshot"], "--task fewshot trains in one process; start it without"),
        (["train", "hp", "--task", "classification"], "--task classification trains in one process"),
        (["test", "sym-stdp", "--checkpoint", "x.safetensors"], "only with hybridsnn test sym-stdp --indep"),
    ],
)
def test_torchrun_refusals_are_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; refused before any process group or run
    assert cli.main([*argv, "--output", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybridsnn: error:") and message in err and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_shifting_test_on_the_numba_engine_split_over_two_processes_equals_one_process(mnist, tmp_path):
    """130 test images = batches of 100 and 30, one per process; ẑ gathered in order, bit for bit."""
    flags = ["--task", "mnist", "--threads", "1", "--no-progress", "--output", str(tmp_path)]
    assert cli.main(["train", "shifting", *flags, "--train-size", "100", "--test-size", "20", "--epochs", "1",
                     "--device", "cpu", "--run-name", "trained"]) == 0  # fmt: skip
    test = ["test", "shifting", *flags, "--engine", "numba", "--test-size", "130", "--checkpoint",
            str(tmp_path / "trained" / "checkpoints" / "last.safetensors")]  # fmt: skip
    _torchrun(*test, "--run-name", "ddp")
    assert cli.main([*test, "--run-name", "one"]) == 0
    outputs = [np.load(tmp_path / run / "outputs.npz") for run in ("ddp", "one")]
    assert outputs[0]["z_hat"].shape == (130, 10)
    np.testing.assert_array_equal(outputs[0]["z_hat"], outputs[1]["z_hat"])
    np.testing.assert_array_equal(outputs[0]["labels"], outputs[1]["labels"])
    results = [json.loads((tmp_path / run / "results.json").read_text())["metrics"] for run in ("ddp", "one")]
    assert results[0] == results[1] and results[0]["test_samples"] == 130


def test_sym_stdp_test_with_independent_images_split_over_two_processes_equals_one_process(mnist, tmp_path):
    """9 test images as 5 + 4 over 2 processes (batch 2) against one process (batch 3): the same counts,
    so the same accuracies, confusion matrices, attempts and hidden spikes."""
    flags = ["--output", str(tmp_path), "--data-root", str(mnist), "--no-progress"]
    assert cli.main(["train", "sym-stdp", "--neurons", "100", "--train-samples", "20", "--test-samples", "10",
                     "--eval-every", "20", "--checkpoint-every", "20", *flags, "--run-name", "trained"]) == 0
    final = tmp_path / "trained" / "checkpoints" / "final.safetensors"
    test = ["test", "sym-stdp", "--checkpoint", str(final), "--test-samples", "9", "--independent-images",
            "--threads", "1", *flags]  # fmt: skip
    _torchrun(*test, "--batch", "2", "--run-name", "ddp")
    assert cli.main([*test, "--batch", "3", "--run-name", "one"]) == 0
    results = [json.loads((tmp_path / run / "results.json").read_text())["metrics"] for run in ("ddp", "one")]
    for result in results:
        result.pop("eval_samples_per_s")
    assert results[0] == results[1] and results[0]["eval_samples"] == 9
    assert sum(map(sum, results[0]["sl_confusion"])) == 9


class _CountingNetwork:
    """ẑ = z0 @ W of every sample alone (rows of a batch do not mix); records the samples it is given."""

    def __init__(self) -> None:
        self.layers = [type("Layer", (), {"w": torch.arange(12.0).reshape(3, 4) / 7})()]
        self.seen: list[int] = []

    def forward(self, z0: torch.Tensor, afferents: torch.Tensor | None = None) -> list[torch.Tensor]:
        if afferents is not None:  # a spike trial: (times, afferents) -> one row
            z0 = torch.stack([z0.sum(), afferents.double().sum(), z0.max()]).unsqueeze(0)
        self.seen.append(len(z0))
        return [z0.double() @ self.layers[0].w.double()]


def _rank_evaluations(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        context = DistributedContext(rank=rank, world_size=2)
        split, trials = _evaluation_data()
        images, trial_net = _CountingNetwork(), _CountingNetwork()
        accuracy, z_hat = evaluate_on_ranks(images, split, context)  # type: ignore[arg-type]
        trial_accuracy, trial_z = evaluate_trials_on_ranks(trial_net, trials, context)  # type: ignore[arg-type]
        torch.save({"accuracy": accuracy, "z_hat": z_hat, "seen": images.seen,
                    "trial_accuracy": trial_accuracy, "trial_z": trial_z, "trials_seen": trial_net.seen},
                   f"{out}/rank{rank}.pt")  # fmt: skip
    finally:
        dist.destroy_process_group()


def _evaluation_data() -> tuple[Split, list[SpikeTrial]]:
    generator = torch.Generator().manual_seed(0)
    z0 = torch.rand(250, 3, generator=generator, dtype=torch.float64)
    split = Split(z0, torch.randint(0, 4, (250,), generator=generator))
    trials = [SpikeTrial(np.array([0.1 * i, 0.3]), np.array([i % 3, 2]), i % 4, np.zeros(1), np.zeros(1))
              for i in range(5)]  # fmt: skip
    return split, trials


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_evaluation_on_ranks_splits_whole_batches_and_gathers_one_process_result(tmp_path):
    """250 samples = batches 100, 100, 50: rank 0 computes the first two, rank 1 the last; 5 trials: 3 and 2.
    Both ranks end with one process's accuracy and ẑ (exactly), computed once."""
    mp.spawn(_rank_evaluations, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    split, trials = _evaluation_data()
    accuracy, z_hat = evaluate(_CountingNetwork(), split)  # type: ignore[arg-type]
    trial_accuracy, trial_z = evaluate_trials(_CountingNetwork(), trials)  # type: ignore[arg-type]
    assert [r["seen"] for r in ranks] == [[100, 100], [50]]
    assert [r["trials_seen"] for r in ranks] == [[1, 1, 1], [1, 1]]
    for result in ranks:
        assert result["accuracy"] == accuracy and result["trial_accuracy"] == trial_accuracy
        assert torch.equal(result["z_hat"], z_hat) and torch.equal(result["trial_z"], trial_z)
