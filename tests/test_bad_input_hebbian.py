"""The bad-input matrix, hebbian part: the flags, files and commands of the five memory tasks.

Each case must end in exit 2 and one line ``hybridsnn: error: ...`` naming the bad value, with nothing
written (tests/bad_input.py): flag values (NaN, inf, zero counts, out-of-range rates and probabilities),
flags a task does not read, combinations, checkpoints and encoder files of another task or model or with
NaN / unusable settings, missing data, damaged resumed runs, damaged plot inputs and torchrun batch splits.
The checkpoints are written directly (untrained networks of tiny sizes), so no case trains.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input import Case, assert_refused, case, params, scratch_files

from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.hebbian.associations import run as associations_run
from hybridsnn.hebbian.concentration import run as concentration_run
from hybridsnn.hebbian.cross_modal import run as crossmodal_run
from hybridsnn.hebbian.cross_modal.network import CrossModalConfig
from hybridsnn.hebbian.encoders import DigitEncoder, save_encoders
from hybridsnn.hebbian.networks import AssociationConfig, build_network
from hybridsnn.hebbian.omniglot import run as omniglot_run
from hybridsnn.hebbian.omniglot.protonet import ProtoEncoder, save_protonet
from hybridsnn.hebbian.settings import train_parser
from hybridsnn.spiking import checkpoint_payload

pytestmark = pytest.mark.usefixtures("torch_one_thread")

T = "train hebbian"
CM, OM, BA, CO = "--task cross-modal", "--task omniglot", "--task babi", "--task concentration"
TINY = "--num-time-steps 10 --readout-window 5 --memory-size 8"

def refused(flags: str, expected: str = "", command: str = T) -> Case:
    """``COMMAND FLAGS`` refused by the last flag's ``type=``: the line names it, its value and the range."""
    *_, name, value = flags.split()
    return case(f"{command} {flags}", f"argument {name}: '{value}' is not allowed" + (f"; expected {expected}"
                                                                                      if expected else ""))


TEST = "test hebbian --checkpoint {tmp}/assoc.safetensors"
FLAGS = [
    refused("--learning-rate nan", "a finite number > 0"),
    refused("--learning-rate inf"),
    refused("--learning-rate -1"),
    refused("--learning-rate 0"),
    refused("--gamma-pos nan", "a finite number >= 0"),
    refused("--gamma-neg -0.5"),
    refused("--tau-trace 0"),
    refused("--tau-mem inf"),
    refused("--thr 0"),
    refused("--w-max nan"),
    refused("--dampening-factor 0"),
    refused("--learning-rate-decay 1.5", "a finite number > 0 and <= 1"),
    refused("--learning-rate-decay 0"),
    refused("--decay-learning-rate-every 0"),
    refused("--max-grad-norm nan"),
    refused("--l2 -1"),
    refused("--target-rate inf"),
    refused("--refractory-time-steps -1", "a whole number >= 0"),
    refused("--readout-delay 0"),
    refused("--readout-window 0"),
    refused("--num-time-steps 0"),
    refused("--embedding-size 0"),
    refused("--memory-size 0"),
    refused("--num-classes 0"),
    refused("--feature-size 0"),
    refused("--batch-size 0", "a whole number >= 1"),
    refused("--epochs 0"),
    refused("--epochs 2.5"),
    refused("--iterations 0"),
    refused("--val-size 0"),
    refused("--test-size 0"),
    refused("--sequence-length 0"),
    refused("--test-lengths 0"),
    case(f"{T} --test-lengths 2 x", "argument --test-lengths: 'x' is not allowed"),
    refused("--dataset-seed -1", "a whole number >= 0 and <= 4294967295"),
    refused("--checkpoint-steps -1"),
    refused("--threads 0"),
    case(f"{T} --network gru", "argument --network: invalid choice: 'gru'"),
    case(f"{T} --device bogus", "unknown device 'bogus'"),
    case(f"{T} --device cuda:99", "'cuda:99'"),
    refused(f"{BA} --babi-task 21", "a whole number >= 1 and <= 20"),
    refused(f"{BA} --babi-task 0"),
    refused(f"{BA} --max-num-sentences 0"),
    refused(f"{OM} --encoder-ways 1", "a whole number >= 2"),
    refused(f"{OM} --encoder-epochs 0"),
    refused(f"{OM} --encoder-iterations 0"),
    refused(f"{CM} --encoder-epochs 0"),
    refused(f"{CO} --num-cells 1", "a whole number >= 2"),
    refused(f"{CO} --num-envs 0"),
    refused(f"{CO} --num-steps 0"),
    refused(f"{CO} --ppo-epochs 0"),
    refused(f"{CO} --card-shape 0"),
    refused(f"{CO} --max-flips 0"),
    refused(f"{CO} --discount-factor 1.5", "a finite number >= 0 and <= 1"),
    refused(f"{CO} --gae-lambda nan"),
    refused(f"{CO} --ppo-clip-param 0"),
    refused(f"{CO} --adam-eps 0"),
    refused(f"{CO} --match-reward inf", "a finite number"),
    refused(f"{CO} --flip-penalty nan"),
    refused(f"{CO} --value-coefficient -1"),
    refused(f"{CO} --entropy-coefficient nan"),
    refused(f"{CO} --deck-seed -1"),
    refused(f"{CO} --env-seed 4294967296"),
    refused("--sequence-length 0", command=TEST),
    refused("--batch-size 0", command=TEST),
    refused("--test-size 0", command=TEST),
    refused("--test-lengths 0", command=TEST),
    refused("--threads -1", command=TEST),
]

