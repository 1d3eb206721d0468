"""Training, CLI, checkpoints, bad inputs and torchrun/gloo data parallelism of the Hebbian-memory model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.cli import main
from hybridsnn.data import make_task
from hybridsnn.errors import UserError
from hybridsnn.hebbian.associations.data import association_sequences
from hybridsnn.hebbian.associations.figures import sweep_points
from hybridsnn.hebbian.networks import AssociationConfig, build_network
from hybridsnn.hebbian.training import AssociationSteps, make_optimizer
from hybridsnn.spiking.distributed import DistributedContext

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # one thread per test, restored after
#: Time-compressed dynamics (docs/hebbian.md, «Quick modes») at a tiny size: neurons fire, so gradients flow.
COMPRESSED = dict(steps=25, tau_mem=5.0, tau_trace=5.0, readout_window=8, gamma_pos=1.2, gamma_neg=1.2)
TINY_FLAGS = [
    "--num-time-steps",
    "25",
    "--tau-mem",
    "5",
    "--tau-trace",
    "5",
    "--readout-window",
    "8",
    "--gamma-pos",
    "1.2",
    "--gamma-neg",
    "1.2",
    "--embedding-size",
    "8",
    "--memory-size",
    "8",
    "--sequence-length",
    "1",
    "--num-classes",
    "2",
    "--batch-size",
    "8",
    "--iterations",
    "2",
    "--val-size",
    "16",
    "--test-size",
    "16",
    "--threads",
    "1",
    "--no-progress",
    "--l2",
    "1e-7",
]


def test_association_examples():
    data = make_task("associations", count=50, sequence_length=4, num_classes=6, seed=3)
    assert data.features.shape == (50, 4, 10) and data.labels.shape == (50, 4)
    assert all(len(set(row.tolist())) == 4 for row in data.labels)  # labels without replacement
    rows = torch.arange(50)
    matches = (data.features == data.query.unsqueeze(1)).all(dim=-1)
    assert matches.sum(dim=1).eq(1).all()
    assert torch.equal(data.labels[rows, matches.int().argmax(dim=1)], data.target)
    torch.testing.assert_close(data.features, association_sequences(50, 4, 6, seed=3).features)
    with pytest.raises(UserError, match="at least as many classes"):
        association_sequences(5, 4, 3)


@pytest.mark.parametrize("network", ["snn", "hmem"])
def test_short_training_lowers_the_loss(network):
    torch.manual_seed(0)
    extra = COMPRESSED if network == "snn" else {"gamma_pos": 0.1, "gamma_neg": 0.1}
    config = AssociationConfig(network=network, num_classes=2, embedding_size=16, memory_size=16, **extra)
    model = build_network(config)
    optimizer, scheduler = make_optimizer(model, 3e-3)
    steps = AssociationSteps(model, optimizer, scheduler, DistributedContext())
    val = association_sequences(256, 1, 2, seed=1)
    before = steps.eval_step(val)
    for _ in range(20):
        steps.train_step(association_sequences(16, 1, 2))
    after = steps.eval_step(val)
    assert after["loss"] < before["loss"] - 0.1
    assert after["accuracy"] > 0.7


def _train(tmp_path: Path, name: str, *extra: str) -> Path:
    assert main(["train", "hebbian", *TINY_FLAGS, "--output", str(tmp_path), "--run-name", name, *extra]) == 0
    return tmp_path / name


def _tensors(run_dir: Path, name: str = "last") -> dict[str, np.ndarray]:
    return load_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors", model="hebbian").tensors


def test_train_test_round_trip_and_plots(tmp_path, capsys):
    run_dir = _train(tmp_path, "a", "--epochs", "1", "--test-lengths", "1", "2")
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["metrics"]) >= {"test_accuracy_L1", "test_accuracy_L2", "best_val_accuracy"}
    checkpoint = run_dir / "checkpoints" / "best.safetensors"
    assert (
        main(
            [
                "test",
                "hebbian",
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(tmp_path),
                "--run-name",
                "t",
                "--test-lengths",
                "1",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    tested = json.loads((tmp_path / "t" / "results.json").read_text())["metrics"]
    assert tested["test_accuracy_L1"] == results["metrics"]["test_accuracy_L1"]
    assert tested["test_accuracy_L2"] == results["metrics"]["test_accuracy_L2"]
    assert main(["plot", "hebbian", str(run_dir)]) == 0
    names = {p.name for p in (run_dir / "plots").iterdir()}
    assert {"accuracy.png", "ood.png", "memory.png", "output.png", "raster_read_values.png"} <= names


def test_resume_continues_to_the_same_weights(tmp_path, interrupt_at_checkpoint):
    straight = _train(tmp_path, "straight", "--epochs", "2")
    interrupt_at_checkpoint(1)
    argv = ["train", "hebbian", *TINY_FLAGS, "--epochs", "2", "--output", str(tmp_path)]
    assert main([*argv, "--run-name", "resumed"]) == 130
    interrupted = tmp_path / "resumed"
    assert not (interrupted / "results.json").exists()
    assert main([*argv, "--resume", str(interrupted)]) == 0
    a, b = _tensors(straight), _tensors(interrupted)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "hebbian", "--sequence-length", "5", "--num-classes", "3"], "at least as many classes"),
        (
            ["train", "hebbian", "--test-lengths", "4", "--num-classes", "3", "--sequence-length", "2"],
            "test sequence length 4",
        ),
        (["train", "hebbian", "--num-time-steps", "10", "--readout-window", "30"], "readout_window"),
        (["test", "hebbian"], "needs --checkpoint"),
        (["predict", "hebbian"], "predict is not available"),
    ],
)
def test_bad_inputs_give_one_line_errors(tmp_path, capsys, argv, message):
    assert main([*argv, "--output", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("hybridsnn: error:")


def test_foreign_checkpoint_and_uneven_batches_are_refused(tmp_path, capsys):
    from hybridsnn.checkpoint import save_checkpoint

    other = save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2)}, model="dsl")
    assert main(["test", "hebbian", "--checkpoint", str(other), "--output", str(tmp_path)]) == 2
    assert "written by model 'dsl'" in capsys.readouterr().err
    with pytest.raises(UserError, match="divisible by the 2 torchrun processes"):
        DistributedContext(rank=0, world_size=2).check_batch(7)


def test_torchrun_gloo_two_processes_equal_one_process_with_the_full_batch(tmp_path):
    """Two gloo processes on half batches each take the same Adam steps as one process on the full batch."""
    flags = [*TINY_FLAGS, "--epochs", "1", "--output", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hybridsnn",
        "train",
        "hebbian",
        *flags,
        "--run-name",
        "ddp",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "ddp" / "results.json").read_text())["metrics"]["processes"] == 2
    single = _train(tmp_path, "single", "--epochs", "1")
    ddp, one = _tensors(tmp_path / "ddp"), _tensors(single)
    assert ddp.keys() == one.keys()
    first_moments = [key for key in one if key.endswith("exp_avg")]
    assert first_moments and all(np.abs(one[key]).max() > 0 for key in first_moments)  # gradients flowed
    for key in one:
        np.testing.assert_allclose(ddp[key], one[key], rtol=1e-4, atol=1e-6, err_msg=key)
    train = [
        r
        for r in map(json.loads, (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines())
        if r["split"] == "train"
    ]
    reference = [
        r
        for r in map(json.loads, (single / "metrics.jsonl").read_text().splitlines())
        if r["split"] == "train"
    ]
    assert train[0]["loss"] == pytest.approx(reference[0]["loss"], rel=1e-5)


SCRIPT = Path(__file__).resolve().parents[1] / "run_scripts" / "hebbian.sh"


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_run_script_maps_the_seed_flags():
    evaluate = _script("--evaluate", "--resume", "ckpt.safetensors", "--print", "--sequence-length", "5")
    assert evaluate.returncode == 0
    assert evaluate.stdout.startswith(
        "hybridsnn test hebbian --checkpoint ckpt.safetensors --task associations"
    )
    assert evaluate.stdout.rstrip().endswith("--sequence-length 5")
    ddp = _script("lstm", "--quick", "--nproc", "2", "--print").stdout
    assert "-m torch.distributed.run --standalone --nproc_per_node 2 -m hybridsnn train hebbian" in ddp
    assert "--network lstm" in ddp and ddp.rstrip().endswith("--quick")
    sweep = _script("sweep", "--print").stdout.splitlines()
    assert len(sweep) == 27 and "--sequence-length 55 --num-classes 55" in sweep[-1]
    babi = _script("babi-all", "--print").stdout.splitlines()
    assert [line.split("--babi-task ")[1].split()[0] for line in babi] == [str(t) for t in range(1, 21)]
    bad = _script("bogus")
    assert bad.returncode == 2 and "unknown experiment 'bogus'" in bad.stderr


def _ood_run(root: Path, name: str, network: str, trained: int, lengths: list, accuracy: list) -> Path:
    run_dir = root / name
    run_dir.mkdir()
    ood = {"network": network, "trained_length": trained, "lengths": lengths, "accuracy": accuracy}
    (run_dir / "ood.json").write_text(json.dumps(ood))
    (run_dir / "config.json").write_text(json.dumps({"model": "hebbian", "task": "associations"}))
    return run_dir


def test_sweep_points_take_each_runs_accuracy_at_its_trained_length():
    results = [
        {"network": "snn", "trained_length": 3, "lengths": [1, 3], "accuracy": [0.9, 0.7]},
        {"network": "lstm", "trained_length": 1, "lengths": [1], "accuracy": [1.0]},
        {"network": "snn", "trained_length": 1, "lengths": [1], "accuracy": [0.95]},
        {"network": "lstm", "trained_length": 2, "lengths": [1], "accuracy": [0.5]},  # L=2 not tested
    ]
    assert sweep_points(results) == {"snn": ([1, 3], [0.95, 0.7]), "lstm": ([1], [1.0])}


def test_plot_compare_draws_sweep_and_ood_figures(tmp_path):
    a = _ood_run(tmp_path, "a", "snn", 2, [1, 2, 3], [0.99, 0.9, 0.6])
    b = _ood_run(tmp_path, "b", "lstm", 2, [2], [0.5])
    out = tmp_path / "figures"
    assert main(["plot", "hebbian", str(a), str(b), "--output", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"sweep.png", "ood_comparison.png"}
    assert main(["plot", "hebbian", str(a), str(tmp_path / "none")]) == 2
