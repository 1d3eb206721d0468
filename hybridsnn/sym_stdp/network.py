"""The sym-STDP network on the GeNN model layer: building it and presenting images (docs/sym_stdp.md,
«Model and equations»: «Populations and connections», «Input, teacher and the retry rule»).

Two networks share the neuron models of ``genn_models.sym_stdp``:

* :class:`TrainingNetwork` (one copy, plastic): P2E and E2C learn with symmetric STDP, θ adapts, the output
  layer is a Poisson teacher; weights are column-normalised on the host before every attempt.
* :class:`InferenceNetwork` (``batch`` independent copies, frozen): static P2E/E2C weights shared by all
  copies, θ fixed, the output layer integrates its input as LIF neurons. It evaluates a test set with many
  images in flight (numba ``prange`` on the numba engine, ``batch_size`` on GeNN/CUDA).

Times in ms, voltages in mV, rates in Hz.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numba
import numpy as np

from genn_models import sym_stdp as models
from hybridsnn.errors import UserError
from hybridsnn.sim import (
    create_model,
    create_var_ref,
    init_postsynaptic,
    init_sparse_connectivity,
    init_weight_update,
)
from hybridsnn.sim.numba_engine import default_threads
from hybridsnn.sym_stdp.config import SymStdpConfig

POI_PARAMS = {"Vspike": 20.0, "Vrest": -60.0}
INH_PARAMS = {"TV": 10.0, "Vrest": -60.0, "Vreset": -45.0, "Vthresh": -40.0, "Refrac": 2.0}
CLA_PARAMS = {"TV": 10.0, "Vrest": -60.0, "Vreset": -45.0, "Vthresh": -40.0, "Vspike": 20.0}
E2C_TAU_MS, P2E_TAU_MS, E2I_TAU_MS, I2E_TAU_MS = 1.0, 1.0, 1.0, 2.0
INHIBITORY_REVERSAL_MV = -100.0


def exc_params(config: SymStdpConfig, frozen: int) -> dict[str, float]:
    """Parameters of the hidden excitatory neurons (docs/sym_stdp.md, «Neurons»); ``frozen`` = 1 keeps θ
    constant."""
    return {
        "TV": 100.0, "Vrest": -65.0, "Vreset": -65.0, "Vthresh": config.v_thresh, "Refrac": 2.0,
        "Ttheta": config.t_theta, "theta_plus": config.theta_plus, "offset": 20.0, "frozen": frozen,
    }  # fmt: skip


def initial_weights(config: SymStdpConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Initial P2E (n_input, n_hidden) and E2C (n_hidden, n_classes) weights, U{0, 0.001, ..., 0.299}."""
    p2e = rng.integers(0, 300, (config.n_input, config.n_hidden)) / 1000.0
    e2c = rng.integers(0, 300, (config.n_hidden, config.n_classes)) / 1000.0
    return p2e.astype(np.float32), e2c.astype(np.float32)


def input_probability(images: np.ndarray, intensity: np.ndarray | float, dt: float) -> np.ndarray:
    """Per-step spike probability of the input neurons: pixel / 8 * intensity Hz, times dt (docs/sym_stdp.md,
    «Input, teacher and the retry rule»)."""
    rate_hz = np.asarray(images, np.float32) / 8.0 * np.asarray(intensity, np.float32)[..., None]
    return (rate_hz / 1000.0 * dt).astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _normalise_float32(weights: np.ndarray, column_sum: np.float32, first: int, end: int) -> None:
    n_rows = weights.shape[0]
    sums = np.zeros(end - first, np.float32)
    for i in range(n_rows):  # row by row, as numpy's sum(axis=0): the same float32 rounding
        row = weights[i, first:end]
        for j in range(end - first):
            sums[j] += row[j]
    for j in range(end - first):
        sums[j] = column_sum / sums[j] if sums[j] > 0 else np.float32(1.0)
    for i in range(n_rows):
        row = weights[i, first:end]
        for j in range(end - first):
            row[j] *= sums[j]


