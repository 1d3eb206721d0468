"""Typed, frozen settings of an HP-SNN run: the seed's defaults of the task, then the flags, then ``--quick``.

:class:`HPSettings` holds what every task reads (method, dataset, epochs, batch size, learning rates, subsets)
and the task-specific parts :class:`MultitaskSettings` and :class:`FewShotSettings`. Every run stores all of
them, flat, in its configuration and checkpoints (:meth:`HPSettings.to_config`; the keys are the flags'
destinations); :meth:`HPSettings.from_config` reads them back from a checkpoint.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from hybridsnn.data.user_dataset import TRAINED_ON, TrainedOn, is_dataset_path
from hybridsnn.errors import UserError
from hybridsnn.hp.cnn import USER_DATA_CNN, get_cnn_config, sized_for_images
from hybridsnn.hp.methods import Method, resolve_method

#: Tasks trained on images in epochs, those of them that classify single images (predict, --resume,
#: --checkpoint), and those followed by the corruption sweeps.
IMAGE_TASKS = ("simple", "tolerance", "classification")
EPOCH_TASKS = (*IMAGE_TASKS, "multitask")
SWEEP_TASKS = ("simple", "tolerance")
#: Tasks that train on a user's own dataset (``--dataset PATH``, docs/own_data.md): the MLPs and the MNIST
#: CNN, sized by it.
USER_DATA_TASKS = ("simple", "tolerance", "classification")
#: The catalogued datasets ``--dataset`` names (any other value that looks like a path is a user dataset).
CATALOGUE = ("mnist", "fashion-mnist", "cifar10", "omniglot")
#: The CIFAR-10 CNN's SGD learning rate (the seed's; its other tasks train with Adam).
CIFAR_SGD_LR = 0.08


@dataclass(frozen=True)
class SeedDefaults:
    """The seed's defaults of one task.

    epochs, batch_size: None takes the dataset CNN's (classification) or 1 (few-shot: unused).
    lr: learning rate of the GP weights; local_lr: of α, β, η (per optimiser step).
    """

    epochs: int | None
    batch_size: int | None
    lr: float
    local_lr: float
    dataset: str


SEED_DEFAULTS = {
    "simple": SeedDefaults(30, 100, 1e-3, 5e-4, "mnist"),
    "tolerance": SeedDefaults(51, 100, 1e-3, 5e-4, "mnist"),
    "classification": SeedDefaults(None, None, 5e-4, 5e-4, "mnist"),
    "multitask": SeedDefaults(10, 100, 5e-4, 5e-5, "mnist"),
    "fewshot": SeedDefaults(None, None, 8e-5, 3e-5, "omniglot"),
}


@dataclass(frozen=True)
class QuickCaps:
    """``--quick``: at most ~1 CPU-minute per task with clear learning (docs/hp.md, «Usage»).

    MLP tasks train 1 epoch on 20 000 images (multitask: per task) and test on 1 000; few-shot runs 150
    meta-iterations tested every 50 on 50 episodes; multitask learns 3 tasks with 128 hidden neurons and a
    mask density of at least ``min_sparsity``. The full CNNs take ~0.14 CPU-s per training image, so their
    quick runs use a narrower CNN (``cnn_divisors``: conv channels / 8, hidden dense stages / 4; same
    neurons, rule and decoding), batches of ``cnn_batch`` and ``cnn_subsets`` (train, test) images.
    """

    train_subset: int = 20000
    test_subset: int = 1000
    epochs: int = 1
    iterations: int = 150
    eval_every: int = 50
    test_episodes: int = 50
    tasks: int = 3
    hidden: int = 128
    min_sparsity: float = 0.3
    cnn_subsets: tuple[int, int] = (6000, 500)
    cnn_batch: int = 20
    cnn_divisors: tuple[int, int] = (8, 4)


QUICK = QuickCaps()


@dataclass(frozen=True)
class MultitaskSettings:
    """Permuted-MNIST continual learning (the defaults are the seed's and the flags' defaults).

    tasks: permuted tasks learned in turn; meta_tasks: the first ``meta_tasks`` are each followed by the
    replay meta phase (hp); hidden: neurons per hidden layer; sparsity: fraction of ones in the task masks,
    in (0, 1]; ewc_lambda: EWC penalty strength (dimensionless, method ewc).
    """

    tasks: int = 50
    meta_tasks: int = 35
    hidden: int = 1024
    sparsity: float = 0.03
    ewc_lambda: float = 5000.0


@dataclass(frozen=True)
class FewShotSettings:
    """Omniglot N-way K-shot learning (the defaults are the flags' defaults).

    iterations: meta iterations; eval_every: test every that many iterations; ways, shots: N and K;
    omniglot_sets: ``small`` (background_small1+2) or ``full`` (background+evaluation); test_episodes:
    episodes per test.
    """

    iterations: int = 1_000_000
    eval_every: int = 1000
    ways: int = 5
    shots: int = 1
    omniglot_sets: str = "small"
    test_episodes: int = 100


@dataclass(frozen=True)
class HPSettings:
    """The resolved settings of one HP-SNN run.

    epochs: training epochs (multitask: per task); batch_size: samples per batch; lr, local_lr: learning
    rates of the GP weights and of α, β, η; train_subset, test_subset: the first N samples of each split
    (None: all); cnn_divisors: the narrower CNN of a quick classification run (None: the seed's CNN);
    data: the user dataset (``--dataset PATH``) the MLP is sized for (H·W·C inputs, K outputs), None for a
    catalogued one.
    """

    task: str
    method: Method
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    local_lr: float
    train_subset: int | None
    test_subset: int | None
    multitask: MultitaskSettings
    fewshot: FewShotSettings
    cnn_divisors: tuple[int, int] | None = None
    data: TrainedOn | None = None

    def to_config(self) -> dict[str, Any]:
        """The settings as stored in config.json and checkpoints: flat, one key per flag destination."""
        config = {
            "task": self.task,
            "method": self.method.name,
            "dataset": self.dataset,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "local_lr": self.local_lr,
            "train_subset": self.train_subset,
            "test_subset": self.test_subset,
            **asdict(self.multitask),
            **asdict(self.fewshot),
        }
        if self.cnn_divisors:
            config["cnn_divisors"] = list(self.cnn_divisors)
        if self.data is not None:
            config[TRAINED_ON] = self.data.to_dict()
        return config

    @property
    def cnn_name(self) -> str:
        """The catalogued CNN of a ``classification`` run: its dataset's, or for a user dataset the one it is
        sized from (:data:`~hybridsnn.hp.cnn.USER_DATA_CNN`)."""
        return USER_DATA_CNN if self.data is not None else self.dataset

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(H, W)`` of a user dataset's images (None: a catalogued dataset)."""
        return None if self.data is None else self.data.image_shape[:2]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HPSettings:
        """The settings stored in a checkpoint's config (it holds task, method, dataset; a setting it lacks
        takes the task's default)."""
        divisors = config.get("cnn_divisors")
        settings = resolve_settings(config["task"], config)
        return replace(settings, cnn_divisors=tuple(divisors) if divisors else None)


def _first(*values: Any) -> Any:
    """The first value that is not None."""
    return next(value for value in values if value is not None)


def is_user_dataset(dataset: object) -> bool:
    """Whether a ``--dataset`` value is the path of a user's own dataset, not a catalogued name."""
    return isinstance(dataset, str) and is_dataset_path(dataset, CATALOGUE)


def check_dataset(task: str, dataset: str) -> str:
    """``dataset`` if ``task`` runs on it (fewshot: always omniglot; a user dataset's path: image tasks)."""
    if task == "fewshot":
        return "omniglot"
    if is_user_dataset(dataset):
        if task not in USER_DATA_TASKS:
            tasks = f"{', '.join(USER_DATA_TASKS[:-1])} or {USER_DATA_TASKS[-1]}"
            raise UserError(f"--dataset {dataset} (a user dataset) trains --task {tasks} (networks sized "
                            f"by the images), not --task {task}: its networks are fixed to the catalogued "
                            "datasets' images")  # fmt: skip
        return dataset
    if task == "classification":
        get_cnn_config(dataset)
    elif dataset not in ("mnist", "fashion-mnist"):
        raise UserError(f"task {task} runs on mnist or fashion-mnist, got --dataset {dataset!r}")
    return dataset


def _part(kind: type, given: Mapping[str, Any]) -> Any:
    """A task-specific part from the ``given`` values of its fields (a field not given: its default)."""
    defaults = kind()
    return kind(**{f.name: given.get(f.name, getattr(defaults, f.name)) for f in fields(kind)})


def resolve_settings(task: str, given: Mapping[str, Any]) -> HPSettings:
    """The settings of ``task`` from ``given`` values by flag destination (a value that is None or not given
    takes the seed's default of the task), without ``--quick``."""
    method = resolve_method(task, given.get("method"))
    defaults = SEED_DEFAULTS[task]
    dataset = check_dataset(task, given.get("dataset") or defaults.dataset)
    data = TrainedOn.from_config(dataset, given) if is_user_dataset(dataset) else None
    cnn = get_cnn_config(USER_DATA_CNN if data else dataset) if task == "classification" else None
    if cnn is not None and data is not None:  # refuses images too small for the CNN's poolings
        sized_for_images(cnn, data.chw, len(data.classes), dataset)
    local_lr = given.get("local_lr")
    return HPSettings(
        task=task,
        method=method,
        dataset=dataset,
        epochs=_first(given.get("epochs"), defaults.epochs, cnn.epochs if cnn else 1),
        batch_size=_first(given.get("batch_size"), defaults.batch_size, cnn.batch_size if cnn else 1),
        lr=_first(given.get("lr"), CIFAR_SGD_LR if dataset == "cifar10" else defaults.lr),
        local_lr=local_lr if local_lr is not None else defaults.local_lr,
        train_subset=given.get("train_subset"),
        test_subset=given.get("test_subset"),
        multitask=_part(MultitaskSettings, given),
        fewshot=_part(FewShotSettings, given),
        data=data,
    )


def quick(settings: HPSettings, batch_size_given: bool) -> HPSettings:
    """``settings`` capped to a ``--quick`` run (:class:`QuickCaps`); ``batch_size_given``: ``--batch-size``
    was set (a quick CNN then keeps it)."""
    cnn = settings.task == "classification"
    train_cap, test_cap = QUICK.cnn_subsets if cnn else (QUICK.train_subset, QUICK.test_subset)
    multitask, fewshot = settings.multitask, settings.fewshot
    iterations = min(fewshot.iterations, QUICK.iterations)
    return replace(
        settings,
        epochs=min(settings.epochs, QUICK.epochs),
        batch_size=QUICK.cnn_batch if cnn and not batch_size_given else settings.batch_size,
        train_subset=min(settings.train_subset or train_cap, train_cap),
        test_subset=min(settings.test_subset or test_cap, test_cap),
        cnn_divisors=QUICK.cnn_divisors if cnn else settings.cnn_divisors,
        multitask=replace(
            multitask,
            tasks=min(multitask.tasks, QUICK.tasks),
            hidden=min(multitask.hidden, QUICK.hidden),
            sparsity=max(multitask.sparsity, QUICK.min_sparsity),
        ),
        fewshot=replace(
            fewshot,
            iterations=iterations,
            eval_every=min(fewshot.eval_every, QUICK.eval_every, iterations),
            test_episodes=min(fewshot.test_episodes, QUICK.test_episodes),
        ),
    )


def test_subset_of(args: argparse.Namespace) -> int | None:
    """The test samples a ``test`` command evaluates on: ``--test-subset``, else with ``--quick`` the quick
    cap, else None (all)."""
    return QUICK.test_subset if args.quick and args.test_subset is None else args.test_subset


def settings_from(args: argparse.Namespace) -> HPSettings:
    """The training settings of the parsed flags: seed defaults of the task, then flags, then ``--quick``.

    Counts are >= 1 already (their flags' type is ``values.count``).
    """
    settings = resolve_settings(args.task, vars(args))
    return quick(settings, args.batch_size is not None) if args.quick else settings
