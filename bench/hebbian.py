"""Peak memory and step time of the Hebbian-memory store loop: naive autograd vs fused vs checkpointed.

Each variant trains the memorizing-associations SNN for a few Adam steps on the same batches from the same
initial weights, in its own fresh Python process (peak memory is per process):

* ``naive``       — the plasticity rule in plain autograd ops (≈3 B×M×M tensors saved per store step);
* ``fused``       — :class:`hybridsnn.hebbian.plasticity.FusedHebbianUpdate` (one B×M×M per step);
* ``checkpoint``  — fused, and the store loop recomputed in blocks of K ≈ √steps steps in the backward pass;
* ``compiled``    — fused, with the store step compiled by ``torch.compile`` (the first, compiling batch is
  not timed).

Peak memory: on CPU the growth of the process's peak resident set (``ru_maxrss``) over its size before the
first step, with glibc's mmap threshold fixed at 128 KiB (``MALLOC_MMAP_THRESHOLD_``) so that freed tensors
are returned to the system instead of staying in a fragmented heap; on CUDA
``torch.cuda.max_memory_allocated``. The final weights of all variants are compared (max |ΔW| against
``naive``) to show that the savings change no result.

    python bench/hebbian.py                                   # scaled-down default, CPU, 1 thread
    python bench/hebbian.py --batch 512 --length 10 --device cuda   # the seed's default run (GPU)

Writes a run directory (results format) under --output and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch

from hybridsnn.hebbian.associations.data import association_sequences
from hybridsnn.hebbian.networks import AssociationConfig, AssociationSNN, compile_store_step
from hybridsnn.hebbian.training import make_optimizer
from hybridsnn.results import Run, format_markdown
from hybridsnn.runtime import configure_threads, seed_everything, select_device

VARIANTS = ("naive", "fused", "checkpoint", "compiled")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args: argparse.Namespace) -> dict:
    """Train ``args.steps`` Adam steps with one variant; returns timing, memory and a weight digest."""
    configure_threads(args.threads)
    device = select_device(args.device)
    store_steps = args.length * args.time_steps
    block = args.block or max(1, round(math.sqrt(store_steps)))
    config = AssociationConfig(
        num_classes=args.length,
        embedding_size=args.embedding,
        memory_size=args.memory,
        steps=args.time_steps,
        fused=args.worker != "naive",
        checkpoint_steps=block if args.worker == "checkpoint" else 0,
    )
    seed_everything(0)
    model = AssociationSNN(config).to(device)
    if args.worker == "compiled":
        compile_store_step(model)
    optimizer, _ = make_optimizer(model, 3e-3)
    data = [
        association_sequences(args.batch, args.length, args.length, seed=k).to(device)
        for k in range(args.iterations)
    ]
    loss_fn = torch.nn.CrossEntropyLoss()
    base = peak_rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for batch in data:
        began = time.perf_counter()
        scores, _ = model(batch.features, batch.labels, batch.query)
        loss = loss_fn(scores, batch.target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - began)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb() - base
    return {
        "variant": args.worker,
        "block": block if args.worker == "checkpoint" else None,
        "peak_mb": peak,
        "step_s": sum(times[1:]) / max(1, len(times) - 1) if len(times) > 1 else times[0],
        "weights": [p.detach().cpu().flatten().tolist() for p in model.parameters()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="examples per batch (seed: 512)")
    parser.add_argument("--length", type=int, default=2, help="stored pairs = classes (seed: 10)")
    parser.add_argument("--time-steps", type=int, default=100, help="steps per item (seed: 100)")
    parser.add_argument("--embedding", type=int, default=40, help="encoder neurons E (seed: 80)")
    parser.add_argument("--memory", type=int, default=100, help="key/value neurons M (seed: 100)")
    parser.add_argument("--iterations", type=int, default=3, help="Adam steps (the first is a warm-up)")
    parser.add_argument("--block", type=int, default=0, help="checkpoint block in steps (0: √store steps)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="output/bench")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    flags = [a for a in sys.argv[1:] if not a.startswith("--variants")]
    results = []
    for variant in args.variants:
        out = subprocess.run(
            [sys.executable, __file__, *flags, "--worker", variant],
            env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)},
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    reference = results[0]["weights"]
    rows = []
    for result in results:
        diff = max(
            abs(a - b)
            for p, q in zip(result["weights"], reference, strict=True)
            for a, b in zip(p, q, strict=True)
        )
        rows.append(
            {
                "variant": result["variant"],
                "block": result["block"],
                "peak_MB": round(result["peak_mb"], 1),
                "step_s": round(result["step_s"], 3),
                f"max_dW_vs_{results[0]['variant']}": f"{diff:.1e}",
            }
        )
    table = format_markdown(list(rows[0]), rows)
    print(
        f"B={args.batch} L={args.length} T={args.time_steps} E={args.embedding} M={args.memory} "
        f"store steps={args.length * args.time_steps} device={args.device} threads={args.threads}"
    )
    print(table, end="")
    config = {k: v for k, v in vars(args).items() if k != "worker"}
    run = Run.create(args.output, model="hebbian", task="bench-store-loop", command="bench", config=config)
    run.finish(
        {f"{r['variant']}_{key}": r[key] for r in rows for key in ("peak_MB", "step_s")},
        engine="torch",
        device=args.device,
        table=rows,
    )


if __name__ == "__main__":
    main()
