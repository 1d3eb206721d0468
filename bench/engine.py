"""Engine benchmark: the sym-STDP network on the numba engine and on PyGeNN, same machine, same run.

Network: the sym-STDP driver's own (``hybridsnn.symstdp.network``; spec sym_stdp.md §2): 784 Poisson
inputs -> N excitatory LIF (adaptive θ) with dense plastic symmetric-STDP synapses; N inhibitory LIF with
one-to-one excitation and all-but-self inhibition; 10 output neurons (Poisson teacher) with dense plastic
synapses; all conductance-based (ExpCond). One presentation is a training attempt of 1000 steps of 0.5 ms:
column normalisation, 700 steps with a digit-like input image, 300 of rest.

Measured per N: ms per presentation (numba, and PyGeNN ``single_threaded_cpu`` with ``optimize_code=True``
when PyGeNN is installed; repetitions alternate between engines so machine load hits both alike), numba
first compile and cached re-load in a fresh process, GeNN first build, and batch inference (frozen weights,
many images at once) in images/s.

Usage::

    python -m bench.engine                       # N = 100, 400, 1600
    python -m bench.engine --sizes 400 --repeats 10 --output output
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hybridsnn import sim
from hybridsnn.results import Run, format_markdown
from hybridsnn.symstdp.config import make_config
from hybridsnn.symstdp.network import EngineChoice, InferenceNetwork, TrainingNetwork, initial_weights


def digit_like_image(seed: int) -> np.ndarray:
    """A 28x28 image (pixels 0..255) with a digit-sized bright blob: ~160 lit pixels like MNIST."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28))
    top, left = rng.integers(3, 8), rng.integers(6, 12)
    image[top : top + 16, left : left + 10] = rng.uniform(100.0, 255.0, (16, 10))
    return image.reshape(-1)


def build_network(engine: str, n_exc: int, *, build_dir: Path, batch: int | None = None) -> tuple[Any, float]:
    """The sym-STDP network of the driver (plastic, or ``batch`` frozen copies), built and loaded; with the
    seconds that took (code generation and compilation, or the cached load)."""
    config = make_config("mnist", n_exc)
    choice = EngineChoice(engine, "single_threaded_cpu" if engine == "genn" else None, str(build_dir))
    start = time.perf_counter()
    if batch is None:
        p2e, e2c = initial_weights(config, np.random.default_rng(1))
        theta = np.full(n_exc, config.theta_init, np.float32)
        network: Any = TrainingNetwork(config, p2e, e2c, theta, engine=choice, seed=1)
    else:
        network = InferenceNetwork(config, engine=choice, seed=1, batch=batch)
    seconds = time.perf_counter() - start
    if batch is not None:
        p2e, e2c = initial_weights(config, np.random.default_rng(1))
        network.load_weights(p2e, e2c, np.full(n_exc, config.theta_init, np.float32))
    return network, seconds


def present(network: TrainingNetwork, image: np.ndarray) -> None:
    """One training attempt: normalisation, 700 steps with the image and the teacher, 300 steps of rest."""
    network.attempt(image, label=3, intensity=2.0)


def cached_reload_seconds(n_exc: int, build_dir: Path) -> tuple[float, float]:
    """(build() seconds, whole-process seconds) of building the cached numba network in a fresh process."""
    code = (
        "import json, time, sys; t0 = time.perf_counter(); from pathlib import Path; "
        "from bench.engine import build_network; "
        f"_, build_s = build_network('numba', {n_exc}, build_dir=Path({str(build_dir)!r})); "
        "print(json.dumps([build_s, time.perf_counter() - t0]))"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env
    )
    wall = time.perf_counter() - start
    build_s, _ = json.loads(out.stdout.strip().splitlines()[-1])
    return build_s, wall


def time_presentations(nets: dict[str, TrainingNetwork], repeats: int) -> dict[str, list[float]]:
    """Seconds per presentation for each engine, alternating engines every repetition."""
    image = digit_like_image(0)
    for net in nets.values():
        present(net, image)  # warm-up
    times: dict[str, list[float]] = {engine: [] for engine in nets}
    for _ in range(repeats):
        for engine, net in nets.items():
            start = time.perf_counter()
            present(net, image)
            times[engine].append(time.perf_counter() - start)
    return times


