"""Tests of hybridsnn.plots: the pure-numpy helpers against hand-built examples, and every figure writer
producing a readable PNG/GIF (atomically, no temporary files left) or a one-line UserError on bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from hybridsnn import metrics, plots
from hybridsnn.errors import UserError
from hybridsnn.results import Run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    """``path`` is a complete PNG with a non-empty image, and no temporary file was left beside it."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width > 0 and image.height > 0
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


def assert_one_line(error: pytest.ExceptionInfo[UserError]) -> None:
    """The error message is a single, non-empty line."""
    message = str(error.value)
    assert message and "\n" not in message


# -- receptive-field mosaic ----------------------------------------------------------------------------


def test_mosaic_array_places_each_neuron_in_its_tile() -> None:
    height, width, n_neurons = 2, 3, 5
    # weights[j, k] = 100 k + j: neuron k's tile must read 100 k + (0..5) in row-major order
    weights = 100 * np.arange(n_neurons)[None, :] + np.arange(height * width)[:, None]
    mosaic = plots.mosaic_array(weights, (height, width))
    assert mosaic.shape == (2 * height, 3 * width)  # 5 tiles -> ceil(sqrt(5)) = 3 columns, 2 rows
    for k in range(n_neurons):
        row, col = divmod(k, 3)
        tile = mosaic[row * height : (row + 1) * height, col * width : (col + 1) * width]
        np.testing.assert_array_equal(tile, 100 * k + np.arange(6).reshape(2, 3))
    assert np.isnan(mosaic[2:4, 6:9]).all()  # the sixth tile has no neuron
    # neuron 4, input 5 -> tile (1, 1), pixel (5 // 3, 5 % 3) = (1, 2)
    assert mosaic[1 * height + 1, 1 * width + 2] == 405


def test_mosaic_array_honours_n_cols() -> None:
    weights = np.arange(4 * 3).reshape(4, 3).astype(float)  # 2x2 images, 3 neurons
    mosaic = plots.mosaic_array(weights, (2, 2), n_cols=1)
    assert mosaic.shape == (6, 2)
    np.testing.assert_array_equal(mosaic[4:6], weights[:, 2].reshape(2, 2))
    assert plots.mosaic_grid(100) == (10, 10)
    assert plots.mosaic_grid(7, n_cols=10) == (1, 7)


@pytest.mark.parametrize(
    ("weights", "image_shape"),
    [(np.zeros((783, 4)), (28, 28)), (np.zeros(784), (28, 28)), (np.zeros((4, 4)), (2, 2, 1))],
)
def test_mosaic_rejects_mismatched_weights(weights: np.ndarray, image_shape: tuple[int, ...]) -> None:
    with pytest.raises(UserError) as error:
        plots.mosaic_array(weights, image_shape)
    assert_one_line(error)


def test_receptive_field_mosaic_rejects_wrong_inputs_before_writing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="783 inputs") as error:
        plots.receptive_field_mosaic(np.zeros((783, 10)), tmp_path / "rf.png")
    assert_one_line(error)
    assert list(tmp_path.iterdir()) == []


def test_receptive_field_mosaic_writes_png(tmp_path: Path) -> None:
    weights = np.random.default_rng(0).random((784, 10))
    assert_png(plots.receptive_field_mosaic(weights, tmp_path / "rf.png", vmin=0, vmax=1, title="P2E"))


def test_figure_suffix_must_be_a_known_format(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="allowed suffixes") as error:
        plots.histogram([1.0, 2.0], tmp_path / "theta.xyz")
    assert_one_line(error)


# -- weight-evolution GIF ------------------------------------------------------------------------------


