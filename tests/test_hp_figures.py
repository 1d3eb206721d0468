"""``plot hp`` over seed repeats: runs that differ only in --seed become one curve, mean ± sample std."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybridsnn.hp.figures import _seed_groups, _sweep_series


def fake_run(root: Path, name: str, method: str, seed: int, noise: dict[int, float], epochs: int = 5) -> Path:
    """A run folder with the config and the noise-sweep records ``plot hp`` reads."""
    run = root / name
    run.mkdir(parents=True)
    config = {"model": "hp", "task": "simple", "method": method, "seed": seed, "epochs": epochs,
              "run_name": name, "output": str(root)}  # fmt: skip
    (run / "config.json").write_text(json.dumps(config))
    records = [{"split": "noise", "level": level, "accuracy": acc} for level, acc in noise.items()]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_seed_repeats_are_one_curve_with_sample_std(tmp_path: Path) -> None:
    runs = [
        fake_run(tmp_path, "hp1", "hp", 1, {0: 0.9, 6: 0.30}),
        fake_run(tmp_path, "hp2", "hp", 2, {0: 0.8, 6: 0.40}),
        fake_run(tmp_path, "hp3", "hp", 3, {0: 0.7, 6: 0.35}),
        fake_run(tmp_path, "gp1", "gp", 1, {0: 0.6, 6: 0.20}),
        fake_run(tmp_path, "gp-long", "gp", 1, {0: 0.5}, epochs=30),  # another experiment: its own curve
    ]
    groups = _seed_groups(runs)
    assert list(groups) == ["HP (mean ± std, n=3)", "GP (gp1)", "GP (gp-long)"]
    levels, series, errors = _sweep_series(groups, "noise")
    assert levels == [0, 6]
    assert series["HP (mean ± std, n=3)"] == pytest.approx([0.8, 0.35])
    assert errors["HP (mean ± std, n=3)"] == pytest.approx([0.1, 0.05])  # sample std (n − 1)
    assert series["GP (gp1)"] == pytest.approx([0.6, 0.2]) and "GP (gp1)" not in errors
    assert series["GP (gp-long)"][0] == 0.5 and np.isnan(series["GP (gp-long)"][1])  # level not run
