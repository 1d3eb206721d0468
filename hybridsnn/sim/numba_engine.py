"""The embedded numba engine: a PyGeNN-shaped model whose network runs in one generated numba kernel.

State lives in numpy arrays on the host, so ``push_to_device`` / ``pull_from_device`` are no-ops (kept
for portability, as on GeNN's CPU backend) and ``view`` arrays stay valid for the life of the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numba
import numpy as np

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.sim import ctype as ct
from hybridsnn.sim import spec
from hybridsnn.sim.kernel import KernelPlan, Names, NetworkDesc, NeuronDesc, SynapseDesc, write_kernel
from hybridsnn.sim.kernel_cache import LoadedKernel, default_cache_dir, load_kernel
from hybridsnn.sim.recording import decode_spike_words

PARALLEL_MIN_STEPS = 16
"""Shorter runs of a batch stay on one thread (dispatch would cost more than it saves)."""

SPLIT_MIN_NEURONS = 1024
"""With batch size 1 and several threads asked for, populations at least this large are split into
slices, one per thread (each thread also updates the synapses onto its slice), with two barriers per
timestep. Smaller populations run whole on thread 0: below this size a slice saves less than a barrier
costs. Without an explicit thread count a batch-1 network runs on one thread: on the 2-core machines
here slicing the sym-STDP network ranged from 9 % slower to 46 % faster (docs/engines.md); batches
gain 1.2-2x."""

SLICE_ALIGN = 64
"""Slices start at multiples of this many neurons (whole words of the spike recording, whole vectors)."""


@numba.njit(cache=True, nogil=True)
def _row_index(pre: np.ndarray, post: np.ndarray, n_pre: int) -> tuple[np.ndarray, bool]:
    """CSR row starts of synapses listed row by row, and whether every row is sorted by target."""
    rowptr = np.zeros(n_pre + 1, np.int64)
    ordered = True
    for k in range(post.size):
        rowptr[pre[k] + 1] += 1
        if k > 0 and pre[k] == pre[k - 1] and post[k] < post[k - 1]:
            ordered = False
    for i in range(n_pre):
        rowptr[i + 1] += rowptr[i]
    return rowptr, ordered


@numba.njit(cache=True, nogil=True)
def _column_index(
    pre: np.ndarray, post: np.ndarray, n_post: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC column starts and, per column in synapse order, the synapse and presynaptic indices: a
    counting pass in linear time (a stable argsort of N=6400's 41 M inhibitory synapses took ~4 s)."""
    colptr = np.zeros(n_post + 1, np.int64)
    for k in range(post.size):
        colptr[post[k] + 1] += 1
    for j in range(n_post):
        colptr[j + 1] += colptr[j]
    fill = colptr[:-1].copy()
    colsyn = np.empty(post.size, np.uint64)
    colpre = np.empty(post.size, np.uint32)
    for k in range(post.size):
        j = post[k]
        colsyn[fill[j]] = k
        colpre[fill[j]] = pre[k]
        fill[j] += 1
    return colptr, colsyn, colpre


def default_threads() -> int:
    """Threads the numba engine uses by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None) -> int:
    """``threads`` as a count >= 1 (None: :func:`default_threads`); a one-line error otherwise."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or int(threads) < 1:
        raise UserError(f"threads must be a whole number >= 1, got {threads!r}")
    return int(threads)