def test_weight_evolution_gif_has_one_frame_per_matrix(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    series = [rng.random((16, 9)) for _ in range(4)]
    labels = [f"after {n} samples" for n in (0, 100, 200, 300)]
    path = plots.weight_evolution_gif(series, tmp_path / "evo.gif", image_shape=(4, 4), labels=labels, fps=4)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 4
        # 9 neurons of 4x4 -> a 12x12 mosaic, drawn 38 pixels per weight (ceil(448 / 12)) plus the margins
        left, right, bottom, top = plots.MOSAIC_MARGINS
        assert gif.size == (12 * 38 + left + right, 12 * 38 + bottom + top)
        assert gif.info["duration"] == 250  # ms per frame at 4 fps


def test_mosaics_are_drawn_at_native_resolution_at_least(tmp_path: Path) -> None:
    """N = 400 hidden neurons of 28x28: a 560x560 mosaic, one screen pixel per weight (never fewer)."""
    weights = np.random.default_rng(2).random((784, 400))
    left, right, bottom, top = plots.MOSAIC_MARGINS
    png = plots.receptive_field_mosaic(weights, tmp_path / "rf.png", colorbar_label="weight (nS)")
    with Image.open(png) as image:
        assert image.size == (560 + left + right, 560 + bottom + top)
    gif = plots.weight_evolution_gif([weights, weights], tmp_path / "evo.gif")
    with Image.open(gif) as image:
        assert image.size == (560 + left + right, 560 + bottom + top)
    mosaic = plots.mosaic_array(weights)
    fig = plots.mosaic_figure(mosaic, (28, 28), colorbar_label="P2E weight (dimensionless)", scale=2)
    fig.canvas.draw()
    image_axes, bar_axes = fig.axes
    box = image_axes.get_window_extent()
    assert (round(box.width), round(box.height)) == (1120, 1120)  # 2 pixels per weight
    assert bar_axes.get_ylabel() == "P2E weight (dimensionless)"
    with pytest.raises(UserError, match="whole number of pixels per weight") as error:
        plots.mosaic_scale((560, 560), 0)
    assert_one_line(error)


def test_weight_evolution_gif_uses_one_colour_scale(tmp_path: Path) -> None:
    # a uniform 0 frame and a uniform 1 frame: on a shared [0, 1] scale hot_r shows white, then black
    # (per-frame scaling would draw both at the bottom of the scale, i.e. both white)
    path = plots.weight_evolution_gif(
        [np.zeros((4, 1)), np.ones((4, 1))], tmp_path / "evo.gif", image_shape=(2, 2)
    )
    left, _, _, top = plots.MOSAIC_MARGINS  # one 2x2 tile, 224 pixels per weight: its centre is at 224
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    centre = [frame[top + 224, left + 224] for frame in frames]
    assert centre[0].min() > 240
    assert centre[1].max() < 40


def test_weight_evolution_gif_checks_labels(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="2 labels for 1") as error:
        plots.weight_evolution_gif(
            [np.zeros((4, 2))], tmp_path / "evo.gif", image_shape=(2, 2), labels=["a", "b"]
        )
    assert_one_line(error)
    with pytest.raises(UserError):
        plots.weight_evolution_gif([np.zeros((5, 2))], tmp_path / "evo.gif", image_shape=(2, 2))
    with pytest.raises(UserError):
        plots.weight_evolution_gif([], tmp_path / "evo.gif", image_shape=(2, 2))


# -- heatmap, histogram, curves ------------------------------------------------------------------------


def test_heatmap_and_histogram_write_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    assert_png(plots.heatmap(rng.random((100, 10)), tmp_path / "e2c.png", xlabel="class", ylabel="neuron"))
    assert_png(plots.histogram(rng.normal(20.0, 5.0, 400), tmp_path / "theta.png", xlabel="θ (mV)"))
    with pytest.raises(UserError):
        plots.heatmap(np.zeros(5), tmp_path / "bad.png")
    with pytest.raises(UserError, match="1 are NaN"):
        plots.histogram([1.0, np.nan], tmp_path / "bad.png")


def records(accuracies: dict[str, list[tuple[int, float]]]) -> list[dict]:
    """metrics.jsonl-style records {step, epoch, split, accuracy} (epoch = step / 100)."""
    return [
        {"step": step, "epoch": step / 100, "split": split, "accuracy": acc, "time": 0.0}
        for split, points in accuracies.items()
        for step, acc in points
    ]


def test_metric_curves_select_split_and_sort_by_step() -> None:
    run_a = records({"train": [(0, 0.1), (100, 0.5)], "test": [(100, 0.4), (0, 0.2)]})
    run_b = records({"test": [(0, 0.3), (50, 0.6)]})
    curves = plots.metric_curves([run_a, run_b], split="test", labels=["A", "B"])
    assert [c.label for c in curves] == ["A", "B"]
    np.testing.assert_array_equal(curves[0].x, [0, 100])
    np.testing.assert_array_equal(curves[0].y, [0.2, 0.4])
    np.testing.assert_array_equal(curves[1].y, [0.3, 0.6])
    # one run, all splits, by epoch: labels name the split only
    curves = plots.metric_curves(run_a, x="epoch")
    assert [c.label for c in curves] == ["train", "test"]
    np.testing.assert_array_equal(curves[0].x, [0.0, 1.0])


def test_metric_curves_explain_a_missing_metric() -> None:
    with pytest.raises(UserError, match="metrics present: accuracy") as error:
        plots.metric_curves(records({"test": [(0, 0.5)]}), metrics=["loss"])
    assert_one_line(error)
    with pytest.raises(UserError, match="allowed: step, epoch"):
        plots.metric_curves(records({"test": [(0, 0.5)]}), x="time")


def test_accuracy_curves_from_run_directories(tmp_path: Path) -> None:
    run_dirs = []
    for name, final in (("a", 0.8), ("b", 0.9)):
        run = Run.create(tmp_path / "runs", model="m", task="t", command="train", config={}, name=name)
        for step, acc in ((0, 0.1), (10, final)):
            run.log_metrics(step=step, split="test", epoch=step / 10, accuracy=acc, loss=1 - acc)
        run_dirs.append(run.path)
    curves = plots.metric_curves(run_dirs, metrics=["accuracy", "loss"])
    assert [c.label for c in curves] == ["a accuracy", "a loss", "b accuracy", "b loss"]
    np.testing.assert_allclose(curves[3].y, [0.9, 0.1])
    out = plots.accuracy_curves(run_dirs, tmp_path / "acc.png", metrics=["accuracy", "loss"], x="epoch")
    assert_png(out)
    with pytest.raises(UserError, match="does not exist"):
        plots.accuracy_curves(tmp_path / "missing", tmp_path / "acc.png")


def test_line_curves_write_png_and_check_lengths(tmp_path: Path) -> None:
    series = {"HP": [0.9, 0.8, 0.7], "GP": [0.85, 0.7, 0.5]}
    out = plots.line_curves([0.0, 0.1, 0.2], series, tmp_path / "noise.png", errors={"HP": [0.01, 0.02, 0.0]})
    assert_png(out)
    with pytest.raises(UserError, match="'LP' has 2 values but x has 3") as error:
        plots.line_curves([0.0, 0.1, 0.2], {"LP": [1.0, 2.0]}, tmp_path / "bad.png")
    assert_one_line(error)
    with pytest.raises(UserError, match="unknown series"):
        plots.line_curves([0.0], {"HP": [1.0]}, tmp_path / "bad.png", errors={"LP": [0.1]})


# -- spikes --------------------------------------------------------------------------------------------


def test_spike_events_from_matrix() -> None:
    spikes = np.zeros((4, 3), dtype=bool)
    spikes[0, 2] = spikes[2, 0] = spikes[2, 1] = spikes[3, 2] = True
    times, ids = plots.spike_events(spikes, dt_ms=0.5)
    np.testing.assert_array_equal(times, [0.0, 1.0, 1.0, 1.5])
    np.testing.assert_array_equal(ids, [2, 0, 1, 2])


def test_spike_rasters_write_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    assert_png(plots.spike_raster_matrix(rng.random((350, 40)) < 0.02, tmp_path / "m.png", dt_ms=1.0))
    out = plots.spike_raster([1.0, 5.5, 349.0], [0, 3, 9], tmp_path / "r.png", n_neurons=10, t_max_ms=350.0)
    assert_png(out)


@pytest.mark.parametrize(
    ("times", "ids", "message"),
    [
        ([1.0], [10], "spike ids"),
        ([-1.0], [0], "spike times"),
        ([400.0], [0], "spike times"),
        ([1.0], [0, 1], "pair"),
    ],
)
def test_spike_raster_rejects_bad_events(tmp_path: Path, times: list, ids: list, message: str) -> None:
    with pytest.raises(UserError, match=message) as error:
        plots.spike_raster(times, ids, tmp_path / "r.png", n_neurons=10, t_max_ms=350.0)
    assert_one_line(error)


# -- confusion matrix ----------------------------------------------------------------------------------


def test_confusion_matrix_counts_hand_example() -> None:
    cm = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], n_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.dtype == np.int64
    assert cm.sum() == 6


def test_confusion_matrix_rejects_labels_outside_classes() -> None:
    with pytest.raises(UserError, match=re.escape("prediction -1 is not a class in 0..2")) as error:
        metrics.confusion_matrix([0, 1], [0, -1], n_classes=3)
    assert_one_line(error)
    with pytest.raises(UserError, match="pair up"):
        metrics.confusion_matrix([0, 1], [0], n_classes=3)


def test_plot_confusion_writes_png(tmp_path: Path) -> None:
    cm = metrics.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], n_classes=3)
    assert_png(plots.plot_confusion(cm, tmp_path / "cm.png", class_names=["a", "b", "c"]))
    assert_png(plots.plot_confusion(np.zeros((3, 3)), tmp_path / "cm_norm.png", normalize=True))
    with pytest.raises(UserError, match="2 class names for 3"):
        plots.plot_confusion(cm, tmp_path / "bad.png", class_names=["a", "b"])
