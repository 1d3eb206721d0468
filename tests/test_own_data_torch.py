"""``--dataset PATH`` for the torch systems DSL and HP (docs/own_data.md, «DSL and HP»).

The small synthetic datasets of ``tests/test_own_data.py`` (3 classes of 12x10 images, a .npz and a folder of
PNG files) go through ``train``, ``test --checkpoint`` and ``predict --checkpoint --input`` of DSL (MNISTDNN)
and HP (the ``simple`` and ``tolerance`` MLPs, the ``classification`` CNN) on the command line: the first
layer takes H·W·C inputs (the CNN: C channels, its first dense stage the pooled map) and the readouts K
classes, read back from the checkpoints; the checkpoints record the image shape and the classes,
which reach the results; every defect of a dataset, and every mismatch between a checkpoint and the data
or images it is given, is refused in one line naming the value. Mechanism only: the one-epoch trainings are
not asked to be accurate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_input import Case, assert_refused, case, params
from test_own_data import (
    BAD_DATASETS,
    CLASSES,
    HEIGHT,
    SHIFT_TRAIN,
    SYM_TRAIN,
    WIDTH,
    assert_printed_predictions,
    images,
    results,
    run,
    write_broken,
    write_folder,
    write_npz,
)

from hybridsnn.checkpoint import load_checkpoint, save_checkpoint

DSL_TRAIN = "--epochs 1 --batch-size 4"
HP_TRAIN = "--epochs 1 --batch-size 4 --noise-levels 0 1"
LAST = Path("checkpoints") / "last.safetensors"

pytestmark = pytest.mark.filterwarnings("error")  # a warning would be a second line on stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``good.npz``, ``good/`` (PNG folder), predict inputs and the broken datasets."""
    root = tmp_path_factory.mktemp("own_data_torch")
    write_npz(root / "good.npz")
    write_folder(root / "good")
    np.save(root / "right_size.npy", images(2)[0])
    np.save(root / "wrong_size.npy", images(2, WIDTH, HEIGHT)[0])  # 10x12: H and W swapped
    write_npz(root / "seven_rows.npz", x_train=images(9, 7, WIDTH)[0], x_test=images(6, 7, WIDTH)[0])
    for name, side in (("square", 16), ("small_square", 6)):
        write_npz(root / f"{name}.npz", x_train=images(9, side, side)[0], x_test=images(6, side, side)[0])
    np.save(root / "square.npy", images(2, 16, 16)[0])
    write_broken(root)
    return root


def damaged(final: Path, target: Path, **changes: object) -> Path:
    """A copy of checkpoint ``final`` at ``target`` with entries of its configuration's ``user_data``
    replaced."""
    ckpt = load_checkpoint(final)
    config = {**ckpt.config, "user_data": {**ckpt.config["user_data"], **changes}}
    return save_checkpoint(target, ckpt.tensors, model=ckpt.model, extra=ckpt.extra, config=config)


# -- refused datasets --------------------------------------------------------------------------------------
CASES = [case(f"train {model} --dataset {{tmp}}/{name} {flags}", fragment)
         for model, flags in (("dsl", DSL_TRAIN), ("hp", f"--task simple {HP_TRAIN}"))
         for name, fragment in BAD_DATASETS]  # fmt: skip
CASES += [
    case(f"train dsl --dataset {{tmp}}/good.npz --model MNISTCNN {DSL_TRAIN}",
         "model MNISTCNN takes square images (its local classifiers pool square maps) but --dataset "
         "{tmp}/good.npz holds 12x10x1 images; use MNISTDNN or FashionDNN"),
    case(f"train dsl --dataset {{tmp}}/small_square.npz --model MNISTCNN {DSL_TRAIN}",
         "model MNISTCNN cannot take --dataset {tmp}/small_square.npz: 6x6 images shrink to nothing by "
         "block 2"),
    case("train dsl --dataset cifar100", "unknown DSL dataset 'cifar100'"),
    case("train hp --task classification --dataset {tmp}/seven_rows.npz",
         "--dataset {tmp}/seven_rows.npz holds 7x10 images; the mnist CNN pools them 3 times (2x2) and takes "
         "images of at least 8x8 pixels"),
    case("train hp --task multitask --dataset {tmp}/good",
         "--dataset {tmp}/good (a user dataset) trains --task simple, tolerance or classification (networks "
         "sized by the images), not --task multitask"),
    case("train hp --task tolerance --dataset {tmp}/good.npz --occlusion-levels 0 6",
         "--occlusion-levels 6 does not fit the 12x10 images"),
]  # fmt: skip


