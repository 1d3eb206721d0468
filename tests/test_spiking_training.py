"""The shared train/evaluate loop: learning on synthetic data, metrics.jsonl, checkpoints, exact resume."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run
from hybridsnn.spiking import (
    BestMetric,
    Exponential,
    LIFConfig,
    SpikingLayer,
    accuracy,
    checkpoint_payload,
    epoch_seed,
    evaluate,
    fit,
    restore_state,
    spike_counts,
)

SEED = 1234
TIME_STEPS = 6


def blobs(n: int, seed: int) -> TensorDataset:
    """Three Gaussian clusters in 8 dimensions, classes in turn."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 8, generator=torch.Generator().manual_seed(0)) * 1.5
    labels = torch.arange(n) % 3
    return TensorDataset(centres[labels] + 0.6 * torch.randn(n, 8, generator=generator), labels)


class TinySNN(nn.Module):
    """Dropout → Linear → LIF over 6 steps of the same input; scores = output spike counts."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.layer = SpikingLayer(
            nn.Linear(8, 3), LIFConfig(threshold=1.0, decay=0.5, surrogate=Exponential())
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spike_counts(self.layer(self.dropout(x), time_steps=TIME_STEPS).spikes)


class Setup:
    """A model with its optimiser, per-epoch scheduler, steps and loaders, built from an init seed."""

    def __init__(self, init_seed: int) -> None:
        torch.manual_seed(init_seed)
        self.model = TinySNN()
        self.optim = torch.optim.Adam(self.model.parameters(), lr=0.05)
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.optim, milestones=[2], gamma=0.5)
        self.train_loader = DataLoader(blobs(96, seed=1), batch_size=16, shuffle=True)
        self.test_loader = DataLoader(blobs(60, seed=2), batch_size=25)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.optim.zero_grad()
        scores = self.model(x)
        loss = F.cross_entropy(scores, y)
        loss.backward()
        self.optim.step()
        return {"loss": loss.detach(), "accuracy": accuracy(scores, y)}

    def eval_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        scores = self.model(x)
        return {"loss": F.cross_entropy(scores, y), "accuracy": accuracy(scores, y)}

    def fit(self, run: Run, epochs: int, progress: bool = False, **kwargs: Any) -> Any:
        return fit(
            run,
            train_step=self.train_step,
            train_loader=self.train_loader,
            epochs=epochs,
            seed=SEED,
            state={"model": self.model, "optim": self.optim},
            schedulers={"sched": self.sched},
            eval_step=self.eval_step,
            eval_loaders={"test": self.test_loader},
            best=BestMetric("test", "accuracy"),
            progress=progress,
            **kwargs,
        )


def new_run(root: Path, name: str) -> Run:
    return Run.create(root, model="tiny", task="blobs", command="train", config={"seed": SEED}, name=name)


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metric records without wall-clock fields."""
    return [{k: v for k, v in r.items() if k not in ("time", "seconds")} for r in records]


def test_tiny_snn_learns_and_logs_each_epoch(tmp_path: Path) -> None:
    setup = Setup(init_seed=0)
    run = new_run(tmp_path, "learn")
    result = setup.fit(run, epochs=4)
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["split"], r["step"]) for r in records] == [
        (e, split, 6 * e) for e in range(1, 5) for split in ("train", "test")
    ]
    assert all({"loss", "accuracy"} <= set(r) for r in records)
    assert all("seconds" in r for r in records if r["split"] == "train")
    train_loss = [r["loss"] for r in records if r["split"] == "train"]
    assert train_loss[-1] < 0.6 * train_loss[0]
    assert result.epochs == 4
    assert result.metrics["test"]["accuracy"] > 0.8  # chance is 1/3
    test_acc = [r["accuracy"] for r in records if r["split"] == "test"]
    assert result.best_value == max(test_acc)
    assert result.best_epoch == test_acc.index(max(test_acc)) + 1
    best = run.load_checkpoint("best")
    assert (best.extra["epoch"], best.extra["best_value"]) == (result.best_epoch, result.best_value)
    assert sorted(p.name for p in run.checkpoints()) == ["best.safetensors", "last.safetensors"]


def test_resume_after_one_epoch_equals_two_uninterrupted_epochs(tmp_path: Path) -> None:
    straight = Setup(init_seed=0)
    run_a = new_run(tmp_path, "straight")
    straight.fit(run_a, epochs=2)

    first = Setup(init_seed=0)
    run_b = new_run(tmp_path, "resumed")
    first.fit(run_b, epochs=1)
    resumed = Setup(init_seed=99)  # different initial weights: everything must come from the checkpoint
    resumed.fit(Run.resume(run_b.path), epochs=2, resume=True)

    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    for key, value in straight.optim.state_dict()["state"][0].items():
        assert torch.equal(value, resumed.optim.state_dict()["state"][0][key])
    assert resumed.sched.last_epoch == straight.sched.last_epoch == 2
    assert resumed.optim.param_groups[0]["lr"] == straight.optim.param_groups[0]["lr"] == 0.025
    assert isinstance(resumed.sched.milestones, Counter)
    assert isinstance(resumed.optim.param_groups[0]["betas"], tuple)
    assert comparable(Run.resume(run_b.path).metrics) == comparable(run_a.metrics)


