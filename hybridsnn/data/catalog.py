"""The built-in datasets, registered when :mod:`hybridsnn.data` is imported."""

from __future__ import annotations

from functools import partial

from hybridsnn.data import babi, cifar, fsdd, mnist, omniglot, toy
from hybridsnn.data.registry import DatasetSpec, register_dataset

IDX_COUNTS = {"train": 60000, "test": 10000}

BUILTIN_DATASETS = (
    DatasetSpec(
        "mnist", "MNIST handwritten digits, 28x28 grey images, 10 classes (torchvision MNIST/raw layout)",
        ("train", "test"), partial(mnist.load_idx_split, "mnist"), partial(mnist.idx_paths, "mnist"),
        partial(mnist.fetch_idx, "mnist"), mnist.OPTIONS, IDX_COUNTS, (28, 28), "uint8",
    ),
    DatasetSpec(
        "fashion-mnist", "Fashion-MNIST clothing, 28x28 grey images, 10 classes (FashionMNIST/raw layout)",
        ("train", "test"), partial(mnist.load_idx_split, "fashion-mnist"),
        partial(mnist.idx_paths, "fashion-mnist"), partial(mnist.fetch_idx, "fashion-mnist"),
        mnist.OPTIONS, IDX_COUNTS, (28, 28), "uint8",
    ),
    DatasetSpec(
        "cifar10", "CIFAR-10 colour images, 32x32x3, 10 classes (cifar-10-batches-py layout)",
        ("train", "test"), cifar.load_cifar10, cifar.cifar10_paths, cifar.fetch_cifar10,
        counts={"train": 50000, "test": 10000}, sample_shape=(32, 32, 3), dtype="uint8",
    ),
    DatasetSpec(
        "svhn", "SVHN street-view house numbers, 32x32x3, 10 classes (SVHN/<split>_32x32.mat)",
        ("train", "test", "extra"), cifar.load_svhn, cifar.svhn_paths, cifar.fetch_svhn,
        counts={"train": 73257, "test": 26032, "extra": 531131}, sample_shape=(32, 32, 3), dtype="uint8",
    ),
    DatasetSpec(
        "omniglot", "Omniglot characters, 105x105 grey images; splits: image sets and the 20 one-shot runs",
        tuple(omniglot.ARCHIVES), omniglot.load_omniglot, omniglot.omniglot_paths, omniglot.fetch_omniglot,
        counts=omniglot.COUNTS, sample_shape=omniglot.IMAGE_SHAPE, dtype="uint8",
    ),
    DatasetSpec(
        "fsdd", "Free Spoken Digit Dataset, 8 kHz int16 waveforms, 10 digits (fsdd/recordings/*.wav)",
        ("train", "test"), fsdd.load_fsdd, fsdd.fsdd_paths, fsdd.fetch_fsdd, fsdd.OPTIONS, fsdd.COUNTS,
        dtype="int16",
    ),
    DatasetSpec(
        "babi", "bAbI v1.2 question answering, en-10k, 20 tasks (option task): story, question, answer",
        ("train", "test"), babi.load_babi, babi.babi_paths, babi.fetch_babi, babi.OPTIONS,
    ),
    DatasetSpec(
        "iris", "Iris flowers, 4 features (cm), 3 classes, 150 rows (scikit-learn's bundled copy)",
        ("all",), toy.load_iris, toy.no_files, counts={"all": 150}, sample_shape=(4,), dtype="float64",
    ),
    DatasetSpec(
        "xor", "the 4 XOR patterns, 2 inputs, 2 classes",
        ("all",), toy.load_xor, toy.no_files, options=toy.XOR_OPTIONS, counts={"all": 4}, sample_shape=(2,),
        dtype="float64",
    ),
)

for _spec in BUILTIN_DATASETS:
    register_dataset(_spec, replace=True)
