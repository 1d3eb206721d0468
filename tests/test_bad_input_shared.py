"""The bad-input matrix, part 1: flags, checkpoints, run folders and commands every system shares.

Each case must end in exit 2 and one line ``hybridsnn: error: ...`` naming the bad value, with nothing
written (tests/bad_input.py). The per-system parts (each system's own flags, data and inputs) are in
``tests/test_bad_input_<system>.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input import MODELS, Case, assert_refused, case, params, scratch_files
from safetensors.numpy import save_file

PREDICT_INPUT = {"sym-stdp": "--input {tmp}/wrong_shape.npy", "shifting": "--input {tmp}/wrong_shape.npy",
                 "hp": "--input {tmp}/wrong_shape.npy", "dsl": "--input {tmp}/wrong_shape.npy",
                 "hebbian": ""}  # fmt: skip


def _per_model(model: str) -> list[Case]:
    cases = [
        case(f"train {model} --seed -1", "argument --seed: '-1' is not allowed"),
        case(f"train {model} --seed 4294967296", "'4294967296' is not allowed"),
        case(f"train {model} --seed abc", "argument --seed: 'abc'"),
        case(f"train {model} --run-name ../escape", "argument --run-name: '../escape'"),
        case(f"train {model} --run-name /abs", "argument --run-name: '/abs'"),
        case(f"train {model} --output {{tmp}}/a_file.txt", "a_file.txt' is a file"),
        case(f"train {model} --output {{tmp}}/a_file.txt/below", "cannot be created"),
        case(f"train {model} --task bogus", "invalid choice: 'bogus'"),
        case(f"train {model} --no-such-flag", "unrecognized arguments: --no-such-flag"),
        case(f"train {model} --test", "--test needs --checkpoint"),
        case(f"train {model} --test --checkpoint {{tmp}}/demo.safetensors --resume {{tmp}}/a_folder",
             "cannot be combined with --resume"),
        case(f"train {model} --resume {{tmp}}/a_folder", "not a run directory"),
        case(f"train {model} --resume {{tmp}}/no_such_run", "not a run directory"),
        case(f"train {model} --resume {{tmp}}/demo_run", "is a run of model 'demo'"),
        case(f"train {model} --resume {{tmp}}/broken_run", "is unreadable or corrupt"),
        case(f"train {model} --resume {{tmp}}/list_run", "holds a JSON list"),
        case(f"test {model}", f"test {model} needs --checkpoint"),
        case(f"test {model} --checkpoint {{tmp}}/missing.safetensors", "missing.safetensors' does not exist"),
        case(f"test {model} --checkpoint {{tmp}}/garbage.safetensors", "not a readable safetensors file"),
        case(f"test {model} --checkpoint {{tmp}}/truncated.safetensors", "not a readable safetensors file"),
        case(f"test {model} --checkpoint {{tmp}}/foreign.safetensors", "is not a hybridsnn checkpoint"),
        case(f"test {model} --checkpoint {{tmp}}/demo.safetensors", "written by model 'demo'"),
        case(f"test {model} --checkpoint {{tmp}}/nan-{model}.safetensors", "holds 1 NaN or infinite value"),
        case(f"test {model} --checkpoint {{tmp}}/bad-meta-{model}.safetensors", "an object, not list"),
        case(f"predict {model} --checkpoint {{tmp}}/demo.safetensors {PREDICT_INPUT[model]}",
             "written by model 'demo'"),
        case(f"predict {model} --checkpoint {{tmp}}/nan-{model}.safetensors {PREDICT_INPUT[model]}",
             "NaN or infinite"),
        case(f"plot {model} {{tmp}}/a_folder", "is not a run directory"),
        case(f"plot {model} {{tmp}}/demo_run", "is a run of model 'demo'"),
        case(f"plot {model} {{tmp}}/broken_run", "is unreadable or corrupt"),
        case(f"plot {model} {{tmp}}/{model}_run --output {{tmp}}/a_file.txt", "a_file.txt' is a file"),
    ]
    if model == "hebbian":  # the memory tasks have no predict command
        cases = [Case(c.argv, "predict is not available") if c.argv[0] == "predict" else c for c in cases]
    if model != "sym-stdp":  # sym-STDP reads a folder as the original's text checkpoint (its own cases)
        cases.append(case(f"test {model} --checkpoint {{tmp}}/a_folder", "a_folder' is a folder"))
    return cases


OTHER = [
    case("train", "train needs a MODEL"),
    case("predict", "predict needs a MODEL"),
    case("train nosuchmodel", "unknown model 'nosuchmodel'"),
    case("test nosuchmodel --checkpoint x", "unknown model 'nosuchmodel'"),
    case("report {tmp}/no_such_folder", "no_such_folder' does not exist"),
    case("report {tmp} --csv {tmp}/a_folder", "a_folder' is a folder"),
    case("report {tmp} --csv {tmp}/a_file.txt/table.csv", "cannot be created"),
    case("report --format xml", "invalid choice: 'xml'"),
    case("data list --data-root {tmp}/a_file.txt", "a_file.txt"),
    case("data check nosuchdataset", "unknown dataset 'nosuchdataset'"),
    case("data download nosuchdataset", "unknown dataset 'nosuchdataset'"),
    case("data frobnicate", "invalid choice: 'frobnicate'"),
    case("list extra", "unrecognized arguments: extra"),
    case("frobnicate", "invalid choice: 'frobnicate'"),
]

CASES = [c for model in MODELS for c in _per_model(model)] + OTHER


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The shared files, plus run folders of another model, of each model, and with corrupt configs."""
    folder = scratch_files(tmp_path_factory.mktemp("bad-input"))
    for name, model in [("demo_run", "demo"), *((f"{m}_run", m) for m in MODELS)]:
        (folder / name).mkdir()
        config = {"model": model, "task": "x", "command": "train"}
        (folder / name / "config.json").write_text(json.dumps(config))
    (folder / "broken_run").mkdir()
    (folder / "broken_run" / "config.json").write_text('{"model": "dsl", "tas')
    (folder / "list_run").mkdir()
    (folder / "list_run" / "config.json").write_text("[1, 2]")
    for model in MODELS:
        meta = {"format": "hybridsnn-checkpoint", "format_version": "1", "model": model, "config": "[1]",
                "extra": "{}"}  # fmt: skip
        save_file({"w": np.zeros(1, np.float32)}, str(folder / f"bad-meta-{model}.safetensors"),
                  metadata=meta)  # fmt: skip
    return folder


def test_matrix_has_at_least_the_shared_cases():
    assert len(CASES) >= 150


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad, tmp_path, capsys, scratch, data_root):
    assert_refused(bad, tmp_path, capsys, data=data_root, scratch=scratch)