class KilledRun(Run):
    """A run that dies while writing its second ``last`` checkpoint (after logging that epoch's metrics)."""

    saves = 0

    def save_checkpoint(self, name: str, tensors: Any, extra: Any = None) -> Path:
        if name == "last":
            self.saves += 1
            if self.saves == 2:
                raise KeyboardInterrupt
        return super().save_checkpoint(name, tensors, extra)


def test_run_killed_mid_epoch_resumes_to_identical_results(tmp_path: Path) -> None:
    straight = Setup(init_seed=0)
    run_a = new_run(tmp_path, "straight")
    straight.fit(run_a, epochs=3)

    created = new_run(tmp_path, "killed")
    with pytest.raises(KeyboardInterrupt):
        Setup(init_seed=0).fit(KilledRun.resume(created.path), epochs=3)
    assert {r["epoch"] for r in Run.resume(created.path).metrics} == {1, 2}  # epoch 2 logged, not saved

    resumed = Setup(init_seed=5)
    result = resumed.fit(Run.resume(created.path), epochs=3, resume=True)
    assert result.epochs == 3
    assert torch.equal(resumed.model.layer.synapse.weight, straight.model.layer.synapse.weight)
    assert comparable(Run.resume(created.path).metrics) == comparable(run_a.metrics)


def test_resume_of_a_finished_run_trains_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup = Setup(init_seed=0)
    run = new_run(tmp_path, "done")
    setup.fit(run, epochs=1, progress=True)
    assert "epochs: 100%" in capsys.readouterr().err  # tqdm bars on stderr
    again = Setup(init_seed=3)
    result = again.fit(Run.resume(run.path), epochs=1, resume=True)
    assert result.epochs == 1 and set(result.metrics) == {"train", "test"}
    assert torch.equal(again.model.layer.synapse.weight, setup.model.layer.synapse.weight)
    assert len(Run.resume(run.path).metrics) == 2


def test_resume_with_another_seed_is_refused(tmp_path: Path) -> None:
    setup = Setup(init_seed=0)
    run = new_run(tmp_path, "seeded")
    setup.fit(run, epochs=1)
    with pytest.raises(CheckpointError, match="trained with seed 1234, not 7"):
        fit(
            Run.resume(run.path),
            train_step=setup.train_step,
            train_loader=setup.train_loader,
            epochs=2,
            seed=7,
            state={"model": setup.model, "optim": setup.optim},
            resume=True,
            progress=False,
        )


def test_restore_refuses_missing_and_mismatched_state(tmp_path: Path) -> None:
    setup = Setup(init_seed=0)
    run = new_run(tmp_path, "ckpt")
    run.save_checkpoint("manual", *checkpoint_payload({"model": setup.model}, epoch=0))
    checkpoint = run.load_checkpoint("manual")
    other = TinySNN()
    restore_state(checkpoint, {"model": other})
    assert torch.equal(other.layer.synapse.weight, setup.model.layer.synapse.weight)
    with pytest.raises(CheckpointError, match="holds no state for 'optim'"):
        restore_state(checkpoint, {"optim": setup.optim})
    with pytest.raises(CheckpointError, match="does not fit 'model'"):
        restore_state(checkpoint, {"model": nn.Linear(8, 4)})
    with pytest.raises(UserError, match="reserved"):
        checkpoint_payload({"model": setup.model}, state=1)


def test_evaluate_weights_batches_by_their_samples() -> None:
    loader = [(torch.tensor([1.0, 2.0, 3.0]),), (torch.tensor([10.0]),)]
    means = evaluate(lambda batch: {"mean": batch[0].mean()}, loader, progress=False)
    assert means == {"mean": pytest.approx(4.0)}  # (1 + 2 + 3 + 10) / 4, not (2 + 10) / 2


def test_epoch_seed_depends_on_seed_and_epoch() -> None:
    assert epoch_seed(1, 0) == epoch_seed(1, 0)
    assert len({epoch_seed(1, 0), epoch_seed(1, 1), epoch_seed(2, 0)}) == 3


def test_fit_rejects_bad_arguments(tmp_path: Path) -> None:
    setup = Setup(init_seed=0)
    run = new_run(tmp_path, "bad")
    common = {
        "train_step": setup.train_step,
        "train_loader": setup.train_loader,
        "seed": SEED,
        "progress": False,
    }
    with pytest.raises(UserError, match="epochs must be an integer >= 1, got 0"):
        fit(run, epochs=0, state={"model": setup.model}, **common)
    with pytest.raises(UserError, match="unknown best-metric split 'val'; allowed: test"):
        fit(
            run,
            epochs=1,
            state={},
            eval_step=setup.eval_step,
            eval_loaders={"test": setup.test_loader},
            best=BestMetric("val", "accuracy"),
            **common,
        )
    with pytest.raises(UserError, match="share the name 'model'"):
        fit(run, epochs=1, state={"model": setup.model}, schedulers={"model": setup.sched}, **common)
