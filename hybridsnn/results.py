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
import math
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from hybridsnn import __version__
from hybridsnn.atomic import json_default, write_json, write_text
from hybridsnn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from hybridsnn.checks.paths import check_writable_dir
from hybridsnn.errors import UserError
from hybridsnn.system_info import Metric

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
#: Configuration keys that say where or how a run ran, not what it computed: runs that differ only in these
#: (and in ``seed``) are repeats of one experiment, which ``hybridsnn report`` aggregates into one row.
NON_EXPERIMENT_KEYS = frozenset({"seed", "run_name", "output", "resume", "test", "no_progress", "progress",
                                 "threads", "data_root", "checkpoint_every"})  # fmt: skip
#: The numbers every report table ends with (top-level keys of ``results.json``).
SHARED_METRICS = (Metric("samples", "samples"), Metric("wall_time_s", "wall time (s)"))
UNREADABLE = "?"
STATUS_ORDER = {name: index for index, name in enumerate((*STATUSES, "corrupt"))}


@dataclass(frozen=True)
class ReportRun:
    """What the report reads of one run directory (``status`` ``corrupt``: a file could not be read)."""

    name: str
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The run's model ("?" when unreadable)."""
        return str(self.config.get("model", UNREADABLE))

    @property
    def task(self) -> str:
        """The run's task ("?" when unreadable)."""
        return str(self.config.get("task", UNREADABLE))

    def value(self, key: str) -> float | None:
        """The final number ``key``: a metric in ``results.json``, else a top-level entry (``samples``)."""
        metrics = self.results.get("metrics")
        value = metrics.get(key) if isinstance(metrics, dict) and key in metrics else self.results.get(key)
        return value if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_report_run(run_dir: Path) -> ReportRun:
    """The config, status and (for a completed run) results of ``run_dir``; ``corrupt`` if unreadable."""
    try:
        config = read_config(run_dir)
        status = run_status(run_dir)
        results = read_json_file(run_dir / RESULTS_FILE, "results") if status == "completed" else {}
    except UserError:
        return ReportRun(run_dir.name, "corrupt")
    return ReportRun(run_dir.name, status, config, results)


def report_rows(run_dirs: Iterable[Path]) -> tuple[list[str], list[dict[str, Any]]]:
    """One flat row per run: the fixed columns (with the run's status), every final numeric metric, wall
    time and samples/s. Runs that did not complete (running, failed, interrupted, corrupt) have no metrics."""
    rows: list[dict[str, Any]] = []
    metric_names: list[str] = []
    for run in map(read_report_run, run_dirs):
        row = {col: run.results.get(col, run.config.get(col)) for col in REPORT_COLUMNS}
        row.update(run=run.name, status=run.status)
        for key in _numeric_metric_keys([run]):
            row[key] = run.value(key)
            metric_names += [key] if key not in metric_names else []
        row.update(wall_time_s=run.value("wall_time_s"), samples_per_s=run.value("samples_per_s"))
        rows.append(row)
    return [*REPORT_COLUMNS, *metric_names, "wall_time_s", "samples_per_s"], rows


def _numeric_metric_keys(runs: Iterable[ReportRun]) -> list[str]:
    """The keys of the numeric final metrics of ``runs``, in the order they first appear."""
    keys: dict[str, None] = {}
    for run in runs:
        metrics = run.results.get("metrics")
        for key, value in metrics.items() if isinstance(metrics, dict) else ():
            if _is_number(value):
                keys.setdefault(key)
    return list(keys)


# -- the report: one table per (model, task), repeats of one experiment aggregated ----------------------


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (None for one value) and count of one metric over a row's runs."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary | None:
        """The summary of ``values`` (None when there are none)."""
        if not values:
            return None
        std = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values) if len(values) > 1 else values[0], std, len(values))


@dataclass(frozen=True)
class ReportRow:
    """One row of a report table: runs of one experiment with one status, and the flags that name it."""

    runs: tuple[ReportRun, ...]
    flags: dict[str, Any]
    status: str

    def summary(self, key: str) -> Summary | None:
        """Mean ± std of the final number ``key`` over the runs that have it."""
        return Summary.of([v for v in (run.value(key) for run in self.runs) if v is not None])


@dataclass(frozen=True)
class ReportTable:
    """The runs of one (model, task): the flag columns that tell rows apart, the metric columns, rows."""

    model: str
    task: str
    flags: tuple[str, ...]
    metrics: tuple[Metric, ...]
    rows: tuple[ReportRow, ...]
    per_run: bool = False

    @property
    def heading(self) -> str:
        """``model: task``, or ``unreadable runs`` for the runs whose files could not be read."""
        return "unreadable runs" if self.model == UNREADABLE else f"{self.model}: {self.task}"


