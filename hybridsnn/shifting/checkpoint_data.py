"""The data a checkpoint is tested on (``test shifting``): what its training run evaluated, rebuilt from the
configuration stored in the checkpoint — the 4 XOR patterns, its Iris fold's test rows, the image test split
in its input encoding (of its user dataset where it was trained on one: ``--dataset``, default the training
run's path), or its spike task's validation trials (its data seed, ``--quick`` task and count).
"""

from __future__ import annotations

import argparse
import os

import torch

from hybridsnn.checkpoint import Checkpoint
from hybridsnn.data.user_dataset import TrainedOn, hwc
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.shifting.checkpoints import SEED_RANGE, stored, user_data, whole
from hybridsnn.shifting.data import ENCODINGS, Split, image_data, image_split, iris_folds, xor_task
from hybridsnn.shifting.settings import setting
from hybridsnn.shifting.spike_run import spike_trials
from hybridsnn.shifting.spike_task import SpikeTrial

IRIS_FOLDS = 5  # folds of the 150 rows (30 test rows each)


def stored_encoding(checkpoint: Checkpoint) -> str:
    """The input encoding the checkpoint's network was trained with (``binary`` when not stored)."""
    return stored(checkpoint, "encoding", "binary", lambda v: v in ENCODINGS, " or ".join(ENCODINGS))


def checkpoint_split(args: argparse.Namespace, checkpoint: Checkpoint) -> tuple[Split, str]:
    """XOR: the 4 patterns; Iris: the checkpoint's fold test rows; images: the test split; with its name."""
    if args.task == "xor":
        return xor_task(), "xor"
    if args.task == "iris":
        fold = checkpoint.extra.get("fold", 0)
        if not whole(fold, 0, IRIS_FOLDS - 1):
            raise CheckpointError(f"checkpoint {args.checkpoint!r}: fold is {fold!r}; expected "
                                  f"0..{IRIS_FOLDS - 1}")  # fmt: skip
        seed = stored(checkpoint, "seed", 0, lambda v: whole(v, 0, 2**32 - 1), SEED_RANGE)
        return iris_folds(seed, args.data_root)[fold][1], f"iris fold {fold}"
    limit, encoding = setting(args, "test_size"), stored_encoding(checkpoint)
    trained, given = user_data(checkpoint, str(args.checkpoint)), getattr(args, "dataset", None)
    if trained is None:
        if given is not None:
            raise CheckpointError(f"checkpoint {args.checkpoint!r} was trained on {args.task}, not --dataset "
                                  f"{given}; leave --dataset out")  # fmt: skip
        return image_split(args.task, "test", encoding=encoding, limit=limit, root=args.data_root), args.task
    source = given or (trained.path if os.path.exists(trained.path) else None)
    if source is None:
        raise UserError(f"checkpoint {args.checkpoint!r} was trained on {trained.describe()}, which is not "
                        "there any more; pass that data as --dataset PATH")  # fmt: skip
    data = image_data(source, "test", encoding=encoding, limit=limit, root=args.data_root)
    found = TrainedOn(source, hwc(data.image_shape), data.classes)
    if (found.image_shape, found.classes) != (trained.image_shape, trained.classes):
        raise CheckpointError(f"checkpoint {args.checkpoint!r} was trained on {trained.describe()}, not on "
                              f"{found.describe()}; a network takes only images of the size and classes it "
                              "was trained on")  # fmt: skip
    return data.split, source


def checkpoint_trials(
    args: argparse.Namespace, checkpoint: Checkpoint
) -> tuple[list[SpikeTrial], torch.Tensor]:
    """The training run's validation trials (``--test-size`` of them if given) and their labels."""
    data_seed = stored(checkpoint, "data_seed", 0, lambda v: whole(v, 0, 2**32 - 1), SEED_RANGE)
    # the training run's validation trials: its data seed, task (--quick: at most 2 features), count
    quick = stored(checkpoint, "quick", False, lambda v: isinstance(v, bool), "true or false")
    stored_size = stored(checkpoint, "test_size", None, lambda v: whole(v, 1), "a count >= 1")
    trained = argparse.Namespace(task="spikes", quick=quick, data_seed=data_seed, test_size=stored_size)
    count = args.test_size if args.test_size is not None else setting(trained, "test_size")
    trials = spike_trials(trained, 1, count)[1]
    return trials, torch.tensor([t.label for t in trials])
