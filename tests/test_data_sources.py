"""The individual loaders: Omniglot, FSDD, Iris, XOR on real data; CIFAR-10 and SVHN on small fake files."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from conftest import require_dataset

from hybridsnn.data import get_dataset_spec, load_dataset, load_one_shot_runs
from hybridsnn.errors import DataError

# --- Omniglot ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def omniglot_root(data_root):
    require_dataset(data_root, "omniglot/images_background_small1.zip")
    require_dataset(data_root, "omniglot/all_runs.zip")
    return data_root


@pytest.fixture(scope="module")
def runs(omniglot_root):
    return load_one_shot_runs(omniglot_root, download=False)


def test_omniglot_small_background_set(omniglot_root):
    ds = load_dataset("omniglot", "small1", root=omniglot_root, download=False)
    assert ds.x.shape == (2720, 105, 105) and ds.x.dtype == np.uint8
    assert set(np.unique(ds.x)) == {0, 255}
    assert ds.x.mean() > 230  # white background, black ink
    assert ds.info["alphabets"] == ("Balinese", "Early_Aramaic", "Greek", "Korean", "Latin")
    assert len(ds.classes) == 136 and ds.classes[0] == "Balinese/character01"
    assert np.bincount(ds.y).tolist() == [20] * 136
    assert sorted(ds.meta["drawer"][ds.y == 5].tolist()) == list(range(1, 21))
    latin = ds.info["alphabets"].index("Latin")
    assert len(set(ds.y[ds.meta["alphabet"] == latin].tolist())) == 26  # the 26 Latin letters
    assert all(ds.classes[c].startswith("Latin/") for c in set(ds.y[ds.meta["alphabet"] == latin].tolist()))


def test_omniglot_full_sets_when_present(data_root):
    require_dataset(data_root, "omniglot/images_background.zip")
    ds = load_dataset("omniglot", "background", root=data_root, download=False)
    assert len(ds.classes) == 964 and len(ds.info["alphabets"]) == 30


def test_one_shot_runs_structure(runs):
    assert [r.run for r in runs] == list(range(1, 21))
    for run in runs:
        assert run.support.shape == (20, 105, 105) and run.queries.shape == (20, 105, 105)
        assert sorted(run.answers.tolist()) == list(range(20))  # one query per training class
    assert runs[0].answers[0] == 7  # run01/test/item01.png -> run01/training/class08.png


def _ink(image):
    points = np.argwhere(image == 0).astype(np.float64)
    return points - points.mean(axis=0)


def _modified_hausdorff_error(run):
    """Lake's baseline demo: nearest training image by modified Hausdorff distance; percent errors."""
    from scipy.spatial import cKDTree

    support = [(_ink(s), cKDTree(_ink(s))) for s in run.support]
    wrong = 0
    for query, answer in zip(run.queries, run.answers, strict=True):
        q = _ink(query)
        q_tree = cKDTree(q)
        cost = [max(tree.query(q)[0].mean(), q_tree.query(s)[0].mean()) for s, tree in support]
        wrong += int(np.argmin(cost) != answer)
    return 100.0 * wrong / len(run.answers)


def test_one_shot_answers_are_far_better_than_chance(runs):
    # with scrambled answers the error would be about 95 %
    assert np.mean([_modified_hausdorff_error(r) for r in runs[:2]]) < 60


@pytest.mark.slow
def test_one_shot_runs_reproduce_lakes_demo_error(runs):
    # brendenlake/omniglot demo_classification.py: "should lead to a result of 38.8 percent errors"
    assert np.mean([_modified_hausdorff_error(r) for r in runs]) == pytest.approx(38.8, abs=0.05)


def test_omniglot_extracted_folder_equals_zip(omniglot_root, runs, tmp_path):
    folder = tmp_path / "omniglot" / "all_runs"
    with zipfile.ZipFile(omniglot_root / "omniglot" / "all_runs.zip") as archive:
        archive.extractall(folder)
    from_folder = load_one_shot_runs(tmp_path, download=False)
    for a, b in zip(runs, from_folder, strict=True):
        np.testing.assert_array_equal(a.support, b.support)
        np.testing.assert_array_equal(a.queries, b.queries)
        np.testing.assert_array_equal(a.answers, b.answers)


def test_corrupt_omniglot_zip(tmp_path):
    path = tmp_path / "omniglot" / "images_background_small2.zip"
    path.parent.mkdir()
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="corrupt Omniglot archive") as info:
        load_dataset("omniglot", "small2", root=tmp_path, download=False)
    assert str(path) in str(info.value)


# --- FSDD --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fsdd_test(data_root):
    require_dataset(data_root, "fsdd/recordings")
    return load_dataset("fsdd", "test", root=data_root, download=False)


