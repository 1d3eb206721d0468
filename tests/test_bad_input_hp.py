"""The bad-input matrix, HP part: every flag of ``train|test|predict|plot hp``, flags the task or method
does not read, HP checkpoints of another task/method or with damaged settings, predict inputs, and resumed
runs whose configuration or last checkpoint is damaged.

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
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import HPSettings
from hybridsnn.spiking import checkpoint_payload

SIMPLE = "{tmp}/hp-simple.safetensors"
MULTITASK = "{tmp}/hp-multitask.safetensors"
FEWSHOT = "{tmp}/hp-fewshot.safetensors"
PREDICT = f"predict hp --checkpoint {SIMPLE} --input"
LABELLED = "{tmp}/good.npy"

FLAGS = [
    case("train hp --lr -1", "argument --lr: '-1' is not allowed; expected a finite number > 0"),
    case("train hp --lr nan", "argument --lr: 'nan' is not allowed"),
    case("train hp --local-lr inf", "argument --local-lr: 'inf' is not allowed"),
    case("train hp --epochs 0", "argument --epochs: '0' is not allowed; expected a whole number >= 1"),
    case("train hp --batch-size 0", "argument --batch-size: '0' is not allowed"),
    case("train hp --train-subset 0", "argument --train-subset: '0' is not allowed"),
    case("train hp --test-subset -5", "argument --test-subset: '-5' is not allowed"),
    case("train hp --threads 0", "argument --threads: '0' is not allowed"),
    case("train hp --noise-levels -1",
         "argument --noise-levels: '-1' is not allowed; expected a whole number >= 0"),
    case("train hp --noise-levels 101", "'101' is not allowed; expected a whole number >= 0 and <= 100"),
    case("train hp --noise-levels 2 2", "--noise-levels names 2 twice"),
    case("train hp --task tolerance --occlusion-levels 15",
         "argument --occlusion-levels: '15' is not allowed"),
    case("train hp --task tolerance --occlusion-levels 1 1", "--occlusion-levels names 1 twice"),
    case("train hp --noise pink", "argument --noise: invalid choice: 'pink'"),
    case("train hp --task multitask --sparsity 0",
         "argument --sparsity: '0' is not allowed; expected a finite number > 0"),
    case("train hp --task multitask --sparsity nan", "argument --sparsity: 'nan' is not allowed"),
    case("train hp --task multitask --sparsity 1.5",
         "'1.5' is not allowed; expected a finite number > 0 and <= 1"),
    case("train hp --task multitask --method ewc --ewc-lambda -1",
         "argument --ewc-lambda: '-1' is not allowed"),
    case("train hp --task multitask --meta-tasks -1", "argument --meta-tasks: '-1' is not allowed"),
    case("train hp --task multitask --hidden 0", "argument --hidden: '0' is not allowed"),
    case("train hp --task multitask --tasks 0", "argument --tasks: '0' is not allowed"),
    case("train hp --task fewshot --ways 1",
         "argument --ways: '1' is not allowed; expected a whole number >= 2"),
    case("train hp --task fewshot --shots 0", "argument --shots: '0' is not allowed"),
    case("train hp --task fewshot --iterations 0", "argument --iterations: '0' is not allowed"),
    case("train hp --task fewshot --eval-every 0", "argument --eval-every: '0' is not allowed"),
    case("train hp --task fewshot --test-episodes 0", "argument --test-episodes: '0' is not allowed"),
    case("train hp --task fewshot --omniglot-sets huge", "argument --omniglot-sets: invalid choice: 'huge'"),
    case("train hp --task tolerance --method lp", "--method 'lp' is not available for task tolerance"),
    case("train hp --task multitask --dataset cifar10", "task multitask runs on mnist or fashion-mnist"),
    case("train hp --task classification --dataset svhn", "unknown classification dataset 'svhn'"),
    case("train hp --device tpu", "unknown device 'tpu'"),
    case("test hp --checkpoint {tmp}/hp-simple.safetensors --batch-size 0", "argument --batch-size: '0'"),
    case("test hp --checkpoint {tmp}/hp-simple.safetensors --noise-levels x", "argument --noise-levels: 'x'"),
]  # fmt: skip

NOT_READ = [
    case("train hp --task simple --ways 3", "--ways 3 does not apply to train --task simple"),
    case("train hp --task simple --tasks 3", "--tasks 3 does not apply to train --task simple"),
    case("train hp --task fewshot --epochs 2", "--epochs 2 does not apply to train --task fewshot"),
    case("train hp --task fewshot --dataset mnist", "--dataset mnist does not apply to train --task fewshot"),
    case("train hp --task classification --noise-levels 1", "--noise-levels 1 does not apply to train --task "
         "classification"),
    case("train hp --task simple --occlusion-levels 3",
         "--occlusion-levels 3 does not apply to train --task simple"),
    case("train hp --method gp --local-lr 0.1", "--local-lr 0.1 does not apply to train --method gp"),
    case("train hp --task multitask --ewc-lambda 10",
         "--ewc-lambda 10.0 does not apply to train --method hp"),
    case("train hp --task multitask --method gp --meta-tasks 3",
         "--meta-tasks 3 does not apply to train --method gp"),
    case("train hp --task classification --dataset fashion-mnist --local-lr 0.001",
         "--local-lr 0.001 does not apply to the Fashion-MNIST CNN"),
    case(f"test hp --checkpoint {SIMPLE} --test-episodes 5",
         "--test-episodes 5 does not apply to test --task simple"),
    case(f"test hp --task fewshot --checkpoint {FEWSHOT} --batch-size 4",
         "--batch-size 4 does not apply to test --task fewshot"),
    case(f"test hp --task multitask --checkpoint {MULTITASK} --noise salt",
         "--noise salt does not apply to test --task multitask"),
    case(f"train hp --test --checkpoint {SIMPLE} --epochs 3", "--epochs 3 is a training flag"),
    case(f"train hp --test --checkpoint {SIMPLE} --lr 0.1", "--lr 0.1 is a training flag"),
    case(f"{PREDICT} {LABELLED} --noise-levels 1", "unrecognized arguments: --noise-levels 1"),
    case(f"{PREDICT} {LABELLED} --batch-size 8", "unrecognized arguments: --batch-size 8"),
]  # fmt: skip

CHECKPOINTS = [
    case(f"test hp --task tolerance --checkpoint {SIMPLE}",
         "was trained for task 'simple', not --task tolerance"),
    case(f"test hp --checkpoint {SIMPLE} --method gp", "holds a 'hp' model, not --method gp"),
    case(f"train hp --checkpoint {SIMPLE} --method gp", "holds a 'hp' model, not --method gp"),
    case(f"train hp --task tolerance --checkpoint {SIMPLE}", "was trained for task 'simple'"),
    case(f"train hp --task multitask --checkpoint {MULTITASK}", "--task multitask always starts afresh"),
    case(f"train hp --task fewshot --checkpoint {FEWSHOT}", "--task fewshot always starts afresh"),
    case("test hp --checkpoint {tmp}/hp-dsl.safetensors", "was written by model 'dsl', not 'hp'"),
    case("test hp --checkpoint {tmp}/hp-method-x.safetensors", "holds method 'xx'; task simple has methods"),
    case("test hp --checkpoint {tmp}/hp-batch-str.safetensors",
         "holds --batch-size 'abc', which is not allowed"),
    case("test hp --checkpoint {tmp}/hp-no-task.safetensors", "lacks the HP setting(s) task"),
    case("test hp --checkpoint {tmp}/hp-dataset-cifar.safetensors", "holds an unusable dataset"),
    case("test hp --checkpoint {tmp}/hp-wrong-shape.safetensors", "does not fit 'model': Missing key(s)"),
    case("test hp --task multitask --checkpoint {tmp}/mt-no-hidden.safetensors",
         "lacks the HP setting(s) hidden"),
    case("test hp --task multitask --checkpoint {tmp}/mt-tasks-99.safetensors", "records 99 learned tasks"),
    case("test hp --task multitask --checkpoint {tmp}/mt-sparsity-nan.safetensors", "holds --sparsity nan"),
    case("test hp --task fewshot --checkpoint {tmp}/fs-seed-neg.safetensors", "holds --seed -1"),
    case("test hp --task fewshot --checkpoint {tmp}/fs-ways-3.safetensors", "does not fit 'model'"),
    case("predict hp --checkpoint {tmp}/hp-method-x.safetensors --input {tmp}/good.npy", "holds method 'xx'"),
]  # fmt: skip

INPUTS = [
    case(f"{PREDICT} {{tmp}}/nan_images.npy", "nan_images.npy' holds 1568 NaN or infinite values"),
    case(f"{PREDICT} {{tmp}}/inf_images.npy", "inf_images.npy' holds 784 NaN or infinite values"),
    case(f"{PREDICT} {{tmp}}/empty_images.npy", "empty_images.npy' is empty"),
    case(f"{PREDICT} {{tmp}}/object_images.npy", "object_images.npy' is not a readable .npy array"),
    case(f"{PREDICT} {{tmp}}/wrong_shape.npy", "wrong_shape.npy' holds shape (2, 27, 28); expected (28, 28)"),
    case(f"{PREDICT} {{tmp}}/not_an_image.png", "cannot read image"),
    case(f"{PREDICT} {{tmp}}/bright.npy", "non-uint8 pixels must lie in [0, 1], got 2..2"),
    case(f"{PREDICT} {{tmp}}/a_folder", "a_folder' is a folder; expected a file"),
    case(f"{PREDICT} {{tmp}}/missing.npy", "missing.npy' does not exist"),
    case(f"predict hp --task multitask --checkpoint {MULTITASK} --input {LABELLED}",
         "predict classifies single images; task multitask"),
    case("predict hp --checkpoint {tmp}/hp-simple.safetensors",
         "the following arguments are required: --input"),
]  # fmt: skip

RESUME = [
    case("train hp --resume {tmp}/run-truncated", "last.safetensors' is not a readable safetensors file"),
    case("train hp --resume {tmp}/run-seed", "was trained with seed 5, not 111"),
    case("train hp --resume {tmp}/run-epoch", "records epoch 'x' and step 1"),
    case("train hp --resume {tmp}/run-best", "records best value 'nan?'"),
    case("train hp --resume {tmp}/run-gp-state", "does not fit 'model'"),
    case("train hp --resume {tmp}/run-lr", "config.json holds --lr 'abc', which is not allowed"),
    case("train hp --resume {tmp}/run-multitask", "--resume works for the epoch-based tasks"),
    case("plot hp {tmp}/run-seed {tmp}/run-seed", "run-seed' twice"),
    case("plot hp {tmp}/run-bad-metrics", "holds a noise record with level 'x'"),
]  # fmt: skip

CASES = FLAGS + NOT_READ + CHECKPOINTS + INPUTS + RESUME
SIMPLE_SETTINGS = {"task": "simple", "method": "hp", "dataset": "mnist", "batch_size": 100, "seed": 111}
MULTITASK_SETTINGS = {"task": "multitask", "method": "hp", "dataset": "mnist", "batch_size": 100, "seed": 111,
                      "hidden": 8, "sparsity": 0.5, "tasks": 2}  # fmt: skip
FEWSHOT_SETTINGS = {"task": "fewshot", "method": "hp", "dataset": "omniglot", "batch_size": 1, "seed": 111,
                    "ways": 5, "shots": 1, "omniglot_sets": "small"}  # fmt: skip


def _network(settings):
    """A freshly built network of a checkpoint config's settings."""
    return build_network(HPSettings.from_config(settings))


