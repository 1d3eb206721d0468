"""The bad-input matrix, sym-STDP part: every flag of ``train|test|predict|plot sym-stdp``, conflicting
flags, the original's text checkpoint folders (missing, truncated, NaN, wrong-sized files), project
checkpoints of the wrong types, shapes or ranges, predict inputs, resumed runs whose configuration or last
checkpoint is damaged, and damaged runs to plot.

Each case must end in exit 2 and one line ``hybridsnn: error: ...`` naming the bad value, with nothing
written (tests/bad_input.py); the cases every system shares are in tests/test_bad_input_shared.py. The
checkpoints are saved directly; one tiny real training run (20 samples, about 2 s) gives the run folders
that the resume and plot cases damage.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from bad_input import Case, assert_refused, case, damaged_run, params, scratch_files

from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.sim import pygenn_available
from hybridsnn.sym_stdp.textformat import export_text_checkpoint

# a warning would be a second line on stderr
pytestmark = pytest.mark.filterwarnings("error")

GOOD = "{tmp}/sym-100.safetensors"
PREDICT = f"predict sym-stdp --checkpoint {GOOD} --input"
TEST = "test sym-stdp --checkpoint"

FLAGS = [
    case("train sym-stdp --train-samples 0", "argument --train-samples: '0' is not allowed; expected a whole "
         "number >= 1"),
    case("train sym-stdp --test-samples -1", "argument --test-samples: '-1' is not allowed"),
    case("train sym-stdp --epochs 0", "argument --epochs: '0' is not allowed"),
    case("train sym-stdp --epochs 1.5", "argument --epochs: '1.5' is not allowed"),
    case("train sym-stdp --eval-every 0", "argument --eval-every: '0' is not allowed"),
    case("train sym-stdp --checkpoint-every nan", "argument --checkpoint-every: 'nan' is not allowed"),
    case("train sym-stdp --batch 0", "argument --batch: '0' is not allowed"),
    case("train sym-stdp --label-samples 0", "argument --label-samples: '0' is not allowed"),
    case("train sym-stdp --threads 0", "argument --threads: '0' is not allowed; expected a whole number"),
    case("train sym-stdp --threads inf", "argument --threads: 'inf' is not allowed"),
    case("train sym-stdp --neurons 500", "argument --neurons: invalid choice: 500"),
    case("train sym-stdp --neurons abc", "argument --neurons: invalid int value: 'abc'"),
    case("train sym-stdp --dataset cifar10", "argument --dataset: invalid choice: 'cifar10'"),
    case("train sym-stdp --dataset fashion-mnist --neurons 100 --data-root {data}",
         "allowed sizes for fashion-mnist: 400, 6400"),
    case("train sym-stdp --engine brian", "argument --engine: invalid choice: 'brian'"),
    case("train sym-stdp --backend opencl", "argument --backend: invalid choice: 'opencl'"),
    case("train sym-stdp --backend cuda", "--backend cuda is a GeNN backend; it applies to --engine genn"),
    case("train sym-stdp --genn-preference debug_code=true", "--genn-preference applies to --engine genn"),
    case("train sym-stdp --engine genn --genn-preference novalue", "--genn-preference 'novalue': expected "
         "KEY=VALUE"),
    case("test sym-stdp --checkpoint {tmp}/sym-100.safetensors --batch 0", "argument --batch: '0'"),
    case("test sym-stdp --checkpoint {tmp}/sym-100.safetensors --export-original {tmp}/x",
         "unrecognized arguments: --export-original"),
    case("predict sym-stdp --checkpoint {tmp}/sym-100.safetensors --input {tmp}/good.npy --test-samples 5",
         "unrecognized arguments: --test-samples 5"),
    case("predict sym-stdp --checkpoint {tmp}/sym-100.safetensors", "the following arguments are required: "
         "--input"),
]  # fmt: skip
FLAGS.append(case("train sym-stdp --independent-images", "unrecognized arguments: --independent-images"))
if not pygenn_available():  # with PyGeNN installed the genn engine is a valid choice
    FLAGS.append(case("train sym-stdp --engine genn", "--engine genn needs PyGeNN 5, which is not installed"))
else:
    FLAGS.append(case(f"{TEST} {GOOD} --engine genn --independent-images", "--independent-images needs "
                      "--engine numba, not 'genn'"))

CONFLICTS = [
    case(f"train sym-stdp --neurons 100 --fixed-hidden {GOOD} --checkpoint {GOOD}",
         "--fixed-hidden '{tmp}/sym-100.safetensors' and --checkpoint '{tmp}/sym-100.safetensors' both name"),
    case("train sym-stdp --export-original {tmp}/a_file.txt", "--export-original '{tmp}/a_file.txt' is a"),
    case("train sym-stdp --export-original {tmp}/a_file.txt/below", "cannot be created"),
    case(f"train sym-stdp --fixed-hidden {GOOD} --train-samples 5 --data-root {{data}}",
         "has 100 hidden neurons, not --neurons 400 (the default); pass --neurons 100"),
    case("train sym-stdp --checkpoint {tmp}/sym-fashion.safetensors --neurons 400 --train-samples 5 "
         "--data-root {data}",
         "was trained on fashion-mnist, not --dataset mnist"),
    case(f"train sym-stdp --test --checkpoint {GOOD} --export-original {{tmp}}/x",
         "--export-original {tmp}/x is a training flag; train sym-stdp --test evaluates --checkpoint"),
    case(f"train sym-stdp --test --checkpoint {GOOD} --epochs 3", "--epochs 3 is a training flag"),
    case(f"{TEST} {GOOD} --neurons 400", "has 100 hidden neurons, not --neurons 400"),
    case(f"{TEST} {GOOD} --dataset fashion-mnist", "trained on mnist, not --dataset fashion-mnist"),
]  # fmt: skip

TEXT = [
    case(f"{TEST} {{tmp}}/text/empty", "original checkpoint folder '{tmp}/text/empty' lacks gP2E and theta"),
    case(f"{TEST} {{tmp}}/text/no_theta", "lacks theta"),
    case(f"{TEST} {{tmp}}/text/no_gp2e", "lacks gP2E"),
    case(f"{TEST} {{tmp}}/text/no_ge2c", "has no E2C (output layer) weights to test"),
    case(f"{TEST} {{tmp}}/text/truncated", "'{tmp}/text/truncated/gP2E' holds 533 numbers; a 784x100 network "
         "needs 78400"),
    case(f"{TEST} {{tmp}}/text/nan_theta", "'{tmp}/text/nan_theta/theta' holds 1 NaN or infinite value"),
    case(f"{TEST} {{tmp}}/text/overflow", "'{tmp}/text/overflow/gE2C' holds 1 NaN or infinite value"),
    case(f"{TEST} {{tmp}}/text/small_theta", "theta holds 3 values, i.e. 3 hidden neurons"),
    case(f"{TEST} {{tmp}}/text/empty_theta", "'{tmp}/text/empty_theta/theta' holds no numbers"),
    case(f"{TEST} {{tmp}}/text/word", "'{tmp}/text/word/gE2C' holds a non-number"),
    case(f"{TEST} {{tmp}}/text/binary", "'{tmp}/text/binary/theta' is not readable text"),
    case(f"{TEST} {{tmp}}/text/theta_folder", "'{tmp}/text/theta_folder/theta' is a folder"),
    case(f"{TEST} {{tmp}}/text/negative", "p2e holds negative weights"),
    case("train sym-stdp --neurons 100 --fixed-hidden {tmp}/text/truncated --train-samples 5 "
         "--data-root {data}", "holds 533 numbers"),
]  # fmt: skip

CHECKPOINTS = [
    case(f"{TEST} {{tmp}}/bad/no_p2e.safetensors", "lacks p2e"),
    case(f"{TEST} {{tmp}}/bad/no_e2c.safetensors", "has no E2C (output layer) weights to test"),
    case(f"{TEST} {{tmp}}/bad/e2c_shape.safetensors", "e2c has shape (100, 9); a network of 100 hidden "
         "neurons needs (100, 10)"),
    case(f"{TEST} {{tmp}}/bad/theta_2d.safetensors", "theta has shape (100, 1)"),
    case(f"{TEST} {{tmp}}/bad/theta_0d.safetensors", "theta has shape ()"),
    case(f"{TEST} {{tmp}}/bad/seven.safetensors", "theta holds 7 values, i.e. 7 hidden neurons"),
    case(f"{TEST} {{tmp}}/bad/assign_float.safetensors", "assignments hold float32 values; expected integer"),
    case(f"{TEST} {{tmp}}/bad/assign_range.safetensors", "assignments range 12..12; expected classes -1"),
    case(f"{TEST} {{tmp}}/bad/assign_shape.safetensors", "assignments has shape (7,)"),
    case(f"{TEST} {{tmp}}/bad/p2e_int.safetensors", "p2e holds int64 values; expected floats"),
    case(f"{TEST} {{tmp}}/bad/p2e_negative.safetensors", "p2e holds negative weights (down to -1)"),
    case(f"{TEST} {{tmp}}/bad/meta_list.safetensors", "names the dataset [1, 2]"),
    case(f"{TEST} {{tmp}}/bad/meta_dataset.safetensors", "names the dataset 'cifar'"),
    case("predict sym-stdp --checkpoint {tmp}/bad/assign_range.safetensors --input {tmp}/good.npy",
         "assignments range 12..12"),
]  # fmt: skip

INPUTS = [
    case(f"{PREDICT} {{tmp}}/nan_images.npy", "input '{tmp}/nan_images.npy' holds 1568 NaN or infinite"),
    case(f"{PREDICT} {{tmp}}/inf_images.npy", "input '{tmp}/inf_images.npy' holds 784 NaN or infinite"),
    case(f"{PREDICT} {{tmp}}/empty_images.npy", "input '{tmp}/empty_images.npy' is empty"),
    case(f"{PREDICT} {{tmp}}/object_images.npy", "input '{tmp}/object_images.npy' is not a readable .npy"),
    case(f"{PREDICT} {{tmp}}/wrong_shape.npy", "holds shape (2, 27, 28); expected (28, 28)"),
    case(f"{PREDICT} {{tmp}}/not_an_image.png", "cannot read image '{tmp}/not_an_image.png'"),
    case(f"{PREDICT} {{tmp}}/bright.npy", "non-uint8 pixels must lie in [0, 1]"),
    case(f"{PREDICT} {{tmp}}/missing.npy", "input file '{tmp}/missing.npy' does not exist"),
    case(f"{PREDICT} {{tmp}}/a_folder", "input file '{tmp}/a_folder' is a folder"),
    case(f"{PREDICT} {{tmp}}/good.npy {{tmp}}/nan_images.npy", "input '{tmp}/nan_images.npy' holds"),
]  # fmt: skip

#: Damaged copies of the trained run (tensors and metadata of `last`, or the stored configuration).
RESUMED = {
    "truncated": {"raw": b"\x40\x00\x00\x00\x00\x00\x00\x00{\"p2e\""},
    "nan_theta": {"tensors": {"theta": np.full(100, np.nan, np.float32)}},
    "no_monitor": {"tensors": {"monitor.row_start": None}},
    "no_seen": {"tensors": {"seen": None}},
    "seen_shape": {"tensors": {"seen": np.zeros(3, np.uint8)}},
    "float_monitor": {"tensors": {"monitor.count": np.zeros(20, np.float32)}},
    "monitor_rows": {"tensors": {"monitor.row_start": np.zeros(7, np.int64)}},
    "monitor_neuron": {"tensors": {"monitor.row_start": np.r_[np.zeros(20, np.int64), 1],
                                   "monitor.neuron": np.array([100], np.int32),
                                   "monitor.count": np.array([3], np.uint16)}},
    "e2c_shape": {"tensors": {"e2c": np.zeros((100, 3), np.float32)}},
    "samples_text": {"extra": {"samples_seen": "ten"}},
    "samples_beyond": {"extra": {"samples_seen": 10**6}},
    "samples_negative": {"extra": {"samples_seen": -5}},
    "attempts_fraction": {"extra": {"attempts": 1.5}},
    "config_zero": {"config": {"train_samples": 0}},
    "config_text": {"config": {"epochs": "x"}},
    "config_nan_seed": {"config": {"seed": float("nan")}},
    "config_neurons": {"config": {"neurons": 7}},
    "config_export": {"config": {"export_original": "{tmp}/a_file.txt"}},
    "config_both": {"config": {"fixed_hidden": "{tmp}/sym-100.safetensors",
                               "checkpoint": "{tmp}/sym-100.safetensors"}},
}  # fmt: skip


def _resume(name: str, fragment: str, extra: str = "") -> Case:
    return case(f"train sym-stdp --resume {{out}}/../runs/{name} {extra}".strip(), fragment)


RESUME = [
    _resume("truncated", "last.safetensors' is not a readable safetensors"),
    _resume("nan_theta", "tensor 'theta' holds 100 NaN or infinite"),
    _resume("no_monitor", "lacks tensor 'monitor.row_start' (the train monitor)"),
    _resume("no_seen", "lacks tensor 'seen'"),
    _resume("seen_shape", "tensor 'seen' has shape (3,), the model expects (20,)"),
    _resume("float_monitor", "monitor.count holds float32 values of shape (20,); expected a row of counts"),
    _resume("monitor_rows", "the train monitor's rows do not fit 20 samples"),
    _resume("monitor_neuron", "the train monitor names neurons outside 0..99"),
    _resume("e2c_shape", "tensor 'e2c' has shape (100, 3)"),
    _resume("samples_text", "samples_seen is 'ten'; this run needs a whole number 0..20"),
    _resume("samples_beyond", "samples_seen is 1000000"),
    _resume("samples_negative", "samples_seen is -5"),
    _resume("attempts_fraction", "attempts is 1.5"),
    _resume("config_zero", "config.json holds --train-samples 0, which is not allowed"),
    _resume("config_text", "config.json holds --epochs 'x'"),
    _resume("config_nan_seed", "config.json holds --seed nan"),
    _resume("config_neurons", "config.json holds --neurons 7"),
    _resume("config_export", "--export-original '{tmp}/a_file.txt' is a file"),
    _resume("config_both", "both name the weights to start from"),
    _resume("truncated", "--neurons 400 differs from the run's stored 100", "--neurons 400"),
]

PLOTS = {
    "no_e2c": "has no E2C (output layer) weights to plot",
    "negative_snapshot": "samples-00000010.safetensors': p2e holds negative weights",
    "confusion": "the last evaluation's sl_confusion is not a 10x10 matrix",
    "broken_last": "last.safetensors' is not a readable safetensors file",
}
PLOT = [case(f"plot sym-stdp {{out}}/../runs/plot_{name}", fragment) for name, fragment in PLOTS.items()]

CASES = FLAGS + CONFLICTS + TEXT + CHECKPOINTS + INPUTS + RESUME + PLOT


def _weights(n_hidden: int = 100) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "p2e": rng.uniform(0, 0.3, (784, n_hidden)).astype(np.float32),
        "e2c": rng.uniform(0, 0.3, (n_hidden, 10)).astype(np.float32),
        "theta": np.full(n_hidden, 20.0, np.float32),
        "assignments": rng.integers(0, 10, n_hidden),
    }


def _text_folders(folder) -> None:
    weights = _weights()
    good = folder / "good"
    export_text_checkpoint(good, weights["p2e"], weights["e2c"], weights["theta"])

    def variant(name: str, **files: bytes | str | None) -> None:
        target = folder / name
        shutil.copytree(good, target)
        for file, content in files.items():
            if content is None:
                (target / file).unlink()
            elif content == "folder":
                (target / file).unlink()
                (target / file).mkdir()
            elif isinstance(content, bytes):
                (target / file).write_bytes(content)
            else:
                (target / file).write_text(content)

    (folder / "empty").mkdir()
    gp2e = (good / "gP2E").read_text()
    variant("no_theta", theta=None)
    variant("no_gp2e", gP2E=None)
    variant("no_ge2c", gE2C=None)
    variant("truncated", gP2E=" ".join(gp2e.split()[:533]))  # cut off mid-file
    variant("nan_theta", theta="nan " + " ".join(["20"] * 99))
    variant("overflow", gE2C="1e39 " + " ".join(["0.1"] * 999))
    variant("small_theta", theta="1 2 3")
    variant("empty_theta", theta="\n\n")
    variant("word", gE2C="abc " + " ".join(["0.1"] * 999))
    variant("binary", theta=b"\xff\xfe\x00\x01")
    variant("theta_folder", theta="folder")
    variant("negative", gP2E="-1 " + " ".join(["0.1"] * 78399))


def _bad_checkpoints(folder) -> None:
    folder.mkdir()
    good, extra = _weights(), {"sym_stdp": {"dataset": "mnist"}}

    def save(name: str, extra=extra, **changes) -> None:
        tensors = {k: v for k, v in {**good, **changes}.items() if v is not None}
        save_checkpoint(folder / f"{name}.safetensors", tensors, model="sym-stdp", extra=extra)

    save("no_p2e", p2e=None)
    save("no_e2c", e2c=None)
    save("e2c_shape", e2c=np.zeros((100, 9), np.float32))
    save("theta_2d", theta=np.zeros((100, 1), np.float32))
    save("theta_0d", theta=np.array(3.0, np.float32))
    save(
        "seven", p2e=np.zeros((784, 7), np.float32), theta=np.zeros(7, np.float32), e2c=None, assignments=None
    )
    save("assign_float", assignments=np.full(100, 0.5, np.float32))
    save("assign_range", assignments=np.full(100, 12))
    save("assign_shape", assignments=np.zeros(7, np.int64))
    save("p2e_int", p2e=np.zeros((784, 100), np.int64))
    save("p2e_negative", p2e=-np.ones((784, 100), np.float32))
    save("meta_list", extra={"sym_stdp": [1, 2]})
    save("meta_dataset", extra={"sym_stdp": {"dataset": "cifar"}})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The shared files plus sym-STDP checkpoints, original text folders and predict inputs."""
    folder = scratch_files(tmp_path_factory.mktemp("bad-sym-stdp"))
    save_checkpoint(folder / "sym-100.safetensors", _weights(), model="sym-stdp",
                    extra={"sym_stdp": {"dataset": "mnist"}})  # fmt: skip
    save_checkpoint(folder / "sym-fashion.safetensors", _weights(400), model="sym-stdp",
                    extra={"sym_stdp": {"dataset": "fashion-mnist"}})  # fmt: skip
    (folder / "text").mkdir()
    _text_folders(folder / "text")
    _bad_checkpoints(folder / "bad")
    np.save(folder / "good.npy", np.zeros((2, 28, 28), np.uint8))
    np.save(folder / "bright.npy", np.full((1, 28, 28), 3.0, np.float32))
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """A real 20-sample training run (checkpoints every 10 samples) for the resume and plot cases."""
    out = tmp_path_factory.mktemp("sym-trained")
    argv = ["train", "sym-stdp", "--neurons", "100", "--train-samples", "20", "--test-samples", "10",
            "--eval-every", "10", "--checkpoint-every", "10", "--output", str(out), "--run-name", "base",
            "--data-root", str(data_root), "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    return out / "base"


def _damaged_run(base, target, scratch, config=None, **damage) -> None:
    """:func:`bad_input.damaged_run` with ``{tmp}`` in config strings naming the scratch folder."""
    if config:
        config = {k: v.format(tmp=scratch) if isinstance(v, str) else v for k, v in config.items()}
    damaged_run(base, target, config=config, **damage)


def _plot_run(base, target, damage: str) -> None:
    shutil.copytree(base, target)
    checkpoints = target / "checkpoints"
    if damage == "no_e2c":
        ckpt = load_checkpoint(checkpoints / "final.safetensors")
        tensors = {k: v for k, v in ckpt.tensors.items() if k != "e2c"}
        save_checkpoint(checkpoints / "final.safetensors", tensors, model="sym-stdp", extra=ckpt.extra)
    elif damage == "negative_snapshot":
        ckpt = load_checkpoint(checkpoints / "samples-00000010.safetensors")
        tensors = {**ckpt.tensors, "p2e": -np.ones_like(ckpt.tensors["p2e"])}
        save_checkpoint(checkpoints / "samples-00000010.safetensors", tensors, model="sym-stdp",
                        extra=ckpt.extra)  # fmt: skip
    elif damage == "confusion":
        records = [json.loads(line) for line in (target / "metrics.jsonl").read_text().splitlines()]
        records[-1]["sl_confusion"] = [[1, 2]]
        (target / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    elif damage == "broken_last":
        (checkpoints / "last.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")


def test_matrix_has_enough_system_specific_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad: Case, tmp_path, capsys, scratch, data_root, request):
    if "{out}/../runs/" in " ".join(bad.argv):  # a damaged copy of the trained run, made for this case
        base = request.getfixturevalue("trained")
        name = next(a for a in bad.argv if "/runs/" in a).rsplit("/", 1)[1]
        runs = tmp_path / "runs"
        runs.mkdir()
        (tmp_path / "out").mkdir()  # empty, so that {out}/../runs resolves
        if name.startswith("plot_"):
            _plot_run(base, runs / name, name.removeprefix("plot_"))
        else:
            _damaged_run(base, runs / name, scratch, **RESUMED[name])
    assert_refused(bad, tmp_path, capsys, data=data_root, scratch=scratch)