def experiment_flags(run: ReportRun, keep_seed: bool = False) -> dict[str, Any]:
    """The configuration that defines the experiment of ``run``: every key but model, task and
    :data:`NON_EXPERIMENT_KEYS` (``keep_seed``: the seed too)."""
    ignored = (NON_EXPERIMENT_KEYS - ({"seed"} if keep_seed else set())) | {"model", "task"}
    return {key: value for key, value in run.config.items() if key not in ignored}


def _flag_name(text: str) -> str:
    """``--train-samples``, ``train-samples`` or ``train_samples`` as the config key ``train_samples``."""
    return text.strip().lstrip("-").replace("-", "_")


def check_group_by(runs: Iterable[ReportRun], names: Iterable[str]) -> tuple[str, ...]:
    """The config keys of ``--group-by`` (comma lists allowed); a one-line error for one no run has."""
    keys = tuple(dict.fromkeys(_flag_name(part) for name in names for part in name.split(",") if part))
    known = sorted({key for run in runs for key in run.config})
    for key in keys:
        if key not in known:
            raise UserError(f"--group-by {key!r} is a flag of no run's config.json; allowed: "
                            f"{', '.join(known)}")  # fmt: skip
    return keys


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order before everything else in text order."""
    return (0, value) if _is_number(value) else (1, json.dumps(value, sort_keys=True, default=str))


def _row_flags(run: ReportRun, group_by: tuple[str, ...] | None, per_run: bool) -> dict[str, Any]:
    """The flags that place ``run`` in a row: the ``group_by`` flags, else its experiment flags."""
    return {k: run.config.get(k) for k in group_by} if group_by else experiment_flags(run, per_run)


def _group(runs: list[ReportRun], group_by: tuple[str, ...] | None, per_run: bool) -> list[ReportRow]:
    """Rows of one table: runs with equal experiment flags (or ``group_by`` flags) and status, or one
    row per run (``per_run``)."""
    groups: dict[str, tuple[dict[str, Any], list[ReportRun]]] = {}
    for index, run in enumerate(runs):
        flags = _row_flags(run, group_by, per_run)
        key = str(index) if per_run else json.dumps([flags, run.status], sort_keys=True, default=str)
        groups.setdefault(key, (flags, []))[1].append(run)
    return [ReportRow(tuple(members), flags, members[0].status) for flags, members in groups.values()]


def _shown_flags(rows: list[ReportRow], group_by: tuple[str, ...] | None) -> tuple[str, ...]:
    """The flag columns: ``group_by``, else the flags whose values differ between rows."""
    if group_by:
        return group_by
    names = dict.fromkeys(key for row in rows for key in row.flags)
    values = {key: {json.dumps(row.flags.get(key), default=str) for row in rows} for key in names}
    return tuple(key for key in names if len(values[key]) > 1)


def _table_metrics(model: str, task: str, runs: list[ReportRun]) -> tuple[Metric, ...]:
    """The system's key metrics that some run has (:meth:`ModelInfo.view_for`), else every numeric metric,
    then :data:`SHARED_METRICS`."""
    from hybridsnn.registry import MODELS

    info = MODELS.get(model)
    view = info.view_for(task) if info is not None else None
    named = [m for m in (view.metrics if view else ()) if any(r.value(m.key) is not None for r in runs)]
    found = named or [Metric(key, key) for key in _numeric_metric_keys(runs)]
    return (*found, *SHARED_METRICS)


def report_tables(
    run_dirs: Iterable[Path], *, group_by: Iterable[str] = (), per_run: bool = False
) -> list[ReportTable]:
    """One :class:`ReportTable` per (model, task) of the runs in ``run_dirs``, sorted by model and task.

    Runs whose experiment flags (:func:`experiment_flags`) and status are equal share one row: repeats that
    differ only in ``--seed``, the output paths and how they ran. ``group_by`` names config flags to group
    by instead (a one-line error for a flag no run has); ``per_run`` gives every run its own row.
    """
    runs = [read_report_run(path) for path in run_dirs]
    keys = check_group_by(runs, group_by) or None
    by_system: dict[tuple[str, str], list[ReportRun]] = {}
    for run in runs:
        by_system.setdefault((run.model, run.task), []).append(run)
    tables = []
    for (model, task), members in sorted(by_system.items()):
        one_per_run = per_run or model == UNREADABLE  # unreadable runs are listed by name
        rows = _group(members, keys, one_per_run)
        flags = _shown_flags(rows, keys)
        rows.sort(key=lambda r: (*(_sort_key(r.flags.get(f)) for f in flags), STATUS_ORDER.get(r.status, 9),
                                 r.runs[0].name))  # fmt: skip
        metrics = _table_metrics(model, task, members)
        tables.append(ReportTable(model, task, flags, metrics, tuple(rows), one_per_run))
    return tables


def format_number(value: float) -> str:
    """``value`` to 4 significant digits, without exponent between 0.001 and 10**15 (``80.15``, ``60000``);
    an int as it is."""
    if isinstance(value, int):
        return str(value)
    if value == 0 or not math.isfinite(value) or not 1e-3 <= abs(value) < 1e15:
        return f"{value:.4g}"
    return f"{value:.{max(0, 3 - math.floor(math.log10(abs(value))))}f}"


def format_summary(summary: Summary | None, scale: float = 1.0) -> str:
    """``mean ± std (n=K)`` in the mean's decimals, times ``scale``; the plain value for one run."""
    if summary is None:
        return ""
    mean = format_number(summary.mean if scale == 1 else summary.mean * scale)  # an int stays one
    if summary.std is None:
        return mean
    decimals = len(mean.partition(".")[2]) if "e" not in mean else 2
    return f"{mean} ± {summary.std * scale:.{decimals}f} (n={summary.n})"


