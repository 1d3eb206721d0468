"""The dataset registry: roots, the download decision, missing-data errors, options, ArrayDataset, tasks."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridsnn.data import (
    ArrayDataset,
    dataset_names,
    default_root,
    get_dataset_spec,
    load_dataset,
    make_task,
    normalize_image_means,
    register_dataset,
    register_task_generator,
    task_generator_names,
    write_idx,
)
from hybridsnn.data import registry as data_registry
from hybridsnn.data.download import DOWNLOAD_TIMEOUT_S
from hybridsnn.errors import DataError, UserError


def test_builtin_names():
    expected = {"mnist", "fashion-mnist", "cifar10", "svhn", "omniglot", "iris", "xor", "fsdd"}
    assert set(dataset_names()) >= expected


def test_default_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDSNN_DATA", str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv("HYBRIDSNN_DATA")
    assert default_root() == Path("data")


def test_load_uses_default_root_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDSNN_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match="elsewhere"):
        load_dataset("mnist", download=False)


def test_missing_dataset_offline_names_path_env_and_command(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDSNN_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", "test", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte.gz") in message
    assert "HYBRIDSNN_DATA" in message and "HYBRIDSNN_OFFLINE=1" in message
    assert "hybridsnn data download fashion-mnist" in message
    assert "\n" not in message


def _with_fetch(monkeypatch, name, fetch):
    spec = dataclasses.replace(get_dataset_spec(name), fetch=fetch)
    monkeypatch.setitem(data_registry.DATASETS, name, spec)


def test_download_none_fetches_missing_files_with_a_socket_timeout(monkeypatch, tmp_path):
    monkeypatch.delenv("HYBRIDSNN_OFFLINE", raising=False)
    calls = []

    def fetch(root, split):
        calls.append((root, split, socket.getdefaulttimeout()))
        write_idx(root / "MNIST/raw/t10k-images-idx3-ubyte.gz", np.zeros((10000, 28, 28), np.uint8))
        write_idx(root / "MNIST/raw/t10k-labels-idx1-ubyte.gz", (np.arange(10000) % 10).astype(np.uint8))

    _with_fetch(monkeypatch, "mnist", fetch)
    before = socket.getdefaulttimeout()
    ds = load_dataset("mnist", "test", root=tmp_path)
    assert calls == [(tmp_path, "test", DOWNLOAD_TIMEOUT_S)]
    assert socket.getdefaulttimeout() == before
    assert np.bincount(ds.y).tolist() == [1000] * 10
    load_dataset("mnist", "test", root=tmp_path)  # present now: no second download
    assert len(calls) == 1


@pytest.mark.parametrize(("download", "offline"), [(False, None), (None, "1"), (True, "1")])
def test_download_refused(monkeypatch, tmp_path, download, offline):
    if offline is None:
        monkeypatch.delenv("HYBRIDSNN_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HYBRIDSNN_OFFLINE", offline)
    _with_fetch(monkeypatch, "mnist", lambda root, split: pytest.fail("must not download"))
    with pytest.raises(DataError, match="not found"):
        load_dataset("mnist", root=tmp_path, download=download)


def test_failed_download_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("HYBRIDSNN_OFFLINE", raising=False)

    def fetch(root, split):
        raise OSError("Name or service not known\nsecond line")

    _with_fetch(monkeypatch, "mnist", fetch)
    with pytest.raises(DataError, match=r"download failed: OSError: Name or service not known") as info:
        load_dataset("mnist", root=tmp_path)
    assert "\n" not in str(info.value) and "HYBRIDSNN_DATA" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "nosuch"}, "unknown dataset 'nosuch'; allowed: babi, cifar10, fashion-mnist, fsdd"),
        ({"name": "mnist", "split": "valid"}, "unknown split of dataset mnist 'valid'; allowed: train, test"),
        ({"name": "xor", "colour": 1}, "unknown option of dataset xor 'colour'; allowed: high, low"),
        ({"name": "iris", "normalize_mean": 30}, "unknown option of dataset iris 'normalize_mean'"),
    ],
)
def test_bad_names_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        load_dataset(**kwargs)


def test_register_dataset_and_duplicate_refused(monkeypatch):
    monkeypatch.setattr(data_registry, "DATASETS", dict(data_registry.DATASETS))

    def load(root, split):
        return ArrayDataset(np.eye(3), [0, 1, 2], ("a", "b", "c"), "toy3", split)

    spec = data_registry.DatasetSpec("toy3", "three points", ("all",), load, lambda root, split: [],
                                     counts={"all": 3}, sample_shape=(3,))
    register_dataset(spec)
    assert "toy3" in dataset_names()
    assert load_dataset("toy3").split == "all"
    with pytest.raises(UserError, match="already registered"):
        register_dataset(spec)
    register_dataset(dataclasses.replace(spec, counts={"all": 4}), replace=True)
    with pytest.raises(DataError, match="has 3 samples; expected 4"):
        load_dataset("toy3")


def test_validation_rejects_out_of_range_labels(monkeypatch):
    monkeypatch.setattr(data_registry, "DATASETS", dict(data_registry.DATASETS))
    register_dataset(data_registry.DatasetSpec(
        "badlabels", "", ("all",),
        lambda root, split: ArrayDataset(np.zeros((2, 1)), [0, 2], ("a", "b"), "badlabels", split),
        lambda root, split: []))
    with pytest.raises(DataError, match=r"labels 0..2; expected 0..1"):
        load_dataset("badlabels")


def test_task_generators(monkeypatch):
    monkeypatch.setattr(data_registry, "TASK_GENERATORS", {})
    with pytest.raises(UserError, match="unknown task generator 'pairs'"):
        make_task("pairs")
    register_task_generator("pairs", lambda n=2, seed=0: np.random.default_rng(seed).integers(0, 9, (n, 2)),
                            "random pairs")
    assert task_generator_names() == ("pairs",)
    assert make_task("pairs", n=5, seed=1).shape == (5, 2)
    np.testing.assert_array_equal(make_task("pairs", seed=3), make_task("pairs", seed=3))
    with pytest.raises(UserError, match="already registered"):
        register_task_generator("pairs", lambda: None)


def test_array_dataset_subset_and_torch_view():
    torch = pytest.importorskip("torch")
    transforms = pytest.importorskip("torchvision.transforms")
    x = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    ds = ArrayDataset(x, [4, 3, 2, 1, 0], tuple("abcde"), "toy", "train", meta={"id": np.arange(5) * 10})
    first = ds.subset(2)
    assert len(first) == 2 and first.y.tolist() == [4, 3] and first.meta["id"].tolist() == [0, 10]
    picked = ds.subset([4, 1])
    assert picked.y.tolist() == [0, 3] and picked.meta["id"].tolist() == [40, 10]
    np.testing.assert_array_equal(picked.x[0], x[4])
    assert ds.subset(ds.y > 2).y.tolist() == [4, 3]
    with pytest.raises(DataError, match="integers or a boolean mask"):
        ds.subset([0.5])
    view = ds.to_torch()
    sample, label = view[1]
    assert len(view) == 5 and sample.dtype == torch.uint8 and label.item() == 3
    assert torch.equal(sample, torch.from_numpy(x[1]))
    sample, _ = ds.to_torch(transforms.ToTensor())[4]
    assert sample.shape == (1, 2, 3) and sample.dtype == torch.float32
    assert sample.max().item() == pytest.approx(29 / 255)
    batch_x, batch_y = next(iter(torch.utils.data.DataLoader(view, batch_size=5)))
    assert batch_x.shape == (5, 2, 3) and batch_y.tolist() == [4, 3, 2, 1, 0]


def test_array_dataset_rejects_mismatched_lengths():
    with pytest.raises(DataError, match="3 samples but 2 labels"):
        ArrayDataset(np.zeros((3, 2)), [0, 1], ("a", "b"), "toy", "train")
    with pytest.raises(DataError, match="3 samples but 1 'speaker' entries"):
        ArrayDataset(np.zeros((3, 2)), [0, 1, 1], ("a", "b"), "toy", "train", meta={"speaker": np.zeros(1)})


def test_importing_the_data_layer_does_not_import_torch():
    code = ("import sys, hybridsnn.data, hybridsnn.data.commands; "
            "bad = [m for m in ('torch', 'torchvision', 'sklearn', 'scipy') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Fashion-MNIST and the sym-STDP mean-30 normalisation -------------------------------------------------


def test_normalize_image_means_hand_values():
    images = np.array([
        [[0, 10], [20, 30]],   # mean 15 -> gain 2
        [[1, 3], [1, 3]],      # mean 2, target 3 -> gain 1.5: 1.5 and 4.5 round half up to 2 and 5
        [[255, 0], [0, 0]],    # mean 63.75, target 100: 255 * 1.569 = 400 saturates at 255
        [[0, 0], [0, 0]],      # all black stays black
    ], dtype=np.uint8)
    out = normalize_image_means(images[:1], 30.0)
    assert out.dtype == np.uint8 and out.tolist() == [[[0, 20], [40, 60]]]
    assert normalize_image_means(images[1:2], 3.0).tolist() == [[[2, 5], [2, 5]]]
    assert normalize_image_means(images[2:], 100.0).tolist() == [[[255, 0], [0, 0]], [[0, 0], [0, 0]]]
    with pytest.raises(UserError, match="normalize_mean"):
        normalize_image_means(images, -1.0)


def _fake_fashion(root, n):
    raw = root / "FashionMNIST" / "raw"
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) * (rng.random((n, 28, 28)) < 0.3)
    images = images.astype(np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels)  # uncompressed form is accepted as well
    return images, labels


def test_fashion_loader_and_mean_30_preprocessing(tmp_path):
    images, labels = _fake_fashion(tmp_path, 20)
    spec = get_dataset_spec("fashion-mnist")
    raw = spec.load(tmp_path, "test")
    np.testing.assert_array_equal(raw.x, images)
    assert raw.y.tolist() == labels.tolist() and raw.classes[9] == "Ankle boot"
    normalised = spec.load(tmp_path, "test", normalize_mean=30.0)
    assert normalised.x.dtype == np.uint8 and normalised.info["normalize_mean"] == 30.0
    # the spec's formula, written out per image
    for image, out in zip(images, normalised.x, strict=True):
        gain = 30.0 / image.astype(np.float64).mean()
        expected = np.clip(np.floor(image.astype(np.float64) * gain + 0.5), 0, 255)
        np.testing.assert_array_equal(out, expected)
    assert np.allclose(normalised.x.reshape(20, -1).mean(axis=1), 30.0, atol=0.5)


def test_fashion_full_size_through_load_dataset(data_root, tmp_path):
    # MNIST's files stand in for Fashion-MNIST's (same format and sizes)
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (raw / name).symlink_to(data_root / "MNIST" / "raw" / name)
    ds = load_dataset("fashion-mnist", "test", root=tmp_path, download=False, normalize_mean=30)
    assert ds.x.shape == (10000, 28, 28) and ds.classes[0] == "T-shirt/top"
    plain = load_dataset("fashion-mnist", "test", root=tmp_path, download=False)
    assert plain.x.reshape(10000, -1).mean() == pytest.approx(33.79, abs=0.05)  # MNIST test mean grey level
    gains = 30.0 / plain.x.reshape(10000, -1).mean(axis=1)
    unclipped = plain.x.astype(np.float64) * gains[:, None, None]
    np.testing.assert_array_equal(ds.x, np.clip(np.floor(unclipped + 0.5), 0, 255))
    # thin digits saturate at 255 and end up darker than 30; the others land on 30 up to rounding
    means = ds.x.reshape(10000, -1).mean(axis=1)
    saturated = unclipped.reshape(10000, -1).max(axis=1) > 255
    assert means.max() < 30.5 and abs(means[~saturated] - 30).max() < 0.5
