"""sym-STDP (Hao et al. 2020) models in GeNN 5 form (docs/sym_stdp.md, «Model and equations»: «Neurons»,
«Synapses and symmetric STDP»).

Units: ms, mV; ``p`` is a spike probability per step (rate_kHz · dt). Dynamic switches (make them dynamic
before build with ``set_param_dynamic`` / ``set_wu_param_dynamic``): ``frozen`` (Exc: 1 freezes θ),
``teach`` (Cla: 1 = Poisson teacher, 0 = LIF readout), ``learn`` (STDP: 0 freezes weights and trace jumps).
"""

from __future__ import annotations

from genn_models.base import NeuronModel, WeightUpdateModel

PoissonInput = NeuronModel(
    "SymPoissonInput",
    params=["Vspike", "Vrest"],
    vars=[("V", "scalar"), ("p", "scalar")],
    sim_code="""
        if (V > Vrest) {
            V = Vrest;                        // forced silent step after every spike
        }
        else if (gennrand_uniform() < p) {
            V = Vspike;
        }
    """,
    threshold_condition_code="V >= Vspike",
)
"""Input neuron: fires with probability ``p`` per step, never in two consecutive steps (docs/sym_stdp.md,
«Neurons»)."""

LIFExc = NeuronModel(
    "SymLIFExc",
    params=[
        "TV",
        "Vrest",
        "Vreset",
        "Vthresh",
        "Refrac",
        "Ttheta",
        "theta_plus",
        "offset",
        ("frozen", "int"),
    ],
    vars=[("V", "scalar"), ("theta", "scalar"), ("timer", "scalar"), ("count", "unsigned int")],
    sim_code="""
        if (timer > Refrac) {
            V += (Vrest - V + Isyn) / TV * dt;
        }
        if (V < -100.0) {
            V = -100.0;
        }
        if (frozen == 0) {
            theta -= theta / Ttheta * dt;     // float32: whole ulps (docs/sym_stdp.md, «θ in float32»)
        }
        timer += dt;
    """,
    threshold_condition_code="V > (theta - offset + Vthresh) && timer > Refrac",
    reset_code="""
        if (frozen == 0) {
            theta += theta_plus * (offset - 10.0) / fabs(theta - 10.0);
        }
        V = Vreset;
        timer = 0.0;
        count++;
    """,
)
"""Hidden excitatory LIF with adaptive threshold θ and refractory timer (docs/sym_stdp.md, «Neurons»)."""

LIFInh = NeuronModel(
    "SymLIFInh",
    params=["TV", "Vrest", "Vreset", "Vthresh", "Refrac"],
    vars=[("V", "scalar"), ("timer", "scalar")],
    sim_code="""
        if (timer > Refrac) {
            V += (Vrest - V + Isyn) / TV * dt;
        }
        timer += dt;
    """,
    threshold_condition_code="V > Vthresh && timer > Refrac",
    reset_code="""
        V = Vreset;
        timer = 0.0;
    """,
)
"""Hidden inhibitory LIF (docs/sym_stdp.md, «Neurons»)."""

LIFCla = NeuronModel(
    "SymLIFCla",
    params=["TV", "Vrest", "Vreset", "Vthresh", "Vspike", ("teach", "int")],
    vars=[("V", "scalar"), ("p", "scalar"), ("count", "unsigned int")],
    sim_code="""
        if (teach == 0) {
            V += (Vrest - V + Isyn) / TV * dt;
        }
        else {
            if (V > Vrest) {
                V = Vrest;
            }
            else if (gennrand_uniform() < p) {
                V = Vspike;
            }
        }
    """,
    threshold_condition_code="(teach == 0 && V > Vthresh) || (teach != 0 && V >= Vspike)",
    reset_code="""
        if (teach == 0) {
            V = Vreset;
        }
        count++;
    """,
)
"""Output neuron: Poisson teacher while ``teach`` != 0, plain LIF readout otherwise (docs/sym_stdp.md,
«Neurons»)."""

SymSTDP = WeightUpdateModel(
    "SymSTDP",
    params=["nu_pre", "nu_post", "g_max", "a_plus", "a_minus", "tau_pre", "tau_post", ("learn", "int")],
    vars=[("g", "scalar")],
    pre_vars=[("x", "scalar")],
    post_vars=[("y", "scalar")],
    pre_spike_syn_code="""
        addToPost(g);
        if (learn != 0) {
            g = fmin(g_max, g + nu_pre * y);
        }
    """,
    post_spike_syn_code="""
        if (learn != 0) {
            g = fmin(g_max, g + nu_post * x);
        }
    """,
    pre_spike_code="if (learn != 0) { x += a_plus; }",
    post_spike_code="if (learn != 0) { y += a_minus; }",
    pre_dynamics_code="x += -x / tau_pre * dt;",
    post_dynamics_code="y += -y / tau_post * dt;",
)
"""Symmetric potentiation-only STDP: Euler traces x (pre), y (post), hard bound g_max (docs/sym_stdp.md,
«Synapses and symmetric STDP»)."""
