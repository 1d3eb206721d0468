"""numba CPU kernels of the reference's two hot loops (one pass each instead of a dozen tensor passes).

* :func:`first_spike` — the min over prefix candidates (docs/shifting.md, «Forward pass») for sorted
  inputs: the prefix sums are accumulated in float64 and rounded to the weights' dtype, as ``torch.cumsum``
  does on the CPU, then the candidate, validity test, sentinel and first-index argmin are evaluated in that
  dtype;
* :func:`accumulate_local` — Σ_b m_bij δ_bj (z_bi − ẑ_bj) scattered into rows ``rows[b, i]`` of g (one row per
  input for the single-spike layer, the afferent of every event for the multi-spike layer);
  :func:`accumulate_causal` — the same sum with m_bij = [rank_bi ≤ k*_bj], so the network never builds the
  (B, I, J) mask;
* :func:`causal_weight_sum` — Σ_C w of every neuron of the multi-spike layer (the spike task's normaliser).

They return the same numbers as the torch formulation in :mod:`hybridsnn.shifting.reference` (checked by
the tests) and are used for CPU tensors; the torch code serves GPUs.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from hybridsnn.shifting.reference import DENOMINATOR_CLAMP, SENTINEL, THETA


@njit(cache=True, nogil=True, error_model="numpy")
def _first_spike(z_sorted, order, w, consts, z_out, kstar):  # pragma: no cover - compiled
    theta, low, high, sentinel = consts[0], consts[1], consts[2], consts[3]
    batch, n_in = z_sorted.shape
    n_out = w.shape[1]
    for b in range(batch):
        total = np.zeros(n_out, np.float64)
        weighted = np.zeros(n_out, np.float64)
        best = np.full(n_out, np.inf, w.dtype)
        index = np.zeros(n_out, np.int32)
        for k in range(n_in):
            row = w[order[b, k]]
            zk = z_sorted[b, k]
            for j in range(n_out):
                s = total[j] + row[j]
                n = weighted[j] + row[j] * np.float64(zk)
                total[j] = s
                weighted[j] = n
                margin = w.dtype.type(s) - theta
                c = w.dtype.type(n) / min(max(margin, low), high)
                c = c if (margin >= 0) & (c >= zk) else sentinel
                better = c < best[j]
                best[j] = c if better else best[j]
                index[j] = k if better else index[j]
        z_out[b] = best
        kstar[b] = index


@njit(cache=True, nogil=True, error_model="numpy")
def _accumulate_local(delta, z_in, z_hat, mask, rows, g):  # pragma: no cover - compiled
    batch, n_in, n_out = mask.shape
    for b in range(batch):
        for i in range(n_in):
            zi = z_in[b, i]
            target = g[rows[b, i]]
            causal = mask[b, i]
            for j in range(n_out):
                if causal[j]:
                    target[j] += delta[b, j] * (zi - z_hat[b, j])


@njit(cache=True, nogil=True, error_model="numpy")
def _accumulate_causal(delta, z_in, z_hat, rank, kstar, g):  # pragma: no cover - compiled
    batch, n_in = z_in.shape
    n_out = g.shape[1]
    zero = g.dtype.type(0)
    for b in range(batch):
        for i in range(n_in):
            position = rank[b, i]
            zi = z_in[b, i]
            target = g[i]
            for j in range(n_out):
                term = delta[b, j] * (zi - z_hat[b, j])
                target[j] += term if position <= kstar[b, j] else zero


@njit(cache=True, nogil=True, error_model="numpy")
def _causal_weight_sum(mask, rows, w, out):  # pragma: no cover - compiled
    n_events, n_out = mask.shape
    zero = w.dtype.type(0)
    for e in range(n_events):
        row = w[rows[e]]
        causal = mask[e]
        for j in range(n_out):
            out[j] += row[j] if causal[j] else zero


def supported(*tensors: torch.Tensor) -> bool:
    """True if the kernels can take these tensors: on the CPU, float32/float64 (or integer indices)."""
    return all(t.device.type == "cpu" for t in tensors) and tensors[0].dtype in (torch.float32, torch.float64)


def first_spike(
    z_sorted: torch.Tensor, order: torch.Tensor, w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw z_out and k* (B, J) of inputs sorted ascending; ``order[b, k]`` = weight row of position k."""
    dtype = w.numpy().dtype
    consts = np.array([THETA, *DENOMINATOR_CLAMP, SENTINEL], dtype=dtype)
    z_out = np.empty((z_sorted.shape[0], w.shape[1]), dtype=dtype)
    kstar = np.empty((z_sorted.shape[0], w.shape[1]), dtype=np.int32)
    _first_spike(
        np.ascontiguousarray(z_sorted.numpy(), dtype=dtype), np.ascontiguousarray(order.numpy()),
        np.ascontiguousarray(w.numpy()), consts, z_out, kstar,
    )  # fmt: skip
    return torch.from_numpy(z_out), torch.from_numpy(kstar).long()


def accumulate_local(
    delta: torch.Tensor,
    z_in: torch.Tensor,
    z_hat: torch.Tensor,
    mask: torch.Tensor,
    rows: torch.Tensor,
    n_rows: int,
) -> torch.Tensor:
    """g (n_rows, J) with g[rows[b, i], j] += m_bij δ_bj (z_bi − ẑ_bj) over b and i."""
    dtype = delta.numpy().dtype
    g = np.zeros((n_rows, delta.shape[1]), dtype=dtype)
    _accumulate_local(
        np.ascontiguousarray(delta.numpy()), np.ascontiguousarray(z_in.numpy(), dtype=dtype),
        np.ascontiguousarray(z_hat.numpy(), dtype=dtype), np.ascontiguousarray(mask.numpy()),
        np.ascontiguousarray(rows.numpy()), g,
    )  # fmt: skip
    return torch.from_numpy(g)


def accumulate_causal(
    delta: torch.Tensor, z_in: torch.Tensor, z_hat: torch.Tensor, rank: torch.Tensor, kstar: torch.Tensor
) -> torch.Tensor:
    """g (I, J) = Σ_b [rank_bi ≤ k*_bj] δ_bj (z_bi − ẑ_bj): the same sum, without the (B, I, J) mask."""
    dtype = delta.numpy().dtype
    g = np.zeros((z_in.shape[1], delta.shape[1]), dtype=dtype)
    _accumulate_causal(
        np.ascontiguousarray(delta.numpy()), np.ascontiguousarray(z_in.numpy(), dtype=dtype),
        np.ascontiguousarray(z_hat.numpy(), dtype=dtype), np.ascontiguousarray(rank.numpy()),
        np.ascontiguousarray(kstar.numpy()), g,
    )  # fmt: skip
    return torch.from_numpy(g)


def causal_weight_sum(mask: torch.Tensor, rows: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Σ_e m_ej w[rows[e], j] (J,): the causal weight sum of every neuron of a multi-spike layer."""
    out = np.zeros(w.shape[1], dtype=w.numpy().dtype)
    _causal_weight_sum(np.ascontiguousarray(mask.numpy()), np.ascontiguousarray(rows.numpy()),
                       np.ascontiguousarray(w.numpy()), out)  # fmt: skip
    return torch.from_numpy(out)
