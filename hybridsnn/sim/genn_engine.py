"""The ``genn`` engine: the same plain-data models and API, run by a real ``pygenn.GeNNModel``.

Each :mod:`genn_models` definition becomes a PyGeNN model through ``create_*_model`` with its code
strings unchanged. GeNN's transpiler reports code errors only in its log, so the build captures the log
and raises a :class:`UserError` quoting the error lines.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pygenn
from pygenn.genn_model import backend_modules

from genn_models.base import NeuronModel, PostsynapticModel, SparseConnectivity, WeightUpdateModel
from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.sim import spec
from hybridsnn.sim.fpenv import denormals_flushed, flush_denormals, restore_fp_state
from hybridsnn.sim.kernel_cache import default_cache_dir

_CONVERTED: dict[int, tuple[Any, Any]] = {}


def _access(value: str) -> Any:
    return getattr(pygenn.VarAccess, value)


def _vars(decls: Any) -> list[tuple[str, str, Any]]:
    return [(v.name, v.type, _access(v.access)) for v in decls]


def _refs(decls: Any) -> list[tuple[str, str, Any]]:
    return [(r.name, r.type, getattr(pygenn.VarAccessMode, r.access)) for r in decls]


def _common(model: Any) -> dict[str, Any]:
    return {
        "params": [(p.name, p.type) for p in model.params],
        "derived_params": [(d.name, d.func, d.type) for d in model.derived_params],
    }


def to_pygenn(model: Any) -> Any:
    """The PyGeNN model object for a :mod:`genn_models` definition (created once per definition)."""
    cached = _CONVERTED.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    code = {k: (v if v.strip() else None) for k, v in model.code().items()}
    egps = [(e.name, e.type) for e in getattr(model, "extra_global_params", ())]
    if isinstance(model, NeuronModel):
        converted = pygenn.create_neuron_model(
            model.name,
            vars=_vars(model.vars),
            extra_global_params=egps,
            auto_refractory_required=model.auto_refractory_required,
            **_common(model),
            **code,
        )
    elif isinstance(model, PostsynapticModel):
        converted = pygenn.create_postsynaptic_model(
            model.name,
            vars=_vars(model.vars),
            neuron_var_refs=_refs(model.neuron_var_refs),
            extra_global_params=egps,
            **_common(model),
            **code,
        )
    elif isinstance(model, WeightUpdateModel):
        converted = pygenn.create_weight_update_model(
            model.name,
            vars=_vars(model.vars),
            pre_vars=_vars(model.pre_vars),
            post_vars=_vars(model.post_vars),
            pre_neuron_var_refs=_refs(model.pre_neuron_var_refs),
            post_neuron_var_refs=_refs(model.post_neuron_var_refs),
            extra_global_params=egps,
            **_common(model),
            **code,
        )
    elif isinstance(model, SparseConnectivity):
        converted = pygenn.create_sparse_connect_init_snippet(
            model.name,
            calc_max_row_len_func=model.calc_max_row_len_func,
            calc_max_col_len_func=model.calc_max_col_len_func,
            **_common(model),
            **code,
        )
    else:
        raise UserError(f"not a genn_models definition: {model!r}")
    _CONVERTED[id(model)] = (model, converted)
    return converted


def _values(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        if isinstance(value, spec.VarInit):
            out[name] = pygenn.init_var(value.snippet, dict(value.params))
        elif isinstance(value, (np.ndarray, list, tuple)):
            out[name] = np.asarray(value).reshape(-1)
        else:
            out[name] = value
    return out


class _ExitWatcher:
    """Shows GeNN's error lines if GeNN ends the process while its output is being captured.

    GeNN's CUDA backend checks every CUDA call and on failure logs the error and calls ``exit()`` (its
    ``CHECK_CUDA_ERRORS`` macro), so Python never sees an exception and the log would vanish with the
    capture. A forked watcher process waits on a pipe: told "ok" when the capture ends normally, it
    exits silently; if the pipe closes without it (the process died), it copies the log's error lines to
    the real standard error. Where ``fork`` is missing it does nothing.
    """

    def __init__(self, log_fd: int, stderr_fd: int) -> None:
        self._pipe: int | None = None
        if not hasattr(os, "fork"):
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watcher: no Python clean-up of the parent's state, ever
            try:
                os.close(write_end)
                if os.read(read_end, 2) != b"ok":
                    os.write(stderr_fd, _exit_report(log_fd).encode())
            finally:
                os._exit(0)
        os.close(read_end)
        self._pipe, self._pid = write_end, pid

    def close(self) -> None:
        """The capture ended normally: dismiss the watcher."""
        if self._pipe is not None:
            os.write(self._pipe, b"ok")
            os.close(self._pipe)
            os.waitpid(self._pid, 0)
            self._pipe = None


def _exit_report(log_fd: int) -> str:
    os.lseek(log_fd, 0, os.SEEK_SET)
    text = b""
    while chunk := os.read(log_fd, 1 << 16):
        text += chunk
    detail = _error_detail(text.decode(errors="replace").splitlines()) or "no error line in GeNN's log"
    return f"hybridsnn: error: GeNN ended the process: {detail}\n"


@contextmanager
def _captured_output() -> Iterator[list[str]]:
    """Collect what GeNN's C++ code prints to stdout/stderr (file descriptors 1 and 2)."""
    lines: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        watcher = None
        try:
            watcher = _ExitWatcher(log.fileno(), saved[1])
            yield lines
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            if watcher is not None:
                watcher.close()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            log.seek(0)
            lines.extend(log.read().decode(errors="replace").splitlines())


