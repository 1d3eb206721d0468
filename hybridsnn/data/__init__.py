"""The shared dataset layer: loaders (torchvision folder layout), validation, downloads, spike encoders.

``load_dataset(name, split)`` returns an :class:`ArrayDataset` of numpy arrays; the data root is
``$HYBRIDSNN_DATA`` or ``data/``. Nothing here imports torch or torchvision until a download or
``ArrayDataset.to_torch`` needs it, so the command line stays fast. A user's own dataset (a ``.npz`` file or
a folder of PNG files, :mod:`hybridsnn.data.user_dataset`) is loaded by passing its path as the name.
"""

from hybridsnn.data import catalog as _catalog  # noqa: F401  (registers the built-in datasets)
from hybridsnn.data.array_dataset import ArrayDataset
from hybridsnn.data.encoders import (
    bernoulli_spikes,
    constant_current,
    latency_spikes,
    latency_times,
    poisson_spikes,
)
from hybridsnn.data.idx import read_idx, write_idx
from hybridsnn.data.image_files import read_image_file
from hybridsnn.data.omniglot import OneShotRun, load_one_shot_runs, one_shot_runs
from hybridsnn.data.preprocess import normalize_image_means
from hybridsnn.data.registry import (
    DatasetSpec,
    dataset_names,
    download_dataset,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    make_task,
    register_dataset,
    register_task_generator,
    split_present,
    task_generator_names,
)
from hybridsnn.data.roots import DATA_ENV, OFFLINE_ENV, default_root
from hybridsnn.data.user_dataset import dataset_flag, is_dataset_path, load_user_dataset
from hybridsnn.data.validation import validate_split

__all__ = [
    "DATA_ENV",
    "OFFLINE_ENV",
    "ArrayDataset",
    "DatasetSpec",
    "OneShotRun",
    "bernoulli_spikes",
    "constant_current",
    "dataset_flag",
    "dataset_names",
    "default_root",
    "download_dataset",
    "get_dataset_spec",
    "is_dataset_path",
    "latency_spikes",
    "latency_times",
    "list_datasets",
    "load_dataset",
    "load_one_shot_runs",
    "load_user_dataset",
    "make_task",
    "normalize_image_means",
    "one_shot_runs",
    "poisson_spikes",
    "read_idx",
    "read_image_file",
    "register_dataset",
    "register_task_generator",
    "split_present",
    "task_generator_names",
    "validate_split",
    "write_idx",
]