COMBINATIONS = [
    case(f"{T} --sequence-length 5 --num-classes 3", "--sequence-length 5 needs at least as many classes"),
    case(f"{T} --test-lengths 4 --num-classes 3 --sequence-length 2", "test sequence length 4"),
    case(f"{T} --num-time-steps 10 --readout-window 30", "--readout-window 30) must not exceed the 10 steps"),
    case(f"{T} {BA} --num-time-steps 10 --readout-window 30", "--readout-window 30"),
    case(f"{T} {OM} --num-time-steps 10 --readout-window 30", "--readout-window 30"),
    case(f"{T} {CO} --num-time-steps 10 --readout-window 30", "--readout-window 30"),
    case(f"{T} {CO} --num-envs 4 --ppo-batches 8", "--ppo-batches 8 must not exceed --num-envs 4"),
    case(f"{T} {CM} --sequence-length 11", "--sequence-length must be 1..10 digit classes"),
    case(f"{T} {CM} --embedding-size 80", "--embedding-size of the cross-modal task is the encoders' 64"),
    case(f"{T} {OM} --embedding-size 80", "--embedding-size of the omniglot task is the encoder's 64"),
    case(f"{T} {OM} --sequence-length 3", "--sequence-length 3 does not apply"),
    case(f"{T} {OM} --network lstm", "runs the spiking network only"),
    case(f"{T} {CO} --network hmem", "runs the spiking network only"),
    case(f"{T} {CO} --batch-size 8", "--batch-size does not apply to the concentration task"),
    # flags the task does not read are refused instead of being ignored
    case(f"{T} --babi-task 3", "--babi-task 3 does not apply to train --task associations"),
    case(f"{T} --num-cells 6", "--num-cells 6 does not apply to train --task associations"),
    case(f"{T} --constant-lr", "--constant-lr does not apply to train --task associations"),
    case(f"{T} --encoders {{tmp}}/cm_encoders.safetensors",
         "--encoders {tmp}/cm_encoders.safetensors does not apply to train --task associations"),
    case(f"{T} {CM} --network hmem", "--network hmem does not apply to train --task cross-modal"),
    case(f"{T} {CM} --readout-window 5", "--readout-window 5 does not apply to train --task cross-modal"),
    case(f"{T} {CM} --encoder-ways 5", "--encoder-ways 5 does not apply to train --task cross-modal"),
    case(f"{T} {BA} --compile", "--compile does not apply to train --task babi"),
    case(f"{T} {BA} --sequence-length 3", "--sequence-length 3 does not apply to train --task babi"),
    case(f"{T} {BA} --network lstm", "--network lstm does not apply to train --task babi"),
    case(f"{T} {OM} --num-classes 3", "--num-classes 3 does not apply to train --task omniglot"),
    case(f"{T} {OM} --test-lengths 3", "--test-lengths 3 does not apply to train --task omniglot"),
    case(f"{T} {CO} --l2 0.1", "--l2 0.1 does not apply to train --task concentration"),
    case(f"{T} {CO} --dataset-seed 3", "--dataset-seed 3 does not apply to train --task concentration"),
    case(f"{T} {CO} --learning-rate-decay 0.5", "--learning-rate-decay 0.5 does not apply"),
    case("test hebbian --task concentration --checkpoint {tmp}/concentration.safetensors --batch-size 4",
         "--batch-size 4 does not apply to test --task concentration"),
    case("test hebbian --task concentration --checkpoint {tmp}/concentration.safetensors --sequence-length 4",
         "--sequence-length 4 does not apply to test --task concentration"),
    case("test hebbian --task omniglot --checkpoint {tmp}/omniglot.safetensors --sequence-length 3",
         "--sequence-length 3 does not apply to test --task omniglot"),
    case("test hebbian --task babi --checkpoint {tmp}/babi.safetensors --test-lengths 2",
         "--test-lengths 2 does not apply to test --task babi"),
    case("test hebbian --task cross-modal --checkpoint {tmp}/crossmodal.safetensors --sequence-length 11",
         "--sequence-length must be 1..10"),
    case("test hebbian --checkpoint {tmp}/assoc.safetensors --test-lengths 4", "test sequence length 4"),
    case("test hebbian --checkpoint {tmp}/assoc.safetensors --sequence-length 5", "test sequence length 5"),
    case("test hebbian --task cross-modal --checkpoint {tmp}/crossmodal.safetensors --device bogus",
         "unknown device 'bogus'"),
    case(f"{T} --test --checkpoint {{tmp}}/assoc.safetensors --epochs 3", "--epochs 3 is a training flag"),
    case(f"{T} --test --checkpoint {{tmp}}/assoc.safetensors --network hmem",
         "--network hmem is a training flag"),
    case("predict hebbian", "predict is not available for hebbian"),
    case("predict hebbian --task omniglot --checkpoint {tmp}/omniglot.safetensors",
         "predict is not available"),
]  # fmt: skip

