"""Loading and checking sym-STDP weights: project checkpoints and the original's text folders.

A network's weights are P2E (n_input, n_hidden) and E2C (n_hidden, n_classes) conductances (dimensionless,
>= 0), θ (n_hidden,) in mV and, where present, the class assignment of each hidden neuron (-1 = none).
Every array is checked when it is read, so a damaged or foreign file ends in one line naming it, never in a
traceback later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.errors import CheckpointError
from hybridsnn.sym_stdp.config import (
    DATASETS,
    DIGITS,
    MNIST_SHAPE,
    SIZES,
    USER,
    SymStdpConfig,
    make_config,
    user_config,
)
from hybridsnn.sym_stdp.system import SYSTEM
from hybridsnn.sym_stdp.textformat import import_text_checkpoint, read_values

Weights = dict[str, np.ndarray]


@dataclass(frozen=True)
class Trained:
    """What a checkpoint's network was trained on: ``dataset`` (mnist, fashion-mnist, ``user`` for a user's
    own dataset, None for the original's text files, which do not say), the (H, W) of its input images, its
    class names, and for a user dataset the ``--dataset`` path of its training run (None if unknown)."""

    dataset: str | None
    input_shape: tuple[int, int] = MNIST_SHAPE
    classes: tuple[str, ...] = DIGITS
    path: str | None = None

    @property
    def n_input(self) -> int:
        """Input neurons, H×W."""
        return self.input_shape[0] * self.input_shape[1]

    @classmethod
    def of(cls, config: SymStdpConfig, path: str | None = None) -> Trained:
        """The data ``config`` is built for (``path``: the user dataset's ``--dataset``)."""
        return cls(config.dataset, config.input_shape, config.classes, path)

    def describe(self) -> str:
        """E.g. ``mnist`` or ``a user dataset of 12x10 images, classes a, b, c``."""
        if self.dataset != USER:
            return str(self.dataset or "mnist")
        height, width = self.input_shape
        where = f" ({self.path})" if self.path else ""
        return f"a user dataset{where} of {height}x{width} images, classes {', '.join(self.classes)}"

    def config(self, n_hidden: int) -> SymStdpConfig:
        """The configuration of a network of ``n_hidden`` hidden neurons trained on this data."""
        if self.dataset == USER:
            return user_config(n_hidden, self.input_shape, self.classes)
        return make_config(self.dataset or "mnist", n_hidden)


def load_weights(path: str, n_input: int | None = None) -> tuple[Weights, str | None]:
    """P2E, θ, and E2C and assignments where present, from a project checkpoint or an original folder;
    with the dataset the checkpoint was trained on (see :func:`load_trained`)."""
    weights, trained = load_trained(path, n_input)
    return weights, trained.dataset


def load_trained(path: str, n_input: int | None = None) -> tuple[Weights, Trained]:
    """P2E, θ, and E2C and assignments where present, from a project checkpoint or an original folder, and
    what they were trained on (:class:`Trained`). ``n_input``: the input neurons of an original text folder
    (default 784); a project checkpoint records its own (H×W of its images).

    Every array is checked (float weights ≥ 0, finite, of one network's shapes; assignments integers in
    -1..K-1), so a damaged or foreign file ends in one line naming it, never in a traceback later."""
    source = Path(path)
    if source.is_dir():
        n_input = n_input or MNIST_SHAPE[0] * MNIST_SHAPE[1]
        theta_file = source / "theta"
        n_hidden = read_values(theta_file).size if theta_file.exists() else 0  # missing: named below
        if theta_file.exists():
            _hidden_size(n_hidden, f"original checkpoint {str(source)!r}")
        weights = import_text_checkpoint(source, n_hidden, n_input)
        check_weights(weights, f"original checkpoint {str(source)!r}", n_input)
        return weights, Trained(None)
    ckpt = load_checkpoint(source, model=SYSTEM.name)
    weights = dict(ckpt.tensors)
    missing = [name for name in ("p2e", "theta") if name not in weights]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(source)!r} lacks {' and '.join(missing)}; it has {sorted(weights)}"
        )
    where = f"checkpoint {str(source)!r}"
    trained = _trained(ckpt.extra.get("sym_stdp", {}), ckpt.config.get("dataset"), where)
    check_weights(weights, f"checkpoint {str(source)!r}", trained.n_input, len(trained.classes))
    return weights, trained


def _trained(meta: object, run_dataset: object, where: str) -> Trained:
    """The :class:`Trained` of a checkpoint's ``sym_stdp`` metadata, refused with one line when damaged."""
    dataset = meta.get("dataset") if isinstance(meta, dict) else meta
    if dataset is not None and dataset not in (*DATASETS, USER):
        raise CheckpointError(f"{where} names the dataset {dataset!r}; sym-STDP trains on "
                              f"{', '.join(DATASETS)} or a user dataset")  # fmt: skip
    if dataset != USER:
        return Trained(dataset)
    shape, classes = meta.get("input_shape"), meta.get("classes")  # type: ignore[union-attr]
    if not (isinstance(shape, list) and len(shape) == 2 and all(_positive_int(n) for n in shape)):
        raise CheckpointError(f"{where}: input_shape is {shape!r}; expected [H, W], two whole numbers >= 1")
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
            and len(set(classes)) == len(classes)):  # fmt: skip
        raise CheckpointError(f"{where}: classes is {classes!r}; expected a list of at least 2 distinct "
                              "names")  # fmt: skip
    path = run_dataset if isinstance(run_dataset, str) else None
    return Trained(USER, (shape[0], shape[1]), tuple(classes), path)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _hidden_size(n_hidden: int, where: str) -> int:
    """``n_hidden`` (the length of θ) if a sym-STDP network has that many hidden neurons."""
    if n_hidden not in SIZES:
        raise CheckpointError(
            f"{where}: theta holds {n_hidden} values, i.e. {n_hidden} hidden neurons; sym-STDP networks have "
            f"{', '.join(map(str, SIZES[:-1]))} or {SIZES[-1]}"
        )
    return n_hidden


