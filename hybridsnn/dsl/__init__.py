"""Deep Spike Learning with local classifiers (Ma, Yan, Yu, Yu, IEEE T-Cyb 2022) on the shared spiking core.

* :mod:`~hybridsnn.dsl.block`: one layer — encoder + LIF neurons + local classifier (LIF read-out).
* :mod:`~hybridsnn.dsl.rules`: the learning rules ELL, BELL and FELL for one block over one time window.
* :mod:`~hybridsnn.dsl.network`: chains of blocks and the seed's six architectures.
* :mod:`~hybridsnn.dsl.decoder`: the classifiers' spike pooling (``--dim-in-decoder``) and ``--fa`` layer.
* :mod:`~hybridsnn.dsl.adam101`: Adam with torch 1.0.1's update formula (the seed's optimiser).
* :mod:`~hybridsnn.dsl.data`: datasets, transforms and image files to classify.
* :mod:`~hybridsnn.dsl.training`: batch steps for :func:`hybridsnn.spiking.fit`, optimisers, lr schedule.
* :mod:`~hybridsnn.dsl.reference`: the seed's per-step formulation, the yardstick for tests and bench.

The command-line driver is :mod:`hybridsnn.models.dsl` (``hybridsnn train dsl ...``).
"""

from hybridsnn.dsl.adam101 import Adam101
from hybridsnn.dsl.block import LocalBlock, dsl_lif_config
from hybridsnn.dsl.network import ARCHITECTURES, DSLNetwork, build_network
from hybridsnn.dsl.rules import RULES, train_bell, train_ell, train_fell

__all__ = [
    "ARCHITECTURES",
    "RULES",
    "Adam101",
    "DSLNetwork",
    "LocalBlock",
    "build_network",
    "dsl_lif_config",
    "train_bell",
    "train_ell",
    "train_fell",
]
