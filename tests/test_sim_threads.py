"""The numba engine on several threads: bit-identical to one thread, and its thread-count flag."""

from __future__ import annotations

import numpy as np
import pytest

import genn_models as gm
from hybridsnn import cli, sim
from hybridsnn.errors import UserError
from hybridsnn.sim import fpenv, numba_engine
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.network import EngineChoice, TrainingNetwork, initial_weights, normalise_columns


@pytest.fixture
def small_split(monkeypatch):
    """Split populations from 64 neurons on, so that small networks exercise the sliced kernels."""
    monkeypatch.setattr(numba_engine, "SPLIT_MIN_NEURONS", 64)


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28))
    image[6:22, 9:19] = rng.uniform(100.0, 255.0, (16, 10))
    return image.reshape(-1)


def _trained(threads: int, build_dir, presentations: int = 4) -> tuple[TrainingNetwork, list[np.ndarray]]:
    config = make_config("mnist", 100)
    p2e, e2c = initial_weights(config, np.random.default_rng(3))
    theta = np.full(100, config.theta_init, np.float32)
    engine = EngineChoice("numba", build_dir=str(build_dir), threads=threads)
    net = TrainingNetwork(config, p2e, e2c, theta, seed=5, engine=engine)
    counts = [net.attempt(_image(k), k % 10, 2.0 + k) for k in range(presentations)]
    return net, counts


def test_plastic_network_is_bit_identical_on_one_and_two_threads(small_split, tmp_path):
    one, counts_one = _trained(1, tmp_path)
    two, counts_two = _trained(2, tmp_path)
    assert one.model._split == 1
    assert two.model._split == 2  # the 784 inputs and both hidden layers really are sliced
    assert two.model._bounds.tolist() == [[0, 448, 784], [0, 64, 100], [0, 64, 100], [0, 10, 10]]
    assert sum(c.sum() for c in counts_one) > 20  # the network fired, so the comparison means something
    for a, b in zip(counts_one, counts_two, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one.weights(), two.weights(), strict=True):
        assert not np.array_equal(a, initial_weights(one.config, np.random.default_rng(3))[0]) or a.ndim == 1
        np.testing.assert_array_equal(a, b)  # P2E, E2C and θ after STDP, to the bit
    for pop in ("PInh", "PCla"):
        first, second = one.model.neuron_populations[pop], two.model.neuron_populations[pop]
        for var in first.vars:
            np.testing.assert_array_equal(first.vars[var].view, second.vars[var].view)


def _recorded(threads: int, build_dir) -> list[tuple[np.ndarray, np.ndarray]]:
    """A Poisson source (one generator per neuron) onto LIF neurons through SPARSE all-but-self synapses:
    sliced rows found by bisection, spike recording written by two threads."""
    model = sim.create_model("rec_threads", dt=0.5, seed=2, build_dir=build_dir, threads=threads)
    src = model.add_neuron_population("src", 150, "PoissonRate", {}, {"rate": 60.0})
    lif = {"C": 1.0, "TauM": 10.0, "Vrest": -65.0, "Vreset": -65.0, "Vthresh": -55.0, "Ioffset": 0.0,
           "TauRefrac": 2.0}  # fmt: skip
    pop = model.add_neuron_population("pop", 150, "LIF", lif, {"V": -65.0, "RefracTime": 0.0})
    synapses = sim.init_weight_update("StaticPulseConstantWeight", {"g": 1.5})
    current = sim.init_postsynaptic("ExpCurr", {"tau": 5.0})
    model.add_synapse_population("syn", "SPARSE", src, pop, synapses, current,
                                 sim.init_sparse_connectivity("AllButSelf"))  # fmt: skip
    pop.spike_recording_enabled = True
    src.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=400)
    model.run(400)
    model.pull_recording_buffers_from_device()
    assert model._split == threads
    return [*src.spike_recording_data, *pop.spike_recording_data]


def test_sparse_rows_and_recording_are_bit_identical_on_two_threads(small_split, tmp_path):
    one, two = _recorded(1, tmp_path), _recorded(2, tmp_path)
    assert len(one[1][0]) > 50  # the target population fired
    for (t1, i1), (t2, i2) in zip(one, two, strict=True):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(i1, i2)


def test_shared_generator_keeps_a_population_on_one_thread(small_split, tmp_path):
    """A weight-update neuron code drawing from the group's one generator cannot be split."""
    noisy = gm.WeightUpdateModel("NoisyTrace", vars=[("g", "scalar")], pre_vars=[("x", "scalar")],
                                 pre_spike_syn_code="addToPost(g);",
                                 pre_dynamics_code="x += gennrand_uniform() * dt;")  # fmt: skip
    model = sim.create_model("shared_rng", seed=1, build_dir=tmp_path, threads=2)
    src = model.add_neuron_population("src", 128, "PoissonRate", {}, {"rate": 10.0})
    trg = model.add_neuron_population("trg", 128, "PoissonRate", {}, {"rate": 10.0})
    synapses = sim.init_weight_update(noisy, {}, {"g": 0.0}, {"x": 0.0})
    model.add_synapse_population("s", "DENSE", src, trg, synapses, sim.init_postsynaptic("DeltaCurr"))
    model.build()
    model.load()
    assert model._bounds.tolist() == [[0, 128, 128], [0, 64, 128]]