def test_fsdd_test_split(fsdd_test, data_root):
    from scipy.io import wavfile

    ds = fsdd_test
    assert len(ds) == 300 and ds.x.dtype == np.int16 and ds.info["sample_rate_hz"] == 8000
    assert ds.info["speakers"] == ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
    assert np.bincount(ds.y).tolist() == [30] * 10
    assert sorted(set(ds.meta["index"].tolist())) == [0, 1, 2, 3, 4]
    assert ds.x.shape[1] == ds.meta["length"].max()
    row = ds.y.tolist().index(7) + 2  # digit 7, first speaker (george), index 2
    speaker = ds.info["speakers"][ds.meta["speaker"][row]]
    assert (ds.y[row], speaker, ds.meta["index"][row]) == (7, "george", 2)
    rate, samples = wavfile.read(data_root / "fsdd/recordings/7_george_2.wav")
    length = ds.meta["length"][row]
    assert rate == 8000 and length == len(samples)
    np.testing.assert_array_equal(ds.x[row, :length], samples)
    assert not ds.x[row, length:].any()


def test_fsdd_train_split_and_fixed_length(data_root):
    require_dataset(data_root, "fsdd/recordings")
    ds = load_dataset("fsdd", "train", root=data_root, download=False, length=4000)
    assert ds.x.shape == (2700, 4000) and ds.meta["index"].min() == 5 and ds.meta["index"].max() == 49
    assert np.bincount(ds.meta["speaker"]).tolist() == [450] * 6
    assert ds.meta["length"].max() == 4000 and ds.meta["length"].min() >= 1148


def test_fsdd_rejects_foreign_wav(tmp_path):
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    import wave

    with wave.open(str(folder / "3_anna_0.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(np.zeros(100, np.int16).tobytes())
    with pytest.raises(DataError, match="16000 Hz; expected 1 channel, 16 bit, 8000 Hz"):
        get_dataset_spec("fsdd").load(tmp_path, "test")
    (folder / "three.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"three.wav is not named \{digit\}_\{speaker\}_\{index\}.wav"):
        get_dataset_spec("fsdd").load(tmp_path, "test")


# --- Iris and XOR ------------------------------------------------------------------------------------------


def test_iris():
    ds = load_dataset("iris")
    assert ds.split == "all" and ds.x.shape == (150, 4) and ds.x.dtype == np.float64
    assert ds.classes == ("setosa", "versicolor", "virginica")
    assert ds.y.tolist() == [0] * 50 + [1] * 50 + [2] * 50  # UCI order, sorted by class
    np.testing.assert_allclose(ds.x[0], [5.1, 3.5, 1.4, 0.2])
    assert ds.x.min() == pytest.approx(0.1) and ds.x.max() == pytest.approx(7.9)


def test_xor():
    ds = load_dataset("xor")
    assert ds.x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and ds.y.tolist() == [0, 1, 1, 0]
    shifted = load_dataset("xor", low=0.01, high=0.99)
    assert shifted.x.tolist() == [[0.01, 0.01], [0.01, 0.99], [0.99, 0.01], [0.99, 0.99]]


# --- CIFAR-10 and SVHN on fake files in their torchvision layouts ------------------------------------------


def test_cifar10_loader_on_fake_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({"data": data, "labels": [2, 0, 9]}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"]}, handle)
    ds = get_dataset_spec("cifar10").load(tmp_path, "test")
    assert ds.x.shape == (3, 32, 32, 3) and ds.y.tolist() == [2, 0, 9] and ds.classes[2] == "bird"
    # stored as 1024 red, 1024 green, 1024 blue values, row-major
    assert ds.x[1, 0, 5].tolist() == [data[1, 5], data[1, 1024 + 5], data[1, 2048 + 5]]
    assert ds.x[2, 31, 31, 2] == data[2, 3071]
    with pytest.raises(DataError, match="has 3 samples; expected 10000"):
        load_dataset("cifar10", "test", root=tmp_path, download=False)
    (folder / "test_batch").write_bytes(b"\x80\x04junk")
    with pytest.raises(DataError, match="corrupt CIFAR-10 batch file"):
        get_dataset_spec("cifar10").load(tmp_path, "test")


def test_svhn_loader_on_fake_mat(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    (tmp_path / "SVHN").mkdir()
    labels = np.array([[10], [1], [9], [10]], np.uint8)  # SVHN stores digit 0 as 10
    savemat(tmp_path / "SVHN" / "test_32x32.mat", {"X": images, "y": labels})
    ds = get_dataset_spec("svhn").load(tmp_path, "test")
    assert ds.x.shape == (4, 32, 32, 3) and ds.y.tolist() == [0, 1, 9, 0]
    np.testing.assert_array_equal(ds.x[2], images[:, :, :, 2])


def test_a_failed_download_leaves_no_empty_folders(tmp_path, monkeypatch):
    from hybridsnn.data.download import ensure_present
    from hybridsnn.errors import DataError

    monkeypatch.delenv("HYBRIDSNN_OFFLINE", raising=False)
    (tmp_path / "kept").mkdir()
    expected = [tmp_path / "Fancy" / "raw" / "train.gz", tmp_path / "kept" / "x.gz"]

    def fetch():  # torchvision makes its folders first, then fails on the network
        (tmp_path / "Fancy" / "raw").mkdir(parents=True)
        raise OSError("network is unreachable")

    with pytest.raises(DataError, match="download failed: OSError: network is unreachable"):
        ensure_present("fancy", "train", expected, fetch, download=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
