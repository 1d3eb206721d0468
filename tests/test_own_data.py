"""``--dataset PATH``: users' own image datasets (hybridsnn/data/user_dataset.py, docs/own_data.md).

A small synthetic dataset (3 classes of 12x10 images, non-square so an H/W swap shows) in both forms, a .npz
and a folder of PNG files, goes through the loader, then through ``train``, ``test --checkpoint`` and
``predict --checkpoint --input`` of sym-STDP and Shifting on the command line: the networks' input and output
sizes come from the data and are read back from the checkpoints, the class names reach the results, and
every defect of a dataset (and every mismatch between a checkpoint and the data it is given) is refused
with one line naming the value. Mechanism only: the tiny trainings are not asked to be accurate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_input import Case, assert_refused, case, params
from PIL import Image

from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.data import load_dataset
from hybridsnn.data.user_dataset import is_dataset_path

HEIGHT, WIDTH = 12, 10
CLASSES = ("cat", "dog", "owl")
SYM_TRAIN = "--neurons 100 --train-samples 6 --test-samples 3 --eval-every 6 --checkpoint-every 6 --batch 4"
SHIFT_TRAIN = "--task mnist --hidden 6 --epochs 1 --batch-size 4"

pytestmark = pytest.mark.filterwarnings("error")  # a warning would be a second line on stderr


def images(n: int, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images, class c lit in the c-th band of rows (labels 0, 1, 2, 0, ...)."""
    labels = np.arange(n) % len(CLASSES)
    x = np.zeros((n, height, width), np.uint8)
    band = height // len(CLASSES)
    for i, c in enumerate(labels):
        x[i, c * band : (c + 1) * band] = 255
    return x, labels


