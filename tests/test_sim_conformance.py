"""The numba engine against real PyGeNN 5 on the same deterministic network.

Spike-source input, symmetric STDP on DENSE synapses, one-to-one excitation and all-but-self inhibition
on SPARSE synapses, conductance-based input: every recorded spike must be identical, and weights and
traces must agree within 1e-5. Runs only where ``pygenn`` is importable (not in CI).
"""

from __future__ import annotations

import numpy as np
import pytest

import genn_models as gm
from genn_models import sym_stdp as ss
from hybridsnn import sim
from hybridsnn.errors import UserError

pytestmark = [
    pytest.mark.genn,
    pytest.mark.skipif(not sim.pygenn_available(), reason="pygenn is not installed"),
]

Timing = gm.WeightUpdateModel(
    "Timing",
    vars=[
        ("since_post", "scalar"),
        ("since_prev_post", "scalar"),
        ("since_pre", "scalar"),
        ("v_post", "scalar"),
    ],
    post_neuron_var_refs=[("Vpost", "scalar", "READ_ONLY")],
    pre_spike_syn_code="since_post = t - st_post; since_prev_post = t - prev_st_post; v_post = Vpost;",
    post_spike_syn_code="since_pre = t - st_pre;",
)
STEPS = 600
N_IN, N_EXC = 24, 12


