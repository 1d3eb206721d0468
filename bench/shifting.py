"""Speed of the Shifting Learning reference on MNIST: train step (784-800-10, batch 128) and forward pass.

Times both formulations of the hot loops on the same batches from the same initial weights: the numba CPU
kernels (``kernel=numba``, what ``auto`` picks on the CPU) and the pure torch tensor passes (``kernel=torch``,
what runs on a GPU). After the timed train steps the weights of the two are compared (max |Δw|) to show
that the faster path changes no result. Optionally also on a CUDA device (torch kernel).

    python bench/shifting.py                    # 1 thread, 4 batches of 128 (the first is warm-up)
    python bench/shifting.py --batches 6 --threads 2 --device cuda

Writes a run directory (results format) under --output and prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch

from hybridsnn.data import split_present
from hybridsnn.results import Run, format_markdown
from hybridsnn.runtime import configure_threads, select_device
from hybridsnn.shifting.data import image_split
from hybridsnn.shifting.reference import ReferenceNetwork

SIZES = (784, 800, 10)


def batches(count: int, size: int, root: str | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` binary-encoded MNIST training batches, or random binary images if MNIST is absent."""
    if split_present("mnist", "train", root):
        data = image_split("mnist", "train", limit=count * size, root=root)
        z0, labels = data.z0, data.labels
    else:
        bright = torch.rand(count * size, 784, generator=torch.Generator().manual_seed(0)) > 0.8
        z0 = torch.exp(1 - torch.where(bright, 0.01, 2.3))
        labels = torch.randint(0, 10, (count * size,), generator=torch.Generator().manual_seed(1))
    return list(zip(z0.split(size), labels.split(size), strict=True))


def seconds_per_batch(step, data: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> float:
    """Mean wall time (s) of ``step(z0, labels)`` over ``data`` after one warm-up batch."""
    step(*(t.to(device) for t in data[0]))
    if device.type == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for z0, labels in data[1:]:
        step(z0.to(device), labels.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / (len(data) - 1)


def measure(kernel: str, device: torch.device, data: list, chunk: int) -> tuple[dict, ReferenceNetwork]:
    """Train-step and forward times of one kernel on one device."""
    network = ReferenceNetwork.create(
        SIZES, torch.Generator().manual_seed(0), kernel=kernel, chunk_elements=chunk
    )
    network.layers = [layer.to(device) for layer in network.layers]
    size = data[0][0].shape[0]
    train = seconds_per_batch(lambda z0, y: network.train_step(z0, y, 1e-4, 1e-4), data, device)
    forward = seconds_per_batch(lambda z0, y: network.forward(z0), data, device)
    row = {
        "kernel": kernel,
        "device": str(device),
        "train_s_per_batch": train,
        "train_samples_per_s": size / train,
        "forward_samples_per_s": size / forward,
    }
    return row, network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4, help="batches per measurement (first is warm-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to add a GPU row (torch kernel)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--output", default="output")
    args = parser.parse_args()
    if args.batches < 2:
        parser.error("--batches must be >= 2 (one warm-up batch plus timed ones)")
    threads = configure_threads(args.threads)
    device = select_device(args.device)
    run = Run.create(
        args.output,
        model="shifting",
        task="benchmark",
        command="bench",
        config={**vars(args), "threads": threads},
    )
    data = batches(args.batches, args.batch_size, args.data_root)
    cpu = torch.device("cpu")
    rows, networks = [], {}
    for kernel in ("numba", "torch"):
        row, networks[kernel] = measure(kernel, cpu, data, 1 << 20)
        rows.append(row)
    diff = max(
        float((a.w - b.w).abs().max())
        for a, b in zip(networks["numba"].layers, networks["torch"].layers, strict=True)
    )
    for row in rows:
        row["max_weight_diff"] = diff
    if device.type == "cuda":
        rows.append(measure("torch", device, data, 1 << 26)[0])
    for index, row in enumerate(rows):
        run.log_metrics(step=index, split=f"{row['kernel']} {row['device']}", **row)
    columns = [
        "kernel",
        "device",
        "train_s_per_batch",
        "train_samples_per_s",
        "forward_samples_per_s",
        "max_weight_diff",
    ]
    print(format_markdown(columns, rows), end="")
    summary = {f"{r['kernel']} {r['device']} train_samples_per_s": r["train_samples_per_s"] for r in rows}
    summary["numba_speedup_train"] = rows[0]["train_samples_per_s"] / rows[1]["train_samples_per_s"]
    run.finish(
        summary,
        samples=args.batch_size * (args.batches - 1) * 2 * len(rows),
        dataset="MNIST",
        engine="reference",
        device=str(device),
    )
    print(f"run directory: {run.path}")


if __name__ == "__main__":
    main()