FILES = [
    case(f"{T} --checkpoint {{tmp}}/omniglot.safetensors",
         "is not a trained hebbian associations network: it is a checkpoint of --task omniglot"),
    case(f"{T} --checkpoint {{tmp}}/cm_encoders.safetensors", "it holds pre-trained encoders"),
    case(f"{T} --checkpoint {{tmp}}/assoc.safetensors {TINY} --embedding-size 8 --num-classes 4 "
         "--sequence-length 2",
         "assoc.safetensors' does not fit 'model'"),
    case(f"{T} --checkpoint {{tmp}}/nan_assoc.safetensors", "holds 1 NaN or infinite value"),
    case(f"{T} --checkpoint {{tmp}}/assoc.safetensors --memory-size 1000000", "does not fit in memory"),
    case(f"{T} {TINY} --memory-size 1000000 --embedding-size 8", "does not fit in memory (an allocation of"),
    case(f"{T} {OM} --encoders {{tmp}}/cm_encoders.safetensors", "does not hold an Omniglot ProtoNet"),
    case(f"{T} {OM} --encoders {{tmp}}/omniglot.safetensors", "does not hold an Omniglot ProtoNet encoder"),
    case(f"{T} {OM} --encoders {{tmp}}/nan_proto.safetensors", "holds 1 NaN or infinite value"),
    case(f"{T} {OM} --encoders {{tmp}}/proto32.safetensors", "has 32 features; the task needs 64"),
    case(f"{T} {OM} --encoders {{tmp}}/missing.safetensors", "missing.safetensors' does not exist"),
    case(f"{T} {OM} --encoders {{tmp}}/a_folder", "a_folder' is a folder"),
    case(f"{T} {OM} --encoders {{tmp}}/truncated.safetensors", "not a readable safetensors file"),
    case(f"{T} {OM} --encoders {{tmp}}/proto.safetensors --checkpoint {{tmp}}/omniglot.safetensors",
         "--encoders and --checkpoint both give the encoder"),
    case(f"{T} {OM} --checkpoint {{tmp}}/crossmodal.safetensors", "it is a checkpoint of --task cross-modal"),
    case(f"{T} {OM} --checkpoint {{tmp}}/omniglot.safetensors --memory-size 9", "does not fit 'model'"),
    case(f"{T} {CM} --encoders {{tmp}}/proto.safetensors", "does not hold cross-modal encoders"),
    case(f"{T} {CM} --encoders {{tmp}}/nan_cm_encoders.safetensors", "holds 1 NaN or infinite value"),
    case(f"{T} {CM} --encoders {{tmp}}/cm_small_encoders.safetensors", "its audio encoder takes 5 inputs"),
    case(f"{T} {CM} --encoders {{tmp}}/demo.safetensors", "written by model 'demo'"),
    case(f"{T} {CM} --encoders {{tmp}}/cm_encoders.safetensors --checkpoint {{tmp}}/crossmodal.safetensors",
         "--encoders and --checkpoint both give the encoders"),
    case(f"{T} {CM} --checkpoint {{tmp}}/crossmodal.safetensors --memory-size 9", "does not fit 'model'"),
    case(f"{T} {CO} --checkpoint {{tmp}}/concentration.safetensors --num-cells 6", "does not fit 'model'"),
    case(f"{T} {CO} --checkpoint {{tmp}}/babi.safetensors", "it is a checkpoint of --task babi"),
    case(f"{T} {BA} --checkpoint {{tmp}}/assoc.safetensors", "it is a checkpoint of --task associations"),
    case("test hebbian --checkpoint {tmp}/omniglot.safetensors", "it is a checkpoint of --task omniglot"),
    case("test hebbian --task omniglot --checkpoint {tmp}/assoc.safetensors", "not a trained hebbian omni"),
    case("test hebbian --task cross-modal --checkpoint {tmp}/concentration.safetensors",
         "it is a checkpoint of --task concentration"),
    case("test hebbian --task babi --checkpoint {tmp}/crossmodal.safetensors", "not a trained hebbian babi"),
    case("test hebbian --task concentration --checkpoint {tmp}/proto.safetensors", "pre-trained encoders"),
    case("test hebbian --task omniglot --checkpoint {tmp}/nan_omniglot.safetensors", "NaN or infinite"),
    case("test hebbian --checkpoint {tmp}/string_length_assoc.safetensors",
         "holds --sequence-length 'abc', which is not allowed; expected a whole number >= 1"),
    case("test hebbian --checkpoint {tmp}/nan_rate_assoc.safetensors", "holds --learning-rate nan"),
    case("test hebbian --checkpoint {tmp}/bool_size_assoc.safetensors", "holds --memory-size True"),
    case("test hebbian --checkpoint {tmp}/combination_assoc.safetensors",
         "holds settings that do not work: --sequence-length 5 needs at least as many classes"),
    case("test hebbian --checkpoint {tmp}/wider_assoc.safetensors", "wider_assoc.safetensors' does not fit"),
    case("test hebbian --task omniglot --checkpoint {tmp}/string_size_omniglot.safetensors",
         "holds --memory-size 'x'"),
    case("test hebbian --task concentration --checkpoint {tmp}/string_size_concentration.safetensors",
         "holds --memory-size 'x'"),
    case("test hebbian --task cross-modal --checkpoint {tmp}/wider_crossmodal.safetensors", "does not fit"),
]  # fmt: skip

