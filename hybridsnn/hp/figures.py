"""``hybridsnn plot hp RUN_DIR [RUN_DIR…]``: the noise/occlusion sweeps of all given runs on one figure per
corruption (runs that differ only in --seed as their mean with ± one sample std as error bars), the
continual-learning curve (multitask), and the few-shot or per-epoch test-accuracy curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hybridsnn.checks.flags import refuse_repeats
from hybridsnn.errors import UserError
from hybridsnn.hp.methods import DEFAULT_METHOD
from hybridsnn.results import read_metrics


def _label(run_dir: Path) -> str:
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    return str(config.get("method") or DEFAULT_METHOD).upper()


def _sweep_points(run_dir: Path, kind: str) -> list[tuple[float, float]]:
    """``(level, accuracy)`` of the run's ``kind`` sweep records (a record without both numbers: refused)."""
    points = []
    for record in read_metrics(run_dir):
        if record.get("split") != kind:
            continue
        level, accuracy = record.get("level"), record.get("accuracy")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (level, accuracy)):
            raise UserError(f"metrics log of {str(run_dir)!r} holds a {kind} record with level {level!r} and "
                            f"accuracy {accuracy!r}; expected two numbers")  # fmt: skip
        points.append((level, accuracy))
    return points


def _seed_groups(run_dirs: list[Path]) -> dict[str, list[Path]]:
    """The runs by experiment: runs that differ only in ``--seed`` (and output paths, see
    :func:`hybridsnn.results.experiment_flags`) form one group, labelled by method, plus ``(mean ± std,
    n=K)`` for K > 1 runs and the first run's folder when two groups share a method."""
    from hybridsnn.results import experiment_flags, read_report_run

    groups: dict[str, list[Path]] = {}
    for run_dir in run_dirs:
        flags = json.dumps(experiment_flags(read_report_run(run_dir)), sort_keys=True, default=str)
        groups.setdefault(flags, []).append(run_dir)
    methods = [_label(dirs[0]) for dirs in groups.values()]
    labelled = {}
    for method, dirs in zip(methods, groups.values(), strict=True):
        label = method if methods.count(method) == 1 else f"{method} ({dirs[0].name})"
        labelled[label + (f" (mean ± std, n={len(dirs)})" if len(dirs) > 1 else "")] = dirs
    return labelled


def _sweep_series(groups: dict[str, list[Path]], kind: str) -> tuple[list, dict, dict]:
    """Levels, mean accuracy per group and level, and the sample std of groups of several runs (NaN where a
    run lacks a level)."""
    points = {label: [dict(_sweep_points(d, kind)) for d in dirs] for label, dirs in groups.items()}
    levels = sorted({lv for runs in points.values() for run in runs for lv in run})
    series, errors = {}, {}
    for label, runs in points.items():
        if not any(runs):
            continue
        table = np.array([[run.get(lv, np.nan) for lv in levels] for run in runs], dtype=float)
        series[label] = table.mean(axis=0)
        if len(runs) > 1:
            errors[label] = table.std(axis=0, ddof=1)
    return levels, series, errors


def plot(args: argparse.Namespace) -> list[Path]:
    """Noise/occlusion curves (all given runs on one figure), continual-learning and learning curves."""
    from hybridsnn import plots

    run_dirs = [Path(args.run_dir), *map(Path, args.compare)]
    for run_dir in run_dirs:
        if not (run_dir / "config.json").is_file():
            raise UserError(f"run directory {str(run_dir)!r} does not exist or has no config.json")
    refuse_repeats("plot hp RUN_DIR", [str(d.resolve()) for d in run_dirs])
    out = Path(args.output) if args.output else run_dirs[0] / "plots"
    labels = [_label(d) for d in run_dirs]
    if len(set(labels)) < len(labels):  # two runs of one method: tell their curves apart by folder
        labels = [f"{label} ({d.name})" for label, d in zip(labels, run_dirs, strict=True)]
    written = []
    groups = _seed_groups(run_dirs)
    for kind, xlabel in (
        ("noise", "Gaussian noise level i (variance 0.01·i)"),
        ("occlusion", "occlusion level i (central 2i×2i square)"),
    ):
        levels, series, errors = _sweep_series(groups, kind)
        if series:
            written.append(
                plots.line_curves(
                    levels,
                    series,
                    out / f"{kind}.png",
                    errors=errors or None,
                    xlabel=xlabel,
                    ylabel="test accuracy (%)",
                    y_scale=100.0,
                    title=f"HP-SNN: accuracy vs {kind}",
                )
            )
    records = [read_metrics(d) for d in run_dirs]
    if any(r.get("split") == "tasks" for recs in records for r in recs):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "continual.png",
                split="tasks",
                x="epoch",
                labels=labels,
                xlabel="tasks learned",
                ylabel="average accuracy over seen tasks",
                title="HP-SNN: permuted-MNIST continual learning",
            )
        )
    task = json.loads((run_dirs[0] / "config.json").read_text(encoding="utf-8")).get("task")
    if task == "fewshot" and any(r.get("split") == "test" and r.get("step", 0) > 0 for r in records[0]):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "learning.png",
                split="test",
                x="step",
                labels=labels,
                xlabel="meta iterations",
                ylabel="test accuracy",
                title="HP-SNN: few-shot learning curve",
            )
        )
    elif any(r.get("split") == "test" and r.get("epoch") is not None for recs in records for r in recs):
        written.append(
            plots.accuracy_curves(
                run_dirs,
                out / "accuracy.png",
                split="test",
                x="epoch",
                labels=labels,
                title="HP-SNN: test accuracy",
            )
        )
    if not written:
        raise UserError(f"run directory {str(run_dirs[0])!r} has no HP metrics to plot")
    return written
