"""Figures of trained networks and runs: receptive-field mosaics, weight-evolution GIFs, heatmaps,
histograms, metric curves, spike rasters and confusion matrices.

Every figure is drawn on its own :class:`matplotlib.figure.Figure` with an Agg canvas (never pyplot, so no
GUI backend, no global figure registry and nothing to close or leak) and written atomically through
:mod:`hybridsnn.atomic`; each plotting function returns the :class:`~pathlib.Path` it wrote. The file format
follows the suffix of ``path`` (``.png`` normally; ``.pdf``/``.svg`` also work), except GIFs.

Weight matrices are dense ``(n_inputs, n_neurons)`` arrays, pre-synaptic index first, as stored by the
models (e.g. the sym-STDP input-to-excitatory weights, 784 x N).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from PIL import Image

from hybridsnn.atomic import write_with
from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.results import read_metrics

PathLike = str | os.PathLike[str]
MetricRecords = Sequence[Mapping[str, Any]]
RunSource = PathLike | MetricRecords
X_AXES = ("step", "epoch")
DEFAULT_FIGSIZE = (6.4, 4.8)
DEFAULT_DPI = 100
MAX_ANNOTATED_CLASSES = 20


# -- helpers -----------------------------------------------------------------------------------------


def _array(values: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """``values`` (numpy array, list or torch tensor on any device) as a float array with ``ndim`` axes."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    array = np.asarray(values, dtype=float)
    if ndim is not None and array.ndim != ndim:
        raise UserError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
    return array


def _new_figure(
    figsize: tuple[float, float] = DEFAULT_FIGSIZE, dpi: int = DEFAULT_DPI
) -> tuple[Figure, Axes]:
    """A fresh figure with an Agg canvas and one axes, laid out with the constrained layout engine."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: PathLike) -> Path:
    """Write ``fig`` atomically to ``path`` in the format named by its suffix (e.g. ``.png``)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise UserError(
            f"cannot write a figure to {os.fspath(path)!r}; allowed suffixes: {', '.join(supported)}"
        )
    return write_with(path, lambda tmp: fig.savefig(tmp, format=fmt))


def _label_axes(ax: Axes, xlabel: str | None, ylabel: str | None, title: str | None) -> None:
    """Set the axis labels and the title that are given."""
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


# -- receptive fields --------------------------------------------------------------------------------


def _check_image_shape(image_shape: Sequence[int]) -> tuple[int, int]:
    """``image_shape`` as (height, width) of positive ints."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise UserError(f"image_shape must be two positive sizes (height, width), got {tuple(image_shape)}")
    return shape[0], shape[1]


def mosaic_grid(n_neurons: int, n_cols: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a mosaic of ``n_neurons`` tiles; default ``ceil(sqrt(n))`` columns."""
    if n_neurons < 1:
        raise UserError(f"a mosaic needs at least one neuron, got {n_neurons}")
    cols = math.ceil(math.sqrt(n_neurons)) if n_cols is None else int(n_cols)
    if cols < 1:
        raise UserError(f"n_cols must be a positive number of tiles per row, got {n_cols}")
    cols = min(cols, n_neurons)
    return math.ceil(n_neurons / cols), cols


