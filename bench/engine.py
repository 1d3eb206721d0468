"""Engine benchmark: the sym-STDP network on every engine, side by side in one run on one machine.

Network: the sym-STDP driver's own (``hybridsnn.sym_stdp.network``; docs/engines.md): 784 Poisson inputs ->
N excitatory LIF (adaptive θ) with dense plastic symmetric-STDP synapses; N inhibitory LIF with one-to-one
excitation and all-but-self inhibition; 10 output neurons (Poisson teacher) with dense plastic synapses; all
conductance-based (ExpCond). One presentation is a training attempt of 1000 steps of 0.5 ms: column
normalisation, 700 steps with a digit-like image and the teacher, 300 of rest.

Per N, in ms per presentation (median; repetitions alternate between the contenders, which all see the same
images, so machine load hits them alike): the numba engine on 1 and on 2 threads (bit-identical results),
the project's genn engine (PyGeNN ``single_threaded_cpu``, ``optimize_code=True``, FTZ set by the engine),
and the direct PyGeNN script of ``bench/genn_direct.py`` (FTZ set by hand); with the numba first compile
and cached load in a fresh process, GeNN's first build, the genn engine's host time per presentation
outside ``stepTime``, and minutes per 60 000-sample epoch (one attempt per sample; the retry rule adds
~5 %). Then batch inference (frozen weights, many images in flight) in images/s at N = 400 and 6400.

Usage::

    python -m bench.engine                                 # N = 100 400 1600 6400 10000
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hybridsnn import sim
from hybridsnn.results import Run, format_markdown
from hybridsnn.sim import fpenv
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.network import (
    EngineChoice,
    InferenceNetwork,
    TrainingNetwork,
    initial_weights,
    input_probability,
)

EPOCH_SAMPLES = 60000


def digit_like_image(seed: int) -> np.ndarray:
    """A 28x28 image (pixels 0..255) with a digit-sized bright blob: ~160 lit pixels like MNIST."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28))
    top, left = rng.integers(3, 8), rng.integers(6, 12)
    image[top : top + 16, left : left + 10] = rng.uniform(100.0, 255.0, (16, 10))
    return image.reshape(-1)


def build_network(
    engine: str, n_exc: int, *, build_dir: Path, batch: int | None = None, threads: int | None = None
) -> tuple[Any, float]:
    """The sym-STDP network of the driver (plastic, or ``batch`` frozen copies), built and loaded; with the
    seconds that took (code generation and compilation, or the cached load)."""
    config = make_config("mnist", n_exc)
    backend = "single_threaded_cpu" if engine == "genn" else None
    choice = EngineChoice(engine, backend, str(build_dir), threads=threads)
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


def contenders(n: int, cache: Path, with_genn: bool) -> tuple[dict[str, Callable[[np.ndarray], Any]], dict]:
    """Presentation functions of every contender at size ``n`` and their build facts."""
    facts: dict[str, Any] = {}
    fns: dict[str, Callable[[np.ndarray], Any]] = {}
    for threads in (1, 2):
        net, seconds = build_network("numba", n, build_dir=cache, threads=threads)
        facts.setdefault("numba first compile (s)", seconds)
        name = f"numba {threads} thread{'s' if threads > 1 else ''}"
        fns[name] = lambda img, net=net: net.attempt(img, 3, 2.0)
        facts[f"numba {threads}t slices"] = net.model._split
    if with_genn:
        from bench.genn_direct import DirectNetwork

        genn, seconds = build_network("genn", n, build_dir=cache)
        facts["genn first build (s)"] = seconds
        fns["genn engine"] = lambda img: genn.attempt(img, 3, 2.0)
        facts["_genn"] = genn
        direct = DirectNetwork(n, cache / "direct")
        facts["direct first build (s)"] = direct.build_seconds

        def direct_present(img: np.ndarray) -> None:
            with fpenv.denormals_flushed():  # set by hand around the script, as a user would
                direct.present(img)

        fns["direct PyGeNN"] = direct_present
    return fns, facts


