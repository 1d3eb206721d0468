"""Numba engine dynamics against hand-computed float32 values.

One network of independent small circuits is compiled once (strict IEEE, ``fastmath=False``) and run step
by step; each test checks one circuit: LIF integration, ExpCond/ExpCurr/DeltaCurr input, STDP traces and
weight changes for given spike times, Poisson rates, the float32 θ decay of sym-STDP, recording, batches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import genn_models as gm
from genn_models import NeuronModel, WeightUpdateModel
from genn_models import sym_stdp as ss
from hybridsnn import sim

DT = 0.5
f32 = np.float32
Probe = NeuronModel("Probe", vars=[("V", "scalar"), ("I", "scalar")], sim_code="I = Isyn;")
Ticker = NeuronModel(
    "Ticker", vars=[("I", "scalar")], sim_code="I = Isyn;", threshold_condition_code="t >= 1.0"
)
Feedback = WeightUpdateModel(
    "Feedback", vars=[("g", "scalar")], synapse_dynamics_code="g *= 0.5;", pre_spike_syn_code="addToPre(g);"
)
Timing = WeightUpdateModel(
    "Timing",
    vars=[("since_post", "scalar"), ("since_pre", "scalar")],
    pre_spike_syn_code="since_post = t - st_post;",
    post_spike_syn_code="since_pre = t - st_pre;",
)
LIF_PARAMS = {
    "C": 1.0,
    "TauM": 10.0,
    "Vrest": -65.0,
    "Vreset": -70.0,
    "Vthresh": -50.0,
    "Ioffset": 2.0,
    "TauRefrac": 2.0,
}
STDP_PARAMS = {
    "nu_pre": 0.01,
    "nu_post": 0.02,
    "g_max": 1.0,
    "a_plus": 0.1,
    "a_minus": 0.2,
    "tau_pre": 10.0,
    "tau_post": 10.0,
    "learn": 1,
}
BOUND_START = 0.999  # + nu_post * x = 0.002 would cross g_max = 1
PRE_TIMES, POST_TIMES = [2.0, 7.5, 30.0], [5.0, 31.0]  # ms; learning is switched off at 20 ms
EXC_PARAMS = {
    "TV": 100.0,
    "Vrest": -65.0,
    "Vreset": -65.0,
    "Vthresh": -52.0,
    "Refrac": 2.0,
    "theta_plus": 0.07,
    "offset": 20.0,
    "frozen": 0,
}
STEPS, POISSON_STEPS = 80, 2000


def spike_source(model, name, times_per_neuron):
    """A SpikeSourceArray population replaying the given spike times (ms)."""
    counts = np.array([len(t) for t in times_per_neuron])
    ends = np.cumsum(counts)
    pop = model.add_neuron_population(
        name, len(counts), gm.SpikeSourceArray, {}, {"startSpike": ends - counts, "endSpike": ends}
    )
    pop.extra_global_params["spikeTimes"].set_init_values(
        np.concatenate([np.asarray(t, float) for t in times_per_neuron])
    )
    return pop


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Build the test network, step it ``STEPS`` times recording state, then run the Poisson phase."""
    m = sim.create_model(
        "dynamics_lab",
        engine="numba",
        dt=DT,
        seed=7,
        fastmath=False,
        build_dir=tmp_path_factory.getbasetemp() / "sim-cache",
    )
    lif = m.add_neuron_population(
        "lif", 2, "LIF", LIF_PARAMS, {"V": np.array([-65.0, -50.5]), "RefracTime": 0.0}
    )
    lif.spike_recording_enabled = True
    src = spike_source(m, "src", [[1.0]])
    probes = {}
    for kind, ps in (
        ("cond", sim.init_postsynaptic("ExpCond", {"tau": 2.0, "E": 10.0})),
        ("curr", sim.init_postsynaptic("ExpCurr", {"tau": 2.0})),
        ("delta", sim.init_postsynaptic("DeltaCurr")),
    ):
        probes[kind] = m.add_neuron_population(f"probe_{kind}", 1, Probe, {}, {"V": -60.0, "I": 0.0})
        if kind == "cond":
            ps = sim.init_postsynaptic(
                "ExpCond", {"tau": 2.0, "E": 10.0}, var_refs={"V": sim.create_var_ref(probes[kind], "V")}
            )
        m.add_synapse_population(
            f"in_{kind}",
            "DENSE",
            src,
            probes[kind],
            sim.init_weight_update("StaticPulseConstantWeight", {"g": 0.5}),
            ps,
        )
    pre, post = spike_source(m, "pre", [PRE_TIMES]), spike_source(m, "post", [POST_TIMES])
    stdp = m.add_synapse_population(
        "stdp",
        "DENSE",
        pre,
        post,
        sim.init_weight_update(ss.SymSTDP, STDP_PARAMS, {"g": 0.3}, {"x": 0.0}, {"y": 0.0}),
        sim.init_postsynaptic("DeltaCurr"),
    )
    stdp.set_wu_param_dynamic("learn")
    bounded = m.add_synapse_population(  # the same pairing from just below the hard bound g_max = 1
        "stdp_bound",
        "DENSE",
        pre,
        post,
        sim.init_weight_update(ss.SymSTDP, STDP_PARAMS, {"g": BOUND_START}, {"x": 0.0}, {"y": 0.0}),
        sim.init_postsynaptic("DeltaCurr"),
    )
    timing = m.add_synapse_population(
        "timing",
        "DENSE",
        pre,
        post,
        sim.init_weight_update(Timing, {}, {"since_post": 0.0, "since_pre": 0.0}),
        sim.init_postsynaptic("DeltaCurr"),
    )
    ticker = m.add_neuron_population("ticker", 1, Ticker, {}, {"I": 0.0})
    m.add_synapse_population(
        "feedback",
        "SPARSE",
        ticker,
        probes["delta"],
        sim.init_weight_update(Feedback, {}, {"g": 1.0}),
        sim.init_postsynaptic("DeltaCurr"),
        sim.init_sparse_connectivity("OneToOne"),
    )
    thetas = {}
    for ttheta in (6e6, 2e7):
        thetas[ttheta] = m.add_neuron_population(
            f"theta_{int(ttheta)}",
            1,
            ss.LIFExc,
            {**EXC_PARAMS, "Ttheta": ttheta},
            {"V": -65.0, "theta": 20.0, "timer": 10.0, "count": 0},
        )
    thetas[6e6].set_param_dynamic("frozen")
    poi = m.add_neuron_population("poi", 200, "PoissonRate", {}, {"rate": 50.0})
    sympoi = m.add_neuron_population(
        "sympoi", 200, ss.PoissonInput, {"Vspike": 20.0, "Vrest": -60.0}, {"V": -60.0, "p": 0.2}
    )
    for pop in (poi, sympoi):
        pop.spike_recording_enabled = True
    m.build()
    m.load(num_recording_timesteps=POISSON_STEPS)
    trace = {
        key: []
        for key in (
            "lif_V",
            "cond",
            "curr",
            "delta",
            "g",
            "g_bound",
            "x",
            "y",
            "theta6",
            "theta20",
            "since_post",
            "since_pre",
            "ticker",
        )
    }
    for step in range(STEPS):
        if step == 40:  # 20 ms: freeze learning and θ
            stdp.set_dynamic_param_value("learn", 0)
            thetas[6e6].set_dynamic_param_value("frozen", 1)
        m.step_time()
        trace["lif_V"].append(lif.vars["V"].view.copy())
        for kind in probes:
            trace[kind].append(probes[kind].vars["I"].view[0])
        trace["g"].append(stdp.vars["g"].view[0])
        trace["g_bound"].append(bounded.vars["g"].view[0])
        trace["x"].append(stdp.pre_vars["x"].view[0])
        trace["y"].append(stdp.post_vars["y"].view[0])
        trace["theta6"].append(thetas[6e6].vars["theta"].view[0])
        trace["theta20"].append(thetas[2e7].vars["theta"].view[0])
        trace["since_post"].append(timing.vars["since_post"].view[0])
        trace["since_pre"].append(timing.vars["since_pre"].view[0])
        trace["ticker"].append(ticker.vars["I"].view[0])
    m.run(POISSON_STEPS - STEPS)
    m.pull_recording_buffers_from_device()
    return {
        "model": m,
        "trace": {k: np.array(v) for k, v in trace.items()},
        "lif": lif,
        "poi": poi,
        "sympoi": sympoi,
    }


