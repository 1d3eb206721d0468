"""Users' own image datasets, named by path where a system takes ``--dataset`` (docs/own_data.md).

Two forms:

* a ``.npz`` file with the arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``: images ``(N, H, W)`` or
  ``(N, H, W, C)`` as uint8 0..255 or floats in [0, 1], labels whole numbers 0..K-1 (K = the largest label
  + 1; an optional string array ``classes`` of length K names them, default ``"0" .. "K-1"``);
* a folder with ``train/<class>/*.png`` and ``test/<class>/*.png``: the class names are the sorted names of
  the class folders, the same set in both splits; grey PNGs (modes 1, L, LA) give ``(N, H, W)`` uint8, any
  other mode is converted to RGB, ``(N, H, W, 3)`` (if one image of a dataset is colour, all are); files
  sorted by name within a class, and the classes interleaved (first image of every class, then the second…).

A single channel ``(N, H, W, 1)`` is stored as ``(N, H, W)``. All images of one dataset, train and test, must
be of one size. Every defect ends in one :class:`~hybridsnn.errors.DataError` line naming the value and what
is allowed. :func:`load_user_dataset` returns an :class:`~hybridsnn.data.array_dataset.ArrayDataset` per
split, so subsets, encoders and preprocessing work on it as on the catalogued datasets.
"""

from __future__ import annotations

import argparse
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridsnn.checks.arrays import check_labels, check_numeric_array
from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.errors import CheckpointError, DataError, UserError

SPLITS = ("train", "test")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
FORMATS = ("a .npz file with x_train, y_train, x_test, y_test, or a folder with train/<class>/*.png and "
           "test/<class>/*.png")  # fmt: skip
GREY_MODES = ("1", "L", "LA")  # Pillow modes read as one grey channel
Splits = dict[str, ArrayDataset]
_CACHE: dict[tuple, Splits] = {}  # the last dataset read, so train and test are not read twice


def is_dataset_path(value: str, names: Sequence[str] = ()) -> bool:
    """Whether a ``--dataset`` value names a user dataset: not one of ``names`` (the catalogued datasets,
    which take precedence: write ``./mnist`` for a folder called mnist) and an existing path, a value with
    a path separator, or a name ending in ``.npz``."""
    if value in names:
        return False
    separators = [s for s in (os.sep, os.altsep, "/") if s]
    return os.path.exists(value) or any(s in value for s in separators) or value.lower().endswith(".npz")


def dataset_flag(names: Sequence[str]) -> Callable[[str], str]:
    """An argparse ``type=`` for ``--dataset``: one of ``names`` or the path of a user dataset (checked to
    exist here; its contents are checked when it is loaded)."""

    def parse(value: str) -> str:
        if value in names:
            return value
        if not is_dataset_path(value, names):
            choose = f"choose from {', '.join(names)}, or give" if names else "give"
            raise argparse.ArgumentTypeError(
                f"invalid choice: {value!r} ({choose} the path of your own "
                "dataset: a .npz file or a folder with train/ and test/)"
            )
        if not os.path.exists(value):
            raise argparse.ArgumentTypeError(f"dataset path {value!r} does not exist; expected {FORMATS}")
        return value

    return parse


def load_user_dataset(path: str | os.PathLike[str], split: str, *, limit: int | None = None) -> ArrayDataset:
    """Split ``train`` or ``test`` of the user dataset at ``path``, the first ``limit`` samples (None: all).

    Both splits are read and checked together (one image size, one class list), so a defect of either is
    reported whichever split is asked for.
    """
    if split not in SPLITS:
        raise DataError(f"a user dataset has the splits train and test, not {split!r}")
    data = load_user_splits(path)[split]
    return data if limit is None else data.subset(min(limit, len(data)))


def load_user_splits(path: str | os.PathLike[str]) -> Splits:
    """Both splits of the user dataset at ``path``, checked (see the module docstring). The last dataset
    read is kept (until its files change), so loading train and then test reads it once; do not modify the
    arrays in place."""
    source = Path(path)
    if not source.exists():
        raise DataError(f"dataset path {str(path)!r} does not exist; expected {FORMATS}")
    key = _stamp(source)
    if key not in _CACHE:
        splits = _read_folder(source) if source.is_dir() else _read_npz(source)
        _check_same_size(splits, str(path))
        _CACHE.clear()
        _CACHE[key] = splits
    return _CACHE[key]


def image_shape(data: ArrayDataset) -> tuple[int, int, int]:
    """``(H, W, C)`` of the images of ``data`` (C = 1 for grey ``(N, H, W)``)."""
    return hwc(tuple(data.x.shape[1:]))