DATA = [  # HYBRIDSNN_OFFLINE=1: a missing dataset is one line, no download is tried
    case(f"{T} {OM} --data-root {{tmp}}/a_folder", "dataset 'omniglot' split 'small1' not found"),
    case(f"{T} {CM} --data-root {{tmp}}/a_folder", "dataset 'fsdd' split 'train' not found"),
    case(f"{T} {BA} --data-root {{tmp}}/a_folder",
         "dataset 'babi' split 'train' not found: missing {tmp}/a_folder/babi/tasks_1-20_v1-2/en-10k/"
         "qa1_single-supporting-fact_train.txt (downloads"),
    case(f"{T} {BA} --babi-task 7 --data-root {{tmp}}/a_folder", "qa7_counting_train.txt (downloads"),
    case(f"{T} {BA} --data-root {{tmp}}/a_file.txt", "a_file.txt"),
    case("test hebbian --task omniglot --checkpoint {tmp}/omniglot.safetensors --data-root {tmp}/a_folder",
         "dataset 'omniglot'"),
    case("test hebbian --task cross-modal --checkpoint {tmp}/crossmodal.safetensors "
         "--data-root {tmp}/a_folder", "dataset 'fsdd'"),
    case("test hebbian --task babi --checkpoint {tmp}/babi.safetensors --data-root {tmp}/a_folder",
         "dataset 'babi' split 'train' not found"),
]  # fmt: skip

