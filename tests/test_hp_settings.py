"""HP-SNN's method table and typed settings: resolved once per run, stored under the same config keys."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hybridsnn import cli
from hybridsnn.errors import UserError
from hybridsnn.hp.cnn import CNN_CONFIGS, HPConvNet, sized_for_images
from hybridsnn.hp.methods import EWC, GP, HP, LP, METHOD_FLAGS_OF, methods_of, resolve_method
from hybridsnn.hp.mlp import HPMLP, TOLERANCE
from hybridsnn.hp.multitask import MultitaskConfig, MultitaskNet
from hybridsnn.hp.networks import build_network
from hybridsnn.hp.settings import QUICK, HPSettings, settings_from
from hybridsnn.hp.system import TASKS

#: The keys every HP run stores in its checkpoints' config (a quick classification run adds cnn_divisors).
CONFIG_KEYS = [
    "task", "method", "dataset", "epochs", "batch_size", "lr", "local_lr", "train_subset", "test_subset",
    "tasks", "meta_tasks", "hidden", "sparsity", "ewc_lambda", "iterations", "eval_every", "ways", "shots",
    "omniglot_sets", "test_episodes",
]  # fmt: skip


def _settings(*argv: str) -> HPSettings:
    return settings_from(cli.build_model_parser("hybridsnn", "train", "hp").parse_args(list(argv)))


def test_each_task_offers_its_methods_in_the_seed_order():
    assert {task: methods_of(task) for task in TASKS} == {
        "simple": ("hp", "gp", "lp"),
        "classification": ("hp", "gp"),
        "tolerance": ("hp", "gp"),
        "fewshot": ("hp", "gp"),
        "multitask": ("hp", "gp", "ewc"),
    }
    assert METHOD_FLAGS_OF == {"local_lr": ("hp", "lp"), "meta_tasks": ("hp",), "ewc_lambda": ("ewc",)}
    assert resolve_method("simple", None) is HP and resolve_method("multitask", "ewc") is EWC
    with pytest.raises(UserError, match="--method 'lp' is not available for task tolerance; allowed: hp, gp"):
        resolve_method("tolerance", "lp")


def test_a_network_refuses_a_method_its_tasks_do_not_offer():
    with pytest.raises(UserError, match="unknown HP MLP method 'ewc'; allowed: hp, gp, lp"):
        HPMLP(TOLERANCE, EWC)
    with pytest.raises(UserError, match="unknown multitask method 'lp'"):
        MultitaskNet(MultitaskConfig(hidden=4), LP)


def test_settings_resolve_seed_defaults_flags_and_quick_caps():
    simple = _settings("--task", "simple", "--method", "gp")
    assert (simple.method, simple.epochs, simple.batch_size) == (GP, 30, 100)
    assert (simple.lr, simple.local_lr) == (1e-3, 5e-4)
    cifar = _settings("--task", "classification", "--dataset", "cifar10", "--quick")
    assert (cifar.lr, cifar.batch_size, cifar.cnn_divisors) == (0.08, QUICK.cnn_batch, QUICK.cnn_divisors)
    assert (cifar.train_subset, cifar.test_subset, cifar.epochs) == (*QUICK.cnn_subsets, 1)
    fewshot = _settings("--task", "fewshot", "--quick", "--iterations", "30")
    assert (fewshot.fewshot.iterations, fewshot.fewshot.eval_every, fewshot.dataset) == (30, 30, "omniglot")
    part = _settings("--task", "multitask", "--quick", "--sparsity", "0.5").multitask
    assert (part.tasks, part.hidden, part.sparsity) == (3, 128, 0.5)


ARGV = [
    ("--task", "simple"),
    ("--task", "classification", "--quick"),
    ("--task", "fewshot", "--ways", "3"),
    ("--task", "multitask", "--method", "ewc"),
]


@pytest.mark.parametrize("argv", ARGV)
def test_settings_round_trip_through_the_stored_config_with_the_same_keys(argv):
    settings = _settings(*argv)
    config = settings.to_config()
    extra = ["cnn_divisors"] if settings.cnn_divisors else []
    assert list(config) == CONFIG_KEYS + extra and config["method"] == settings.method.name
    assert HPSettings.from_config(config) == settings


def test_a_checkpoint_config_with_only_the_network_settings_builds_the_network():
    settings = HPSettings.from_config({"task": "fewshot", "method": "gp", "dataset": "omniglot", "ways": 3})
    network = build_network(settings)
    assert settings.lr == network.config.weight_lr == 8e-5 and network.config.ways == 3
    assert not network.readout.alpha.requires_grad  # GP's α stays at its random start


@pytest.mark.parametrize("dataset", sorted(CNN_CONFIGS))
def test_a_cnn_sized_for_its_own_images_is_the_seeds_cnn(dataset):
    config = CNN_CONFIGS[dataset]  # MNIST 1x28x28: 256 x 3 x 3 = 2304 inputs of fc1; CIFAR: 512 x 8 x 8
    assert sized_for_images(config, config.input_shape, 10, dataset) == config


def test_a_cnn_sized_for_other_images_changes_only_its_ends():
    mnist = CNN_CONFIGS["mnist"]
    sized = sized_for_images(mnist, (3, 17, 40), 4, "own.npz")  # 17x40 -> 8x20 -> 4x10 -> 2x5 (floor)
    assert sized.input_shape == (3, 17, 40) and sized.convs[0].channels_in == 3
    assert sized.convs[1:] == mnist.convs[1:]
    dense = [(d.kind, d.n_in, d.n_out) for d in sized.dense]
    assert dense == [("plastic", 256 * 2 * 5, 512), ("spiking", 512, 4)]
    assert replace(sized, input_shape=mnist.input_shape, convs=mnist.convs, dense=mnist.dense) == mnist
    with pytest.raises(UserError, match="holds 17x7 images; the mnist CNN pools them 3 times"):
        sized_for_images(mnist, (1, 17, 7), 4, "own.npz")
    network = HPConvNet(sized_for_images(mnist, (1, 8, 8), 2, "own.npz"))  # the smallest: 1x1 after pooling
    assert network(torch.rand(2, 1, 8, 8)).shape == (2, 2)
