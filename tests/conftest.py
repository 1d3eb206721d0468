"""Shared test fixtures: the offline dataset root and a scratch output folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    """``$HYBRIDSNN_DATA`` if set, else ``../shared/data`` beside the checkout, if it exists."""
    env = os.environ.get("HYBRIDSNN_DATA")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return candidate.resolve() if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder with the real offline datasets; tests that need it skip when it is absent."""
    root = shared_data_root()
    if root is None:
        pytest.skip("offline datasets not found: set HYBRIDSNN_DATA to the shared data folder")
    return root


def require_dataset(root: Path, relative: str) -> Path:
    """Skip the calling test unless ``root/relative`` exists, naming what is missing."""
    path = root / relative
    if not path.exists():
        pytest.skip(f"dataset file {relative} not present under {root}")
    return path


@pytest.fixture
def torch_one_thread():
    """Run a torch test on one thread (the CI machines have 2 shared cores), restoring the setting after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def interrupt_at_checkpoint(monkeypatch):
    """``interrupt_at_checkpoint(n)``: the n-th checkpoint a run saves is written, then Ctrl-C arrives.

    The command line records the run as ``interrupted`` and exits 130; ``--resume`` continues it. (The
    subprocess tests in tests/test_resume_kill.py kill real processes with SIGKILL instead.)
    """
    from hybridsnn.results import Run

    def arm(n: int) -> None:
        original = Run.save_checkpoint
        calls = [0]

        def save_then_interrupt(self, *args, **kwargs):
            path = original(self, *args, **kwargs)
            calls[0] += 1
            if calls[0] == n:
                monkeypatch.setattr(Run, "save_checkpoint", original)
                raise KeyboardInterrupt
            return path

        monkeypatch.setattr(Run, "save_checkpoint", save_then_interrupt)

    return arm
