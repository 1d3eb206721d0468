"""GeNN 5 model definitions as plain data (no PyGeNN needed to import them).

Write a new model by giving only its GeNN code strings and the names/types of its parameters and
variables; both engines of :mod:`hybridsnn.sim` run it. Built-ins can also be named by string
(``"LIF"``, ``"ExpCond"``, ``"StaticPulse"``, ``"OneToOne"``, ...).
"""

from __future__ import annotations

from genn_models.base import (
    DerivedParam,
    ExtraGlobalParam,
    ModelDefinitionError,
    NeuronModel,
    Param,
    PostsynapticModel,
    SparseConnectivity,
    Var,
    VarRefDecl,
    WeightUpdateModel,
)
from genn_models.connectivity import AllButSelf, OneToOne
from genn_models.neurons import LIF, PoissonRate, SpikeSourceArray
from genn_models.postsynaptic import DeltaCurr, ExpCond, ExpCurr
from genn_models.weight_update import StaticPulse, StaticPulseConstantWeight, TraceSTDP

BUILTINS = {
    m.name: m
    for m in (
        LIF, PoissonRate, SpikeSourceArray, ExpCurr, ExpCond, DeltaCurr,
        StaticPulse, StaticPulseConstantWeight, TraceSTDP, OneToOne, AllButSelf,
    )
}  # fmt: skip
"""Built-in models by name."""

__all__ = [
    "BUILTINS", "LIF", "AllButSelf", "DeltaCurr", "DerivedParam", "ExpCond", "ExpCurr", "ExtraGlobalParam",
    "ModelDefinitionError", "NeuronModel", "OneToOne", "Param", "PoissonRate", "PostsynapticModel",
    "SparseConnectivity", "SpikeSourceArray", "StaticPulse", "StaticPulseConstantWeight", "TraceSTDP", "Var",
    "VarRefDecl", "WeightUpdateModel",
]  # fmt: skip
