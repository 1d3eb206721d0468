"""DSL checkpoints: loading one whose stored settings the ``train`` flags could have produced, and rebuilding
the network it holds."""

from __future__ import annotations

import argparse

import torch

from hybridsnn.checkpoint import Checkpoint, load_checkpoint
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.dsl.network import DSLNetwork
from hybridsnn.dsl.settings import DSLSettings, missing_settings
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.spiking import restore_state


def train_parser() -> argparse.ArgumentParser:
    """The parser of ``hybridsnn train dsl``: its flags' types check stored settings."""
    from hybridsnn.cli import build_model_parser

    return build_model_parser("hybridsnn", "train", "dsl")


def load_model_checkpoint(path: str) -> Checkpoint:
    """The DSL checkpoint at ``path``, with the network settings the train flags could have produced."""
    checkpoint = load_checkpoint(path, model="dsl")
    check_stored_flags(checkpoint.config, train_parser(), f"checkpoint {path!r}")
    missing = missing_settings(checkpoint.config)
    if missing:
        raise CheckpointError(f"checkpoint {path!r} lacks the DSL setting(s) {', '.join(missing)}")
    return checkpoint


def load_trained(path: str, device: torch.device) -> tuple[DSLSettings, DSLNetwork]:
    """The settings stored in the DSL checkpoint ``path`` and its network, on ``device``."""
    checkpoint = load_model_checkpoint(path)
    try:
        settings = DSLSettings.from_config(checkpoint.config)
        network = settings.build()
    except UserError as exc:
        source = f"checkpoint {str(checkpoint.path)!r}"
        raise CheckpointError(f"{source} holds settings that build no DSL network: {exc}") from None
    restore_state(checkpoint, {"model": network})
    return settings, network.to(device)