def test_lif_matches_exact_float32_integration(lab):
    alpha = f32(f32(2.0) * f32(10.0)) + f32(-65.0)
    exp_tc = f32(math.exp(-DT / 10.0))
    v, refrac, expected, spikes = np.array([-65.0, -50.5], f32), np.zeros(2, f32), [], []
    for step in range(STEPS):
        integrate = refrac <= 0
        v = np.where(integrate, alpha - exp_tc * (alpha - v), v).astype(f32)
        refrac = np.where(integrate, refrac, refrac - f32(DT)).astype(f32)
        spiking = (refrac <= 0) & (v >= f32(-50.0))
        spikes += [(step * DT, i) for i in np.flatnonzero(spiking)]
        v, refrac = np.where(spiking, f32(-70.0), v), np.where(spiking, f32(2.0), refrac).astype(f32)
        expected.append(v.copy())
    np.testing.assert_array_equal(lab["trace"]["lif_V"], np.array(expected))
    times, ids = lab["lif"].spike_recording_data[0]
    recorded = [(t, i) for t, i in zip(times, ids, strict=True) if t < STEPS * DT]
    assert len(spikes) >= 3 and recorded == spikes


def test_postsynaptic_models_inject_and_decay(lab):
    # the source spikes at t = 1 ms (step 2); its input arrives one step later (GeNN order)
    decay, g = f32(math.exp(-DT / 2.0)), f32(0.5)
    cond, curr = lab["trace"]["cond"], lab["trace"]["curr"]
    assert np.all(cond[:3] == 0) and np.all(curr[:3] == 0)
    init = f32(2.0 * (1.0 - math.exp(-DT / 2.0)) / DT)
    in_syn = g
    for step in range(3, 10):
        assert cond[step] == in_syn * (f32(10.0) - f32(-60.0))
        assert curr[step] == init * in_syn
        in_syn = f32(in_syn * decay)
    np.testing.assert_array_equal(lab["trace"]["delta"][:6], [0, 0, 0, 0.5, 0, 0])