def _clean(line: str) -> str:
    """A GeNN log line without its time stamp and severity prefix."""
    line = re.sub(r"^\S+ \S+ (ERROR|WARN\w*|INFO)\s*", "", line)
    return re.sub(r"^.*?\[GeNN::[^\]]*\]\s*", "", line).strip()


def _error_detail(lines: list[str]) -> str:
    """GeNN's error lines, cleaned and without repeats, joined by "; " ("" if there are none)."""
    return "; ".join(dict.fromkeys(c for line in lines if "error" in line.lower() and (c := _clean(line))))


def _genn_error(lines: list[str], exc: BaseException, what: str = "build") -> UserError:
    detail = _error_detail(lines) or str(exc) or type(exc).__name__
    return UserError(f"GeNN could not {what} the model: {detail}")


def _flag(name: str, value: Any) -> bool:
    """A boolean preference from a bool or one of true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UserError(f"GeNN preference {name}={value!r}: expected true or false")


def _preferences(backend: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """GeNN backend preferences from plain values: enum members may be given by name (``"MANUAL"``)."""
    defaults = backend_modules[backend].Preferences()
    out: dict[str, Any] = {}
    for name, value in given.items():
        if not hasattr(defaults, name):
            allowed = sorted(n for n in dir(defaults) if not n.startswith("_"))
            raise unknown_choice(f"GeNN {backend} backend preference", name, allowed)
        current = getattr(defaults, name)
        members = getattr(type(current), "__members__", None)
        if members is not None and isinstance(value, str):
            if value not in members:
                raise unknown_choice(f"value of GeNN preference {name!r}", value, list(members))
            value = members[value]
        elif isinstance(current, bool):
            value = _flag(name, value)
        elif isinstance(current, (int, float)) and members is None:
            try:
                value = type(current)(value)
            except (TypeError, ValueError):
                raise UserError(
                    f"GeNN preference {name}={value!r}: expected {type(current).__name__}"
                ) from None
        out[name] = value
    return out


class _Wrapped:
    """Forwards attribute access to the wrapped PyGeNN group."""

    def __init__(self, group: Any, name: str) -> None:
        self._group = group
        self.name = name

    @property
    def vars(self) -> Any:
        """Variables (PyGeNN objects with view, values, push_to_device, pull_from_device)."""
        return self._group.vars

    def _set_dynamic(self, name: str, value: float) -> None:
        try:
            self._group.set_dynamic_param_value(name, value)
        except (KeyError, IndexError, RuntimeError):
            raise UserError(
                f"population {self.name!r}: param {name!r} is not dynamic; call set_param_dynamic / "
                f"set_wu_param_dynamic / set_ps_param_dynamic before build"
            ) from None


class GennNeuronPopulation(_Wrapped):
    """A PyGeNN neuron group behind the engine-neutral API."""

    def __init__(self, group: Any, name: str, num_neurons: int, model: NeuronModel) -> None:
        super().__init__(group, name)
        self.num_neurons = num_neurons
        self.model = model

    @property
    def extra_global_params(self) -> Any:
        """Extra global parameters (``set_init_values`` before load, then ``view``/``push_to_device``)."""
        return self._group.extra_global_params

    @property
    def spike_recording_enabled(self) -> bool:
        """Record this population's spikes (set before build)."""
        return self._group.spike_recording_enabled

    @spike_recording_enabled.setter
    def spike_recording_enabled(self, value: bool) -> None:
        self._group.spike_recording_enabled = bool(value)

    def set_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make param ``name`` changeable at run time."""
        names = [p.name for p in self.model.params]
        if name not in names:
            raise unknown_choice(f"neuron param of population {self.name!r}", name, names)
        self._group.set_param_dynamic(name, dynamic)

    def set_dynamic_param_value(self, name: str, value: float) -> None:
        """New value of a dynamic param."""
        self._set_dynamic(name, value)

    @property
    def spike_recording_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per batch copy: (spike times in ms, neuron ids)."""
        return self._group.spike_recording_data


