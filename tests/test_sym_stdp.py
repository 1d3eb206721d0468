"""sym-STDP on the numba engine: neuron dynamics against hand values, a short train/test run, checkpoints
in both formats, plots, reproducibility and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require_dataset

from genn_models import sym_stdp as models
from hybridsnn import cli
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.data import load_dataset
from hybridsnn.data.user_dataset import as_pixels
from hybridsnn.sim import create_model, init_postsynaptic, init_weight_update
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.network import (
    CLA_PARAMS,
    INH_PARAMS,
    POI_PARAMS,
    EngineChoice,
    InferenceNetwork,
    exc_params,
    initial_weights,
    input_probability,
)
from hybridsnn.sym_stdp.weights import load_weights

CONFIG = make_config("mnist", 100)


def _driven_exc(frozen: int, steps: int) -> tuple[np.ndarray, float]:
    """One excitatory neuron kicked far above threshold every step; its spike steps and final θ."""
    model = create_model(f"sym_exc_{frozen}", engine="numba", dt=0.5, seed=1)
    drive = model.add_neuron_population("drive", 1, "PoissonRate", {}, {"rate": 1e7})  # spikes every step
    exc = model.add_neuron_population(
        "exc",
        1,
        models.LIFExc,
        exc_params(CONFIG, frozen),
        {"V": -65.0, "theta": 20.0, "timer": 10.0, "count": 0},
    )
    model.add_synapse_population(
        "kick",
        "DENSE",
        drive,
        exc,
        init_weight_update("StaticPulseConstantWeight", {"g": 1e5}),
        init_postsynaptic("DeltaCurr"),
    )
    exc.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=steps)
    model.run(steps)
    model.pull_recording_buffers_from_device()
    times, _ = exc.spike_recording_data[0]
    exc.vars["theta"].pull_from_device()
    return np.round(np.asarray(times) / 0.5).astype(int), float(exc.vars["theta"].view.reshape(-1)[0])


def test_excitatory_refractory_gap_and_theta_float32():
    steps, theta = _driven_exc(frozen=0, steps=14)
    # Input arrives one step after the driver's spike; then the timer blocks integration for 5 steps.
    assert steps.tolist() == [1, 7, 13]
    # θ by hand in float32: decay every step (theta -= theta/Ttheta*dt), jump at each spike after the decay.
    th = np.float32(20.0)
    for step in range(14):
        th = np.float32(th - th / np.float32(6e6) * np.float32(0.5))
        if step in (1, 7, 13):
            th = np.float32(th + np.float32(0.07) * np.float32(10.0) / np.float32(abs(th - np.float32(10.0))))
    assert theta == float(th)
    assert 20.2 < theta < 20.21  # three jumps of ~0.07
    frozen_steps, frozen_theta = _driven_exc(frozen=1, steps=14)
    assert frozen_steps.tolist() == [1, 7, 13] and frozen_theta == 20.0


def test_teacher_and_input_rates_include_the_forced_silent_step():
    model = create_model("sym_rates", engine="numba", dt=0.5, seed=3)
    p_input = input_probability(np.full(784, 255), 2.0, 0.5)
    assert p_input[0] == pytest.approx(0.031875)  # 255 / 8 * 2 Hz at dt 0.5 ms
    poi = model.add_neuron_population("poi", 784, models.PoissonInput, POI_PARAMS, {"V": -60.0, "p": p_input})
    cla = model.add_neuron_population(
        "cla", 10, models.LIFCla, {**CLA_PARAMS, "teach": 1}, {"V": -100.0, "p": 0.1, "count": 0}
    )
    poi.spike_recording_enabled = True
    model.build()
    steps = 4000
    model.load(num_recording_timesteps=steps)
    model.run(steps)
    model.pull_recording_buffers_from_device()
    cla.vars["count"].pull_from_device()
    teacher_hz = cla.vars["count"].view.sum() / 10 / (steps * 0.5 / 1000.0)
    assert teacher_hz == pytest.approx(200.0 / 1.1, rel=0.04)  # ≈182 Hz: p/(1+p) per step
    input_spikes = len(poi.spike_recording_data[0][0])
    expected = 784 * steps * 0.031875 / 1.031875
    assert input_spikes == pytest.approx(expected, rel=0.02)


def test_readout_and_inhibitory_neurons_integrate_fire_and_reset_by_hand():
    # Both driven by 60 every step from step 1 (a driver spiking every step through DeltaCurr): the readout
    # (teach = 0) integrates V += (Vrest − V + I)/TV·dt, fires when V > Vthresh and resets to Vreset; the
    # inhibitory neuron integrates only while its timer exceeds Refrac (2 ms), restarting it at a spike.
    steps = 40
    model = create_model("sym_readout", engine="numba", dt=0.5, seed=1)
    drive = model.add_neuron_population("drive", 1, "PoissonRate", {}, {"rate": 1e7})
    cla = model.add_neuron_population(
        "cla", 1, models.LIFCla, {**CLA_PARAMS, "teach": 0}, {"V": -60.0, "p": 0.0, "count": 0}
    )
    inh = model.add_neuron_population("inh", 1, models.LIFInh, INH_PARAMS, {"V": -60.0, "timer": 10.0})
    for target in (cla, inh):
        model.add_synapse_population(
            f"kick_{target.name}", "DENSE", drive, target,
            init_weight_update("StaticPulseConstantWeight", {"g": 60.0}), init_postsynaptic("DeltaCurr"),
        )  # fmt: skip
        target.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=steps)
    model.run(steps)
    model.pull_recording_buffers_from_device()
    f32, dt, tv = np.float32, np.float32(0.5), np.float32(10.0)
    v_cla, v_inh, timer = f32(-60.0), f32(-60.0), f32(10.0)
    spikes_cla, spikes_inh = [], []
    for step in range(steps):
        isyn = f32(60.0) if step >= 1 else f32(0.0)
        v_cla = f32(v_cla + f32(f32(f32(f32(-60.0) - v_cla) + isyn) / tv) * dt)
        if v_cla > f32(-40.0):
            spikes_cla.append(step)
            v_cla = f32(-45.0)
        if timer > f32(2.0):
            v_inh = f32(v_inh + f32(f32(f32(f32(-60.0) - v_inh) + isyn) / tv) * dt)
        timer = f32(timer + dt)
        if v_inh > f32(-40.0) and timer > f32(2.0):
            spikes_inh.append(step)
            v_inh, timer = f32(-45.0), f32(0.0)
    assert spikes_cla[:3] == [8, 11, 14] and spikes_inh[:3] == [8, 16, 24]  # the refractory timer shows
    for pop, expected in ((cla, spikes_cla), (inh, spikes_inh)):
        times, _ = pop.spike_recording_data[0]
        assert np.round(np.asarray(times) / 0.5).astype(int).tolist() == expected, pop.name
    cla.vars["V"].pull_from_device()
    cla.vars["count"].pull_from_device()
    assert float(cla.vars["V"].view.reshape(-1)[0]) == float(v_cla)
    assert int(cla.vars["count"].view.reshape(-1)[0]) == len(spikes_cla)


@pytest.fixture(scope="module")
def trained_run(data_root, tmp_path_factory):
    """A short N=100 training run (500 MNIST samples) shared by the tests below."""
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    out = tmp_path_factory.mktemp("sym")
    argv = [
        "train",
        "sym-stdp",
        "--neurons",
        "100",
        "--train-samples",
        "500",
        "--test-samples",
        "300",
        "--eval-every",
        "250",
        "--checkpoint-every",
        "250",
        "--seed",
        "7",
        "--output",
        str(out),
        "--data-root",
        str(data_root),
        "--no-progress",
    ]
    assert cli.main([*argv, "--run-name", "a", "--export-original", str(out / "original")]) == 0
    return out, argv


def test_short_training_beats_chance_and_learning_curve_rises(trained_run):
    out, _ = trained_run
    records = [json.loads(line) for line in (out / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [250, 500]
    assert records[-1]["sl_accuracy"] > 0.35 and records[-1]["usl_accuracy"] > 0.35  # chance is 0.10
    assert records[-1]["sl_accuracy"] >= records[0]["sl_accuracy"] - 0.05
    results = json.loads((out / "a" / "results.json").read_text())
    assert results["engine"] == "numba" and results["metrics"]["train_samples"] == 500
    names = sorted(p.name for p in (out / "a" / "checkpoints").iterdir())
    assert names == [
        "final.safetensors",
        "last.safetensors",
        "samples-00000250.safetensors",
        "samples-00000500.safetensors",
    ]


def test_same_seed_reproduces_the_run_to_the_spike(trained_run):
    out, argv = trained_run
    assert cli.main([*argv, "--run-name", "b"]) == 0
    from hybridsnn.checkpoint import load_checkpoint

    a = load_checkpoint(out / "a" / "checkpoints" / "last.safetensors").tensors
    b = load_checkpoint(out / "b" / "checkpoints" / "last.safetensors").tensors
    for name in ("p2e", "e2c", "theta", "monitor.row_start", "monitor.neuron", "monitor.count"):
        np.testing.assert_array_equal(a[name], b[name])


def test_test_mode_and_original_format_agree(trained_run, data_root):
    out, _ = trained_run
    common = ["--test-samples", "200", "--output", str(out), "--data-root", str(data_root), "--no-progress"]
    final = out / "a" / "checkpoints" / "final.safetensors"
    assert (
        cli.main(["train", "sym-stdp", "--test", "--checkpoint", str(final), "--run-name", "t1", *common])
        == 0
    )
    assert sorted(p.name for p in (out / "original").iterdir()) == ["gE2C", "gP2E", "theta"]
    assert (
        cli.main(
            [
                "test",
                "sym-stdp",
                "--checkpoint",
                str(out / "original"),
                "--label-samples",
                "500",
                "--run-name",
                "t2",
                *common,
            ]
        )
        == 0
    )
    project = json.loads((out / "t1" / "results.json").read_text())["metrics"]
    original = json.loads((out / "t2" / "results.json").read_text())["metrics"]
    assert project["sl_accuracy"] > 0.35
    assert original["usl_accuracy"] > 0.3
    # The mechanism behind "both formats test the same network": the text files hold the final weights
    # to the 6 significant digits they keep (the accuracies differ by the label pass, not compared here).
    text, _ = load_weights(str(out / "original"))
    ckpt = load_checkpoint(final).tensors
    for name in ("p2e", "e2c", "theta"):
        np.testing.assert_allclose(text[name], ckpt[name], rtol=1e-5, atol=1e-6)


def test_predict_and_plot(trained_run, data_root, tmp_path, capsys):
    out, _ = trained_run
    from hybridsnn.data import load_dataset

    images = load_dataset("mnist", "test", root=data_root)
    np.save(tmp_path / "four.npy", images.x[:4])
    final = out / "a" / "checkpoints" / "final.safetensors"
    assert (
        cli.main(
            [
                "predict",
                "sym-stdp",
                "--checkpoint",
                str(final),
                "--input",
                str(tmp_path / "four.npy"),
                "--output",
                str(out),
                "--run-name",
                "p",
                "--no-progress",
            ]
        )
        == 0
    )
    predictions = json.loads((out / "p" / "predictions.json").read_text())
    assert len(predictions["sl"]) == 4 and all(0 <= p < 10 for p in predictions["sl"])
    capsys.readouterr()
    assert cli.main(["plot", "sym-stdp", str(out / "a")]) == 0
    names = {p.name for p in (out / "a" / "plots").iterdir()}
    assert {
        "receptive_fields.png",
        "weight_evolution.gif",
        "e2c_weights.png",
        "theta.png",
        "accuracy.png",
        "confusion_sl.png",
        "confusion_usl.png",
        "hidden_spike_counts.png",
    } <= names


def _error(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


def test_bad_inputs_give_one_line_errors(tmp_path, capsys, monkeypatch):
    out = ["--output", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "sym-stdp", "--neurons", "500", *out])
    assert exc.value.code == 2
    assert "invalid choice: 500" in capsys.readouterr().err
    assert "allowed sizes for fashion-mnist: 400, 6400" in _error(
        ["train", "sym-stdp", "--dataset", "fashion-mnist", "--neurons", "100", *out], capsys
    )
    bad = save_checkpoint(
        tmp_path / "bad.safetensors",
        {"p2e": np.zeros((784, 7), np.float32), "theta": np.zeros(7, np.float32)},
        model="sym-stdp",
    )
    assert "7 hidden neurons" in _error(["test", "sym-stdp", "--checkpoint", str(bad), *out], capsys)
    other = save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2, np.float32)}, model="dsl")
    assert "written by model 'dsl'" in _error(["test", "sym-stdp", "--checkpoint", str(other), *out], capsys)
    monkeypatch.setenv("HYBRIDSNN_OFFLINE", "1")
    err = _error(["train", "sym-stdp", "--quick", "--data-root", str(tmp_path / "empty"), *out], capsys)
    assert "MNIST" in err and "HYBRIDSNN_DATA" in err


def test_fixed_hidden_trains_only_the_output_layer(trained_run, data_root):
    out, _ = trained_run
    from hybridsnn.checkpoint import load_checkpoint

    hidden = out / "a" / "checkpoints" / "final.safetensors"
    argv = ["train", "sym-stdp", "--neurons", "100", "--train-samples", "200", "--test-samples", "200",
            "--eval-every", "200", "--fixed-hidden", str(hidden), "--output", str(out), "--run-name", "fixed",
            "--data-root", str(data_root), "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    before = load_checkpoint(hidden).tensors
    after = load_checkpoint(out / "fixed" / "checkpoints" / "final.safetensors").tensors
    np.testing.assert_array_equal(after["theta"], before["theta"])  # θ frozen
    # P2E only changes by the column normalisation applied before every presentation.
    normalised = before["p2e"] * (78.4 / before["p2e"].sum(axis=0, keepdims=True))
    np.testing.assert_allclose(after["p2e"], normalised, rtol=1e-4)
    assert not np.allclose(after["e2c"], before["e2c"])  # the output layer learned
    metrics = json.loads((out / "fixed" / "results.json").read_text())["metrics"]
    assert metrics["sl_accuracy"] > 0.2  # twice chance after 200 samples of output-layer training


def test_killed_run_resumes_from_its_last_checkpoint(data_root, tmp_path, monkeypatch):
    from hybridsnn.sym_stdp.network import TrainingNetwork

    learn = TrainingNetwork.learn_sample
    calls = {"n": 0}

    def dies_after_250(self, image, label):
        calls["n"] += 1
        if calls["n"] > 250:
            raise KeyboardInterrupt
        return learn(self, image, label)

    argv = ["train", "sym-stdp", "--neurons", "100", "--train-samples", "300", "--test-samples", "100",
            "--eval-every", "100", "--checkpoint-every", "100", "--output", str(tmp_path),
            "--data-root", str(data_root), "--no-progress"]  # fmt: skip
    monkeypatch.setattr(TrainingNetwork, "learn_sample", dies_after_250)
    assert cli.main([*argv, "--run-name", "r"]) == 130
    assert not (tmp_path / "r" / "results.json").exists()
    monkeypatch.setattr(TrainingNetwork, "learn_sample", learn)
    assert cli.main([*argv, "--resume", str(tmp_path / "r")]) == 0
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [100, 200, 300]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    # the whole run's samples (200 before the interruption, 100 after), not only the resumed segment's
    assert results["metrics"]["train_samples"] == 300 and results["samples"] == 300


def test_testing_on_another_dataset_than_trained_is_refused(trained_run, capsys):
    out, _ = trained_run
    final = out / "a" / "checkpoints" / "final.safetensors"
    err = _error(["test", "sym-stdp", "--checkpoint", str(final), "--dataset", "fashion-mnist",
                  "--output", str(out)], capsys)  # fmt: skip
    assert "trained on mnist, not --dataset fashion-mnist" in err


@pytest.mark.parametrize(
    "flag", ["--train-samples", "--test-samples", "--batch", "--eval-every", "--checkpoint-every", "--epochs"]
)
def test_zero_counts_are_refused_not_taken_for_the_default(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:  # argparse's type= refuses it
        cli.main(["train", "sym-stdp", "--quick", flag, "0", "--output", str(tmp_path)])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"hybridsnn: error: train sym-stdp: argument {flag}: '0' is not allowed; expected a whole number >= 1"
    ]
    assert not any(tmp_path.iterdir())  # nothing written


def test_independent_images_depend_on_their_index_only_not_on_batch_or_order(data_root):
    """With independent images every image restarts from the loaded state with a random stream keyed by its
    index: batch 1, batch 4 and a slice classified alone (``first_index``) count the same spikes, so a test
    set split over processes gives one process's result. The original's continuous simulation (the
    default) carries each copy's state and stream from image to image, so there the batch matters."""
    require_dataset(data_root, "MNIST/raw/t10k-images-idx3-ubyte.gz")
    config = make_config("mnist", 100)
    p2e, e2c = initial_weights(config, np.random.default_rng(0))
    theta = np.random.default_rng(1).uniform(20.0, 25.0, config.n_hidden).astype(np.float32)  # not θ_init
    images = as_pixels(load_dataset("mnist", "test", root=data_root, limit=12).x)

    def counts(batch, independent, first=0):
        network = InferenceNetwork(config, engine=EngineChoice(threads=1), seed=5, batch=batch,
                                   independent_images=independent)  # fmt: skip
        network.load_weights(p2e, e2c, theta)
        result = network.classify(images[first:], first_index=first)
        # a restarted image keeps the trained θ of every copy (not the θ of the network as built)
        loaded = network.exc.vars["theta"].view.reshape(batch, -1)
        np.testing.assert_array_equal(loaded, np.tile(theta, (batch, 1)))
        return result

    alone, batched, tail = counts(1, True), counts(4, True), counts(3, True, first=5)
    assert alone[0].sum() > 0 and alone[2].max() >= 1  # the hidden layer fired
    for whole, other, rows in zip(alone, batched, tail, strict=True):
        np.testing.assert_array_equal(whole, other)
        np.testing.assert_array_equal(whole[5:], rows)
    continuous = counts(1, False), counts(4, False)
    assert not np.array_equal(continuous[0][0], continuous[1][0])
