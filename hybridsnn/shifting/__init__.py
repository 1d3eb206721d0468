"""Shifting Learning (issue #8): temporal-coding SNN trained by a three-factor local rule.

* :mod:`hybridsnn.shifting.reference` — the analytic torch reference (single-spike layer, multi-spike input
  layer, causal mask, feedback, three-factor gradients, Adam with β2 = 0.9);
* :mod:`hybridsnn.shifting.data` — XOR, Iris, MNIST/Fashion-MNIST encodings and the synthetic spike task;
* :mod:`hybridsnn.shifting.stepped` — the time-stepped version built from GeNN models (engines numba / genn).

Times are in the code frame of the original: a spike at time t is carried as z = exp(t) ("exponential time").
"""
