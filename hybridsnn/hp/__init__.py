"""Hybrid global-local plasticity (HP) spiking networks (Wu et al. 2022; spec hp_snn).

* :mod:`~hybridsnn.hp.layer`: the HP synapse (W + Hebbian trace), its variants and the parameter split;
* :mod:`~hybridsnn.hp.mlp`: the 784-512-10 network of the simple example / tolerance (HP, GP, LP);
* :mod:`~hybridsnn.hp.cnn`: the classification CNNs with early exit;
* :mod:`~hybridsnn.hp.multitask`: permuted-MNIST continual learning (masks, replay meta phase, EWC);
* :mod:`~hybridsnn.hp.fewshot`: Omniglot episodes and the bi-level meta step;
* :mod:`~hybridsnn.hp.reference`: the original per-sample (bmm) formulation, for tests and benchmarks.
"""
