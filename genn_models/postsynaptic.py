"""Built-in postsynaptic models: how the accumulated synaptic input ``inSyn`` reaches the neuron."""

from __future__ import annotations

import math

from genn_models.base import PostsynapticModel

ExpCurr = PostsynapticModel(
    "ExpCurr",
    params=["tau"],
    derived_params=[
        ("expDecay", lambda p, dt: math.exp(-dt / p["tau"])),
        ("init", lambda p, dt: p["tau"] * (1.0 - math.exp(-dt / p["tau"])) / dt),
    ],
    sim_code="""
        injectCurrent(init * inSyn);
        inSyn *= expDecay;
    """,
)
"""Exponentially decaying current (tau in ms), normalised so a weight w injects a total charge w·tau."""

ExpCond = PostsynapticModel(
    "ExpCond",
    params=["tau", "E"],
    neuron_var_refs=[("V", "scalar", "READ_ONLY")],
    derived_params=[("expDecay", lambda p, dt: math.exp(-dt / p["tau"]))],
    sim_code="""
        injectCurrent(inSyn * (E - V));
        inSyn *= expDecay;
    """,
)
"""Exponentially decaying conductance (tau in ms) with reversal potential E (mV); needs a ``V`` reference."""

DeltaCurr = PostsynapticModel(
    "DeltaCurr",
    sim_code="""
        injectCurrent(inSyn);
        inSyn = 0.0;
    """,
)
"""Instantaneous current: the whole input is injected in one step."""
