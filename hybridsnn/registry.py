"""The model registry: which systems exist, their tasks and datasets, and the driver module that runs each.

Each system is one package, ``hybridsnn.<package>`` (:data:`SYSTEM_PACKAGES`), and declares itself once in
its ``system`` module: ``SYSTEM = ModelInfo(...)``, with the CLI name, tasks and datasets. That module and
the package's ``__init__`` import nothing heavy, so ``hybridsnn list`` and ``--help`` stay fast. The
driver module named there (``hybridsnn.<package>.driver``) provides:

* ``add_arguments(parser, command)`` — its flags for ``train``/``test``/``predict``/``plot``;
* ``train(args, run)``, ``test(args, run)``, ``predict(args, run)`` — each ends with
  ``return run.finish(...)`` (the results dict; the CLI prints its ``metrics``);
* ``plot(args)`` — writes figures and returns their paths;
* optionally ``validate(args, command)`` (checks before any file is written) and ``PREDICT_UNAVAILABLE``.

Drivers are imported only when their model is used. How to add a system: docs/architecture.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hybridsnn.errors import unknown_choice
from hybridsnn.system_info import ModelInfo

__all__ = ["MODELS", "SYSTEM_PACKAGES", "ModelInfo", "get_model", "load_driver", "register"]

#: The packages under ``hybridsnn/`` that hold one system each.
SYSTEM_PACKAGES = ("sym_stdp", "dsl", "hebbian", "hp", "shifting")


MODELS: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> None:
    """Add a system to the registry (used for :data:`SYSTEM_PACKAGES` below and by tests)."""
    MODELS[info.name] = info


def get_model(name: str) -> ModelInfo:
    """The registered system ``name``, or a one-line error listing the known ones."""
    if name not in MODELS:
        raise unknown_choice("model", name, sorted(MODELS))
    return MODELS[name]


def load_driver(name: str) -> ModuleType:
    """Import and return the driver module of system ``name``."""
    return importlib.import_module(get_model(name).module)


for _package in SYSTEM_PACKAGES:
    register(importlib.import_module(f"hybridsnn.{_package}.system").SYSTEM)
