"""sym-STDP pieces that need no simulation: configuration table, readouts, original text checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.metrics import accuracy
from hybridsnn.sym_stdp import monitor as train_monitor
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.readout import assign_labels, sl_predict, usl_predict
from hybridsnn.sym_stdp.textformat import export_text_checkpoint, import_text_checkpoint


def test_config_table_values_and_derived_quantities():
    c400 = make_config("mnist", 400)
    assert (c400.nu_p2e, c400.nu_e2c, c400.t_theta, c400.theta_plus) == (0.005, 0.04, 6e6, 0.07)
    assert c400.e2c_column_sum == pytest.approx(320.0)  # 0.1 * 400 * 8
    assert (c400.present_steps, c400.rest_steps) == (700, 300)
    c1600 = make_config("mnist", 1600)
    assert (c1600.nu_p2e, c1600.nu_e2c, c1600.t_theta) == (0.02, 0.08, 8e6)
    fashion = make_config("fashion-mnist", 400)
    assert (fashion.v_thresh, fashion.g_e2c_max, fashion.p2e_norm, fashion.e2c_column_sum) == (
        -60,
        40,
        19.6,
        800,
    )
    assert make_config("fashion-mnist", 6400).e2c_column_sum == pytest.approx(0.1 * 6400 * 40)


@pytest.mark.parametrize(
    ("dataset", "size", "message"),
    [
        ("mnist", 500, "allowed sizes for mnist: 100, 400, 1600, 6400, 10000"),
        ("fashion-mnist", 100, "allowed sizes for fashion-mnist: 400, 6400"),
        ("cifar10", 400, "unknown sym-STDP dataset 'cifar10'"),
    ],
)
def test_config_rejects_configurations_the_original_lacks(dataset, size, message):
    with pytest.raises(UserError, match=message):
        make_config(dataset, size)


def test_sl_prediction_takes_first_maximum():
    counts = np.array([[0, 3, 3, 1], [0, 0, 0, 0], [5, 0, 0, 6]])
    assert sl_predict(counts).tolist() == [1, 0, 3]


def test_label_assignment_by_mean_response_per_class():
    # 3 neurons, 2 classes. Neuron 0 fires for class 0, neuron 1 for class 1, neuron 2 never.
    counts = np.array([[4, 0, 0], [2, 1, 0], [0, 5, 0], [1, 3, 0]])
    labels = np.array([0, 0, 1, 1])
    # class means: class 0 -> [3, 0.5, 0], class 1 -> [0.5, 4, 0]
    assignments = assign_labels(counts, labels, 2, previous=np.array([1, 0, 1]))
    assert assignments.tolist() == [0, 1, 1]  # silent neuron keeps its previous label
    assert assign_labels(counts, labels, 2).tolist() == [0, 1, -1]


def test_usl_prediction_averages_assigned_neurons_and_skips_empty_classes():
    assignments = np.array([0, 0, 2, -1])  # nobody assigned to class 1
    counts = np.array([[1, 3, 1, 9], [0, 0, 4, 9], [0, 0, 0, 0]])
    # class 0 mean, class 2 mean: [2, 1], [0, 4], [0, 0] -> predict 0, 2, and 0 on ties
    assert usl_predict(counts, assignments, 3).tolist() == [0, 2, 0]
    assert usl_predict(counts, np.full(4, -1), 3).tolist() == [0, 0, 0]
    assert accuracy(np.array([0, 2, 1]), np.array([0, 2, 2])) == pytest.approx(2 / 3)


def test_original_text_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    p2e = rng.random((784, 4), dtype=np.float32)
    e2c = rng.random((4, 10), dtype=np.float32) * 8
    theta = np.array([20.0, 21.5, 19.25, 30.125], np.float32)
    export_text_checkpoint(tmp_path, p2e, e2c, theta)
    lines = (tmp_path / "gP2E").read_text().splitlines()
    assert len(lines[0].split()) == 4 and lines[0].endswith(" ")  # one pixel per line, trailing space
    back = import_text_checkpoint(tmp_path, n_hidden=4)
    np.testing.assert_allclose(back["p2e"], p2e, rtol=1e-5)  # 6 significant digits
    np.testing.assert_allclose(back["e2c"], e2c, rtol=1e-5)
    np.testing.assert_array_equal(back["theta"], theta)
    with pytest.raises(CheckpointError, match="holds 3136 numbers; a 784x5 network needs 3920"):
        import_text_checkpoint(tmp_path, n_hidden=5)
    (tmp_path / "theta").write_text("1.0 abc")
    with pytest.raises(CheckpointError, match="non-number"):
        import_text_checkpoint(tmp_path, n_hidden=4)


def test_label_assignment_ignores_samples_labelled_minus_one():
    counts = np.array([[4, 0], [0, 2], [9, 9]])  # the last sample is unseen
    assert assign_labels(counts, np.array([0, 1, -1]), 2).tolist() == [0, 1]
    assert assign_labels(counts, np.array([0, 1, 1]), 2).tolist() == [1, 1]  # (0 + 9) / 2 > 4


def test_train_monitor_packs_sparse_and_unpacks_exactly():
    monitor = np.zeros((4, 5), np.uint16)
    monitor[0, 3], monitor[2, 0], monitor[2, 4] = 7, 1, 700
    seen = np.array([True, False, True, True])
    packed = train_monitor.pack(monitor, seen)
    assert packed["monitor.row_start"].tolist() == [0, 1, 1, 3, 3]
    assert packed["monitor.neuron"].tolist() == [3, 0, 4]
    assert packed["monitor.count"].tolist() == [7, 1, 700]
    back, back_seen = train_monitor.unpack(packed, 4, 5, "c")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, monitor)
    np.testing.assert_array_equal(back_seen, seen)
    with pytest.raises(CheckpointError, match=r"names neurons outside 0\.\.3"):
        train_monitor.unpack(packed, 4, 4, "c")
    with pytest.raises(CheckpointError, match="rows do not fit 3 samples"):
        train_monitor.unpack({**packed, "seen": seen[:3]}, 3, 5, "c")
    with pytest.raises(CheckpointError, match="rows do not fit 4 samples"):
        train_monitor.unpack({**packed, "monitor.row_start": np.array([0, 2, 1, 3, 3])}, 4, 5, "c")
