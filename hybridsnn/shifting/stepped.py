"""Time-stepped Shifting Learning: the GeNN models of :mod:`genn_models.shifting` run by :mod:`hybridsnn.sim`.

Time units: the **code frame** of the original — a spike at time t is carried as z = exp(t), the synaptic
current decays with a time constant of 1 unit, and ``dt`` is in these units (dt = 0.01 gives ≈100 steps per
unit). Each layer runs on a clock shifted by an offset (a multiple of dt, chosen per run): the input layer's
offset puts the earliest input of a batch chunk at simulation time 0, every later layer gets at least two
steps of latency plus the largest negative delay −ln(e_tp) of its neurons. z values are formed in the code
frame inside the models, so the offsets never enter any z.

One run of a chunk of ``batch_size`` samples (lanes):

1. forward phase until the needed neurons have fired (all outputs; for :meth:`SteppedNetwork.forward` every
   neuron), at most until the latest no-spike (sentinel) time ln(1e5·e_tp) of any layer;
2. one quiet step that drains the spikes still in flight;
3. (training only) the host pulls the output ẑ, computes δ_out = softmax(ẑ) − q
   (:func:`hybridsnn.shifting.reference.output_error`: the global reward signal) and writes it into the
   output layer; in the learning phase each layer emits one learning spike (output first), the synapses
   add their local terms to per-lane gradients and feed δ back to the layer below; the host sums the
   gradients over lanes and chunks and applies Adam (:meth:`LayerParams.adam_step`).

Known differences to the analytic reference: input times and spike emission are rounded to the nearest
step; candidates are formed once per step (inputs arriving in the same step act as one tie group, the
reference forms one per input); the causal mask of a neuron without a valid candidate is every input of
its first arrival step (the reference: the first sorted input only); e_tp below :data:`ETP_MIN` acts as
ETP_MIN. The host does the softmax and Adam because the engines have no custom updates (both are
O(classes) / O(weights) once per batch); everything per spike and per synapse runs in the GeNN models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genn_models import shifting as models
from genn_models.shifting import FORWARD, LEARN, NEVER, QUIET, SENTINEL
from hybridsnn import sim
from hybridsnn.errors import UserError
from hybridsnn.shifting.reference import LayerParams, loss_monitor, output_error, target_distribution

CHECK_INTERVAL = 0.1
"""Code-time units simulated between checks whether the needed neurons have fired."""

ETP_MIN = 0.01
"""Smallest e_tp the simulation uses: e_tp is a delay ln(e_tp), so a learned e_tp below this (Adam drives some
to ≤ 0, where ẑ = z·e_tp has no spike time) acts as ETP_MIN (a delay of −4.6 units); the parameter itself is
left as it is."""

_NEURON_RESET = {
    "A": 0.0, "B": 0.0, "zsched": SENTINEL, "tcause": -1.0, "tfire": -1.0, "fired": 0, "tspk": NEVER,
    "zspk": 0.0, "zhat": 0.0, "delta": 0.0, "dscale": 0.0, "lspk": 0,
}  # fmt: skip
_INPUT_RESET = {"fired": 0, "tspk": NEVER, "zspk": 0.0}


def _model_name(engine: str, sizes: Sequence[int], batch_size: int, dt: float) -> str:
    """An identifier naming the network. GeNN keys its build folder and loaded library by the name, so it
    names the sizes and batch there; the numba kernel is the same code for any sizes and batch, and a name
    without them lets every network with this dt share one compiled kernel."""
    dt_token = format(dt, ".6g").replace(".", "p").replace("-", "m").replace("+", "")
    shape = f"_{'_'.join(map(str, sizes))}_b{batch_size}" if engine == "genn" else ""
    return f"shifting_dt{dt_token}{shape}"


def _check_layers(layers: Sequence[LayerParams]) -> list[int]:
    """Layer sizes (inputs, then every layer's outputs); a clear error when the layers do not chain."""
    if not layers:
        raise UserError("a Shifting Learning network needs at least one layer")
    sizes = [int(layers[0].w.shape[0])]
    for index, layer in enumerate(layers):
        w, etp = layer.w, layer.etp
        if w.ndim != 2 or w.shape[0] != sizes[-1] or etp.shape != (w.shape[1],):
            raise UserError(
                f"layer {index}: weights {tuple(w.shape)} and e_tp {tuple(etp.shape)} do not follow a layer "
                f"of {sizes[-1]} neurons (expected w ({sizes[-1]}, J) and e_tp (J,))"
            )
        sizes.append(int(w.shape[1]))
    return sizes


class SteppedNetwork:
    """Shifting Learning network simulated step by step with the GeNN models (engines numba / genn).

    ``layers`` are the same :class:`LayerParams` objects the reference uses; their ``w`` and ``etp`` are
    pushed to the engine before every run and updated in place by :meth:`train_step`. Inputs are
    z0 = exp(t0) tensors (B, I) of any B, simulated in chunks of ``batch_size`` lanes.

    Args:
        layers: the layers, input to output.
        engine: ``"numba"`` or ``"genn"`` (see :func:`hybridsnn.sim.create_model`).
        dt: timestep in code-frame time units (> 0).
        batch_size: lanes simulated together (GeNN's single_threaded_cpu backend: 1 only).
        backend: GeNN backend (``"single_threaded_cpu"`` or ``"cuda"``), engine ``genn`` only.
        seed: engine seed (the models draw no random numbers).
        build_dir: where the engine keeps generated code (default: the engine's cache folder).
        genn_preferences: GeNN backend preferences, engine ``genn`` only (see
            :func:`hybridsnn.sim.create_model`).
        load: False only generates and compiles the code (e.g. GeNN CUDA code without a GPU).
    """

    def __init__(
        self,
        layers: list[LayerParams],
        *,
        engine: str = "numba",
        dt: float = 0.01,
        batch_size: int = 1,
        backend: str | None = None,
        seed: int = 0,
        build_dir: str | Path | None = None,
        genn_preferences: dict[str, Any] | None = None,
        load: bool = True,
    ) -> None:
        sizes = _check_layers(layers)
        if not (math.isfinite(float(dt)) and 0.0 < float(dt) <= 1.0):
            raise UserError(f"dt must be in (0, 1] code-time units, got {dt}")
        if int(batch_size) < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}")
        self.layers = layers
        self.sizes = sizes
        self.dt = float(dt)
        self.batch_size = int(batch_size)
        model = sim.create_model(
            _model_name(engine, sizes, self.batch_size, self.dt),
            engine=engine,
            precision="float",
            dt=self.dt,
            seed=seed,
            backend=backend,
            batch_size=self.batch_size,
            build_dir=build_dir,
            genn_preferences=genn_preferences,
        )
        self.engine = model.engine
        self._model = model
        self._offsets_now: list[float] = []  # offsets of the input layer and every layer in the last run
        self._max_steps = 0  # forward steps after which every neuron has fired (the latest sentinel time)
        self._input = model.add_neuron_population(
            "input", sizes[0], models.ShiftingInput, {"phase": FORWARD, "D": 0.0}, {"tin": 0.0} | _INPUT_RESET
        )
        self._pops: list[Any] = []
        self._syns: list[Any] = []
        pre = self._input
        for index, size in enumerate(sizes[1:]):
            pop = model.add_neuron_population(
                f"layer{index}",
                size,
                models.ShiftingNeuron,
                {"phase": FORWARD, "D": 0.0, "Dpre": 0.0, "tlearn": 0.0},
                {**_NEURON_RESET, "etp": 1.0},  # w and e_tp are pushed before every run
            )
            wu = sim.init_weight_update(
                models.ShiftingSynapse,
                {"feedback": int(index > 0)},
                {"g": 0.0, "grad": 0.0},
                pre_var_refs={f"{name}_pre": sim.create_var_ref(pre, name) for name in ("tspk", "zspk")},
                post_var_refs={
                    f"{name}_post": sim.create_var_ref(pop, name)
                    for name in ("tcause", "lspk", "delta", "dscale", "zhat")
                },
            )
            psm = sim.init_postsynaptic("DeltaCurr")
            self._syns.append(model.add_synapse_population(f"syn{index}", "DENSE", pre, pop, wu, psm))
            for name in ("phase", "D", "Dpre", "tlearn"):
                pop.set_param_dynamic(name)
            self._pops.append(pop)
            pre = pop
        for name in ("phase", "D"):
            self._input.set_param_dynamic(name)
        model.build()
        if load:
            model.load()

    # -- public API ------------------------------------------------------------------------------------
    def forward(self, z0: Tensor) -> list[Tensor]:
        """ẑ of every layer, (B, J_l), from the time-stepped simulation of input z0 (B, I)."""
        z0 = self._check_inputs(z0)
        outputs: list[list[np.ndarray]] = [[] for _ in self.layers]
        for chunk in self._chunks(z0):
            for store, zhat in zip(outputs, self._forward_chunk(chunk, need_all=True), strict=True):
                store.append(zhat[: len(chunk)])
        return [self._tensor(np.concatenate(parts)) for parts in outputs]

    def spike_times(self, z0: Tensor) -> list[Tensor]:
        """Code-frame time of every neuron's forward spike (simulation time minus its layer's offset), per
        layer (B, J_l): ln ẑ rounded to the nearest step."""
        z0 = self._check_inputs(z0)
        outputs: list[list[np.ndarray]] = [[] for _ in self.layers]
        for chunk in self._chunks(z0):
            self._forward_chunk(chunk, need_all=True)
            for index, (store, pop) in enumerate(zip(outputs, self._pops, strict=True)):
                times = self._pull(pop.vars["tspk"], self.sizes[index + 1]) - self._offsets_now[index + 1]
                store.append(times[: len(chunk)])
        return [torch.from_numpy(np.concatenate(parts)) for parts in outputs]

    def output(self, z0: Tensor) -> Tensor:
        """ẑ of the output layer (B, J), equal to ``forward(z0)[-1]`` but cheaper: the simulation stops as
        soon as every output neuron has fired, even if some hidden neuron is still silent."""
        z0 = self._check_inputs(z0)
        parts = [self._forward_chunk(chunk, need_all=False)[-1][: len(chunk)] for chunk in self._chunks(z0)]
        return self._tensor(np.concatenate(parts))

    def predict(self, z0: Tensor) -> Tensor:
        """Class = earliest output spike, argmin of the output ẑ (B,)."""
        return self.output(z0).argmin(dim=1)

    def gradients(self, z0: Tensor, labels: Tensor) -> tuple[list[tuple[Tensor, Tensor]], Tensor, Tensor]:
        """Per-layer (g_w (I, J), g_p (J,)) summed over the batch, the output ẑ (B, J) and q (B, J), all
        before any update (as :meth:`ReferenceNetwork.gradients`)."""
        z0 = self._check_inputs(z0)
        labels = self._check_labels(labels, z0.shape[0])
        q = target_distribution(labels, self.sizes[-1]).numpy()
        sums = [(np.zeros(layer.w.shape), np.zeros(layer.etp.shape)) for layer in self.layers]
        z_out = []
        for start, chunk in zip(range(0, len(z0), self.batch_size), self._chunks(z0), strict=True):
            n = len(chunk)
            zhat = self._forward_chunk(chunk, need_all=False)[-1]
            delta = np.zeros_like(zhat)  # padded lanes learn nothing
            error = output_error(torch.from_numpy(zhat[:n]), torch.from_numpy(q[start : start + n]))
            delta[:n] = error.numpy()
            for (g_w, g_p), (c_w, c_p) in zip(sums, self._learn(delta), strict=True):
                g_w += c_w
                g_p += c_p
            z_out.append(zhat[:n])
        grads = [
            (self._tensor(g_w, layer.w), self._tensor(g_p, layer.etp))
            for layer, (g_w, g_p) in zip(self.layers, sums, strict=True)
        ]
        return grads, self._tensor(np.concatenate(z_out)), self._tensor(q)

    def train_step(self, z0: Tensor, labels: Tensor, lr_w: float, lr_p: float) -> dict[str, float]:
        """One batch: forward and learning phases per chunk (local terms and feedback in the GeNN models),
        gradients summed over lanes and chunks, then one Adam step per layer on the host. Returns the
        monitor loss Σ(p − q)²/B and the argmin accuracy of the pre-update forward pass."""
        grads, z_hat, q = self.gradients(z0, labels)
        for layer, (g_w, g_p) in zip(self.layers, grads, strict=True):
            layer.adam_step(g_w, g_p, lr_w, lr_p)
        labels = torch.as_tensor(labels).to(z_hat.device)
        accuracy = float((z_hat.argmin(dim=1) == labels).float().mean())
        return {"loss": loss_monitor(z_hat, q), "accuracy": accuracy}

    # -- inputs ----------------------------------------------------------------------------------------
    def _check_inputs(self, z0: Tensor) -> np.ndarray:
        array = np.asarray(z0.detach().cpu().numpy() if isinstance(z0, Tensor) else z0, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.sizes[0] or array.shape[0] == 0:
            raise UserError(
                f"inputs must have shape (B, {self.sizes[0]}) with B >= 1, got {tuple(array.shape)}"
            )
        if not np.all(np.isfinite(array)) or np.any(array <= 0):
            raise UserError("inputs are z0 = exp(t0) and must be finite and > 0")
        return array

    def _check_labels(self, labels: Tensor, count: int) -> Tensor:
        labels = torch.as_tensor(labels)
        if labels.shape != (count,) or labels.dtype.is_floating_point:
            raise UserError(
                f"labels must be {count} integers, got shape {tuple(labels.shape)} of {labels.dtype}"
            )
        if int(labels.min()) < 0 or int(labels.max()) >= self.sizes[-1]:
            raise UserError(f"labels must be in [0, {self.sizes[-1] - 1}]")
        return labels.long().cpu()

    def _chunks(self, z0: np.ndarray) -> list[np.ndarray]:
        return [z0[start : start + self.batch_size] for start in range(0, len(z0), self.batch_size)]

    def _tensor(self, array: np.ndarray, like: Tensor | None = None) -> Tensor:
        like = self.layers[0].w if like is None else like
        return torch.from_numpy(np.ascontiguousarray(array)).to(dtype=like.dtype, device=like.device)

    # -- one chunk -------------------------------------------------------------------------------------
    def _offsets(self, t0: np.ndarray, etps: list[np.ndarray]) -> list[float]:
        """Offsets (multiples of dt) of the input layer and of every layer."""
        dt = self.dt
        offsets = [-dt * math.floor(float(t0.min()) / dt)]
        for etp in etps:
            gap = 2.0 * dt + max(0.0, -math.log(float(etp.min())))
            offsets.append(offsets[-1] + dt * math.ceil(gap / dt - 1e-9))
        return offsets

    def _push_parameters(self) -> list[np.ndarray]:
        """Write every layer's w and e_tp (at least :data:`ETP_MIN`) into the engine; returns the e_tp."""
        sizes = _check_layers(self.layers)
        if sizes != self.sizes:
            raise UserError(f"the layers changed shape: network built for sizes {self.sizes}, now {sizes}")
        etps = []
        for index, (layer, pop, syn) in enumerate(zip(self.layers, self._pops, self._syns, strict=True)):
            etp = layer.etp.detach().cpu().numpy().astype(np.float32)
            if not np.all(np.isfinite(etp)) or not torch.isfinite(layer.w).all():
                raise UserError(f"layer {index}: weights and e_tp must be finite")
            etp = np.maximum(etp, np.float32(ETP_MIN))
            self._write(syn.vars["g"], layer.w.detach().cpu().numpy().reshape(-1))
            self._write(pop.vars["etp"], etp)
            etps.append(etp)
        return etps

    @staticmethod
    def _write(var: Any, value: Any) -> None:
        var.view[...] = value
        var.push_to_device()

    def _pull(self, var: Any, n: int) -> np.ndarray:
        """A copy of a per-lane variable as a float64 (lanes, n) array."""
        var.pull_from_device()
        return np.array(var.view, dtype=np.float64).reshape(self.batch_size, n)

    def _lane_sum(self, var: Any, n: int) -> np.ndarray:
        """A per-lane variable summed over the lanes in float64 (n,), without copying it first."""
        var.pull_from_device()
        return np.asarray(var.view).reshape(self.batch_size, n).sum(axis=0, dtype=np.float64)

    def _set_params(self, pop: Any, **values: float) -> None:
        for name, value in values.items():
            pop.set_dynamic_param_value(name, value)

    def _start(self, chunk: np.ndarray) -> None:
        """Reset the state for a chunk (padded to batch_size lanes) and set inputs, offsets and clock."""
        lanes = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch_size - len(chunk), axis=0)])
        t0 = np.log(lanes)
        etps = self._push_parameters()
        offsets = self._offsets_now = self._offsets(t0, etps)
        steps = np.rint((t0 + offsets[0]) / self.dt)
        self._write(self._input.vars["tin"], (steps - 0.5) * self.dt)
        for name, value in _INPUT_RESET.items():
            self._write(self._input.vars[name], value)
        self._set_params(self._input, phase=FORWARD, D=offsets[0])
        for index, pop in enumerate(self._pops):
            for name, value in _NEURON_RESET.items():
                self._write(pop.vars[name], value)
            self._set_params(pop, phase=FORWARD, D=offsets[index + 1], Dpre=offsets[index])
        latest = max(math.log(SENTINEL * float(e.max())) + d for e, d in zip(etps, offsets[1:], strict=True))
        self._max_steps = math.ceil(latest / self.dt) + 3
        self._model.timestep = 0

    def _fired(self, pops: list[Any]) -> bool:
        for pop in pops:
            pop.vars["fired"].pull_from_device()
            if not np.all(pop.vars["fired"].view):
                return False
        return True

    def _forward_chunk(self, chunk: np.ndarray, need_all: bool) -> list[np.ndarray]:
        """Simulate the forward phase of one chunk, then one quiet step; ẑ of every layer (lanes, J)."""
        self._start(chunk)
        watched = self._pops if need_all else self._pops[-1:]
        interval = max(1, round(CHECK_INTERVAL / self.dt))
        done = 0
        while done < self._max_steps:
            steps = min(interval, self._max_steps - done)
            self._model.run(steps)
            done += steps
            if self._fired(watched):
                break
        else:
            raise RuntimeError("Shifting network: neurons still silent after the sentinel time (a model bug)")
        for pop in [self._input, *self._pops]:
            self._set_params(pop, phase=QUIET)
        self._model.step_time()
        return [self._pull(pop.vars["zhat"], n) for pop, n in zip(self._pops, self.sizes[1:], strict=True)]

    def _learn(self, delta_out: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Learning phase after a forward chunk: δ_out (lanes, J) in; per-layer (g_w (I, J), g_p (J,)) summed
        over lanes out. The output layer spikes first, every layer below one step later."""
        out_delta = self._pops[-1].vars["delta"]
        self._write(out_delta, delta_out.astype(np.float32).reshape(out_delta.view.shape))
        start = self._model.timestep * self.dt
        depth = len(self._pops)
        self._set_params(self._input, phase=LEARN)
        for index, pop in enumerate(self._pops):
            self._set_params(pop, phase=LEARN, tlearn=start + (depth - 1 - index) * self.dt)
        self._model.run(depth + 1)
        grads = []
        shapes = zip(self.sizes[:-1], self.sizes[1:], strict=True)
        for pop, syn, (n_in, n_out) in zip(self._pops, self._syns, shapes, strict=True):
            g_w = self._lane_sum(syn.vars["grad"], n_in * n_out).reshape(n_in, n_out)
            self._write(syn.vars["grad"], 0.0)
            g_p = (self._pull(pop.vars["delta"], n_out) * self._pull(pop.vars["zhat"], n_out)).sum(axis=0)
            grads.append((g_w, g_p))
        return grads
