"""MNIST and Fashion-MNIST: IDX files in torchvision's layout ``<root>/<Folder>/raw/*-ubyte[.gz]``."""

from __future__ import annotations

from pathlib import Path

from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.idx import read_idx
from hybridsnn.data.preprocess import normalize_image_means
from hybridsnn.data.roots import locate
from hybridsnn.errors import DataError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: Dataset name -> (torchvision class name = folder under the root, class names).
SOURCES = {"mnist": ("MNIST", MNIST_CLASSES), "fashion-mnist": ("FashionMNIST", FASHION_CLASSES)}
OPTIONS = {"normalize_mean": "scale each image to this mean grey level (sym-STDP uses 30 for fashion-mnist)"}


def idx_paths(name: str, root: Path, split: str) -> list[Path]:
    """The gzipped image and label files of ``split``; the uncompressed files are accepted as well."""
    folder = root / SOURCES[name][0] / "raw"
    return [folder / f for f in IDX_FILES[split]]


def load_idx_split(name: str, root: Path, split: str, normalize_mean: float | None = None) -> ArrayDataset:
    """Images uint8 ``(N, 28, 28)`` and labels; optionally mean-normalised per image (see preprocess)."""
    image_file, label_file = (locate(p) or p for p in idx_paths(name, root, split))
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3:
        raise DataError(f"IDX image file {image_file} has {images.ndim} dimensions; expected 3 (N, H, W)")
    if labels.ndim != 1:
        raise DataError(f"IDX label file {label_file} has {labels.ndim} dimensions; expected 1")
    if len(images) != len(labels):
        raise DataError(f"{image_file} holds {len(images)} images, {label_file} holds {len(labels)} labels")
    info = {}
    if normalize_mean is not None:
        images = normalize_image_means(images, float(normalize_mean))
        info["normalize_mean"] = float(normalize_mean)
    return ArrayDataset(images, labels, SOURCES[name][1], name, split, info=info)


def fetch_idx(name: str, root: Path, split: str) -> None:
    """Download ``split`` with torchvision into ``<root>/<Folder>/raw`` (gz kept, extracted copy beside)."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, SOURCES[name][0])
    dataset_class(str(root), train=split == "train", download=True)