def check_weights(weights: Weights, where: str, n_input: int = 784, n_classes: int = 10) -> int:
    """The hidden size of ``weights`` (p2e, theta; e2c, assignments where present) if they are one network's:
    float conductances ≥ 0 and θ of consistent shapes, assignments integers in -1..n_classes-1."""
    theta = weights["theta"]
    if theta.ndim != 1:
        raise CheckpointError(f"{where}: theta has shape {theta.shape}; expected one value per hidden neuron")
    n_hidden = _hidden_size(theta.shape[0], where)
    expected = {"p2e": (n_input, n_hidden), "theta": (n_hidden,)}
    if "e2c" in weights:
        expected["e2c"] = (n_hidden, n_classes)
    if "assignments" in weights:
        expected["assignments"] = (n_hidden,)
    for name, shape in expected.items():
        if weights[name].shape != shape:
            raise CheckpointError(
                f"{where}: {name} has shape {weights[name].shape}; a network of {n_hidden} hidden neurons "
                f"needs {shape}"
            )
    for name in ("p2e", "e2c", "theta"):
        if name in weights and weights[name].dtype.kind != "f":
            raise CheckpointError(f"{where}: {name} holds {weights[name].dtype} values; expected floats")
    for name in ("p2e", "e2c"):
        if name in weights and weights[name].size and weights[name].min() < 0:
            raise CheckpointError(
                f"{where}: {name} holds negative weights (down to {weights[name].min():g}); conductances "
                "are >= 0"
            )
    if "assignments" in weights:
        labels = weights["assignments"]
        if labels.dtype.kind not in "iu":
            raise CheckpointError(
                f"{where}: assignments hold {labels.dtype} values; expected integer classes"
            )
        if labels.size and (labels.min() < -1 or labels.max() >= n_classes):
            raise CheckpointError(
                f"{where}: assignments range {labels.min()}..{labels.max()}; expected classes -1 (none) .. "
                f"{n_classes - 1}"
            )
    return n_hidden


def starting_weights(path: str, flag: str, config: SymStdpConfig, neurons_given: bool,
                     with_output_layer: bool, data_path: str | None = None) -> Weights:  # fmt: skip
    """The float32 P2E and θ (and E2C, where ``with_output_layer`` and the file has it) a training run
    starts from, read from ``path`` given as ``flag``; refused unless they fit ``config``'s hidden size and
    data (``neurons_given``: whether ``--neurons`` was given, for the message; ``data_path``: the
    ``--dataset`` of a user dataset, for the message)."""
    loaded, trained = load_trained(path, config.n_input)
    n_hidden = loaded["theta"].shape[0]
    if n_hidden != config.n_hidden:
        given = f"--neurons {config.n_hidden}" + ("" if neurons_given else " (the default)")
        raise CheckpointError(f"{flag} {path!r} has {n_hidden} hidden neurons, not {given}; pass "
                              f"--neurons {n_hidden}")  # fmt: skip
    if trained.dataset is not None:
        check_same_data(f"{flag} {path!r}", trained, Trained.of(config, data_path))
    start = {"p2e": loaded["p2e"].astype(np.float32), "theta": loaded["theta"].astype(np.float32)}
    if with_output_layer and "e2c" in loaded:
        start["e2c"] = loaded["e2c"].astype(np.float32)
    return start


def frozen_weights(path: str, dataset_kind: str | None, neurons: int | None,
                   dataset_path: str | None = None) -> tuple[Weights, Trained]:  # fmt: skip
    """The weights of ``--checkpoint`` ``path`` for test/predict, refused unless they include E2C and fit
    the ``--neurons`` and the kind of ``--dataset`` given (mnist, fashion-mnist or ``user`` with its
    ``dataset_path``; None: not given); with what they were trained on."""
    weights, trained = load_trained(path)
    if dataset_kind and trained.dataset and dataset_kind != trained.dataset:
        check_same_data(f"checkpoint {path!r}", trained, Trained(dataset_kind, path=dataset_path))
    n_hidden = weights["theta"].shape[0]
    if neurons is not None and neurons != n_hidden:
        raise CheckpointError(f"checkpoint {path!r} has {n_hidden} hidden neurons, not --neurons {neurons}")
    if "e2c" not in weights:
        raise CheckpointError(f"checkpoint {path!r} has no E2C (output layer) weights to test")
    return weights, trained


def check_same_data(what: str, trained: Trained, given: Trained) -> None:
    """Refuse, naming ``what`` (e.g. ``"checkpoint 'a.safetensors'"``), a network trained on ``trained``
    that is used with the data ``given``: another dataset, or user images of another size or classes."""
    if trained.dataset != given.dataset:
        flag = f"{given.path} (a user dataset)" if given.dataset == USER else given.dataset
        raise CheckpointError(f"{what} was trained on {trained.describe()}, not --dataset {flag} (the two "
                              "use different constants and sizes)")  # fmt: skip
    if (trained.input_shape, trained.classes) != (given.input_shape, given.classes):
        height, width = given.input_shape
        raise CheckpointError(f"{what} was trained on {trained.describe()}; --dataset {given.path} holds "
                              f"{height}x{width} images, classes {', '.join(given.classes)}: a network takes "
                              "only images of the size and classes it was trained on")  # fmt: skip
