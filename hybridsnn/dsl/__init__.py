"""Deep Spike Learning with local classifiers (Ma, Yan, Yu, Yu, IEEE T-Cyb 2022) on the shared spiking core.

The system is described in docs/dsl.md.

* :mod:`~hybridsnn.dsl.block`: one layer — encoder + LIF neurons + local classifier (LIF read-out).
* :mod:`~hybridsnn.dsl.rules`: the learning rules ELL, BELL and FELL for one block over one time window.
* :mod:`~hybridsnn.dsl.network`: chains of blocks and the seed's six architectures.
* :mod:`~hybridsnn.dsl.decoder`: the classifiers' spike pooling (``--dim-in-decoder``) and ``--fa`` layer.
* :mod:`~hybridsnn.dsl.adam101`: Adam with torch 1.0.1's update formula (the seed's optimiser).
* :mod:`~hybridsnn.dsl.data`: datasets, transforms and loaders.
* :mod:`~hybridsnn.dsl.training`: batch steps for :func:`hybridsnn.spiking.fit`, optimisers, lr schedule.
* :mod:`~hybridsnn.dsl.seed_oracle`: the seed's per-step formulation, the yardstick for tests and bench.
* :mod:`~hybridsnn.dsl.settings`: the run's settings as frozen dataclasses (the learning rule resolved once).
* :mod:`~hybridsnn.dsl.flags`, :mod:`~hybridsnn.dsl.checkpoints`, :mod:`~hybridsnn.dsl.confusion`,
  :mod:`~hybridsnn.dsl.figures`: the command line's flags, checkpoints, ``confusion.json`` and figures.

The command-line driver is :mod:`hybridsnn.dsl.driver` (``hybridsnn train dsl ...``); the registry entry is
:mod:`hybridsnn.dsl.system`.
"""
