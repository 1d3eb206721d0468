"""The pretrained zoo: a zoo built here from a tiny run (list, show, test/predict/plot --pretrained,
pretrained:NAME, every refusal), and every model that ships (its card's subset accuracy reproduced, the
manifest covering every file, the size budget)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from hybridsnn import cli
from hybridsnn.errors import UserError
from hybridsnn.pretrained import catalog
from hybridsnn.pretrained.build import add_to_zoo
from hybridsnn.registry import get_model
from hybridsnn.results import read_json_file
from tests.bad_input import assert_refused, case, params
from tests.conftest import require_dataset

SHIPPED = Path(catalog.__file__).parent
SIZE_BUDGET_MB = 60
#: Accuracy points a fixed-subset test may move on another machine (other float kernels can flip a few
#: borderline images; on the machine that wrote the card the number is the same to the last digit).
SUBSET_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, data_root) -> Path:
    """A zoo of one model, ``dsl-tiny``: DSL MNISTDNN trained on 300 images for one epoch."""
    require_dataset(data_root, "MNIST")
    base = tmp_path_factory.mktemp("zoo")
    common = ["--data-root", str(data_root), "--no-progress"]
    argv = ["train", "dsl", "--quick", "--train-subset", "300", "--test-subset", "100", "--output",
            str(base / "runs"), "--run-name", "tiny", *common]  # fmt: skip
    assert cli.main(argv) == 0
    saved = os.environ.get(catalog.ZOO_ENV)
    os.environ[catalog.ZOO_ENV] = str(base / "zoo")
    try:
        add_to_zoo(base / "runs" / "tiny", "dsl-tiny", protocol="a test's tiny model", command=" ".join(argv),
                   metric="test_accuracy", subset_args=["--test-subset", "50", "--data-root", str(data_root)],
                   test_set="100 MNIST test images", checkpoint="best", keep=("model/",))  # fmt: skip
    finally:
        os.environ.pop(catalog.ZOO_ENV) if saved is None else os.environ.__setitem__(catalog.ZOO_ENV, saved)
    return base / "zoo"


@pytest.fixture
def in_zoo(zoo, monkeypatch) -> Path:
    monkeypatch.setenv(catalog.ZOO_ENV, str(zoo))
    return zoo


def test_card_and_manifest_describe_the_copied_run(in_zoo):
    card = json.loads((in_zoo / "models" / "dsl-tiny" / "card.json").read_text())
    assert (card["model"], card["task"], card["dataset"], card["metric"]) == (
        "dsl", "classification", "MNIST", "test_accuracy")  # fmt: skip
    results = read_json_file(in_zoo / "models" / "dsl-tiny" / "results.json", "results")
    assert card["test_accuracy"] == results["metrics"]["test_accuracy"]
    assert card["git_commit"] == results["git_commit"] and card["seed"] == results["seed"]
    manifest = catalog.read_manifest(in_zoo)["dsl-tiny"]
    files = {p.relative_to(in_zoo / "models" / "dsl-tiny").as_posix()
             for p in (in_zoo / "models" / "dsl-tiny").rglob("*") if p.is_file()}  # fmt: skip
    assert set(manifest) == files == {"card.json", "config.json", "results.json", "metrics.jsonl",
                                      "checkpoints/best.safetensors"}  # fmt: skip
    assert catalog.sha256(in_zoo / "models" / "dsl-tiny" / "card.json") == manifest["card.json"]
    # only the model's tensors ship (no optimiser state), and no path of the training machine
    from hybridsnn.checkpoint import load_checkpoint

    tensors = load_checkpoint(in_zoo / "models" / "dsl-tiny" / card["checkpoint"]).tensors
    assert tensors and all(k.startswith("model/") for k in tensors)
    config = json.loads((in_zoo / "models" / "dsl-tiny" / "config.json").read_text())
    assert config["output"] == "runs" and not any(str(v).startswith("/") for v in config.values())


def test_list_and_show(in_zoo, capsys):
    assert cli.main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert "dsl-tiny" in out and "use: hybridsnn test dsl --task classification --pretrained dsl-tiny" in out
    assert cli.main(["pretrained", "list", "--model", "hp"]) == 0
    assert "dsl-tiny" not in capsys.readouterr().out
    assert cli.main(["pretrained", "show", "dsl-tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "dsl-tiny"


def test_test_with_pretrained_reproduces_the_card_and_equals_the_checkpoint_path(in_zoo, tmp_path):
    card = json.loads((in_zoo / "models" / "dsl-tiny" / "card.json").read_text())
    accuracies = []
    for how in (["--pretrained", "dsl-tiny"], ["--checkpoint", "pretrained:dsl-tiny"],
                ["--checkpoint", str(in_zoo / "models" / "dsl-tiny" / card["checkpoint"])]):  # fmt: skip
        name = f"t{len(accuracies)}"
        argv = ["test", "dsl", *how, *card["subset"]["args"], "--output", str(tmp_path), "--run-name", name,
                "--no-progress"]  # fmt: skip
        assert cli.main(argv) == 0
        results = read_json_file(tmp_path / name / "results.json", "results")
        accuracies.append(results["metrics"]["test_accuracy"])
    assert accuracies == [card["subset"]["accuracy"]] * 3
    assert json.loads((tmp_path / "t0" / "config.json").read_text())["pretrained"] == "dsl-tiny"


def test_predict_and_plot_with_pretrained(in_zoo, tmp_path, capsys):
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 10:18, 13:15] = 255  # a "1"
    np.save(tmp_path / "digits.npy", images)
    argv = ["predict", "dsl", "--pretrained", "dsl-tiny", "--input", str(tmp_path / "digits.npy"),
            "--output", str(tmp_path / "out"), "--run-name", "p", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    assert read_json_file(tmp_path / "out" / "p" / "results.json", "results")["samples"] == 2
    assert cli.main(["plot", "dsl", "--pretrained", "dsl-tiny", "--output", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "accuracy.png").is_file()
    assert not (in_zoo / "models" / "dsl-tiny" / "plots").exists()  # nothing written into the zoo


REFUSED = [
    case("test dsl --pretrained nope", "--pretrained 'nope' is not a shipped model (available: dsl-tiny"),
    case("test hp --pretrained dsl-tiny", "--pretrained 'dsl-tiny' is a dsl model, not hp"),
    case("test dsl --checkpoint pretrained:nope", "--checkpoint 'nope' is not a shipped model"),
    case("test sym-stdp --checkpoint pretrained:dsl-tiny", "'dsl-tiny' is a dsl model, not sym-stdp"),
    case("test dsl --pretrained dsl-tiny --checkpoint {tmp}/demo.safetensors",
         "--pretrained 'dsl-tiny' and --checkpoint"),
    case("plot dsl", "plot needs a RUN_DIR or --pretrained NAME"),
    case("plot dsl {tmp}/a_folder --pretrained dsl-tiny", "plot needs a RUN_DIR or --pretrained NAME"),
    case("pretrained show nope", "pretrained model 'nope' is not shipped (available: dsl-tiny)"),
    case("pretrained show", "pretrained show needs a model NAME"),
    case("pretrained list dsl-tiny", "pretrained list takes no NAME (got 'dsl-tiny')"),
]  # fmt: skip


@pytest.mark.parametrize("bad", params(REFUSED))
def test_bad_names_are_refused_in_one_line(bad, in_zoo, tmp_path, capsys):
    assert_refused(bad, tmp_path, capsys)


def _damaged_zoo(zoo: Path, tmp_path: Path, damage: str) -> Path:
    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    folder = copy / "models" / "dsl-tiny"
    if damage == "altered":
        with open(folder / "checkpoints" / "best.safetensors", "r+b") as handle:
            handle.seek(-4, os.SEEK_END)
            handle.write(b"\x00\x00\x80\x7f")  # the last float becomes inf: the bytes differ
    elif damage == "missing":
        (folder / "metrics.jsonl").unlink()
    elif damage == "foreign":
        shutil.copy(folder / "checkpoints" / "best.safetensors", folder / "checkpoints" / "other.safetensors")
    elif damage == "manifest":
        (copy / "manifest.json").write_text("{\"format\": \"hybridsnn-pretrained\"")
    return copy


@pytest.mark.parametrize("damage, fragment", [
    ("altered", "file 'checkpoints/best.safetensors' does not match its sha256 in the manifest"),
    ("missing", "file 'metrics.jsonl' is missing from"),
    ("foreign", "'checkpoints/other.safetensors' in"),
    ("manifest", "the pretrained manifest"),
])  # fmt: skip
@pytest.mark.parametrize("command", ["test dsl --pretrained dsl-tiny", "pretrained list"])
def test_damaged_zoo_files_are_refused(zoo, tmp_path, monkeypatch, capsys, damage, fragment, command):
    monkeypatch.setenv(catalog.ZOO_ENV, str(_damaged_zoo(zoo, tmp_path, damage)))
    assert_refused(case(command, fragment), tmp_path, capsys)


# -- the models that ship ---------------------------------------------------------------------------------

SHIPPED_MODELS = sorted(catalog.read_manifest(SHIPPED))


def test_the_shipped_zoo_is_within_budget_and_every_file_is_in_the_manifest():
    files = [p for p in (SHIPPED / catalog.MODELS_DIR).rglob("*") if p.is_file()]
    listed = {f"{name}/{rel}" for name, entries in catalog.read_manifest(SHIPPED).items() for rel in entries}
    assert {p.relative_to(SHIPPED / catalog.MODELS_DIR).as_posix() for p in files} == listed
    assert sum(p.stat().st_size for p in files) <= SIZE_BUDGET_MB * 2**20
    for entry in catalog.available(root=SHIPPED):  # every sha256 checked
        card = entry.card
        for key in ("protocol", "command", "git_commit", "dataset", "test_accuracy", "test_set", "seed",
                    "machine", "wall_time_s", "subset"):  # fmt: skip
            assert card.get(key) is not None, (entry.name, key)


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_model_reproduces_its_card_on_the_fixed_subset(name, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.ZOO_ENV, str(SHIPPED))
    monkeypatch.setenv("HYBRIDSNN_DATA", str(data_root))
    card = _card(name)
    flag = "--" + card.get("flag", "checkpoint").replace("_", "-")
    argv = ["test", card["model"], flag, f"pretrained:{name}", *card["subset"]["args"], "--output",
            str(tmp_path), "--run-name", "subset", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    value = read_json_file(tmp_path / "subset" / "results.json", "results")["metrics"][card["metric"]]
    assert abs(value - card["subset"]["accuracy"]) <= SUBSET_TOLERANCE, (value, card["subset"])


def _card(name: str) -> dict:
    return json.loads((SHIPPED / catalog.MODELS_DIR / name / catalog.CARD_FILE).read_text())


def _predictions(run: Path) -> list[int]:
    """The classes a predict run wrote (predictions.json, else the metrics of results.json)."""
    if (run / "predictions.json").is_file():
        written = read_json_file(run / "predictions.json", "predictions")
        return written["sl"] if "sl" in written else written["predictions"]  # sym-STDP: the SL read-out
    return read_json_file(run / "results.json", "results")["metrics"]["predictions"]


#: Shipped MNIST classifiers of the systems whose ``predict`` takes images.
IMAGE_CLASSIFIERS = [n for n in SHIPPED_MODELS
                     if _card(n)["model"] in ("sym-stdp", "dsl", "hp")
                     and _card(n)["dataset"].upper() == "MNIST"]  # fmt: skip


@pytest.mark.parametrize("name", IMAGE_CLASSIFIERS)
def test_shipped_classifier_predicts_digits_from_png_and_npy(name, data_root, tmp_path, monkeypatch):
    """``predict MODEL --pretrained NAME --input digit.png`` in a fresh checkout: no training, no dataset
    needed for the prediction itself (the digits here are MNIST test images, written as files first)."""
    from PIL import Image

    from hybridsnn.data import load_dataset

    monkeypatch.setenv(catalog.ZOO_ENV, str(SHIPPED))
    card = _card(name)
    digits = load_dataset("mnist", "test", root=data_root, limit=20)
    Image.fromarray(digits.x[0]).save(tmp_path / "digit.png")
    np.save(tmp_path / "digits.npy", digits.x)
    for run, source in (("png", "digit.png"), ("npy", "digits.npy")):
        argv = ["predict", card["model"], "--pretrained", name, "--input", str(tmp_path / source),
                "--output", str(tmp_path / "out"), "--run-name", run, "--no-progress"]  # fmt: skip
        assert cli.main(argv) == 0
    png, npy = (_predictions(tmp_path / "out" / run) for run in ("png", "npy"))
    assert len(png) == 1 and len(npy) == 20 and png[0] == npy[0]
    # every shipped classifier reaches >= 90 % on the test set; 20 fixed digits at >= 70 % leave room
    assert np.mean(np.array(npy) == digits.y) >= 0.7, (npy, digits.y.tolist())


def test_float16_rounding_is_the_nearest_half_and_leaves_integers():
    from hybridsnn.pretrained.precision import float16_bytes, overflows, rounded_to_float16

    tensors = {"w": np.array([1.0, 1 + 2**-12, 1 + 3 * 2**-12, 70000.0], np.float32), "n": np.arange(3)}
    rounded = rounded_to_float16(tensors)
    # float16 has 10 fraction bits: 1 + 2^-12 rounds to 1, 1 + 3·2^-12 to 1 + 2^-10; 70000 overflows to inf
    assert rounded["w"].dtype == np.float32 and rounded["w"][:3].tolist() == [1.0, 1.0, 1 + 2**-10]
    assert np.isinf(rounded["w"][3]) and overflows(tensors, rounded) == 1 and rounded["n"] is tensors["n"]
    assert float16_bytes(tensors) == 4 * 2 + 3 * 8


def test_float16_check_records_both_accuracies_in_the_card_and_keeps_the_manifest(in_zoo, data_root):
    from hybridsnn.pretrained.precision import float16_effect

    effect = float16_effect("dsl-tiny", ["--test-subset", "50", "--data-root", str(data_root)])
    card = _zoo_card(in_zoo)
    assert card["float16"] == effect and effect["float32_accuracy"] == card["subset"]["accuracy"]
    change = 100 * (effect["float16_accuracy"] - effect["float32_accuracy"])
    assert effect["change_points"] == pytest.approx(change, abs=1e-4) and effect["overflows"] == 0
    assert effect["float16_allowed"] == (abs(change) < 0.1)
    assert effect["tensor_bytes_float16"] * 2 == effect["tensor_bytes_float32"]  # DSL: float32 tensors only
    assert catalog.available(root=in_zoo)[0].card == card  # the manifest holds the new card's sha256


def _zoo_card(zoo: Path) -> dict:
    return json.loads((zoo / "models" / "dsl-tiny" / catalog.CARD_FILE).read_text())


def _without_task(args: list[str]) -> list[str]:
    """``args`` without a ``--task VALUE`` pair."""
    drop = {i for i, a in enumerate(args) if a == "--task"}
    return [a for i, a in enumerate(args) if i not in drop and i - 1 not in drop]


#: Shipped models whose task is not their system's default task (``--pretrained`` must supply it).
OTHER_TASK = [n for n in SHIPPED_MODELS if _card(n)["task"] != get_model(_card(n)["model"]).tasks[0]]


@pytest.mark.parametrize("name", OTHER_TASK)
def test_pretrained_supplies_its_task_when_none_is_given(name, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.ZOO_ENV, str(SHIPPED))
    monkeypatch.setenv("HYBRIDSNN_DATA", str(data_root))
    card = _card(name)
    argv = ["test", card["model"], "--pretrained", name, *_without_task(card["subset"]["args"]), "--output",
            str(tmp_path), "--run-name", "t", "--no-progress"]  # fmt: skip
    assert "--task" not in argv and cli.main(argv) == 0
    assert json.loads((tmp_path / "t" / "config.json").read_text())["task"] == card["task"]
    value = read_json_file(tmp_path / "t" / "results.json", "results")["metrics"][card["metric"]]
    assert abs(value - card["subset"]["accuracy"]) <= SUBSET_TOLERANCE


def test_a_failed_build_leaves_the_zoo_as_it_was(in_zoo, capsys):
    before = {p.relative_to(in_zoo): p.read_bytes() for p in in_zoo.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="failed"):  # the subset test refuses --test-subset 0
        add_to_zoo(in_zoo.parent / "runs" / "tiny", "dsl-tiny", protocol="p", command="c",
                   metric="test_accuracy", subset_args=["--test-subset", "0"], test_set="t",
                   checkpoint="best", keep=("model/",))  # fmt: skip
    assert "--test-subset" in capsys.readouterr().err
    after = {p.relative_to(in_zoo): p.read_bytes() for p in in_zoo.rglob("*") if p.is_file()}
    assert after == before and catalog.available(root=in_zoo)[0].name == "dsl-tiny"


def test_the_maintainer_tools_refuse_in_one_line(in_zoo, capsys):
    from hybridsnn.pretrained import build, precision

    assert precision.main(["nope"]) == 2
    assert build.main([str(in_zoo), "--name", "x", "--protocol", "p", "--command", "c", "--metric", "m",
                       "--test-set", "t"]) == 2  # fmt: skip
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("hybridsnn: error: ") for line in lines)
    assert "pretrained model 'nope' is not shipped (available: dsl-tiny)" in lines[0]
    assert "is not a run directory" in lines[1]