def hwc(shape: Sequence[int]) -> tuple[int, int, int]:
    """One image's shape ``(H, W)`` (grey) or ``(H, W, C)`` as ``(H, W, C)``."""
    return (int(shape[0]), int(shape[1]), int(shape[2]) if len(shape) == 3 else 1)


def require_grey(data: ArrayDataset, system: str) -> ArrayDataset:
    """``data`` if its images have one channel, else the one-line error that ``system`` needs grey images."""
    height, width, channels = image_shape(data)
    if channels != 1:
        raise UserError(
            f"dataset {data.name!r} holds {height}x{width} images with {channels} channels; {system} takes "
            "one-channel (grey) images: convert them to grey, e.g. Pillow's Image.convert('L')"
        )
    return data


def as_pixels(images: np.ndarray) -> np.ndarray:
    """Images as uint8 pixels 0..255 (floats in [0, 1] are scaled by 255 and rounded)."""
    images = np.asarray(images)
    return images if images.dtype == np.uint8 else np.rint(images * 255.0).astype(np.uint8)


#: The key of a run configuration (DSL, HP) or of a checkpoint's metadata (Shifting) that holds a
#: :class:`TrainedOn`.
TRAINED_ON = "user_data"

#: The advice that ends the refusal to ``--resume`` a run whose dataset changed (every system).
RESTORE_OR_RESTART = "restore that dataset or start a new run"


@dataclass(frozen=True)
class TrainedOn:
    """The user dataset a network was trained on, as its checkpoint records it: the training run's
    ``--dataset`` path, the image shape ``(H, W, C)`` and the class names (so ``test`` and ``predict`` rebuild
    the network and refuse data of another size or other classes)."""

    path: str
    image_shape: tuple[int, int, int]
    classes: tuple[str, ...]

    @classmethod
    def of(cls, path: str, data: ArrayDataset) -> TrainedOn:
        """The record of ``data``, loaded from ``path``."""
        return cls(str(path), image_shape(data), tuple(data.classes))

    @property
    def n_inputs(self) -> int:
        """Input values of one image, H·W·C."""
        return int(math.prod(self.image_shape))

    @property
    def n_outputs(self) -> int:
        """Classes, one output neuron each."""
        return len(self.classes)

    @property
    def chw(self) -> tuple[int, int, int]:
        """The image shape as ``(C, H, W)`` (what :func:`hybridsnn.data.read_image_file` checks)."""
        height, width, channels = self.image_shape
        return channels, height, width

    def describe(self) -> str:
        """E.g. ``the user dataset data.npz (12x10x1 images, classes a, b, c)``."""
        size = "x".join(map(str, self.image_shape))
        return f"the user dataset {self.path} ({size} images, classes {', '.join(self.classes)})"

    def to_dict(self) -> dict[str, Any]:
        """The configuration form (JSON)."""
        return {"path": self.path, "image_shape": list(self.image_shape), "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, meta: Any, source: str) -> TrainedOn:
        """The record stored as ``meta`` in ``source`` (a checkpoint), refused in one line when damaged."""
        where = f"{source}: {TRAINED_ON}"
        if not isinstance(meta, Mapping):
            raise CheckpointError(f"{where} is {meta!r}; expected a mapping with path, image_shape, classes")
        path, shape, classes = meta.get("path"), meta.get("image_shape"), meta.get("classes")
        if not isinstance(path, str):
            raise CheckpointError(f"{where}.path is {path!r}; expected a path")
        whole = isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
        if not (whole and len(shape) == 3 and min(shape) >= 1):
            raise CheckpointError(f"{where}.image_shape is {shape!r}; expected [H, W, C], whole numbers >= 1")
        if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
                and len(set(classes)) == len(classes)):  # fmt: skip
            raise CheckpointError(f"{where}.classes is {classes!r}; expected at least 2 distinct class names")
        return cls(path, (shape[0], shape[1], shape[2]), tuple(classes))

    @classmethod
    def from_config(cls, path: str, config: Mapping[str, Any]) -> TrainedOn:
        """The record of the user dataset at ``path`` for a run configuration: the one ``config`` stores
        under :data:`TRAINED_ON` (a checkpoint's), else (a new run's flags) read from the dataset itself."""
        if config.get(TRAINED_ON) is not None:
            return cls.from_dict(config[TRAINED_ON], "the configuration")
        return cls.of(path, load_user_dataset(path, "train"))

    def check(self, data: ArrayDataset, source: str) -> ArrayDataset:
        """``data`` if its images and classes are those of this record, else the one-line refusal naming
        ``source`` (what the network was trained for)."""
        self.check_same(TrainedOn.of(data.name, data), source)
        return data

    def check_same(self, found: TrainedOn, source: str, advice: str = "") -> None:
        """Refuse in one line, naming ``source`` and ending with ``advice`` if given, a dataset record
        ``found`` (what its path holds now) with other images or classes than this one."""
        if (found.image_shape, found.classes) != (self.image_shape, self.classes):
            raise UserError(f"{source} was trained on {self.describe()}; {found.path} now holds "
                            f"{'x'.join(map(str, found.image_shape))} images, classes "
                            f"{', '.join(found.classes)}" + (f"; {advice}" if advice else ""))  # fmt: skip


