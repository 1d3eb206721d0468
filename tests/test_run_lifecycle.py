"""Run lifecycle through the command line: statuses, nothing written on refusal, exact --resume semantics.

Uses the minimal demo driver (tests/demo_driver.py): it "trains" a 2-weight model, one checkpoint per
epoch, and can be interrupted (``DEMO_STOP_AT``) or crash (``DEMO_CRASH_AT``) at a given epoch.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hybridsnn import cli, registry
from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.registry import ModelInfo
from hybridsnn.results import find_runs, read_status, report_rows, run_status


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setitem(registry.MODELS, "demo", ModelInfo("demo", "demo_driver", "test", ("toy",), "np"))
    monkeypatch.setitem(registry.MODELS, "demo2", ModelInfo("demo2", "demo_driver", "other", ("toy",), "np"))


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _interrupted_run(tmp_path, monkeypatch, epochs="3", stop_at="1"):
    out = tmp_path / "out"
    monkeypatch.setenv("DEMO_STOP_AT", stop_at)
    assert cli.main(["train", "demo", "--output", str(out), "--epochs", epochs, "--seed", "5",
                     "--run-name", "r"]) == 130  # fmt: skip
    monkeypatch.delenv("DEMO_STOP_AT")
    return out / "r"


def test_statuses_running_interrupted_completed_and_whole_run_totals(demo, tmp_path, monkeypatch, capsys):
    run = _interrupted_run(tmp_path, monkeypatch)
    assert read_status(run)["status"] == "interrupted" and run_status(run) == "interrupted"
    assert not (run / "results.json").exists()
    first_wall = read_status(run)["wall_time_s"]
    assert cli.main(["train", "demo", "--resume", str(run)]) == 0  # every flag from config.json
    assert run_status(run) == "completed"
    results = json.loads((run / "results.json").read_text())
    assert results["samples"] == 12 and results["seed"] == 5  # 4 samples x 3 epochs, both segments
    assert results["wall_time_s"] >= first_wall > 0
    # seed 5 from the stored config, three increments over the two segments
    np.testing.assert_array_equal(load_checkpoint(run / "checkpoints" / "last.safetensors").tensors["w"],
                                  [8.0, 8.0])  # fmt: skip


def test_resuming_a_completed_run_says_so_and_changes_nothing(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["train", "demo", "--output", str(out), "--run-name", "done"]) == 0
    before = _files(out / "done")
    capsys.readouterr()
    assert cli.main(["train", "demo", "--resume", str(out / "done")]) == 0
    assert "already completed; nothing to resume" in capsys.readouterr().err
    assert _files(out / "done") == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "5"], "--epochs 5 differs from the run's stored 3"),
        (["--seed", "6"], "--seed 6 differs from the run's stored 5"),
        (["--quick"], "--quick True differs from the run's stored False"),
    ],
)
def test_resume_names_the_first_flag_that_differs(demo, tmp_path, monkeypatch, capsys, extra, message):
    run = _interrupted_run(tmp_path, monkeypatch)
    before = _files(run)
    capsys.readouterr()
    assert cli.main(["train", "demo", "--resume", str(run), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert _files(run) == before


def test_resume_accepts_where_flags_and_equal_values(demo, tmp_path, monkeypatch):
    run = _interrupted_run(tmp_path, monkeypatch)
    assert cli.main(["train", "demo", "--resume", str(run), "--epochs", "3", "--seed", "5", "--no-progress",
                     "--output", str(tmp_path / "elsewhere")]) == 0  # fmt: skip
    assert run_status(run) == "completed" and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "demo2", "--resume", "RUN"], "is a run of model 'demo', not 'demo2'"),
        (["train", "demo", "--test", "--checkpoint", "RUN/checkpoints/last.safetensors", "--resume", "RUN"],
         "cannot be combined with --resume"),
        (["plot", "demo2", "RUN"], "is a run of model 'demo'; plot it with hybridsnn plot demo"),
    ],
)
def test_runs_of_another_model_or_command_are_refused(demo, tmp_path, monkeypatch, capsys, argv, message):
    run = _interrupted_run(tmp_path, monkeypatch)
    before = _files(run)
    capsys.readouterr()
    assert cli.main([a.replace("RUN", str(run)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert _files(run) == before


def test_refused_commands_leave_no_run_folder(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["test", "demo", "--checkpoint", str(tmp_path / "missing.safetensors"),
                     "--output", str(out)]) == 2  # fmt: skip
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()  # not even the --output folder the run would have been made in
    (tmp_path / "kept").mkdir()
    assert cli.main(["test", "demo", "--checkpoint", str(tmp_path / "missing.safetensors"),
                     "--output", str(tmp_path / "kept")]) == 2  # fmt: skip
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())  # an existing one stays


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a/b", "..", "."])
def test_run_name_stays_inside_output(demo, tmp_path, capsys, name):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "demo", "--output", str(tmp_path / "out"), "--run-name", name])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "argument --run-name" in err and repr(name) in err and len(err.splitlines()) == 1
    assert _files(tmp_path) == {}


def test_output_that_is_a_file_is_refused_before_anything_is_written(demo, tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert cli.main(["train", "demo", "--output", str(target)]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err
    assert cli.main(["train", "demo", "--output", str(target / "below")]) == 2
    assert "cannot be created" in capsys.readouterr().err
    assert _files(tmp_path) == {target.relative_to(tmp_path): b"x"}


def test_a_crash_is_recorded_as_failed(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_CRASH_AT", "1")
    with pytest.raises(RuntimeError, match="demo bug"):
        cli.main(["train", "demo", "--output", str(tmp_path), "--run-name", "c"])
    status = read_status(tmp_path / "c")
    assert status["status"] == "failed" and status["error"] == "RuntimeError: demo bug"


def test_a_killed_run_reads_as_interrupted_and_report_lists_it(demo, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert cli.main(["train", "demo", "--output", str(out), "--run-name", "ok"]) == 0
    run = _interrupted_run(tmp_path, monkeypatch)
    status = json.loads((run / "status.json").read_text())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    status.update(status="running", pid=int(gone.stdout))  # what SIGKILL leaves: "running", a dead process
    (run / "status.json").write_text(json.dumps(status))
    assert run_status(run) == "interrupted"
    (out / "broken").mkdir()
    (out / "broken" / "config.json").write_text('{"model": "demo", "ta')
    _, rows = report_rows(find_runs([out]))
    statuses = {r["run"]: r["status"] for r in rows}
    assert statuses == {"ok": "completed", "r": "interrupted", "broken": "corrupt"}
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    out = capsys.readouterr().out
    assert "## demo: toy" in out and "| interrupted |" in out and "| broken | corrupt |" in out


def test_a_live_run_cannot_be_resumed_twice(demo, tmp_path, monkeypatch, capsys):
    run = _interrupted_run(tmp_path, monkeypatch)
    status = json.loads((run / "status.json").read_text())
    status["status"] = "running"  # this very process, alive
    (run / "status.json").write_text(json.dumps(status))
    capsys.readouterr()
    assert cli.main(["train", "demo", "--resume", str(run)]) == 2
    assert "still running" in capsys.readouterr().err


def test_command_help_prints_help_and_exits_0(demo, capsys):
    for command in cli.MODEL_COMMANDS:
        assert cli.main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"usage: hybridsnn {command} MODEL" in text and "demo" in text


def test_resume_removes_the_temporary_files_of_writes_a_kill_cut_off(demo, tmp_path, monkeypatch):
    run = _interrupted_run(tmp_path, monkeypatch)
    partial = [run / ".metrics.jsonl.abc123.tmp", run / "checkpoints" / ".last.safetensors.x9.tmp"]
    for path in partial:
        path.write_bytes(b"half a file")
    assert cli.main(["train", "demo", "--resume", str(run)]) == 0
    assert not any(path.exists() for path in partial)
    assert (run / "checkpoints" / "last.safetensors").is_file()
