"""What a system declares about itself for the registry (:mod:`hybridsnn.registry`): no project imports.

Besides its name, tasks and datasets, a system names the numbers that matter in its runs (:class:`Metric`,
grouped per task in :class:`TaskView`): ``hybridsnn report`` shows them as the columns of the system's
tables, and ``hybridsnn plot compare`` draws the view's learning curve by default.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Multiply a fraction (0..1) by this to show it in percent.
PERCENT = 100.0


@dataclass(frozen=True)
class Metric:
    """One number of a run: ``key`` in ``results.json``'s ``metrics`` (or a top-level key such as
    ``samples``), the column heading with its unit (``label``), and the factor the value is shown with
    (``scale``: 100 shows a fraction in %). For a learning curve, ``split`` names the ``metrics.jsonl``
    split whose records hold ``key`` (None: every split)."""

    key: str
    label: str
    scale: float = 1.0
    split: str | None = None


@dataclass(frozen=True)
class TaskView:
    """What the report and the run comparison show of one task: the key final metrics (report columns),
    the learning curve (a ``metrics.jsonl`` metric), and its x axis: the record field (``step`` or
    ``epoch``) and the axis label with its unit."""

    metrics: tuple[Metric, ...]
    curve: Metric | None = None
    x: str = "step"
    x_label: str = "training steps"


@dataclass(frozen=True)
class ModelInfo:
    """A registered system: CLI name, driver module, one-line summary, tasks, what runs it, the names
    of the catalogued datasets it reads (``hybridsnn data list``), and what its runs report: ``view`` for
    every task, ``task_views`` (task, view) pairs for the tasks that differ (:meth:`view_for`)."""

    name: str
    module: str
    summary: str
    tasks: tuple[str, ...]
    runs_on: str
    datasets: tuple[str, ...] = ()
    view: TaskView | None = None
    task_views: tuple[tuple[str, TaskView], ...] = ()

    def view_for(self, task: str | None) -> TaskView | None:
        """The view of ``task``: the system's own (``task_views``, then ``view``), else the one
        :data:`SYSTEM_VIEWS` holds for it (None: nothing is named, the report shows every number)."""
        own = dict(self.task_views).get(str(task), self.view)
        if own is not None:
            return own
        table = SYSTEM_VIEWS.get(self.name, {})
        return table.get(str(task), table.get(ANY_TASK))


def accuracy(key: str, label: str, split: str | None = None) -> Metric:
    """A fraction-of-correct metric shown in percent, e.g. ``accuracy("test_accuracy", "test accuracy")``."""
    return Metric(key, f"{label} (%)", PERCENT, split)


def _view(*metrics: Metric, curve: Metric | None = None, per: str = "epoch") -> TaskView:
    """A view whose curve runs over epochs (``per="epoch"``) or training samples (``per="sample"``)."""
    x, label = ("epoch", "epochs") if per == "epoch" else ("step", "training samples")
    return TaskView(metrics, curve, x, label)


#: Key of a system's view in :data:`SYSTEM_VIEWS` for the tasks without one of their own.
ANY_TASK = "*"
_TEST = accuracy("test_accuracy", "test accuracy")
_BEST_TEST = accuracy("best_test_accuracy", "best test accuracy")
_BEST_VAL = accuracy("best_val_accuracy", "best validation accuracy")
_TEST_CURVE = accuracy("accuracy", "test accuracy", "test")
_VAL_CURVE = accuracy("accuracy", "validation accuracy", "val")

#: The key metrics and learning curve of each registered system, by system name and task.
SYSTEM_VIEWS: dict[str, dict[str, TaskView]] = {
    "sym-stdp": {
        ANY_TASK: _view(
            accuracy("sl_accuracy", "SL accuracy"),
            accuracy("usl_accuracy", "USL accuracy"),
            curve=accuracy("sl_accuracy", "SL test accuracy", "test"),
            per="sample",
        )
    },
    "dsl": {ANY_TASK: _view(_TEST, _BEST_TEST, curve=_TEST_CURVE)},
    "hp": {
        ANY_TASK: _view(_TEST, _BEST_TEST, curve=_TEST_CURVE),
        "fewshot": TaskView((_TEST, _BEST_TEST), _TEST_CURVE, "step", "meta-training iterations"),
        "multitask": TaskView(
            (accuracy("average_accuracy", "average accuracy over tasks"),),
            accuracy("accuracy", "average accuracy over seen tasks", "tasks"),
            "epoch",
            "tasks learned",
        ),
    },
    "shifting": {
        ANY_TASK: _view(_TEST, _BEST_TEST, curve=_TEST_CURVE),
        "xor": _view(
            accuracy("success_rate", "runs solved"), curve=accuracy("accuracy", "training accuracy", "train")
        ),
        "iris": _view(
            _TEST,
            accuracy("train_accuracy", "training accuracy"),
            curve=accuracy("accuracy", "fold-0 test accuracy", "test-fold0"),
        ),
        "spikes": _view(
            accuracy("validation_accuracy", "validation accuracy"),
            curve=accuracy("accuracy", "validation accuracy", "validation"),
        ),
    },
    "hebbian": {
        ANY_TASK: _view(_TEST, _BEST_VAL, curve=_VAL_CURVE),
        "omniglot": _view(
            _TEST, accuracy("test_runs_accuracy", "one-shot runs accuracy"), _BEST_VAL, curve=_VAL_CURVE
        ),
        "cross-modal": _view(
            Metric("test_mse", "test image MSE"),
            _TEST,
            curve=Metric("mse", "validation image MSE", split="val"),
        ),
        "concentration": _view(
            Metric("test_flips", "test flips per game (greedy)"),
            Metric("test_sampled_flips", "test flips per game (sampled)"),
            Metric("random_flips", "random player's flips per game"),
            Metric("best_val_flips", "best validation flips"),
            curve=Metric("flips", "validation flips per game", split="val"),
        ),
    },
}
