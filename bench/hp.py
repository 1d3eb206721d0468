"""Throughput of the HP-SNN simple-example network: hybridsnn's layer vs the seed's formulation.

Both train the same 784-512-10 HP network (T = 10, batch 100, the seed's constants) on the same batches from
the same weights and traces, on the same CPU thread(s): "ours" is :class:`hybridsnn.hp.mlp.HPMLP` (the Hebbian
outer product as one matrix product), "seed" is :func:`hybridsnn.hp.seed_oracle.reference_forward` (one
``bmm`` per update materialising ``[B, 784, 512]``, as the original). Each timed step is forward + MSE +
backward. After the timed steps the scores of both are compared (max |Δ|) to show the speed-up changes no
result.

    python bench/hp.py                    # 3 batches each, 1 thread
    python bench/hp.py --batches 5 --threads 2

Writes a run directory (results format) under --output and prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch

from hybridsnn.hp.methods import HP
from hybridsnn.hp.mlp import HPMLP, SIMPLE
from hybridsnn.hp.seed_oracle import reference_forward
from hybridsnn.hp.training import one_hot_mse
from hybridsnn.results import Run, format_markdown
from hybridsnn.runtime import configure_threads, seed_everything


def timed(step, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Seconds per batch of ``step`` (after one warm-up batch)."""
    step(*batches[0])
    began = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return (time.perf_counter() - began) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="output")
    args = parser.parse_args()
    configure_threads(args.threads)
    run = Run.create(args.output, model="hp", task="bench", command="bench", config=vars(args))
    seed_everything(0)
    model = HPMLP(SIMPLE, HP)
    with torch.no_grad():
        for trace in model.traces():
            trace.uniform_(-0.5, 0.5)
    batches = [
        (torch.rand(args.batch_size, 784), torch.randint(0, 10, (args.batch_size,)))
        for _ in range(args.batches)
    ]
    start = [t.clone() for t in model.traces()]

    def ours(x: torch.Tensor, y: torch.Tensor) -> None:
        model.zero_grad()
        one_hot_mse(model(x), y).backward()

    def seed(x: torch.Tensor, y: torch.Tensor) -> None:
        model.zero_grad()
        one_hot_mse(reference_forward(model, x, start)[0], y).backward()

    model.eval()  # keep the traces fixed so both see the same state
    with torch.no_grad():
        diff = (model(batches[0][0]) - reference_forward(model, batches[0][0], start)[0]).abs().max().item()
    rows = []
    for name, step in (("ours (matmul)", ours), ("seed (bmm)", seed)):
        seconds = timed(step, batches)
        rows.append(
            {
                "implementation": name,
                "s_per_batch": round(seconds, 4),
                "samples_per_s": round(args.batch_size / seconds, 1),
            }
        )
    speedup = rows[1]["s_per_batch"] / rows[0]["s_per_batch"]
    run.finish(
        {
            "ours_samples_per_s": rows[0]["samples_per_s"],
            "seed_samples_per_s": rows[1]["samples_per_s"],
            "speedup": speedup,
            "max_abs_score_diff": diff,
        },
        samples=args.batch_size * (args.batches + 1) * 2,
        engine="torch",
        device="cpu",
        threads=args.threads,
    )
    print(format_markdown(["implementation", "s_per_batch", "samples_per_s"], rows), end="")
    print(f"speed-up {speedup:.1f}x, max |Δscore| = {diff:.2e}, run directory: {run.path}")


if __name__ == "__main__":
    main()
