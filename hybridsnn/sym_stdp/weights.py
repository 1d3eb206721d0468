"""Loading and checking sym-STDP weights: project checkpoints and the original's text folders.

A network's weights are P2E (n_input, n_hidden) and E2C (n_hidden, n_classes) conductances (dimensionless,
>= 0), θ (n_hidden,) in mV and, where present, the class assignment of each hidden neuron (-1 = none).
Every array is checked when it is read, so a damaged or foreign file ends in one line naming it, never in a
traceback later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridsnn.checkpoint import load_checkpoint
from hybridsnn.errors import CheckpointError
from hybridsnn.sym_stdp.config import DATASETS, SIZES, SymStdpConfig
from hybridsnn.sym_stdp.system import SYSTEM
from hybridsnn.sym_stdp.textformat import import_text_checkpoint, read_values

Weights = dict[str, np.ndarray]


def load_weights(path: str, n_input: int = 784) -> tuple[Weights, str | None]:
    """P2E, θ, and E2C and assignments where present, from a project checkpoint or an original folder;
    with the dataset the checkpoint was trained on (None for the original text files, which do not say).

    Every array is checked (float weights ≥ 0, finite, of one network's shapes; assignments integers in
    -1..9), so a damaged or foreign file ends in one line naming it, never in a traceback later."""
    source = Path(path)
    if source.is_dir():
        theta_file = source / "theta"
        n_hidden = read_values(theta_file).size if theta_file.exists() else 0  # missing: named below
        if theta_file.exists():
            _hidden_size(n_hidden, f"original checkpoint {str(source)!r}")
        weights = import_text_checkpoint(source, n_hidden, n_input)
        check_weights(weights, f"original checkpoint {str(source)!r}", n_input)
        return weights, None
    ckpt = load_checkpoint(source, model=SYSTEM.name)
    weights = dict(ckpt.tensors)
    missing = [name for name in ("p2e", "theta") if name not in weights]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(source)!r} lacks {' and '.join(missing)}; it has {sorted(weights)}"
        )
    check_weights(weights, f"checkpoint {str(source)!r}", n_input)
    meta = ckpt.extra.get("sym_stdp", {})
    dataset = meta.get("dataset") if isinstance(meta, dict) else meta
    if dataset is not None and dataset not in DATASETS:
        raise CheckpointError(
            f"checkpoint {str(source)!r} names the dataset {dataset!r}; sym-STDP trains on "
            f"{', '.join(DATASETS)}"
        )
    return weights, dataset


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
                     with_output_layer: bool) -> Weights:  # fmt: skip
    """The float32 P2E and θ (and E2C, where ``with_output_layer`` and the file has it) a training run
    starts from, read from ``path`` given as ``flag``; refused unless they fit ``config``'s hidden size and
    dataset (``neurons_given``: whether ``--neurons`` was given, for the message)."""
    loaded, trained_on = load_weights(path, config.n_input)
    n_hidden = loaded["theta"].shape[0]
    if n_hidden != config.n_hidden:
        given = f"--neurons {config.n_hidden}" + ("" if neurons_given else " (the default)")
        raise CheckpointError(f"{flag} {path!r} has {n_hidden} hidden neurons, not {given}; pass "
                              f"--neurons {n_hidden}")  # fmt: skip
    if trained_on is not None and trained_on != config.dataset:
        raise CheckpointError(f"{flag} {path!r} was trained on {trained_on}, not --dataset "
                              f"{config.dataset} (the two use different constants)")  # fmt: skip
    start = {"p2e": loaded["p2e"].astype(np.float32), "theta": loaded["theta"].astype(np.float32)}
    if with_output_layer and "e2c" in loaded:
        start["e2c"] = loaded["e2c"].astype(np.float32)
    return start


def frozen_weights(path: str, dataset: str | None, neurons: int | None) -> tuple[Weights, str | None]:
    """The weights of ``--checkpoint`` ``path`` for test/predict, refused unless they include E2C and fit
    the ``--dataset``/``--neurons`` given (None: not given); with the dataset they were trained on."""
    weights, trained_on = load_weights(path)
    if dataset and trained_on and dataset != trained_on:
        raise CheckpointError(
            f"checkpoint {path!r} was trained on {trained_on}, not --dataset {dataset} "
            "(the two use different constants)"
        )
    n_hidden = weights["theta"].shape[0]
    if neurons is not None and neurons != n_hidden:
        raise CheckpointError(f"checkpoint {path!r} has {n_hidden} hidden neurons, not --neurons {neurons}")
    if "e2c" not in weights:
        raise CheckpointError(f"checkpoint {path!r} has no E2C (output layer) weights to test")
    return weights, trained_on
