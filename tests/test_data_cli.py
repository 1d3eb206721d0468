"""``hybridsnn data list|check|download`` through ``hybridsnn.cli.main``."""

from __future__ import annotations

import shutil

import pytest

from hybridsnn import cli


def test_list_shows_presence_under_the_root(data_root, tmp_path, capsys):
    assert cli.main(["data", "list", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert lines["data"] == f"data root: {data_root}"
    assert " present " in lines["mnist"] and "MNIST handwritten digits" in lines["mnist"]
    assert " built-in " in lines["iris"]
    assert cli.main(["data", "list", "mnist", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert " missing " in out and "options: normalize_mean" in out and "iris" not in out


def test_list_uses_env_root(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HYBRIDSNN_DATA", str(tmp_path))
    assert cli.main(["data", "list", "xor"]) == 0
    assert f"data root: {tmp_path}" in capsys.readouterr().out


def test_check_one_dataset(data_root, capsys):
    assert cli.main(["data", "check", "mnist", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["ok      mnist/train: 60000 samples of (28, 28) uint8, 10 classes",
                   "ok      mnist/test: 10000 samples of (28, 28) uint8, 10 classes"]


def test_check_reports_corrupt_and_missing(data_root, tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_root / "MNIST" / "raw" / name, raw / name)
    images = raw / "t10k-images-idx3-ubyte.gz"
    assert cli.main(["data", "check", "mnist", "--split", "test", "--data-root", str(tmp_path)]) == 0
    capsys.readouterr()
    images.write_bytes(images.read_bytes()[:1000])
    assert cli.main(["data", "check", "mnist", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"missing mnist/train: {raw / 'train-images-idx3-ubyte.gz'}" in out
    assert f"FAILED  mnist/test: corrupt gzip in IDX file {images}" in out


def test_check_all_passes_with_absent_datasets_but_a_named_absent_one_fails(tmp_path, capsys):
    assert cli.main(["data", "check", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok      xor/all: 4 samples" in out and "missing fashion-mnist/train" in out
    assert cli.main(["data", "check", "fashion-mnist", "--data-root", str(tmp_path)]) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "download", "mnist"], "HYBRIDSNN_OFFLINE=1"),
        (["data", "download"], "data download needs a dataset NAME"),
        (["data", "check", "nosuch"], "unknown dataset 'nosuch'"),
        (["data", "check", "mnist", "--split", "dev"], "unknown split of dataset mnist 'dev'"),
        (["data", "check", "--split", "test"], "--split needs a dataset NAME"),
    ],
)
def test_data_command_errors(monkeypatch, tmp_path, capsys, argv, message):
    monkeypatch.setenv("HYBRIDSNN_OFFLINE", "1")
    assert cli.main([*argv, "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hybridsnn: error: ") and message in err and err.count("\n") == 1


def test_download_of_built_in_and_present_data(data_root, capsys):
    assert cli.main(["data", "download", "iris", "--data-root", str(data_root)]) == 0
    assert "iris/all is built in; nothing to download" in capsys.readouterr().out
    assert cli.main(["data", "download", "mnist", "--split", "test", "--data-root", str(data_root)]) == 0
    assert f"ok      mnist/test: files present under {data_root}" in capsys.readouterr().out
