"""Built-in neuron models (GeNN 5 code strings; units: ms, mV, nA, nF, Hz)."""

from __future__ import annotations

import math

from genn_models.base import NeuronModel

LIF = NeuronModel(
    "LIF",
    params=["C", "TauM", "Vrest", "Vreset", "Vthresh", "Ioffset", "TauRefrac"],
    derived_params=[
        ("ExpTC", lambda p, dt: math.exp(-dt / p["TauM"])),
        ("Rmembrane", lambda p, dt: p["TauM"] / p["C"]),
    ],
    vars=[("V", "scalar"), ("RefracTime", "scalar")],
    sim_code="""
        if (RefracTime <= 0.0) {
            const scalar vInf = (Isyn + Ioffset) * Rmembrane + Vrest;   // steady state (mV)
            V = vInf - ExpTC * (vInf - V);                                // exact exponential step
        }
        else {
            RefracTime -= dt;
        }
    """,
    threshold_condition_code="RefracTime <= 0.0 && V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = TauRefrac;
    """,
)
"""Leaky integrate-and-fire with exact exponential integration and an absolute refractory period (ms)."""

PoissonRate = NeuronModel(
    "PoissonRate",
    vars=[("rate", "scalar", "READ_ONLY_DUPLICATE")],
    threshold_condition_code="gennrand_uniform() < rate * dt * 0.001",
)
"""Poisson spike source with one rate per neuron (Hz): spikes with probability rate·dt per step."""

SpikeSourceArray = NeuronModel(
    "SpikeSourceArray",
    vars=[("startSpike", "unsigned int"), ("endSpike", "unsigned int", "READ_ONLY_DUPLICATE")],
    extra_global_params=[("spikeTimes", "scalar*")],
    threshold_condition_code="startSpike != endSpike && t >= spikeTimes[startSpike]",
    reset_code="startSpike++;",
)
"""Replays given spike times (ms): neuron i emits spikeTimes[startSpike[i] .. endSpike[i]-1] in order."""