@pytest.mark.parametrize("bad", params(CASES))
def test_bad_dataset_is_refused_in_one_line(bad: Case, data: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert_refused(bad, tmp_path, capsys, scratch=data)


# -- through the systems -----------------------------------------------------------------------------------
def classes_of(form: str) -> list[str]:
    """The class names of ``good.npz`` (none stored: 0, 1, 2) or of the folder ``good``."""
    return ["0", "1", "2"] if form.endswith(".npz") else list(CLASSES)


def other(form: str) -> str:
    """The other form: the same images under other class names."""
    return "good" if form.endswith(".npz") else "good.npz"


def user_data(dataset: str, form: str) -> dict:
    return {"path": dataset, "image_shape": [HEIGHT, WIDTH, 1], "classes": classes_of(form)}


@pytest.mark.parametrize("form", ["good.npz", "good"])
def test_dsl_sizes_its_network_by_the_data(form: str, data: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out, dataset, classes = tmp_path / "runs", str(data / form), classes_of(form)
    run(f"train dsl --dataset {dataset} {DSL_TRAIN} --no-progress --output {out} --run-name t", capsys)
    final = out / "t" / LAST
    ckpt = load_checkpoint(final)
    assert ckpt.tensors["model/blocks.0.encoder.weight"].shape == (800, HEIGHT * WIDTH)  # one input per pixel
    assert ckpt.tensors["model/blocks.0.decoder.weight"].shape == (3, 800)  # one output neuron per class
    assert ckpt.config["user_data"] == user_data(dataset, form)
    assert (results(out / "t")["dataset"], results(out / "t")["classes"]) == (dataset, classes)
    confusion = json.loads((out / "t" / "confusion.json").read_text())
    assert confusion["classes"] == 3 and set(confusion["labels"]) == {0, 1, 2}

    run(f"test dsl --checkpoint {final} --no-progress --output {out} --run-name e", capsys)
    tested = results(out / "e")
    assert (tested["dataset"], tested["classes"], tested["samples"]) == (dataset, classes, 6)

    dog = data / "good" / "test" / "dog" / "001.png"
    printed = run(f"predict dsl --checkpoint {final} --input {data}/right_size.npy --no-progress "
                  f"--output {out} --run-name p", capsys)  # fmt: skip
    predictions = json.loads((out / "p" / "predictions.json").read_text())
    assert predictions["classes"] == classes and len(predictions["predictions"]) == 2
    assert np.array(predictions["spike_counts"]).shape == (2, 3)
    assert_printed_predictions(printed, predictions["predictions"])
    run(f"predict dsl --checkpoint {final} --input {dog} --no-progress --output {out} --run-name png", capsys)
    assert len(json.loads((out / "png" / "predictions.json").read_text())["predictions"]) == 1

    shape = damaged(final, tmp_path / "shape.safetensors", image_shape=[12, 11, 1])
    flat = damaged(final, tmp_path / "flat.safetensors", image_shape=[12, 10])
    renamed = damaged(final, tmp_path / "renamed.safetensors", classes=["a", "b", "c"])
    one = damaged(final, tmp_path / "one.safetensors", classes=["a"])
    for bad in (
        case(f"test dsl --checkpoint {shape}", "does not fit 'model'"),  # 132 inputs for 120 weights
        case(f"test dsl --checkpoint {flat}", "user_data.image_shape is [12, 10]; expected [H, W, C]"),
        case(f"test dsl --checkpoint {one}", "user_data.classes is ['a']; expected at least 2 distinct"),
        case(f"test dsl --checkpoint {renamed}",
             f"was trained on the user dataset {dataset} (12x10x1 images, classes a, b, c); {dataset} now "
             f"holds 12x10x1 images, classes {', '.join(classes)}"),
        case(f"predict dsl --checkpoint {final} --input {data}/wrong_size.npy",
             "holds shape (2, 10, 12); expected (12, 10)"),
        case(f"train dsl --checkpoint {final} --dataset {data}/{other(form)} {DSL_TRAIN}",
             f"--checkpoint {final} was trained on the user dataset {dataset} (12x10x1 images, classes "
             f"{', '.join(classes)}), not on --dataset {data}/{other(form)}"),
        case(f"train dsl --checkpoint {final} {DSL_TRAIN}", "not on --dataset MNIST (a catalogued dataset)"),
    ):  # fmt: skip
        assert_refused(bad, tmp_path / "refused", capsys, scratch=data)


def test_dsl_cnn_sizes_its_blocks_by_square_images(data: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out, dataset = tmp_path / "runs", str(data / "square.npz")
    run(f"train dsl --dataset {dataset} --model MNISTCNN {DSL_TRAIN} --no-progress --output {out} "
        "--run-name t", capsys)  # fmt: skip
    final = out / "t" / LAST
    tensors = load_checkpoint(final).tensors
    # 16x16: conv5 -> 12x12 (12 channels: 1728 spikes > 1024, pooled 2x1 for the classifier: 12x6x12 = 864);
    # pool 6x6, conv5 -> 2x2 (64 x 2 x 2 = 256 <= 1024: not pooled)
    assert tensors["model/blocks.0.encoder.weight"].shape == (12, 1, 5, 5)
    assert tensors["model/blocks.0.decoder.weight"].shape == (3, 864)
    assert tensors["model/blocks.1.decoder.weight"].shape == (3, 256)
    run(f"test dsl --checkpoint {final} --no-progress --output {out} --run-name e", capsys)
    assert results(out / "e")["samples"] == 6
    run(f"predict dsl --checkpoint {final} --input {data}/square.npy --no-progress --output {out} "
        "--run-name p", capsys)  # fmt: skip
    assert len(json.loads((out / "p" / "predictions.json").read_text())["predictions"]) == 2


@pytest.mark.parametrize(("form", "task"), [("good.npz", "simple"), ("good", "tolerance")])
def test_hp_sizes_its_network_by_the_data(form: str, task: str, data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out, dataset, classes = tmp_path / "runs", str(data / form), classes_of(form)
    run(f"train hp --task {task} --dataset {dataset} {HP_TRAIN} --no-progress --output {out} --run-name t",
        capsys)  # fmt: skip
    final = out / "t" / LAST
    ckpt = load_checkpoint(final)
    assert ckpt.tensors["model/layers.0.fc.weight"].shape == (512, HEIGHT * WIDTH)
    assert ckpt.tensors["model/layers.1.fc.weight"].shape == (3, 512)
    assert ckpt.tensors["model/trace1"].shape == (512, 3)
    assert ckpt.config["user_data"] == user_data(dataset, form)
    trained = results(out / "t")
    assert (trained["dataset"], trained["classes"]) == (dataset, classes)
    occlusions = sorted(int(k[9:-9]) for k in trained["metrics"] if k.startswith("occlusion"))
    assert occlusions == ([] if task == "simple" else [0, 1, 2, 3, 4, 5])  # 2I x 2I squares that fit 12x10

    run(f"test hp --task {task} --checkpoint {final} --noise-levels 0 --no-progress --output {out} "
        "--run-name e", capsys)  # fmt: skip
    tested = results(out / "e")
    assert (tested["dataset"], tested["classes"], tested["samples"]) == (dataset, classes, 6)

    dog = data / "good" / "test" / "dog" / "001.png"
    printed = run(f"predict hp --task {task} --checkpoint {final} --input {dog} --no-progress --output {out} "
                  "--run-name p", capsys)  # fmt: skip
    predicted = results(out / "p")
    assert predicted["classes"] == classes and len(predicted["metrics"]["predictions"]) == 1
    assert 0 <= predicted["metrics"]["predictions"][0] < 3
    assert printed.splitlines()[0] == f"0\t{predicted['metrics']['predictions'][0]}"

    renamed = damaged(final, tmp_path / "renamed.safetensors", classes=["a", "b", "c"])
    four = damaged(final, tmp_path / "four.safetensors", classes=["a", "b", "c", "d"])
    for bad in (
        case(f"test hp --task {task} --checkpoint {renamed}", f"{dataset} now holds 12x10x1 images, classes"),
        case(f"test hp --task {task} --checkpoint {four}", "does not fit 'model'"),  # 4 outputs for 3 rows
        case(f"predict hp --task {task} --checkpoint {final} --input {data}/wrong_size.npy",
             "holds shape (2, 10, 12); expected (12, 10)"),
        case(f"train hp --task {task} --checkpoint {final} --dataset {data}/{other(form)} {HP_TRAIN}",
             f"not on --dataset {data}/{other(form)} (the user dataset"),
        case(f"train hp --task {task} --checkpoint {final} {HP_TRAIN}",
             "not on --dataset mnist (a catalogued dataset)"),
        case(f"test hp --task tolerance --checkpoint {final} --occlusion-levels 6",
             "--occlusion-levels 6 does not fit the 12x10 images" if task == "tolerance"
             else "was trained for task 'simple', not --task tolerance"),
    ):  # fmt: skip
        assert_refused(bad, tmp_path / "refused", capsys, scratch=data)


def test_hp_classification_sizes_the_mnist_cnn_by_the_data(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, dataset = tmp_path / "runs", str(data / "good.npz")
    run(f"train hp --task classification --dataset {dataset} --epochs 1 --batch-size 3 --no-progress "
        f"--output {out} --run-name t", capsys)  # fmt: skip
    final = out / "t" / LAST
    tensors = load_checkpoint(final).tensors
    assert tensors["model/convs.0.weight"].shape == (128, 1, 3, 3)  # one input channel (grey)
    # 12x10 pooled 3 times: 6x5, 3x2, 1x1 -> 256 channels x 1 x 1 into the plastic stage
    assert tensors["model/dense.0.fc.weight"].shape == (512, 256)
    assert tensors["model/trace"].shape == (256, 512)
    assert tensors["model/dense.1.fc.weight"].shape == (3, 512)  # one output per class
    assert results(out / "t")["classes"] == ["0", "1", "2"]

    run(f"test hp --task classification --checkpoint {final} --no-progress --output {out} --run-name e",
        capsys)  # fmt: skip
    assert (results(out / "e")["samples"], results(out / "e")["dataset"]) == (6, dataset)
    dog = data / "good" / "test" / "dog" / "001.png"
    printed = run(f"predict hp --task classification --checkpoint {final} --input {dog} --no-progress "
                  f"--output {out} --run-name p", capsys)  # fmt: skip
    prediction = results(out / "p")["metrics"]["predictions"]
    assert len(prediction) == 1 and 0 <= prediction[0] < 3
    assert printed.splitlines()[0] == f"0\t{prediction[0]}"
    wrong = case(f"predict hp --task classification --checkpoint {final} --input {data}/wrong_size.npy",
                 "holds shape (2, 10, 12); expected (12, 10)")  # fmt: skip
    assert_refused(wrong, tmp_path / "refused", capsys, scratch=data)


def test_colour_images_give_three_inputs_per_pixel(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    rgb, out = str(write_folder(tmp_path / "rgb", mode="RGB")), tmp_path / "runs"
    flags = f"--no-progress --output {out}"
    run(f"train dsl --dataset {rgb} {DSL_TRAIN} {flags} --run-name d", capsys)
    dsl = load_checkpoint(out / "d" / LAST)
    assert dsl.tensors["model/blocks.0.encoder.weight"].shape == (800, HEIGHT * WIDTH * 3)
    assert dsl.config["user_data"]["image_shape"] == [HEIGHT, WIDTH, 3]
    run(f"train hp --task simple --dataset {rgb} {HP_TRAIN} {flags} --run-name h", capsys)
    hp = load_checkpoint(out / "h" / LAST)
    assert hp.tensors["model/layers.0.fc.weight"].shape == (512, HEIGHT * WIDTH * 3)
    dog = Path(rgb) / "test" / "dog" / "001.png"
    final = out / "h" / LAST
    run(f"predict hp --task simple --checkpoint {final} --input {dog} {flags} --run-name p", capsys)
    assert results(out / "p")["classes"] == list(CLASSES)
    run(f"train hp --task classification --dataset {rgb} --epochs 1 --batch-size 3 {flags} --run-name c",
        capsys)  # fmt: skip
    assert load_checkpoint(out / "c" / LAST).tensors["model/convs.0.weight"].shape == (128, 3, 3, 3)


def interrupted(run_dir: Path) -> None:
    """Make a finished run look killed: its status still ``running`` for a process that is gone, no
    results (what a SIGKILL after the last checkpoint leaves)."""
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "status": "running", "pid": 2**22 + 1}))
    (run_dir / "results.json").unlink()


RESUMED = [
    ("sym-stdp", SYM_TRAIN),
    ("shifting", SHIFT_TRAIN),
    ("dsl", DSL_TRAIN),
    ("hp", f"--task simple {HP_TRAIN}"),
]


@pytest.mark.parametrize(("model", "flags"), RESUMED, ids=[m for m, _ in RESUMED])
def test_resume_refuses_a_dataset_whose_classes_changed(
    model: str, flags: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, out = write_npz(tmp_path / "data.npz"), tmp_path / "runs"
    run(f"train {model} --dataset {dataset} {flags} --no-progress --output {out} --run-name r", capsys)
    interrupted(out / "r")
    write_npz(dataset, classes=np.array(["a", "b", "c"]))  # the same images under other class names
    line = assert_refused(case(f"train {model} --resume {out / 'r'} --no-progress", "the run was trained on"),
                          tmp_path / "refused", capsys)  # fmt: skip
    assert line.startswith(f"hybridsnn: error: --resume {str(out / 'r')!r}: ") and "classes a, b, c" in line
    assert line.endswith("; restore that dataset or start a new run")
    write_npz(dataset)  # put the dataset back: the run resumes and completes
    run(f"train {model} --resume {out / 'r'} --no-progress", capsys)
    assert results(out / "r")["status"] == "completed"
