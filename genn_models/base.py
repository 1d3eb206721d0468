"""Plain-data GeNN 5 model definitions, importable without PyGeNN.

A model is its GeNN 5 code strings plus the names and types of its parameters and variables, exactly as
``pygenn.create_neuron_model`` / ``create_weight_update_model`` / ``create_postsynaptic_model`` /
``create_sparse_connect_init_snippet`` take them. The same object runs on real PyGeNN (``--engine genn``)
and on the embedded numba engine (``--engine numba``), which compiles the same code strings.

Shorthand accepted everywhere (as in PyGeNN):

* params: ``["tau", ("n", "unsigned int")]``
* vars / pre_vars / post_vars: ``[("V", "scalar"), ("g", "scalar", "READ_ONLY")]``
* derived params: ``[("ExpTC", lambda pars, dt: np.exp(-dt / pars["tau"]))]`` (``pars``: dict of floats,
  ``dt`` in ms)
* neuron variable references: ``[("V", "scalar", "READ_ONLY")]``
* extra global params: ``[("spikeTimes", "scalar*")]``
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

VAR_ACCESS = ("READ_WRITE", "READ_ONLY", "READ_ONLY_DUPLICATE")
VAR_ACCESS_MODE = ("READ_WRITE", "READ_ONLY")
NUMERIC_TYPES = (
    "scalar", "float", "double", "bool", "int", "unsigned int", "int8_t", "uint8_t", "int16_t", "uint16_t",
    "int32_t", "uint32_t", "int64_t", "uint64_t",
)  # fmt: skip


class ModelDefinitionError(ValueError):
    """A model definition is malformed (bad name, unknown type or access, duplicate name)."""


def _check_name(name: str, what: str, model: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ModelDefinitionError(f"model {model!r}: {what} name {name!r} is not a valid identifier")
    return name


def _check_type(type_: str, what: str, model: str, pointer: bool = False) -> str:
    base = type_[:-1].strip() if pointer and type_.endswith("*") else type_
    if base not in NUMERIC_TYPES or (pointer and not type_.endswith("*")):
        allowed = ", ".join(t + ("*" if pointer else "") for t in NUMERIC_TYPES)
        raise ModelDefinitionError(
            f"model {model!r}: {what} type {type_!r} is not supported; allowed: {allowed}"
        )
    return type_


@dataclass(frozen=True)
class Param:
    """A model parameter: one value per population, baked into the code unless made dynamic."""

    name: str
    type: str = "scalar"


@dataclass(frozen=True)
class Var:
    """A state variable. ``access``: READ_WRITE (per batch copy), READ_ONLY (shared by all batch copies,
    cannot be written by the code) or READ_ONLY_DUPLICATE (per batch copy, read-only)."""

    name: str
    type: str = "scalar"
    access: str = "READ_WRITE"


@dataclass(frozen=True)
class VarRefDecl:
    """A reference to a variable of the neuron population that a postsynaptic or weight-update model
    attaches to (e.g. the membrane potential ``V`` read by ``ExpCond``)."""

    name: str
    type: str = "scalar"
    access: str = "READ_WRITE"


@dataclass(frozen=True)
class DerivedParam:
    """A parameter computed once at build time from the params (dict of floats) and dt (ms)."""

    name: str
    func: Callable[[Mapping[str, float], float], float]
    type: str = "scalar"


@dataclass(frozen=True)
class ExtraGlobalParam:
    """An array shared by the whole population (e.g. ``spikeTimes``), type like ``"scalar*"``."""

    name: str
    type: str


def _item(cls: type, item: Any) -> Any:
    """``item`` as a ``cls`` instance: kept if it is one, else built from a name or a tuple."""
    if isinstance(item, cls):
        return item
    return cls(item) if isinstance(item, str) else cls(*item)


def _params(items: Iterable[Any], model: str) -> tuple[Param, ...]:
    out = []
    for item in items:
        p = _item(Param, item)
        out.append(Param(_check_name(p.name, "param", model), _check_type(p.type, "param", model)))
    return tuple(out)


def _vars(items: Iterable[Any], model: str, what: str = "var") -> tuple[Var, ...]:
    out = []
    for item in items:
        v = _item(Var, item)
        if v.access not in VAR_ACCESS:
            raise ModelDefinitionError(
                f"model {model!r}: {what} {v.name!r} access {v.access!r} is not supported; "
                f"allowed: {', '.join(VAR_ACCESS)}"
            )
        out.append(Var(_check_name(v.name, what, model), _check_type(v.type, what, model), v.access))
    return tuple(out)


def _var_refs(items: Iterable[Any], model: str) -> tuple[VarRefDecl, ...]:
    out = []
    for item in items:
        r = _item(VarRefDecl, item)
        if r.access not in VAR_ACCESS_MODE:
            raise ModelDefinitionError(
                f"model {model!r}: variable reference {r.name!r} access {r.access!r} is not supported; "
                f"allowed: {', '.join(VAR_ACCESS_MODE)}"
            )
        what = "variable reference"
        out.append(VarRefDecl(_check_name(r.name, what, model), _check_type(r.type, what, model), r.access))
    return tuple(out)


def _derived(items: Iterable[Any], model: str) -> tuple[DerivedParam, ...]:
    out = []
    for item in items:
        d = _item(DerivedParam, item)
        what = "derived param"
        if not callable(d.func):
            raise ModelDefinitionError(f"model {model!r}: {what} {d.name!r} needs a callable (pars, dt)")
        out.append(DerivedParam(_check_name(d.name, what, model), d.func, _check_type(d.type, what, model)))
    return tuple(out)


def _egps(items: Iterable[Any], model: str) -> tuple[ExtraGlobalParam, ...]:
    out = []
    for item in items:
        e = _item(ExtraGlobalParam, item)
        out.append(
            ExtraGlobalParam(
                _check_name(e.name, "extra global param", model),
                _check_type(e.type, "extra global param", model, pointer=True),
            )
        )
    return tuple(out)


_NORMALISERS: dict[str, Callable[[Iterable[Any], str], tuple]] = {
    "params": _params,
    "vars": _vars,
    "pre_vars": lambda items, model: _vars(items, model, "pre var"),
    "post_vars": lambda items, model: _vars(items, model, "post var"),
    "derived_params": _derived,
    "extra_global_params": _egps,
    "neuron_var_refs": _var_refs,
    "pre_neuron_var_refs": _var_refs,
    "post_neuron_var_refs": _var_refs,
}


class _ModelBase:
    """Shared normalisation: shorthand tuples become Param/Var/... objects; names must be unique."""

    name: str
    code_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name, "model", self.name)
        seen: dict[str, str] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name in _NORMALISERS:
                value = _NORMALISERS[f.name](value or (), self.name)
                object.__setattr__(self, f.name, value)
                for item in value:
                    if item.name in seen:
                        raise ModelDefinitionError(
                            f"model {self.name!r}: name {item.name!r} is used twice "
                            f"({seen[item.name]} and {f.name})"
                        )
                    seen[item.name] = f.name
            elif f.name in self.code_fields:
                if value is None:
                    object.__setattr__(self, f.name, "")
                elif not isinstance(value, str):
                    raise ModelDefinitionError(f"model {self.name!r}: {f.name} must be a string of GeNN code")

    def code(self) -> dict[str, str]:
        """The non-empty code strings of this model, by field name."""
        return {name: getattr(self, name) for name in self.code_fields if getattr(self, name).strip()}

    def param_names(self) -> list[str]:
        """Names of params then derived params."""
        return [p.name for p in self.params] + [d.name for d in self.derived_params]  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class NeuronModel(_ModelBase):
    """A GeNN 5 neuron model: ``sim_code`` runs every step (``Isyn`` = summed synaptic input), then
    ``threshold_condition_code`` decides a spike, then ``reset_code`` runs for spiking neurons."""

    name: str
    params: tuple = ()
    vars: tuple = ()
    derived_params: tuple = ()
    sim_code: str = ""
    threshold_condition_code: str = ""
    reset_code: str = ""
    extra_global_params: tuple = ()
    auto_refractory_required: bool = False
    code_fields = ("sim_code", "threshold_condition_code", "reset_code")


@dataclass(frozen=True, eq=False)
class PostsynapticModel(_ModelBase):
    """A GeNN 5 postsynaptic model: ``sim_code`` reads the accumulated input ``inSyn``, calls
    ``injectCurrent(x)`` and may decay ``inSyn``; runs in the target neuron update before its sim code."""

    name: str
    params: tuple = ()
    vars: tuple = ()
    neuron_var_refs: tuple = ()
    derived_params: tuple = ()
    sim_code: str = ""
    extra_global_params: tuple = ()
    code_fields = ("sim_code",)


@dataclass(frozen=True, eq=False)
class WeightUpdateModel(_ModelBase):
    """A GeNN 5 weight-update model.

    Per synapse: ``pre_spike_syn_code`` (for each presynaptic spike of the previous step; ``addToPost(x)``),
    ``post_spike_syn_code`` (for each postsynaptic spike), ``synapse_dynamics_code`` (every step).
    Per neuron (in the neuron update): ``pre_dynamics_code`` / ``post_dynamics_code`` every step on
    ``pre_vars`` / ``post_vars``, ``pre_spike_code`` / ``post_spike_code`` when that neuron spikes.
    """

    name: str
    params: tuple = ()
    vars: tuple = ()
    pre_vars: tuple = ()
    post_vars: tuple = ()
    pre_neuron_var_refs: tuple = ()
    post_neuron_var_refs: tuple = ()
    derived_params: tuple = ()
    pre_spike_syn_code: str = ""
    post_spike_syn_code: str = ""
    synapse_dynamics_code: str = ""
    pre_spike_code: str = ""
    post_spike_code: str = ""
    pre_dynamics_code: str = ""
    post_dynamics_code: str = ""
    extra_global_params: tuple = ()
    code_fields = (
        "pre_spike_syn_code", "post_spike_syn_code", "synapse_dynamics_code",
        "pre_spike_code", "post_spike_code", "pre_dynamics_code", "post_dynamics_code",
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SparseConnectivity(_ModelBase):
    """A GeNN 5 sparse-connectivity snippet: ``row_build_code`` calls ``addSynapse(id_post)`` for each
    synapse of row ``id_pre``; the functions ``(num_pre, num_post, pars) -> int`` bound row/column lengths."""

    name: str
    params: tuple = ()
    derived_params: tuple = ()
    row_build_code: str = ""
    calc_max_row_len_func: Callable[[int, int, Mapping[str, float]], int] | None = None
    calc_max_col_len_func: Callable[[int, int, Mapping[str, float]], int] | None = None
    code_fields = ("row_build_code",)