_POOL: list[ThreadPoolExecutor] = []


def normalise_columns(weights: np.ndarray, column_sum: float, threads: int = 1) -> None:
    """Scale each column (the incoming weights of one postsynaptic neuron) to sum ``column_sum``, in place.

    Float32 C-ordered matrices (every engine's weight views) take a compiled path that streams the matrix
    twice, without matrix-sized temporaries, and splits the columns over ``threads`` threads (784×6400
    weights: ~1 ms instead of numpy's ~4; each column's arithmetic, and so the result, is the same for any
    thread count); columns summing to 0 stay as they are. Other arrays use numpy with the same arithmetic.
    """
    if not (weights.dtype == np.float32 and weights.ndim == 2 and weights.flags.c_contiguous):
        sums = weights.sum(axis=0, keepdims=True)
        np.divide(column_sum, sums, out=sums, where=sums > 0)
        weights *= sums
        return
    n_cols = weights.shape[1]
    parts = max(1, min(int(threads), n_cols // 1024))
    edges = [n_cols * k // parts for k in range(parts + 1)]
    if parts == 1:
        _normalise_float32(weights, np.float32(column_sum), 0, n_cols)
        return
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(thread_name_prefix="hybridsnn-normalise"))
    jobs = [_POOL[0].submit(_normalise_float32, weights, np.float32(column_sum), a, b)
            for a, b in pairwise(edges[1:])]  # fmt: skip
    _normalise_float32(weights, np.float32(column_sum), edges[0], edges[1])
    for job in jobs:
        job.result()


def _cond(tau: float, reversal: float, post: Any) -> Any:
    return init_postsynaptic(
        "ExpCond", {"tau": tau, "E": reversal}, var_refs={"V": create_var_ref(post, "V")}
    )


@dataclass(frozen=True)
class EngineChoice:
    """Which engine runs a network: ``numba`` or ``genn``, the GeNN backend, GeNN's build folder, the
    numba engine's CPU threads (None: all cores) and GeNN backend preferences (see
    :func:`hybridsnn.sim.create_model`)."""

    engine: str = "numba"
    backend: str | None = None
    build_dir: str | None = None
    threads: int | None = None
    preferences: tuple[tuple[str, str], ...] = ()

    def model_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hybridsnn.sim.create_model` for this choice."""
        options: dict[str, Any] = {"engine": self.engine, "backend": self.backend}
        options["build_dir"] = self.build_dir
        if self.engine == "numba":
            options["threads"] = self.threads
        elif self.preferences:
            options["genn_preferences"] = dict(self.preferences)
        return options


@dataclass
class _Network:
    """The model and the populations/plastic projections a driver touches."""

    model: Any
    poi: Any
    exc: Any
    cla: Any
    p2e: Any
    e2c: Any


def _build(
    config: SymStdpConfig,
    *,
    name: str,
    engine: EngineChoice,
    seed: int,
    batch_size: int,
    frozen: int,
    teach: int,
    theta: np.ndarray,
    p2e_synapses: Any,
    e2c_synapses: Any,
) -> _Network:
    """All four populations, the fixed lateral inhibition and the P2E/E2C projections (docs/sym_stdp.md,
    «Populations and connections»)."""
    model = create_model(name, precision="float", dt=config.dt, seed=seed, batch_size=batch_size,
                         **engine.model_options())  # fmt: skip
    n = config.n_hidden
    poi = model.add_neuron_population("PPoi", config.n_input, models.PoissonInput, POI_PARAMS,
                                      {"V": -60.0, "p": 0.0})  # fmt: skip
    exc = model.add_neuron_population("PExc", n, models.LIFExc, exc_params(config, frozen),
                                      {"V": -105.0, "theta": theta, "timer": 10.0, "count": 0})  # fmt: skip
    inh = model.add_neuron_population("PInh", n, models.LIFInh, INH_PARAMS, {"V": -100.0, "timer": 10.0})
    cla = model.add_neuron_population("PCla", config.n_classes, models.LIFCla, {**CLA_PARAMS, "teach": teach},
                                      {"V": -100.0, "p": 0.0, "count": 0})  # fmt: skip
    fixed = init_weight_update("StaticPulseConstantWeight", {"g": config.g_e2i})
    model.add_synapse_population("E2I", "SPARSE", exc, inh, fixed, _cond(E2I_TAU_MS, 0.0, inh),
                                 init_sparse_connectivity("OneToOne"))  # fmt: skip
    fixed = init_weight_update("StaticPulseConstantWeight", {"g": config.g_i2e})
    inhibition = _cond(I2E_TAU_MS, INHIBITORY_REVERSAL_MV, exc)
    model.add_synapse_population("I2E", "SPARSE", inh, exc, fixed, inhibition,
                                 init_sparse_connectivity("AllButSelf"))  # fmt: skip
    p2e = model.add_synapse_population("P2E", "DENSE", poi, exc, p2e_synapses, _cond(P2E_TAU_MS, 0.0, exc))
    e2c = model.add_synapse_population("E2C", "DENSE", exc, cla, e2c_synapses, _cond(E2C_TAU_MS, 0.0, cla))
    return _Network(model, poi, exc, cla, p2e, e2c)


def _stdp(nu: float, g_max: float, config: SymStdpConfig, weights: np.ndarray) -> Any:
    """A symmetric-STDP projection with learning rate ``nu``, bound ``g_max`` and initial ``weights``."""
    params = {"nu_pre": nu, "nu_post": nu, "g_max": g_max, "a_plus": config.a_plus, "a_minus": config.a_minus,
              "tau_pre": config.tau_trace, "tau_post": config.tau_trace, "learn": 1}  # fmt: skip
    return init_weight_update(models.SymSTDP, params, {"g": weights.ravel()}, {"x": 1.0}, {"y": 1.0})


def _static(n_pre: int, n_post: int) -> Any:
    """A frozen projection (weights shared by all batch copies, installed later)."""
    return init_weight_update("StaticPulse", vars={"g": np.zeros(n_pre * n_post, np.float32)})


class TrainingNetwork:
    """One plastic copy of the network (docs/sym_stdp.md, «Model and equations»): STDP on P2E (unless
    ``plastic_hidden`` is False) and E2C."""

    def __init__(
        self,
        config: SymStdpConfig,
        p2e: np.ndarray,
        e2c: np.ndarray,
        theta: np.ndarray,
        *,
        engine: EngineChoice,
        seed: int,
        plastic_hidden: bool = True,
        load: bool = True,
    ) -> None:
        """``load=False`` only generates and compiles the code (e.g. GeNN CUDA code on a machine without a
        GPU); such a network cannot run."""
        self.config = config
        net = _build(config, name=f"sym_stdp_train_{config.n_hidden}", engine=engine, seed=seed, batch_size=1,
                     frozen=0 if plastic_hidden else 1, teach=1, theta=theta,
                     p2e_synapses=_stdp(config.nu_p2e, config.g_p2e_max, config, p2e),
                     e2c_synapses=_stdp(config.nu_e2c, config.g_e2c_max, config, e2c))  # fmt: skip
        self.model, self.poi, self.exc, self.cla, self.p2e, self.e2c = (
            net.model, net.poi, net.exc, net.cla, net.p2e, net.e2c)  # fmt: skip
        self.p2e.set_wu_param_dynamic("learn")
        self.model.build()
        if load:
            self.model.load()
            self.p2e.set_dynamic_param_value("learn", 1 if plastic_hidden else 0)

    # -- weights -------------------------------------------------------------------------------------
    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the current P2E (n_input, n_hidden), E2C (n_hidden, n_classes) weights and θ (mV)."""
        c = self.config
        for var in (self.p2e.vars["g"], self.e2c.vars["g"], self.exc.vars["theta"]):
            var.pull_from_device()
        return (
            self.p2e.vars["g"].view.reshape(c.n_input, c.n_hidden).copy(),
            self.e2c.vars["g"].view.reshape(c.n_hidden, c.n_classes).copy(),
            self.exc.vars["theta"].view.reshape(c.n_hidden).copy(),
        )

    def _normalise(self, synapses: Any, shape: tuple[int, int], column_sum: float) -> None:
        var = synapses.vars["g"]
        var.pull_from_device()
        threads = getattr(self.model, "threads", None) or default_threads()  # genn: host work, all cores
        normalise_columns(var.view.reshape(shape), column_sum, threads)
        var.push_to_device()

    # -- one sample ------------------------------------------------------------------------------------
    def attempt(self, image: np.ndarray, label: int, intensity: float) -> np.ndarray:
        """One 350 ms presentation with the teacher on ``label``, then 150 ms rest; hidden spike counts."""
        c = self.config
        self._set(self.cla, "p", np.where(np.arange(c.n_classes) == label, c.teacher_hz / 1000.0 * c.dt, 0.0))
        self._normalise(self.e2c, (c.n_hidden, c.n_classes), c.e2c_column_sum)
        self._normalise(self.p2e, (c.n_input, c.n_hidden), c.p2e_norm)
        self._set(self.poi, "p", input_probability(image.reshape(-1), intensity, c.dt))
        self._set(self.exc, "count", 0)
        self.model.run(c.present_steps)
        self.exc.vars["count"].pull_from_device()
        counts = self.exc.vars["count"].view.reshape(-1).copy()
        self._set(self.poi, "p", 0.0)
        self._set(self.cla, "p", 0.0)
        self.model.run(c.rest_steps)
        return counts

    @staticmethod
    def _set(population: Any, var: str, value: Any) -> None:
        population.vars[var].view[...] = value
        population.vars[var].push_to_device()

    def learn_sample(self, image: np.ndarray, label: int) -> tuple[np.ndarray, int]:
        """Present one training sample with the retry rule (docs/sym_stdp.md, «Input, teacher and the retry
        rule»); hidden counts of the last try, and the attempts made."""
        c = self.config
        intensity = c.intensity_start
        attempts = 0
        while True:
            counts = self.attempt(image, label, intensity)
            attempts += 1
            if counts.sum() >= c.min_hidden_spikes or intensity >= c.intensity_max:
                return counts, attempts
            intensity += 1.0


class InferenceNetwork:
    """``batch`` frozen copies that classify images in parallel; each copy retries on its own
    (docs/sym_stdp.md, «Frozen inference»)."""

    def __init__(
        self,
        config: SymStdpConfig,
        *,
        engine: EngineChoice,
        seed: int,
        batch: int,
        load: bool = True,
        independent_images: bool = False,
    ) -> None:
        """``load=False``: generate and compile only, as for :class:`TrainingNetwork`.

        ``independent_images`` (numba engine only): every image starts from the state right after
        :meth:`load_weights` (the trained θ included),
        with random generators of its own keyed by its index, instead of continuing the copy's state and
        stream as in the original (docs/sym_stdp.md, «Frozen inference»). An image's result then depends
        only on the weights, the seed and its index, not on ``batch`` or on which images ran before, so the
        test set can be split over processes and give the same result as one process."""
        self.config = config
        self.batch = batch
        self.independent_images = independent_images
        net = _build(config, name=f"sym_stdp_infer_{config.n_hidden}_b{batch}", engine=engine, seed=seed,
                     batch_size=batch, frozen=1, teach=0, theta=np.full(config.n_hidden, config.theta_init),
                     p2e_synapses=_static(config.n_input, config.n_hidden),
                     e2c_synapses=_static(config.n_hidden, config.n_classes))  # fmt: skip
        self.model, self.poi, self.exc, self.cla, self.p2e, self.e2c = (
            net.model, net.poi, net.exc, net.cla, net.p2e, net.e2c)  # fmt: skip
        self.model.build()
        self._initial_state: dict[str, np.ndarray] | None = None
        self._loaded_state: dict[str, np.ndarray] | None = None  # after load_weights: where an image starts
        if load:
            self.model.load()
            if hasattr(self.model, "get_state"):
                self._initial_state = self.model.get_state()
        if independent_images and load and self._initial_state is None:
            raise UserError("--independent-images needs the numba engine: PyGeNN's random streams cannot be "
                            "restarted per image")  # fmt: skip

    def load_weights(self, p2e: np.ndarray, e2c: np.ndarray, theta: np.ndarray) -> None:
        """Install trained weights (P2E column-normalised as before every attempt) and θ in every copy.

        On the numba engine every copy also restarts from its state right after loading (membranes,
        conductances, generators), so an evaluation depends only on the weights and the seed: a resumed
        training run evaluates exactly as an uninterrupted one."""
        c = self.config
        if self._initial_state is not None:
            self.model.set_state(self._initial_state)
        p2e = np.array(p2e, np.float32, copy=True)
        normalise_columns(p2e, c.p2e_norm)
        self.p2e.vars["g"].view[...] = p2e.ravel()
        self.e2c.vars["g"].view[...] = np.asarray(e2c, np.float32).ravel()
        self.exc.vars["theta"].view[...] = np.asarray(theta, np.float32).reshape(-1)
        for var in (self.p2e.vars["g"], self.e2c.vars["g"], self.exc.vars["theta"]):
            var.push_to_device()
        if self.independent_images:  # θ is a per-copy variable: an image restarts with the loaded one
            self._loaded_state = self.model.get_state()

    def _view(self, population: Any, var: str) -> np.ndarray:
        return population.vars[var].view.reshape(self.batch, -1)

    def classify(
        self, images: np.ndarray, progress: Callable[[int], None] | None = None, first_index: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hidden counts (n, n_hidden), output counts (n, n_classes) and attempts (n,) for ``images``.

        Images stream through the copies: a copy whose hidden layer fired fewer than ``min_hidden_spikes``
        retries with intensity + 1 (up to ``intensity_max``), otherwise it takes the next image. With
        ``independent_images`` image k is classified as image ``first_index + k`` of the whole set (its
        random stream's key), so a slice classified alone matches those rows of the whole set.
        """
        c = self.config
        flat = np.asarray(images).reshape(len(images), -1)
        n = len(flat)
        hidden = np.zeros((n, c.n_hidden), np.int64)
        output = np.zeros((n, c.n_classes), np.int64)
        attempts = np.zeros(n, np.int64)
        slot_image = np.full(self.batch, -1)
        intensity = np.full(self.batch, c.intensity_start, np.float32)
        next_image = 0
        while True:
            for slot in np.flatnonzero(slot_image < 0):
                if next_image < n:
                    slot_image[slot], intensity[slot] = next_image, c.intensity_start
                    if self.independent_images:
                        if self._loaded_state is None:
                            raise UserError("independent images: load the weights before classifying")
                        self.model.restart_copy(int(slot), self._loaded_state, first_index + next_image)
                    next_image += 1
            busy = slot_image >= 0
            if not busy.any():
                break
            pixels = np.where(busy[:, None], flat[np.maximum(slot_image, 0)], 0)
            self._view(self.poi, "p")[...] = input_probability(pixels, intensity, c.dt)
            self.poi.vars["p"].push_to_device()
            for pop in (self.exc, self.cla):
                self._view(pop, "count")[...] = 0
                pop.vars["count"].push_to_device()
            self.model.run(c.present_steps)
            for pop in (self.exc, self.cla):
                pop.vars["count"].pull_from_device()
            exc_counts, cla_counts = self._view(self.exc, "count"), self._view(self.cla, "count")
            self._view(self.poi, "p")[...] = 0.0
            self.poi.vars["p"].push_to_device()
            self.model.run(c.rest_steps)
            for slot in np.flatnonzero(busy):
                image = slot_image[slot]
                attempts[image] += 1
                if exc_counts[slot].sum() < c.min_hidden_spikes and intensity[slot] < c.intensity_max:
                    intensity[slot] += 1.0
                    continue
                hidden[image], output[image] = exc_counts[slot], cla_counts[slot]
                slot_image[slot] = -1
                if progress is not None:
                    progress(1)
        return hidden, output, attempts