def mosaic_array(
    weights: ArrayLike, image_shape: Sequence[int] = (28, 28), n_cols: int | None = None
) -> np.ndarray:
    """Arrange each neuron's incoming weights as an image tile of a 2-D mosaic.

    ``weights`` is a dense ``(n_inputs, n_neurons)`` matrix with ``n_inputs == height * width``. Neuron ``k``
    fills the tile at row ``k // n_cols``, column ``k % n_cols``; its input ``j`` lands at pixel
    ``(j // width, j % width)`` of that tile (row-major images, as MNIST is flattened). The result has shape
    ``(rows * height, n_cols * width)``; tiles past the last neuron are NaN.
    """
    w = _array(weights, "weights", ndim=2)
    height, width = _check_image_shape(image_shape)
    n_inputs, n_neurons = w.shape
    if n_inputs != height * width:
        raise UserError(
            f"weights have {n_inputs} inputs (shape {w.shape}) but image_shape {height}x{width} needs "
            f"{height * width}; pass weights as (n_inputs, n_neurons)"
        )
    rows, cols = mosaic_grid(n_neurons, n_cols)
    tiles = np.full((rows * cols, height, width), np.nan)
    tiles[:n_neurons] = w.T.reshape(n_neurons, height, width)
    # (rows, cols, height, width) -> (rows, height, cols, width) -> one image
    return tiles.reshape(rows, cols, height, width).transpose(0, 2, 1, 3).reshape(rows * height, cols * width)


#: A mosaic smaller than this (pixels, longer side) is drawn scaled up by a whole factor to reach it.
MIN_MOSAIC_PIXELS = 448
#: Margins around the mosaic in pixels: left, right (the colour bar and its label), bottom, top (the title).
MOSAIC_MARGINS = (16, 110, 16, 36)
COLORBAR_GAP, COLORBAR_WIDTH = 12, 14


def mosaic_scale(mosaic_shape: Sequence[int], scale: int | None = None) -> int:
    """Screen pixels per weight: ``scale`` (a whole number >= 1), by default the smallest whole factor
    that draws the mosaic at least :data:`MIN_MOSAIC_PIXELS` wide or high (1 for a large mosaic)."""
    if scale is None:
        return max(1, math.ceil(MIN_MOSAIC_PIXELS / max(mosaic_shape)))
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise UserError(f"scale must be a whole number of pixels per weight, >= 1; got {scale!r}")
    return scale


