"""Command-line flag groups that several systems share, each defined once: the simulation engine and GeNN
backend, the torch device and CPU threads, and the subsets of a dataset to train and test on.

The run flags every ``train``/``test``/``predict`` takes (``--output``, ``--run-name``, ``--seed``, ...) are
added by :func:`hybridsnn.cli.add_run_arguments`; a system's driver adds the groups it reads with these.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from hybridsnn.checks import values

#: GeNN backends the ``genn`` engine can generate code for.
GENN_BACKENDS = ("cuda", "single_threaded_cpu")
DEVICE_HELP = "torch device: auto (CUDA if available, else CPU), cpu, cuda or cuda:N (default: auto)"


def add_engine_flags(parser: argparse.ArgumentParser, engines: Sequence[str], default: str | None,
                     engine_help: str) -> None:  # fmt: skip
    """``--engine`` (one of ``engines``, default ``default``) and ``--backend`` (a GeNN backend, used with
    ``--engine genn`` only; checked by :func:`hybridsnn.sim.options.check_engine_flags`)."""
    parser.add_argument("--engine", choices=tuple(engines), default=default, help=engine_help)
    parser.add_argument(
        "--backend",
        choices=GENN_BACKENDS,
        default=None,
        help="GeNN backend with --engine genn (default: cuda if a GPU is available, else "
        "single_threaded_cpu)",
    )


def add_device_flags(parser: argparse.ArgumentParser, threads_default: int | None = None,
                     device_help: str = DEVICE_HELP) -> None:  # fmt: skip
    """``--device`` (a torch device name, resolved by :func:`hybridsnn.runtime.select_device`) and
    ``--threads`` (torch's intra-op CPU threads, >= 1; None leaves torch's own choice)."""
    default = "torch's choice" if threads_default is None else str(threads_default)
    parser.add_argument("--device", default="auto", help=device_help)
    parser.add_argument(
        "--threads",
        type=values.count,
        default=threads_default,
        metavar="N",
        help=f"CPU threads of torch, >= 1 (default: {default}; 1 is often fastest on a shared machine)",
    )


def add_subset_flag(parser: argparse.ArgumentParser, flag: str, split: str, default: str = "all",
                    what: str = "samples") -> None:  # fmt: skip
    """``flag`` N: use only the first N >= 1 ``what`` of the ``split`` set, in file order (loaded with
    ``load_dataset(..., limit=N)``); unset uses ``default``."""
    parser.add_argument(
        flag,
        type=values.count,
        default=None,
        metavar="N",
        help=f"use the first N >= 1 {split} {what} (default: {default})",
    )