def slice_bounds(n: int, threads: int, split: bool) -> list[int]:
    """First neuron of each thread's slice, then ``n``: equal aligned slices, or all on thread 0."""
    if not split or threads == 1:
        return [0] + [n] * threads
    chunk = -(-n // threads)
    chunk = -(-chunk // SLICE_ALIGN) * SLICE_ALIGN
    return [min(t * chunk, n) for t in range(threads)] + [n]


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) or 1


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    """:func:`_splitmix64` of every element of a uint64 array (wrapping arithmetic, never 0)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return np.where(x == 0, np.uint64(1), x)


class DeviceArray:
    """A variable or state array with PyGeNN's accessors: ``view``, ``values``, ``push/pull_*``.

    Per-batch arrays have shape (batch, n); with batch size 1 the view drops the batch axis like PyGeNN.
    ``values`` of a SPARSE synapse variable lists synapses row by row (the order of ``get_sparse_*_inds``).
    """

    def __init__(self, owner: str, name: str, per_batch: bool, sparse: bool = False) -> None:
        self.owner = owner
        self.name = name
        self.per_batch = per_batch
        self.sparse = sparse
        self._full: np.ndarray | None = None
        self._batch_size = 1

    def _bind(self, full: np.ndarray, batch_size: int) -> None:
        self._full = full
        self._batch_size = batch_size

    def _unbind(self) -> None:
        self._full = None

    def _array(self) -> np.ndarray:
        if self._full is None:
            raise UserError(f"{self.owner} {self.name!r}: the model is not loaded yet (call model.load())")
        return self._full[0] if self.per_batch and self._batch_size == 1 else self._full

    @property
    def view(self) -> np.ndarray:
        """The live array (writes go straight into the simulation)."""
        if self.sparse:
            raise UserError(f"{self.owner} {self.name!r}: SPARSE synapse variables have no view; use .values")
        return self._array()

    @property
    def current_view(self) -> np.ndarray:
        """Same as :attr:`view` (no delay slots)."""
        return self.view

    @property
    def values(self) -> np.ndarray:
        """A copy of the values."""
        return np.copy(self._array())

    @values.setter
    def values(self, vals: Any) -> None:
        target = self._array()
        vals = np.asarray(vals)
        try:
            target[...] = np.broadcast_to(vals, target.shape)
        except ValueError:
            raise UserError(
                f"{self.owner} {self.name!r}: cannot set values of shape {vals.shape}; "
                f"expected {target.shape}"
            ) from None

    def push_to_device(self) -> None:
        """No-op on the numba engine (host memory is the simulation memory)."""
        self._array()

    def pull_from_device(self) -> None:
        """No-op on the numba engine."""
        self._array()


class ExtraGlobalParam(DeviceArray):
    """An extra global parameter array: give it contents with ``set_init_values`` before ``load``."""

    def __init__(self, owner: str, name: str, dtype: np.dtype) -> None:
        super().__init__(owner, name, per_batch=False)
        self.dtype = dtype
        self.init_values: np.ndarray = np.zeros(0, dtype)

    def set_init_values(self, values: Any) -> None:
        """Contents of the array at load time."""
        self.init_values = np.ascontiguousarray(np.asarray(values, dtype=self.dtype).reshape(-1))


def _egps(model: Any, owner: str, precision: str) -> dict[str, ExtraGlobalParam]:
    """The extra global parameter arrays of a model (type like ``"scalar*"``)."""
    scalar = ct.precision_type(precision)
    return {
        e.name: ExtraGlobalParam(
            f"{owner} extra global param", e.name, ct.resolve(e.type[:-1], scalar, scalar).dtype
        )
        for e in model.extra_global_params
    }


class _Group:
    """Dynamic-parameter bookkeeping shared by neuron and synapse populations."""

    def __init__(self, network: NumbaModel, name: str) -> None:
        self._network = network
        self.name = name

    def _check_unbuilt(self, what: str) -> None:
        if self._network._plan is not None:
            raise UserError(f"population {self.name!r}: {what} must happen before model.build()")

    def _make_dynamic(self, model: Any, dynamic: set[str], name: str, flag: bool, what: str) -> None:
        self._check_unbuilt(f"making param {name!r} dynamic")
        names = [p.name for p in model.params]
        if name not in names:
            raise unknown_choice(f"{what} param of population {self.name!r}", name, names)
        (dynamic.add if flag else dynamic.discard)(name)

    def _set_dynamic(self, key: tuple[str, str, str], name: str, value: float) -> None:
        plan = self._network._plan
        if plan is None or not self._network._loaded:
            raise UserError(f"population {self.name!r}: dynamic params can be set once the model is loaded")
        slot = plan.dynamic_slots.get((*key, name))
        if slot is None:
            raise UserError(
                f"population {self.name!r}: param {name!r} is not dynamic; call set_param_dynamic / "
                f"set_wu_param_dynamic / set_ps_param_dynamic before build"
            )
        self._network._dyn[slot] = float(value)


class NeuronPopulation(_Group):
    """A neuron population (like ``pygenn.NeuronGroup``): ``vars``, ``extra_global_params``, dynamic params
    and spike recording."""

    def __init__(
        self,
        network: NumbaModel,
        index: int,
        name: str,
        num_neurons: int,
        model: Any,
        params: Mapping[str, float],
        vars: Mapping[str, Any],
    ) -> None:
        super().__init__(network, name)
        where = f"neuron population {name!r}"
        self.index = index
        self.num_neurons = int(num_neurons)
        self.model = model
        self.params = spec.check_params(model, params, where)
        self.var_init = spec.check_values(model.vars, vars, where)
        self.dynamic: set[str] = set()
        self._record = False
        self.vars = {
            v.name: DeviceArray(where + " variable", v.name, v.access != "READ_ONLY") for v in model.vars
        }
        self.extra_global_params = _egps(model, where, network.precision)

    @property
    def spike_recording_enabled(self) -> bool:
        """Record this population's spikes (set before build; read with ``spike_recording_data``)."""
        return self._record

    @spike_recording_enabled.setter
    def spike_recording_enabled(self, value: bool) -> None:
        self._check_unbuilt("enabling spike recording")
        self._record = bool(value)

    def set_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make param ``name`` changeable at run time with :meth:`set_dynamic_param_value`."""
        self._make_dynamic(self.model, self.dynamic, name, dynamic, "neuron")

    def set_dynamic_param_value(self, name: str, value: float) -> None:
        """New value of a dynamic param (derived params are not recomputed, as in GeNN)."""
        self._set_dynamic(("n", str(self.index), "neuron"), name, value)

    @property
    def spike_recording_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per batch copy: (spike times in ms, neuron ids) of the last ``num_recording_timesteps`` steps."""
        return self._network._recorded_spikes(self)


class SynapsePopulation(_Group):
    """A synapse population (like ``pygenn.SynapseGroup``): ``vars``, ``pre_vars``, ``post_vars``,
    ``psm_vars``, ``out_post`` and dynamic WU/PS params."""

    def __init__(
        self,
        network: NumbaModel,
        index: int,
        name: str,
        matrix_type: str,
        source: NeuronPopulation,
        target: NeuronPopulation,
        wu: spec.WeightUpdateInit,
        ps: spec.PostsynapticInit,
        connectivity: spec.ConnectivityInit | None,
    ) -> None:
        super().__init__(network, name)
        where = f"synapse population {name!r}"
        self.index = index
        self.matrix_type = matrix_type
        self.src, self.trg = source, target
        self.wu, self.ps, self.connectivity = wu, ps, connectivity
        self.wu_params = spec.check_params(wu.model, wu.params, where + " weight update")
        self.ps_params = spec.check_params(ps.model, ps.params, where + " postsynaptic")
        self.var_init = spec.check_values(wu.model.vars, wu.vars, where)
        self.pre_var_init = spec.check_values(wu.model.pre_vars, wu.pre_vars, where, "pre variable")
        self.post_var_init = spec.check_values(wu.model.post_vars, wu.post_vars, where, "post variable")
        self.psm_var_init = spec.check_values(ps.model.vars, ps.vars, where, "postsynaptic variable")
        self.wu_pre_refs = spec.check_var_refs(wu.model.pre_neuron_var_refs, wu.pre_var_refs, source, where)
        self.wu_post_refs = spec.check_var_refs(
            wu.model.post_neuron_var_refs, wu.post_var_refs, target, where
        )
        self.ps_refs = spec.check_var_refs(ps.model.neuron_var_refs, ps.var_refs, target, where)
        self.wu_dynamic: set[str] = set()
        self.ps_dynamic: set[str] = set()
        sparse = matrix_type == "SPARSE"
        self.vars = {
            v.name: DeviceArray(where + " variable", v.name, v.access != "READ_ONLY", sparse)
            for v in wu.model.vars
        }
        self.pre_vars = {
            v.name: DeviceArray(where + " pre variable", v.name, v.access != "READ_ONLY")
            for v in wu.model.pre_vars
        }
        self.post_vars = {
            v.name: DeviceArray(where + " post variable", v.name, v.access != "READ_ONLY")
            for v in wu.model.post_vars
        }
        self.psm_vars = {
            v.name: DeviceArray(where + " postsynaptic variable", v.name, v.access != "READ_ONLY")
            for v in ps.model.vars
        }
        self.out_post = DeviceArray(where, "out_post", True)
        self.extra_global_params = _egps(wu.model, where, network.precision)
        self.psm_extra_global_params = _egps(ps.model, where + " postsynaptic", network.precision)
        self._manual: tuple[np.ndarray, np.ndarray] | None = None
        self._pre_inds: np.ndarray | None = None
        self._post_inds: np.ndarray | None = None
        self._rows_sorted = True

    def set_wu_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make weight-update param ``name`` changeable at run time."""
        self._make_dynamic(self.wu.model, self.wu_dynamic, name, dynamic, "weight update")

    def set_ps_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make postsynaptic-model param ``name`` changeable at run time."""
        self._make_dynamic(self.ps.model, self.ps_dynamic, name, dynamic, "postsynaptic")

    def set_dynamic_param_value(self, name: str, value: float) -> None:
        """New value of a dynamic weight-update or postsynaptic param."""
        key = ("s", str(self.index), "wu" if name in self.wu_dynamic else "ps")
        self._set_dynamic(key, name, value)

    def set_sparse_connections(self, pre_indices: Any, post_indices: Any) -> None:
        """Give SPARSE connectivity as index pairs (before load); rows are sorted like PyGeNN."""
        if self.matrix_type != "SPARSE":
            raise UserError(
                f"synapse population {self.name!r}: set_sparse_connections needs SPARSE connectivity"
            )
        pre, post = np.asarray(pre_indices, np.int64), np.asarray(post_indices, np.int64)
        if pre.shape != post.shape or pre.ndim != 1:
            raise UserError(
                f"synapse population {self.name!r}: pre and post index arrays must be 1-D, same length"
            )
        if pre.size and (
            pre.min() < 0
            or pre.max() >= self.src.num_neurons
            or post.min() < 0
            or post.max() >= self.trg.num_neurons
        ):
            raise UserError(f"synapse population {self.name!r}: connection index out of range")
        order = np.lexsort((post, pre))
        self._manual = (pre[order].astype(np.int32), post[order].astype(np.int32))

    def get_sparse_pre_inds(self) -> np.ndarray:
        """Presynaptic index of each synapse (SPARSE, after load)."""
        return self._inds(self._pre_inds)

    def get_sparse_post_inds(self) -> np.ndarray:
        """Postsynaptic index of each synapse (SPARSE, after load)."""
        return self._inds(self._post_inds)

    def _inds(self, inds: np.ndarray | None) -> np.ndarray:
        if self.matrix_type != "SPARSE":
            raise UserError(f"synapse population {self.name!r}: only SPARSE connectivity has index lists")
        if inds is None:
            raise UserError(f"synapse population {self.name!r}: the model is not loaded yet")
        return inds.copy()


class NumbaModel:
    """A network on the numba engine with PyGeNN's model API (see :func:`hybridsnn.sim.create_model`)."""

    engine = "numba"

    def __init__(
        self,
        name: str,
        precision: str = "float",
        dt: float = 0.5,
        seed: int = 0,
        batch_size: int = 1,
        build_dir: str | Path | None = None,
        time_precision: str | None = None,
        fastmath: bool = True,
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.threads = check_threads(threads)
        self.slice_threads = self.threads if threads is not None else 1
        self.precision = precision
        self.time_precision = time_precision or precision
        self.dt = float(dt)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.build_dir = Path(build_dir) if build_dir is not None else default_cache_dir()
        self.fastmath = bool(fastmath)
        self.backend = "numba"
        self.neuron_populations: dict[str, NeuronPopulation] = {}
        self.synapse_populations: dict[str, SynapsePopulation] = {}
        self._plan: KernelPlan | None = None
        self._kernel: LoadedKernel | None = None
        self._loaded = False
        self._timestep = 0
        self._num_recording_timesteps: int | None = None
        self._arrays: dict[str, np.ndarray] = {}
        self._dyn = np.zeros(0)
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self._pool: ThreadPoolExecutor | None = None
        self.build_info: dict[str, Any] = {}

    # -- building the network --------------------------------------------------------------------------
    def _check_new_name(self, name: str) -> None:
        if self._plan is not None:
            raise UserError(f"cannot add population {name!r}: model {self.name!r} is already built")
        if name in self.neuron_populations or name in self.synapse_populations:
            raise UserError(f"population name {name!r} is used twice")

    def add_neuron_population(
        self,
        pop_name: str,
        num_neurons: int,
        neuron: Any,
        params: Mapping[str, float] | None = None,
        vars: Mapping[str, Any] | None = None,
    ) -> NeuronPopulation:
        """Add ``num_neurons`` neurons of model ``neuron`` with param values and initial values."""
        self._check_new_name(pop_name)
        if int(num_neurons) < 1:
            raise UserError(f"neuron population {pop_name!r}: num_neurons must be >= 1, got {num_neurons}")
        model = spec.resolve_neuron_model(neuron)
        pop = NeuronPopulation(
            self, len(self.neuron_populations), pop_name, num_neurons, model, params or {}, vars or {}
        )
        self.neuron_populations[pop_name] = pop
        return pop

    def add_synapse_population(
        self,
        pop_name: str,
        matrix_type: str,
        source: NeuronPopulation,
        target: NeuronPopulation,
        weight_update_init: spec.WeightUpdateInit,
        postsynaptic_init: spec.PostsynapticInit,
        connectivity_init: spec.ConnectivityInit | None = None,
    ) -> SynapsePopulation:
        """Connect ``source`` to ``target`` ("DENSE" or "SPARSE") with a weight-update and a postsynaptic
        model (from :func:`init_weight_update` / :func:`init_postsynaptic`)."""
        self._check_new_name(pop_name)
        if matrix_type not in spec.MATRIX_TYPES:
            raise unknown_choice("matrix type", matrix_type, spec.MATRIX_TYPES)
        for pop in (source, target):
            if not isinstance(pop, NeuronPopulation) or self.neuron_populations.get(pop.name) is not pop:
                raise UserError(
                    f"synapse population {pop_name!r}: source/target must be populations of this model"
                )
        if matrix_type == "DENSE" and connectivity_init is not None:
            raise UserError(f"synapse population {pop_name!r}: DENSE connectivity takes no connectivity_init")
        sg = SynapsePopulation(
            self,
            len(self.synapse_populations),
            pop_name,
            matrix_type,
            source,
            target,
            weight_update_init,
            postsynaptic_init,
            connectivity_init,
        )
        self.synapse_populations[pop_name] = sg
        return sg

    def _describe(self) -> NetworkDesc:
        index = {p.name: p.index for p in self.neuron_populations.values()}
        neurons = [
            NeuronDesc(p.name, p.model, p.params, set(p.dynamic), p.spike_recording_enabled)
            for p in self.neuron_populations.values()
        ]
        synapses = [
            SynapseDesc(
                s.name,
                s.matrix_type,
                index[s.src.name],
                index[s.trg.name],
                s.wu,
                s.wu_params,
                set(s.wu_dynamic),
                s.wu_pre_refs,
                s.wu_post_refs,
                s.ps,
                s.ps_params,
                set(s.ps_dynamic),
                s.ps_refs,
                s.connectivity,
            )
            for s in self.synapse_populations.values()
        ]
        return NetworkDesc(
            self.name,
            self.precision,
            self.time_precision,
            self.dt,
            self.fastmath,
            neurons,
            synapses,
        )

    def build(self) -> None:
        """Translate all model code and compile (or load from the cache) the network kernel."""
        if self._plan is not None:
            raise UserError(f"model {self.name!r} is already built")
        start = time.perf_counter()
        plan = write_kernel(self._describe())
        generated = time.perf_counter() - start
        self._kernel = load_kernel(plan.source, self.build_dir)
        self._plan = plan
        self.build_info = {
            "generate_s": generated,
            "compile_or_load_s": self._kernel.seconds,
            "cached": self._kernel.cached,
            "kernel": str(self._kernel.path),
        }

    # -- loading -----------------------------------------------------------------------------------------
    def load(self, num_recording_timesteps: int | None = None) -> None:
        """Allocate and initialise all state; ``num_recording_timesteps`` sizes spike recording buffers."""
        if self._plan is None:
            raise UserError(f"model {self.name!r} must be built before it is loaded")
        if self._loaded:
            raise UserError(f"model {self.name!r} is already loaded")
        recording = any(p.spike_recording_enabled for p in self.neuron_populations.values())
        if recording and not num_recording_timesteps:
            raise UserError("spike recording is enabled: pass num_recording_timesteps to model.load()")
        self._num_recording_timesteps = int(num_recording_timesteps) if num_recording_timesteps else None
        scalar = ct.precision_type(self.precision)
        time_type = ct.precision_type(self.time_precision)
        arrays: dict[str, np.ndarray] = {}
        batch = self.batch_size
        self._plan_arg_names = {a.name for a in self._plan.args}
        for pop in self.neuron_populations.values():
            self._load_neurons(pop, arrays, scalar, time_type)
        for sg in self.synapse_populations.values():
            self._load_synapses(sg, arrays, scalar)
        self._arrays = arrays
        self._dyn = np.zeros(len(self._plan.dynamic_slots))
        for (kind, index, group, name), slot in self._plan.dynamic_slots.items():
            self._dyn[slot] = self._param_value(kind, int(index), group, name)
        slots = max(len(self._plan.rng_slots), 1)
        self._rng = np.array(
            [[_splitmix64((self.seed << 32) ^ (b << 16) ^ k) for k in range(slots)] for b in range(batch)],
            dtype=np.uint64,
        )
        self._split = self._split_threads()
        pops = list(self.neuron_populations.values())
        self._bounds = np.array(
            [slice_bounds(pop.num_neurons, self._split, p in self._splittable) for p, pop in enumerate(pops)],
            np.int64,
        ).reshape(len(pops), self._split + 1)
        self._sync = np.zeros(16, np.int64)
        self._spk_cnt = np.zeros((batch, len(pops), self._split), np.int32)
        missing = [a.name for a in self._plan.args if a.name not in arrays]
        assert not missing, missing
        self._args = tuple(arrays[a.name] for a in self._plan.args)
        self._chunks = self._batch_chunks()
        self._timestep = 0
        self._loaded = True

    def _split_threads(self) -> int:
        """Threads that share one batch copy's populations (1 unless batch size 1, several threads and a
        population of at least :data:`SPLIT_MIN_NEURONS` that may be split); sets ``_splittable``."""
        pops = list(self.neuron_populations.values())
        self._splittable = {
            p for p, pop in enumerate(pops)
            if pop.num_neurons >= SPLIT_MIN_NEURONS and p not in self._plan.shared_populations
        }  # fmt: skip
        for sg in self.synapse_populations.values():  # a row is sliced by bisection: it must be sorted
            if sg.matrix_type == "SPARSE" and not sg._rows_sorted:
                self._splittable.discard(self.neuron_populations[sg.trg.name].index)
        if self.batch_size != 1 or self.slice_threads == 1 or not self._splittable:
            return 1
        return self.slice_threads

    def _batch_chunks(self) -> list[tuple[np.ndarray, ...]]:
        """Kernel arguments (generators, spike counts, arrays) of contiguous slices of the batch, one per
        thread; shared arrays are passed whole."""
        threads = max(1, min(self.batch_size, self.threads))
        chunks = []
        for part in np.array_split(np.arange(self.batch_size), threads):
            lo, hi = int(part[0]), int(part[-1]) + 1
            specs = zip(self._args, self._plan.args, strict=True)
            arrays = (a[lo:hi] if spec.per_batch else a for a, spec in specs)
            chunks.append((self._rng[lo:hi], self._spk_cnt[lo:hi], 0, 1, self._bounds, self._sync, *arrays))
        return chunks

    def _param_value(self, kind: str, index: int, group: str, name: str) -> float:
        if kind == "n":
            return float(list(self.neuron_populations.values())[index].params[name])
        sg = list(self.synapse_populations.values())[index]
        return float((sg.wu_params if group == "wu" else sg.ps_params)[name])

    def _init_rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def _fill(
        self,
        target: DeviceArray,
        init: Any,
        dtype: np.dtype,
        shape: tuple[int, ...],
        rng_key: tuple[int, ...],
        arrays: dict[str, np.ndarray],
        name: str,
    ) -> None:
        """Allocate array ``name`` (with a batch axis if per batch) and write the initial values."""
        full_shape = ((self.batch_size,) if target.per_batch else ()) + shape
        array = np.zeros(full_shape, dtype)
        if isinstance(init, spec.VarInit):
            values = init.sample(self._init_rng(*rng_key), full_shape)
        else:
            values = np.asarray(init)
            if values.ndim > 0 and values.shape not in (shape, full_shape):
                # e.g. a (n_pre, n_post) matrix for a DENSE variable, flattened pre-major like PyGeNN
                if values.size == int(np.prod(shape)):
                    values = values.reshape(shape)
                elif values.size == int(np.prod(full_shape)):
                    values = values.reshape(full_shape)
        try:
            array[...] = np.broadcast_to(values, full_shape)
        except ValueError:
            raise UserError(
                f"{target.owner} {target.name!r}: initial values of shape {np.shape(init)} do not fit shape "
                f"{shape}" + (f" or {full_shape}" if target.per_batch else "")
            ) from None
        arrays[name] = array
        target._bind(array, self.batch_size)

    def _load_neurons(
        self, pop: NeuronPopulation, arrays: dict[str, np.ndarray], scalar: ct.CType, time_type: ct.CType
    ) -> None:
        p, n, batch = pop.index, pop.num_neurons, self.batch_size
        for k, v in enumerate(pop.model.vars):
            dtype = ct.resolve(v.type, scalar, time_type).dtype
            self._fill(
                pop.vars[v.name], pop.var_init[v.name], dtype, (n,), (0, p, k), arrays, Names.nvar(p, v.name)
            )
        for e in pop.extra_global_params.values():
            arrays[Names.negp(p, e.name)] = e.init_values.copy()
            e._bind(arrays[Names.negp(p, e.name)], batch)
        arrays[Names.nx(p, "spk")] = np.zeros((batch, n), np.uint32)
        never = -np.finfo(time_type.dtype).max
        arrays[Names.nx(p, "st")] = np.full((batch, n), never, time_type.dtype)
        arrays[Names.nx(p, "pst")] = np.full((batch, n), never, time_type.dtype)
        if Names.nx(p, "rng") in self._plan_arg_names:
            # one xorshift64* generator per neuron, seeded from (seed, batch copy, population, neuron)
            keys = (
                (np.uint64(self.seed) << np.uint64(32))
                ^ (np.arange(batch, dtype=np.uint64)[:, None] << np.uint64(56))
                ^ (np.uint64(p) << np.uint64(48))
                ^ np.arange(n, dtype=np.uint64)[None, :]
            )
            arrays[Names.nx(p, "rng")] = _splitmix64_array(_splitmix64_array(keys))
        if pop.spike_recording_enabled:
            words = (n + 31) // 32
            arrays[Names.nx(p, "rec")] = np.zeros((batch, self._num_recording_timesteps, words), np.uint32)

    def _load_synapses(self, sg: SynapsePopulation, arrays: dict[str, np.ndarray], scalar: ct.CType) -> None:
        s, batch = sg.index, self.batch_size
        n_pre, n_post = sg.src.num_neurons, sg.trg.num_neurons
        if sg.matrix_type == "SPARSE":
            pre, post = self._connect(sg)
            n_syn = pre.size
            arrays[Names.sx(s, "rowptr")], sg._rows_sorted = _row_index(pre, post, n_pre)
            arrays[Names.sx(s, "ind")] = post.astype(np.uint32)
            if Names.sx(s, "colptr") in self._plan_arg_names:
                colptr, colsyn, colpre = _column_index(pre, post, n_post)
                arrays[Names.sx(s, "colptr")], arrays[Names.sx(s, "colsyn")] = colptr, colsyn
                arrays[Names.sx(s, "colpre")] = colpre
            sg._pre_inds, sg._post_inds = pre, post
            syn_shape = (n_syn,)
        else:
            syn_shape = (n_pre * n_post,)
        wu, ps = sg.wu.model, sg.ps.model
        groups = (
            (1, "v", wu.vars, sg.vars, sg.var_init, syn_shape),
            (2, "p", wu.pre_vars, sg.pre_vars, sg.pre_var_init, (n_pre,)),
            (3, "q", wu.post_vars, sg.post_vars, sg.post_var_init, (n_post,)),
            (4, "m", ps.vars, sg.psm_vars, sg.psm_var_init, (n_post,)),
        )
        for group, prefix, decls, views, inits, shape in groups:
            for k, v in enumerate(decls):
                dtype = ct.resolve(v.type, scalar, scalar).dtype
                self._fill(views[v.name], inits[v.name], dtype, shape, (group, s, k), arrays,
                           Names.svar(s, prefix, v.name))  # fmt: skip
        for kind, egps in (("e", sg.extra_global_params), ("f", sg.psm_extra_global_params)):
            for e in egps.values():
                arrays[Names.svar(s, kind, e.name)] = e.init_values.copy()
                e._bind(arrays[Names.svar(s, kind, e.name)], batch)
        self._fill(sg.out_post, 0.0, scalar.dtype, (n_post,), (5, s), arrays, Names.sx(s, "out"))
        arrays[Names.sx(s, "outpre")] = np.zeros((batch, n_pre), scalar.dtype)

    def _connect(self, sg: SynapsePopulation) -> tuple[np.ndarray, np.ndarray]:
        """(pre, post) index arrays of a SPARSE population, sorted by row."""
        if sg._manual is not None:
            return sg._manual
        if sg.connectivity is None:
            raise UserError(
                f"synapse population {sg.name!r}: SPARSE connectivity needs connectivity_init or "
                "set_sparse_connections before load"
            )
        n_pre, n_post = sg.src.num_neurons, sg.trg.num_neurons
        snippet = sg.connectivity.snippet
        params = {k: float(v) for k, v in sg.connectivity.params.items()}
        max_row = (
            int(snippet.calc_max_row_len_func(n_pre, n_post, params))
            if snippet.calc_max_row_len_func
            else n_post
        )
        rows = np.zeros((n_pre, max(max_row, 1)), np.int32)
        row_len = np.zeros(n_pre, np.int32)
        rng = np.array([_splitmix64((self.seed << 32) ^ (0xC0 << 16) ^ sg.index)], np.uint64)
        builder = getattr(self._kernel.module, self._plan.connectivity_builders[sg.index])
        try:
            builder(n_pre, n_post, rng, rows, row_len)
        except ValueError as exc:
            raise UserError(f"synapse population {sg.name!r}: {exc}") from None
        pre = np.repeat(np.arange(n_pre, dtype=np.int32), row_len)
        post = rows[np.arange(rows.shape[1])[None, :] < row_len[:, None]]
        if post.size and (post.min() < 0 or post.max() >= n_post):
            raise UserError(
                f"synapse population {sg.name!r}: connectivity {snippet.name!r} made a synapse to "
                f"neuron {int(post.max())} of a {n_post}-neuron target"
            )
        return pre, post

    # -- running ---------------------------------------------------------------------------------------
    def _check_loaded(self) -> None:
        if not self._loaded:
            raise UserError(f"model {self.name!r} is not loaded (call build() then load())")

    def run(self, n_steps: int) -> None:
        """Advance ``n_steps`` timesteps in one compiled call."""
        self._check_loaded()
        n_steps = int(n_steps)
        if n_steps < 0:
            raise UserError(f"run(n_steps): n_steps must be >= 0, got {n_steps}")
        if not n_steps:
            return
        kernel = self._kernel.module.run
        ts = self._timestep
        common = (n_steps, ts, self._dyn, self._rng, self._spk_cnt)
        if self._split > 1:  # one batch copy, its large populations sliced over threads
            self._sync[:] = 0
            pool = self._thread_pool(self._split - 1)
            args = (self._split, self._bounds, self._sync, *self._args)
            jobs = [pool.submit(kernel, *common, tid, *args) for tid in range(1, self._split)]
            kernel(*common, 0, *args)
            for job in jobs:
                job.result()
        elif len(self._chunks) == 1 or n_steps < PARALLEL_MIN_STEPS:
            kernel(*common, 0, 1, self._bounds, self._sync, *self._args)
        else:  # batch slices on several threads (the kernel releases the GIL)
            pool = self._thread_pool(len(self._chunks))
            for job in [pool.submit(kernel, n_steps, ts, self._dyn, *chunk) for chunk in self._chunks]:
                job.result()
        self._timestep += n_steps

    def _thread_pool(self, workers: int) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="hybridsnn-sim")
        return self._pool

    def step_time(self) -> None:
        """Advance one timestep."""
        self.run(1)

    # -- exact snapshots -----------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of everything the simulation carries from step to step: every per-copy array (variables,
        inputs, spike times, recording), the random generators, the last step's spikes (as ascending ids,
        whatever the thread slicing) and the clock. :meth:`set_state` continues bit-identically."""
        self._check_loaded()
        state = {f"array.{a.name}": self._arrays[a.name].copy() for a in self._plan.args if a.per_batch}
        state["rng"] = self._rng.copy()
        state["timestep"] = np.array([self._timestep], np.int64)
        for p, pop in enumerate(self.neuron_populations.values()):
            spikes = self._last_spikes(p)
            padded = [np.pad(ids, (0, pop.num_neurons - ids.size)) for ids in spikes]
            state[f"spikes.{pop.name}"] = np.stack(padded)
            state[f"spike_count.{pop.name}"] = np.array([ids.size for ids in spikes], np.int64)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`get_state` snapshot of a network built the same way (any thread count)."""
        self._check_loaded()
        expected = {f"array.{a.name}" for a in self._plan.args if a.per_batch} | {"rng", "timestep"}
        for name in self.neuron_populations:
            expected |= {f"spikes.{name}", f"spike_count.{name}"}
        if set(state) != expected:
            missing = sorted(expected - set(state)) or sorted(set(state) - expected)
            raise UserError(f"engine state does not fit this network (first difference: {missing[0]!r})")
        for key, value in state.items():
            if key.startswith("array."):
                target = self._arrays[key[len("array."):]]
                if target.shape != value.shape or target.dtype != value.dtype:
                    raise UserError(f"engine state {key!r}: shape {value.shape} does not fit {target.shape}")
                target[...] = value
        self._rng[...] = state["rng"]
        self._timestep = int(state["timestep"][0])
        for p, pop in enumerate(self.neuron_populations.values()):
            spikes, counts = state[f"spikes.{pop.name}"], state[f"spike_count.{pop.name}"]
            for b in range(self.batch_size):
                self._restore_spikes(p, b, spikes[b, : int(counts[b])])

    def _restore_spikes(self, p: int, copy: int, ids: np.ndarray) -> None:
        """Make ``ids`` the last step's spikes of population ``p`` in batch copy ``copy``."""
        spk, bounds = self._arrays[Names.nx(p, "spk")], self._bounds[p]
        for t in range(self._split):  # each thread's slice keeps its own spikes
            own = ids[(ids >= bounds[t]) & (ids < bounds[t + 1])]
            spk[copy, bounds[t] : bounds[t] + own.size] = own
            self._spk_cnt[copy, p, t] = own.size

    def restart_copy(self, copy: int, snapshot: dict[str, np.ndarray], stream: int) -> None:
        """Put batch copy ``copy`` back into the state of copy 0 of ``snapshot`` (a :meth:`get_state` of this
        network) and restart its random generators from (seed, ``stream``), ``stream`` >= 0.

        Afterwards the copy evolves exactly as every other copy restarted with the same stream and the same
        inputs would, in a batch of any size and whatever ran in it before (copies never mix), so a result
        can depend on ``stream`` (e.g. an image's index) instead of on the order of the work. The streams are
        keyed apart from the generators :meth:`load` seeds. Shared arrays and the clock are left as they are.
        """
        self._check_loaded()
        if not 0 <= copy < self.batch_size or stream < 0:
            raise UserError(f"restart_copy: copy {copy} of {self.batch_size} / stream {stream} out of range")
        for a in self._plan.args:
            if a.per_batch:
                self._arrays[a.name][copy] = snapshot[f"array.{a.name}"][0]
        tag = np.uint64(_splitmix64((1 << 63) | int(stream)))
        for p, pop in enumerate(self.neuron_populations.values()):
            name = Names.nx(p, "rng")
            if name in self._plan_arg_names:
                keys = (np.uint64(self.seed) << np.uint64(32)) ^ (np.uint64(p) << np.uint64(48)) ^ np.arange(
                    pop.num_neurons, dtype=np.uint64)  # fmt: skip
                self._arrays[name][copy] = _splitmix64_array(_splitmix64_array(keys) ^ tag)
            ids = snapshot[f"spikes.{pop.name}"][0, : int(snapshot[f"spike_count.{pop.name}"][0])]
            self._restore_spikes(p, copy, ids)
        slots = self._rng.shape[1]
        keys = np.array([_splitmix64((self.seed << 32) ^ k) for k in range(slots)], np.uint64)
        self._rng[copy] = _splitmix64_array(keys ^ tag)

    def _last_spikes(self, p: int) -> list[np.ndarray]:
        """Per batch copy, the ids of population ``p`` that spiked in the last step, ascending."""
        spk, bounds = self._arrays[Names.nx(p, "spk")], self._bounds[p]
        counts = self._spk_cnt[:, p, :]
        return [
            np.concatenate([spk[b, lo : lo + n] for lo, n in zip(bounds[:-1], counts[b], strict=True)])
            for b in range(self.batch_size)
        ]

    @property
    def timestep(self) -> int:
        """Number of timesteps simulated so far (settable, like PyGeNN)."""
        return self._timestep

    @timestep.setter
    def timestep(self, value: int) -> None:
        self._timestep = int(value)

    @property
    def t(self) -> float:
        """Simulation time (ms)."""
        return self._timestep * self.dt

    def pull_recording_buffers_from_device(self) -> None:
        """No-op on the numba engine; checks that recording is in use."""
        self._check_loaded()
        if self._num_recording_timesteps is None:
            raise UserError(
                "no spike recording in use: enable spike_recording_enabled and pass "
                "num_recording_timesteps to load()"
            )

    def _recorded_spikes(self, pop: NeuronPopulation) -> list[tuple[np.ndarray, np.ndarray]]:
        self._check_loaded()
        if not pop.spike_recording_enabled:
            raise UserError(f"population {pop.name!r}: spike recording is not enabled")
        n_rec = self._num_recording_timesteps or 0
        if self._timestep < n_rec:
            raise UserError(
                f"population {pop.name!r}: spike recording data can be read once {n_rec} steps "
                f"have run (now {self._timestep})"
            )
        rec = self._arrays[Names.nx(pop.index, "rec")]
        start = (self._timestep - n_rec) * self.dt
        return [decode_spike_words(rec[b], start, self.dt) for b in range(self.batch_size)]

    def unload(self) -> None:
        """Free the state arrays (views become invalid)."""
        for pop in self.neuron_populations.values():
            for arr in [*pop.vars.values(), *pop.extra_global_params.values()]:
                arr._unbind()
        for sg in self.synapse_populations.values():
            for arr in [
                *sg.vars.values(),
                *sg.pre_vars.values(),
                *sg.post_vars.values(),
                *sg.psm_vars.values(),
                *sg.extra_global_params.values(),
                *sg.psm_extra_global_params.values(),
                sg.out_post,
            ]:
                arr._unbind()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._arrays, self._args, self._chunks, self._loaded = {}, (), [], False
