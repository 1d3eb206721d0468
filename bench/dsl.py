"""Throughput of DSL training and evaluation: hybridsnn's implementation vs the seed's formulation.

Both run on the same CPU thread(s), on the same MNIST batches (random images if MNIST is absent), from
the same initial weights, with Adam101. "seed" is :mod:`hybridsnn.dsl.seed_oracle`, a straightforward
re-implementation of the seed's per-step code (encoder and classifier at every step, FELL keeping the whole
graph). Ours folds time into the batch where weights are fixed (evaluation, BELL) and replaces FELL's
graph by an exact eligibility trace on static inputs. After the timed batches the weights of both are
compared (max |ΔW|) to show that the speed-up changes no result.

    python bench/dsl.py                       # MNISTDNN and MNISTCNN, all rules, 1 thread
    python bench/dsl.py --models MNISTDNN --batches 5 --compile

Writes a run directory (results format) under --output and prints a markdown table.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from hybridsnn.data import split_present
from hybridsnn.dsl.adam101 import Adam101
from hybridsnn.dsl.block import dsl_lif_config
from hybridsnn.dsl.data import image_transform, load_split
from hybridsnn.dsl.network import ARCHITECTURES, DSLNetwork, build_network, get_architecture
from hybridsnn.dsl.rules import RULES, get_rule
from hybridsnn.dsl.seed_oracle import seed_network_window
from hybridsnn.results import Run, format_markdown
from hybridsnn.runtime import configure_threads, seed_everything

STEPS = 10


def batches(model: str, count: int, size: int, root: str | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` batches of MNIST test images (``ToTensor``), or uniform random images if MNIST is absent."""
    shape = get_architecture(model).input_shape
    if shape == (1, 28, 28) and split_present("mnist", "test", root):
        data = load_split("MNIST", "test", root, count * size)
        transform = image_transform("MNIST", train=False)
        images = torch.stack([transform(image) for image in data.x])
        labels = torch.from_numpy(data.y)
    else:
        images, labels = torch.rand(count * size, *shape), torch.randint(0, 10, (count * size,))
    return list(zip(images.split(size), F.one_hot(labels, 10).float().split(size), strict=True))


def seconds_per_batch(
    run_batch: Callable[[torch.Tensor, torch.Tensor], object], data: list[tuple[torch.Tensor, torch.Tensor]]
) -> float:
    """Mean wall time of ``run_batch`` over ``data`` after one warm-up batch (s)."""
    run_batch(*data[0])
    began = time.perf_counter()
    for x, target in data[1:]:
        run_batch(x, target)
    return (time.perf_counter() - began) / (len(data) - 1)


def compiled(network: DSLNetwork) -> DSLNetwork:
    """A copy whose fixed-weight windows (evaluation, BELL) run through ``torch.compile``."""
    network = copy.deepcopy(network)
    for block in network.blocks:
        block.window = torch.compile(block.window)  # type: ignore[method-assign]
    return network


def train_ours(network: DSLNetwork, rule: str, optimizers: list, x: torch.Tensor, y: torch.Tensor) -> None:
    network.train_window(x, y, STEPS, get_rule(rule), optimizers)


def train_seed(network: DSLNetwork, rule: str, optimizers: list, x: torch.Tensor, y: torch.Tensor) -> None:
    seed_network_window(network, x, y, STEPS, rule, optimizers)


def eval_ours(network: DSLNetwork, x: torch.Tensor, y: torch.Tensor) -> None:
    network(x, STEPS)


def eval_seed(network: DSLNetwork, x: torch.Tensor, y: torch.Tensor) -> None:
    seed_network_window(network, x, y, STEPS, "ELL", None)


def bench_model(model: str, rules: list[str], data: list, use_compile: bool) -> list[dict]:
    rows = []
    size = data[0][0].shape[0]
    seed_everything(1234)
    start = build_network(model, lif=dsl_lif_config())
    for rule in rules:
        ours, seed = copy.deepcopy(start), copy.deepcopy(start)
        ours_opt = [Adam101(b.parameters(), lr=5e-4) for b in ours.blocks]
        seed_opt = [Adam101(b.parameters(), lr=5e-4) for b in seed.blocks]
        t_ours = seconds_per_batch(partial(train_ours, ours, rule, ours_opt), data)
        t_seed = seconds_per_batch(partial(train_seed, seed, rule, seed_opt), data)
        pairs = zip(ours.parameters(), seed.parameters(), strict=True)
        rows.append(
            row(
                model,
                f"train {rule}",
                size,
                t_ours,
                t_seed,
                max((p - q).abs().max().item() for p, q in pairs),
            )
        )
    with torch.no_grad():
        t_seed_eval = seconds_per_batch(partial(eval_seed, start), data)
        t_ours_eval = seconds_per_batch(partial(eval_ours, start), data)
        rows.append(row(model, "eval", size, t_ours_eval, t_seed_eval, 0.0))
        if use_compile:
            fast = compiled(start)
            t_fast = seconds_per_batch(partial(eval_ours, fast), data)
            rows.append(row(model, "eval (compiled)", size, t_fast, t_seed_eval, 0.0))
    if use_compile and "BELL" in rules:
        optimizers = [Adam101(b.parameters(), lr=5e-4) for b in fast.blocks]
        t_fast = seconds_per_batch(partial(train_ours, fast, "BELL", optimizers), data)
        bell = next(r for r in rows if r["phase"] == "train BELL")
        rows.append(row(model, "train BELL (compiled)", size, t_fast, bell["seed_s_per_batch"], None))
    return rows


def row(model: str, phase: str, size: int, ours: float, seed: float, diff: float | None) -> dict:
    return {
        "model": model,
        "phase": phase,
        "ours_samples_per_s": size / ours,
        "seed_samples_per_s": size / seed,
        "speedup": seed / ours,
        "ours_s_per_batch": ours,
        "seed_s_per_batch": seed,
        "max_weight_diff": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["MNISTDNN", "MNISTCNN"], choices=list(ARCHITECTURES))
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    parser.add_argument("--batches", type=int, default=4, help="batches per measurement (first is warm-up)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd eval and BELL")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--output", default="output")
    args = parser.parse_args()
    if args.batches < 2:
        parser.error("--batches must be >= 2 (one warm-up batch plus timed ones)")
    threads = configure_threads(args.threads)
    run = Run.create(
        args.output,
        model="dsl",
        task="benchmark",
        command="bench",
        config={**vars(args), "threads": threads, "device": "cpu"},
    )
    rows = []
    for model in args.models:
        data = batches(model, args.batches, args.batch_size, args.data_root)
        for result in bench_model(model, args.rules, data, args.compile):
            run.log_metrics(step=len(rows), split=f"{result['model']} {result['phase']}", **result)
            rows.append(result)
    columns = ["model", "phase", "ours_samples_per_s", "seed_samples_per_s", "speedup", "max_weight_diff"]
    print(format_markdown(columns, rows), end="")
    summary = {f"{r['model']} {r['phase']} speedup": r["speedup"] for r in rows}
    run.finish(
        summary,
        samples=sum(args.batch_size * (args.batches - 1) * 2 for _ in rows),
        dataset="MNIST",
        engine="torch",
        device="cpu",
    )
    print(f"run directory: {run.path}")


if __name__ == "__main__":
    main()
