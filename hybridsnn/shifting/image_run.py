"""The MNIST / Fashion-MNIST experiment (the original ``SL_mnist``): 784-800-10 on one fixed seeded order of
the training images (the same every epoch), tested (argmin decision) after every epoch. With ``--dataset
PATH`` (a user's own dataset, docs/own_data.md) the network is (H·W·C)-800-K and its checkpoints record the
dataset (:class:`~hybridsnn.data.user_dataset.TrainedOn`).

Each epoch saves ``epoch-NNN`` and the resumable ``last`` (also every ``--checkpoint-every`` batches) with
the best test accuracy so far; a resumed run drops the records of an epoch that was cut off.
"""

from __future__ import annotations

import argparse
from typing import Any

from hybridsnn.data.user_dataset import TRAINED_ON, TrainedOn, hwc
from hybridsnn.results import Run
from hybridsnn.shifting.checkpoints import check_same_images, resume_point, save_layers, start_layers
from hybridsnn.shifting.data import image_data, is_user_dataset, shuffled
from hybridsnn.shifting.networks import build_network, engine_name, run_device
from hybridsnn.shifting.reporting import progress_bar, save_outputs
from hybridsnn.shifting.settings import TaskSettings, setting
from hybridsnn.shifting.training import Progress, evaluate, train_epochs


def train_images(args: argparse.Namespace, run: Run, settings: TaskSettings) -> dict:
    """MNIST / Fashion-MNIST: one fixed shuffled order, test (argmin) after every epoch."""
    device = run_device(args)
    source = args.dataset or args.task
    train_data = image_data(source, "train", encoding=args.encoding, limit=setting(args, "train_size"),
                            root=args.data_root)  # fmt: skip
    test_data = image_data(source, "test", encoding=args.encoding, limit=setting(args, "test_size"),
                           root=args.data_root)  # fmt: skip
    train_split, test_split = shuffled(train_data.split, args.seed).to(device), test_data.split.to(device)
    meta: dict[str, Any] = {}
    if is_user_dataset(args.dataset):
        data = TrainedOn(args.dataset, hwc(train_data.image_shape), train_data.classes)
        settings = settings.with_io(data.n_inputs, data.n_outputs)
        meta[TRAINED_ON] = data.to_dict()
    n_batches = -(-len(train_split) // settings.batch_size)
    point = resume_point(run, args, settings, n_batches)
    if point and TRAINED_ON in meta:
        check_same_images(point[0], data, f"--resume {str(run.path)!r}")
    if point:
        layers = [layer.to(device) for layer in point[1]]
        progress = Progress.from_dict(point[0].extra["progress"])
        best = point[0].extra["best"]
        run.drop_metrics_after(progress.epoch)  # records of an epoch that was cut off are recomputed
    else:
        layers = start_layers(args, settings.sizes, args.seed, device)
        progress, best = Progress(), {"accuracy": -1.0, "epoch": 0}
    network = build_network(args, layers, device)
    bar = progress_bar(
        settings.epochs * n_batches, progress.epoch * n_batches + progress.batch, f"{args.task} train", args
    )
    final: dict[str, Any] = {}

    def on_batch(progress: Progress) -> None:
        bar.update(1)
        bar.set_postfix(acc=f"{progress.correct / max(progress.seen, 1):.3f}")
        if args.checkpoint_every and progress.batch % args.checkpoint_every == 0:
            save_layers(run, "last", args, network.layers, progress=progress.to_dict(), best=best, **meta)

    def on_epoch(progress: Progress, metrics: dict[str, float]) -> None:
        accuracy, z_hat = evaluate(network, test_split)
        if accuracy > best["accuracy"]:
            best.update(accuracy=accuracy, epoch=progress.epoch)
        lr_w = settings.learning_rate(progress.epoch - 1)
        run.log_metrics(
            step=progress.epoch * n_batches, epoch=progress.epoch, split="train", lr_w=lr_w, **metrics
        )
        run.log_metrics(
            step=progress.epoch * n_batches, epoch=progress.epoch, split="test", accuracy=accuracy
        )
        save_outputs(run, test_split.labels, z_hat, f"{args.task} test")
        save_layers(run, f"epoch-{progress.epoch:03d}", args, network.layers, progress=progress.to_dict(),
                    best=best, **meta)  # fmt: skip
        save_layers(run, "last", args, network.layers, progress=progress.to_dict(), best=best, **meta)
        final.update(test_accuracy=accuracy, train_accuracy=metrics["accuracy"], train_loss=metrics["loss"])

    train_epochs(network, train_split, settings, progress, on_batch=on_batch, on_epoch=on_epoch)
    bar.close()
    if not final:  # resumed after the last epoch had finished
        final["test_accuracy"], _ = evaluate(network, test_split)
    save_layers(run, "final", args, network.layers, progress=progress.to_dict(), best=best, **meta)
    metrics = {
        **final,
        "best_test_accuracy": best["accuracy"],
        "best_epoch": best["epoch"],
        "epochs": settings.epochs,
        "train_samples": len(train_split),
        "test_samples": len(test_split),
    }
    return run.finish(
        metrics,
        samples=len(train_split) * settings.epochs,
        dataset=source,
        engine=engine_name(args),
        device=str(device),
        encoding=args.encoding,
        classes=list(train_data.classes),
    )
