"""The Hebbian-memory SNN (Limbacher et al. 2022) in torch: plasticity, layers, association networks, data.

* :mod:`~hybridsnn.hebbian.plasticity`: the inverted-Oja rule with soft upper bound, plain and fused.
* :mod:`~hybridsnn.hebbian.layers`: encoding, writing (store loop) and reading layers; ReLU (H-Mem) versions.
* :mod:`~hybridsnn.hebbian.networks`: the memorizing-associations SNN, H-Mem and LSTM networks.
* :mod:`~hybridsnn.hebbian.data`: the synthetic association sequences (task generator ``associations``).
* :mod:`~hybridsnn.hebbian.training`: loss, regulariser and the train/eval steps (optionally distributed).
"""
