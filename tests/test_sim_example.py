"""The "add a GeNN model" recipe of docs/architecture.md runs, adapts, and agrees across engines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genn_models import NeuronModel
from hybridsnn import sim

# -- the recipe's model (docs/architecture.md, «Recipe: add a GeNN model») ----------------------
AdaptiveLIF = NeuronModel(
    "AdaptiveLIF",
    params=["TauM", "Vrest", "Vthresh", "Vreset", "Idrive", "TauA", "Jump"],  # ms, mV, nA (R = 1)
    derived_params=[("DecayA", lambda p, dt: math.exp(-dt / p["TauA"]))],
    vars=[("V", "scalar"), ("A", "scalar")],
    sim_code="""
        V += (Vrest - V + Idrive + Isyn - A) * (dt / TauM);   // leaky integration
        A *= DecayA;                                           // adaptation current decays
    """,
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        A += Jump;                                             // each spike adds adaptation
    """,
)


def simulate(engine: str, build_dir) -> tuple[np.ndarray, np.ndarray]:
    model = sim.create_model(
        "adaptation",
        engine=engine,
        dt=0.5,
        build_dir=build_dir,
        backend="single_threaded_cpu" if engine == "genn" else None,
    )
    params = {
        "TauM": 20.0,
        "Vrest": -65.0,
        "Vthresh": -50.0,
        "Vreset": -65.0,
        "Idrive": 30.0,
        "TauA": 200.0,
        "Jump": 2.0,
    }
    pop = model.add_neuron_population("pop", 3, AdaptiveLIF, params, {"V": [-65.0, -60.0, -55.0], "A": 0.0})
    pop.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=2000)
    model.run(2000)  # 1 s
    model.pull_recording_buffers_from_device()
    return pop.spike_recording_data[0]


# -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def numba_spikes(tmp_path_factory):
    return simulate("numba", tmp_path_factory.getbasetemp() / "sim-cache")


def test_adaptation_lengthens_intervals(numba_spikes):
    times, ids = numba_spikes
    isi = np.diff(times[ids == 0])
    assert len(isi) > 10 and isi[-1] > 2 * isi[0]


@pytest.mark.genn
@pytest.mark.skipif(not sim.pygenn_available(), reason="pygenn is not installed")
def test_same_spikes_on_genn(numba_spikes, tmp_path):
    times, ids = simulate("genn", tmp_path)
    np.testing.assert_array_equal(times, numba_spikes[0])
    np.testing.assert_array_equal(ids, numba_spikes[1])
