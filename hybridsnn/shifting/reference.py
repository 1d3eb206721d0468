"""The analytic model of Shifting Learning, the engine of ``--engine reference`` (docs/shifting.md,
«Forward pass» and «Learning rule»). It is what trains and evaluates networks by default, not a test
oracle; the time-stepped GeNN-model version (:mod:`hybridsnn.shifting.stepped`) is checked against it.

Neurons are non-leaky integrate-and-fire with an exponentially decaying synaptic current (time constant 1 time
unit, threshold ``THETA``, no reset); each hidden/output neuron fires at most once. Times are carried as
z = exp(t). With the causal set C the output spike is z_out = Σ_C w z / (Σ_C w − θ). The forward pass is the
"relaxed" one of the original code: the minimum over every prefix candidate of the (stably) sorted inputs,
candidates formed per input even inside groups of equal times, ``SENTINEL`` for a neuron without a valid
candidate (its causal mask is then the first sorted input only), denominators clamped to [1e-10, 1e10].
A layer outputs ẑ = z_out · e_tp (a learned propagation delay ln e_tp) and every later use sees ẑ.

The learning rule (per layer, batch b, input i, output j, mask m):
    δ_out = softmax(ẑ_out) − q,  q = softmax(exp(τ)), τ = 0.01 for the true class and 0.99 otherwise
    δ_hid_bi = Σ_j δ_bj m_bij w_ij                          (feedback, before any update)
    g_w_ij = Σ_b δ_bj exp(e_tp_j) (z_bi − ẑ_bj) m_bij,   g_p_j = Σ_b δ_bj ẑ_bj
    Adam with β1 = 0.9, β2 = 0.9, ε = 1e-8 and one step counter per layer.

The spike task uses the multi-spike input layer (many spikes per input synapse, one event list per trial,
spike times in seconds, z = exp(t)) and the normalised errors of its original script (``MultiSpikeNetwork``).

All functions are batched and follow the device and dtype of their inputs (float32 for the single-spike tasks,
float64 for the spike task). Work on (batch, inputs, outputs) tensors is chunked so that no more than
``chunk_elements`` elements are materialised per temporary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

import torch
from torch import Tensor

from hybridsnn.errors import UserError, unknown_choice

THETA = 1.0  # firing threshold
SENTINEL = 1e5  # z of a neuron that does not fire
DENOMINATOR_CLAMP = (1e-10, 1e10)
BETA1, BETA2, EPS = 0.9, 0.9, 1e-8  # Adam constants of the original (note β2 = 0.9)
TARGET_TIME_CORRECT, TARGET_TIME_OTHER = 0.01, 0.99
KERNELS = ("auto", "torch", "numba")  # auto: the numba kernels for CPU tensors, torch otherwise
CHUNK_ELEMENTS = 1 << 20  # largest (chunk, I, J) temporary, in elements (cache-sized on CPU; raise on GPU)


@dataclass
class LayerParams:
    """Learned state of one layer: shifting timings ``w`` (I, J), propagation factors ``etp`` (J,), Adam."""

    w: Tensor
    etp: Tensor
    m_w: Tensor
    v_w: Tensor
    m_p: Tensor
    v_p: Tensor
    step: int = 0

    @classmethod
    def init(
        cls, n_in: int, n_out: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
    ) -> LayerParams:
        """Fresh layer: w ~ U[0, 8/n_in) drawn from ``generator`` (on its device), e_tp = 1, Adam state 0."""
        device = generator.device
        w = torch.rand((n_in, n_out), generator=generator, device=device, dtype=dtype) * (8.0 / n_in)
        etp = torch.ones(n_out, device=device, dtype=dtype)
        return cls(
            w, etp, torch.zeros_like(w), torch.zeros_like(w), torch.zeros_like(etp), torch.zeros_like(etp)
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> LayerParams:
        """A copy on ``device`` with floating tensors cast to ``dtype`` (the step counter is kept)."""
        names = ("w", "etp", "m_w", "v_w", "m_p", "v_p")
        moved = {n: getattr(self, n).to(device=device, dtype=dtype).clone() for n in names}
        return LayerParams(**moved, step=self.step)

    def tensors(self) -> dict[str, Tensor]:
        """The six tensors by name (``w``, ``etp``, ``m_w``, ``v_w``, ``m_p``, ``v_p``)."""
        return {n: getattr(self, n) for n in ("w", "etp", "m_w", "v_w", "m_p", "v_p")}

    def adam_step(self, g_w: Tensor, g_p: Tensor, lr_w: float, lr_p: float) -> None:
        """One Adam update of w and e_tp in place; both share this layer's step counter."""
        self.step += 1
        bias1 = 1.0 - BETA1**self.step
        bias2 = 1.0 - BETA2**self.step
        for param, m, v, g, lr in (
            (self.w, self.m_w, self.v_w, g_w, lr_w),
            (self.etp, self.m_p, self.v_p, g_p, lr_p),
        ):
            m.mul_(BETA1).add_(g, alpha=1.0 - BETA1)
            v.mul_(BETA2).addcmul_(g, g, value=1.0 - BETA2)
            # param −= lr · (m / bias1) / (√(v / bias2) + ε)
            param.addcdiv_(m, v.div(bias2).sqrt_().add_(EPS), value=-lr / bias1)


