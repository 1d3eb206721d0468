"""Engine benchmark: a sym-STDP-shaped network on the numba engine and on PyGeNN, same machine, same run.

Network (spec sym_stdp.md §2): 784 Poisson inputs -> N excitatory LIF (adaptive θ) with dense plastic
symmetric-STDP synapses; N inhibitory LIF with one-to-one excitation and all-but-self inhibition; 10 output
neurons (Poisson teacher) with dense plastic synapses; all conductance-based (ExpCond). One presentation is
1000 steps of 0.5 ms: 700 with a digit-like input image, 300 of rest.

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

from genn_models import sym_stdp as models
from hybridsnn import sim
from hybridsnn.results import Run, format_markdown

DT = 0.5
PRESENT_STEPS, REST_STEPS = 700, 300
N_INPUT, N_CLASSES = 784, 10


def digit_like_image(seed: int) -> np.ndarray:
    """A 28x28 image (pixels 0..255) with a digit-sized bright blob: ~160 lit pixels like MNIST."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28))
    top, left = rng.integers(3, 8), rng.integers(6, 12)
    image[top : top + 16, left : left + 10] = rng.uniform(100.0, 255.0, (16, 10))
    return image.reshape(-1)


def build_network(
    engine: str, n_exc: int, *, build_dir: Path, batch_size: int = 1, plastic: bool = True, seed: int = 1
) -> dict[str, Any]:
    """The benchmark network, built and loaded; returns the model and its populations."""
    kind = "train" if plastic else "infer"
    model = sim.create_model(
        f"bench_{kind}_{n_exc}",
        engine=engine,
        dt=DT,
        seed=seed,
        batch_size=batch_size,
        build_dir=build_dir,
        backend="single_threaded_cpu" if engine == "genn" else None,
    )
    rng = np.random.default_rng(seed)
    poi = model.add_neuron_population(
        "PPoi", N_INPUT, models.PoissonInput, {"Vspike": 20.0, "Vrest": -60.0}, {"V": -60.0, "p": 0.0}
    )
    exc = model.add_neuron_population(
        "PExc",
        n_exc,
        models.LIFExc,
        {
            "TV": 100.0,
            "Vrest": -65.0,
            "Vreset": -65.0,
            "Vthresh": -52.0,
            "Refrac": 2.0,
            "Ttheta": 6e6,
            "theta_plus": 0.07,
            "offset": 20.0,
            "frozen": 0 if plastic else 1,
        },
        {"V": -105.0, "theta": 20.0, "timer": 10.0, "count": 0},
    )
    inh = model.add_neuron_population(
        "PInh",
        n_exc,
        models.LIFInh,
        {"TV": 10.0, "Vrest": -60.0, "Vreset": -45.0, "Vthresh": -40.0, "Refrac": 2.0},
        {"V": -100.0, "timer": 10.0},
    )
    cla = model.add_neuron_population(
        "PCla",
        N_CLASSES,
        models.LIFCla,
        {
            "TV": 10.0,
            "Vrest": -60.0,
            "Vreset": -45.0,
            "Vthresh": -40.0,
            "Vspike": 20.0,
            "teach": 1 if plastic else 0,
        },
        {"V": -100.0, "p": 0.0, "count": 0},
    )

    def cond(tau: float, reversal: float, post: Any) -> Any:
        return sim.init_postsynaptic(
            "ExpCond", {"tau": tau, "E": reversal}, var_refs={"V": sim.create_var_ref(post, "V")}
        )

    w_p2e = rng.integers(0, 300, (N_INPUT, n_exc)) / 1000.0
    w_p2e *= 78.4 / w_p2e.sum(axis=0, keepdims=True)
    w_e2c = rng.integers(0, 300, (n_exc, N_CLASSES)) / 1000.0
    for name, pre, post, w, nu, g_max in (
        ("P2E", poi, exc, w_p2e, 0.005, 1.0),
        ("E2C", exc, cla, w_e2c, 0.04, 8.0),
    ):
        if plastic:
            stdp = {
                "nu_pre": nu,
                "nu_post": nu,
                "g_max": g_max,
                "a_plus": 0.1,
                "a_minus": 0.1,
                "tau_pre": 20.0,
                "tau_post": 20.0,
                "learn": 1,
            }
            wu = sim.init_weight_update(models.SymSTDP, stdp, {"g": w}, {"x": 1.0}, {"y": 1.0})
        else:
            wu = sim.init_weight_update("StaticPulse", {}, {"g": w})
        model.add_synapse_population(name, "DENSE", pre, post, wu, cond(1.0, 0.0, post))
    model.add_synapse_population(
        "E2I",
        "SPARSE",
        exc,
        inh,
        sim.init_weight_update("StaticPulseConstantWeight", {"g": 10.4}),
        cond(1.0, 0.0, inh),
        sim.init_sparse_connectivity("OneToOne"),
    )
    model.add_synapse_population(
        "I2E",
        "SPARSE",
        inh,
        exc,
        sim.init_weight_update("StaticPulseConstantWeight", {"g": 17.0}),
        cond(2.0, -100.0, exc),
        sim.init_sparse_connectivity("AllButSelf"),
    )
    start = time.perf_counter()
    model.build()
    build_s = time.perf_counter() - start
    model.load()
    return {"model": model, "poi": poi, "exc": exc, "cla": cla, "build_s": build_s}