def mosaic_figure(
    mosaic: np.ndarray,
    image_shape: tuple[int, int],
    *,
    cmap: str = "hot_r",
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    colorbar_label: str = "weight",
    scale: int | None = None,
) -> Figure:
    """A figure that shows ``mosaic`` at native resolution: each weight is ``scale`` x ``scale`` screen
    pixels (:func:`mosaic_scale`), the axes placed to the pixel, with a named colour bar and thin lines
    between tiles (when a weight is at least 2 pixels wide, so no weight is covered)."""
    factor = mosaic_scale(mosaic.shape, scale)
    width, height = mosaic.shape[1] * factor, mosaic.shape[0] * factor
    left, right, bottom, top = MOSAIC_MARGINS
    fig_w, fig_h = width + left + right, height + bottom + top
    fig = Figure(figsize=(fig_w / DEFAULT_DPI, fig_h / DEFAULT_DPI), dpi=DEFAULT_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    bar = fig.add_axes(((left + width + COLORBAR_GAP) / fig_w, bottom / fig_h, COLORBAR_WIDTH / fig_w,
                        height / fig_h))  # fmt: skip
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.85")  # empty tiles (NaN) in light grey
    image = ax.imshow(mosaic, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto")
    tile_h, tile_w = image_shape
    ax.set_xticks(np.arange(0, mosaic.shape[1] + 1, tile_w) - 0.5)
    ax.set_yticks(np.arange(0, mosaic.shape[0] + 1, tile_h) - 0.5)
    ax.tick_params(length=0, labelbottom=False, labelleft=False)
    if factor >= 2:
        ax.grid(color="0.5", linewidth=0.4)
    fig.colorbar(image, cax=bar, label=colorbar_label)
    _label_axes(ax, None, None, title)
    return fig


def receptive_field_mosaic(
    weights: ArrayLike,
    path: PathLike,
    *,
    image_shape: Sequence[int] = (28, 28),
    n_cols: int | None = None,
    cmap: str = "hot_r",
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    colorbar_label: str = "weight",
    scale: int | None = None,
) -> Path:
    """Write the receptive fields of all neurons as one tiled image (see :func:`mosaic_array`), at least
    one pixel per weight (:func:`mosaic_figure`; ``scale`` pixels per weight if given).

    ``weights`` is ``(n_inputs, n_neurons)``; ``vmin``/``vmax`` fix the colour scale (default: data range),
    ``colorbar_label`` names it with its unit. The default ``hot_r`` palette runs white -> yellow -> red ->
    black, like the sym-STDP gnuplot figures.
    """
    shape = _check_image_shape(image_shape)
    mosaic = mosaic_array(weights, shape, n_cols)
    fig = mosaic_figure(mosaic, shape, cmap=cmap, vmin=vmin, vmax=vmax, title=title,
                        colorbar_label=colorbar_label, scale=scale)  # fmt: skip
    return _save(fig, path)


def weight_evolution_gif(
    weight_series: Sequence[ArrayLike],
    path: PathLike,
    *,
    image_shape: Sequence[int] = (28, 28),
    labels: Sequence[str] | None = None,
    fps: float = 2.0,
    n_cols: int | None = None,
    cmap: str = "hot_r",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_label: str = "weight",
    scale: int | None = None,
) -> Path:
    """Write an animated GIF with one receptive-field mosaic per weight matrix (e.g. per checkpoint).

    All frames share one colour scale: ``vmin``/``vmax`` or, by default, the range over every frame.
    ``labels`` are the frame titles (e.g. ``"after 10000 samples"``; default ``"frame k/n"``). Frames last
    ``1000 / fps`` ms and the GIF loops forever. Each frame is a :func:`mosaic_figure`: at least one pixel
    per weight (a 20x20 mosaic of 28x28 tiles is 560x560 pixels plus the margins).
    """
    if len(weight_series) == 0:
        raise UserError("weight_evolution_gif needs at least one weight matrix")
    if labels is not None and len(labels) != len(weight_series):
        raise UserError(
            f"got {len(labels)} labels for {len(weight_series)} weight matrices; give one per frame"
        )
    if not fps > 0:
        raise UserError(f"fps must be positive frames per second, got {fps}")
    shape = _check_image_shape(image_shape)
    mosaics = [mosaic_array(w, shape, n_cols) for w in weight_series]
    lo = float(min(np.nanmin(m) for m in mosaics)) if vmin is None else vmin
    hi = float(max(np.nanmax(m) for m in mosaics)) if vmax is None else vmax
    titles = labels if labels is not None else [f"frame {k + 1}/{len(mosaics)}" for k in range(len(mosaics))]
    frames = []
    for mosaic, title in zip(mosaics, titles, strict=True):
        fig = mosaic_figure(mosaic, shape, cmap=cmap, vmin=lo, vmax=hi, title=title,
                            colorbar_label=colorbar_label, scale=scale)  # fmt: skip
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB"))

    def write(tmp: Path) -> None:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0
        )

    return write_with(path, write)


# -- matrices and distributions ----------------------------------------------------------------------


def heatmap(
    matrix: ArrayLike,
    path: PathLike,
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_label: str | None = None,
) -> Path:
    """Write a 2-D matrix as a colour image, row 0 at the top (e.g. excitatory-to-class weights, N x 10)."""
    m = _array(matrix, "matrix", ndim=2)
    if m.size == 0:
        raise UserError(f"cannot draw a heatmap of an empty matrix (shape {m.shape})")
    fig, ax = _new_figure()
    image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label=colorbar_label)
    _label_axes(ax, xlabel, ylabel, title)
    return _save(fig, path)


def histogram(
    values: ArrayLike,
    path: PathLike,
    *,
    bins: int | Sequence[float] = 50,
    xlabel: str | None = None,
    ylabel: str | None = "count",
    title: str | None = None,
    log: bool = False,
) -> Path:
    """Write a histogram of ``values`` (flattened; e.g. adaptive thresholds θ in mV); ``log``: log counts."""
    v = _array(values, "values").ravel()
    if v.size == 0:
        raise UserError("cannot draw a histogram of no values")
    if not np.all(np.isfinite(v)):
        raise UserError(
            f"histogram values must be finite; {int(np.sum(~np.isfinite(v)))} are NaN or infinite"
        )
    fig, ax = _new_figure()
    ax.hist(v, bins=bins, log=log, color="tab:blue", edgecolor="white", linewidth=0.3)
    _label_axes(ax, xlabel, ylabel, title)
    return _save(fig, path)


