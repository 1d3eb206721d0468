"""``hybridsnn report``: one table per (model, task), seed repeats aggregated as mean ± sample std, the
system's key metrics, statuses, --per-run, --group-by and a full-precision CSV, over run folders written
with the project's own :class:`hybridsnn.results.Run`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hybridsnn import cli, registry
from hybridsnn.registry import ModelInfo
from hybridsnn.results import Run, Summary, format_number, format_summary
from hybridsnn.system_info import TaskView, accuracy

ACC = "test accuracy (%)"


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> str:
    """A system "demo" whose view names one key metric, and "plain", which names none."""
    view = TaskView(
        (accuracy("accuracy", "test accuracy"),),
        accuracy("accuracy", "test accuracy", "test"),
        "step",
        "training samples",
    )
    monkeypatch.setitem(
        registry.MODELS, "demo", ModelInfo("demo", "demo_driver", "t", ("toy",), "np", view=view)
    )
    monkeypatch.setitem(registry.MODELS, "plain", ModelInfo("plain", "demo_driver", "t", ("toy",), "np"))
    return "demo"


def make_run(
    out: Path,
    name: str,
    *,
    model: str = "demo",
    status: str = "completed",
    metrics: dict | None = None,
    samples: int | None = None,
    **config: object,
) -> Path:
    """A run folder of ``model`` task toy: config (plus output paths and threads, which differ per run)
    and results.json when completed, else the status given."""
    full = {"output": str(out), "run_name": name, "threads": len(name), **config}
    run = Run.create(out, model=model, task="toy", command="train", config=full, name=name)
    if status == "completed":
        run.finish(metrics or {}, samples=samples)
    else:
        run.set_status(status, error="boom" if status == "failed" else None)
    return run.path


def seed_runs(out: Path) -> None:
    """lr 0.1: three seeds (accuracy 0.5, 0.75, 1.0; samples 100, 200, 400); lr 0.2: one seed."""
    for seed, acc, samples in ((1, 0.5, 100), (2, 0.75, 200), (3, 1.0, 400)):
        make_run(
            out, f"a-s{seed}", seed=seed, lr=0.1, metrics={"accuracy": acc, "loss": 9.0}, samples=samples
        )
    make_run(out, "b-s1", seed=1, lr=0.2, metrics={"accuracy": 0.123456789}, samples=50)


def markdown_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The tables of a report, by heading: one dict (column -> cell) per row."""
    tables: dict[str, list[dict[str, str]]] = {}
    for block in text.split("## ")[1:]:
        heading, _, body = block.partition("\n\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        tables[heading] = [
            dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True)) for ln in lines[2:]
        ]
    return tables


