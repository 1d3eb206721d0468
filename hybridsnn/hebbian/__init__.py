"""The Hebbian-memory SNN (Limbacher et al. 2022) in torch: shared memory layers and one sub-package per task.

Shared machinery (imports no task sub-package):

* :mod:`~hybridsnn.hebbian.plasticity`: the inverted-Oja rule with soft upper bound, plain and fused.
* :mod:`~hybridsnn.hebbian.layers`: encoding, writing (store loop) and reading layers; ReLU (H-Mem) versions.
* :mod:`~hybridsnn.hebbian.config`, :mod:`~hybridsnn.hebbian.networks`: the memory network's settings; the
  memorizing-associations SNN, H-Mem and LSTM networks.
* :mod:`~hybridsnn.hebbian.batch`: the association batch; :mod:`~hybridsnn.hebbian.training`: loss,
  regulariser and the train/eval steps (optionally distributed).
* :mod:`~hybridsnn.hebbian.encoders`: pre-trained digit encoders, calibration (cross-modal, omniglot).
* :mod:`~hybridsnn.hebbian.settings`: settings from flags, ``--quick`` and defaults; task checkpoints.

Tasks (each with a ``run`` module: check, train, test, plot): :mod:`~hybridsnn.hebbian.associations`,
:mod:`~hybridsnn.hebbian.omniglot`, :mod:`~hybridsnn.hebbian.cross_modal`, :mod:`~hybridsnn.hebbian.babi`,
:mod:`~hybridsnn.hebbian.concentration`. The CLI surface is :mod:`~hybridsnn.hebbian.driver` (flags in
:mod:`~hybridsnn.hebbian.flags`). The model and its decisions are described in docs/hebbian.md.
"""
