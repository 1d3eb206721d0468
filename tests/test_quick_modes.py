"""Slow: every model × task ``--quick`` run learns visibly within the README's quick-run budget.

Each case runs ``hybridsnn train MODEL [--task TASK] --quick`` in a fresh process on the offline data (one
torch/OpenMP thread) and checks the task's learning criterion with a wide margin below the README's measured
value (see the README's "Quick runs" table), so that it holds on any machine and seed-level noise. The
child's wall and CPU seconds are printed (``pytest -m slow -s``) and its CPU time is bounded loosely.

Run: ``HYBRIDSNN_DATA=../shared/data .venv/bin/python -m pytest -m slow tests/test_quick_modes.py -s``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.babi_stories import write_qa1
from tests.conftest import REPO_ROOT, require_dataset

pytestmark = pytest.mark.slow

#: Twice the README's "≤ 2 min on one core": a quick run far slower than that is a regression.
CPU_LIMIT_S = 240.0

Metrics = dict[str, float]
MNIST = "MNIST/raw/train-images-idx3-ubyte.gz"
FASHION = "FashionMNIST/raw/train-images-idx3-ubyte.gz"
BABI = "babi/tasks_1-20_v1-2/en-10k/qa1_single-supporting-fact_train.txt"


def _first_last(run: Path, split: str, key: str) -> tuple[float, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    values = [r[key] for r in records if r.get("split") == split and key in r]
    assert len(values) >= 2, f"{run}: fewer than two {split} {key} records"
    return values[0], values[-1]


def _spikes_learn(run: Path, metrics: Metrics) -> None:
    first, last = _first_last(run, "train", "loss")
    assert last < 0.98 * first, f"train loss {first:.6g} -> {last:.6g} did not fall by 2 %"
    # validation (k <= 2 features) well above its majority class (~0.3): half-way to the measured 0.85
    _above(metrics, "validation_accuracy", max(0.55, metrics["validation_majority_class"] + 0.2))


def _babi_root(data_root: Path, tmp_path: Path) -> Path:
    """The data root if it holds bAbI task 1, else a temporary one with qa1-format synthetic stories."""
    if (data_root / BABI).is_file():
        return data_root
    return write_qa1(tmp_path / "data")


#: (model, task or None, extra flags, data file needed under the data root — or a function(data_root,
#: tmp_path) giving the data root to use — or None, check(run, metrics)).
CASES: list = [
    ("sym-stdp", None, (), MNIST, lambda run, m: _above(m, "sl_accuracy", 0.5)),  # chance 0.1
    ("shifting", "xor", (), None, lambda run, m: _above(m, "success_rate", 0.25)),  # random 1/16
    ("shifting", "iris", (), None, lambda run, m: _above(m, "test_accuracy", 0.7)),  # chance 1/3
    ("shifting", "mnist", (), MNIST, lambda run, m: _above(m, "test_accuracy", 0.6)),  # chance 0.1
    ("shifting", "fashion-mnist", (), FASHION, lambda run, m: _above(m, "test_accuracy", 0.5)),
    ("shifting", "spikes", (), None, _spikes_learn),  # validation 0.85 (majority class 0.29)
    ("hp", "simple", (), MNIST, lambda run, m: _above(m, "test_accuracy", 0.8)),  # chance 0.1
    ("hp", "classification", (), MNIST, lambda run, m: _above(m, "test_accuracy", 0.4)),
    ("hp", "tolerance", (), MNIST, lambda run, m: _above(m, "test_accuracy", 0.8)),
    ("hp", "fewshot", (), "omniglot", lambda run, m: _above(m, "best_test_accuracy", 0.35)),  # chance 0.2
    ("hp", "multitask", (), MNIST, lambda run, m: _above(m, "average_accuracy", 0.7)),
    ("dsl", None, (), MNIST, lambda run, m: _above(m, "test_accuracy", 0.7)),
    ("hebbian", "associations", (), None, lambda run, m: _above(m, "test_accuracy", 0.6)),  # chance 0.25
    ("hebbian", "cross-modal", (), "fsdd/recordings", lambda run, m: _crossmodal(m)),
    ("hebbian", "omniglot", (), "omniglot", lambda run, m: _above(m, "test_accuracy", 0.28)),  # chance 0.2
    # qa1 (bAbI v1.2, else qa1-format synthetic stories): measured 0.87-0.93; 6 places (chance 1/6)
    ("hebbian", "babi", (), _babi_root, lambda run, m: _above(m, "test_accuracy", 0.5)),
    ("hebbian", "concentration", (), None, lambda run, m: _concentration(m)),
]


def _above(metrics: Metrics, key: str, floor: float) -> None:
    assert metrics[key] >= floor, f"{key} = {metrics[key]:.4f} < {floor}"


def _crossmodal(metrics: Metrics) -> None:
    # recalled images closer to the stored digit than the mean image, and mostly recognisable (chance 0.1)
    assert metrics["test_mse"] < metrics["test_mean_image_mse"], metrics
    _above(metrics, "test_accuracy", 0.25)


def _concentration(metrics: Metrics) -> None:
    # sampled play of the trained agent needs fewer flips than the uniform random player on the same games:
    # measured 11.58 vs 15.63 (seed 0, the default); 0.85 × random = 13.3. Memoryless face-down player 8.08.
    # Seeds 1 and 3 do not learn in the quick budget (docs/hebbian.md, «Concentration task»).
    assert metrics["test_sampled_flips"] < 0.85 * metrics["random_flips"], metrics


def _case_id(case: tuple) -> str:
    model, task = case[0], case[1]
    return model if task is None else f"{model}-{task}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_quick_run_learns(case, data_root, tmp_path):
    model, task, extra, needs, check = case
    if callable(needs):
        data_root = needs(data_root, tmp_path)
    elif needs is not None:
        require_dataset(data_root, needs)
    argv = ["train", model, *(["--task", task] if task else []), "--quick", *extra]
    argv += ["--no-progress", "--output", str(tmp_path), "--run-name", "quick"]
    env = {**os.environ, "HYBRIDSNN_DATA": str(data_root), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hybridsnn.cli", *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "quick"
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    shown = {
        k: round(v, 4)
        for k, v in metrics.items()
        if isinstance(v, float) and any(word in k for word in ("accuracy", "mse", "flips", "success"))
    }
    print(f"\n{_case_id(case)}: wall {wall:.1f} s, CPU {cpu:.1f} s, {shown}")
    check(run, metrics)
    assert cpu < CPU_LIMIT_S, f"quick run took {cpu:.0f} CPU-s (limit {CPU_LIMIT_S:.0f})"