# -- curves ------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """True for a real number (int or float, not bool), i.e. a value that can be plotted."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_records(source: Any) -> bool:
    """True if ``source`` is one run's list of metric records (dicts), not a list of runs."""
    return (
        isinstance(source, Sequence)
        and not isinstance(source, str)
        and all(isinstance(r, Mapping) for r in source)
    )


def _runs(
    sources: RunSource | Sequence[RunSource], labels: Sequence[str] | None
) -> list[tuple[str, MetricRecords]]:
    """(label, records) per run: a run directory, one list of records, or a sequence of either."""
    items = [sources] if isinstance(sources, (str, os.PathLike)) or _is_records(sources) else list(sources)
    if not items:
        raise UserError(
            "accuracy_curves needs at least one run (a run directory or a list of metric records)"
        )
    if labels is not None and len(labels) != len(items):
        raise UserError(f"got {len(labels)} labels for {len(items)} runs; give one per run")
    runs = []
    for index, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            if not Path(item).is_dir():
                raise UserError(f"run directory {os.fspath(item)!r} does not exist")
            records, name = read_metrics(item), Path(item).name
        elif _is_records(item):
            records, name = item, f"run {index + 1}"
        else:
            raise UserError(
                f"run {index + 1} is a {type(item).__name__}; expected a run directory or metric records"
            )
        runs.append((labels[index] if labels is not None else name, records))
    return runs


class Curve(NamedTuple):
    """One labelled line: x values (step or epoch) and metric values, sorted by x."""

    label: str
    x: np.ndarray
    y: np.ndarray


def metric_curves(
    sources: RunSource | Sequence[RunSource],
    *,
    metrics: Sequence[str] = ("accuracy",),
    split: str | Sequence[str] | None = None,
    x: str = "step",
    labels: Sequence[str] | None = None,
) -> list[Curve]:
    """Collect one curve per run, metric and split from ``metrics.jsonl`` records.

    ``sources`` is a run directory, one run's records (dicts with ``step``, ``epoch``, ``split`` and metric
    keys, as :func:`hybridsnn.results.read_metrics` returns), or a sequence of either; ``labels`` name the
    runs (default: the directory name, or ``"run k"``). ``split`` keeps only the named split(s) (default:
    all). Records without a numeric metric (or epoch, when ``x="epoch"``) are skipped. A curve's label
    joins the run, split and metric names that differ between curves.
    """
    if x not in X_AXES:
        raise unknown_choice("x axis", x, X_AXES)
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    splits = None if split is None else ({split} if isinstance(split, str) else set(split))
    runs = _runs(sources, labels)
    lines: list[tuple[tuple[str, str, str], np.ndarray, np.ndarray]] = []
    for run_label, records in runs:
        for metric in metrics:
            by_split: dict[str, list[tuple[float, float]]] = {}
            for record in records:
                split_name = str(record.get("split"))
                wanted = splits is None or split_name in splits
                if wanted and _is_number(record.get(x)) and _is_number(record.get(metric)):
                    by_split.setdefault(split_name, []).append((record[x], record[metric]))
            for split_name, points in by_split.items():
                xs, ys = np.array(sorted(points), dtype=float).T
                lines.append(((run_label, split_name, metric), xs, ys))
    if not lines:
        available = sorted(
            {k for _, records in runs for r in records for k in r} - {"step", "epoch", "split", "time"}
        )
        raise UserError(
            f"no records with metric(s) {', '.join(metrics)} and a {x!r} value"
            + (f" for split(s) {', '.join(sorted(splits))}" if splits else "")
            + f"; metrics present: {', '.join(available) or 'none'}"
        )
    varying = [len({names[i] for names, _, _ in lines}) > 1 for i in range(3)]
    curves = []
    for names, xs, ys in lines:
        label = " ".join(name for name, shown in zip(names, varying, strict=True) if shown)
        curves.append(Curve(label or names[2], xs, ys))
    return curves


