"""The bad-input matrix, DSL part: every flag of ``train|test|predict|plot dsl``, dataset/model/rule
combinations, DSL checkpoints with damaged settings or of another network, predict inputs and ``--labels``
files, resumed runs whose configuration or last checkpoint is damaged, and corrupt confusion files.

Each case must end in exit 2 and one line ``hybridsnn: error: ...`` naming the bad value, with nothing
written (tests/bad_input.py); the cases every system shares are in tests/test_bad_input_shared.py. The
checkpoints are saved directly from freshly built networks (no training), so the file runs in seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input import assert_refused, case, params, scratch_files

from hybridsnn.checkpoint import save_checkpoint
from hybridsnn.dsl.settings import DSLSettings
from hybridsnn.dsl.system import TASKS
from hybridsnn.spiking import checkpoint_payload

CKPT = "{tmp}/dsl.safetensors"
PREDICT = f"predict dsl --checkpoint {CKPT} --input"
GOOD = "{tmp}/good.npy"
LABELS = f"{PREDICT} {GOOD} --labels"

FLAGS = [
    case("train dsl --lr inf", "argument --lr: 'inf' is not allowed; expected a finite number > 0"),
    case("train dsl --lr nan", "argument --lr: 'nan' is not allowed"),
    case("train dsl --lr 0", "argument --lr: '0' is not allowed"),
    case("train dsl --lr-decay-fact 0", "argument --lr-decay-fact: '0' is not allowed"),
    case("train dsl --lr-decay-fact 1.5", "'1.5' is not allowed; expected a finite number > 0 and <= 1"),
    case("train dsl --lr-decay-milestones 0 100", "argument --lr-decay-milestones: '0' is not allowed"),
    case("train dsl --lr-decay-milestones x", "argument --lr-decay-milestones: 'x' is not allowed"),
    case("train dsl --epochs 0", "argument --epochs: '0' is not allowed; expected a whole number >= 1"),
    case("train dsl --batch-size 0", "argument --batch-size: '0' is not allowed"),
    case("train dsl --time-window 0", "argument --time-window: '0' is not allowed"),
    case("train dsl --time-window 2.5", "argument --time-window: '2.5' is not allowed"),
    case("train dsl --dim-in-decoder 0", "argument --dim-in-decoder: '0' is not allowed"),
    case("train dsl --tau nan", "argument --tau: 'nan' is not allowed"),
    case("train dsl --tau -1", "argument --tau: '-1' is not allowed"),
    case("train dsl --thresh 0", "argument --thresh: '0' is not allowed"),
    case("train dsl --thresh inf", "argument --thresh: 'inf' is not allowed"),
    case("train dsl --train-subset 0", "argument --train-subset: '0' is not allowed"),
    case("train dsl --test-subset -1", "argument --test-subset: '-1' is not allowed"),
    case("train dsl --threads 0", "argument --threads: '0' is not allowed"),
    case("train dsl --encoding latency --time-window 1", "--encoding latency needs --time-window >= 2"),
    case("train dsl --encoding rate", "argument --encoding: invalid choice: 'rate'"),
    case("train dsl --fa --random-matrix", "--fa and --random-matrix exclude each other"),
    case("train dsl --model LeNet", "unknown DSL model 'LeNet'"),
    case("train dsl --dataset ImageNet", "unknown DSL dataset 'ImageNet'"),
    case("train dsl --model CIFARCNN", "model CIFARCNN takes (3, 32, 32) images but MNIST has (1, 28, 28)"),
    case("train dsl --dataset SVHN", "model MNISTDNN takes (1, 28, 28) images but SVHN has (3, 32, 32)"),
    case("train dsl --learning-rule SGD", "argument --learning-rule: invalid choice: 'SGD'"),
    case("train dsl --optimizer sgd", "argument --optimizer: invalid choice: 'sgd'"),
    case("train dsl --device cuda:x", "unknown device 'cuda:x'"),
    case(f"test dsl --checkpoint {CKPT} --batch-size 0", "argument --batch-size: '0' is not allowed"),
    case(f"test dsl --checkpoint {CKPT} --test-subset 0", "argument --test-subset: '0' is not allowed"),
    case(f"test dsl --checkpoint {CKPT} --lr 0.1", "unrecognized arguments: --lr 0.1"),
    case(f"{PREDICT} {GOOD} --batch-size 0", "argument --batch-size: '0' is not allowed"),
    case(f"{PREDICT} {GOOD} --test-subset 5", "unrecognized arguments: --test-subset 5"),
    case(f"train dsl --test --checkpoint {CKPT} --epochs 3", "--epochs 3 is a training flag"),
    case(f"train dsl --test --checkpoint {CKPT} --fa", "--fa is a training flag"),
    case(f"train dsl --test --checkpoint {CKPT} --time-window 4", "--time-window 4 is a training flag"),
]  # fmt: skip

CHECKPOINTS = [
    case("train dsl --checkpoint {tmp}/dsl-hp.safetensors", "was written by model 'hp', not 'dsl'"),
    case(f"train dsl --checkpoint {CKPT} --model MNISTCNN", "does not fit 'model': Missing key(s)"),
    case(f"train dsl --checkpoint {CKPT} --fa", "does not fit 'model': Missing key(s) in state_dict"),
    case("train dsl --checkpoint {tmp}/dsl-tau-nan.safetensors", "holds --tau nan, which is not allowed"),
    case("test dsl --checkpoint {tmp}/dsl-arch-x.safetensors", "unknown DSL model 'xx'"),
    case("test dsl --checkpoint {tmp}/dsl-arch-cifar.safetensors", "model CIFARCNN takes (3, 32, 32) images"),
    case("test dsl --checkpoint {tmp}/dsl-window-str.safetensors", "holds --time-window 'ten'"),
    case("test dsl --checkpoint {tmp}/dsl-window-float.safetensors", "holds --time-window 2.5"),
    case("test dsl --checkpoint {tmp}/dsl-rule-x.safetensors", "holds --learning-rule 'xx'"),
    case("test dsl --checkpoint {tmp}/dsl-fa-str.safetensors", "holds --fa 'yes'"),
    case("test dsl --checkpoint {tmp}/dsl-fa-both.safetensors",
         "--fa and --random-matrix exclude each other"),
    case("test dsl --checkpoint {tmp}/dsl-latency-1.safetensors",
         "--encoding latency needs --time-window >= 2"),
    case("test dsl --checkpoint {tmp}/dsl-no-arch.safetensors", "lacks the DSL setting(s) arch"),
    case("test dsl --checkpoint {tmp}/dsl-fashiondnn.safetensors", "does not fit 'model': size mismatch"),
    case(f"predict dsl --checkpoint {{tmp}}/dsl-dataset-5.safetensors --input {GOOD}", "holds --dataset 5"),
]  # fmt: skip

INPUTS = [
    case(f"{PREDICT} {{tmp}}/nan_images.npy", "nan_images.npy' holds 1568 NaN or infinite values"),
    case(f"{PREDICT} {{tmp}}/empty_images.npy", "empty_images.npy' is empty"),
    case(f"{PREDICT} {{tmp}}/object_images.npy", "object_images.npy' is not a readable .npy array"),
    case(f"{PREDICT} {{tmp}}/not_an_image.png", "cannot read image"),
    case(f"{PREDICT} {{tmp}}/bright.npy", "non-uint8 pixels must lie in [0, 1], got 2..2"),
    case(f"{LABELS} {{tmp}}/lab-nan.npy", "lab-nan.npy' holds 1 NaN or infinite value"),
    case(f"{LABELS} {{tmp}}/lab-fraction.npy", "lab-fraction.npy' holds fractional values"),
    case(f"{LABELS} {{tmp}}/lab-negative.npy",
         "lab-negative.npy' holds labels -1..2; expected class numbers 0..9"),
    case(f"{LABELS} {{tmp}}/lab-ten.npy", "lab-ten.npy' holds labels 1..10; expected class numbers 0..9"),
    case(f"{LABELS} {{tmp}}/lab-count.npy", "lab-count.npy' holds 2 labels for 3 samples"),
    case(f"{LABELS} {{tmp}}/lab-2d.npy", "lab-2d.npy' holds shape (1, 3); expected one label per sample"),
    case(f"{LABELS} {{tmp}}/lab-str.npy", "lab-str.npy' holds values of dtype <U1"),
    case(f"{LABELS} {{tmp}}/lab-bool.npy", "lab-bool.npy' holds booleans"),
    case(f"{LABELS} {{tmp}}/lab-object.npy", "lab-object.npy' is not a readable .npy array"),
    case(f"{LABELS} {{tmp}}/lab-empty.npy", "lab-empty.npy' is empty"),
    case(f"{LABELS} {{tmp}}/a_file.txt", "a_file.txt' is not a text file of numbers"),
    case(f"{LABELS} {{tmp}}/lab-text.txt", "lab-text.txt' holds labels 1..12; expected class numbers 0..9"),
    case(f"{LABELS} {{tmp}}/a_folder", "a_folder' is a folder; expected a file"),
    case(f"{LABELS} {{tmp}}/missing.npy", "missing.npy' does not exist"),
    case(f"{LABELS} {{tmp}}/lab-truncated.npy", "lab-truncated.npy' is not a readable .npy array"),
]  # fmt: skip

RESUME = [
    case("train dsl --resume {tmp}/run-truncated", "last.safetensors' is not a readable safetensors file"),
    case("train dsl --resume {tmp}/run-seed", "was trained with seed 5, not 1234"),
    case("train dsl --resume {tmp}/run-step", "records epoch 1 and step -3"),
    case("train dsl --resume {tmp}/run-cnn", "does not fit 'model'"),
    case("train dsl --resume {tmp}/run-tau", "config.json holds --tau 'abc', which is not allowed"),
    case("train dsl --resume {tmp}/run-seed --lr 0.1", "--lr 0.1 differs from the run's stored 0.0005"),
    case("plot dsl {tmp}/run-confusion-garbage",
         "run-confusion-garbage/confusion.json' is unreadable or corrupt"),
    case("plot dsl {tmp}/run-confusion-range", "'labels' holds labels 0..12; expected class numbers 0..9"),
    case("plot dsl {tmp}/run-confusion-count", "'predictions' holds 1 labels for 2 samples"),
    case("plot dsl {tmp}/run-confusion-list", "holds a JSON list; expected a dict"),
]  # fmt: skip

CASES = FLAGS + CHECKPOINTS + INPUTS + RESUME
SETTINGS = {"dataset": "MNIST", "arch": "MNISTDNN", "learning_rule": "ELL", "tau": 1.0, "thresh": 1.0,
            "time_window": 10, "dim_in_decoder": 1024, "fa": False, "random_matrix": False,
            "encoding": "real", "seed": 1234}  # fmt: skip


def _save(path, built=None, *, model="dsl", stored=None, **extra):
    """The state of a network built from ``built`` (default: SETTINGS), stored with the config ``stored``."""
    built = {**SETTINGS, **(built or {})}
    tensors, payload = checkpoint_payload({"model": DSLSettings.from_config(built).build()}, **extra)
    save_checkpoint(path, tensors, model=model, config=stored if stored is not None else built, extra=payload)


def _run(folder, name, *, config=None, built=None, **last):
    """A training run interrupted after epoch 1 of 2, with its ``last`` checkpoint."""
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    stored = {"model": "dsl", "task": TASKS[0], "command": "train", "epochs": 2, "lr": 5e-4,
              **SETTINGS, **(config or {})}  # fmt: skip
    (run / "config.json").write_text(json.dumps(stored))
    (run / "status.json").write_text(json.dumps({"status": "interrupted"}))
    progress = {"epoch": 1, "step": 1, "seed": 1234, "best_value": 0.5, "best_epoch": 1, **last}
    _save(run / "checkpoints" / "last.safetensors", built, **progress)
    return run


def _confusion_run(folder, name, confusion):
    run = folder / name
    run.mkdir()
    config = {"model": "dsl", "task": TASKS[0], "command": "test"}
    (run / "config.json").write_text(json.dumps(config))
    (run / "confusion.json").write_text(confusion if isinstance(confusion, str) else json.dumps(confusion))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = scratch_files(tmp_path_factory.mktemp("bad-input-dsl"))
    _save(folder / "dsl.safetensors")
    _save(folder / "dsl-hp.safetensors", model="hp")
    for name, change in {
        "tau-nan": {"tau": float("nan")},
        "arch-x": {"arch": "xx"},
        "arch-cifar": {"arch": "CIFARCNN"},
        "window-str": {"time_window": "ten"},
        "window-float": {"time_window": 2.5},
        "rule-x": {"learning_rule": "xx"},
        "fa-str": {"fa": "yes"},
        "fa-both": {"fa": True, "random_matrix": True},
        "latency-1": {"encoding": "latency", "time_window": 1},
        "fashiondnn": {"arch": "FashionDNN"},
        "dataset-5": {"dataset": 5},
    }.items():
        _save(folder / f"dsl-{name}.safetensors", stored={**SETTINGS, **change})
    _save(folder / "dsl-no-arch.safetensors", stored={k: v for k, v in SETTINGS.items() if k != "arch"})
    np.save(folder / "good.npy", np.zeros((3, 28, 28), np.uint8))
    np.save(folder / "bright.npy", np.full((2, 28, 28), 2.0, np.float32))
    for name, labels in {
        "nan": [1.0, np.nan, 2.0], "fraction": [1.5, 2.0, 3.0], "negative": [-1, 2, 0], "ten": [10, 2, 1],
        "count": [1, 2], "2d": [[1, 2, 3]], "str": ["a", "b", "c"], "bool": [True, False, True],
        "empty": np.zeros(0, np.int64),
    }.items():  # fmt: skip
        np.save(folder / f"lab-{name}.npy", np.asarray(labels))
    np.save(folder / "lab-object.npy", np.array([1, None, 2], dtype=object), allow_pickle=True)
    (folder / "lab-truncated.npy").write_bytes((folder / "lab-ten.npy").read_bytes()[:60])
    (folder / "lab-text.txt").write_text("1\n2\n12\n")
    run = _run(folder, "run-truncated")
    last = run / "checkpoints" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:200])
    _run(folder, "run-seed", seed=5)
    _run(folder, "run-step", step=-3)
    _run(folder, "run-cnn", config={"arch": "MNISTCNN"})
    _run(folder, "run-tau", config={"tau": "abc"})
    _confusion_run(folder, "run-confusion-garbage", '{"labels": [1, 2')
    _confusion_run(folder, "run-confusion-range", {"dataset": "MNIST", "labels": [0, 12],
                                                   "predictions": [1, 2]})  # fmt: skip
    _confusion_run(folder, "run-confusion-count", {"dataset": "MNIST", "labels": [0, 1], "predictions": [1]})
    _confusion_run(folder, "run-confusion-list", "[1, 2]")
    return folder


def test_matrix_has_at_least_25_dsl_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad, tmp_path, capsys, scratch):
    assert_refused(bad, tmp_path, capsys, scratch=scratch)
