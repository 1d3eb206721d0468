"""Command-line flags of the simulation engines, shared by the drivers of the GeNN-model systems."""

from __future__ import annotations

import argparse

from hybridsnn.checks import values
from hybridsnn.errors import UserError


def add_engine_tuning_flags(parser: argparse.ArgumentParser) -> None:
    """``--threads`` (numba engine) and ``--genn-preference`` (genn engine)."""
    parser.add_argument(
        "--threads",
        type=values.count,
        default=None,
        metavar="N",
        help="CPU threads of the numba engine; results are bit-identical for every count. Default: all "
        "cores for batched inference, one thread for a training network (slicing its >= 1024-neuron "
        "populations over 2 threads ranged from 9%% slower to 46%% faster on the 2-core machines here; "
        "docs/engines.md)",
    )
    parser.add_argument(
        "--genn-preference",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a GeNN backend preference for --engine genn, repeatable, e.g. device_select_method=MANUAL "
        "manual_device_id=1 block_size_select_method=MANUAL (cuda) or debug_code=true",
    )


def engine_threads(args: argparse.Namespace) -> int | None:
    """``--threads``: None (the default) or a count >= 1 (``type=values.count`` refused anything else)."""
    return getattr(args, "threads", None)


def check_engine_flags(engine: str, backend: str | None) -> None:
    """``--engine``/``--backend`` usable here, checked before any work: PyGeNN installed for ``genn``, a
    ``--backend`` only with ``--engine genn``."""
    from hybridsnn.sim import pygenn_available

    if engine == "genn" and not pygenn_available():
        raise UserError(
            "--engine genn needs PyGeNN 5, which is not installed (see docs/engines.md: adding PyGeNN); use "
            "--engine numba"
        )
    if backend is not None and engine != "genn":
        raise UserError(f"--backend {backend} is a GeNN backend; it applies to --engine genn only, not "
                        f"--engine {engine}")  # fmt: skip


def genn_preferences(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """``--genn-preference KEY=VALUE`` flags as (key, value) pairs (values are converted by the engine)."""
    pairs = []
    for item in getattr(args, "genn_preference", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"--genn-preference {item!r}: expected KEY=VALUE, e.g. debug_code=true")
        pairs.append((key.strip(), value.strip()))
    if pairs and getattr(args, "engine", None) != "genn":
        raise UserError("--genn-preference applies to --engine genn only")
    return tuple(pairs)
