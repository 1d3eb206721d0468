"""The reference the genn engine is measured against: the sym-STDP training network as a minimal, direct
PyGeNN 5 script, with no hybridsnn engine layer in between.

It is what a researcher would write by hand from the same model code strings (``genn_models.sym_stdp``)
(the all-but-self inhibition's row code from ``genn_models.connectivity``) and GeNN's own built-ins
(``ExpCond``, ``StaticPulseConstantWeight``, ``OneToOne``): build once, then per
presentation write the input/teacher probabilities, normalise the weight columns with numpy, call
``step_time()`` 1000 times from Python and read the spike counts. Flush-to-zero is set for the whole
process first (GeNN's CPU code would otherwise run ~19x slower on decaying float32 traces, see
:mod:`hybridsnn.sim.fpenv`), as one does by hand.

Usage::

    python -m bench.genn_direct --sizes 400 6400 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from genn_models import sym_stdp as models
from genn_models.connectivity import AllButSelf
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.network import (
    CLA_PARAMS,
    E2C_TAU_MS,
    E2I_TAU_MS,
    I2E_TAU_MS,
    INH_PARAMS,
    INHIBITORY_REVERSAL_MV,
    P2E_TAU_MS,
    POI_PARAMS,
    exc_params,
    initial_weights,
    input_probability,
)


def _neuron(pygenn: Any, model: Any) -> Any:
    code = {k: v for k, v in model.code().items() if v.strip()}
    return pygenn.create_neuron_model(
        model.name, params=[(p.name, p.type) for p in model.params],
        vars=[(v.name, v.type) for v in model.vars], **code,
    )  # fmt: skip


def _stdp(pygenn: Any) -> Any:
    m = models.SymSTDP
    code = {k: v for k, v in m.code().items() if v.strip()}
    return pygenn.create_weight_update_model(
        m.name, params=[(p.name, p.type) for p in m.params], vars=[(v.name, v.type) for v in m.vars],
        pre_vars=[(v.name, v.type) for v in m.pre_vars], post_vars=[(v.name, v.type) for v in m.post_vars],
        **code,
    )  # fmt: skip


class DirectNetwork:
    """The plastic sym-STDP network (N hidden neurons) on PyGeNN's ``single_threaded_cpu`` backend."""

    def __init__(self, n_hidden: int, build_dir: Path, seed: int = 1) -> None:
        import pygenn

        c = self.config = make_config("mnist", n_hidden)
        model = pygenn.GeNNModel("float", f"direct_sym_stdp_{n_hidden}", backend="single_threaded_cpu",
                                 optimize_code=True)  # fmt: skip
        model.dt, model.seed = c.dt, seed
        p2e, e2c = initial_weights(c, np.random.default_rng(seed))
        # PyGeNN keeps only pointers to custom models: they must outlive the model, so keep them here
        self._models = {m.name: _neuron(pygenn, m) for m in (models.PoissonInput, models.LIFExc,
                                                              models.LIFInh, models.LIFCla)}  # fmt: skip
        self._models["SymSTDP"] = _stdp(pygenn)
        self._models["AllButSelf"] = pygenn.create_sparse_connect_init_snippet(
            "AllButSelf", row_build_code=AllButSelf.row_build_code,
            calc_max_row_len_func=AllButSelf.calc_max_row_len_func,
            calc_max_col_len_func=AllButSelf.calc_max_col_len_func,
        )  # fmt: skip

        def cond(tau: float, reversal: float, post: Any) -> Any:
            return pygenn.init_postsynaptic("ExpCond", {"tau": tau, "E": reversal},
                                            var_refs={"V": pygenn.create_var_ref(post, "V")})  # fmt: skip

        def stdp(nu: float, g_max: float, weights: np.ndarray) -> Any:
            params = {"nu_pre": nu, "nu_post": nu, "g_max": g_max, "a_plus": c.a_plus, "a_minus": c.a_minus,
                      "tau_pre": c.tau_trace, "tau_post": c.tau_trace, "learn": 1}  # fmt: skip
            initial = {"g": weights.ravel()}
            return pygenn.init_weight_update(self._models["SymSTDP"], params, initial, {"x": 1.0}, {"y": 1.0})

        self.poi = model.add_neuron_population("PPoi", c.n_input, self._models[models.PoissonInput.name],
                                               POI_PARAMS, {"V": -60.0, "p": 0.0})  # fmt: skip
        self.exc = model.add_neuron_population(
            "PExc", n_hidden, self._models[models.LIFExc.name], exc_params(c, 0),
            {"V": -105.0, "theta": c.theta_init, "timer": 10.0, "count": 0},
        )  # fmt: skip
        inh = model.add_neuron_population("PInh", n_hidden, self._models[models.LIFInh.name], INH_PARAMS,
                                          {"V": -100.0, "timer": 10.0})  # fmt: skip
        self.cla = model.add_neuron_population("PCla", c.n_classes, self._models[models.LIFCla.name],
                                               {**CLA_PARAMS, "teach": 1},
                                               {"V": -100.0, "p": 0.0, "count": 0})  # fmt: skip
        model.add_synapse_population(
            "E2I", "SPARSE", self.exc, inh,
            pygenn.init_weight_update("StaticPulseConstantWeight", {"g": c.g_e2i}),
            cond(E2I_TAU_MS, 0.0, inh),
            pygenn.init_sparse_connectivity("OneToOne"),
        )  # fmt: skip
        model.add_synapse_population(
            "I2E", "SPARSE", inh, self.exc,
            pygenn.init_weight_update("StaticPulseConstantWeight", {"g": c.g_i2e}),
            cond(I2E_TAU_MS, INHIBITORY_REVERSAL_MV, self.exc),
            pygenn.init_sparse_connectivity(self._models["AllButSelf"]),
        )  # fmt: skip
        self.p2e = model.add_synapse_population(
            "P2E", "DENSE", self.poi, self.exc, stdp(c.nu_p2e, c.g_p2e_max, p2e),
            cond(P2E_TAU_MS, 0.0, self.exc),
        )
        self.e2c = model.add_synapse_population(
            "E2C", "DENSE", self.exc, self.cla, stdp(c.nu_e2c, c.g_e2c_max, e2c),
            cond(E2C_TAU_MS, 0.0, self.cla),
        )
        build_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        model.build(path_to_model=str(build_dir))
        model.load()
        self.build_seconds = time.perf_counter() - start
        self.model = model

    def _normalise(self, synapses: Any, shape: tuple[int, int], column_sum: float) -> None:
        var = synapses.vars["g"]
        var.pull_from_device()
        weights = var.view.reshape(shape)
        sums = weights.sum(axis=0, keepdims=True)
        np.divide(column_sum, sums, out=sums, where=sums > 0)
        weights *= sums
        var.push_to_device()

    def present(self, image: np.ndarray, label: int = 3, intensity: float = 2.0) -> np.ndarray:
        """One training attempt (as the driver's): normalisation, 700 steps with the image and the teacher,
        300 steps of rest; the hidden spike counts."""
        c = self.config
        cla_p = self.cla.vars["p"]
        cla_p.view[:] = np.where(np.arange(c.n_classes) == label, c.teacher_hz / 1000.0 * c.dt, 0.0)
        cla_p.push_to_device()
        self._normalise(self.e2c, (c.n_hidden, c.n_classes), c.e2c_column_sum)
        self._normalise(self.p2e, (c.n_input, c.n_hidden), c.p2e_norm)
        poi_p = self.poi.vars["p"]
        poi_p.view[:] = input_probability(image.reshape(-1), intensity, c.dt)
        poi_p.push_to_device()
        count = self.exc.vars["count"]
        count.view[:] = 0
        count.push_to_device()
        for _ in range(c.present_steps):
            self.model.step_time()
        count.pull_from_device()
        counts = count.view.copy()
        poi_p.view[:] = 0.0
        poi_p.push_to_device()
        cla_p.view[:] = 0.0
        cla_p.push_to_device()
        for _ in range(c.rest_steps):
            self.model.step_time()
        return counts


def main(argv: list[str] | None = None) -> int:
    from bench.engine import digit_like_image
    from hybridsnn.sim.fpenv import _set_flush, flush_state

    parser = argparse.ArgumentParser(prog="python -m bench.genn_direct", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400], help="hidden layer sizes N")
    parser.add_argument("--repeats", type=int, default=5, help="timed presentations per N")
    parser.add_argument("--no-ftz", action="store_true", help="leave flush-to-zero off (PyGeNN as installed)")
    args = parser.parse_args(argv)
    if not args.no_ftz:
        _set_flush()  # for the whole process, as a hand-written script would
    image = digit_like_image(0)
    with tempfile.TemporaryDirectory(prefix="hybridsnn-direct-") as tmp:
        for n in args.sizes:
            net = DirectNetwork(n, Path(tmp))
            net.present(image)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                net.present(image)
                times.append(time.perf_counter() - start)
            print(f"N={n}: {1000 * statistics.median(times):.1f} ms/presentation (median of {args.repeats}), "
                  f"FTZ {'on' if flush_state() else 'off'}, first build+load {net.build_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
