"""DSL, HP-SNN, Shifting Learning and Hebbian-memory training killed with SIGKILL at two moments and resumed
with ``--resume RUN_DIR`` end bit-identical to the same run never killed (sym-STDP: test_sym_stdp_resume.py).

Each case is a real training run of a few seconds in a subprocess. A second run with the same seed is
killed twice while it is still running — at moments each case names — and resumed until it completes. Then
every checkpoint it wrote (``last``, ``best``, ``final``, ``fold-N``) holds the same tensors, bit for bit,
and the same metadata as the uninterrupted run's, its metrics records (without wall-clock fields) are the
same records in the same order — none lost, none logged twice — and so are its final metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import require_dataset
from kill_resume import assert_same_run, cli, file_exists, kill_when, records_reach, run_to_end

MNIST = "MNIST/raw/train-images-idx3-ubyte.gz"


class Case(NamedTuple):
    """A training command, the two moments its run is killed at, and the dataset it needs."""

    args: tuple[str, ...]
    first_kill: Callable[[Path], Callable[[], bool]]
    second_kill: Callable[[Path], Callable[[], bool]]
    second_delay_s: float = 0.0
    dataset: str | None = None
    slow: bool = False


def checkpoint_appears(name: str) -> Callable[[Path], Callable[[], bool]]:
    return lambda run: file_exists(run / "checkpoints" / f"{name}.safetensors")


def records_logged(count: int) -> Callable[[Path], Callable[[], bool]]:
    return lambda run: records_reach(run, count)


CASES = {
    # 3 epochs of 2 batches; a train and a test record, then `best` and `last`, after each epoch. Killed as
    # soon as epoch 1's `last` is there, then as soon as epoch 2's records are (before or while its
    # checkpoints are written).
    "dsl": Case(
        ("dsl", "--train-subset", "100", "--test-subset", "50", "--batch-size", "50", "--epochs", "3",
         "--threads", "1", "--device", "cpu"),
        checkpoint_appears("last"), records_logged(4), dataset=MNIST,
    ),
    # 2 epochs, then the occlusion and the noise sweeps. Killed after epoch 1, then in the noise sweep (the
    # occlusion records are logged; the resumed run repeats the sweeps, and must not log them twice).
    "hp": Case(
        ("hp", "--task", "tolerance", "--train-subset", "100", "--test-subset", "100", "--epochs", "2",
         "--occlusion-levels", "0", "4", "--noise-levels", "0", "4", "--threads", "1", "--device", "cpu"),
        checkpoint_appears("last"), records_logged(6), dataset=MNIST,
    ),
    # 3 XOR runs of 100 epochs: run 0 logs a record per epoch, then each run logs its own record and saves
    # `last` (run 0 first `final` and the outputs). Killed in the middle of run 0, before any checkpoint
    # (the resumed run starts over, and must not log run 0's epochs twice), then as soon as run 1's record
    # is there (before or while its `last` is written).
    "shifting": Case(
        ("shifting", "--task", "xor", "--runs", "3", "--epochs", "100", "--threads", "1", "--device", "cpu"),
        records_logged(40), records_logged(102),
    ),
    # 2 Iris folds of 20 epochs; records and `last` every 10 epochs, then `fold-N` (`final` after fold 0)
    # and `last` after each fold. Killed as soon as `fold-0` is there (while `final` and `last` are
    # written), then as soon as fold 1's epoch-10 records are (before or while its `last` is written: the
    # resumed run repeats those epochs, and must not log them twice). Slow: loading Iris imports sklearn.
    "shifting-iris": Case(
        ("shifting", "--task", "iris", "--folds", "2", "--epochs", "20", "--threads", "1", "--device", "cpu"),
        checkpoint_appears("fold-0"), records_logged(6), slow=True,
    ),
    # 3 epochs of 2 batches, a train and a validation record, `best` and `last` after each, then the tests
    # at lengths 1 and 2. Killed after epoch 1, then 30 ms after epoch 2's records (in epoch 3).
    "hebbian": Case(
        ("hebbian", "--task", "associations", "--num-time-steps", "25", "--tau-mem", "5", "--tau-trace", "5",
         "--readout-window", "8", "--gamma-pos", "1.2", "--gamma-neg", "1.2", "--embedding-size", "8",
         "--memory-size", "8", "--sequence-length", "1", "--num-classes", "2", "--batch-size", "8",
         "--iterations", "2", "--epochs", "3", "--val-size", "16", "--test-size", "16", "--test-lengths", "1",
         "2", "--threads", "1", "--device", "cpu"),
        checkpoint_appears("last"), records_logged(4), second_delay_s=0.03,
    ),
}  # fmt: skip


SYSTEMS = [pytest.param(name, marks=[pytest.mark.slow] if case.slow else []) for name, case in CASES.items()]


@pytest.mark.parametrize("system", SYSTEMS)
def test_sigkilled_training_resumes_bit_identically(system, data_root, tmp_path):
    case = CASES[system]
    if case.dataset:
        require_dataset(data_root, case.dataset)
    command = cli("train", *case.args, "--seed", "5", "--output", tmp_path, "--data-root", data_root,
                  "--no-progress")  # fmt: skip
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_to_end([*command, "--run-name", "whole"])

    kill_when([*command, "--run-name", "killed"], case.first_kill(killed))
    assert not (killed / "results.json").exists()
    assert not case.second_kill(killed)(), "the first kill came too late"
    kill_when([*command, "--run-name", "killed", "--resume", killed], case.second_kill(killed),
              case.second_delay_s)  # fmt: skip
    assert not (killed / "results.json").exists()
    run_to_end([*command, "--run-name", "killed", "--resume", killed])

    assert_same_run(killed, whole)