def time_presentations(fns: dict[str, Callable[[np.ndarray], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds per presentation of each contender, alternating contenders every repetition."""
    for fn in fns.values():
        fn(digit_like_image(0))  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for k in range(repeats):
        image = digit_like_image(k + 1)
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(image)
            times[name].append(time.perf_counter() - start)
    return times


def genn_host_ms(genn: TrainingNetwork, repeats: int) -> float:
    """Milliseconds per presentation the genn engine spends outside GeNN's ``stepTime``: a whole attempt
    minus the same 700 + 300 steps with the same input run alone."""
    image = digit_like_image(0)
    c = genn.config
    probability = input_probability(image, 2.0, c.dt)
    attempt, steps = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        genn.attempt(image, 3, 2.0)
        attempt.append(time.perf_counter() - start)
        genn.poi.vars["p"].view[...] = probability
        start = time.perf_counter()
        genn.model.run(c.present_steps)
        genn.poi.vars["p"].view[...] = 0.0
        genn.model.run(c.rest_steps)
        steps.append(time.perf_counter() - start)
    return 1000 * (statistics.median(attempt) - statistics.median(steps))


def batch_inference(n_exc: int, batch: int, cache: Path, with_genn: bool) -> dict[str, float]:
    """Images/s of frozen-weight inference (retries included): numba with ``batch`` copies on its threads,
    and numba / genn one image at a time."""
    images = np.stack([digit_like_image(s) for s in range(batch)])
    rates: dict[str, float] = {}
    runs = [("numba", batch, batch)] + [("numba", 1, 8)] + ([("genn", 1, 8)] if with_genn else [])
    for engine, copies, count in runs:
        network, _ = build_network(engine, n_exc, build_dir=cache, batch=copies)
        network.classify(images[:copies])  # warm-up
        start = time.perf_counter()
        network.classify(images[:count])
        label = f"{engine} batch {copies}" if copies > 1 else f"{engine} one at a time"
        rates[f"N{n_exc} {label} (images/s)"] = count / (time.perf_counter() - start)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600, 6400, 10000],
                        help="excitatory layer sizes N")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=7, help="timed presentations per contender and N")
    parser.add_argument("--batch", type=int, default=32, help="images in flight for batch inference")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[400, 6400],
                        help="N of the batch-inference networks")  # fmt: skip
    parser.add_argument("--no-genn", action="store_true", help="skip PyGeNN even if it is installed")
    parser.add_argument("--output", default="output", help="folder that receives the run directory")
    args = parser.parse_args(argv)
    with_genn = sim.pygenn_available() and not args.no_genn
    network_config = make_config("mnist", 100)
    config = {
        "sizes": args.sizes,
        "repeats": args.repeats,
        "batch": args.batch,
        "with_genn": with_genn,
        "dt_ms": network_config.dt,
        "steps_per_presentation": network_config.present_steps + network_config.rest_steps,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "ftz": "set: numba kernels and the genn engine set FTZ/DAZ around their runs; the direct "
        "script has it set by hand (hybridsnn.sim.fpenv.denormals_flushed)",
    }
    run = Run.create(
        args.output, model="sim-engines", task="sym-stdp-network", command="bench", config=config
    )
    rows, final = [], {}
    with tempfile.TemporaryDirectory(prefix="hybridsnn-bench-") as tmp:
        cache = Path(tmp)
        for n in args.sizes:
            fns, facts = contenders(n, cache, with_genn)
            reload_build_s, reload_process_s = cached_reload_seconds(n, cache)
            times = time_presentations(fns, args.repeats)
            median = {name: 1000 * statistics.median(values) for name, values in times.items()}
            row: dict[str, Any] = {"N": n}
            row.update({f"{name} (ms)": value for name, value in median.items()})
            if with_genn:
                row["numba 2t vs direct"] = median["direct PyGeNN"] / median["numba 2 threads"]
                row["numba 1t vs direct"] = median["direct PyGeNN"] / median["numba 1 thread"]
                row["genn engine / direct"] = median["genn engine"] / median["direct PyGeNN"]
                row["genn host ms outside stepTime"] = genn_host_ms(facts.pop("_genn"), 5)
            best = min(median["numba 1 thread"], median["numba 2 threads"])
            row["numba min/epoch"] = best * EPOCH_SAMPLES / 60000.0
            row["numba first compile (s)"] = facts["numba first compile (s)"]
            row["numba cached load (s)"] = reload_build_s
            row["numba cached, new process (s)"] = reload_process_s
            row.update({k: v for k, v in facts.items() if k.endswith("build (s)")})
            rows.append(row)
            run.log_metrics(step=n, split="bench", **{k.replace(" ", "_"): v for k, v in row.items()})
            final.update({f"N{n} {k}": v for k, v in row.items() if k != "N"})
            print(format_markdown(list(row), [row]), flush=True)
        batch: dict[str, float] = {}
        for n in args.batch_sizes:
            batch.update(batch_inference(n, args.batch, cache, with_genn))
        final.update(batch)
        run.log_metrics(step=0, split="batch", **{k.replace(" ", "_"): v for k, v in batch.items()})
    final["load_average_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    columns = list(dict.fromkeys(c for row in rows for c in row))
    table = format_markdown(columns, rows)
    batch_table = format_markdown(["metric", "value"], [{"metric": k, "value": v} for k, v in batch.items()])
    (run.path / "table.md").write_text(table + "\n\n" + batch_table + "\n", encoding="utf-8")
    engines = "numba,genn,direct-pygenn" if with_genn else "numba"
    run.finish(final, engine=engines, device=f"CPU ({os.cpu_count()} cores)")
    print(table)
    print(batch_table)
    print(f"results: {run.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
