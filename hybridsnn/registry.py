"""The model registry: which systems exist, their tasks, and the driver module that runs each.

A driver module (``hybridsnn.models.<name>``) provides:

* ``add_arguments(parser, command)`` — its flags for ``train``/``test``/``predict``/``plot``;
* ``train(args, run)``, ``test(args, run)``, ``predict(args, run)`` — each ends with
  ``return run.finish(...)`` (the results dict; the CLI prints its ``metrics``);
* ``plot(args)`` — writes figures and returns their paths.

Drivers are imported only when their model is used, so ``hybridsnn list`` and ``--help`` stay fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from hybridsnn.errors import unknown_choice


@dataclass(frozen=True)
class ModelInfo:
    """A registered system: CLI name, driver module, one-line summary, tasks, and what runs it."""

    name: str
    module: str
    summary: str
    tasks: tuple[str, ...]
    runs_on: str


MODELS: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> None:
    """Add a system to the registry (used by the registry table below and by tests)."""
    MODELS[info.name] = info


def get_model(name: str) -> ModelInfo:
    """The registered system ``name``, or a one-line error listing the known ones."""
    if name not in MODELS:
        raise unknown_choice("model", name, sorted(MODELS))
    return MODELS[name]


def load_driver(name: str) -> ModuleType:
    """Import and return the driver module of system ``name``."""
    return importlib.import_module(get_model(name).module)


register(
    ModelInfo(
        "sym-stdp",
        "hybridsnn.models.sym_stdp",
        "symmetric STDP + teacher layer (Hao et al. 2020), MNIST / Fashion-MNIST",
        ("classification",),
        "GeNN models",
    )
)


register(
    ModelInfo(
        "dsl",
        "hybridsnn.models.dsl",
        "Deep Spike Learning with local classifiers (ELL/BELL/FELL; Ma et al. 2022)",
        ("classification",),
        "torch",
    )
)


register(
    ModelInfo(
        "hebbian",
        "hybridsnn.models.hebbian",
        "memory-enriched SNN with Hebbian plasticity (Limbacher et al. 2022)",
        ("associations", "omniglot", "cross-modal", "babi", "concentration"),
        "torch",
    )
)


register(
    ModelInfo(
        "hp",
        "hybridsnn.models.hp",
        "hybrid global-local plasticity SNN (HP/GP/LP; Wu et al. 2022)",
        ("simple", "classification", "tolerance", "fewshot", "multitask"),
        "torch",
    )
)


register(
    ModelInfo(
        "shifting",
        "hybridsnn.models.shifting",
        "Shifting Learning: temporal-coding SNN with a three-factor local rule (SZU-ADDG)",
        ("xor", "iris", "mnist", "fashion-mnist", "spikes"),
        "torch reference + GeNN models",
    )
)