def test_stdp_traces_and_weight_changes_follow_spike_times(lab):
    tr = lab["trace"]
    decay = f32(1) - f32(0.05)  # Euler step of x += -x / tau * dt, tau = 10 ms
    # presynaptic trace: +0.1 at the pre spike (step 4), then decays every step
    assert tr["x"][3] == 0 and tr["x"][4] == f32(0.1)
    x = f32(0.1)
    for step in range(5, 11):
        x = f32(x + f32(f32(-x / f32(10.0)) * f32(0.5)))
        assert tr["x"][step] == x
    # post spike at step 10 potentiates by nu_post * x in the synapse update of step 11
    g = f32(f32(0.3) + f32(f32(0.02) * x))
    assert tr["g"][10] == f32(0.3) and tr["g"][11] == g
    # pre spike at 7.5 ms (step 15) after the post spike: + nu_pre * y at step 16
    y = f32(0.2)
    for _ in range(11, 16):
        y = f32(y + f32(f32(-y / f32(10.0)) * f32(0.5)))
    assert tr["y"][15] == y
    assert tr["g"][16] == f32(g + f32(f32(0.01) * y))
    # learning switched off at 20 ms: the pairing at 30/31 ms changes nothing, traces still decay
    assert np.all(tr["g"][40:] == tr["g"][39]) and tr["x"][-1] < tr["x"][60]
    assert decay < 1


def test_stdp_weight_stops_at_the_hard_bound(lab):
    g = lab["trace"]["g_bound"]
    assert g[10] == f32(BOUND_START)
    assert f32(f32(BOUND_START) + f32(f32(0.02) * f32(0.1))) > f32(1.0)  # unbounded, the step would cross
    assert g[11] == f32(STDP_PARAMS["g_max"])  # post spike: min(g_max, g + nu_post * x)
    assert np.all(g[11:40] == f32(1.0))  # the later pre spike (+ nu_pre * y) is clipped too


def test_spike_times_in_synapse_code(lab):
    # GeNN 5: st_pre / st_post in synapse code are the spike time plus one step (the arrival time)
    tr = lab["trace"]
    assert tr["since_post"][5] > 1e38  # first pre spike (2 ms), processed at 2.5 ms: no post spike yet
    assert tr["since_pre"][11] == f32(5.5) - f32(2.5)  # post spike 5 ms, processed 5.5 ms; pre spike 2 ms
    assert tr["since_post"][16] == f32(8.0) - f32(5.5)  # pre spike 7.5 ms, processed 8 ms; post spike 5 ms


def test_synapse_dynamics_and_add_to_pre(lab):
    # g halves every step (synapse dynamics runs before the spike update); from the ticker's first spike
    # (1 ms = step 2) on, each spike feeds g back into the ticker's own input one step later
    ticker = lab["trace"]["ticker"]
    assert np.all(ticker[:3] == 0)
    np.testing.assert_array_equal(ticker[3:12], [f32(0.5) ** (k + 1) for k in range(3, 12)])