RUNS = [
    case(f"{T} --resume {{tmp}}/nan_rate_run", "config.json holds --learning-rate nan, which is not allowed"),
    case(f"{T} --resume {{tmp}}/string_epochs_run", "config.json holds --epochs 'abc'"),
    case(f"{T} --resume {{tmp}}/zero_batch_run", "config.json holds --batch-size 0"),
    case(f"{T} --resume {{tmp}}/unknown_network_run", "config.json holds --network 'gru'"),
    case(f"{T} --resume {{tmp}}/scalar_lengths_run", "config.json holds --test-lengths 5"),
    case(f"{T} --resume {{tmp}}/babi_flag_run", "--babi-task 3 does not apply to train --task associations"),
    case(f"{T} --resume {{tmp}}/damaged_run", "last.safetensors' is not a readable safetensors file"),
    case(f"{T} --resume {{tmp}}/nan_last_run", "last.safetensors': tensor"),
    case(f"{T} --resume {{tmp}}/interrupted_run --learning-rate nan", "argument --learning-rate: 'nan'"),
    case(f"{T} --resume {{tmp}}/interrupted_run --epochs 9", "--epochs 9 differs from the run's stored 1"),
    case("plot hebbian {tmp}/corrupt_ood_run", "ood.json' is unreadable or corrupt"),
    case("plot hebbian {tmp}/wrong_ood_run", "is not an ood.json of a hebbian associations run"),
    case("plot hebbian {tmp}/interrupted_run {tmp}/corrupt_ood_run", "ood.json' is unreadable or corrupt"),
    case("plot hebbian {tmp}/interrupted_run {tmp}/hebbian_run", "has no ood.json"),
    case("plot hebbian {tmp}/nan_best_run", "best.safetensors': tensor"),
    case("plot hebbian {tmp}/corrupt_baselines_run", "baselines file"),
    case("plot hebbian {tmp}/crossmodal_run", "dataset 'fsdd'"),
    case("plot hebbian {tmp}/hebbian_run", "has no hebbian metrics or checkpoint to plot"),
]  # fmt: skip

CASES = FLAGS + COMBINATIONS + FILES + DATA + RUNS