def test_thread_count_must_be_positive(tmp_path, capsys):
    with pytest.raises(UserError, match="threads must be a whole number >= 1, got 0"):
        sim.create_model("bad_threads", threads=0)
    assert numba_engine.default_threads() >= 1
    with pytest.raises(SystemExit) as exit_info:  # refused by the flag's type, as argparse does
        cli.main(["train", "sym-stdp", "--quick", "--threads", "0", "--output", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert err == ["hybridsnn: error: train sym-stdp: argument --threads: '0' is not allowed; expected a "
                   "whole number >= 1"]  # fmt: skip
    assert not any(tmp_path.iterdir())


def test_compiled_normalisation_matches_numpy_and_any_thread_count():
    rng = np.random.default_rng(0)
    weights = (rng.integers(0, 300, (784, 2500)) / 1000).astype(np.float32)
    weights[:, 7] = 0.0
    expected = weights.copy()
    sums = expected.sum(axis=0, keepdims=True)
    np.divide(np.float32(78.0), sums, out=sums, where=sums > 0)
    expected *= sums
    for threads in (1, 2):
        got = weights.copy()
        normalise_columns(got, 78.0, threads)
        np.testing.assert_array_equal(got, expected)
    assert np.all(got[:, 7] == 0.0)
    np.testing.assert_allclose(got[:, :7].sum(axis=0), 78.0, rtol=1e-5)


@pytest.mark.skipif(not fpenv.IS_X86, reason="FTZ/DAZ are x86 MXCSR bits")
def test_denormals_flushed_only_inside_the_block():
    tiny = np.float32(1e-38)
    assert not fpenv.flush_state()
    with fpenv.denormals_flushed():
        assert fpenv.flush_state()
        assert tiny * np.float32(0.01) == 0.0  # a subnormal result is flushed
    assert not fpenv.flush_state()
    assert tiny * np.float32(0.01) > 0.0  # IEEE subnormals are back


ALL_TO_ALL = gm.SparseConnectivity(
    "AllToAllRows",
    row_build_code="for (unsigned int j = 0; j < num_post; j++) { addSynapse(j); }",
    calc_max_row_len_func=lambda num_pre, num_post, pars: num_post,
)


def _stdp_weights(matrix: str, threads: int, build_dir) -> np.ndarray:
    """Symmetric STDP from 120 Poisson inputs onto 100 Poisson targets, DENSE or SPARSE all-to-all: the
    post-spike (column) path of SPARSE groups walks the column index the engine builds by counting."""
    from genn_models import sym_stdp as ss

    model = sim.create_model(f"stdp_{matrix.lower()}", seed=4, build_dir=build_dir, threads=threads)
    pre = model.add_neuron_population("pre", 120, "PoissonRate", {}, {"rate": 40.0})
    post = model.add_neuron_population("post", 100, "PoissonRate", {}, {"rate": 30.0})
    params = {"nu_pre": 0.01, "nu_post": 0.02, "g_max": 1.0, "a_plus": 0.1, "a_minus": 0.1, "tau_pre": 20.0,
              "tau_post": 20.0, "learn": 1}  # fmt: skip
    initial = np.random.default_rng(0).uniform(0.0, 0.5, (120, 100)).astype(np.float32)
    wu = sim.init_weight_update(ss.SymSTDP, params, {"g": initial.ravel()}, {"x": 0.0}, {"y": 0.0})
    conn = sim.init_sparse_connectivity(ALL_TO_ALL) if matrix == "SPARSE" else None
    syn = model.add_synapse_population("syn", matrix, pre, post, wu, sim.init_postsynaptic("DeltaCurr"), conn)
    model.build()
    model.load()
    model.run(500)
    return syn.vars["g"].values.reshape(120, 100)


def test_sparse_column_updates_equal_dense_ones_on_any_thread_count(small_split, tmp_path):
    dense = _stdp_weights("DENSE", 1, tmp_path)
    initial = np.random.default_rng(0).uniform(0.0, 0.5, (120, 100)).astype(np.float32)
    assert np.abs(dense - initial).max() > 0.05  # STDP moved the weights
    for threads in (1, 2):
        np.testing.assert_array_equal(_stdp_weights("SPARSE", threads, tmp_path), dense)


def test_state_snapshot_continues_bit_identically_on_another_thread_count(small_split, tmp_path):
    whole, _ = _trained(1, tmp_path, presentations=2)
    snapshot = whole.model.get_state()
    for k in range(2, 4):
        whole.attempt(_image(k), k % 10, 2.0 + k)
    for threads in (1, 2):
        resumed, _ = _trained(threads, tmp_path, presentations=0)
        resumed.model.set_state(snapshot)
        for k in range(2, 4):
            resumed.attempt(_image(k), k % 10, 2.0 + k)
        for a, b in zip(whole.weights(), resumed.weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match="engine state does not fit this network"):
        resumed.model.set_state({k: v for k, v in snapshot.items() if k != "rng"})

