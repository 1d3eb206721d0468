"""The Hebbian-memory SNN's declaration for the registry (:mod:`hybridsnn.registry`): CLI name, tasks and
datasets."""

from hybridsnn.system_info import ModelInfo

TASKS = ("associations", "omniglot", "cross-modal", "babi", "concentration")
DATASETS = ("omniglot", "mnist", "fsdd", "babi")

SYSTEM = ModelInfo(
    name="hebbian",
    module="hybridsnn.hebbian.driver",
    summary="memory-enriched SNN with Hebbian plasticity (Limbacher et al. 2022)",
    tasks=TASKS,
    runs_on="torch",
    datasets=DATASETS,
)
