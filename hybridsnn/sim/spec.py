"""Engine-neutral initialisers, shaped like PyGeNN's: ``init_weight_update``, ``init_postsynaptic``,
``init_sparse_connectivity``, ``init_var`` and ``create_var_ref``. Both engines consume these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import genn_models
from genn_models.base import NeuronModel, PostsynapticModel, SparseConnectivity, WeightUpdateModel
from hybridsnn.errors import UserError, unknown_choice

VAR_INIT_SNIPPETS = {
    "Constant": ("constant",),
    "Uniform": ("min", "max"),
    "Normal": ("mean", "sd"),
    "Exponential": ("lambda",),
}
"""Variable initialisation snippets both engines support, with their parameter names."""

MATRIX_TYPES = ("DENSE", "SPARSE")


@dataclass(frozen=True)
class VarInit:
    """Random or constant initial values drawn at load time.

    Example: ``init_var("Uniform", {"min": 0.0, "max": 1.0})``.
    """

    snippet: str
    params: Mapping[str, float]

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Draw values of ``shape`` (float64) from this initialiser."""
        p = self.params
        if self.snippet == "Constant":
            return np.full(shape, float(p["constant"]))
        if self.snippet == "Uniform":
            return rng.uniform(float(p["min"]), float(p["max"]), shape)
        if self.snippet == "Normal":
            return rng.normal(float(p["mean"]), float(p["sd"]), shape)
        return rng.exponential(1.0 / float(p["lambda"]), shape)


def init_var(snippet: str, params: Mapping[str, float] | None = None) -> VarInit:
    """A variable initialiser: ``"Constant"``, ``"Uniform"`` (min, max), ``"Normal"`` (mean, sd) or
    ``"Exponential"`` (lambda)."""
    if snippet not in VAR_INIT_SNIPPETS:
        raise unknown_choice("variable initialiser", snippet, VAR_INIT_SNIPPETS)
    params = dict(params or {})
    expected = set(VAR_INIT_SNIPPETS[snippet])
    if set(params) != expected:
        raise UserError(f"init_var({snippet!r}) needs params {sorted(expected)}, got {sorted(params)}")
    return VarInit(snippet, params)


@dataclass(frozen=True)
class VarRef:
    """A reference to variable ``var`` of a neuron population, e.g. ``create_var_ref(exc, "V")``."""

    population: Any
    var: str


def create_var_ref(population: Any, var: str) -> VarRef:
    """Reference variable ``var`` of ``population`` (for ``ExpCond``'s ``V`` or WU neuron var refs)."""
    names = [v.name for v in population.model.vars]
    if var not in names:
        raise unknown_choice(f"variable of population {population.name!r}", var, names)
    return VarRef(population, var)


def _resolve(model: Any, kind: type, what: str) -> Any:
    if isinstance(model, str):
        found = genn_models.BUILTINS.get(model)
        if not isinstance(found, kind):
            allowed = [n for n, m in genn_models.BUILTINS.items() if isinstance(m, kind)]
            raise unknown_choice(what, model, allowed)
        return found
    if not isinstance(model, kind):
        raise UserError(f"expected a {kind.__name__} (from genn_models) or a built-in name, got {model!r}")
    return model


def resolve_neuron_model(model: NeuronModel | str) -> NeuronModel:
    """A neuron model object, looking built-in names up in :data:`genn_models.BUILTINS`."""
    return _resolve(model, NeuronModel, "neuron model")


@dataclass(frozen=True)
class WeightUpdateInit:
    """A weight-update model with its parameter values and initial values."""

    model: WeightUpdateModel
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    pre_vars: dict[str, Any] = field(default_factory=dict)
    post_vars: dict[str, Any] = field(default_factory=dict)
    pre_var_refs: dict[str, Any] = field(default_factory=dict)
    post_var_refs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostsynapticInit:
    """A postsynaptic model with its parameter values, initial values and neuron variable references."""

    model: PostsynapticModel
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    var_refs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectivityInit:
    """A sparse connectivity snippet with its parameter values."""

    snippet: SparseConnectivity
    params: dict[str, float] = field(default_factory=dict)