def _chunks(total: int, per_item: int, chunk_elements: int) -> Iterator[slice]:
    """Slices over ``total`` items so that a chunk holds at most ``chunk_elements`` (at least one item)."""
    step = max(1, chunk_elements // max(1, per_item))
    for start in range(0, total, step):
        yield slice(start, min(total, start + step))


def _first_spike(z_sorted: Tensor, w_sorted: Tensor) -> tuple[Tensor, Tensor]:
    """Min over prefix candidates: (c, I) sorted z and (c, I, J) weights in that order -> z_out, k* (c, J).

    ``w_sorted`` is consumed (overwritten). k* is the first index of the minimum, 0 when nothing fires.
    """
    total = w_sorted.cumsum(1)
    weighted = w_sorted.mul_(z_sorted.unsqueeze(2)).cumsum(1)
    del w_sorted
    total.sub_(THETA)
    candidates = weighted.div_(total.clamp(*DENOMINATOR_CLAMP))
    # valid iff Σw ≥ θ and the candidate does not precede its own input: min(Σw − θ, z* − z_k) ≥ 0
    margin = torch.minimum(total, candidates - z_sorted.unsqueeze(2), out=total)
    candidates = torch.where(margin >= 0, candidates, SENTINEL)
    return candidates.min(dim=1)


def _use_numba(kernel: str, *tensors: Tensor) -> bool:
    """Whether to run the numba CPU kernels (``kernel`` auto/numba) rather than the torch formulation."""
    if kernel not in KERNELS:
        raise unknown_choice("kernel", kernel, KERNELS)
    if kernel == "torch":
        return False
    from hybridsnn.shifting import kernels

    usable = kernels.supported(*tensors)
    if kernel == "numba" and not usable:
        raise UserError(
            "kernel 'numba' needs float32/float64 tensors on the CPU; use kernel 'torch' or 'auto'"
        )
    return usable


def _inverse_permutation(order: Tensor) -> Tensor:
    """rank[b, order[b, k]] = k: the sorted position of every input."""
    positions = torch.arange(order.shape[1], device=order.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions)


def spike_times(
    z_in: Tensor, w: Tensor, *, chunk_elements: int = CHUNK_ELEMENTS, kernel: str = "auto"
) -> tuple[Tensor, Tensor, Tensor]:
    """Raw output z (B, J) (without e_tp), the causal index k* (B, J) and the input ranks (B, I)."""
    batch, n_in = z_in.shape
    z_sorted, order = torch.sort(z_in, dim=1, stable=True)
    if _use_numba(kernel, w, z_in):
        from hybridsnn.shifting import kernels

        z_out, kstar = kernels.first_spike(z_sorted, order, w)
        return z_out, kstar, _inverse_permutation(order)
    z_out = torch.empty((batch, w.shape[1]), dtype=z_in.dtype, device=z_in.device)
    kstar = torch.empty((batch, w.shape[1]), dtype=torch.long, device=z_in.device)
    for part in _chunks(batch, n_in * w.shape[1], chunk_elements):
        rows = w.index_select(0, order[part].reshape(-1)).view(-1, n_in, w.shape[1])
        z_out[part], kstar[part] = _first_spike(z_sorted[part], rows)
    return z_out, kstar, _inverse_permutation(order)


def causal_mask(rank: Tensor, kstar: Tensor) -> Tensor:
    """m[b, i, j] = input i is at sorted position ≤ k*[b, j] (bool, (B, I, J))."""
    return rank.unsqueeze(2) <= kstar.unsqueeze(1)


def layer_forward(
    z_in: Tensor, w: Tensor, etp: Tensor, *, chunk_elements: int = CHUNK_ELEMENTS, kernel: str = "auto"
) -> tuple[Tensor, Tensor]:
    """(B, I) input z -> (ẑ = z_out · e_tp (B, J), causal mask (B, I, J) bool).

    docs/shifting.md, «Forward pass»."""
    z_out, kstar, rank = spike_times(z_in, w, chunk_elements=chunk_elements, kernel=kernel)
    return z_out * etp, causal_mask(rank, kstar)


def target_distribution(labels: Tensor, n_classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """q = softmax(exp(τ)) with τ = 0.01 for the true class and 0.99 for the others, (B, n_classes)."""
    tau = torch.full((labels.shape[0], n_classes), TARGET_TIME_OTHER, dtype=dtype, device=labels.device)
    tau.scatter_(1, labels.long().unsqueeze(1), TARGET_TIME_CORRECT)
    return torch.softmax(torch.exp(tau), dim=1)


def output_error(z_hat: Tensor, q: Tensor) -> Tensor:
    """Global reward/punishment δ = softmax(ẑ) − q (softmax with max subtraction; logits are z, not −t)."""
    return torch.softmax(z_hat, dim=1) - q


def feedback(delta: Tensor, mask: Tensor, w: Tensor, *, chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
    """Hidden error (B, I) = Σ_j δ_bj m_bij w_ij through causally gated symmetric feedback connections."""
    out = torch.empty(mask.shape[:2], dtype=delta.dtype, device=delta.device)
    for part in _chunks(mask.shape[0], mask.shape[1] * mask.shape[2], chunk_elements):
        gated = mask[part].to(w.dtype).mul_(w)
        out[part] = torch.bmm(gated, delta[part].unsqueeze(2)).squeeze(2)
    return out


def local_gradients(
    delta: Tensor,
    z_in: Tensor,
    z_hat: Tensor,
    mask: Tensor,
    etp: Tensor,
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
    kernel: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Three-factor gradients: g_w (I, J) = Σ_b δ_bj exp(e_tp_j)(z_bi − ẑ_bj) m_bij, g_p (J,) = Σ_b δ_bj ẑ_bj.

    torch: the sum over the batch is taken chunk by chunk as one masked product per chunk; numba: one pass.
    """
    batch, n_in, n_out = mask.shape
    delta_z = delta * z_hat
    if _use_numba(kernel, delta, z_in, z_hat):
        from hybridsnn.shifting import kernels

        rows = torch.arange(n_in).expand(batch, n_in)
        g_w = kernels.accumulate_local(delta, z_in, z_hat, mask, rows, n_in)
        return g_w.mul_(torch.exp(etp)), delta_z.sum(0)
    g_w = torch.zeros((n_in, n_out), dtype=delta.dtype, device=delta.device)
    for part in _chunks(batch, n_in * n_out, chunk_elements):
        local = (z_in[part].unsqueeze(2) * delta[part].unsqueeze(1)).sub_(delta_z[part].unsqueeze(1))
        g_w += local.mul_(mask[part]).sum(0)  # Σ_b m_bij δ_bj (z_bi − ẑ_bj)
    return g_w.mul_(torch.exp(etp)), delta_z.sum(0)


def loss_monitor(z_hat: Tensor, q: Tensor) -> float:
    """The printed "loss" of the original: Σ (softmax(ẑ) − q)² / B (a monitor only; nothing minimises it)."""
    return float(((torch.softmax(z_hat, dim=1) - q) ** 2).sum() / z_hat.shape[0])


_Net = TypeVar("_Net", bound="_Network")


class _Network:
    """Layers plus the execution options shared by both networks.

    ``kernel``: ``auto`` (numba kernels for CPU tensors, torch on GPUs), ``torch`` or ``numba``;
    ``chunk_elements``: the largest (chunk, I, J) temporary of the torch formulation.
    """

    default_dtype = torch.float32

    def __init__(
        self, layers: list[LayerParams], *, chunk_elements: int = CHUNK_ELEMENTS, kernel: str = "auto"
    ) -> None:
        if kernel not in KERNELS:
            raise unknown_choice("kernel", kernel, KERNELS)
        self.layers = layers
        self.chunk_elements = chunk_elements
        self.kernel = kernel

    @classmethod
    def create(
        cls: type[_Net],
        sizes: Sequence[int],
        generator: torch.Generator,
        *,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> _Net:
        """Network with layer sizes e.g. (784, 800, 10), initialised from ``generator`` (on its device)."""
        dtype = dtype or cls.default_dtype
        return cls([LayerParams.init(a, b, generator, dtype) for a, b in pairwise(sizes)], **options)

    @property
    def n_classes(self) -> int:
        return self.layers[-1].w.shape[1]

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments of the layer functions."""
        return {"chunk_elements": self.chunk_elements, "kernel": self.kernel}


class ReferenceNetwork(_Network):
    """Fully connected single-spike layers trained with Shifting Learning (XOR, Iris, MNIST)."""

    def forward(self, z0: Tensor) -> list[Tensor]:
        """ẑ of every layer, (B, J_l), for input z0 = exp(t0) of shape (B, I)."""
        outputs = []
        z = z0
        for layer in self.layers:
            z_out, _, _ = spike_times(z, layer.w, **self.options)
            z = z_out * layer.etp
            outputs.append(z)
        return outputs

    def predict(self, z0: Tensor) -> Tensor:
        """Class = the earliest output spike, argmin of the output ẑ (B,)."""
        return self.forward(z0)[-1].argmin(dim=1)

    def gradients(self, z0: Tensor, labels: Tensor) -> tuple[list[tuple[Tensor, Tensor]], Tensor, Tensor]:
        """Per-layer (g_w, g_p), the output ẑ and q, all computed before any update."""
        inputs, outputs, causes = [], [], []
        z = z0
        for layer in self.layers:
            inputs.append(z)
            z_out, kstar, rank = spike_times(z, layer.w, **self.options)
            z = z_out * layer.etp
            outputs.append(z)
            causes.append((rank, kstar))
        q = target_distribution(labels, self.n_classes, dtype=z.dtype)
        delta = output_error(z, q)
        grads = []
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            grads.append(
                self._local_gradients(delta, inputs[index], outputs[index], causes[index], layer.etp)
            )
            if index > 0:
                mask = causal_mask(*causes[index])
                delta = feedback(delta, mask, layer.w, chunk_elements=self.chunk_elements)
        return grads[::-1], z, q

    def _local_gradients(
        self, delta: Tensor, z_in: Tensor, z_hat: Tensor, cause: tuple[Tensor, Tensor], etp: Tensor
    ) -> tuple[Tensor, Tensor]:
        """:func:`local_gradients`; the numba path reads the mask off (rank, k*) without building it."""
        if not _use_numba(self.kernel, delta, z_in, z_hat):
            return local_gradients(delta, z_in, z_hat, causal_mask(*cause), etp, **self.options)
        from hybridsnn.shifting import kernels

        g_w = kernels.accumulate_causal(delta, z_in, z_hat, *cause)
        return g_w.mul_(torch.exp(etp)), (delta * z_hat).sum(0)

    def train_step(self, z0: Tensor, labels: Tensor, lr_w: float, lr_p: float) -> dict[str, float]:
        """One batch: forward, δ_out, feedback, local gradients, then Adam on every layer.

        Returns the monitor loss Σ(p − q)²/B and the argmin accuracy of the pre-update forward pass.
        """
        grads, z_hat, q = self.gradients(z0, labels)
        for layer, (g_w, g_p) in zip(self.layers, grads, strict=True):
            layer.adam_step(g_w, g_p, lr_w, lr_p)
        accuracy = float((z_hat.argmin(dim=1) == labels.to(z_hat.device)).float().mean())
        return {"loss": loss_monitor(z_hat, q), "accuracy": accuracy}


# --- multi-spike input layer (spike task) ---------------------------------------------------------------


def multispike_forward(
    times: Tensor,
    synapses: Tensor,
    w: Tensor,
    etp: Tensor,
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
    kernel: str = "auto",
) -> tuple[Tensor, Tensor]:
    """One trial's event list -> (ẑ (1, J), per-event causal mask (E, J) bool).

    ``times`` (E,) are spike times in seconds (z = exp(t), no 1 − t transform), ``synapses`` (E,) the input
    index of every event; event e contributes the weight w[synapses[e]]. Events are stably sorted by time.
    """
    n_events, n_out = times.shape[0], w.shape[1]
    z_events = torch.exp(times).unsqueeze(0)
    z_sorted, order = torch.sort(z_events, dim=1, stable=True)
    rows = synapses[order[0]]
    if _use_numba(kernel, w, times):
        from hybridsnn.shifting import kernels

        z_out, kstar = kernels.first_spike(z_sorted, rows.unsqueeze(0), w)
    else:
        z_out = torch.empty((1, n_out), dtype=w.dtype, device=w.device)
        kstar = torch.empty((1, n_out), dtype=torch.long, device=w.device)
        for part in _chunks(n_out, n_events, chunk_elements):
            z_out[:, part], kstar[:, part] = _first_spike(z_sorted, w[rows, part].unsqueeze(0))
    mask = causal_mask(_inverse_permutation(order), kstar)[0]
    return z_out * etp, mask


def multispike_gradients(
    delta: Tensor,
    times: Tensor,
    synapses: Tensor,
    z_hat: Tensor,
    mask: Tensor,
    etp: Tensor,
    n_in: int,
    *,
    kernel: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Per-event local terms scatter-added into their synapse: g_w (I, J), g_p (J,) (docs/shifting.md,
    «Spike task»)."""
    z_events = torch.exp(times)
    if _use_numba(kernel, delta, z_hat):
        from hybridsnn.shifting import kernels

        g_w = kernels.accumulate_local(
            delta, z_events.unsqueeze(0), z_hat, mask.unsqueeze(0), synapses.unsqueeze(0), n_in
        )
        return g_w.mul_(torch.exp(etp)), (delta * z_hat).sum(0)
    local = (z_events.unsqueeze(1) - z_hat) * mask  # (E, J)
    g_w = torch.zeros((n_in, z_hat.shape[1]), dtype=z_hat.dtype, device=z_hat.device)
    g_w.index_add_(0, synapses, local * (delta * torch.exp(etp)))
    return g_w, (delta * z_hat).sum(0)


def causal_weight_sum(mask: Tensor, rows: Tensor, w: Tensor, *, kernel: str = "auto") -> Tensor:
    """Σ_C w per output neuron (J,): Σ_e m_ej w[rows[e], j] over the inputs/events e of one sample."""
    if _use_numba(kernel, w):
        from hybridsnn.shifting import kernels

        return kernels.causal_weight_sum(mask, rows, w)
    return (mask * w[rows]).sum(dim=0)


class MultiSpikeNetwork(_Network):
    """Multi-spike input layer followed by single-spike layers, trained online (batch 1) on event lists.

    As in the spike-task script, the errors are normalised by each neuron's causal weight sum minus θ:
    δ_out = (p − q)/(Σ_C w − θ) and δ_hid = feedback(δ_out)/(Σ_C w − θ) (no clamp; a non-firing neuron's
    mask is its first input only, so its normaliser is w_first − θ). Sizes e.g. (500, 3200, 22), float64.
    """

    default_dtype = torch.float64

    def _run(self, times: Tensor, synapses: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        first = self.layers[0]
        z, mask = multispike_forward(times, synapses, first.w, first.etp, **self.options)
        outputs, masks = [z], [mask]
        for layer in self.layers[1:]:
            z, mask = layer_forward(z, layer.w, layer.etp, **self.options)
            outputs.append(z)
            masks.append(mask)
        return outputs, masks

    def forward(self, times: Tensor, synapses: Tensor) -> list[Tensor]:
        """ẑ of every layer, (1, J_l), for one trial's event list (times in s, synapse indices)."""
        return self._run(times, synapses)[0]

    def predict(self, times: Tensor, synapses: Tensor) -> Tensor:
        """Class (1,) = argmin of the output ẑ."""
        return self.forward(times, synapses)[-1].argmin(dim=1)

    def train_step(
        self, times: Tensor, synapses: Tensor, label: int, lr_w: float, lr_p: float
    ) -> dict[str, float]:
        """Online update on one trial; returns the monitor loss and whether the pre-update decision was right
        (``accuracy`` 1.0 or 0.0)."""
        outputs, masks = self._run(times, synapses)
        labels = torch.tensor([label], device=outputs[-1].device)
        q = target_distribution(labels, self.n_classes, dtype=outputs[-1].dtype)
        delta = output_error(outputs[-1], q)
        grads = []
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            if index > 0:
                rows = torch.arange(layer.w.shape[0], device=layer.w.device)
                norm = causal_weight_sum(masks[index][0], rows, layer.w, kernel=self.kernel) - THETA
                delta = delta / norm
                grads.append(
                    local_gradients(
                        delta, outputs[index - 1], outputs[index], masks[index], layer.etp, **self.options
                    )
                )
                delta = feedback(delta, masks[index], layer.w)
            else:
                norm = causal_weight_sum(masks[0], synapses, layer.w, kernel=self.kernel) - THETA
                delta = delta / norm
                grads.append(
                    multispike_gradients(
                        delta,
                        times,
                        synapses,
                        outputs[0],
                        masks[0],
                        layer.etp,
                        layer.w.shape[0],
                        kernel=self.kernel,
                    )
                )
        for layer, (g_w, g_p) in zip(self.layers, grads[::-1], strict=True):
            layer.adam_step(g_w, g_p, lr_w, lr_p)
        correct = float(int(outputs[-1].argmin(dim=1)) == label)
        return {"loss": loss_monitor(outputs[-1], q), "accuracy": correct}