def batch_inference(n_exc: int, batch: int, build_dir: Path, engines: list[str]) -> dict[str, float]:
    """Images/s of frozen-weight inference (retries included): numba with ``batch`` copies on threads, and
    every engine one image at a time."""
    images = np.stack([digit_like_image(s) for s in range(batch)])
    rates: dict[str, float] = {}
    for engine, copies, count in [("numba", batch, batch)] + [(engine, 1, 8) for engine in engines]:
        network, build_s = build_network(engine, n_exc, build_dir=build_dir, batch=copies)
        network.classify(images[:copies])  # warm-up
        start = time.perf_counter()
        network.classify(images[:count])
        label = f"numba_batch{batch}" if copies > 1 else f"{engine}_single"
        rates[f"{label}_images_per_s"] = count / (time.perf_counter() - start)
        if copies > 1:
            rates["numba_batch_compile_s"] = build_s
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 400, 1600], help="excitatory layer sizes N"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed presentations per engine and N")
    parser.add_argument("--batch", type=int, default=32, help="images per batch for batch inference")
    parser.add_argument("--batch-size-n", type=int, default=400, help="N of the batch-inference network")
    parser.add_argument("--no-genn", action="store_true", help="skip PyGeNN even if it is installed")
    parser.add_argument("--output", default="output", help="folder that receives the run directory")
    args = parser.parse_args(argv)
    engines = ["numba"] + (["genn"] if sim.pygenn_available() and not args.no_genn else [])
    network_config = make_config("mnist", 100)
    config = {
        "sizes": args.sizes,
        "repeats": args.repeats,
        "batch": args.batch,
        "engines": engines,
        "dt_ms": network_config.dt,
        "steps_per_presentation": network_config.present_steps + network_config.rest_steps,
        "cpu_count": os.cpu_count(),
    }
    run = Run.create(
        args.output, model="sim-engines", task="sym-stdp-network", command="bench", config=config
    )
    rows, final = [], {}
    with tempfile.TemporaryDirectory(prefix="hybridsnn-bench-") as tmp:
        cache = Path(tmp)
        for n in args.sizes:
            built = {engine: build_network(engine, n, build_dir=cache) for engine in engines}
            nets = {engine: network for engine, (network, _) in built.items()}
            reload_build_s, reload_process_s = cached_reload_seconds(n, cache)
            times = time_presentations(nets, args.repeats)
            row: dict[str, Any] = {
                "N": n,
                "numba first compile (s)": built["numba"][1],
                "numba cached load (s)": reload_build_s,
                "numba cached, new process (s)": reload_process_s,
            }
            for engine, values in times.items():
                row[f"{engine} ms/presentation (median)"] = 1000 * statistics.median(values)
                row[f"{engine} ms/presentation (min)"] = 1000 * min(values)
            if "genn" in nets:
                row["genn first build (s)"] = built["genn"][1]
                row["speed-up numba vs genn (median)"] = statistics.median(times["genn"]) / statistics.median(
                    times["numba"]
                )
            rows.append(row)
            run.log_metrics(step=n, split="bench", **{k.replace(" ", "_"): v for k, v in row.items()})
            final.update({f"N{n} {k}": v for k, v in row.items() if k != "N"})
            print(format_markdown(list(row), [row]), flush=True)
        batch = batch_inference(args.batch_size_n, args.batch, cache, engines)
        final.update({f"N{args.batch_size_n} {k}": v for k, v in batch.items()})
        run.log_metrics(step=args.batch_size_n, split="batch", **batch)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    table = format_markdown(columns, rows)
    batch_table = format_markdown(["metric", "value"], [{"metric": k, "value": v} for k, v in batch.items()])
    (run.path / "table.md").write_text(table + "\n" + batch_table, encoding="utf-8")
    run.finish(final, engine=",".join(engines), device=f"CPU ({os.cpu_count()} cores)")
    print(table)
    print(batch_table)
    print(f"results: {run.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