TORCHRUN = [  # WORLD_SIZE=2: the checks before the process group is joined
    case(f"{T} {CM}", "--task cross-modal trains in one process; start it without torchrun"),
    case(f"{T} {CO}", "--task concentration trains in one process"),
    case(f"{T} --batch-size 7", "--batch-size 7 must be divisible by the 2 torchrun processes"),
    case(f"{T} {BA} --batch-size 5", "--batch-size 5 must be divisible by the 2 torchrun processes"),
    case(f"{T} {OM} --batch-size 33", "--batch-size 33 must be divisible"),
]


def _args(*flags: str):
    return train_parser().parse_args([*TINY.split(), *flags])


def _save(path, task: str, model, args, **config) -> None:
    tensors, extra = checkpoint_payload({"model": model})
    stored = {**vars(args), "model": "hebbian", "task": task, "command": "train", **config}
    stored.pop("resume"), stored.pop("test")
    save_checkpoint(path, tensors, model="hebbian", config=stored, extra=extra)


def _with_nan(source, target) -> None:
    checkpoint = load_checkpoint(source)
    tensors = dict(checkpoint.tensors)
    name = next(iter(tensors))
    tensors[name] = tensors[name].astype(np.float32).copy()
    tensors[name].flat[0] = np.nan
    save_checkpoint(target, tensors, model="hebbian", config=checkpoint.config, extra=checkpoint.extra)


def _with_config(source, target, **changes) -> None:
    checkpoint = load_checkpoint(source)
    config = {**checkpoint.config, **changes}
    save_checkpoint(target, checkpoint.tensors, model="hebbian", config=config, extra=checkpoint.extra)


