"""Slow: one epoch of the seed's MNISTDNN commands on full MNIST (minutes per rule on one CPU thread).

Run with ``pytest -m slow tests/test_dsl_reproduction.py``. The thresholds sit just below the first-epoch
test accuracies of the recorded reproduction (ELL 96.9 %, FELL 96.9 %, BELL 95.5 %;
docs/dsl.md, «Reproduction»).
"""

from __future__ import annotations

import json

import pytest
import torch

from hybridsnn import cli
from tests.conftest import require_dataset

SCHEDULES = {
    "BELL": ["--lr", "5e-4", "--lr-decay-fact", "0.2", "--lr-decay-milestones", "60", "120"],
    "FELL": ["--lr", "5e-4", "--lr-decay-fact", "0.2", "--lr-decay-milestones", "15", "30", "45"],
    "ELL": ["--lr", "5e-4", "--lr-decay-fact", "0.2", "--lr-decay-milestones", "15", "30", "45"],
}


@pytest.mark.slow
@pytest.mark.parametrize(("rule", "minimum"), [("ELL", 0.96), ("FELL", 0.96), ("BELL", 0.945)])
def test_mnistdnn_first_epoch_accuracy(data_root, tmp_path, rule, minimum):
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    threads = torch.get_num_threads()
    try:
        assert cli.main(["train", "dsl", "--dataset", "MNIST", "--model", "MNISTDNN", "--learning-rule", rule,
                         "--epochs", "1", *SCHEDULES[rule], "--tau", "1", "--thresh", "1",
                         "--time-window", "10", "--print-stats", "--threads", "1", "--no-progress",
                         "--data-root", str(data_root), "--output", str(tmp_path), "--run-name", rule]) == 0
    finally:
        torch.set_num_threads(threads)
    metrics = json.loads((tmp_path / rule / "results.json").read_text())["metrics"]
    assert metrics["test_accuracy"] >= minimum
