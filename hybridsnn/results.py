"""The run directory every train/test/predict run writes, and the report over many runs.

Layout of one run directory (under ``--output``, default ``output/``)::

    <model>-<task>-<command>-<YYYYmmdd-HHMMSS>-<id>/
        config.json      fully resolved configuration (every flag, defaults filled in)
        metrics.jsonl    one JSON object per evaluation: step, epoch, split, metrics
        results.json     model, task, dataset, engine, device, final metrics, wall time (s),
                         samples/s, versions, git commit, seed, status
        checkpoints/     safetensors checkpoints (see hybridsnn.checkpoint)

Every file is written atomically, so a killed run leaves complete files and can resume.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import secrets
import subprocess
import time
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from hybridsnn import __version__
from hybridsnn.atomic import json_default, write_json, write_text
from hybridsnn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from hybridsnn.errors import UserError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
CHECKPOINT_DIR = "checkpoints"
VERSIONED_PACKAGES = ("numpy", "torch", "torchvision", "numba", "safetensors", "pygenn")


def package_versions() -> dict[str, str]:
    """Versions of Python, hybridsnn and the installed numerical packages (without importing them)."""
    versions = {"python": platform.python_version(), "hybridsnn": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str | None:
    """The git commit of the hybridsnn source tree, or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class Run:
    """One run directory: config, metrics log, checkpoints and final results.

    Create a new one with :meth:`create`, or reopen an interrupted one with :meth:`resume`.
    """

    def __init__(self, path: Path, config: dict[str, Any], metrics: list[dict[str, Any]]) -> None:
        self.path = path
        self.config = config
        self._metrics = metrics
        self._started = time.perf_counter()
        self._commit = git_commit()  # the code that runs, even if the checkout moves on during the run

    @classmethod
    def create(
        cls,
        output: str | os.PathLike[str],
        *,
        model: str,
        task: str,
        command: str,
        config: Mapping[str, Any],
        name: str | None = None,
    ) -> Run:
        """Make a fresh run directory under ``output`` and write its ``config.json``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_name = name or f"{model}-{task}-{command}-{stamp}-{secrets.token_hex(2)}"
        path = Path(output) / run_name
        if (path / CONFIG_FILE).exists():
            raise UserError(f"run directory {str(path)!r} already exists; pass --resume to continue it")
        path.mkdir(parents=True, exist_ok=True)
        full = {"model": model, "task": task, "command": command, **dict(config)}
        write_json(path / CONFIG_FILE, full)
        return cls(path, json.loads(json.dumps(full, default=json_default)), [])

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> Run:
        """Reopen an existing run directory (its config and metrics so far) to continue it."""
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise UserError(f"cannot resume {str(path)!r}: it is not a run directory (no {CONFIG_FILE})")
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        return cls(path, config, read_metrics(path))

    # -- metrics -----------------------------------------------------------------------------------
    @property
    def metrics(self) -> list[dict[str, Any]]:
        """All metric records logged so far (oldest first)."""
        return list(self._metrics)

    def log_metrics(self, *, step: int, split: str, epoch: float | None = None, **metrics: Any) -> dict:
        """Append one evaluation record ``{step, epoch, split, time, metrics...}`` to ``metrics.jsonl``."""
        record = {"step": int(step), "epoch": epoch, "split": split, "time": time.time(), **metrics}
        record = json.loads(json.dumps(record, default=json_default))
        self._metrics.append(record)
        self._write_metrics()
        return record

    def drop_metrics_after(self, epoch: float) -> int:
        """Forget records of epochs after ``epoch`` (a resumed run recomputes them); returns how many."""
        kept = [r for r in self._metrics if r.get("epoch") is None or r["epoch"] <= epoch]
        dropped = len(self._metrics) - len(kept)
        if dropped:
            self._metrics = kept
            self._write_metrics()
        return dropped

    def _write_metrics(self) -> None:
        lines = "".join(json.dumps(record, sort_keys=True) + "\n" for record in self._metrics)
        write_text(self.path / METRICS_FILE, lines)

    # -- checkpoints -------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        """Folder of this run's checkpoints."""
        return self.path / CHECKPOINT_DIR

    def save_checkpoint(
        self, name: str, tensors: Mapping[str, Any], extra: Mapping[str, Any] | None = None
    ) -> Path:
        """Write ``checkpoints/<name>.safetensors`` tagged with this run's model and config."""
        return save_checkpoint(
            self.checkpoint_dir / f"{name}.safetensors",
            tensors,
            model=self.config["model"],
            config=self.config,
            extra=extra,
        )

    def load_checkpoint(self, name: str, **kwargs: Any) -> Checkpoint:
        """Read ``checkpoints/<name>.safetensors`` of this run, checking it belongs to this model."""
        return load_checkpoint(
            self.checkpoint_dir / f"{name}.safetensors", model=self.config["model"], **kwargs
        )

    def checkpoints(self) -> list[Path]:
        """This run's checkpoint files, oldest first."""
        if not self.checkpoint_dir.is_dir():
            return []
        return sorted(self.checkpoint_dir.glob("*.safetensors"), key=lambda p: (p.stat().st_mtime, p.name))

    # -- results -----------------------------------------------------------------------------------
    def finish(
        self,
        final_metrics: Mapping[str, Any],
        *,
        samples: int | None = None,
        dataset: str | None = None,
        engine: str | None = None,
        device: str | None = None,
        status: str = "completed",
        **extra: Any,
    ) -> dict[str, Any]:
        """Write ``results.json`` with the final metrics, wall time (s) and throughput (samples/s)."""
        wall = time.perf_counter() - self._started
        results = {
            "model": self.config.get("model"),
            "task": self.config.get("task"),
            "command": self.config.get("command"),
            "dataset": dataset if dataset is not None else self.config.get("dataset"),
            "engine": engine if engine is not None else self.config.get("engine"),
            "device": device if device is not None else self.config.get("device"),
            "seed": self.config.get("seed"),
            "status": status,
            "metrics": dict(final_metrics),
            "wall_time_s": wall,
            "samples": samples,
            "samples_per_s": (samples / wall) if samples and wall > 0 else None,
            "versions": package_versions(),
            "git_commit": self._commit,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra,
        }
        write_json(self.path / RESULTS_FILE, results)
        return json.loads(json.dumps(results, default=json_default))


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a run's ``metrics.jsonl`` (empty if none yet)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Run directories (holding ``results.json``) at or below each path, sorted by path."""
    runs: set[Path] = set()
    for entry in paths:
        entry = Path(entry)
        if not entry.exists():
            raise UserError(f"report path {str(entry)!r} does not exist")
        if (entry / RESULTS_FILE).is_file():
            runs.add(entry)
        runs.update(p.parent for p in entry.rglob(RESULTS_FILE))
    return sorted(runs)


REPORT_COLUMNS = ("run", "model", "task", "command", "dataset", "engine", "device", "seed", "status")


def report_rows(run_dirs: Iterable[Path]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per run: the fixed columns, then every final metric, then wall time and samples/s."""
    rows: list[dict[str, Any]] = []
    metric_names: list[str] = []
    for run_dir in run_dirs:
        results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
        row = {col: results.get(col) for col in REPORT_COLUMNS[1:]}
        row["run"] = run_dir.name
        for key, value in (results.get("metrics") or {}).items():
            if isinstance(value, (int, float, str)) or value is None:
                row[key] = value
                if key not in metric_names:
                    metric_names.append(key)
        row["wall_time_s"] = results.get("wall_time_s")
        row["samples_per_s"] = results.get("samples_per_s")
        rows.append(row)
    return [*REPORT_COLUMNS, *metric_names, "wall_time_s", "samples_per_s"], rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """A markdown table of ``rows``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def format_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The same table as CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buffer.getvalue()