def write_npz(path: Path, **replace: np.ndarray) -> Path:
    """The 9 + 6 image dataset as a .npz, with some arrays replaced (a value None drops the array)."""
    (x_train, y_train), (x_test, y_test) = images(9), images(6)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test, **replace}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def write_folder(root: Path, n_train: int = 9, n_test: int = 6, mode: str = "L") -> Path:
    """The same images as ``train/<class>/*.png`` and ``test/<class>/*.png`` under ``root``."""
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = images(n)
        for i, (pixels, label) in enumerate(zip(x, y, strict=True)):
            folder = root / split / CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).convert(mode).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``good.npz``, ``good/`` (PNG folder), predict inputs and the broken datasets."""
    root = tmp_path_factory.mktemp("own_data")
    write_npz(root / "good.npz")
    write_folder(root / "good")
    np.save(root / "right_size.npy", images(2)[0])
    np.save(root / "wrong_size.npy", images(2, WIDTH, HEIGHT)[0])  # 10x12: H and W swapped
    write_broken(root)
    return root


def write_broken(root: Path) -> None:
    """One dataset per defect the loader refuses (see :data:`BAD_DATASETS`)."""
    x, y = images(9)
    write_npz(root / "no_x_test.npz", x_test=None)
    write_npz(root / "int64.npz", x_train=x.astype(np.int64))
    write_npz(root / "nan.npz", x_train=np.where(x > 0, np.nan, 0.0))
    write_npz(root / "above_one.npz", x_train=x / 127.5)
    write_npz(root / "negative_label.npz", y_train=y - 1)
    write_npz(root / "fractional.npz", y_train=y + 0.5)
    write_npz(root / "named_classes.npz", y_train=y + 1, classes=np.array(CLASSES))
    write_npz(root / "short_labels.npz", y_train=y[:5])
    write_npz(root / "empty_test.npz", x_test=np.zeros((0, HEIGHT, WIDTH), np.uint8), y_test=np.zeros(0, int))
    write_npz(root / "test_8x8.npz", x_test=images(6, 8, 8)[0])
    write_npz(root / "flat.npz", x_train=x.reshape(9, -1))
    write_npz(root / "rgb.npz", x_train=np.repeat(x[..., None], 3, 3),
              x_test=np.repeat(images(6)[0][..., None], 3, 3))  # fmt: skip
    (root / "text.npz").write_text("not an archive\n")
    write_folder(root / "corrupt")
    (root / "corrupt" / "train" / "dog" / "broken.png").write_bytes(b"plain text, not a PNG")
    write_folder(root / "classes_differ")
    (root / "classes_differ" / "test" / "cat").rename(root / "classes_differ" / "test" / "emu")
    write_folder(root / "no_test")
    for png in (root / "no_test" / "test").rglob("*.png"):
        png.unlink()
    for folder in sorted((root / "no_test" / "test").iterdir()):
        folder.rmdir()
    (root / "no_test" / "test").rmdir()
    write_folder(root / "mixed_sizes")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "mixed_sizes" / "train" / "owl" / "small.png")


# -- the loader ------------------------------------------------------------------------------------------
def test_both_forms_load_as_the_same_array_datasets(data: Path) -> None:
    from_npz = load_dataset(str(data / "good.npz"), "train")
    from_folder = load_dataset(str(data / "good"), "train")
    assert from_npz.x.shape == from_folder.x.shape == (9, HEIGHT, WIDTH)
    assert from_npz.x.dtype == from_folder.x.dtype == np.uint8
    assert from_npz.classes == ("0", "1", "2") and from_folder.classes == CLASSES
    # the folder's classes are interleaved (cat, dog, owl, cat, ...), as the generator wrote them
    np.testing.assert_array_equal(from_folder.y, from_npz.y)
    np.testing.assert_array_equal(from_folder.x, from_npz.x)
    test = load_dataset(str(data / "good"), "test", limit=4)
    assert len(test) == 4 and test.split == "test"


def test_float_single_channel_and_colour_images(tmp_path: Path) -> None:
    x, _ = images(9)
    floats = write_npz(tmp_path / "float.npz", x_train=(x / 255.0)[..., None],
                       x_test=(images(6)[0] / 255.0)[..., None])  # fmt: skip
    loaded = load_dataset(str(floats), "train")
    assert loaded.x.shape == (9, HEIGHT, WIDTH) and loaded.x.dtype == np.float32  # (N, H, W, 1) -> (N, H, W)
    colour = load_dataset(str(write_folder(tmp_path / "rgb", mode="RGB")), "test")
    assert colour.x.shape == (6, HEIGHT, WIDTH, 3)


def test_names_stay_catalogue_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").mkdir()  # a folder called mnist does not shadow the catalogued dataset
    assert not is_dataset_path("mnist", ("mnist", "fashion-mnist"))
    assert is_dataset_path("./mnist", ("mnist",)) and is_dataset_path("x.npz") and is_dataset_path("a/b")
    assert not is_dataset_path("cifar")


# -- refused datasets --------------------------------------------------------------------------------------
BAD_DATASETS = [
    ("missing.npz", "'{tmp}/missing.npz' does not exist"),
    ("no_x_test.npz", "lacks x_test; expected the arrays x_train, y_train, x_test, y_test"),
    ("int64.npz", "x_train holds int64 values; expected uint8 pixels 0..255 or floats in [0, 1]"),
    ("nan.npz", "x_train holds 360 NaN or infinite values"),  # 9 images, 4 lit rows of 10
    ("above_one.npz", "x_train holds values 0..2; float images must lie in [0, 1]"),
    ("negative_label.npz", "y_train holds labels -1..1; expected class numbers >= 0"),
    ("fractional.npz", "y_train holds fractional values"),
    ("named_classes.npz", "y_train holds labels 1..3; expected class numbers 0..2"),
    ("short_labels.npz", "y_train holds 5 labels for 9 samples"),
    ("empty_test.npz", "x_test is empty"),
    ("test_8x8.npz", "train images are 12x10 but test images 8x8"),
    ("flat.npz", "x_train has shape (9, 120); expected images (N, H, W) or (N, H, W, C)"),
    ("text.npz", "text.npz' is not a readable .npz archive"),
    ("corrupt", "cannot read image '{tmp}/corrupt/train/dog/broken.png'"),
    ("classes_differ", "class folders of train/ and test/ differ (only in train/: cat; only in test/: emu)"),
    ("no_test", "has no test/ folder"),
    ("mixed_sizes", "an image in train/owl/ is 8x8, one in train/cat/ 12x10"),
]
CASES = [case(f"train {model} --dataset {{tmp}}/{name} {flags}", fragment)
         for model, flags in (("sym-stdp", SYM_TRAIN), ("shifting", SHIFT_TRAIN))
         for name, fragment in BAD_DATASETS]  # fmt: skip
CASES += [
    case(
        f"train sym-stdp --dataset {{tmp}}/rgb.npz {SYM_TRAIN}",
        "12x10 images with 3 channels; sym-STDP takes one-channel (grey) images",
    ),
    case("train sym-stdp --dataset cifar10", "argument --dataset: invalid choice: 'cifar10'"),
    case("train shifting --task mnist --dataset mnist", "argument --dataset: invalid choice: 'mnist'"),
    case(
        "train shifting --task iris --dataset {tmp}/good.npz",
        "--dataset {tmp}/good.npz does not apply to train --task iris",
    ),
]


@pytest.mark.parametrize("bad", params(CASES))
def test_bad_dataset_is_refused_in_one_line(bad: Case, data: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert_refused(bad, tmp_path, capsys, scratch=data)


# -- through the systems -----------------------------------------------------------------------------------
def run(argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``hybridsnn <argv>`` in-process; its stdout (asserting exit 0)."""
    capsys.readouterr()
    assert cli.main(argv.split()) == 0, capsys.readouterr().err[-2000:]
    return capsys.readouterr().out


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def assert_printed_predictions(printed: str, predictions: list[int]) -> None:
    """``predict`` printed one ``index<TAB>class`` line per input, the classes of predictions.json."""
    rows = [line.split("\t") for line in printed.splitlines() if "\t" in line]
    assert rows == [[str(i), str(p)] for i, p in enumerate(predictions)]


