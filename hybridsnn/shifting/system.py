"""Shifting Learning's declaration for the registry (:mod:`hybridsnn.registry`): CLI name, tasks and
datasets (the spike task's trials are generated, not catalogued)."""

from hybridsnn.system_info import ModelInfo

TASKS = ("xor", "iris", "mnist", "fashion-mnist", "spikes")
DATASETS = ("xor", "iris", "mnist", "fashion-mnist")

SYSTEM = ModelInfo(
    name="shifting",
    module="hybridsnn.shifting.driver",
    summary="Shifting Learning: temporal-coding SNN with a three-factor local rule (SZU-ADDG)",
    tasks=TASKS,
    runs_on="torch reference + GeNN models",
    datasets=DATASETS,
)
