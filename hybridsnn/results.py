"""The run directory every train/test/predict run writes, and the report over many runs.

Layout of one run directory (under ``--output``, default ``output/``)::

    <model>-<task>-<command>-<YYYYmmdd-HHMMSS>-<id>/
        config.json      fully resolved configuration (every flag, defaults filled in)
        metrics.jsonl    one JSON object per evaluation: step, epoch, split, metrics
        status.json      lifecycle: running, completed, failed (with the error line) or interrupted;
                         the process, and the wall time (s) of the run so far over all its segments
        results.json     model, task, dataset, engine, device, final metrics, wall time (s),
                         samples/s, versions, git commit, seed, status
        checkpoints/     safetensors checkpoints (see hybridsnn.checkpoint)

Every file is written atomically, so a killed run leaves complete files and can resume. A run killed with
SIGKILL cannot record that it stopped: its ``status.json`` still says ``running`` for a process that no
longer exists, which :func:`run_status` reports as ``interrupted``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from hybridsnn import __version__
from hybridsnn.atomic import json_default, write_json, write_text
from hybridsnn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from hybridsnn.checks.paths import check_writable_dir
from hybridsnn.errors import UserError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
STATUS_FILE = "status.json"
STATUSES = ("running", "completed", "failed", "interrupted")
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


def read_json_file(path: Path, what: str, kind: type = dict) -> Any:
    """The JSON value stored in ``path``, which must be of type ``kind``; a one-line error if it is not."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{what} {str(path)!r} is unreadable or corrupt ({exc})") from None
    if not isinstance(value, kind):
        found = type(value).__name__
        raise UserError(f"{what} {str(path)!r} holds a JSON {found}; expected a {kind.__name__}")
    return value


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a run directory, or a one-line error if ``run_dir`` is not a readable run."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{str(run_dir)!r} is not a run directory (no {CONFIG_FILE})")
    return read_json_file(path, "run configuration")


class Run:
    """One run directory: config, status, metrics log, checkpoints and final results.

    Create a new one with :meth:`create`, or reopen an interrupted one with :meth:`resume`. A run that
    :meth:`create` made can be removed again with :meth:`discard` (a command refused before it did any
    work leaves nothing behind).
    """

    def __init__(
        self,
        path: Path,
        config: dict[str, Any],
        metrics: list[dict[str, Any]],
        *,
        created: bool = False,
        prior_wall_s: float = 0.0,
    ) -> None:
        self.path = path
        self.config = config
        self.created = created
        self._new_folders: list[Path] = []
        self._metrics = metrics
        self._prior_wall_s = prior_wall_s
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
        """Make a fresh run directory under ``output``; write its ``config.json`` and ``running`` status."""
        check_writable_dir(output, f"--output {str(output)!r}")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_name = name or f"{model}-{task}-{command}-{stamp}-{secrets.token_hex(2)}"
        path = Path(output) / run_name
        if path.exists() and not path.is_dir():
            raise UserError(f"run directory {str(path)!r} is a file; choose another --run-name")
        if (path / CONFIG_FILE).exists():
            raise UserError(f"run directory {str(path)!r} already exists; pass --resume to continue it")
        new_folders = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        full = {"model": model, "task": task, "command": command, **dict(config)}
        write_json(path / CONFIG_FILE, full)
        run = cls(path, json.loads(json.dumps(full, default=json_default)), [], created=True)
        run._new_folders = new_folders
        run.set_status("running")
        return run

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> Run:
        """Reopen an existing run directory (its config, metrics and wall time so far) to continue it."""
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise UserError(f"cannot resume {str(path)!r}: it is not a run directory (no {CONFIG_FILE})")
        config = read_config(path)
        status = read_status(path)
        _remove_partial_writes(path)
        run = cls(path, config, read_metrics(path), prior_wall_s=float(status.get("wall_time_s") or 0.0))
        run.set_status("running")
        return run

    # -- status ------------------------------------------------------------------------------------
    @property
    def wall_time_s(self) -> float:
        """Wall time (s) of the whole run: earlier segments (up to their last checkpoint) plus this one."""
        return self._prior_wall_s + time.perf_counter() - self._started

    def set_status(self, status: str, error: str | None = None) -> None:
        """Record ``status`` (one of :data:`STATUSES`) with this process and the wall time so far."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        record = {
            "status": status,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "wall_time_s": self.wall_time_s,
        }
        if error:
            record["error"] = error
        write_json(self.path / STATUS_FILE, record)

    def discard(self) -> None:
        """Remove the directory of a run that :meth:`create` made in this process, and the folders above it
        that it created (``--output`` did not exist) as long as they are empty; nothing else."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            for folder in self._new_folders[1:]:
                try:
                    folder.rmdir()  # only succeeds when empty
                except OSError:
                    break

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
        """Write ``checkpoints/<name>.safetensors`` tagged with this run's model and config.

        The status is refreshed too, so the wall time a resumed run adds up reaches this checkpoint.
        """
        path = save_checkpoint(
            self.checkpoint_dir / f"{name}.safetensors",
            tensors,
            model=self.config["model"],
            config=self.config,
            extra=extra,
        )
        self.set_status("running")
        return path

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
        """Write ``results.json`` with the final metrics, wall time (s) and throughput (samples/s).

        ``samples``: the samples the whole run processed (all segments of a resumed run); the wall time
        covers all segments too.
        """
        wall = self.wall_time_s
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
        self.set_status(status)
        return json.loads(json.dumps(results, default=json_default))


