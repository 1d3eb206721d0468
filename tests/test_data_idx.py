"""IDX reading and writing, the real MNIST files, and rejection of corrupt or truncated files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from hybridsnn.data import load_dataset, read_idx, write_idx
from hybridsnn.data.idx import encode_idx
from hybridsnn.errors import DataError

# Published per-digit counts of the MNIST training and test sets.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(data_root):
    return {split: load_dataset("mnist", split, root=data_root, download=False)
            for split in ["train", "test"]}


def test_mnist_shapes_and_label_counts(mnist):
    train, test = mnist["train"], mnist["test"]
    assert train.x.shape == (60000, 28, 28) and test.x.shape == (10000, 28, 28)
    assert train.x.dtype == np.uint8 and train.y.dtype == np.int64
    assert np.bincount(train.y).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(test.y).tolist() == MNIST_TEST_COUNTS
    assert train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.y[0] == 7
    assert train.classes == tuple("0123456789")


def test_mnist_pixel_statistics_match_torchvision_normalisation(mnist):
    # torchvision's customary MNIST normalisation constants are mean 0.1307, std 0.3081 of the training set
    pixels = mnist["train"].x.astype(np.float64) / 255.0
    assert pixels.mean() == pytest.approx(0.1307, abs=5e-5)
    assert pixels.std() == pytest.approx(0.3081, abs=5e-5)
    assert mnist["train"].x.min() == 0 and mnist["train"].x.max() == 255


def test_gz_and_raw_files_read_identically(mnist, data_root, tmp_path):
    raw_labels = tmp_path / "t10k-labels-idx1-ubyte"
    raw_labels.write_bytes(gzip.decompress((data_root / "MNIST/raw/t10k-labels-idx1-ubyte.gz").read_bytes()))
    np.testing.assert_array_equal(read_idx(raw_labels), mnist["test"].y)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_read_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) * (-1 if dtype != "uint8" else 1)).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # the result is writable


def test_header_layout_is_big_endian():
    data = encode_idx(np.array([[1, 2, 3]], dtype=np.int16))
    assert data == bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 1, 0, 2, 0, 3])


GOOD = encode_idx(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01" + GOOD[1:], "bad magic number"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "bad magic number"),
        (GOOD[:-1], "truncated"),
        (GOOD + b"\x00", "longer than declared"),
        (GOOD[:6], "truncated inside its header"),
        (GOOD[:3], "truncated"),
        (gzip.compress(GOOD)[:-9], "corrupt gzip"),
        (b"\x1f\x8b" + b"garbage" * 4, "corrupt gzip"),
        (gzip.compress(GOOD[:-2]), "truncated"),
    ],
)
def test_corrupt_idx_rejected_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_idx_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(tmp_path / "absent.gz")


def _fake_mnist(root, n_images, n_labels, folder="MNIST"):
    raw = root / folder / "raw"
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n_images, 28, 28), dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n_labels, dtype=np.uint8))
    return raw


def test_image_label_count_mismatch_names_both_files(tmp_path):
    raw = _fake_mnist(tmp_path, 5, 4)
    with pytest.raises(DataError, match="holds 5 images") as info:
        load_dataset("mnist", "test", root=tmp_path, download=False)
    assert str(raw / "t10k-labels-idx1-ubyte.gz") in str(info.value)


def test_wrong_sample_count_is_rejected(tmp_path):
    _fake_mnist(tmp_path, 5, 5)
    with pytest.raises(DataError, match=r"dataset mnist/train has 5 samples; expected 60000"):
        load_dataset("mnist", root=tmp_path, download=False)


def test_truncated_mnist_file_rejected_by_loader(tmp_path):
    raw = _fake_mnist(tmp_path, 5, 5)
    images = raw / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt gzip") as info:
        load_dataset("mnist", root=tmp_path, download=False)
    assert str(images) in str(info.value)
