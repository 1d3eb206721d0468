"""The bad-input matrix, Shifting Learning part: every flag of ``train|test|predict|plot shifting``, flags
the task or engine does not read, checkpoints with damaged metadata, tensors or sizes, the predict inputs of
every task (xor/iris feature files, images, spike trials, label files), resumed runs whose configuration or
last checkpoint is damaged, and damaged runs to plot.

Each case must end in exit 2 and one line ``hybridsnn: error: ...`` naming the bad value, with nothing
written (tests/bad_input.py); the cases every system shares are in tests/test_bad_input_shared.py. The
checkpoints are saved directly from freshly initialised layers; four tiny real training runs (about 5 s in
all) give the run folders that the resume and plot cases damage.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from bad_input import Case, assert_refused, case, damaged_run, params, scratch_files

from hybridsnn import cli
from hybridsnn.checkpoint import save_checkpoint
from hybridsnn.shifting.checkpoints import fresh_layers
from hybridsnn.shifting.settings import TASK_SETTINGS
from hybridsnn.shifting.training import layer_sizes, layer_tensors
from hybridsnn.sim import pygenn_available

# a warning would be a second line on stderr
pytestmark = pytest.mark.filterwarnings("error")

XOR = "{tmp}/xor.safetensors"
TRAIN = "train shifting --task"
PREDICT_XOR = f"predict shifting --task xor --checkpoint {XOR} --input"
PREDICT_SPIKES = "predict shifting --task spikes --checkpoint {tmp}/spikes.safetensors --input"
LABELS = f"{PREDICT_XOR} {{tmp}}/xor_two.npy --labels"

FLAGS = [
    case(f"{TRAIN} xor --lr-w nan", "argument --lr-w: 'nan' is not allowed; expected a finite number > 0"),
    case(f"{TRAIN} xor --lr-w inf", "argument --lr-w: 'inf' is not allowed"),
    case(f"{TRAIN} xor --lr-w 0", "argument --lr-w: '0' is not allowed"),
    case(f"{TRAIN} xor --lr-w-end -1", "argument --lr-w-end: '-1' is not allowed"),
    case(f"{TRAIN} xor --lr-p nan", "argument --lr-p: 'nan' is not allowed; expected a finite number >= 0"),
    case(f"{TRAIN} xor --lr-p -0.5", "argument --lr-p: '-0.5' is not allowed"),
    case(f"{TRAIN} xor --engine numba --dt nan", "argument --dt: 'nan' is not allowed; expected a finite "
         "number > 0 and <= 1"),
    case(f"{TRAIN} xor --engine numba --dt 0", "argument --dt: '0' is not allowed"),
    case(f"{TRAIN} xor --engine numba --dt 1.5", "argument --dt: '1.5' is not allowed"),
    case(f"{TRAIN} xor --engine numba --lanes 0", "argument --lanes: '0' is not allowed"),
    case(f"{TRAIN} xor --threads 0", "argument --threads: '0' is not allowed; expected a whole number >= 1"),
    case(f"{TRAIN} spikes --data-seed -1", "argument --data-seed: '-1' is not allowed"),
    case(f"{TRAIN} xor --epochs 0", "argument --epochs: '0' is not allowed"),
    case(f"{TRAIN} xor --epochs 2.5", "argument --epochs: '2.5' is not allowed"),
    case(f"{TRAIN} xor --batch-size 0", "argument --batch-size: '0' is not allowed"),
    case(f"{TRAIN} xor --hidden 0", "argument --hidden: '0' is not allowed"),
    case(f"{TRAIN} xor --runs 0", "argument --runs: '0' is not allowed"),
    case(f"{TRAIN} iris --folds 6", "argument --folds: '6' is not allowed; expected a whole number >= 1 and "
         "<= 5"),
    case(f"{TRAIN} iris --folds 0", "argument --folds: '0' is not allowed"),
    case(f"{TRAIN} mnist --train-size 0", "argument --train-size: '0' is not allowed"),
    case(f"{TRAIN} mnist --test-size -3", "argument --test-size: '-3' is not allowed"),
    case(f"{TRAIN} mnist --checkpoint-every 0", "argument --checkpoint-every: '0' is not allowed"),
    case(f"{TRAIN} mnist --encoding rainbow", "argument --encoding: invalid choice: 'rainbow'"),
    case(f"{TRAIN} xor --engine genn --backend opencl", "argument --backend: invalid choice: 'opencl'"),
    case(f"{TRAIN} xor --engine brian", "argument --engine: invalid choice: 'brian'"),
    case(f"test shifting --task xor --checkpoint {XOR} --data-seed 2", "unrecognized arguments: --data-seed"),
    case(f"test shifting --task xor --checkpoint {XOR} --epochs 3", "unrecognized arguments: --epochs 3"),
    case(f"predict shifting --task xor --checkpoint {XOR}", "the following arguments are required: --input"),
]  # fmt: skip
if not pygenn_available():  # with PyGeNN installed the genn engine is a valid choice
    FLAGS.append(case(f"{TRAIN} xor --engine genn", "--engine genn needs PyGeNN 5, which is not installed"))

NOT_READ = [
    case(f"{TRAIN} iris --runs 3", "--runs 3 does not apply to train --task iris (it is read by --task xor "
         "only)"),
    case(f"{TRAIN} xor --folds 2", "--folds 2 does not apply to train --task xor"),
    case(f"{TRAIN} xor --encoding grey", "--encoding grey does not apply to train --task xor"),
    case(f"{TRAIN} xor --data-seed 4", "--data-seed 4 does not apply to train --task xor"),
    case(f"{TRAIN} iris --train-size 5", "--train-size 5 does not apply to train --task iris"),
    case(f"{TRAIN} xor --checkpoint-every 2", "--checkpoint-every 2 does not apply to train --task xor"),
    case(f"test shifting --task xor --checkpoint {XOR} --test-size 3", "--test-size 3 does not apply to test "
         "--task xor"),
    case(f"{TRAIN} xor --test --checkpoint {XOR} --epochs 3", "--epochs 3 is a training flag; train shifting "
         "--test evaluates --checkpoint"),
    case(f"{TRAIN} xor --test --checkpoint {XOR} --lr-w 0.1", "--lr-w 0.1 is a training flag"),
    case(f"{TRAIN} xor --lanes 4", "--lanes 4 applies to the time-stepped engines"),
    case(f"{TRAIN} xor --dt 0.02", "--dt 0.02 applies to the time-stepped engines"),
    case(f"{TRAIN} xor --engine numba --device cuda", "--device cuda applies to --engine reference"),
    case(f"{TRAIN} xor --device gpu", "unknown device 'gpu'"),
    case(f"{TRAIN} xor --backend cuda", "--backend cuda is a GeNN backend; it applies to --engine genn only"),
    case(f"{TRAIN} spikes --engine numba", "the spikes task runs on --engine reference only"),
    case(f"{TRAIN} spikes --batch-size 4", "the spikes task trains online (batch size 1), got --batch-size"),
]  # fmt: skip


def _bad(task: str, name: str, fragment: str) -> Case:
    return case(f"test shifting --task {task} --checkpoint {{tmp}}/bad/{name}.safetensors", fragment)


CHECKPOINTS = [
    case(f"test shifting --task iris --checkpoint {XOR}", "was trained on task xor; pass --task xor"),
    case(f"{TRAIN} xor --hidden 5 --epochs 1 --checkpoint {XOR}",
         "holds a xor network of sizes [2, 8, 2], not xor [2, 5, 2]"),
    case(f"{TRAIN} iris --epochs 1 --checkpoint {XOR}", "holds a xor network of sizes [2, 8, 2], not iris"),
    _bad("xor", "no_task", "names the task None"),
    _bad("xor", "bad_task", "names the task 'cifar'"),
    _bad("xor", "no_steps", "the Adam steps None are not"),
    _bad("xor", "negative_steps", "the Adam steps [-1, 2]"),
    _bad("xor", "bool_steps", "the Adam steps [True, 2]"),
    _bad("xor", "no_layer", "lacks layer1.w"),
    _bad("xor", "etp_shape", "layer0.etp has shape (3,), expected (8,)"),
    _bad("xor", "int_weights", "layer0.w holds int32 values; expected floats"),
    _bad("xor", "three_inputs", "holds a network of sizes [3, 8, 2]; a xor network has 2 inputs and 2"),
    _bad("xor", "one_layer", "sizes [2, 8]"),
    _bad("xor", "unchained", "layer1.w has 7 inputs, but layer0 has 8 neurons"),
    _bad("iris", "iris_fold", "fold is 9; expected 0..4"),
    _bad("iris", "iris_seed", "holds seed -4; expected a seed"),
    _bad("mnist", "mnist_encoding", "holds encoding 'rainbow'; expected binary or grey"),
    _bad("spikes", "spikes_test_size", "holds test_size 0; expected a count >= 1"),
    case("predict shifting --task xor --checkpoint {tmp}/bad/no_layer.safetensors --input {tmp}/xor_two.npy",
         "lacks layer1.w"),
]  # fmt: skip

INPUTS = [
    case(f"{PREDICT_XOR} {{tmp}}/xor_nan.npy", "input '{tmp}/xor_nan.npy' holds 1 NaN or infinite value"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_inf.txt", "input '{tmp}/xor_inf.txt' holds 1 NaN or infinite value"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_empty.npy", "input '{tmp}/xor_empty.npy' is empty"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_empty.txt", "input '{tmp}/xor_empty.txt' is empty"),
    case(f"{PREDICT_XOR} {{tmp}}/object_images.npy", "'{tmp}/object_images.npy' is not readable as numbers"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_text.npy", "'{tmp}/xor_text.npy' holds values of dtype <U1"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_complex.npy", "holds values of dtype complex128"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_columns.npy", "holds shape (2, 3); expected rows of 2 features"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_3d.npy", "holds shape (2, 2, 2)"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_range.npy", "holds values 0..2; xor takes features in [0, 1]"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_ragged.txt", "'{tmp}/xor_ragged.txt' has rows of different lengths"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_words.txt", "'{tmp}/xor_words.txt' is not readable as numbers"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_binary.txt", "'{tmp}/xor_binary.txt' is not readable as numbers"),
    case(f"{PREDICT_XOR} {{tmp}}/a_file.npy", "'{tmp}/a_file.npy' is not readable as numbers"),
    case(f"{PREDICT_XOR} {{tmp}}/missing.txt", "input file '{tmp}/missing.txt' does not exist"),
    case(f"{PREDICT_XOR} {{tmp}}/a_folder", "input file '{tmp}/a_folder' is a folder"),
    case(f"{PREDICT_XOR} {{tmp}}/xor_two.npy {{tmp}}/xor_nan.npy", "input '{tmp}/xor_nan.npy' holds"),
    case("predict shifting --task iris --checkpoint {tmp}/iris.safetensors --input {tmp}/iris_negative.txt",
         "holds values -5.1..3.5; iris takes measurements in cm, 0..100"),
    case("predict shifting --task mnist --checkpoint {tmp}/mnist.safetensors --input {tmp}/nan_images.npy",
         "input '{tmp}/nan_images.npy' holds 1568 NaN or infinite values"),
    case("predict shifting --task mnist --checkpoint {tmp}/mnist.safetensors --input {tmp}/wrong_shape.npy",
         "holds shape (2, 27, 28)"),
    case(f"{LABELS} {{tmp}}/labels_fraction.txt", "labels file '{tmp}/labels_fraction.txt' holds fractional"),
    case(f"{LABELS} {{tmp}}/labels_range.npy", "holds labels 0..7; expected class numbers 0..1"),
    case(f"{LABELS} {{tmp}}/labels_negative.txt", "holds labels -1..1"),
    case(f"{LABELS} {{tmp}}/labels_one.txt", "holds 1 labels for 2 samples"),
    case(f"{LABELS} {{tmp}}/labels_nan.npy", "holds 1 NaN or infinite value"),
    case(f"{LABELS} {{tmp}}/labels_2d.npy", "holds shape (1, 2); expected one label per sample"),
    case(f"{LABELS} {{tmp}}/object_images.npy", "labels file '{tmp}/object_images.npy' is not a readable"),
    case(f"{LABELS} {{tmp}}/missing.npy", "labels file '{tmp}/missing.npy' does not exist"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_nan.npz", "'{tmp}/trial_nan.npz': times holds 1 NaN or infinite"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_no_afferents.npz", "no afferents array in it"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_range.npz", "afferents range 1..500; expected input indices"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_fraction.npz", "afferents hold fractional values"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_empty.npz", "times is empty"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_late.npz", "times range 0.2..1e+06 s; a trial lasts 0..10 s"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_lengths.npz", "must be vectors of one length"),
    case(f"{PREDICT_SPIKES} {{tmp}}/xor_two.npy", "'{tmp}/xor_two.npy' is not a spike trial"),
    case(f"{PREDICT_SPIKES} {{tmp}}/trial_object.npz", "is not a spike trial"),
]  # fmt: skip


def _resume(name: str, fragment: str, extra: str = "") -> Case:
    return case(f"train shifting --resume {{out}}/../runs/{name} {extra}".strip(), fragment)


#: Damaged copies of the trained runs: (task, changes of `last`'s metadata, of config.json, raw bytes).
RESUMED = {
    "xor_runs_done": ("xor", {"runs_done": 7}, None, None),
    "xor_successes": ("xor", {"successes": "x"}, None, None),
    "xor_task": ("xor", {"task": "iris"}, None, None),
    "iris_fold": ("iris", {"fold": 9}, None, None),
    "iris_done": ("iris", {"done": "yes"}, None, None),
    "iris_scores": ("iris", {"fold_test": []}, None, None),
    "iris_progress": ("iris", {"progress": {"epoch": 1}}, None, None),
    "iris_nan_loss": ("iris", {"progress": {"epoch": 1, "batch": 0, "seen": 0, "loss_sum": float("nan"),
                                            "correct": 0}}, None, None),
    "mnist_best": ("mnist", {"best": None}, None, None),
    "mnist_epoch": ("mnist", {"progress": {"epoch": 50, "batch": 0, "seen": 0, "loss_sum": 0.0,
                                           "correct": 0.0}}, None, None),
    "mnist_truncated": ("mnist", None, None, b"\x00" * 10),
    "mnist_config_lr": ("mnist", None, {"lr_w": float("nan")}, None),
    "mnist_config_encoding": ("mnist", None, {"encoding": "rainbow"}, None),
    "spikes_progress": ("spikes", {"progress": None}, None, None),
    "spikes_config_batch": ("spikes", None, {"batch_size": 3}, None),
    "spikes_config_hidden": ("spikes", None, {"hidden": 0}, None),
}  # fmt: skip
RESUME = [
    _resume("xor_runs_done", "runs_done is 7; this run needs a whole number 0..1"),
    _resume("xor_successes", "successes is 'x'"),
    _resume("xor_task", "a iris network has 4 inputs and 3 outputs"),
    _resume("iris_fold", "fold is 9; this run needs a whole number 0..1"),
    _resume("iris_done", "done is 'yes'; this run needs true or false"),
    _resume("iris_scores", "fold_test is []; this run needs one accuracy per finished fold (1)"),
    _resume("iris_progress", "; expected whole numbers epoch, batch, seen >= 0"),
    _resume("iris_nan_loss", "'loss_sum': nan"),
    _resume("mnist_best", "best is None; this run needs the best accuracy and its epoch"),
    _resume("mnist_epoch", "this run needs at most 1 epochs of 1 batches"),
    _resume("mnist_truncated", "last.safetensors' is not a readable safetensors file"),
    _resume("mnist_config_lr", "config.json holds --lr-w nan, which is not allowed"),
    _resume("mnist_config_encoding", "config.json holds --encoding 'rainbow'"),
    _resume("spikes_progress", "progress is None"),
    _resume("spikes_config_batch", "the spikes task trains online (batch size 1), got --batch-size 3"),
    _resume("spikes_config_hidden", "config.json holds --hidden 0"),
    _resume("mnist_truncated", "--hidden 20 differs from the run's stored 10", "--hidden 20"),
]

PLOTS = {
    "junk_outputs": "outputs.npz' is not a readable outputs file of a shifting run (not an .npz archive)",
    "outputs_shapes": "holds labels (3,) float64 and z_hat (2, 2)",
    "metrics_text": "holds accuracy 'high'; expected a number",
}
PLOT = [case(f"plot shifting {{out}}/../runs/plot_{name}", fragment) for name, fragment in PLOTS.items()]

CASES = FLAGS + NOT_READ + CHECKPOINTS + INPUTS + RESUME + PLOT


def _save(path, task: str, hidden: int, **changes) -> None:
    """A shifting checkpoint of freshly initialised layers; ``changes`` replace tensors (None: drop) or,
    under ``extra``/``config``, metadata."""
    base = TASK_SETTINGS[task]
    dtype = torch.float64 if task == "spikes" else torch.float32
    layers = fresh_layers((base.sizes[0], hidden, base.sizes[-1]), 0, dtype, torch.device("cpu"))
    tensors = {k: v.numpy() for k, v in layer_tensors(layers).items()}
    extra = {"task": task, "sizes": layer_sizes(layers), "steps": [0, 0], **changes.pop("extra", {})}
    config = {"seed": 0, "encoding": "binary", **changes.pop("config", {})}
    tensors = {k: v for k, v in {**tensors, **changes}.items() if v is not None}
    save_checkpoint(path, tensors, model="shifting", extra={k: v for k, v in extra.items() if v is not None},
                    config=config)  # fmt: skip


def _checkpoints(folder) -> None:
    _save(folder / "xor.safetensors", "xor", 8)
    _save(folder / "iris.safetensors", "iris", 10)
    _save(folder / "mnist.safetensors", "mnist", 10)
    _save(folder / "spikes.safetensors", "spikes", 10)
    bad = folder / "bad"
    bad.mkdir()
    _save(bad / "no_task.safetensors", "xor", 8, extra={"task": None})
    _save(bad / "bad_task.safetensors", "xor", 8, extra={"task": "cifar"})
    _save(bad / "no_steps.safetensors", "xor", 8, extra={"steps": None})
    _save(bad / "negative_steps.safetensors", "xor", 8, extra={"steps": [-1, 2]})
    _save(bad / "bool_steps.safetensors", "xor", 8, extra={"steps": [True, 2]})
    _save(bad / "no_layer.safetensors", "xor", 8, **{"layer1.w": None})
    _save(bad / "etp_shape.safetensors", "xor", 8, **{"layer0.etp": np.ones(3, np.float32)})
    _save(bad / "int_weights.safetensors", "xor", 8, **{"layer0.w": np.zeros((2, 8), np.int32)})
    wide = np.zeros((3, 8), np.float32)
    _save(
        bad / "three_inputs.safetensors",
        "xor",
        8,
        **{"layer0.w": wide, "layer0.m_w": wide, "layer0.v_w": wide},
    )
    _save(bad / "one_layer.safetensors", "xor", 8, extra={"steps": [0]})
    narrow = np.zeros((7, 2), np.float32)
    _save(bad / "unchained.safetensors", "xor", 8, **{"layer1.w": narrow, "layer1.m_w": narrow,
                                                      "layer1.v_w": narrow})  # fmt: skip
    _save(bad / "iris_fold.safetensors", "iris", 10, extra={"fold": 9})
    _save(bad / "iris_seed.safetensors", "iris", 10, config={"seed": -4})
    _save(bad / "mnist_encoding.safetensors", "mnist", 10, config={"encoding": "rainbow"})
    _save(bad / "spikes_test_size.safetensors", "spikes", 10, config={"test_size": 0})


def _inputs(folder) -> None:
    np.save(folder / "xor_two.npy", np.array([[0.01, 0.99], [0.99, 0.99]]))
    np.save(folder / "xor_nan.npy", np.array([[np.nan, 0.99]]))
    (folder / "xor_inf.txt").write_text("inf 0.99\n")
    np.save(folder / "xor_empty.npy", np.zeros((0, 2)))
    (folder / "xor_empty.txt").write_text("\n\n")
    np.save(folder / "xor_text.npy", np.array(["a", "b"]))
    np.save(folder / "xor_complex.npy", np.zeros((2, 2), complex))
    np.save(folder / "xor_columns.npy", np.zeros((2, 3)))
    np.save(folder / "xor_3d.npy", np.zeros((2, 2, 2)))
    np.save(folder / "xor_range.npy", np.array([[0.0, 2.0]]))
    (folder / "xor_ragged.txt").write_text("0.1 0.2\n0.3\n")
    (folder / "xor_words.txt").write_text("a b\n")
    (folder / "xor_binary.txt").write_bytes(b"\xff\xfe\x00\x01")
    (folder / "a_file.npy").write_text("text, not an .npy array\n")
    (folder / "iris_negative.txt").write_text("-5.1 3.5 1.4 0.2\n")
    (folder / "labels_fraction.txt").write_text("0.5\n1\n")
    np.save(folder / "labels_range.npy", np.array([0, 7]))
    (folder / "labels_negative.txt").write_text("-1\n1\n")
    (folder / "labels_one.txt").write_text("0\n")
    np.save(folder / "labels_nan.npy", np.array([np.nan, 1.0]))
    np.save(folder / "labels_2d.npy", np.array([[0, 1]]))
    trials = {
        "trial_nan": ([np.nan, 0.2], [1, 2]),
        "trial_range": ([0.1, 0.2], [1, 500]),
        "trial_fraction": ([0.1, 0.2], [1.5, 2.0]),
        "trial_empty": (np.zeros(0), np.zeros(0, int)),
        "trial_late": ([1e6, 0.2], [1, 2]),
        "trial_lengths": ([0.1, 0.2, 0.3], [1, 2]),
    }
    for name, (times, afferents) in trials.items():
        np.savez(folder / f"{name}.npz", times=np.asarray(times, float), afferents=np.asarray(afferents))
    np.savez(folder / "trial_no_afferents.npz", times=np.array([0.1, 0.2]))
    np.savez(folder / "trial_object.npz", times=np.array([None], dtype=object), afferents=np.array([1]))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The shared files plus shifting checkpoints (good and damaged) and predict inputs."""
    folder = scratch_files(tmp_path_factory.mktemp("bad-shifting"))
    _checkpoints(folder)
    _inputs(folder)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """Tiny real training runs of xor, iris (1 fold), mnist (50 images) and spikes (2 trials)."""
    out = tmp_path_factory.mktemp("shifting-trained")
    threads = torch.get_num_threads()
    common = ["--threads", "1", "--no-progress", "--device", "cpu", "--output", str(out), "--data-root",
              str(data_root)]  # fmt: skip
    tasks = {
        "xor": ["--epochs", "2"],
        "iris": ["--epochs", "2", "--folds", "1"],
        "mnist": ["--epochs", "1", "--train-size", "50", "--test-size", "20", "--hidden", "10"],
        "spikes": ["--epochs", "1", "--train-size", "2", "--test-size", "2", "--hidden", "10"],
    }
    try:
        for task, flags in tasks.items():
            assert cli.main(["train", "shifting", "--task", task, *flags, *common, "--run-name", task]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def _plot_run(base, target, damage: str) -> None:
    shutil.copytree(base, target)
    if damage == "junk_outputs":
        (target / "outputs.npz").write_text("junk")
    elif damage == "outputs_shapes":
        np.savez(target / "outputs.npz", labels=np.zeros(3), z_hat=np.zeros((2, 2)), split=np.array("x"))
    elif damage == "metrics_text":
        with open(target / "metrics.jsonl", "a") as log:
            log.write(json.dumps({"epoch": 1, "accuracy": "high", "split": "train"}) + "\n")


def test_matrix_has_enough_system_specific_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad: Case, tmp_path, capsys, scratch, data_root, request,
                                                   torch_one_thread):  # fmt: skip
    if "{out}/../runs/" in " ".join(bad.argv):  # a damaged copy of a trained run, made for this case
        trained = request.getfixturevalue("trained")
        name = next(a for a in bad.argv if "/runs/" in a).rsplit("/", 1)[1]
        runs = tmp_path / "runs"
        runs.mkdir()
        (tmp_path / "out").mkdir()  # empty, so that {out}/../runs resolves
        if name.startswith("plot_"):
            _plot_run(trained / "xor", runs / name, name.removeprefix("plot_"))
        else:
            task, extra, config, raw = RESUMED[name]
            damaged_run(trained / task, runs / name, extra=extra, config=config, raw=raw)
    assert_refused(bad, tmp_path, capsys, data=data_root, scratch=scratch)
