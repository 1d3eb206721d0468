"""sym-STDP's declaration for the registry (:mod:`hybridsnn.registry`): CLI name, tasks and datasets."""

from hybridsnn.system_info import ModelInfo

TASKS = ("classification",)
DATASETS = ("mnist", "fashion-mnist")

SYSTEM = ModelInfo(
    name="sym-stdp",
    module="hybridsnn.sym_stdp.driver",
    summary="symmetric STDP + teacher layer (Hao et al. 2020), MNIST / Fashion-MNIST",
    tasks=TASKS,
    runs_on="GeNN models",
    datasets=DATASETS,
)