def test_theta_decays_by_whole_float32_ulps(lab):
    # sym-STDP (docs/sym_stdp.md, «Model and equations»): theta -= theta / Ttheta * dt in float32 loses
    # exactly one ulp per step for Ttheta = 6e6 (ulp 2^-19 on [16, 32)) and never changes for Ttheta = 2e7
    theta6, theta20 = lab["trace"]["theta6"], lab["trace"]["theta20"]
    expected = f32(20.0) - np.arange(1, 41) * f32(2.0**-19)
    np.testing.assert_array_equal(theta6[:40], expected.astype(f32))
    assert np.all(theta6[40:] == theta6[39])  # frozen through the dynamic param
    assert np.all(theta20 == f32(20.0))


def test_poisson_rates(lab):
    seconds = POISSON_STEPS * DT / 1000.0
    times, ids = lab["poi"].spike_recording_data[0]
    expected = 200 * 50.0 * seconds
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    assert ids.min() == 0 and ids.max() == 199
    # sym-STDP input: probability p per step, but never two steps in a row -> p / (1 + p) per step
    times, _ = lab["sympoi"].spike_recording_data[0]
    expected = 200 * POISSON_STEPS * 0.2 / 1.2
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)


def test_recording_matches_genn_layout(lab):
    times, ids = lab["poi"].spike_recording_data[0]
    assert np.all(np.diff(times) >= 0) and times.dtype == np.float64 and ids.dtype == np.int32
    first = times == times[0]
    assert times[0] >= 0 and list(ids[first]) == sorted(ids[first], key=lambda i: (i // 32, -i))
    assert lab["model"].timestep == POISSON_STEPS and lab["model"].t == POISSON_STEPS * DT


@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory):
    """A batch of 3 copies with different spike inputs (on 3 threads), and the same copies one by one."""
    rng = np.random.default_rng(2)
    inputs = [[np.sort(rng.uniform(0, 50, 15)).round(1) for _ in range(20)] for _ in range(3)]
    weights = rng.uniform(0.0, 3.0, (20, 4))

    def build(batch_size, copies):
        m = sim.create_model(
            "batch_lab",
            engine="numba",
            batch_size=batch_size,
            build_dir=tmp_path_factory.getbasetemp() / "sim-cache",
        )
        flat = [t for copy in copies for t in copy]
        counts = np.array([len(t) for t in flat]).reshape(len(copies), 20)
        ends = np.cumsum(counts).reshape(counts.shape)
        src = m.add_neuron_population(
            "src", 20, gm.SpikeSourceArray, {}, {"startSpike": ends - counts, "endSpike": ends}
        )
        src.extra_global_params["spikeTimes"].set_init_values(np.concatenate(flat))
        out = m.add_neuron_population(
            "out", 4, "LIF", {**LIF_PARAMS, "Ioffset": 0.0}, {"V": -65.0, "RefracTime": 0.0}
        )
        m.add_synapse_population(
            "w",
            "DENSE",
            src,
            out,
            sim.init_weight_update("StaticPulse", {}, {"g": weights}),
            sim.init_postsynaptic("ExpCurr", {"tau": 5.0}),
        )
        out.spike_recording_enabled = True
        m.build()
        m.load(num_recording_timesteps=120)
        m.run(120)
        return m, out

    _, out = build(3, inputs)
    single = []
    for copy in inputs:
        _, pop = build(1, [copy])
        single.append((pop.spike_recording_data[0], pop.vars["V"].view.copy()))
    return out, single


def test_batch_copies_run_independently(batch_runs):
    out, single = batch_runs
    assert out.vars["V"].view.shape == (3, 4)
    for b, ((times, ids), v) in enumerate(single):
        bt, bi = out.spike_recording_data[b]
        np.testing.assert_array_equal(bt, times)
        np.testing.assert_array_equal(bi, ids)
        np.testing.assert_array_equal(out.vars["V"].view[b], v)
    assert sum(len(t) for (t, _), _ in single) > 0


def test_plastic_synapses_deliver_their_weight_and_trace_stdp_follows_the_pairing(tmp_path):
    # Pre spikes at 2 and 7.5 ms, one post spike at 5 ms (the post neuron records its input I = Isyn):
    # both rules deliver g (before this spike's update) one step after each pre spike; TraceSTDP
    # potentiates by Aplus·x at the post spike and depresses by Aminus·y at the later pre spike.
    spikes_at_5ms = "t >= 5.0 && t < 5.25"
    PostProbe = NeuronModel("PostProbe", vars=[("I", "scalar")], sim_code="I = Isyn;",
                            threshold_condition_code=spikes_at_5ms)  # fmt: skip
    m = sim.create_model("plastic_lab", engine="numba", dt=DT, fastmath=False, build_dir=tmp_path)
    pre = spike_source(m, "pre", [[2.0, 7.5]])
    probes = {k: m.add_neuron_population(f"post_{k}", 1, PostProbe, {}, {"I": 0.0}) for k in ("sym", "trace")}
    sym = m.add_synapse_population(
        "sym", "DENSE", pre, probes["sym"],
        sim.init_weight_update(ss.SymSTDP, STDP_PARAMS, {"g": 0.3}, {"x": 0.0}, {"y": 0.0}),
        sim.init_postsynaptic("DeltaCurr"),
    )  # fmt: skip
    trace_params = {"tauPlus": 10.0, "tauMinus": 5.0, "Aplus": 0.25, "Aminus": 0.5, "Wmin": 0.0, "Wmax": 1.0}
    stdp = m.add_synapse_population(
        "trace", "DENSE", pre, probes["trace"],
        sim.init_weight_update("TraceSTDP", trace_params, {"g": 0.5}, {"x": 0.0}, {"y": 0.0}),
        sim.init_postsynaptic("DeltaCurr"),
    )  # fmt: skip
    lateral_src = spike_source(m, "lateral_src", [[1.0], [], []])
    lateral = m.add_neuron_population("lateral", 3, Probe, {}, {"V": 0.0, "I": 0.0})
    m.add_synapse_population(
        "others", "SPARSE", lateral_src, lateral, sim.init_weight_update("StaticPulse", {}, {"g": 0.75}),
        sim.init_postsynaptic("DeltaCurr"), sim.init_sparse_connectivity("AllButSelf"),
    )  # fmt: skip
    m.build()
    m.load()
    rec = {k: [] for k in ("I_sym", "I_trace", "g_sym", "g_trace", "x", "y", "lateral")}
    for _ in range(20):
        m.step_time()
        rec["I_sym"].append(probes["sym"].vars["I"].view[0])
        rec["I_trace"].append(probes["trace"].vars["I"].view[0])
        rec["g_sym"].append(sym.vars["g"].view[0])
        rec["g_trace"].append(stdp.vars["g"].view[0])
        rec["x"].append(stdp.pre_vars["x"].view[0])
        rec["y"].append(stdp.post_vars["y"].view[0])
        rec["lateral"].append(lateral.vars["I"].view.copy().reshape(-1))
    # all-but-self: source neuron 0 spikes at 1 ms (step 2), neurons 1 and 2 get 0.75 at step 3, 0 nothing
    assert rec["lateral"][3].tolist() == [0.0, 0.75, 0.75] and not np.any(rec["lateral"][4])
    # pre spike at step 4, delivered at step 5; the second at step 15, delivered at step 16
    assert rec["I_sym"][5] == f32(0.3) and rec["I_trace"][5] == f32(0.5)
    arrivals = {k: [step for step, v in enumerate(rec[f"I_{k}"]) if v] for k in ("sym", "trace")}
    assert arrivals == {"sym": [5, 16], "trace": [5, 16]}
    assert rec["I_sym"][16] == rec["g_sym"][15] > f32(0.3)  # the weight as potentiated at the post spike
    # TraceSTDP traces: x jumps by 1 at the pre spike (step 4) and decays by exp(−dt/τ+) every step
    plus, minus = f32(math.exp(-DT / 10.0)), f32(math.exp(-DT / 5.0))
    x = f32(1.0)
    for step in range(5, 11):
        x = f32(x * plus)
        assert rec["x"][step] == x
    assert rec["x"][4] == f32(1.0) and rec["y"][10] == f32(1.0) and rec["y"][9] == 0.0
    g = f32(min(f32(1.0), f32(f32(0.5) + f32(f32(0.25) * x))))  # post spike (step 10), applied at step 11
    assert rec["g_trace"][10] == f32(0.5) and rec["g_trace"][11] == g
    y = f32(1.0)
    for _ in range(11, 16):
        y = f32(y * minus)
    assert rec["y"][15] == y
    assert rec["I_trace"][16] == g  # delivered before the depression of the same spike
    assert rec["g_trace"][16] == f32(max(f32(0.0), f32(g - f32(f32(0.5) * y))))
