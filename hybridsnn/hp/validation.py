"""Everything ``hybridsnn train|test|predict hp`` can refuse before a run folder is created (or a resumed run
is reopened): the stored flags of a resumed run, the task's method and dataset, flags the task or method does
not read, the device, the ``--checkpoint`` (its task and method, that it builds the network) and ``--input``.
"""

from __future__ import annotations

import argparse

import torch

from hybridsnn.checks.flags import refuse_flags_not_read, refuse_repeats, refuse_training_flags
from hybridsnn.checks.values import check_stored_flags
from hybridsnn.data.user_dataset import check_resumed_data, check_same_data
from hybridsnn.errors import UserError
from hybridsnn.hp.checkpoints import load_matching_checkpoint, multitask_tasks, network_from_checkpoint
from hybridsnn.hp.flags import TEST_FLAGS_OF, TRAIN_FLAGS_OF, command_parser
from hybridsnn.hp.image_run import DISTRIBUTED_TASKS, check_test_data, predict_images
from hybridsnn.hp.methods import METHOD_FLAGS_OF
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import IMAGE_TASKS, settings_from
from hybridsnn.hp.sweeps import check_occlusion_levels
from hybridsnn.runtime import select_device
from hybridsnn.spiking import check_resume, restore_state
from hybridsnn.spiking.distributed import launched_by_torchrun, refuse_uneven_torchrun_batch


def validate(args: argparse.Namespace, command: str) -> None:
    """Refuse bad flags, checkpoints and inputs of ``command`` (module docstring); ``plot`` checks its own."""
    if command == "plot":
        return
    select_device(args.device)
    if command == "train":
        _validate_train(args)
        return
    if getattr(args, "test", False):  # train hp --test
        refuse_training_flags(args, "hp")
    refuse_flags_not_read(args, command_parser(command), TEST_FLAGS_OF, args.task, command)
    _repeats(args)
    checkpoint = load_matching_checkpoint(args.checkpoint, args)
    settings, _ = network_from_checkpoint(checkpoint, torch.device("cpu"))
    if args.task == "multitask":
        multitask_tasks(checkpoint)
    if command == "predict":
        predict_images(args, settings)
    elif settings.data is not None:
        check_occlusion_levels(getattr(args, "occlusion_levels", None), settings.data.image_shape[:2])
        check_test_data(settings, args.data_root, str(args.checkpoint))


def _validate_train(args: argparse.Namespace) -> None:
    parser = command_parser("train")
    if args.resume:
        check_stored_flags(vars(args), parser, f"--resume {args.resume!r}: config.json")
        if args.task not in IMAGE_TASKS:
            raise UserError(f"--resume works for the epoch-based tasks ({', '.join(IMAGE_TASKS)}), not "
                            f"{args.task}; start a new run")  # fmt: skip
    settings = settings_from(args)
    refuse_flags_not_read(args, parser, TRAIN_FLAGS_OF, args.task, "train")
    refuse_flags_not_read(args, parser, METHOD_FLAGS_OF, settings.method.name, "train", choice="--method")
    if args.local_lr is not None and args.task == "classification" and settings.dataset == "fashion-mnist":
        raise UserError(f"--local-lr {args.local_lr} does not apply to the Fashion-MNIST CNN: it trains "
                        "every parameter with one Adam at --lr (as the seed); leave it out")  # fmt: skip
    _repeats(args)
    if settings.data is not None:
        check_occlusion_levels(getattr(args, "occlusion_levels", None), settings.data.image_shape[:2])
    if launched_by_torchrun():
        if args.task not in DISTRIBUTED_TASKS:
            raise UserError(f"--task {args.task} trains in one process; start it without torchrun (it runs "
                            f"data-parallel for --task {', '.join(DISTRIBUTED_TASKS)})")  # fmt: skip
        refuse_uneven_torchrun_batch(settings.batch_size)
    if args.checkpoint:
        if args.task not in IMAGE_TASKS:
            raise UserError(f"--checkpoint starts training from a checkpoint for --task "
                            f"{', '.join(IMAGE_TASKS)}; --task {args.task} always starts afresh")  # fmt: skip
        checkpoint = load_matching_checkpoint(args.checkpoint, args, method=settings.method.name)
        stored, _ = network_from_checkpoint(checkpoint, torch.device("cpu"))
        check_same_data(stored.data, settings.data, str(args.checkpoint), settings.dataset)
        restore_state(checkpoint, {"model": build_network(settings)})
    if args.resume:
        last = check_resume(args.resume, "hp", {"model": build_network(settings)}, args.seed)
        check_resumed_data(last.config if last else {}, settings.data, args.resume)


def _repeats(args: argparse.Namespace) -> None:
    refuse_repeats("--noise-levels", getattr(args, "noise_levels", None))
    refuse_repeats("--occlusion-levels", getattr(args, "occlusion_levels", None))