def accuracy_curves(
    sources: RunSource | Sequence[RunSource],
    path: PathLike,
    *,
    metrics: Sequence[str] = ("accuracy",),
    split: str | Sequence[str] | None = None,
    x: str = "step",
    labels: Sequence[str] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> Path:
    """Write metric-versus-step (or epoch) curves of one or several runs on one figure.

    The curves and their legend labels are those of :func:`metric_curves` (same arguments). The axes are
    labelled with units: ``xlabel`` (default :data:`X_LABELS`) and ``ylabel`` (default: the metric name);
    accuracies (fractions, every metric name holds "accuracy") are drawn in percent, "(%)" added to the label.
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    curves = metric_curves(sources, metrics=metrics, split=split, x=x, labels=labels)
    percent = all(ACCURACY in m for m in metrics)
    default = metrics[0] if len(metrics) == 1 else ACCURACY if percent else "value"
    label, scale = metric_axis(ACCURACY if percent else "", ylabel or default)
    return draw_curves(curves, path, xlabel=xlabel or X_LABELS[x], ylabel=label, title=title, scale=scale)


#: Default x-axis labels of :func:`accuracy_curves` (with units) by record field.
X_LABELS = {"step": "training steps", "epoch": "epochs"}
ACCURACY = "accuracy"


def metric_axis(metric: str, label: str | None = None) -> tuple[str, float]:
    """The y-axis label and scale of a metric: an accuracy (a fraction) in percent, "(%)" added to ``label``
    (default: the metric name); any other metric as it is."""
    label = label or metric
    if ACCURACY not in metric:
        return label, 1.0
    return (label if "%" in label else f"{label} (%)"), 100.0


def draw_curves(
    curves: Sequence[Curve],
    path: PathLike,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    scale: float = 1.0,
) -> Path:
    """Write ``curves`` (y values times ``scale``) on one figure with a legend and labelled axes."""
    fig, ax = _new_figure()
    for curve in curves:
        ax.plot(curve.x, curve.y * scale, marker="o", markersize=3, label=curve.label)
    ax.legend()
    ax.grid(alpha=0.3)
    _label_axes(ax, xlabel, ylabel, title)
    return _save(fig, path)


def compare_runs(run_dirs: Sequence[PathLike], path: PathLike, *, metric: str | None = None) -> Path:
    """Write the learning curves (``metrics.jsonl``) of runs of one system and task on one figure.

    One line per run, labelled by its folder name and the experiment flags that differ between the runs;
    ``metric`` is a ``metrics.jsonl`` key (default: the curve of the system's view,
    :meth:`hybridsnn.system_info.ModelInfo.view_for`). Every run is read and checked (run directories of
    one model and task, the metric present) before anything is written.
    """
    from hybridsnn.registry import MODELS
    from hybridsnn.results import ReportRun, experiment_flags, read_config

    if not run_dirs:
        raise UserError("plot compare needs at least one RUN directory")
    runs = [ReportRun(Path(d).name, "", read_config(d)) for d in run_dirs]
    systems = sorted({(run.model, run.task) for run in runs})
    if len(systems) > 1:
        pairs = zip(run_dirs, runs, strict=True)
        found = ", ".join(f"{os.fspath(d)!r} is {r.model} {r.task}" for d, r in pairs)
        raise UserError(f"plot compare draws runs of one system and task; {found}")
    info = MODELS.get(runs[0].model)
    view = info.view_for(runs[0].task) if info is not None else None
    curve = view.curve if view is not None else None
    key = metric or (curve.key if curve is not None else ACCURACY)
    own = curve is not None and key == curve.key
    x, xlabel = (view.x, view.x_label) if view is not None else ("step", X_LABELS["step"])
    labels = _run_labels(runs, [experiment_flags(run, keep_seed=True) for run in runs])
    curves = metric_curves(list(run_dirs), metrics=(key,), split=curve.split if own else None, x=x,
                           labels=labels)  # fmt: skip
    ylabel, scale = (curve.label, curve.scale) if own else metric_axis(key)
    title = f"{runs[0].model} {runs[0].task}: {len(runs)} run{'s' if len(runs) > 1 else ''}"
    return draw_curves(curves, path, xlabel=xlabel, ylabel=ylabel, title=title, scale=scale)


def _run_labels(runs: Sequence[Any], flags: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each run's folder name and the flags whose values differ between the runs (``name: k=v, ...``)."""
    keys = [k for k in dict.fromkeys(k for f in flags for k in f) if len({repr(f.get(k)) for f in flags}) > 1]
    labels = []
    for run, values in zip(runs, flags, strict=True):
        differing = ", ".join(f"{k}={values.get(k)}" for k in keys)
        labels.append(f"{run.name}: {differing}" if differing else run.name)
    return labels


def line_curves(
    x: ArrayLike,
    series: Mapping[str, ArrayLike],
    path: PathLike,
    *,
    errors: Mapping[str, ArrayLike] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    y_scale: float = 1.0,
) -> Path:
    """Write several labelled curves over one x axis (e.g. accuracy vs noise level for HP, GP and LP).

    ``series`` maps a legend label to y values (same length as ``x``); ``errors`` optionally maps some of
    those labels to symmetric error-bar half-widths (e.g. the standard deviation over seeds); ``y_scale``
    multiplies both (100: fractions drawn in %).
    """
    return xy_curves(
        {label: (x, values) for label, values in series.items()},
        path,
        errors=errors,
        xlabel=xlabel,
        ylabel=ylabel,
        title=title,
        y_scale=y_scale,
    )


def xy_curves(
    series: Mapping[str, tuple[ArrayLike, ArrayLike]],
    path: PathLike,
    *,
    errors: Mapping[str, ArrayLike] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    y_scale: float = 1.0,
) -> Path:
    """Write labelled curves that each have their own x values: ``series`` maps a legend label to ``(x, y)``
    (e.g. accuracy vs stored pairs of several runs); ``errors`` and ``y_scale`` as in :func:`line_curves`."""
    if not series:
        raise UserError("line_curves needs at least one series")
    unknown = sorted(set(errors or {}) - set(series))
    if unknown:
        raise UserError(f"errors given for unknown series {', '.join(unknown)}; series: {', '.join(series)}")
    fig, ax = _new_figure()
    for label, (x, values) in series.items():
        xs = _array(x, "x", ndim=1)
        ys = _array(values, f"series {label!r}", ndim=1)
        if ys.shape != xs.shape:
            raise UserError(f"series {label!r} has {ys.size} values but x has {xs.size}")
        err = None if errors is None or label not in errors else _array(errors[label], f"errors {label!r}")
        if err is not None and err.shape != xs.shape:
            raise UserError(f"errors {label!r} has {err.size} values but x has {xs.size}")
        scaled_err = None if err is None else err * y_scale
        ax.errorbar(xs, ys * y_scale, yerr=scaled_err, marker="o", markersize=4, capsize=3, label=label)
    ax.legend()
    ax.grid(alpha=0.3)
    _label_axes(ax, xlabel, ylabel, title)
    return _save(fig, path)


# -- spikes ------------------------------------------------------------------------------------------


def spike_raster(
    spike_times: ArrayLike,
    spike_ids: ArrayLike,
    path: PathLike,
    *,
    n_neurons: int,
    t_max_ms: float,
    title: str | None = None,
    marker_size: float = 6.0,
) -> Path:
    """Write a raster plot: one tick per spike at (time in ms, neuron index), for ``0 <= t <= t_max_ms``.

    ``marker_size`` is the tick area in points², as in :meth:`matplotlib.axes.Axes.scatter`.
    """
    times = _array(spike_times, "spike_times", ndim=1)
    ids = _array(spike_ids, "spike_ids", ndim=1)
    if times.shape != ids.shape:
        raise UserError(f"got {times.size} spike times but {ids.size} spike ids; they must pair up")
    if n_neurons < 1 or not t_max_ms > 0:
        raise UserError(f"n_neurons and t_max_ms must be positive, got {n_neurons} and {t_max_ms}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_neurons or np.any(ids != np.round(ids))):
        raise UserError(f"spike ids must be integers in [0, {n_neurons}), got {ids.min():g}..{ids.max():g}")
    if times.size and (times.min() < 0 or times.max() > t_max_ms):
        raise UserError(
            f"spike times must lie in [0, {t_max_ms:g}] ms, got {times.min():g}..{times.max():g} ms"
        )
    fig, ax = _new_figure()
    ax.scatter(times, ids, s=marker_size, marker="|", color="black", linewidths=0.8)
    ax.set_xlim(0, t_max_ms)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    _label_axes(ax, "time (ms)", "neuron", title)
    return _save(fig, path)


def spike_events(spikes: ArrayLike, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """(times in ms, neuron ids) of the non-zero entries of a ``(steps, neurons)`` spike matrix.

    Events come in time order (ties by neuron id); step ``i`` is at ``i * dt_ms``.
    """
    s = _array(spikes, "spikes", ndim=2)
    if not dt_ms > 0:
        raise UserError(f"dt_ms must be a positive time step in ms, got {dt_ms}")
    steps, ids = np.nonzero(s)
    return steps * float(dt_ms), ids


def spike_raster_matrix(
    spikes: ArrayLike,
    path: PathLike,
    *,
    dt_ms: float,
    title: str | None = None,
    marker_size: float = 6.0,
) -> Path:
    """Write a raster plot from a boolean ``(steps, neurons)`` spike matrix; step ``i`` is at ``i*dt_ms``."""
    s = _array(spikes, "spikes", ndim=2)
    times, ids = spike_events(s, dt_ms)
    return spike_raster(
        times,
        ids,
        path,
        n_neurons=s.shape[1],
        t_max_ms=s.shape[0] * dt_ms,
        title=title,
        marker_size=marker_size,
    )


# -- classification ----------------------------------------------------------------------------------


def plot_confusion(
    cm: ArrayLike,
    path: PathLike,
    *,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
    cmap: str = "Blues",
) -> Path:
    """Write a confusion matrix (rows: true class, columns: predicted class), with per-cell values.

    ``normalize`` divides each row by its total, so cells show the fraction of each true class.
    Cell values are written only for up to 20 classes.
    """
    counts = _array(cm, "confusion matrix", ndim=2)
    n = counts.shape[0]
    if counts.shape != (n, n) or n == 0:
        raise UserError(f"a confusion matrix must be square and non-empty, got shape {counts.shape}")
    names = [str(i) for i in range(n)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n:
        raise UserError(f"got {len(names)} class names for {n} classes")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        counts = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig, ax = _new_figure()
    image = ax.imshow(counts, cmap=cmap, vmin=0, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="fraction of true class" if normalize else "samples")
    ax.set_xticks(range(n), names, rotation=90 if n > 10 else 0)
    ax.set_yticks(range(n), names)
    if n <= MAX_ANNOTATED_CLASSES:
        threshold = counts.max() / 2
        for (row, col), value in np.ndenumerate(counts):
            text = f"{value:.2f}" if normalize else f"{value:.0f}"
            ax.text(
                col,
                row,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > threshold else "black",
            )
    _label_axes(ax, "predicted class", "true class", title)
    return _save(fig, path)
