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
* Omniglot one-shot task: :mod:`~hybridsnn.hebbian.omniglot_data` (images, splits, episodes),
  :mod:`~hybridsnn.hebbian.protonet` (pre-trained ProtoNet encoder), :mod:`~hybridsnn.hebbian.omniglot`
  (memory SNN), :mod:`~hybridsnn.hebbian.omniglot_run` (train/test/plot).
* Concentration (memory card game, PPO): :mod:`~hybridsnn.hebbian.concentration` (the games),
  :mod:`~hybridsnn.hebbian.concentration_policy` (the SNN actor-critic), :mod:`~hybridsnn.hebbian.ppo`,
  :mod:`~hybridsnn.hebbian.concentration_agents` (reference players, evaluation),
  :mod:`~hybridsnn.hebbian.concentration_training` (rollouts and updates),
  :mod:`~hybridsnn.hebbian.concentration_run` (train/test/plot).
"""