def _save(path, settings, *, model="hp", config=None, **extra):
    tensors, stored = checkpoint_payload({"model": _network(settings)}, **extra)
    save_checkpoint(path, tensors, model=model, config={**settings, **(config or {})}, extra=stored)


def _save_as(path, built, stored):
    """The state of a network built from the settings ``built``, stored with the config ``stored``."""
    tensors, extra = checkpoint_payload({"model": _network(built)})
    save_checkpoint(path, tensors, model="hp", config=stored, extra=extra)


def _without(settings, key):
    return {k: v for k, v in settings.items() if k != key}


def _run(folder, name, *, config=None, last=None):
    """A training run of ``--task simple`` interrupted after epoch 1 of 2, with its ``last`` checkpoint."""
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    stored = {"model": "hp", "task": "simple", "command": "train", "seed": 111, "epochs": 2, **(config or {})}
    (run / "config.json").write_text(json.dumps(stored))
    (run / "status.json").write_text(json.dumps({"status": "interrupted"}))
    last = last or {}
    settings = {**SIMPLE_SETTINGS, **last.pop("settings", {})}
    progress = {"epoch": 1, "step": 1, "seed": 111, "best_value": 0.5, "best_epoch": 1, **last}
    _save(run / "checkpoints" / "last.safetensors", settings, **progress)
    return run


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = scratch_files(tmp_path_factory.mktemp("bad-input-hp"))
    _save(folder / "hp-simple.safetensors", SIMPLE_SETTINGS)
    _save(folder / "hp-multitask.safetensors", MULTITASK_SETTINGS, task=2)
    _save(folder / "hp-fewshot.safetensors", FEWSHOT_SETTINGS)
    _save(folder / "hp-dsl.safetensors", SIMPLE_SETTINGS, model="dsl")
    _save(folder / "hp-method-x.safetensors", SIMPLE_SETTINGS, config={"method": "xx"})
    _save(folder / "hp-batch-str.safetensors", SIMPLE_SETTINGS, config={"batch_size": "abc"})
    _save(folder / "hp-dataset-cifar.safetensors", SIMPLE_SETTINGS, config={"dataset": "cifar10"})
    _save_as(folder / "hp-no-task.safetensors", SIMPLE_SETTINGS, _without(SIMPLE_SETTINGS, "task"))
    _save_as(folder / "hp-wrong-shape.safetensors", MULTITASK_SETTINGS, SIMPLE_SETTINGS)
    _save_as(folder / "mt-no-hidden.safetensors", MULTITASK_SETTINGS, _without(MULTITASK_SETTINGS, "hidden"))
    _save(folder / "mt-tasks-99.safetensors", MULTITASK_SETTINGS, task=99)
    _save(folder / "mt-sparsity-nan.safetensors", MULTITASK_SETTINGS, config={"sparsity": float("nan")})
    _save(folder / "fs-seed-neg.safetensors", FEWSHOT_SETTINGS, config={"seed": -1})
    _save(folder / "fs-ways-3.safetensors", FEWSHOT_SETTINGS, config={"ways": 3})
    np.save(folder / "good.npy", np.zeros((3, 28, 28), np.uint8))
    np.save(folder / "bright.npy", np.full((2, 28, 28), 2.0, np.float32))
    run = _run(folder, "run-truncated")
    last = run / "checkpoints" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:200])
    _run(folder, "run-seed", last={"seed": 5})
    _run(folder, "run-epoch", last={"epoch": "x"})
    _run(folder, "run-best", last={"best_value": "nan?"})
    _run(folder, "run-gp-state", last={"settings": {"method": "gp"}})
    _run(folder, "run-lr", config={"lr": "abc"})
    _run(folder, "run-multitask", config={"task": "multitask"})
    run = _run(folder, "run-bad-metrics")
    (run / "metrics.jsonl").write_text(json.dumps({"split": "noise", "level": "x", "accuracy": 0.5}) + "\n")
    return folder


def test_matrix_has_at_least_25_hp_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad, tmp_path, capsys, scratch):
    assert_refused(bad, tmp_path, capsys, scratch=scratch)
