"""The settings of a DSL run as frozen dataclasses, each resolved and checked once when the run is set up.

* :class:`DSLSettings`: what defines the network (dataset, model, learning rule, neuron, classifiers, input
  coding), from the ``train`` flags or from the config a checkpoint stores. It converts to and from that
  config dict (the keys :data:`NETWORK_KEYS`, named like the flags' destinations).
* :class:`TrainingSettings`: how a ``train`` run trains (epochs, subsets, batches, optimiser, lr schedule),
  with ``--quick`` applied.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from hybridsnn.data.user_dataset import TrainedOn
from hybridsnn.dsl.block import dsl_lif_config
from hybridsnn.dsl.data import CLASSES, DATASETS, canonical_dataset, is_user_dataset
from hybridsnn.dsl.network import DSLNetwork, build_network, get_architecture, sized_layers
from hybridsnn.dsl.rules import Trainer, get_rule
from hybridsnn.errors import UserError

#: ``--quick``: one epoch on at most this many training / test samples.
QUICK_TRAIN, QUICK_TEST = 2000, 1000


@dataclass(frozen=True)
class DSLSettings:
    """The settings that define a DSL network; checked on construction, the learning rule resolved once.

    ``dataset``: a seed name (MNIST, FashionMNIST, CIFAR10, SVHN) or a registry name (``fashion-mnist`` ...),
    kept as given. ``arch``: the seed model (``--model``). ``tau``: membrane time constant in time steps
    (decay ``exp(−1/τ)`` per step). ``thresh``: firing threshold θ (in units of the input current).
    ``time_window``: time steps T per sample. ``dim_in_decoder``: target input size of a conv block's local
    classifier (features). ``fa`` / ``random_matrix``: feedback-alignment or fixed random classifiers.
    ``encoding``: ``real`` (the image as current) or ``latency`` (one spike per pixel). ``data``: the user
    dataset (``--dataset PATH``) the network is sized for (H·W·C inputs, K classes); None: a catalogued one.
    """

    dataset: str
    arch: str
    learning_rule: str
    tau: float
    thresh: float
    time_window: int
    dim_in_decoder: int
    fa: bool
    random_matrix: bool
    encoding: str
    data: TrainedOn | None = None
    #: The learning rule's trainer (:func:`hybridsnn.dsl.rules.get_rule`), resolved from ``learning_rule``.
    trainer: Trainer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arch = get_architecture(self.arch)
        if self.data is not None:  # refuses images the model cannot take
            sized_layers(arch, self.data.chw, f"--dataset {self.dataset}")
        elif arch.input_shape != DATASETS[(dataset := self.seed_dataset)].shape:
            raise UserError(
                f"model {arch.name} takes {arch.input_shape} images but {dataset} has "
                f"{DATASETS[dataset].shape}; pick a model for this dataset"
            )
        if self.fa and self.random_matrix:
            raise UserError("--fa and --random-matrix exclude each other (trained feedback alignment, or "
                            "fixed random local classifiers); give one")  # fmt: skip
        if self.encoding == "latency" and self.time_window < 2:
            raise UserError(f"--encoding latency needs --time-window >= 2 (a pixel x spikes at step "
                            f"round((T - 1)(1 - x))), got --time-window {self.time_window}")  # fmt: skip
        object.__setattr__(self, "trainer", get_rule(self.learning_rule))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DSLSettings:
        """The settings in a config dict (the train flags' ``vars(args)`` or a checkpoint's stored config);
        other keys are ignored."""
        missing = missing_settings(config)
        if missing:
            raise UserError(f"the configuration lacks the DSL setting(s) {', '.join(missing)}")
        return cls(**{key: config[key] for key in NETWORK_KEYS}, data=trained_on(config))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DSLSettings:
        """The settings of the parsed ``train`` flags."""
        return cls.from_config(vars(args))

    def to_config(self) -> dict[str, Any]:
        """The config dict of these settings (the keys :data:`NETWORK_KEYS`, as config.json stores them)."""
        return {key: getattr(self, key) for key in NETWORK_KEYS}

    @property
    def seed_dataset(self) -> str:
        """The seed's name of the dataset (MNIST, FashionMNIST, CIFAR10 or SVHN); a user dataset's path."""
        return self.dataset if self.data is not None else canonical_dataset(self.dataset)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The dataset's image shape ``(C, H, W)`` in pixels."""
        return self.data.chw if self.data is not None else DATASETS[self.seed_dataset].shape

    @property
    def num_classes(self) -> int:
        """Classes K: neurons of every local classifier."""
        return len(self.data.classes) if self.data is not None else CLASSES

    @property
    def decoder(self) -> str:
        """The kind of local classifier: ``fa``, ``random`` or ``trained``."""
        return "fa" if self.fa else "random" if self.random_matrix else "trained"

    def build(self) -> DSLNetwork:
        """A freshly initialised network of these settings (torch's global RNG draws the weights)."""
        lif = dsl_lif_config(self.tau, self.thresh)
        return build_network(self.arch, lif=lif, dim_in_decoder=self.dim_in_decoder, decoder=self.decoder,
                             num_classes=self.num_classes, input_shape=self.image_shape)  # fmt: skip


#: The keys of a config dict that :class:`DSLSettings` reads: a checkpoint must store all of them (and
#: :data:`~hybridsnn.data.user_dataset.TRAINED_ON` when ``dataset`` is a path).
NETWORK_KEYS = tuple(f.name for f in fields(DSLSettings) if f.init and f.name != "data")


def trained_on(config: Mapping[str, Any]) -> TrainedOn | None:
    """The user dataset of a config whose ``dataset`` is a path: the record a checkpoint stores, else (the
    ``train`` flags) the dataset read from the path; None for a catalogued dataset."""
    path = config["dataset"]
    return TrainedOn.from_config(path, config) if is_user_dataset(path) else None


def missing_settings(config: Mapping[str, Any]) -> list[str]:
    """The :data:`NETWORK_KEYS` that ``config`` lacks."""
    return [key for key in NETWORK_KEYS if key not in config]


@dataclass(frozen=True)
class TrainingSettings:
    """How a ``train`` run trains: ``epochs``, the first ``train_subset`` / ``test_subset`` samples (None:
    all), ``batch_size`` samples per batch, the optimiser, the initial ``lr`` and its decay by
    ``lr_decay_fact`` after each of the epochs ``lr_decay_milestones``."""

    epochs: int
    train_subset: int | None
    test_subset: int | None
    batch_size: int
    optimizer: str
    lr: float
    lr_decay_milestones: tuple[int, ...]
    lr_decay_fact: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainingSettings:
        """The parsed ``train`` flags; ``--quick`` gives 1 epoch on at most :data:`QUICK_TRAIN` training and
        :data:`QUICK_TEST` test samples."""
        epochs, train_subset, test_subset = args.epochs, args.train_subset, args.test_subset
        if args.quick:
            epochs = 1
            train_subset = min(train_subset or QUICK_TRAIN, QUICK_TRAIN)
            test_subset = min(test_subset or QUICK_TEST, QUICK_TEST)
        return cls(epochs, train_subset, test_subset, args.batch_size, args.optimizer, args.lr,
                   tuple(args.lr_decay_milestones), args.lr_decay_fact)  # fmt: skip


def evaluation_subset(args: argparse.Namespace) -> int | None:
    """The test samples ``test`` evaluates: ``--test-subset``, else :data:`QUICK_TEST` with ``--quick``, else
    all (None)."""
    return QUICK_TEST if args.quick and args.test_subset is None else args.test_subset
