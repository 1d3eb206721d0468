"""Hybrid global-local plasticity (HP) spiking networks (Wu et al. 2022; docs/hp.md).

Model:

* :mod:`~hybridsnn.hp.layer`: the HP synapse (W + Hebbian trace), its variants and the parameter split;
* :mod:`~hybridsnn.hp.methods`: the methods HP, GP, LP, EWC (what learns how, which tasks offer them);
* :mod:`~hybridsnn.hp.mlp`: the 784-512-10 network of the simple example / tolerance (HP, GP, LP);
* :mod:`~hybridsnn.hp.cnn`: the classification CNNs with early exit;
* :mod:`~hybridsnn.hp.multitask`: permuted-MNIST continual learning (masks, EWC);
* :mod:`~hybridsnn.hp.fewshot`: Omniglot episodes and the bi-level meta step;
* :mod:`~hybridsnn.hp.training`, :mod:`~hybridsnn.hp.data`, :mod:`~hybridsnn.hp.corruption`: the
  supervised step, image tensors and batches, test-time noise and occlusion;
* :mod:`~hybridsnn.hp.seed_oracle`: the original per-sample (bmm) formulation, for tests and benchmarks.

Runs (``hybridsnn <command> hp``, entry points in :mod:`~hybridsnn.hp.driver`):

* :mod:`~hybridsnn.hp.flags`, :mod:`~hybridsnn.hp.settings`, :mod:`~hybridsnn.hp.validation`: the flags,
  the typed settings they resolve to, and the checks before a run folder exists;
* :mod:`~hybridsnn.hp.networks`, :mod:`~hybridsnn.hp.checkpoints`: the network of some settings, and
  checkpoints read back;
* :mod:`~hybridsnn.hp.image_run`, :mod:`~hybridsnn.hp.sweeps`, :mod:`~hybridsnn.hp.multitask_run`,
  :mod:`~hybridsnn.hp.fewshot_run`: the per-task training and test loops;
* :mod:`~hybridsnn.hp.figures`: ``plot hp``.
"""
