"""The Hebbian-memory SNN (Limbacher et al. 2022) in torch: plasticity, layers, association networks, data.

* :mod:`~hybridsnn.hebbian.plasticity`: the inverted-Oja rule with soft upper bound, plain and fused.
* :mod:`~hybridsnn.hebbian.layers`: encoding, writing (store loop) and reading layers; ReLU (H-Mem) versions.
* :mod:`~hybridsnn.hebbian.networks`: the memorizing-associations SNN, H-Mem and LSTM networks.
* :mod:`~hybridsnn.hebbian.data`: the synthetic association sequences (task generator ``associations``).
* :mod:`~hybridsnn.hebbian.training`: loss, regulariser and the train/eval steps (optionally distributed).
* Cross-modal task: :mod:`~hybridsnn.hebbian.audio` (MFCC images), :mod:`~hybridsnn.hebbian.encoders`
  (pre-trained digit encoders), :mod:`~hybridsnn.hebbian.crossmodal` (data, network, steps),
  :mod:`~hybridsnn.hebbian.crossmodal_run` (train/test/plot).
* bAbI task: :mod:`~hybridsnn.hebbian.babi_data` (download, parser, vocabulary),
  :mod:`~hybridsnn.hebbian.babi_network` (QA SNN), :mod:`~hybridsnn.hebbian.babi_run` (train/test).
"""
