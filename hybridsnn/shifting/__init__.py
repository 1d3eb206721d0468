"""Shifting Learning (issue #8): temporal-coding SNN trained by a three-factor local rule (docs/shifting.md).

The engines (``--engine``), each a full implementation of the model that trains and evaluates networks:

* :mod:`hybridsnn.shifting.reference` — the analytic model, the engine of ``--engine reference`` (the
  default; not a test oracle): single-spike layer, multi-spike input layer, causal mask, feedback,
  three-factor gradients, Adam with β2 = 0.9;
* :mod:`hybridsnn.shifting.kernels` — numba CPU kernels of the analytic model's two hot loops;
* :mod:`hybridsnn.shifting.stepped` — the time-stepped version built from the GeNN models of
  ``genn_models/shifting.py`` (``--engine numba|genn``).

Data and training: :mod:`~hybridsnn.shifting.data` (XOR, Iris and MNIST / Fashion-MNIST as input times
z0 = exp(1 − x)), :mod:`~hybridsnn.shifting.spike_task` (the synthetic aggregate-label spike trials),
:mod:`~hybridsnn.shifting.training` (resumable loops, evaluation, layer tensors),
:mod:`~hybridsnn.shifting.settings` (``TaskSettings``, the original scripts' values, ``--quick``).

The command line: :mod:`~hybridsnn.shifting.system` (declaration), :mod:`~hybridsnn.shifting.driver`
(entry points), :mod:`~hybridsnn.shifting.flags`, the experiments :mod:`~hybridsnn.shifting.xor_run`,
:mod:`~hybridsnn.shifting.iris_run`, :mod:`~hybridsnn.shifting.image_run` and
:mod:`~hybridsnn.shifting.spike_run`, :mod:`~hybridsnn.shifting.networks` (the network of ``--engine``),
:mod:`~hybridsnn.shifting.checkpoints`, :mod:`~hybridsnn.shifting.checkpoint_data` (what ``test``
evaluates), :mod:`~hybridsnn.shifting.inputs` (``predict`` files), :mod:`~hybridsnn.shifting.reporting`
(progress bar, ``outputs.npz``) and :mod:`~hybridsnn.shifting.figures`.

Times are in the code frame of the original: a spike at time t is carried as z = exp(t) ("exponential time").
"""
