"""Run GeNN 5 models (from :mod:`genn_models`) on real PyGeNN or on the embedded numba engine.

The model API is PyGeNN's, so a driver never branches on the engine::

    from hybridsnn import sim
    model = sim.create_model("net", engine="numba", precision="float", dt=0.5, seed=1)
    src = model.add_neuron_population("src", 100, "PoissonRate", {}, {"rate": 20.0})
    pop = model.add_neuron_population("pop", 10, "LIF", lif_params, {"V": -65.0, "RefracTime": 0.0})
    model.add_synapse_population("syn", "DENSE", src, pop,
                                 sim.init_weight_update("StaticPulse", {}, {"g": weights}),
                                 sim.init_postsynaptic("ExpCurr", {"tau": 5.0}))
    pop.spike_recording_enabled = True
    model.build(); model.load(num_recording_timesteps=1000)
    model.run(1000)                      # numba: all steps in one compiled call
    model.pull_recording_buffers_from_device()
    times_ms, ids = pop.spike_recording_data[0]

Engines: ``numba`` (default; needs only numba) and ``genn`` (a real ``pygenn.GeNNModel``; CUDA when
available, else the single-threaded CPU backend, always ``optimize_code=True``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.sim.spec import (
    create_var_ref,
    init_postsynaptic,
    init_sparse_connectivity,
    init_var,
    init_weight_update,
)

ENGINES = ("numba", "genn")
PRECISIONS = ("float", "double")


def pygenn_available() -> bool:
    """True if ``import pygenn`` would succeed (checked without importing it)."""
    return importlib.util.find_spec("pygenn") is not None


def available_engines() -> list[str]:
    """Engines usable here: always ``numba``; ``genn`` when PyGeNN is installed."""
    return ["numba", "genn"] if pygenn_available() else ["numba"]


def default_engine() -> str:
    """The engine used for ``engine="auto"``: numba (fast to start, no build step outside Python)."""
    return "numba"


def create_model(
    name: str,
    *,
    engine: str = "auto",
    precision: str = "float",
    dt: float = 0.5,
    seed: int = 0,
    backend: str | None = None,
    batch_size: int = 1,
    build_dir: str | Path | None = None,
    time_precision: str | None = None,
    fastmath: bool = True,
    genn_preferences: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> Any:
    """A new empty model with PyGeNN's API on the chosen engine.

    Args:
        name: model name (an identifier; names the GeNN build folder).
        engine: ``"auto"`` (= :func:`default_engine`), ``"numba"`` or ``"genn"``.
        precision: ``"float"`` (float32 arithmetic everywhere, as GeNN) or ``"double"``.
        dt: timestep (ms).
        seed: seed of the random number generators (0 on GeNN means "seed from the clock").
        backend: GeNN backend, ``"cuda"`` or ``"single_threaded_cpu"`` (default: cuda if importable).
        batch_size: independent copies simulated together (inference with READ_ONLY weights).
        build_dir: where generated code goes (default: ``$HYBRIDSNN_CACHE`` or ``~/.cache/hybridsnn``).
        time_precision: precision of ``t`` (default: ``precision``).
        fastmath: numba engine only: compile with the floating-point contract of GeNN's CPU backend
            (``-O3 -ffast-math``: division by constants becomes multiplication by the reciprocal,
            reassociation; no FMA). ``False`` keeps strict IEEE evaluation in C order.
        genn_preferences: genn engine only: GeNN backend preferences, e.g. ``{"device_select_method":
            "MANUAL", "manual_device_id": 1, "block_size_select_method": "MANUAL"}`` for the cuda backend
            (enum values by name); ``optimize_code`` is on unless given.
        threads: numba engine only: CPU threads. Batch copies are split over them (default: the cores
            this process may use); with batch size 1 and ``threads`` given, populations of at least
            :data:`hybridsnn.sim.numba_engine.SPLIT_MIN_NEURONS` neurons are sliced over them (default:
            one thread, which paid better here). Results are bit-identical for every thread count.
    """
    if engine == "auto":
        engine = default_engine()
    if engine not in ENGINES:
        raise unknown_choice("engine", engine, ENGINES)
    for label, value in (("precision", precision), ("time precision", time_precision or precision)):
        if value not in PRECISIONS:
            raise unknown_choice(label, value, PRECISIONS)
    if not str(name).isidentifier():
        raise UserError(f"model name {name!r} must be an identifier (letters, digits, underscores)")
    if float(dt) <= 0:
        raise UserError(f"dt must be > 0 ms, got {dt}")
    if int(batch_size) < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    if engine == "numba":
        if backend not in (None, "numba"):
            raise UserError(f"backend {backend!r} is a GeNN backend; the numba engine has none")
        if genn_preferences:
            raise UserError("GeNN preferences apply to --engine genn only")
        from hybridsnn.sim.numba_engine import check_threads

        check_threads(threads)
        from hybridsnn.sim.numba_engine import NumbaModel

        return NumbaModel(name, precision, dt, seed, batch_size, build_dir, time_precision, fastmath, threads)
    if not pygenn_available():
        raise UserError(
            "engine 'genn' needs PyGeNN 5, which is not installed (see docs/engines.md: adding PyGeNN); "
            "use --engine numba"
        )
    from hybridsnn.sim.genn_engine import GennModel

    return GennModel(
        name, precision, dt, seed, backend, batch_size, build_dir, time_precision, genn_preferences
    )


__all__ = [
    "ENGINES", "available_engines", "create_model", "create_var_ref", "default_engine", "init_postsynaptic",
    "init_sparse_connectivity", "init_var", "init_weight_update", "pygenn_available",
]  # fmt: skip
