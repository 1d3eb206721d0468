"""Shifting Learning (issue #8): temporal-coding SNN trained by a three-factor local rule.

* :mod:`hybridsnn.shifting.reference` — the analytic torch reference (single-spike layer, multi-spike input
  layer, causal mask, feedback, three-factor gradients, Adam with β2 = 0.9);
* :mod:`hybridsnn.shifting.kernels` — numba CPU kernels of the reference's two hot loops;
* :mod:`hybridsnn.shifting.data` — XOR, Iris and MNIST / Fashion-MNIST as input times z0 = exp(1 − x);
* :mod:`hybridsnn.shifting.spike_task` — the synthetic aggregate-label spike trials (spike task);
* :mod:`hybridsnn.shifting.training` — task settings, learning-rate schedule, resumable training loops;
* :mod:`hybridsnn.shifting.figures` — output spike times per class;
* :mod:`hybridsnn.shifting.stepped` — the time-stepped version built from GeNN models (engines numba / genn).

Times are in the code frame of the original: a spike at time t is carried as z = exp(t) ("exponential time").
"""