def _markdown_table(table: ReportTable) -> str:
    """The heading and markdown table of one :class:`ReportTable`."""
    per_run = table.per_run
    header = ["run" if per_run else "runs", *table.flags, "status", *(m.label for m in table.metrics)]
    rows = [
        {
            header[0]: table_row.runs[0].name if per_run else len(table_row.runs),
            **{flag: _flag_cell(table_row.flags.get(flag)) for flag in table.flags},
            "status": table_row.status,
            **{m.label: format_summary(table_row.summary(m.key), m.scale) for m in table.metrics},
        }
        for table_row in table.rows
    ]
    return f"## {table.heading}\n\n" + format_markdown(header, rows)


def _flag_cell(value: Any) -> str:
    """A flag value as text: JSON for lists and objects, ``None`` as empty."""
    return json.dumps(value) if isinstance(value, (list, dict)) else _cell(value)


def tables_markdown(tables: list[ReportTable]) -> str:
    """Every table under its ``## model: task`` heading; metric values rounded for reading, in the units
    the column headings name (accuracies in %)."""
    if not tables:
        return "no runs found\n"
    return "\n".join(_markdown_table(table) for table in tables)


def tables_csv(tables: list[ReportTable], per_run: bool = False) -> str:
    """All tables as one CSV at full precision (``repr`` of floats, values as stored: fractions, not %):
    columns ``model``, ``task``, ``run`` (``--per-run``) or ``runs`` and ``run_names``, every flag column
    of any table, ``status``, then per metric key ``KEY`` (the mean) and, aggregated, ``KEY_std`` (sample
    standard deviation) and ``KEY_n``. Cells a table does not have are empty."""
    flags = list(dict.fromkeys(flag for table in tables for flag in table.flags))
    keys = list(dict.fromkeys(m.key for table in tables for m in table.metrics))
    stats = keys if per_run else [f"{key}{suffix}" for key in keys for suffix in ("", "_std", "_n")]
    ids = ["run"] if per_run else ["runs", "run_names"]
    columns = ["model", "task", *ids, *flags, "status", *stats]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for table in tables:
        for row in table.rows:
            writer.writerow(_csv_row(table, row, per_run))
    return buffer.getvalue()


def _csv_row(table: ReportTable, row: ReportRow, per_run: bool) -> dict[str, str]:
    """One CSV row: identifiers, flags, status, and each metric's mean/std/n at full precision."""
    names = [run.name for run in row.runs]
    cells = {"model": table.model, "task": table.task, "status": row.status}
    cells.update({"run": names[0]} if per_run else {"runs": str(len(names)), "run_names": " ".join(names)})
    cells.update({flag: _flag_cell(row.flags.get(flag)) for flag in table.flags})
    for metric in table.metrics:
        summary = row.summary(metric.key)
        if summary is not None:
            cells[metric.key] = repr(summary.mean)
            if not per_run:
                cells.update({f"{metric.key}_std": "" if summary.std is None else repr(summary.std),
                              f"{metric.key}_n": str(summary.n)})  # fmt: skip
    return cells


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