def damaged(final: Path, target: Path, key: str, **changes: object) -> Path:
    """A copy of checkpoint ``final`` at ``target`` with entries of its metadata ``key`` replaced."""
    ckpt = load_checkpoint(final)
    extra = {**ckpt.extra, key: {**ckpt.extra[key], **changes}}
    return save_checkpoint(target, ckpt.tensors, model=ckpt.model, extra=extra, config=ckpt.config)


@pytest.mark.parametrize("form", ["good.npz", "good"])
def test_sym_stdp_sizes_its_network_by_the_data(form: str, data: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out, dataset = tmp_path / "runs", str(data / form)
    classes = ["0", "1", "2"] if form.endswith(".npz") else list(CLASSES)
    run(f"train sym-stdp --dataset {dataset} {SYM_TRAIN} --no-progress --output {out} --run-name t", capsys)
    final = out / "t" / "checkpoints" / "final.safetensors"
    ckpt = load_checkpoint(final)
    assert ckpt.tensors["p2e"].shape == (HEIGHT * WIDTH, 100)  # one Poisson input per pixel
    assert ckpt.tensors["e2c"].shape == (100, 3)  # one output neuron per class
    assert ckpt.tensors["assignments"].max() <= 2
    meta = ckpt.extra["sym_stdp"]
    assert (meta["dataset"], meta["input_shape"], meta["classes"]) == ("user", [HEIGHT, WIDTH], classes)
    assert results(out / "t")["classes"] == classes
    assert len(results(out / "t")["metrics"]["sl_confusion"]) == 3

    run(
        f"test sym-stdp --checkpoint {final} --test-samples 3 --no-progress --output {out} --run-name e",
        capsys,
    )
    tested = results(out / "e")
    assert (tested["dataset"], tested["classes"], tested["samples"]) == (dataset, classes, 3)

    printed = run(f"predict sym-stdp --checkpoint {final} --input {data}/right_size.npy --batch 2 "
                  f"--no-progress --output {out} --run-name p", capsys)  # fmt: skip
    predictions = json.loads((out / "p" / "predictions.json").read_text())
    assert predictions["classes"] == classes and len(predictions["sl"]) == 2
    assert all(0 <= p < 3 for p in predictions["sl"] + predictions["usl"])
    assert printed.split()[:2] == [str(p) for p in predictions["sl"]]
    assert np.array(predictions["output_counts"]).shape == (2, 3)

    drawn = run(f"plot sym-stdp {out / 't'} --output {tmp_path / 'plots'}", capsys).split()
    assert {Path(p).name for p in drawn} >= {"receptive_fields.png", "e2c_weights.png"}  # 12x10 tiles, K=3

    other = "good" if form.endswith(".npz") else "good.npz"  # same images, other class names
    shape = damaged(final, tmp_path / "shape.safetensors", "sym_stdp", input_shape=[12, "10"])
    names = damaged(final, tmp_path / "names.safetensors", "sym_stdp", classes=["a", "a", "b"])
    for bad in (
        case(f"test sym-stdp --checkpoint {shape}", "input_shape is [12, '10']; expected [H, W]"),
        case(f"test sym-stdp --checkpoint {names}",
             "classes is ['a', 'a', 'b']; expected a list of at least 2 distinct names"),
        case(f"predict sym-stdp --checkpoint {final} --input {data}/wrong_size.npy",
             "holds shape (2, 10, 12); expected (12, 10)"),
        case(f"test sym-stdp --checkpoint {final} --dataset {data}/{other}",
             f"--dataset {data}/{other} holds 12x10 images, classes"),
        case(f"test sym-stdp --checkpoint {final} --dataset {data}/rgb.npz", "3 channels; sym-STDP takes"),
        case(f"test sym-stdp --checkpoint {final} --dataset mnist", "not --dataset mnist"),
        case(f"train sym-stdp --fixed-hidden {final} --dataset {data}/{other} --neurons 100",
             f"--dataset {data}/{other} holds 12x10 images"),
    ):  # fmt: skip
        assert_refused(bad, tmp_path / "refused", capsys, scratch=data)


@pytest.mark.parametrize("form", ["good.npz", "good"])
def test_shifting_sizes_its_network_by_the_data(form: str, data: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out, dataset = tmp_path / "runs", str(data / form)
    classes = ["0", "1", "2"] if form.endswith(".npz") else list(CLASSES)
    run(f"train shifting --dataset {dataset} {SHIFT_TRAIN} --no-progress --output {out} --run-name t", capsys)
    final = out / "t" / "checkpoints" / "final.safetensors"
    ckpt = load_checkpoint(final)
    assert ckpt.extra["sizes"] == [HEIGHT * WIDTH, 6, 3]
    assert ckpt.tensors["layer0.w"].shape[0] == HEIGHT * WIDTH and ckpt.tensors["layer1.w"].shape[-1] == 3
    assert ckpt.extra["user_data"] == {"path": dataset, "image_shape": [HEIGHT, WIDTH, 1], "classes": classes}
    assert (results(out / "t")["dataset"], results(out / "t")["classes"]) == (dataset, classes)

    run(f"test shifting --task mnist --checkpoint {final} --no-progress --output {out} --run-name e", capsys)
    tested = results(out / "e")
    assert (tested["dataset"], tested["classes"], tested["samples"]) == (dataset, classes, 6)
    older = damaged(final, tmp_path / "older.safetensors", "user_data", image_shape=[HEIGHT, WIDTH])
    run(f"test shifting --task mnist --checkpoint {older} --no-progress --output {out} --run-name o", capsys)
    assert results(out / "o")["metrics"] == tested["metrics"]  # grey stored as [H, W] before: still read

    dog = data / "good" / "test" / "dog" / "001.png"
    printed = run(f"predict shifting --task mnist --checkpoint {final} --input {data}/right_size.npy {dog} "
                  f"--no-progress --output {out} --run-name p", capsys)  # fmt: skip
    predictions = json.loads((out / "p" / "predictions.json").read_text())
    assert predictions["classes"] == classes and len(predictions["predictions"]) == 3
    assert np.array(predictions["spike_times"]).shape == (3, 3)
    assert_printed_predictions(printed, predictions["predictions"])

    other = "good" if form.endswith(".npz") else "good.npz"
    shape = damaged(final, tmp_path / "shape.safetensors", "user_data", image_shape=[12, 11])
    names = damaged(final, tmp_path / "names.safetensors", "user_data", classes=["a"])
    for bad in (
        case(f"test shifting --task mnist --checkpoint {shape}",
             "holds a network of sizes [120, 6, 3]; a mnist network of the user dataset"),
        case(f"test shifting --task mnist --checkpoint {names}",
             "user_data.classes is ['a']; expected at least 2 distinct class names"),
        case(f"predict shifting --task mnist --checkpoint {final} --input {data}/wrong_size.npy",
             "holds shape (2, 10, 12); expected (12, 10)"),
        case(f"test shifting --task mnist --checkpoint {final} --dataset {data}/{other}",
             f"not on the user dataset {data}/{other}"),
        case(f"test shifting --task mnist --checkpoint {final} --dataset {data}/test_8x8.npz",
             "train images are 12x10 but test images 8x8"),
        case(f"train shifting --task mnist --checkpoint {final} --dataset {data}/rgb.npz --hidden 6",
             "holds a mnist network of sizes [120, 6, 3], not mnist [360, 6, 3]"),
    ):  # fmt: skip
        assert_refused(bad, tmp_path / "refused", capsys, scratch=data)