def _remove_partial_writes(run_dir: Path) -> None:
    """Delete temporary files of writes a kill cut off (``.NAME.*.tmp`` from :mod:`hybridsnn.atomic`)."""
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``status.json`` record of a run ({} for a run written before statuses existed)."""
    path = Path(run_dir) / STATUS_FILE
    return read_json_file(path, "run status") if path.is_file() else {}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def run_status(run_dir: str | os.PathLike[str]) -> str:
    """``completed``, ``failed``, ``interrupted`` or ``running`` for a run directory.

    A ``running`` record whose process is gone (on this host) is ``interrupted`` — it was killed. A run with
    neither a status nor results (written before statuses existed, and never finished) is ``interrupted``.
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    state = status.get("status")
    if state is None:
        return "completed" if (run_dir / RESULTS_FILE).is_file() else "interrupted"
    if state == "running" and status.get("host") == socket.gethostname() and not _process_alive(
            int(status.get("pid", -1))):  # fmt: skip
        return "interrupted"
    return str(state)


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a run's ``metrics.jsonl`` (empty if none yet); a one-line error if a line is corrupt."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            raise UserError(f"metrics log {str(path)!r} is corrupt at line {number} (not a JSON object)")
        records.append(record)
    return records


def find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Run directories (holding ``config.json``) at or below each path, sorted by path."""
    runs: set[Path] = set()
    for entry in paths:
        entry = Path(entry)
        if not entry.exists():
            raise UserError(f"report path {str(entry)!r} does not exist")
        if (entry / CONFIG_FILE).is_file():
            runs.add(entry)
        runs.update(p.parent for p in entry.rglob(CONFIG_FILE) if p.parent.name != CHECKPOINT_DIR)
    return sorted(runs)


REPORT_COLUMNS = ("run", "model", "task", "command", "dataset", "engine", "device", "seed", "status")


def _report_row(run_dir: Path) -> dict[str, Any]:
    """The report row of one run; a run with unreadable files is listed with status ``corrupt``."""
    try:
        config = read_config(run_dir)
        status = run_status(run_dir)
        results = read_json_file(run_dir / RESULTS_FILE, "results") if status == "completed" else {}
    except UserError:
        return {"run": run_dir.name, "status": "corrupt"}
    row = {col: results.get(col, config.get(col)) for col in REPORT_COLUMNS[1:]}
    row.update(run=run_dir.name, status=status)
    row["metrics"] = results.get("metrics") or {}
    row["wall_time_s"] = results.get("wall_time_s")
    row["samples_per_s"] = results.get("samples_per_s")
    return row


def report_rows(run_dirs: Iterable[Path]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per run: the fixed columns (with the run's status), every final metric, wall time, samples/s.

    Runs that did not complete (running, failed, interrupted, corrupt) are listed too, without metrics.
    """
    rows: list[dict[str, Any]] = []
    metric_names: list[str] = []
    for run_dir in run_dirs:
        row = _report_row(run_dir)
        metrics = row.pop("metrics", None) or {}
        if not isinstance(metrics, dict):
            metrics = {}
        for key, value in metrics.items():
            if isinstance(value, (int, float, str)) or value is None:
                row[key] = value
                if key not in metric_names:
                    metric_names.append(key)
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
