"""HP-SNN's declaration for the registry (:mod:`hybridsnn.registry`): CLI name, tasks and datasets."""

from hybridsnn.system_info import ModelInfo

TASKS = ("simple", "classification", "tolerance", "fewshot", "multitask")
DATASETS = ("mnist", "fashion-mnist", "cifar10", "omniglot")

SYSTEM = ModelInfo(
    name="hp",
    module="hybridsnn.hp.driver",
    summary="hybrid global-local plasticity SNN (HP/GP/LP; Wu et al. 2022)",
    tasks=TASKS,
    runs_on="torch",
    datasets=DATASETS,
)
