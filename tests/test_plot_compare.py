"""``hybridsnn plot compare RUN ...`` and the labelled axes of learning curves: the lines, labels and units
read back from the matplotlib figure, and one-line errors that write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybridsnn import cli, plots, registry
from hybridsnn.registry import ModelInfo
from hybridsnn.results import Run
from hybridsnn.system_info import TaskView, accuracy


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """System "demo": main curve = test accuracy over training samples; "other": a second system."""
    view = TaskView((), accuracy("accuracy", "test accuracy", "test"), "step", "training samples")
    monkeypatch.setitem(
        registry.MODELS, "demo", ModelInfo("demo", "demo_driver", "t", ("toy",), "np", view=view)
    )
    monkeypatch.setitem(registry.MODELS, "other", ModelInfo("other", "demo_driver", "t", ("toy",), "np"))


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the plots module saves (they are still written)."""
    saved: list[Any] = []
    save = plots._save

    def keep(fig: Any, path: Any) -> Path:
        saved.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return saved


def make_run(out: Path, name: str, curve: list[float], model: str = "demo", **config: Any) -> Path:
    """A run with one test-accuracy record per 100 training samples (and a train-split loss)."""
    run = Run.create(
        out, model=model, task="toy", command="train", config={"run_name": name, **config}, name=name
    )
    for index, value in enumerate(curve, 1):
        run.log_metrics(step=100 * index, epoch=index, split="test", accuracy=value)
        run.log_metrics(step=100 * index, epoch=index, split="train", loss=1.0 / index)
    return run.path


def main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    return status, capsys.readouterr().err


def test_compare_draws_one_line_per_run_with_units(demo, figures, tmp_path, capsys):
    a = make_run(tmp_path, "a", [0.5, 0.75], lr=0.1, seed=1)
    b = make_run(tmp_path, "b", [0.25, 0.5, 1.0], lr=0.2, seed=1)
    out = tmp_path / "fig" / "cmp.png"
    status, _ = main(["plot", "compare", str(a), str(b), "--output", str(out)], capsys)
    assert status == 0 and out.is_file()
    (ax,) = figures[-1].axes
    assert ax.get_xlabel() == "training samples" and ax.get_ylabel() == "test accuracy (%)"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a: lr=0.1", "b: lr=0.2"]  # the seed is equal: not named
    np.testing.assert_allclose(lines[0].get_xdata(), [100, 200])
    np.testing.assert_allclose(lines[1].get_ydata(), [25.0, 50.0, 100.0])  # fractions drawn in %


def test_compare_metric_flag_draws_another_metric_unscaled(demo, figures, tmp_path, capsys):
    a = make_run(tmp_path, "a", [0.5, 0.75])
    status, _ = main(["plot", "compare", str(a), "--metric", "loss"], capsys)
    assert status == 0 and (a / "plots" / "compare_loss.png").is_file()
    (ax,) = figures[-1].axes
    assert ax.get_ylabel() == "loss"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 0.5])


@pytest.mark.parametrize("case", ["other system", "not a run", "unknown metric", "bad suffix"])
def test_compare_refuses_bad_input_in_one_line_and_writes_nothing(demo, tmp_path, capsys, case):
    a = make_run(tmp_path / "runs", "a", [0.5])
    b = make_run(tmp_path / "runs", "b", [0.5], model="other")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "fig" / "cmp.png"
    argv, message = {
        "other system": ([str(a), str(b)], "plot compare draws runs of one system and task"),
        "not a run": ([str(a), str(tmp_path / "empty")], "is not a run directory (no config.json)"),
        "unknown metric": ([str(a), "--metric", "bogus"], "no records with metric(s) bogus"),
        "bad suffix": ([str(a), "--output", str(tmp_path / "fig" / "cmp.xyz")], "allowed suffixes"),
    }[case]
    argv = argv if "--output" in argv else [*argv, "--output", str(out)]
    status, err = main(["plot", "compare", *argv], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and err.startswith("hybridsnn: error: ")
    assert message in err
    assert not (tmp_path / "fig").exists() and not (a / "plots").exists()


def test_accuracy_curves_label_both_axes_with_units(figures, tmp_path):
    run = [{"step": 10, "epoch": 1, "split": "test", "sl_accuracy": 0.8, "usl_accuracy": 0.7}]
    plots.accuracy_curves(
        run, tmp_path / "a.png", metrics=("sl_accuracy", "usl_accuracy"), xlabel="training samples"
    )
    (ax,) = figures[-1].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training samples", "accuracy (%)")
    assert [line.get_ydata()[0] for line in ax.get_lines()] == pytest.approx([80.0, 70.0])
    plots.accuracy_curves(run, tmp_path / "b.png", metrics=("sl_accuracy",), x="epoch", ylabel="SL accuracy")
    (ax,) = figures[-1].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epochs", "SL accuracy (%)")
    losses = [{"step": 1, "split": "train", "loss": 0.25}]
    plots.accuracy_curves(losses, tmp_path / "c.png", metrics=("loss",))
    (ax,) = figures[-1].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training steps", "loss")
    assert ax.get_lines()[0].get_ydata()[0] == 0.25
