"""Cross-modal associations (FSDD → MNIST) of the Hebbian-memory model: features, encoders, data, network."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.fft
import torch
from conftest import require_dataset

from hybridsnn.checkpoint import save_checkpoint
from hybridsnn.cli import main
from hybridsnn.errors import CheckpointError
from hybridsnn.hebbian.cross_modal.audio import FRAMES, HOP, dct_matrix, mel_filterbank, mfcc_image, trim
from hybridsnn.hebbian.cross_modal.network import (
    CrossModalBatch,
    CrossModalConfig,
    CrossModalPools,
    CrossModalSNN,
    CrossModalSteps,
    modality_pool,
)
from hybridsnn.hebbian.encoders import DigitEncoder, load_encoders, pretrain_encoder, save_encoders
from hybridsnn.hebbian.training import make_optimizer

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # one thread per test, restored after


def test_dct_matrix_equals_scipy_orthonormal_dct_ii():
    x = torch.randn(5, 40)
    expected = scipy.fft.dct(x.numpy().astype(np.float64), type=2, norm="ortho", axis=1)[:, :21]
    np.testing.assert_allclose((x @ dct_matrix(40, 21)).numpy(), expected, atol=1e-4)


def test_mel_filters_are_triangles_peaking_at_one_in_increasing_order():
    bank = mel_filterbank(201, 40, 8000)  # 20 Hz bins from 0 to 4000 Hz
    assert bank.shape == (201, 40)
    assert float(bank.min()) == 0.0 and float(bank.max()) <= 1.0 + 1e-6
    peaks = bank.argmax(dim=0)
    assert torch.all(peaks[1:] >= peaks[:-1])
    # the first filter spans 0 .. mel⁻¹(2·Δ) Hz; a bin exactly at 0 Hz has weight 0
    assert float(bank[0, 0]) == 0.0 and float(bank[:, 0].sum()) > 0


def test_trim_cuts_quiet_ends_and_refuses_silence():
    samples = torch.tensor([0.0, 1e-7, 0.5, 0.0, -0.2, 1e-8, 0.0])
    assert torch.equal(trim(samples), torch.tensor([0.5, 0.0, -0.2]))
    with pytest.raises(Exception, match="silent"):
        trim(torch.zeros(10))


def test_mfcc_image_standardises_frames_and_centres_the_loudest_frame():
    t = torch.arange(16000) / 8000.0  # 2 s of a quiet 440 Hz tone with a loud 2 kHz burst at 1.5 s
    samples = 0.01 * torch.sin(2 * math.pi * 440 * t)
    samples[11900:12100] = 0.5 * torch.sin(2 * math.pi * 2000 * t[11900:12100])
    image = mfcc_image(samples)
    assert image.shape == (FRAMES, 20)
    torch.testing.assert_close(image.mean(dim=1), torch.zeros(FRAMES), atol=1e-5, rtol=0)
    torch.testing.assert_close(image.std(dim=1), torch.ones(FRAMES), atol=1e-4, rtol=0)
    # burst at sample 12000 = frame 60 (hop 200, centred frames); window = frames 45..74 → row 15
    rows = (image - image[0]).abs().sum(dim=1)
    assert int(rows.argmax()) == 15 and float(rows[:13].max()) < 1e-3 * float(rows[15])
    short = mfcc_image(0.5 * torch.cos(2 * math.pi * 440 * t[: 5 * HOP]))  # 1 + 1000 // HOP = 6 frames
    assert torch.all(short[6:] == 0) and torch.all(short[:6].abs().sum(dim=1) > 0)


def _pools(same_digit: bool, per_class: int = 4) -> CrossModalPools:
    """Currents that name their item: audio row r = [digit, r]; image row r = [digit, r]; pixels = row."""
    labels = torch.arange(10).repeat_interleave(per_class)
    rows = torch.arange(10 * per_class).float()
    currents = torch.stack([labels.float(), rows], dim=1)
    pixels = rows[:, None].repeat(1, 784)
    return CrossModalPools(
        modality_pool(currents, labels), modality_pool(currents.clone(), labels), pixels, same_digit
    )


@pytest.mark.parametrize("same_digit", [False, True])
def test_examples_pair_distinct_audio_digits_and_target_the_stored_image(same_digit):
    batch = _pools(same_digit).sample(500, 3, torch.Generator().manual_seed(1))
    audio_digits, image_digits = batch.audio[..., 0].long(), batch.images[..., 0].long()
    assert all(len(set(row.tolist())) == 3 for row in audio_digits)
    assert torch.equal(audio_digits.sort(dim=1).values, image_digits.sort(dim=1).values)
    if same_digit:
        assert torch.equal(audio_digits, image_digits)
    else:  # arbitrary associations: a permutation that is not always the identity
        assert (audio_digits != image_digits).any(dim=1).float().mean() > 0.5
    for n in range(batch.size):
        pair = int(torch.nonzero(audio_digits[n] == int(batch.query[n, 0])).flatten()[0])
        assert int(batch.query[n, 1]) != int(batch.audio[n, pair, 1])  # another recording of that digit
        assert torch.all(batch.target[n] == batch.images[n, pair, 1])  # the exact image stored with it
        assert int(batch.digit[n]) == int(image_digits[n, pair])


def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(10, (n,), generator=g)
    x = torch.nn.functional.one_hot(y, 10).float().repeat(1, 3) + 0.3 * torch.randn(n, 30, generator=g)
    return x, y


def test_pretrained_encoder_learns_and_calibrates_currents_to_unit_range(tmp_path):
    result = pretrain_encoder(*_separable(600, 0), *_separable(200, 1), epochs=5, batch_size=32)
    assert result.train_accuracy > 0.95 and result.test_accuracy > 0.9
    currents = result.encoder.currents(_separable(600, 0)[0])
    assert float(currents.min()) >= 0.0 and float(currents.max()) == pytest.approx(1.0)
    path = save_encoders(tmp_path / "enc.safetensors", {"audio": result.encoder, "image": result.encoder})
    loaded = load_encoders(path)
    x = _separable(50, 2)[0]
    torch.testing.assert_close(loaded["audio"].currents(x), result.encoder.currents(x))
    torch.testing.assert_close(loaded["image"](x), result.encoder(x))
    save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2)}, model="hebbian", config={})
    with pytest.raises(CheckpointError, match="does not hold cross-modal encoders"):
        load_encoders(tmp_path / "other.safetensors")


def test_memory_network_learns_to_recall_images():
    """A few Adam steps on one batch lower the recall MSE (gradients flow through memory and decoder)."""
    torch.manual_seed(0)
    config = CrossModalConfig(
        audio_size=6, image_size=6, memory_size=12, decoder_size=16, steps=20, tau_mem=5.0, tau_trace=5.0
    )
    model = CrossModalSNN(config)
    g = torch.Generator().manual_seed(0)
    audio, images = torch.rand(8, 2, 6, generator=g), torch.rand(8, 2, 6, generator=g)
    target = torch.rand(8, 784, generator=g) * 0.5
    classifier = DigitEncoder(784)
    optimizer, _ = make_optimizer(model, 1e-2)
    steps = CrossModalSteps(model, classifier, optimizer, torch.device("cpu"), l2=1e-7)
    batch = CrossModalBatch(audio, images, audio[:, 0], target, torch.zeros(8, dtype=torch.long))
    first = steps.eval_step(batch)
    assert set(first) == {"mse", "accuracy", "read_value_rate_hz"} and 0 <= first["accuracy"] <= 1
    recalled, populations = model(audio, images, audio[:, 0])
    assert recalled.shape == (8, 784) and populations["write_keys"].shape == (40, 8, 12)
    assert populations["decoder_output"].shape == (20, 8, 784)
    for _ in range(15):
        metrics = steps.train_step(batch)
    assert "regularizer" in metrics
    assert steps.eval_step(batch)["mse"] < 0.7 * first["mse"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--embedding-size", "80"], "--embedding-size of the cross-modal task is the encoders' 64"),
        (["--sequence-length", "11"], "--sequence-length must be 1..10"),
    ],
)
def test_bad_cross_modal_flags_give_one_line_errors(tmp_path, capsys, flags, message):
    argv = ["train", "hebbian", "--task", "cross-modal", "--quick", *flags, "--output", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_cross_modal_train_then_test_from_the_checkpoint(tmp_path, data_root, capsys):
    require_dataset(data_root, "fsdd/recordings")
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    common = ["--data-root", str(data_root), "--output", str(tmp_path), "--no-progress", "--threads", "1"]
    tiny = ["--quick", "--num-time-steps", "10", "--memory-size", "8", "--batch-size", "4", "--epochs", "1"]
    tiny += ["--iterations", "2", "--val-size", "4", "--test-size", "8", "--encoder-epochs", "1"]
    assert main(["train", "hebbian", "--task", "cross-modal", *tiny, *common, "--run-name", "a"]) == 0
    run = tmp_path / "a"
    results = json.loads((run / "results.json").read_text())["metrics"]
    assert results["audio_encoder_test_accuracy"] > 0.5 and results["image_encoder_test_accuracy"] > 0.85
    assert 0 < results["test_mse"] < 1 and 0 < results["test_mean_image_mse"] < 0.2
    assert set(load_encoders(run / "checkpoints" / "encoders.safetensors")) == {"audio", "image"}
    best = run / "checkpoints" / "best.safetensors"
    assert main(["test", "hebbian", "--task", "cross-modal", "--checkpoint", str(best), *common]) == 0
    assert f"test_mse = {results['test_mse']:.4f}" in capsys.readouterr().out
    assert main(["plot", "hebbian", str(run)]) == 0
    assert {p.name for p in (run / "plots").iterdir()} == {"mse.png", "accuracy.png", "recall.png"}