def network(engine: str, build_dir) -> dict[str, object]:
    rng = np.random.default_rng(11)
    m = sim.create_model(
        "conformance",
        engine=engine,
        dt=0.5,
        seed=1,
        build_dir=build_dir,
        backend="single_threaded_cpu" if engine == "genn" else None,
    )
    counts = rng.poisson(40, N_IN)
    times = [np.sort(rng.uniform(0, STEPS * 0.5, c)).round(1) for c in counts]
    ends = np.cumsum(counts)
    inp = m.add_neuron_population(
        "inp", N_IN, gm.SpikeSourceArray, {}, {"startSpike": ends - counts, "endSpike": ends}
    )
    inp.extra_global_params["spikeTimes"].set_init_values(np.concatenate(times))
    exc = m.add_neuron_population(
        "exc",
        N_EXC,
        ss.LIFExc,
        {
            "TV": 100.0,
            "Vrest": -65.0,
            "Vreset": -65.0,
            "Vthresh": -52.0,
            "Refrac": 2.0,
            "Ttheta": 6e6,
            "theta_plus": 0.07,
            "offset": 20.0,
            "frozen": 0,
        },
        {"V": rng.uniform(-70.0, -55.0, N_EXC), "theta": 20.0, "timer": 10.0, "count": 0},
    )
    inh = m.add_neuron_population(
        "inh",
        N_EXC,
        ss.LIFInh,
        {"TV": 10.0, "Vrest": -60.0, "Vreset": -45.0, "Vthresh": -40.0, "Refrac": 2.0},
        {"V": -60.0, "timer": 10.0},
    )
    for pop in (inp, exc, inh):
        pop.spike_recording_enabled = True
    exc.set_param_dynamic("theta_plus")

    def cond(tau, e, post):
        return sim.init_postsynaptic(
            "ExpCond", {"tau": tau, "E": e}, var_refs={"V": sim.create_var_ref(post, "V")}
        )

    stdp = {
        "nu_pre": 0.005,
        "nu_post": 0.005,
        "g_max": 1.0,
        "a_plus": 0.1,
        "a_minus": 0.1,
        "tau_pre": 20.0,
        "tau_post": 20.0,
        "learn": 1,
    }
    initial = rng.uniform(0.1, 1.0, (N_IN, N_EXC))
    p2e = m.add_synapse_population(
        "p2e",
        "DENSE",
        inp,
        exc,
        sim.init_weight_update(ss.SymSTDP, stdp, {"g": initial}, {"x": 1.0}, {"y": 1.0}),
        cond(1.0, 0.0, exc),
    )
    timing = m.add_synapse_population(
        "timing",
        "DENSE",
        inp,
        exc,
        sim.init_weight_update(
            Timing,
            {},
            {"since_post": 0.0, "since_prev_post": 0.0, "since_pre": 0.0, "v_post": 0.0},
            post_var_refs={"Vpost": sim.create_var_ref(exc, "V")},
        ),
        sim.init_postsynaptic("DeltaCurr"),
    )
    trace = {"tauPlus": 10.0, "tauMinus": 15.0, "Aplus": 0.01, "Aminus": 0.012, "Wmin": 0.0, "Wmax": 0.5}
    trace_stdp = m.add_synapse_population(
        "trace_stdp",
        "DENSE",
        inp,
        inh,
        sim.init_weight_update("TraceSTDP", trace, {"g": 0.05}, {"x": 0.0}, {"y": 0.0}),
        sim.init_postsynaptic("ExpCurr", {"tau": 5.0}),
    )
    m.add_synapse_population(
        "e2i",
        "SPARSE",
        exc,
        inh,
        sim.init_weight_update("StaticPulseConstantWeight", {"g": 10.4}),
        cond(1.0, 0.0, inh),
        sim.init_sparse_connectivity("OneToOne"),
    )
    i2e = m.add_synapse_population(
        "i2e",
        "SPARSE",
        inh,
        exc,
        sim.init_weight_update("StaticPulse", {}, {"g": 17.0}),
        cond(2.0, -100.0, exc),
        sim.init_sparse_connectivity("AllButSelf"),
    )
    m.build()
    m.load(num_recording_timesteps=STEPS)
    m.run(STEPS // 2)
    exc.set_dynamic_param_value("theta_plus", 0.0)  # half-way: adaptation off
    m.run(STEPS // 2)
    m.pull_recording_buffers_from_device()
    out: dict[str, object] = {"initial_g": initial.reshape(-1)}
    for name, pop in (("inp", inp), ("exc", exc), ("inh", inh)):
        t, i = pop.spike_recording_data[0]
        out[f"spikes_{name}"] = sorted(zip(np.round(t, 4).tolist(), i.tolist(), strict=True))
    for key, group, var in (
        ("g", p2e.vars, "g"),
        ("x", p2e.pre_vars, "x"),
        ("y", p2e.post_vars, "y"),
        ("theta", exc.vars, "theta"),
        ("V", exc.vars, "V"),
        ("since_post", timing.vars, "since_post"),
        ("since_prev_post", timing.vars, "since_prev_post"),
        ("since_pre", timing.vars, "since_pre"),
        ("v_post", timing.vars, "v_post"),
        ("trace_g", trace_stdp.vars, "g"),
    ):
        group[var].pull_from_device()
        out[key] = np.array(group[var].view, copy=True)
    out["i2e_pre"], out["i2e_post"] = i2e.get_sparse_pre_inds(), i2e.get_sparse_post_inds()
    i2e.vars["g"].pull_from_device()
    out["i2e_g"] = i2e.vars["g"].values
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    build = tmp_path_factory.getbasetemp() / "conformance-build"
    return network("numba", build), network("genn", build)


def test_spikes_are_identical(both):
    numba_run, genn_run = both
    for name in ("inp", "exc", "inh"):
        assert numba_run[f"spikes_{name}"] == genn_run[f"spikes_{name}"], name
    assert len(numba_run["spikes_exc"]) >= 20 and len(numba_run["spikes_inh"]) >= 10


def test_weights_and_state_agree(both):
    numba_run, genn_run = both
    for var in ("g", "x", "y", "theta", "trace_g", "since_pre"):
        np.testing.assert_allclose(numba_run[var], genn_run[var], rtol=0, atol=1e-5, err_msg=var)
    # a postsynaptic neuron variable read through a reference in synapse code (mV)
    np.testing.assert_allclose(numba_run["v_post"], genn_run["v_post"], rtol=1e-6, atol=1e-4)
    assert len(np.unique(numba_run["v_post"])) > 20
    # spike-time differences (ms), including the 'never spiked' value (about 3.4e38)
    for var in ("since_post", "since_prev_post"):
        np.testing.assert_allclose(numba_run[var], genn_run[var], rtol=1e-6, atol=1e-5, err_msg=var)
    assert (numba_run["since_prev_post"] < 1e6).sum() > 50  # most synapses saw two postsynaptic spikes
    assert len(np.unique(numba_run["since_pre"])) > 5 and np.abs(numba_run["trace_g"] - 0.05).max() > 1e-3
    np.testing.assert_allclose(numba_run["V"], genn_run["V"], rtol=1e-6, atol=1e-4)
    assert np.abs(numba_run["g"] - numba_run["initial_g"]).max() > 1e-3  # STDP did change the weights


def test_sparse_connectivity_layout_agrees(both):
    numba_run, genn_run = both
    for key in ("i2e_pre", "i2e_post", "i2e_g"):
        np.testing.assert_array_equal(numba_run[key], genn_run[key], err_msg=key)
    assert len(numba_run["i2e_pre"]) == N_EXC * (N_EXC - 1)


def test_genn_transpiler_errors_are_readable(tmp_path):
    m = sim.create_model("broken", engine="genn", backend="single_threaded_cpu", build_dir=tmp_path)
    bad = gm.NeuronModel("Bad", vars=[("V", "scalar")], sim_code="V += DT;")
    m.add_neuron_population("p", 2, bad, {}, {"V": 0.0})
    with pytest.raises(UserError, match="DT"):
        m.build()
