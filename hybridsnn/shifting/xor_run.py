"""The XOR experiment (the original ``SL_xor``): ``--runs`` independent 2-8-2 runs, full batch of the 4
patterns; a run succeeds when all 4 pre-update decisions of its last epoch are right.

Run r uses seed SEED + r for its weights; the first run's epochs are logged, then one ``runs`` record per
run. The ``last`` checkpoint after every run holds ``runs_done`` and ``successes`` for ``--resume``.
"""

from __future__ import annotations

import argparse

from hybridsnn.results import Run
from hybridsnn.shifting.checkpoints import resume_point, save_layers, start_layers
from hybridsnn.shifting.data import Split, xor_task
from hybridsnn.shifting.networks import build_network, engine_name, run_device
from hybridsnn.shifting.reporting import progress_bar, save_outputs
from hybridsnn.shifting.settings import TaskSettings, setting
from hybridsnn.shifting.training import Network, Progress, evaluate, reset_layers, train_epochs
from hybridsnn.spiking.training import log_metrics_once


def train_xor(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """``--runs`` independent runs (seeds SEED, SEED+1, ...); success = all 4 decisions right at the end."""
    device = run_device(args)
    runs = setting(args, "runs")
    data = xor_task().to(device)
    point = resume_point(run, args, settings)
    resumed = point[0] if point else None
    done = resumed.extra["runs_done"] if resumed else 0
    successes = resumed.extra["successes"] if resumed else 0
    network = build_network(args, start_layers(args, settings.sizes, args.seed, device), device)
    bar = progress_bar(runs, done, "xor runs", args, unit="run")
    for index in range(done, runs):
        if index > 0 or resumed:
            reset_layers(network.layers, start_layers(args, settings.sizes, args.seed + index, device))
        last = _xor_run(network, data, settings, run if index == 0 else None)
        success = last["accuracy"] == 1.0
        successes += int(success)
        log_metrics_once(run, step=index, split="runs", seed=args.seed + index, success=success, **last)
        if index == 0:
            save_outputs(run, data.labels, evaluate(network, data)[1], "xor")
            save_layers(run, "final", args, network.layers, runs_done=1, successes=successes, run_index=0)
        save_layers(run, "last", args, network.layers, runs_done=index + 1, successes=successes,
                    run_index=index)  # fmt: skip
        bar.update(1)
        bar.set_postfix(success_rate=f"{successes / (index + 1):.2f}")
    bar.close()
    metrics = {"success_rate": successes / runs, "successes": successes, "runs": runs}
    return run.finish(
        metrics,
        samples=4 * settings.epochs * runs,
        dataset="xor",
        engine=engine_name(args),
        device=str(device),
    )


def _xor_run(network: Network, data: Split, settings: TaskSettings, log_to: Run | None) -> dict[str, float]:
    """Train one XOR run (full batch); the last epoch's loss and pre-update accuracy. ``log_to`` gets the
    per-epoch records (the first run only)."""
    last: dict[str, float] = {}

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        last.update(metrics)
        if log_to is not None:
            log_metrics_once(log_to, step=progress.epoch, epoch=progress.epoch, split="train", **metrics)

    train_epochs(network, data, settings, Progress(), on_epoch=on_epoch)
    return last