def report(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        status = cli.main(["report", *argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_seed_repeats_share_one_row_with_mean_and_sample_std(demo, tmp_path, capsys):
    seed_runs(tmp_path / "out")
    status, out, _ = report([str(tmp_path / "out")], capsys)
    assert status == 0
    rows = markdown_tables(out)["demo: toy"]
    assert [(r["runs"], r["lr"], r["status"]) for r in rows] == [
        ("3", "0.1", "completed"),
        ("1", "0.2", "completed"),
    ]
    assert list(rows[0]) == [
        "runs",
        "lr",
        "status",
        ACC,
        "samples",
        "wall time (s)",
    ]  # key metrics only, no loss
    assert rows[0][ACC] == "75.00 ± 25.00 (n=3)"  # mean 0.75, sample std sqrt(0.125 / 2) = 0.25
    assert rows[0]["samples"] == "233.3 ± 152.8 (n=3)"  # sqrt(((-400/3)² + (-100/3)² + (500/3)²) / 2)
    assert rows[1][ACC] == "12.35" and rows[1]["samples"] == "50"  # one run: the plain value


def test_csv_holds_every_table_at_full_precision(demo, tmp_path, capsys):
    seed_runs(tmp_path / "out")
    make_run(tmp_path / "out", "p1", model="plain", metrics={"loss": 0.1234567891234})
    csv_file = tmp_path / "table.csv"
    status, _, _ = report([str(tmp_path / "out"), "--csv", str(csv_file)], capsys)
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert [(r["model"], r["task"], r["runs"], r["status"]) for r in rows] == [
        ("demo", "toy", "3", "completed"),
        ("demo", "toy", "1", "completed"),
        ("plain", "toy", "1", "completed"),
    ]
    assert rows[0]["run_names"] == "a-s1 a-s2 a-s3"
    assert (rows[0]["accuracy"], rows[0]["accuracy_std"], rows[0]["accuracy_n"]) == ("0.75", "0.25", "3")
    assert rows[0]["samples"] == "233.33333333333334"  # repr, not rounded
    assert float(rows[0]["samples_std"]) == pytest.approx(152.75252316519467, rel=1e-15)
    assert rows[1]["accuracy"] == "0.123456789" and rows[1]["accuracy_std"] == ""
    assert rows[2]["loss"] == "0.1234567891234" and rows[2]["accuracy"] == ""  # plain: all its numbers
    status, printed, _ = report([str(tmp_path / "out"), "--format", "csv"], capsys)
    assert printed == csv_file.read_text()


def test_per_run_lists_every_run_with_its_seed(demo, tmp_path, capsys):
    seed_runs(tmp_path / "out")
    _, out, _ = report([str(tmp_path / "out"), "--per-run"], capsys)
    rows = markdown_tables(out)["demo: toy"]
    assert [(r["run"], r["lr"], r["seed"], r[ACC]) for r in rows] == [
        ("a-s1", "0.1", "1", "50.00"),
        ("a-s2", "0.1", "2", "75.00"),
        ("a-s3", "0.1", "3", "100.0"),
        ("b-s1", "0.2", "1", "12.35"),
    ]


def test_group_by_names_the_flags_to_aggregate_over(demo, tmp_path, capsys):
    seed_runs(tmp_path / "out")
    _, out, _ = report([str(tmp_path / "out"), "--group-by=--seed"], capsys)
    rows = markdown_tables(out)["demo: toy"]
    assert [(r["seed"], r["runs"]) for r in rows] == [("1", "2"), ("2", "1"), ("3", "1")]
    assert rows[0][ACC] == "31.17 ± 26.63 (n=2)"  # 0.5 and 0.123456789: |difference| / sqrt(2)
    _, out, _ = report([str(tmp_path / "out"), "--group-by", "lr,seed"], capsys)
    assert list(markdown_tables(out)["demo: toy"][0])[:3] == ["runs", "lr", "seed"]


def test_group_by_a_flag_no_run_has_is_one_line_and_writes_nothing(demo, tmp_path, capsys):
    seed_runs(tmp_path / "out")
    csv_file = tmp_path / "table.csv"
    status, out, err = report(
        [str(tmp_path / "out"), "--group-by", "neurons", "--csv", str(csv_file)], capsys
    )
    assert status == 2 and out == "" and not csv_file.exists()
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(
        "hybridsnn: error: --group-by 'neurons' is a flag of no run's config.json; allowed: "
    )
    assert "lr" in err and "seed" in err


def test_unfinished_runs_are_rows_of_their_own_status(demo, tmp_path, capsys):
    out_dir = tmp_path / "out"
    make_run(out_dir, "done", seed=1, lr=0.1, metrics={"accuracy": 0.5})
    make_run(out_dir, "fail", seed=2, lr=0.1, status="failed")
    make_run(out_dir, "stop", seed=3, lr=0.1, status="interrupted")
    (out_dir / "broken").mkdir()
    (out_dir / "broken" / "config.json").write_text('{"model": "demo", "ta')
    _, out, _ = report([str(out_dir)], capsys)
    tables = markdown_tables(out)
    rows = tables["demo: toy"]
    assert [(r["status"], r["runs"], r[ACC]) for r in rows] == [
        ("completed", "1", "50.00"),
        ("failed", "1", ""),
        ("interrupted", "1", ""),
    ]
    assert [(r["run"], r["status"]) for r in tables["unreadable runs"]] == [("broken", "corrupt")]


def test_each_system_and_task_gets_its_own_table(demo, tmp_path, capsys):
    make_run(tmp_path / "out", "p", model="plain", metrics={"loss": 2.5, "note": "text", "ok": True})
    make_run(tmp_path / "out", "d", metrics={"accuracy": 0.25})
    _, out, _ = report([str(tmp_path / "out")], capsys)
    tables = markdown_tables(out)
    assert list(tables) == ["demo: toy", "plain: toy"]
    assert list(tables["plain: toy"][0]) == ["runs", "status", "loss", "samples", "wall time (s)"]
    assert tables["plain: toy"][0]["loss"] == "2.500"


def test_real_sym_stdp_seed_folders_layout_aggregates_by_neurons(tmp_path, capsys):
    """Ten sym-STDP runs laid out as the training writes them (N = 100, 400 x seeds 1..5)."""
    values = {100: (0.8105, 0.7971, 0.7906, 0.8058, 0.8033), 400: (0.8855, 0.8892, 0.8852, 0.8892, 0.8851)}
    for neurons, accuracies in values.items():
        for seed, acc in enumerate(accuracies, 1):
            name = f"n{neurons}-s{seed}"
            run = Run.create(
                tmp_path,
                model="sym-stdp",
                task="classification",
                command="train",
                name=name,
                config={"neurons": neurons, "seed": seed, "run_name": name, "threads": 1},
            )
            run.finish({"sl_accuracy": acc, "usl_accuracy": acc - 0.01, "sl_confusion": [[1]]}, samples=60000)
    _, out, _ = report([str(tmp_path)], capsys)
    rows = markdown_tables(out)["sym-stdp: classification"]
    assert [(r["neurons"], r["SL accuracy (%)"]) for r in rows] == [
        ("100", "80.15 ± 0.78 (n=5)"),
        ("400", "88.68 ± 0.22 (n=5)"),
    ]
    assert rows[0]["USL accuracy (%)"] == "79.15 ± 0.78 (n=5)" and rows[0]["samples"] == "60000 ± 0 (n=5)"
    assert json.loads((tmp_path / "n100-s1" / "config.json").read_text())["neurons"] == 100


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (60000.0, "60000"),
        (0.7988, "0.7988"),
        (80.146, "80.15"),
        (1234.56, "1235"),
        (0.0, "0"),
        (2e-5, "2e-05"),
    ],
)
def test_format_number_keeps_four_significant_digits_without_exponents(value, text):
    assert format_number(value) == text


def test_format_summary_uses_the_means_decimals_and_shows_one_value_plainly():
    assert format_summary(Summary.of([0.8105, 0.7971]), 100) == "80.38 ± 0.95 (n=2)"
    assert format_summary(Summary.of([0.5]), 100) == "50.00"
    assert format_summary(None) == "" and Summary.of([]) is None
