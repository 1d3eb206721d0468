"""Run directory, checkpoint format, atomic writes and the report table."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hybridsnn.atomic import atomic_path, write_json
from hybridsnn.checkpoint import (
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run, find_runs, format_csv, format_markdown, read_metrics, report_rows


def test_atomic_write_survives_exception(tmp_path):
    target = tmp_path / "state.json"
    write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"version": 2, "trunc')
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_checkpoint_round_trip(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    theta = np.full(4, 20.5, dtype=np.float32)
    path = save_checkpoint(
        tmp_path / "c.safetensors",
        {"w": w, "theta": theta},
        model="demo",
        config={"neurons": 4},
        extra={"samples_seen": 10},
    )
    ckpt = load_checkpoint(path, model="demo", expected_shapes={"w": (3, 4), "theta": (4,)})
    np.testing.assert_array_equal(ckpt.tensors["w"], w)
    np.testing.assert_array_equal(ckpt.tensors["theta"], theta)
    assert ckpt.tensors["w"].dtype == np.float32
    assert ckpt.config == {"neurons": 4}
    assert ckpt.extra == {"samples_seen": 10}


def test_checkpoint_refuses_other_model_and_shapes(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"w": np.zeros((3, 4), np.float32)}, model="demo")
    with pytest.raises(CheckpointError, match="model 'demo', not 'other'"):
        load_checkpoint(path, model="other")
    with pytest.raises(CheckpointError, match=r"shape \(3, 4\), the model expects \(4, 4\)"):
        load_checkpoint(path, expected_shapes={"w": (4, 4)})
    with pytest.raises(CheckpointError, match="lacks tensor 'theta'"):
        load_checkpoint(path, expected_shapes={"theta": (4,)})


def test_checkpoint_refuses_garbage_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(bad)
    from safetensors.numpy import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a hybridsnn checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    assert "\n" not in str(info.value)


def test_flatten_unflatten_nested_state():
    state = {
        "model": {"fc.weight": np.ones((2, 2)), "fc.bias": np.zeros(2)},
        "optim": {
            "state": {0: {"step": np.array(3.0), "exp_avg": np.ones(2)}},
            "param_groups": [{"lr": 0.1}],
        },
        "epoch": 4,
    }
    tensors, scalars = flatten_state(state)
    assert set(tensors) == {"model/fc.weight", "model/fc.bias", "optim/state/0/step", "optim/state/0/exp_avg"}
    assert scalars == {"optim/param_groups": [{"lr": 0.1}], "epoch": 4}
    back = unflatten_state(tensors, scalars)
    assert back["optim"]["state"][0]["exp_avg"].shape == (2,)
    assert back["epoch"] == 4 and back["optim"]["param_groups"] == [{"lr": 0.1}]
    assert set(unflatten_state(tensors, scalars, prefix="model/")) == {"fc.weight", "fc.bias"}


def test_run_directory_format_and_resume(tmp_path):
    run = Run.create(
        tmp_path, model="demo", task="toy", command="train", config={"seed": 3, "dataset": "xor"}
    )
    run.log_metrics(step=10, epoch=0.5, split="test", accuracy=0.75)
    run.save_checkpoint("last", {"w": np.ones(3, np.float32)}, extra={"step": 10})
    config = json.loads((run.path / "config.json").read_text())
    assert config == {"model": "demo", "task": "toy", "command": "train", "seed": 3, "dataset": "xor"}
    again = Run.resume(run.path)
    again.log_metrics(step=20, epoch=1.0, split="test", accuracy=0.875)
    records = read_metrics(run.path)
    assert [(r["step"], r["split"], r["accuracy"]) for r in records] == [
        (10, "test", 0.75),
        (20, "test", 0.875),
    ]
    assert again.load_checkpoint("last").extra == {"step": 10}
    results = again.finish({"accuracy": 0.875}, samples=100)
    stored = json.loads((run.path / "results.json").read_text())
    assert stored["metrics"] == {"accuracy": 0.875}
    assert stored["model"] == "demo" and stored["dataset"] == "xor" and stored["seed"] == 3
    assert stored["samples"] == 100 and stored["samples_per_s"] > 0
    assert "numpy" in stored["versions"] and results["status"] == "completed"
    with pytest.raises(UserError, match="already exists"):
        Run.create(tmp_path, model="demo", task="toy", command="train", config={}, name=run.path.name)
    with pytest.raises(UserError, match="not a run directory"):
        Run.resume(tmp_path / "nothing")


def test_report_table_over_runs(tmp_path):
    for acc, engine in ((0.5, "numba"), (0.25, "genn")):
        run = Run.create(
            tmp_path / "out", model="demo", task="toy", command="test", config={"engine": engine, "seed": 1}
        )
        run.finish({"accuracy": acc, "confusion": [[1, 0], [0, 1]]}, samples=4)
    runs = find_runs([tmp_path / "out"])
    assert len(runs) == 2
    columns, rows = report_rows(runs)
    assert "accuracy" in columns and "confusion" not in columns
    assert sorted(r["accuracy"] for r in rows) == [0.25, 0.5]
    markdown = format_markdown(columns, rows)
    assert markdown.count("\n") == 4 and "| numba |" in markdown.replace("|  |", "|")
    csv_text = format_csv(columns, rows)
    assert csv_text.splitlines()[0].startswith("run,model,task")
    with pytest.raises(UserError, match="does not exist"):
        find_runs([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"format_version": "2"}, "has format version '2'; this hybridsnn reads version 1"),
        ({"format_version": None}, "has format version None"),
        ({"format": "other-format"}, "is not a hybridsnn checkpoint"),
        ({"config": "[1, 2]"}, "metadata 'config' must be an object, not list"),
        ({"extra": "3"}, "metadata 'extra' must be an object, not int"),
        ({"extra": "{broken"}, "has corrupt metadata"),
    ],
)
def test_checkpoint_metadata_is_checked_field_by_field(tmp_path, metadata, message):
    from safetensors.numpy import save_file

    fields = {"format": "hybridsnn-checkpoint", "format_version": "1", "model": "demo", "config": "{}",
              "extra": "{}"}  # fmt: skip
    fields.update(metadata)
    path = tmp_path / "c.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path), metadata={k: v for k, v in fields.items() if v})
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_checkpoint(path, model="demo")
    fields.update({"format": "hybridsnn-checkpoint", "format_version": "1", "config": "{}", "extra": "{}"})
    save_file({"w": np.zeros(2, np.float32)}, str(path), metadata=fields)
    assert load_checkpoint(path, model="demo").model == "demo"  # the same file, repaired, loads


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_checkpoint_with_non_finite_values_is_refused(tmp_path, value):
    path = save_checkpoint(tmp_path / "c.safetensors", {"ok": np.ones(2, np.float32),
                           "w": np.array([0.5, value, value], np.float64)}, model="demo")  # fmt: skip
    with pytest.raises(CheckpointError, match=r"tensor 'w' holds 2 NaN or infinite value\(s\)"):
        load_checkpoint(path)
    ints = save_checkpoint(tmp_path / "i.safetensors", {"n": np.array([2**31 - 1], np.int32)}, model="demo")
    assert load_checkpoint(ints).tensors["n"][0] == 2**31 - 1


def test_checkpoint_stores_torch_tensors_and_strided_arrays_value_for_value(tmp_path):
    import torch

    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensors = {
        "strided": w.T,  # not C-contiguous: safetensors alone stores the raw buffer, [[0, 1], [2, 3], ...]
        "grad": torch.tensor([0.5, -1.25], requires_grad=True),
        "half": torch.tensor([1.5, -2.0, 0.25], dtype=torch.bfloat16),  # stored as float32
        "scalar": np.array(7.0),
    }
    path = save_checkpoint(tmp_path / "c.safetensors", tensors, model="demo")
    back = load_checkpoint(path).tensors
    assert back["strided"].tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert back["grad"].tolist() == [0.5, -1.25] and back["grad"].dtype == np.float32
    assert back["half"].tolist() == [1.5, -2.0, 0.25] and back["half"].dtype == np.float32
    assert back["scalar"].shape == () and back["scalar"] == 7.0


def test_checkpoint_metadata_is_json_of_sorted_keys_with_numpy_and_path_values(tmp_path):
    from pathlib import Path

    config = {"lr": np.float32(0.5), "n": np.int64(3), "data": Path("/x/y"), "sizes": (2, 8)}
    extra = {"seen": np.int32(10), "tags": {"b", "a"}}
    a = save_checkpoint(tmp_path / "a.safetensors", {"w": np.ones(2)}, model="m", config=config, extra=extra)
    ckpt = load_checkpoint(a)
    assert ckpt.config == {"lr": 0.5, "n": 3, "data": "/x/y", "sizes": [2, 8]}
    assert ckpt.extra == {"seen": 10, "tags": ["a", "b"]}
    backwards = {"config": dict(reversed(config.items())), "extra": dict(reversed(extra.items()))}
    reordered = save_checkpoint(tmp_path / "b.safetensors", {"w": np.ones(2)}, model="m", **backwards)
    from safetensors import safe_open

    texts = []
    for path in (a, reordered):
        with safe_open(str(path), framework="numpy") as handle:
            texts.append((handle.metadata()["config"], handle.metadata()["extra"]))
    sorted_text = ('{"data": "/x/y", "lr": 0.5, "n": 3, "sizes": [2, 8]}', '{"seen": 10, "tags": ["a", "b"]}')
    assert texts[0] == texts[1] == sorted_text  # the same text whatever the order


def test_checkpoint_without_config_or_extra_metadata_loads_empty_ones(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "c.safetensors"
    metadata = {"format": "hybridsnn-checkpoint", "format_version": "1", "model": "demo"}
    save_file({"w": np.zeros(2, np.float32)}, str(path), metadata=metadata)
    ckpt = load_checkpoint(path, model="demo")
    assert (ckpt.config, ckpt.extra, ckpt.model, ckpt.path) == ({}, {}, "demo", path)


def test_every_checkpoint_error_names_the_file(tmp_path):
    from safetensors.numpy import save_file

    good = save_checkpoint(tmp_path / "good.safetensors", {"w": np.zeros(2, np.float32)}, model="demo")
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    fields = {"format": "hybridsnn-checkpoint", "format_version": "1", "model": "demo"}
    for name, metadata in (
        ("foreign", {}),
        ("version", {**fields, "format_version": "2"}),
        ("corrupt", {**fields, "config": "{broken"}),
        ("listconfig", {**fields, "config": "[]"}),
    ):
        save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / f"{name}.safetensors"), metadata=metadata)
    nan = save_checkpoint(tmp_path / "nan.safetensors", {"w": np.full(2, np.nan, np.float32)}, model="demo")
    cases = [
        (tmp_path / "folder.safetensors", {}, "is a folder; expected a .safetensors file"),
        (tmp_path / "missing.safetensors", {}, "does not exist"),
        (tmp_path / "garbage.safetensors", {}, "is not a readable safetensors file"),
        (tmp_path / "foreign.safetensors", {}, "is not a hybridsnn checkpoint"),
        (tmp_path / "version.safetensors", {}, "has format version '2'"),
        (tmp_path / "corrupt.safetensors", {}, "has corrupt metadata"),
        (tmp_path / "listconfig.safetensors", {}, "metadata 'config' must be an object, not list"),
        (nan, {}, "tensor 'w' holds 2 NaN or infinite value(s)"),
        (good, {"model": "other"}, "was written by model 'demo', not 'other'"),
        (good, {"expected_shapes": {"w": (3,)}}, "tensor 'w' has shape (2,), the model expects (3,)"),
    ]
    for path, kwargs, message in cases:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path, **kwargs)
        assert str(info.value).startswith(f"checkpoint {str(path)!r}") and message in str(info.value), path


def test_flatten_keeps_empty_mappings_and_unflatten_takes_only_its_prefix():
    state = {"optim": {"state": {}, "param_groups": [{"lr": 0.1}]}, "model": {"w": np.ones(2)}}
    tensors, scalars = flatten_state(state)
    assert scalars == {"optim/state": {}, "optim/param_groups": [{"lr": 0.1}]}
    back = unflatten_state(tensors, scalars)
    assert back["optim"] == {"state": {}, "param_groups": [{"lr": 0.1}]}
    assert back["model"]["w"].tolist() == [1, 1]
    mixed = {"optim/m": np.zeros(1), "model/w": np.ones(2), "optim/x": np.ones(1), "model/b": np.ones(3)}
    assert sorted(unflatten_state(mixed, {}, prefix="model/")) == ["b", "w"]


def test_checkpoint_subtree_takes_one_prefix_and_strips_it(tmp_path):
    tensors = {"model/w": np.ones(2), "model/sub/b": np.zeros(1), "modelx/w": np.ones(3), "o/m": np.ones(1)}
    path = save_checkpoint(tmp_path / "c.safetensors", tensors, model="demo")
    ckpt = load_checkpoint(path)
    for prefix in ("model", "model/"):
        assert sorted(ckpt.subtree(prefix)) == ["sub/b", "w"] and ckpt.subtree(prefix)["w"].shape == (2,)
    assert ckpt.subtree("nothing") == {}
