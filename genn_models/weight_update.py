"""Built-in weight-update models."""

from __future__ import annotations

import math

from genn_models.base import WeightUpdateModel

StaticPulse = WeightUpdateModel(
    "StaticPulse",
    vars=[("g", "scalar", "READ_ONLY")],
    pre_spike_syn_code="addToPost(g);",
)
"""Fixed per-synapse weight g added to the target's input on every presynaptic spike."""

StaticPulseConstantWeight = WeightUpdateModel(
    "StaticPulseConstantWeight",
    params=["g"],
    pre_spike_syn_code="addToPost(g);",
)
"""One weight g (parameter) for every synapse of the projection."""

TraceSTDP = WeightUpdateModel(
    "TraceSTDP",
    params=["tauPlus", "tauMinus", "Aplus", "Aminus", "Wmin", "Wmax"],
    derived_params=[
        ("decayPlus", lambda p, dt: math.exp(-dt / p["tauPlus"])),
        ("decayMinus", lambda p, dt: math.exp(-dt / p["tauMinus"])),
    ],
    vars=[("g", "scalar")],
    pre_vars=[("x", "scalar")],
    post_vars=[("y", "scalar")],
    pre_spike_syn_code="""
        addToPost(g);
        g = fmax(Wmin, g - Aminus * y);          // depression by the postsynaptic trace
    """,
    post_spike_syn_code="""
        g = fmin(Wmax, g + Aplus * x);           // potentiation by the presynaptic trace
    """,
    pre_spike_code="x += 1.0;",
    post_spike_code="y += 1.0;",
    pre_dynamics_code="x *= decayPlus;",
    post_dynamics_code="y *= decayMinus;",
)
"""Additive pair-based STDP with exponential traces (tau in ms) and hard bounds [Wmin, Wmax]."""
