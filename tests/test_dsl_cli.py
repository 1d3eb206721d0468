"""`hybridsnn <command> dsl` and run_scripts/dsl.sh: seed-style flags, train/test/predict/plot round trips on
an MNIST subset, exact resume, and one-line errors for bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.data import load_dataset
from tests.conftest import REPO_ROOT, require_dataset

SCRIPT = REPO_ROOT / "run_scripts" / "dsl.sh"
SMALL = ["--train-subset", "300", "--test-subset", "200", "--batch-size", "50", "--threads", "1",
         "--no-progress", "--lr", "2e-3"]


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mnist(data_root: Path) -> Path:
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    return data_root


def train(out: Path, root: Path, name: str, *extra: str) -> Path:
    argv = ["train", "dsl", "--dataset", "MNIST", "--model", "MNISTDNN", "--output", str(out),
            "--data-root", str(root), "--run-name", name, *SMALL, *extra]
    assert cli.main(argv) == 0
    return out / name


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def script_commands(*args: str) -> list[str]:
    out = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_the_seed_readme_commands_parse_with_the_seed_flags():
    lines = script_commands("list")
    assert len(lines) == 18
    seen = set()
    for line in lines:
        _, name, program, *argv = shlex.split(line)
        assert program == "hybridsnn" and argv[:2] == ["train", "dsl"]
        args = cli.build_model_parser("hybridsnn", "train", "dsl").parse_args(argv[2:])
        assert f"{args.arch}-{args.learning_rule}" == name
        assert (args.tau, args.thresh, args.time_window, args.print_stats) == (1.0, 1.0, 10, True)
        assert args.seed == 1234 and args.batch_size == 100 and args.optimizer == "adam101"
        seen.add((args.dataset, args.arch))
    assert len(seen) == 6
    mnist_bell = cli.build_model_parser("hybridsnn", "train", "dsl").parse_args(shlex.split(lines[15])[5:])
    assert mnist_bell.lr_decay_milestones == [60, 120] and mnist_bell.lr_decay_fact == 0.2
    assert mnist_bell.epochs == 150 and mnist_bell.lr == 5e-4


def test_run_script_selects_by_name_or_number_and_passes_flags_on():
    (by_number,) = script_commands("16", "--print", "--quick", "--device", "cpu")
    (by_name,) = script_commands("mnistdnn-bell", "--print", "--test", "--checkpoint", "c.safetensors")
    assert "--learning-rule BELL" in by_number and by_number.endswith("--quick --device cpu")
    assert by_name.split("--run-name")[0] == by_number.split("--run-name")[0]
    assert by_name.endswith("--test --checkpoint c.safetensors")
    (default,) = script_commands("--print")
    assert "--model MNISTDNN --learning-rule ELL" in default
    bad = subprocess.run(["bash", str(SCRIPT), "19", "--print"], capture_output=True, text=True)
    assert bad.returncode == 2 and "not in 1..18" in bad.stderr


def test_train_test_predict_plot_round_trip(mnist, tmp_path, capsys):
    run = train(tmp_path / "out", mnist, "r", "--learning-rule", "ELL", "--epochs", "2")
    logged = records(run)
    assert [(r["epoch"], r["split"]) for r in logged] == [(1, "train"), (1, "test"), (2, "train"),
                                                          (2, "test")]
    assert all("layer1_accuracy" in r and "loss" in r for r in logged)
    results = json.loads((run / "results.json").read_text())
    assert results["model"] == "dsl" and results["dataset"] == "MNIST" and results["seed"] == 1234
    assert results["metrics"]["test_accuracy"] > 0.6  # chance is 0.1
    checkpoint = run / "checkpoints" / "last.safetensors"

    # the seed's --test mode and `hybridsnn test` reproduce the last epoch's test accuracy exactly
    for argv in (["train", "dsl", "--test"], ["test", "dsl"]):
        out = tmp_path / argv[0]
        assert cli.main([*argv, "--checkpoint", str(checkpoint), "--output", str(out), "--data-root",
                         str(mnist), "--test-subset", "200", "--no-progress"]) == 0
        (tested,) = [p for p in out.iterdir() if p.is_dir()]
        metrics = json.loads((tested / "results.json").read_text())["metrics"]
        assert metrics["test_accuracy"] == logged[-1]["accuracy"]

    # predict: the same classes as the final evaluation, from .npy and from a PNG
    confusion = json.loads((run / "confusion.json").read_text())
    images = load_dataset("mnist", "test", mnist).x[:12]
    np.save(tmp_path / "digits.npy", images)
    np.save(tmp_path / "labels.npy", np.asarray(confusion["labels"][:12]))
    capsys.readouterr()
    assert cli.main(["predict", "dsl", "--checkpoint", str(checkpoint), "--input",
                     str(tmp_path / "digits.npy"), "--labels", str(tmp_path / "labels.npy"),
                     "--output", str(tmp_path / "pred")]) == 0
    printed = [line.split("\t") for line in capsys.readouterr().out.splitlines() if "\t" in line]
    assert [int(label) for _, label in printed] == confusion["predictions"][:12]
    Image.fromarray(images[3]).save(tmp_path / "digit.png")
    assert cli.main(["predict", "dsl", "--checkpoint", str(checkpoint), "--input",
                     str(tmp_path / "digit.png"), "--output", str(tmp_path / "pred_png")]) == 0
    (png_run,) = list((tmp_path / "pred_png").iterdir())
    predicted = json.loads((png_run / "predictions.json").read_text())["predictions"]
    assert predicted == [confusion["predictions"][3]]

    assert cli.main(["plot", "dsl", str(run)]) == 0
    figures = {p.name for p in (run / "plots").iterdir()}
    assert figures == {"accuracy.png", "local_accuracies.png", "confusion.png"}


def test_resume_continues_exactly_and_checkpoint_starts_training(mnist, tmp_path, interrupt_at_checkpoint):
    whole = train(tmp_path / "a", mnist, "whole", "--learning-rule", "FELL", "--epochs", "2")
    interrupt_at_checkpoint(1)  # Ctrl-C right after the first epoch's checkpoint
    argv = ["train", "dsl", "--dataset", "MNIST", "--model", "MNISTDNN", "--data-root", str(mnist), *SMALL,
            "--learning-rule", "FELL", "--epochs", "2"]  # fmt: skip
    assert cli.main([*argv, "--output", str(tmp_path / "b"), "--run-name", "part"]) == 130
    part = tmp_path / "b" / "part"
    assert len(records(part)) < len(records(whole))
    assert cli.main(["train", "dsl", "--resume", str(part)]) == 0
    strip = [{k: v for k, v in r.items() if k not in ("time", "seconds")} for r in records(whole)]
    assert [{k: v for k, v in r.items() if k not in ("time", "seconds")} for r in records(part)] == strip
    # --checkpoint on train starts from the given weights: with a vanishing learning rate they end where
    # they began (a fresh start would be far away). The mechanism, not the outcome of two trainings.
    given = whole / "checkpoints" / "last.safetensors"
    started = train(tmp_path / "c", mnist, "started", "--learning-rule", "FELL", "--epochs", "1",
                    "--checkpoint", str(given), "--lr", "1e-12")  # fmt: skip
    before = load_checkpoint(given).tensors
    after = load_checkpoint(started / "checkpoints" / "last.safetensors").tensors
    weights = [name for name in before if name.startswith("model/")]
    assert weights
    for name in weights:
        np.testing.assert_allclose(after[name], before[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "CIFARCNN"], "CIFARCNN takes (3, 32, 32) images but MNIST"),
        (["--learning-rule", "SGD"], "invalid choice: 'SGD'"),
        (["--dataset", "ImageNet"], "unknown DSL dataset 'ImageNet'"),
        (["--time-window", "0"], "argument --time-window: '0' is not allowed; expected a whole number >= 1"),
        (["--fa", "--random-matrix"], "exclude each other"),
        (["--optimizer", "sgd"], "invalid choice: 'sgd'"),
        (["--lr", "-1"], "argument --lr: '-1' is not allowed; expected a finite number > 0"),
        (["--test"], "--test needs --checkpoint"),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, capsys, argv, message):
    try:
        status = cli.main(["train", "dsl", "--output", str(tmp_path), "--epochs", "1", *argv])
    except SystemExit as exc:  # argparse errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_checkpoints_and_inputs_give_one_line_errors(mnist, tmp_path, capsys):
    from hybridsnn.checkpoint import save_checkpoint

    foreign = save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2)}, model="sym-stdp")
    assert cli.main(["test", "dsl", "--checkpoint", str(foreign), "--output", str(tmp_path / "t")]) == 2
    assert "written by model 'sym-stdp', not 'dsl'" in capsys.readouterr().err
    run = train(tmp_path / "out", mnist, "r", "--epochs", "1", "--train-subset", "100")
    checkpoint = str(run / "checkpoints" / "last.safetensors")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 32, 32), np.uint8))
    np.save(tmp_path / "range.npy", np.full((28, 28), 3.0, np.float32))
    for name, message in (("wrong.npy", "expected (28, 28)"), ("range.npy", "must lie in [0, 1]"),
                          ("missing.npy", "does not exist")):
        assert cli.main(["predict", "dsl", "--checkpoint", checkpoint, "--input", str(tmp_path / name),
                         "--output", str(tmp_path / "p")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
