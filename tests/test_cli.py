"""The command line: dispatch, run directories, --test, errors with exit status 2."""

from __future__ import annotations

import json

import pytest

from hybridsnn import cli, registry
from hybridsnn.registry import ModelInfo


@pytest.fixture
def demo_model(monkeypatch):
    monkeypatch.setitem(
        registry.MODELS, "demo", ModelInfo("demo", "demo_driver", "test model", ("toy", "other"), "numpy")
    )
    return "demo"


def only_run(output):
    runs = sorted(p for p in output.iterdir() if p.is_dir())
    assert len(runs) == 1
    return runs[0]


def test_train_writes_run_directory_and_test_mode_evaluates(demo_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["train", "demo", "--output", str(out), "--epochs", "3", "--seed", "2"]) == 0
    run = only_run(out)
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 3 and config["task"] == "toy" and config["command"] == "train"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    ckpt = run / "checkpoints" / "last.safetensors"
    assert ckpt.is_file()
    assert "loss = 0.3333" in capsys.readouterr().out
    out2 = tmp_path / "out2"
    assert cli.main(["train", "demo", "--test", "--checkpoint", str(ckpt), "--output", str(out2)]) == 0
    result = json.loads((only_run(out2) / "results.json").read_text())
    assert result["command"] == "test" and result["metrics"]["weight_sum"] == pytest.approx(2 * (2 + 3))


def test_resume_continues_interrupted_run(demo_model, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("DEMO_STOP_AT", "1")
    assert cli.main(["train", "demo", "--output", str(out), "--epochs", "3", "--run-name", "r"]) == 130
    monkeypatch.delenv("DEMO_STOP_AT")
    assert cli.main(["train", "demo", "--resume", str(out / "r"), "--epochs", "3"]) == 0
    lines = (out / "r" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 1, 2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["train", "demo", "--task", "bogus"], "invalid choice: 'bogus'"),
        (["train", "demo", "--bogus-flag"], "unrecognized arguments: --bogus-flag"),
        (["train", "demo", "--test"], "--test needs --checkpoint"),
        (["test", "demo", "--checkpoint", "missing.safetensors"], "does not exist"),
        (["report", "no/such/dir"], "does not exist"),
        (["train"], "needs a MODEL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo_model, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_list_and_report(demo_model, tmp_path, capsys):
    assert cli.main(["list"]) == 0
    assert "demo" in capsys.readouterr().out
    out = tmp_path / "out"
    cli.main(["train", "demo", "--output", str(out)])
    capsys.readouterr()
    csv_file = tmp_path / "table.csv"
    assert cli.main(["report", str(out), "--csv", str(csv_file)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("## demo: toy\n\n| runs | status | loss |")
    assert "| 1 | completed | 0.5000 |" in table
    assert csv_file.read_text().splitlines()[1].split(",")[:3] == ["demo", "toy", "1"]


def test_help_explains_every_flag(demo_model, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "demo", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--output", "--seed", "--test", "--checkpoint", "--resume", "--quick", "--epochs", "--task"):
        assert flag in text


@pytest.mark.parametrize(("model", "seed"), [("dsl", 1234), ("hp", 111), ("shifting", 0)])
def test_seed_default_is_the_one_help_shows(model, seed, capsys):
    parser = cli.build_model_parser(f"hybridsnn train {model}", "train", model)
    assert parser.parse_args([]).seed == seed
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"0..2**32-1 (default: {seed}" in help_text