def check_resumed_data(last_config: Mapping[str, Any], given: TrainedOn | None, run_dir: str) -> None:
    """Refuse to ``--resume`` ``run_dir`` when its user dataset (``given``: what the path holds now) no longer
    holds the images and classes that its last checkpoint (configuration ``last_config``) was trained on."""
    if given is not None and last_config.get(TRAINED_ON) is not None:
        stored = TrainedOn.from_dict(last_config[TRAINED_ON], f"--resume {run_dir!r}: its last checkpoint")
        stored.check_same(given, f"--resume {run_dir!r}: the run", RESTORE_OR_RESTART)


def check_same_data(stored: TrainedOn | None, given: TrainedOn | None, checkpoint: str, dataset: str) -> None:
    """Refuse to train on ``--dataset dataset`` (``given``: its record, None for a catalogued dataset) from
    a ``--checkpoint`` whose network was trained on other data (``stored``): another image shape, other
    classes, or a user dataset against a catalogued one. Two catalogued datasets are left to the system."""
    if stored is None and given is None:
        return
    if stored is not None and given is not None and (stored.image_shape, stored.classes) == (
        given.image_shape, given.classes):  # fmt: skip
        return
    trained = stored.describe() if stored is not None else "a catalogued dataset"
    found = given.describe() if given is not None else "a catalogued dataset"
    raise UserError(f"--checkpoint {checkpoint} was trained on {trained}, not on --dataset {dataset} "
                    f"({found}); train from a checkpoint of the same images and classes")  # fmt: skip


# -- .npz ------------------------------------------------------------------------------------------------
def _read_npz(source: Path) -> Splits:
    where = f"dataset {str(source)!r}"
    try:
        archive = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{where} is not a readable .npz archive ({exc}); expected {FORMATS}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{where} is a single .npy array, not an .npz archive; expected {FORMATS}")
    with archive:
        missing = [key for key in NPZ_KEYS if key not in archive.files]
        if missing:
            raise DataError(f"{where} lacks {', '.join(missing)}; expected the arrays {', '.join(NPZ_KEYS)} "
                            f"(it has {', '.join(archive.files) or 'none'})")  # fmt: skip
        try:
            arrays = {key: np.asarray(archive[key]) for key in NPZ_KEYS}
            names = np.asarray(archive["classes"]) if "classes" in archive.files else None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{where}: an array is not readable ({exc}); expected numeric arrays "
                            "(saved with numpy.savez, no pickled objects)") from None  # fmt: skip
    xs = {split: _checked_images(arrays[f"x_{split}"], f"{where}: x_{split}") for split in SPLITS}
    n_classes = None if names is None else _class_count(names, where)
    ys = {split: check_labels(arrays[f"y_{split}"], f"{where}: y_{split}", count=len(xs[split]),
                              classes=n_classes) for split in SPLITS}  # fmt: skip
    if names is None:
        n_classes = max(int(y.max()) for y in ys.values()) + 1
        classes = tuple(str(c) for c in range(n_classes))
    else:
        classes = tuple(str(c) for c in names)
    if n_classes < 2:
        raise DataError(f"{where}: the labels name {n_classes} class; a classification needs at least 2")
    return {s: _dataset(xs[s], ys[s], classes, str(source), s, "npz") for s in SPLITS}


def _class_count(names: np.ndarray, where: str) -> int:
    if names.ndim != 1 or names.dtype.kind not in "US" or len(set(names.tolist())) != len(names):
        raise DataError(f"{where}: classes holds {names.dtype} values of shape {names.shape}; expected a 1-D "
                        "array of distinct class names (strings), one per label 0..K-1")  # fmt: skip
    return len(names)


def _checked_images(x: np.ndarray, where: str) -> np.ndarray:
    """Images as stored (uint8, or float32 in [0, 1]) of shape (N, H, W) or (N, H, W, C)."""
    if x.dtype.kind not in "fu" or (x.dtype.kind == "u" and x.dtype != np.uint8):
        raise DataError(f"{where} holds {x.dtype} values; expected uint8 pixels 0..255 or floats in [0, 1]")
    x = check_numeric_array(x, where)
    if x.ndim not in (3, 4) or min(x.shape[1:]) < 1:
        raise DataError(f"{where} has shape {x.shape}; expected images (N, H, W) or (N, H, W, C)")
    if x.dtype.kind == "f":
        low, high = float(x.min()), float(x.max())
        if low < 0.0 or high > 1.0:
            raise DataError(f"{where} holds values {low:g}..{high:g}; float images must lie in [0, 1] "
                            "(or store uint8 pixels 0..255)")  # fmt: skip
        x = x.astype(np.float32)
    return x[..., 0] if x.ndim == 4 and x.shape[3] == 1 else x


