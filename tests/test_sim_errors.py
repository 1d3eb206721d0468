"""Bad models and bad use of the model API give one clear UserError naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import genn_models as gm
from genn_models import ModelDefinitionError, NeuronModel, WeightUpdateModel
from hybridsnn import sim
from hybridsnn.errors import UserError

Counter = NeuronModel(
    "Counter",
    params=["rate"],
    vars=[("V", "scalar"), ("n", "unsigned int")],
    sim_code="V += rate * dt;",
    threshold_condition_code="V >= 1.0",
    reset_code="V = 0.0; n++;",
)


@pytest.fixture
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "sim-cache"


def small(cache, **kwargs):
    """A two-population model (same code every time, so its kernel compiles once per session)."""
    m = sim.create_model("errors_small", engine="numba", build_dir=cache)
    a = m.add_neuron_population("a", 3, Counter, {"rate": 0.3}, {"V": kwargs.get("V", 0.0), "n": 0})
    b = m.add_neuron_population("b", kwargs.get("n_b", 3), Counter, {"rate": 0.1}, {"V": 0.0, "n": 0})
    s = m.add_synapse_population(
        "s",
        "SPARSE",
        a,
        b,
        sim.init_weight_update("StaticPulse", {}, {"g": 0.5}),
        sim.init_postsynaptic("DeltaCurr"),
        sim.init_sparse_connectivity("OneToOne"),
    )
    a.spike_recording_enabled = True
    a.set_param_dynamic("rate")
    return m, a, b, s


def test_unsupported_construct_names_construct_model_and_field(cache):
    bad = NeuronModel(
        "Bad",
        vars=[("V", "scalar")],
        sim_code="V += dt;",
        reset_code="switch ((int)V) { case 1: V = 0.0; }",
        threshold_condition_code="V > 1.0",
    )
    m = sim.create_model("bad", engine="numba", build_dir=cache)
    m.add_neuron_population("p", 2, bad, {}, {"V": 0.0})
    with pytest.raises(
        UserError,
        match=r"neuron model 'Bad' reset_code \(population 'p'\): unsupported construct: "
        r"'switch' statement",
    ):
        m.build()


def test_unknown_variable_in_synapse_code(cache):
    wu = WeightUpdateModel("Leaky", vars=[("g", "scalar")], pre_spike_syn_code="addToPost(g * gain);")
    m = sim.create_model("unknown_var", engine="numba", build_dir=cache)
    a = m.add_neuron_population("a", 2, Counter, {"rate": 0.1}, {"V": 0.0, "n": 0})
    m.add_synapse_population(
        "s", "DENSE", a, a, sim.init_weight_update(wu, {}, {"g": 1.0}), sim.init_postsynaptic("DeltaCurr")
    )
    with pytest.raises(
        UserError, match=r"weight update model 'Leaky' pre_spike_syn_code .* unknown identifier 'gain'"
    ):
        m.build()


def test_neuron_variables_are_invisible_to_postsynaptic_code_without_a_reference(cache):
    psm = gm.PostsynapticModel("UsesV", sim_code="injectCurrent(inSyn * V);")
    m = sim.create_model("no_ref", engine="numba", build_dir=cache)
    a = m.add_neuron_population("a", 2, Counter, {"rate": 0.1}, {"V": 0.0, "n": 0})
    m.add_synapse_population(
        "s", "DENSE", a, a, sim.init_weight_update("StaticPulse", {}, {"g": 1.0}), sim.init_postsynaptic(psm)
    )
    with pytest.raises(UserError, match=r"postsynaptic model 'UsesV' sim_code .* unknown identifier 'V'"):
        m.build()


def test_wrong_initial_shape(cache):
    m, *_ = small(cache, V=np.zeros(4))
    m.build()
    with pytest.raises(
        UserError, match=r"neuron population 'a' variable 'V': initial values of shape \(4,\)"
    ):
        m.load(num_recording_timesteps=10)


def test_wrong_shape_pushed_and_sparse_view(cache):
    m, a, _, s = small(cache)
    m.build()
    m.load(num_recording_timesteps=10)
    with pytest.raises(UserError, match=r"cannot set values of shape \(5,\); expected \(3,\)"):
        a.vars["V"].values = np.zeros(5)
    a.vars["V"].values = np.array([0.1, 0.2, 0.3])
    a.vars["V"].push_to_device()
    assert a.vars["V"].view.tolist() == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(UserError, match=r"SPARSE synapse variables have no view; use \.values"):
        s.vars["g"].view  # noqa: B018
    assert s.vars["g"].values.tolist() == [0.5, 0.5, 0.5]
    assert s.get_sparse_pre_inds().tolist() == [0, 1, 2] == s.get_sparse_post_inds().tolist()


def test_connectivity_outside_the_target(cache):
    m, *_ = small(cache, n_b=2)
    m.build()
    with pytest.raises(UserError, match="'OneToOne' made a synapse to neuron 2 of a 2-neuron target"):
        m.load(num_recording_timesteps=10)


def test_dynamic_params_and_recording_misuse(cache):
    m, a, b, _ = small(cache)
    m.build()
    with pytest.raises(UserError, match="spike recording is enabled: pass num_recording_timesteps"):
        m.load()
    m.load(num_recording_timesteps=10)
    with pytest.raises(UserError, match="param 'rate' is not dynamic"):
        b.set_dynamic_param_value("rate", 1.0)
    with pytest.raises(UserError, match="spike recording data can be read once 10 steps have run"):
        a.spike_recording_data  # noqa: B018
    a.set_dynamic_param_value("rate", 1.0)  # V += 0.5 per step: a spike every second step
    m.run(10)
    m.pull_recording_buffers_from_device()
    times, ids = a.spike_recording_data[0]
    assert list(times) == [0.5] * 3 + [1.5] * 3 + [2.5] * 3 + [3.5] * 3 + [4.5] * 3
    assert list(ids[:3]) == [2, 1, 0]  # GeNN's order: highest id of a 32-bit word first
    assert a.vars["n"].view.tolist() == [5, 5, 5]
    with pytest.raises(UserError, match=r"before model\.build"):
        a.set_param_dynamic("rate")


def test_bad_api_arguments(cache):
    with pytest.raises(UserError, match="unknown engine 'cuda'; allowed: numba, genn"):
        sim.create_model("x", engine="cuda")
    with pytest.raises(UserError, match="unknown precision 'half'"):
        sim.create_model("x", precision="half")
    m = sim.create_model("x", engine="numba", build_dir=cache)
    with pytest.raises(UserError, match="unknown param 'tau'; model 'Counter' has: rate"):
        m.add_neuron_population("p", 2, Counter, {"rate": 1.0, "tau": 2.0}, {"V": 0.0, "n": 0})
    with pytest.raises(UserError, match="missing initial value for variable 'n'"):
        m.add_neuron_population("p", 2, Counter, {"rate": 1.0}, {"V": 0.0})
    with pytest.raises(UserError, match="unknown neuron model 'Izhikevich'"):
        m.add_neuron_population("p", 2, "Izhikevich", {}, {})
    a = m.add_neuron_population("a", 2, Counter, {"rate": 1.0}, {"V": 0.0, "n": 0})
    b = m.add_neuron_population("b", 2, Counter, {"rate": 1.0}, {"V": 0.0, "n": 0})
    with pytest.raises(UserError, match="missing initial value for variable reference 'V'"):
        m.add_synapse_population(
            "s",
            "DENSE",
            a,
            b,
            sim.init_weight_update("StaticPulse", {}, {"g": 1.0}),
            sim.init_postsynaptic("ExpCond", {"tau": 1.0, "E": 0.0}),
        )
    with pytest.raises(UserError, match="must point at population 'b', not 'a'"):
        m.add_synapse_population(
            "s",
            "DENSE",
            a,
            b,
            sim.init_weight_update("StaticPulse", {}, {"g": 1.0}),
            sim.init_postsynaptic(
                "ExpCond", {"tau": 1.0, "E": 0.0}, var_refs={"V": sim.create_var_ref(a, "V")}
            ),
        )
    with pytest.raises(UserError, match="unknown matrix type 'BITMASK'"):
        m.add_synapse_population(
            "s",
            "BITMASK",
            a,
            b,
            sim.init_weight_update("StaticPulse", {}, {"g": 1.0}),
            sim.init_postsynaptic("DeltaCurr"),
        )


def test_genn_engine_without_pygenn(monkeypatch):
    monkeypatch.setattr(sim, "pygenn_available", lambda: False)
    assert sim.available_engines() == ["numba"] and sim.default_engine() == "numba"
    with pytest.raises(UserError, match="engine 'genn' needs PyGeNN 5, which is not installed"):
        sim.create_model("x", engine="genn")


def test_model_definition_errors():
    with pytest.raises(ModelDefinitionError, match="param name '2x' is not a valid identifier"):
        NeuronModel("M", params=["2x"])
    with pytest.raises(ModelDefinitionError, match="name 'V' is used twice"):
        NeuronModel("M", params=["V"], vars=[("V", "scalar")])
    with pytest.raises(ModelDefinitionError, match="var type 'half' is not supported"):
        NeuronModel("M", vars=[("V", "half")])
    with pytest.raises(ModelDefinitionError, match="access 'WRITE_ONLY' is not supported"):
        NeuronModel("M", vars=[("V", "scalar", "WRITE_ONLY")])