def _set(pop: Any, var: str, value: Any) -> None:
    pop.vars[var].view[...] = value
    pop.vars[var].push_to_device()


def present(net: dict[str, Any], images: np.ndarray, label: int = 3) -> int:
    """One presentation (700 input steps + 300 rest steps); returns the hidden-layer spike count."""
    model, poi, exc, cla = net["model"], net["poi"], net["exc"], net["cla"]
    _set(poi, "p", images / 8.0 * 2.0 / 1000.0 * DT)
    teacher = np.zeros(N_CLASSES)
    teacher[label] = 0.2 * DT
    _set(cla, "p", teacher)
    _set(exc, "count", 0)
    model.run(PRESENT_STEPS)
    _set(poi, "p", 0.0)
    _set(cla, "p", 0.0)
    model.run(REST_STEPS)
    exc.vars["count"].pull_from_device()
    return int(exc.vars["count"].view.sum())


def cached_reload_seconds(n_exc: int, build_dir: Path) -> tuple[float, float]:
    """(build() seconds, whole-process seconds) of building the cached numba network in a fresh process."""
    code = (
        "import json, time, sys; t0 = time.perf_counter(); from pathlib import Path; "
        "from bench.engine import build_network; "
        f"net = build_network('numba', {n_exc}, build_dir=Path({str(build_dir)!r})); "
        "print(json.dumps([net['build_s'], time.perf_counter() - t0]))"
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


def time_presentations(nets: dict[str, dict[str, Any]], repeats: int) -> dict[str, list[float]]:
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
    """Images/s of frozen-weight inference: numba with ``batch`` copies (prange), and one image at a time."""
    images = np.stack([digit_like_image(s) for s in range(batch)])
    rates: dict[str, float] = {}
    net = build_network("numba", n_exc, build_dir=build_dir, batch_size=batch, plastic=False)
    rates["numba_batch_compile_s"] = net["build_s"]
    present(net, images)
    start = time.perf_counter()
    present(net, images)
    rates[f"numba_batch{batch}_images_per_s"] = batch / (time.perf_counter() - start)
    for engine in engines:
        net = build_network(engine, n_exc, build_dir=build_dir, plastic=False)
        present(net, images[0])
        start = time.perf_counter()
        for image in images[:8]:
            present(net, image)
        rates[f"{engine}_single_images_per_s"] = 8 / (time.perf_counter() - start)
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
    config = {
        "sizes": args.sizes,
        "repeats": args.repeats,
        "batch": args.batch,
        "engines": engines,
        "dt_ms": DT,
        "steps_per_presentation": PRESENT_STEPS + REST_STEPS,
        "cpu_count": os.cpu_count(),
    }
    run = Run.create(
        args.output, model="sim-engines", task="sym-stdp-network", command="bench", config=config
    )
    rows, final = [], {}
    with tempfile.TemporaryDirectory(prefix="hybridsnn-bench-") as tmp:
        cache = Path(tmp)
        for n in args.sizes:
            nets = {engine: build_network(engine, n, build_dir=cache) for engine in engines}
            reload_build_s, reload_process_s = cached_reload_seconds(n, cache)
            times = time_presentations(nets, args.repeats)
            row: dict[str, Any] = {
                "N": n,
                "numba first compile (s)": nets["numba"]["build_s"],
                "numba cached load (s)": reload_build_s,
                "numba cached, new process (s)": reload_process_s,
            }
            for engine, values in times.items():
                row[f"{engine} ms/presentation (median)"] = 1000 * statistics.median(values)
                row[f"{engine} ms/presentation (min)"] = 1000 * min(values)
            if "genn" in nets:
                row["genn first build (s)"] = nets["genn"]["build_s"]
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
