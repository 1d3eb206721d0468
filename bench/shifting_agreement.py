"""Time-stepped Shifting Learning (GeNN models) against the analytic reference, and numba against GeNN.

Part ``agreement``: with trained reference weights (Iris: fold 0 of seed 0 trained with the original
settings, evaluated on all 150 rows; MNIST: a checkpoint given with ``--mnist-checkpoint``, else a quick
reference training on the first ``--mnist-train`` images), the stepped network (numba engine) classifies the
evaluation set at every ``--dts`` value. Measured: decision agreement with the reference (same argmin), both
accuracies, the error of ln ẑ per layer (median and 99th percentile over neurons and samples, code-frame time
units) and the wall time per sample of ``predict`` (stops when the outputs have fired) and of ``forward``
(runs until every neuron has fired), 1 thread.

Part ``engines``: ms per sample of ``predict`` and of ``train_step`` (the task's learning rates) at dt 0.01 on
the first ``--engine-samples`` samples, one sample at a time, on the numba engine and on PyGeNN's
``single_threaded_cpu`` backend (skipped without PyGeNN), repetitions alternating between engines; plus the
numba engine with ``--lanes`` samples per batch.

Usage::

    python -m bench.shifting_agreement                        # both parts, iris + mnist, dt 0.01 and 0.001
    python -m bench.shifting_agreement --parts agreement --tasks iris --dts 0.01
    python -m bench.shifting_agreement --mnist-checkpoint RUN/checkpoints/final.safetensors
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybridsnn import sim
from hybridsnn.results import Run, format_markdown
from hybridsnn.shifting.data import Split, image_split, iris_folds, shuffled
from hybridsnn.shifting.reference import DENOMINATOR_CLAMP, SENTINEL, THETA, LayerParams, ReferenceNetwork
from hybridsnn.shifting.settings import TASK_SETTINGS
from hybridsnn.shifting.stepped import SteppedNetwork
from hybridsnn.shifting.training import Progress, train_epochs

REFERENCE_BATCH = 100  # samples per reference forward call
Tasks = dict[str, tuple[list[LayerParams], Split, str]]  # task -> (trained layers, evaluation split, origin)


def iris_reference(seed: int) -> tuple[list[LayerParams], Split]:
    """Layers trained on fold 0 (original settings) and all 150 rows (test rows first) to evaluate."""
    train, test = iris_folds(seed)[0]
    network = ReferenceNetwork.create(TASK_SETTINGS["iris"].sizes, torch.Generator().manual_seed(seed))
    train_epochs(network, train, TASK_SETTINGS["iris"], Progress())
    everything = Split(torch.cat([test.z0, train.z0]), torch.cat([test.labels, train.labels]))
    return network.layers, everything


def mnist_reference(args: argparse.Namespace) -> tuple[list[LayerParams], Split, str]:
    """Layers from ``--mnist-checkpoint`` or a quick reference training; the first ``--mnist-test`` test
    images; a description of where the weights came from."""
    test = image_split("mnist", "test", limit=args.mnist_test)
    if args.mnist_checkpoint:
        from hybridsnn.shifting.checkpoints import load_model

        _, layers = load_model(args.mnist_checkpoint)
        return layers, test, f"checkpoint {args.mnist_checkpoint}"
    settings = replace(TASK_SETTINGS["mnist"], epochs=args.mnist_epochs, batch_size=args.mnist_batch)
    train = shuffled(image_split("mnist", "train", limit=args.mnist_train), args.seed)
    network = ReferenceNetwork.create(settings.sizes, torch.Generator().manual_seed(args.seed))
    train_epochs(network, train, settings, Progress())
    origin = (
        f"reference trained {args.mnist_epochs} epochs on the first {args.mnist_train} images, "
        f"batch {args.mnist_batch}"
    )
    return network.layers, test, origin


def reference_outputs(layers: list[LayerParams], split: Split) -> list[torch.Tensor]:
    """ẑ of every layer of the analytic reference over the whole split."""
    network = ReferenceNetwork(layers)
    parts = [network.forward(z0) for z0, _ in split.batches(REFERENCE_BATCH)]
    return [torch.cat(layer) for layer in zip(*parts, strict=True)]


def grouped_outputs(layers: list[LayerParams], split: Split, batch: int = 16) -> list[torch.Tensor]:
    """ẑ of every layer of the reference with one candidate per group of equal input times (the stepped
    network's per-step candidates in the limit dt → 0) instead of one per input."""
    outputs: list[list[torch.Tensor]] = [[] for _ in layers]
    for z0, _ in split.batches(batch):
        z = z0
        for store, layer in zip(outputs, layers, strict=True):
            z_sorted, order = torch.sort(z, dim=1, stable=True)
            w_sorted = layer.w[order]  # (b, I, J)
            total = w_sorted.cumsum(1) - THETA
            candidates = (w_sorted * z_sorted.unsqueeze(2)).cumsum(1) / total.clamp(*DENOMINATOR_CLAMP)
            group_end = torch.ones_like(z_sorted, dtype=torch.bool)
            group_end[:, :-1] = z_sorted[:, 1:] != z_sorted[:, :-1]
            invalid = (total < 0) | (candidates < z_sorted.unsqueeze(2)) | ~group_end.unsqueeze(2)
            z = candidates.masked_fill(invalid, SENTINEL).min(dim=1).values * layer.etp
            store.append(z)
    return [torch.cat(parts) for parts in outputs]


def log_z_error(stepped: list[torch.Tensor], reference: list[torch.Tensor]) -> dict[str, float]:
    """Median and 99th percentile of |ln ẑ_stepped − ln ẑ_reference| per layer (time units)."""
    out = {}
    for index, (a, b) in enumerate(zip(stepped, reference, strict=True)):
        error = (a.double().log() - b.double().log()).abs().flatten().numpy()
        out[f"layer{index} |dln z| median"] = float(np.median(error))
        out[f"layer{index} |dln z| p99"] = float(np.quantile(error, 0.99))
    return out


def agreement_row(
    layers: list[LayerParams],
    split: Split,
    reference: list[torch.Tensor],
    grouped: list[torch.Tensor],
    dt: float,
    args: argparse.Namespace,
    build_dir: Path,
) -> dict[str, Any]:
    """Decisions, accuracy, ln ẑ error and time per sample of the stepped network against the reference
    outputs ``reference`` (ẑ of every layer over ``split``) and the tie-grouped reference ``grouped``."""
    ref_pred = reference[-1].argmin(dim=1)
    net = SteppedNetwork(copy.deepcopy(layers), dt=dt, batch_size=args.lanes, build_dir=build_dir)
    net.predict(split.z0[: args.lanes])  # warm-up (kernel load)
    start = time.perf_counter()
    pred = net.predict(split.z0)
    seconds = time.perf_counter() - start
    count = min(args.z_samples, len(split))
    start = time.perf_counter()
    stepped = net.forward(split.z0[:count])
    forward_seconds = time.perf_counter() - start
    return {
        "dt": dt,
        "samples": len(split),
        "agreement": float((pred == ref_pred).double().mean()),
        "agreement (tie-grouped ref.)": float((pred == grouped[-1].argmin(dim=1)).double().mean()),
        "stepped accuracy": float((pred == split.labels).double().mean()),
        "reference accuracy": float((ref_pred == split.labels).double().mean()),
        "predict ms/sample": 1000 * seconds / len(split),
        "forward ms/sample": 1000 * forward_seconds / count,
        **log_z_error(stepped, [z[:count] for z in reference]),
    }


def engine_rows(
    task: str, layers: list[LayerParams], split: Split, args: argparse.Namespace, build_dir: Path
) -> list[dict[str, Any]]:
    """ms per sample of predict and train_step (batch 1) on numba and GeNN, alternating; numba with lanes."""
    settings = TASK_SETTINGS[task]
    engines = ["numba"] + (["genn"] if sim.pygenn_available() else [])
    nets, build_s = {}, {}
    for engine in engines:
        start = time.perf_counter()
        backend = "single_threaded_cpu" if engine == "genn" else None
        nets[engine] = SteppedNetwork(
            copy.deepcopy(layers), engine=engine, dt=0.01, backend=backend, build_dir=build_dir
        )
        build_s[engine] = time.perf_counter() - start
    times: dict[tuple[str, str], list[float]] = {(e, w): [] for e in engines for w in ("predict", "train")}
    for repeat in range(args.repeats + 1):  # the first round warms up
        for engine, net in nets.items():
            for what in ("predict", "train"):
                start = time.perf_counter()
                for z0, labels in split.batches(1):
                    if what == "predict":
                        net.predict(z0)
                    else:
                        net.train_step(z0, labels, settings.lr_w, settings.lr_p)
                if repeat:
                    times[(engine, what)].append(1000 * (time.perf_counter() - start) / len(split))
    rows = [
        {
            "task": task,
            "engine": f"{engine} (batch 1)",
            "first build (s)": build_s[engine],
            "predict ms/sample": statistics.median(times[(engine, "predict")]),
            "train_step ms/sample": statistics.median(times[(engine, "train")]),
        }
        for engine in engines
    ]
    lanes = min(args.lanes, len(split))
    net = SteppedNetwork(copy.deepcopy(layers), dt=0.01, batch_size=lanes, build_dir=build_dir)
    net.train_step(split.z0[:lanes], split.labels[:lanes], settings.lr_w, settings.lr_p)  # warm-up
    start = time.perf_counter()
    net.predict(split.z0)
    predict_ms = 1000 * (time.perf_counter() - start) / len(split)
    start = time.perf_counter()
    net.train_step(split.z0, split.labels, settings.lr_w, settings.lr_p)
    train_ms = 1000 * (time.perf_counter() - start) / len(split)
    rows.append(
        {
            "task": task,
            "engine": f"numba ({lanes} lanes)",
            "predict ms/sample": predict_ms,
            "train_step ms/sample": train_ms,
        }
    )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of rows with possibly different keys."""
    return format_markdown(list(dict.fromkeys(c for row in rows for c in row)), rows)


def load_task(task: str, args: argparse.Namespace) -> tuple[list[LayerParams], Split, str]:
    """Trained reference layers, the evaluation split and where the weights came from."""
    if task == "iris":
        layers, split = iris_reference(args.seed)
        return layers, split, f"reference, iris fold 0, seed {args.seed}"
    return mnist_reference(args)


def agreement_part(
    args: argparse.Namespace, run: Run, tasks: Tasks, build_dir: Path
) -> tuple[str, dict[str, Any]]:
    """The agreement rows of every task and dt: (markdown table, final metrics)."""
    rows, final = [], {}
    for task, (layers, split, origin) in tasks.items():
        final[f"{task} weights"] = origin
        reference, grouped = reference_outputs(layers, split), grouped_outputs(layers, split)
        for dt in args.dts:
            row = {"task": task, **agreement_row(layers, split, reference, grouped, dt, args, build_dir)}
            rows.append(row)
            run.log_metrics(step=len(rows), split=f"{task}-dt{dt}", **row)
            final.update({f"{task} dt={dt} {k}": v for k, v in row.items() if k not in ("task", "dt")})
            print(format_markdown(list(row), [row]), flush=True)
    return table(rows), final


def engines_part(
    args: argparse.Namespace, run: Run, tasks: Tasks, build_dir: Path
) -> tuple[str, dict[str, Any]]:
    """The engine timing rows of every task on its first ``--engine-samples`` samples."""
    rows, final = [], {}
    for task, (layers, split, _) in tasks.items():
        head = Split(split.z0[: args.engine_samples], split.labels[: args.engine_samples])
        for row in engine_rows(task, layers, head, args, build_dir):
            rows.append(row)
            run.log_metrics(step=len(rows), split="engines", **row)
            name = f"{task} {row['engine']}"
            final.update({f"{name} {k}": v for k, v in row.items() if k not in ("task", "engine")})
            print(format_markdown(list(row), [row]), flush=True)
    return table(rows), final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shifting_agreement", description=__doc__.split("\n\n")[0]
    )
    add = parser.add_argument
    add("--parts", nargs="+", choices=["agreement", "engines"], default=["agreement", "engines"])
    add("--tasks", nargs="+", choices=["iris", "mnist"], default=["iris", "mnist"])
    add("--dts", type=float, nargs="+", default=[0.01, 0.001], help="time steps (time units)")
    add("--lanes", type=int, default=32, help="samples simulated together (numba)")
    add("--z-samples", type=int, default=500, help="samples whose ẑ errors are measured")
    add("--seed", type=int, default=0, help="seed of the reference trainings")
    add("--mnist-checkpoint", default=None, help="trained shifting MNIST checkpoint to use")
    add("--mnist-train", type=int, default=10000, help="images of the quick reference training")
    add("--mnist-epochs", type=int, default=2, help="epochs of the quick reference training")
    add("--mnist-batch", type=int, default=32, help="batch of the quick reference training")
    add("--mnist-test", type=int, default=10000, help="test images evaluated")
    add("--repeats", type=int, default=3, help="timed rounds per engine (engines part)")
    add("--engine-samples", type=int, default=150, help="samples per timed round (engines part)")
    add("--output", default="output", help="folder that receives the run directory")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = {**vars(args), "cpu_count": os.cpu_count(), "numba_threads": os.environ.get("NUMBA_NUM_THREADS")}
    run = Run.create(args.output, model="shifting", task="stepped-agreement", command="bench", config=config)
    final: dict[str, Any] = {}
    tables = []
    with tempfile.TemporaryDirectory(prefix="hybridsnn-shifting-bench-") as tmp:
        tasks = {task: load_task(task, args) for task in args.tasks}
        for part, measure in (("agreement", agreement_part), ("engines", engines_part)):
            if part in args.parts:
                text, metrics = measure(args, run, tasks, Path(tmp))
                tables.append(text)
                final.update(metrics)
    (run.path / "table.md").write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    engines = "numba,genn" if sim.pygenn_available() else "numba"
    run.finish(final, engine=engines, device=f"CPU ({os.cpu_count()} cores)")
    print("\n\n".join(tables))
    print(f"results: {run.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