def _run(folder, name: str, checkpoint=None, status: str = "interrupted", **config):
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    stored = {**load_checkpoint(folder / "assoc.safetensors").config, "epochs": 1, **config}
    (run / "config.json").write_text(json.dumps(stored))
    (run / "status.json").write_text(json.dumps({"status": status}))
    if checkpoint is not None:
        (run / "checkpoints" / "last.safetensors").write_bytes((folder / checkpoint).read_bytes())
    return run


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The shared files plus untrained checkpoints of every task, encoder files and run folders."""
    folder = scratch_files(tmp_path_factory.mktemp("hebbian-bad-input"))
    args = _args("--embedding-size", "8", "--num-classes", "3", "--sequence-length", "2")
    config = AssociationConfig.from_mapping(associations_run.resolve_settings(args))
    _save(folder / "assoc.safetensors", "associations", build_network(config), args)
    _save(folder / "babi.safetensors", "babi", build_network(config), args)
    args = _args("--task", "omniglot")
    bundle = omniglot_run._Bundle(omniglot_run._config(omniglot_run.resolve_settings(args)))
    _save(folder / "omniglot.safetensors", "omniglot", bundle, args)
    args = _args("--task", "cross-modal", "--data-root", str(folder / "a_folder"))
    bundle = crossmodal_run._Bundle(CrossModalConfig.from_mapping(crossmodal_run.resolve_settings(args)))
    _save(folder / "crossmodal.safetensors", "cross-modal", bundle, args)
    save_encoders(folder / "cm_encoders.safetensors", bundle.encoders())
    small = {"audio": DigitEncoder(5), "image": DigitEncoder(5)}
    save_encoders(folder / "cm_small_encoders.safetensors", small)
    args = _args("--task", "concentration", "--embedding-size", "8", "--num-envs", "8", "--ppo-batches", "2")
    settings = concentration_run.resolve_settings(args)
    policy = concentration_run.build_policy(settings, concentration_run.game_config(settings))
    _save(folder / "concentration.safetensors", "concentration", policy, args)
    save_protonet(folder / "proto.safetensors", ProtoEncoder(64))
    save_protonet(folder / "proto32.safetensors", ProtoEncoder(32))
    for name in ("assoc", "omniglot", "cm_encoders", "proto"):
        _with_nan(folder / f"{name}.safetensors", folder / f"nan_{name}.safetensors")
    assoc = folder / "assoc.safetensors"
    _with_config(assoc, folder / "string_length_assoc.safetensors", sequence_length="abc")
    _with_config(assoc, folder / "nan_rate_assoc.safetensors", learning_rate=float("nan"))
    _with_config(assoc, folder / "bool_size_assoc.safetensors", memory_size=True)
    _with_config(assoc, folder / "combination_assoc.safetensors", sequence_length=5, num_classes=3)
    _with_config(assoc, folder / "wider_assoc.safetensors", memory_size=12)
    _with_config(folder / "omniglot.safetensors", folder / "string_size_omniglot.safetensors",
                 memory_size="x")  # fmt: skip
    _with_config(folder / "concentration.safetensors", folder / "string_size_concentration.safetensors",
                 memory_size="x")  # fmt: skip
    _with_config(folder / "crossmodal.safetensors", folder / "wider_crossmodal.safetensors", memory_size=12)
    _run(folder, "interrupted_run", "assoc.safetensors")
    _run(folder, "nan_rate_run", learning_rate=float("nan"))
    _run(folder, "string_epochs_run", epochs="abc")
    _run(folder, "zero_batch_run", batch_size=0)
    _run(folder, "unknown_network_run", network="gru")
    _run(folder, "scalar_lengths_run", test_lengths=5)
    _run(folder, "babi_flag_run", babi_task=3)
    (_run(folder, "damaged_run") / "checkpoints" / "last.safetensors").write_bytes(b"\x08\x00\x00\x00garbage")
    _run(folder, "nan_last_run", "nan_assoc.safetensors")
    (_run(folder, "corrupt_ood_run", status="completed") / "ood.json").write_text('{"network": "snn", "len')
    wrong = {"network": "snn", "trained_length": 2, "lengths": [1, 2], "accuracy": [0.5]}
    (_run(folder, "wrong_ood_run", status="completed") / "ood.json").write_text(json.dumps(wrong))
    good = {"network": "snn", "trained_length": 2, "lengths": [1, 2], "accuracy": [0.9, 0.5]}
    (folder / "interrupted_run" / "ood.json").write_text(json.dumps(good))
    best = _run(folder, "nan_best_run", status="completed") / "checkpoints" / "best.safetensors"
    best.write_bytes((folder / "nan_assoc.safetensors").read_bytes())
    run = _run(folder, "corrupt_baselines_run", status="completed", task="concentration")
    (run / "baselines.json").write_text("{not json")
    record = {"split": "val", "epoch": 1, "step": 1, "flips": 9.0}
    (run / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    run = _run(folder, "crossmodal_run", status="completed", task="cross-modal")
    (run / "checkpoints" / "best.safetensors").write_bytes((folder / "crossmodal.safetensors").read_bytes())
    _run(folder, "hebbian_run", status="completed")
    return folder


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No download is tried for a missing dataset, and no torchrun environment leaks in."""
    monkeypatch.setenv("HYBRIDSNN_OFFLINE", "1")
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)


def test_matrix_has_the_hebbian_cases():
    assert len(CASES) + len(TORCHRUN) >= 40
    tasks = {"cross-modal", "omniglot", "babi", "concentration"}
    assert all(any(f"--task {task}" in " ".join(c.argv) for c in CASES) for task in tasks)


@pytest.mark.parametrize("bad", params(CASES))
def test_refused_with_one_line_and_nothing_written(bad: Case, tmp_path, capsys, scratch):
    assert_refused(bad, tmp_path, capsys, scratch=scratch)


@pytest.mark.parametrize("bad", params(TORCHRUN))
def test_torchrun_splits_are_checked_before_the_process_group(bad, tmp_path, capsys, scratch, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert_refused(bad, tmp_path, capsys, scratch=scratch)