class GennSynapsePopulation(_Wrapped):
    """A PyGeNN synapse group behind the engine-neutral API."""

    def __init__(
        self,
        group: Any,
        name: str,
        matrix_type: str,
        src: GennNeuronPopulation,
        trg: GennNeuronPopulation,
        wu: spec.WeightUpdateInit,
        ps: spec.PostsynapticInit,
    ) -> None:
        super().__init__(group, name)
        self.matrix_type = matrix_type
        self.src, self.trg = src, trg
        self.wu, self.ps = wu, ps

    @property
    def pre_vars(self) -> Any:
        """Presynaptic weight-update variables."""
        return self._group.pre_vars

    @property
    def post_vars(self) -> Any:
        """Postsynaptic weight-update variables."""
        return self._group.post_vars

    @property
    def psm_vars(self) -> Any:
        """Postsynaptic model variables."""
        return self._group.psm_vars

    @property
    def extra_global_params(self) -> Any:
        """Weight-update extra global parameters."""
        return self._group.extra_global_params

    @property
    def psm_extra_global_params(self) -> Any:
        """Postsynaptic-model extra global parameters."""
        return self._group.psm_extra_global_params

    @property
    def out_post(self) -> Any:
        """The postsynaptic input accumulator (``inSyn``)."""
        return self._group.out_post

    def _dynamic(self, model: Any, name: str, dynamic: bool, setter: Any, what: str) -> None:
        names = [p.name for p in model.params]
        if name not in names:
            raise unknown_choice(f"{what} param of population {self.name!r}", name, names)
        setter(name, dynamic)

    def set_wu_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make weight-update param ``name`` changeable at run time."""
        self._dynamic(self.wu.model, name, dynamic, self._group.set_wu_param_dynamic, "weight update")

    def set_ps_param_dynamic(self, name: str, dynamic: bool = True) -> None:
        """Make postsynaptic-model param ``name`` changeable at run time."""
        self._dynamic(self.ps.model, name, dynamic, self._group.set_ps_param_dynamic, "postsynaptic")

    def set_dynamic_param_value(self, name: str, value: float) -> None:
        """New value of a dynamic weight-update or postsynaptic param."""
        self._set_dynamic(name, value)

    def set_sparse_connections(self, pre_indices: Any, post_indices: Any) -> None:
        """Give SPARSE connectivity as index pairs (before load)."""
        self._group.set_sparse_connections(np.asarray(pre_indices), np.asarray(post_indices))

    def get_sparse_pre_inds(self) -> np.ndarray:
        """Presynaptic index of each synapse (SPARSE)."""
        self._group.pull_connectivity_from_device()
        return np.asarray(self._group.get_sparse_pre_inds())

    def get_sparse_post_inds(self) -> np.ndarray:
        """Postsynaptic index of each synapse (SPARSE)."""
        self._group.pull_connectivity_from_device()
        return np.asarray(self._group.get_sparse_post_inds())


class GennModel:
    """A ``pygenn.GeNNModel`` (``optimize_code=True``) behind the engine-neutral API."""

    engine = "genn"

    def __init__(
        self,
        name: str,
        precision: str = "float",
        dt: float = 0.5,
        seed: int = 0,
        backend: str | None = None,
        batch_size: int = 1,
        build_dir: str | Path | None = None,
        time_precision: str | None = None,
        preferences: Mapping[str, Any] | None = None,
    ) -> None:
        backends = list(backend_modules)
        backend = backend or ("cuda" if "cuda" in backends else "single_threaded_cpu")
        if backend not in backends:
            raise unknown_choice("GeNN backend", backend, backends)
        if backend == "single_threaded_cpu" and batch_size != 1:
            raise UserError(
                "GeNN's single_threaded_cpu backend only runs batch_size 1; use the numba engine "
                "or the cuda backend for batches"
            )
        self.name = name
        self.backend = backend
        self.precision = precision
        self.batch_size = int(batch_size)
        self.build_dir = Path(build_dir) if build_dir is not None else default_cache_dir()
        self.preferences = _preferences(backend, {"optimize_code": True, **(preferences or {})})
        self._model = pygenn.GeNNModel(
            precision, name, backend=backend, time_precision=time_precision, **self.preferences
        )
        self._stepper: Any = None
        self._model.dt = float(dt)
        self._model.seed = int(seed)
        self._model.batch_size = self.batch_size
        self.neuron_populations: dict[str, GennNeuronPopulation] = {}
        self.synapse_populations: dict[str, GennSynapsePopulation] = {}
        self.build_info: dict[str, Any] = {}

    @property
    def dt(self) -> float:
        """Timestep (ms)."""
        return self._model.dt

    @property
    def seed(self) -> int:
        """Seed of GeNN's random number generators."""
        return self._model.seed

    def add_neuron_population(
        self,
        pop_name: str,
        num_neurons: int,
        neuron: Any,
        params: Mapping[str, float] | None = None,
        vars: Mapping[str, Any] | None = None,
    ) -> GennNeuronPopulation:
        """Add ``num_neurons`` neurons of model ``neuron``."""
        model = spec.resolve_neuron_model(neuron)
        where = f"neuron population {pop_name!r}"
        params = spec.check_params(model, params or {}, where)
        values = spec.check_values(model.vars, vars or {}, where)
        group = self._model.add_neuron_population(
            pop_name, int(num_neurons), to_pygenn(model), params, _values(values)
        )
        pop = GennNeuronPopulation(group, pop_name, int(num_neurons), model)
        self.neuron_populations[pop_name] = pop
        return pop

    def add_synapse_population(
        self,
        pop_name: str,
        matrix_type: str,
        source: GennNeuronPopulation,
        target: GennNeuronPopulation,
        weight_update_init: spec.WeightUpdateInit,
        postsynaptic_init: spec.PostsynapticInit,
        connectivity_init: spec.ConnectivityInit | None = None,
    ) -> GennSynapsePopulation:
        """Connect ``source`` to ``target`` ("DENSE" or "SPARSE")."""
        if matrix_type not in spec.MATRIX_TYPES:
            raise unknown_choice("matrix type", matrix_type, spec.MATRIX_TYPES)
        where = f"synapse population {pop_name!r}"
        wu, ps = weight_update_init, postsynaptic_init
        spec.check_params(wu.model, wu.params, where + " weight update")
        spec.check_params(ps.model, ps.params, where + " postsynaptic")
        pre_refs = spec.check_var_refs(wu.model.pre_neuron_var_refs, wu.pre_var_refs, source, where)
        post_refs = spec.check_var_refs(wu.model.post_neuron_var_refs, wu.post_var_refs, target, where)
        ps_refs = spec.check_var_refs(ps.model.neuron_var_refs, ps.var_refs, target, where)
        wu_init = pygenn.init_weight_update(
            to_pygenn(wu.model),
            wu.params,
            _values(spec.check_values(wu.model.vars, wu.vars, where)),
            _values(spec.check_values(wu.model.pre_vars, wu.pre_vars, where, "pre variable")),
            _values(spec.check_values(wu.model.post_vars, wu.post_vars, where, "post variable")),
            {k: pygenn.create_var_ref(source._group, r.var) for k, r in pre_refs.items()},
            {k: pygenn.create_var_ref(target._group, r.var) for k, r in post_refs.items()},
        )
        ps_init = pygenn.init_postsynaptic(
            to_pygenn(ps.model),
            ps.params,
            _values(spec.check_values(ps.model.vars, ps.vars, where, "postsynaptic variable")),
            {k: pygenn.create_var_ref(target._group, r.var) for k, r in ps_refs.items()},
        )
        conn = None
        if connectivity_init is not None:
            conn = pygenn.init_sparse_connectivity(
                to_pygenn(connectivity_init.snippet), connectivity_init.params
            )
        group = self._model.add_synapse_population(
            pop_name, matrix_type, source._group, target._group, wu_init, ps_init, conn
        )
        sg = GennSynapsePopulation(group, pop_name, matrix_type, source, target, wu, ps)
        self.synapse_populations[pop_name] = sg
        return sg

    def build(self) -> None:
        """Generate and compile the GeNN model under ``build_dir/genn`` (lazy: unchanged models reuse it)."""
        path = self.build_dir / "genn"
        path.mkdir(parents=True, exist_ok=True)
        with _captured_output() as lines:
            try:
                self._model.build(path_to_model=str(path))
                failed = None
            except Exception as exc:  # GeNN raises an empty RuntimeError; details are in its log
                failed = exc
        if failed is not None:
            raise _genn_error(lines, failed) from None
        self.build_info = {"build_dir": str(path / f"{self.name}_CODE")}

    def load(self, num_recording_timesteps: int | None = None) -> None:
        """Allocate and initialise the model (``num_recording_timesteps`` sizes spike recording)."""
        with _captured_output() as lines, denormals_flushed():
            try:
                self._model.load(num_recording_timesteps=num_recording_timesteps)
                failed = None
            except Exception as exc:
                failed = exc
        if failed is not None:
            raise _genn_error(lines, failed, "load") from None
        self._num_recording_timesteps = int(num_recording_timesteps or 0)
        self._stepper = _stepper(self.build_dir / "genn" / f"{self.name}_CODE" / "librunner.so")

    def step_time(self) -> None:
        """Advance one timestep."""
        self.run(1)

    def run(self, n_steps: int) -> None:
        """Advance ``n_steps`` timesteps in one compiled loop over the runner's ``stepTime``, with
        flush-to-zero set (see :mod:`hybridsnn.sim.fpenv`); the model clock advances as with ``step_time``.
        """
        n_steps = int(n_steps)
        if n_steps < 0:
            raise UserError(f"run(n_steps): n_steps must be >= 0, got {n_steps}")
        if self._stepper is None:
            raise UserError(f"model {self.name!r} is not loaded (call build() then load())")
        start = self._model.timestep
        self._stepper(start, n_steps, self._num_recording_timesteps)
        self._model.timestep = start + n_steps

    @property
    def timestep(self) -> int:
        """Number of timesteps simulated so far."""
        return self._model.timestep

    @timestep.setter
    def timestep(self, value: int) -> None:
        self._model.timestep = int(value)

    @property
    def t(self) -> float:
        """Simulation time (ms)."""
        return self._model.t

    def pull_recording_buffers_from_device(self) -> None:
        """Copy the spike recording buffers to the host."""
        self._model.pull_recording_buffers_from_device()

    def unload(self) -> None:
        """Free the model's memory."""
        self._stepper = None
        self._model.unload()


def _stepper(runner: Path) -> Any:
    """A compiled ``(first_timestep, n_steps, num_recording_timesteps)`` loop over the generated runner's
    ``stepTime`` with FTZ/DAZ set: no Python call per step (GeNN's ``step_time`` is one). The project's
    networks have no delay queues, so ``stepTime`` plus the clock update is all ``Runtime::stepTime`` does.
    """
    library = ctypes.CDLL(str(runner))  # the handle GeNN's runtime already opened (same file)
    step_time = library.stepTime
    step_time.argtypes = [ctypes.c_ulonglong, ctypes.c_ulonglong]
    step_time.restype = None

    @numba.njit(nogil=True)
    def run(first: int, n_steps: int, num_recording_timesteps: int) -> None:
        old = flush_denormals()
        for k in range(n_steps):
            step_time(np.uint64(first + k), np.uint64(num_recording_timesteps))
        restore_fp_state(old)

    return run