# -- folder of PNG files ---------------------------------------------------------------------------------
def _read_folder(source: Path) -> Splits:
    where = f"dataset {str(source)!r}"
    folders = {}
    for split in SPLITS:
        folder = source / split
        if not folder.is_dir():
            raise DataError(f"{where} has no {split}/ folder; expected {FORMATS}")
        folders[split] = {p.name: p for p in folder.iterdir() if p.is_dir()}
        if not folders[split]:
            raise DataError(f"{where}: {split}/ holds no class folders; expected {split}/<class>/*.png")
    train, test = sorted(folders["train"]), sorted(folders["test"])
    if train != test:
        pairs = (("train", "test"), ("test", "train"))
        only = {s: sorted(set(folders[s]) - set(folders[o])) for s, o in pairs}
        differ = "; ".join(f"only in {s}/: {', '.join(names)}" for s, names in only.items() if names)
        raise DataError(f"{where}: the class folders of train/ and test/ differ ({differ}); both need the "
                        "same classes")  # fmt: skip
    if len(train) < 2:
        raise DataError(f"{where} has one class folder ({train[0]}); a classification needs at least 2")
    images = {s: _interleaved([[(c, _read_png(f)) for f in _pngs(folders[s][name], where)]
                               for c, name in enumerate(train)]) for s in SPLITS}  # fmt: skip
    colour = any(pixels.ndim == 3 for split in images.values() for _, pixels in split)
    splits = {}
    for split, items in images.items():
        _check_one_size([(f"{split}/{train[c]}", p) for c, p in items], where)
        stack = [np.repeat(p[..., None], 3, axis=2) if colour and p.ndim == 2 else p for _, p in items]
        splits[split] = _dataset(np.stack(stack), np.array([c for c, _ in items]), tuple(train), str(source),
                                 split, "png-folder")  # fmt: skip
    return splits


def _interleaved(per_class: list[list[tuple[int, np.ndarray]]]) -> list[tuple[int, np.ndarray]]:
    """The first image of every class, then the second of every class, ...: the first N samples of a split
    (``--train-samples N``; sym-STDP trains in stored order) hold every class."""
    longest = max(len(items) for items in per_class)
    return [items[i] for i in range(longest) for items in per_class if i < len(items)]


def _pngs(folder: Path, where: str) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png")
    if not files:
        raise DataError(f"{where}: {folder.parent.name}/{folder.name}/ holds no .png images; each class "
                        "folder needs at least one")  # fmt: skip
    return files


def _read_png(path: Path) -> np.ndarray:
    """One image as uint8 (H, W) grey or (H, W, 3) RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("L" if image.mode in GREY_MODES else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {str(path)!r} ({exc}); expected a PNG file") from None


def _check_one_size(items: list[tuple[str, np.ndarray]], where: str) -> None:
    first_name, first = items[0]
    for name, pixels in items:
        if pixels.shape[:2] != first.shape[:2]:
            raise DataError(f"{where}: an image in {name}/ is {_size(pixels.shape)}, one in {first_name}/ "
                            f"{_size(first.shape)}; all images of a dataset must be of one size")  # fmt: skip


# -- both forms ------------------------------------------------------------------------------------------
def _check_same_size(splits: Splits, path: str) -> None:
    train, test = (tuple(splits[s].x.shape[1:]) for s in SPLITS)
    if train != test:
        raise DataError(f"dataset {path!r}: train images are {_size(train)} but test images {_size(test)}; "
                        "both splits need one image size (H x W x C)")  # fmt: skip


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape[:2]) + (f"x{shape[2]}" if len(shape) > 2 else "")


def _dataset(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], name: str, split: str,
             form: str) -> ArrayDataset:  # fmt: skip
    if len(x) == 0:
        raise DataError(f"dataset {name!r}: the {split} split is empty; each split needs at least one image")
    return ArrayDataset(x, y, classes, name, split, info={"source": form})


def _stamp(source: Path) -> tuple:
    """What identifies one version of the dataset on disk (its path and modification times, ns)."""
    parts = [source, *(source / s for s in SPLITS)] if source.is_dir() else [source]
    return (str(source), str(source.resolve()), *(p.stat().st_mtime_ns for p in parts if p.exists()))
