"""Resolving a Hebbian-memory task's settings: flags, then ``--quick`` values, then the task's defaults."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from hybridsnn.errors import UserError


def layered_settings(args: argparse.Namespace, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """The flags of ``args``; a flag left unset (None) takes its value from the first layer that has it."""
    settings = vars(args).copy()
    for layer in layers:
        for key, value in layer.items():
            if settings.get(key) is None:
                settings[key] = value
    return settings


def require_positive(settings: Mapping[str, Any], keys: Iterable[str]) -> None:
    """One-line error for the first of ``keys`` whose value is below 1."""
    for key in keys:
        if settings.get(key) is not None and settings[key] < 1:
            raise UserError(f"--{key.replace('_', '-')} must be >= 1, got {settings[key]}")


#: Seed values of flags whose default differs between tasks (the reinforcement-learning task clips
#: gradients at 0.5, and its ``--quick`` configuration compresses time): used where neither the flag nor
#: the task set one.
SEED_DEFAULTS = {
    "num_time_steps": 100,
    "tau_mem": 20.0,
    "tau_trace": 20.0,
    "readout_window": 30,
    "max_grad_norm": 40.0,
}


def add_model_names(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill unset :data:`SEED_DEFAULTS`, then copy the seed's flag names onto the model's field names
    (steps, threshold, refractory, dampening)."""
    for key, value in SEED_DEFAULTS.items():
        if settings.get(key) is None:
            settings[key] = value
    settings.update(
        steps=settings["num_time_steps"],
        threshold=settings["thr"],
        refractory_steps=settings["refractory_time_steps"],
        dampening=settings["dampening_factor"],
    )
    return settings
