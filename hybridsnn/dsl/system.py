"""DSL's declaration for the registry (:mod:`hybridsnn.registry`): CLI name, tasks and datasets."""

from hybridsnn.system_info import ModelInfo

TASKS = ("classification",)
DATASETS = ("mnist", "fashion-mnist", "cifar10", "svhn")

SYSTEM = ModelInfo(
    name="dsl",
    module="hybridsnn.dsl.driver",
    summary="Deep Spike Learning with local classifiers (ELL/BELL/FELL; Ma et al. 2022)",
    tasks=TASKS,
    runs_on="torch",
    datasets=DATASETS,
)