def init_weight_update(
    model: WeightUpdateModel | str,
    params: Mapping[str, float] | None = None,
    vars: Mapping[str, Any] | None = None,
    pre_vars: Mapping[str, Any] | None = None,
    post_vars: Mapping[str, Any] | None = None,
    pre_var_refs: Mapping[str, Any] | None = None,
    post_var_refs: Mapping[str, Any] | None = None,
) -> WeightUpdateInit:
    """Like ``pygenn.init_weight_update``: model, params, initial synapse/pre/post values, neuron var refs."""
    model = _resolve(model, WeightUpdateModel, "weight update model")
    return WeightUpdateInit(
        model,
        dict(params or {}),
        dict(vars or {}),
        dict(pre_vars or {}),
        dict(post_vars or {}),
        dict(pre_var_refs or {}),
        dict(post_var_refs or {}),
    )


def init_postsynaptic(
    model: PostsynapticModel | str,
    params: Mapping[str, float] | None = None,
    vars: Mapping[str, Any] | None = None,
    var_refs: Mapping[str, Any] | None = None,
) -> PostsynapticInit:
    """Like ``pygenn.init_postsynaptic``: model, params, initial values, neuron variable references."""
    model = _resolve(model, PostsynapticModel, "postsynaptic model")
    return PostsynapticInit(model, dict(params or {}), dict(vars or {}), dict(var_refs or {}))


def init_sparse_connectivity(
    snippet: SparseConnectivity | str, params: Mapping[str, float] | None = None
) -> ConnectivityInit:
    """Like ``pygenn.init_sparse_connectivity``: e.g. ``init_sparse_connectivity("OneToOne")``."""
    return ConnectivityInit(_resolve(snippet, SparseConnectivity, "sparse connectivity"), dict(params or {}))


# ---------------------------------------------------------------------------------------------------------
# Validation shared by both engines
def check_params(model: Any, params: Mapping[str, Any], where: str) -> dict[str, float]:
    """The params of ``model`` from ``params``; every param given, nothing unknown."""
    names = [p.name for p in model.params]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise UserError(
            f"{where}: unknown param {unknown[0]!r}; model {model.name!r} has: {', '.join(names) or '-'}"
        )
    missing = [n for n in names if n not in params]
    if missing:
        raise UserError(f"{where}: missing value for param {missing[0]!r} of model {model.name!r}")
    return {n: params[n] for n in names}


def check_values(decls: Any, values: Mapping[str, Any], where: str, what: str = "variable") -> dict[str, Any]:
    """Initial values for every declared variable (no unknown names, none missing)."""
    names = [d.name for d in decls]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(f"{where}: unknown {what} {unknown[0]!r}; allowed: {', '.join(names) or '-'}")
    missing = [n for n in names if n not in values]
    if missing:
        raise UserError(f"{where}: missing initial value for {what} {missing[0]!r}")
    return {n: values[n] for n in names}


def check_var_refs(decls: Any, refs: Mapping[str, Any], target: Any, where: str) -> dict[str, VarRef]:
    """Variable references for every declared reference, each a variable of ``target`` (given by name or
    :func:`create_var_ref`)."""
    refs = check_values(decls, refs, where, "variable reference")
    out = {}
    for name, ref in refs.items():
        ref = create_var_ref(target, ref) if isinstance(ref, str) else ref
        if not isinstance(ref, VarRef):
            raise UserError(
                f"{where}: variable reference {name!r} must be create_var_ref(pop, var) or a name"
            )
        if ref.population is not target:
            raise UserError(
                f"{where}: variable reference {name!r} must point at population {target.name!r}, "
                f"not {ref.population.name!r}"
            )
        out[name] = ref
    return out


def derived_values(model: Any, params: Mapping[str, float], dt: float) -> dict[str, float]:
    """The model's derived params computed (in float64) from its params and dt (ms)."""
    plain = {k: float(v) for k, v in params.items()}
    return {d.name: float(d.func(plain, dt)) for d in model.derived_params}
