"""The network of an HP-SNN run, built from its settings (or from a checkpoint's:
:meth:`~hybridsnn.hp.settings.HPSettings.from_config`)."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from hybridsnn.hp.cnn import CNNConfig, HPConvNet, get_cnn_config, sized_for_images
from hybridsnn.hp.fewshot import FewShotConfig, FewShotNet
from hybridsnn.hp.mlp import HPMLP, SIMPLE, TOLERANCE, MLPConfig
from hybridsnn.hp.multitask import MultitaskConfig, MultitaskNet
from hybridsnn.hp.settings import HPSettings


def cnn_config(settings: HPSettings) -> CNNConfig:
    """The dataset's CNN (a user dataset's: the MNIST CNN sized by its images and classes); a ``--quick``
    run's is narrower (``cnn_divisors``: conv channels and hidden dense stages divided by them), with the
    same neurons, rule, time steps and decoding."""
    config = get_cnn_config(settings.cnn_name)
    if settings.data is not None:
        config = sized_for_images(config, settings.data.chw, len(settings.data.classes), settings.dataset)
    if not settings.cnn_divisors:
        return config
    conv_div, dense_div = settings.cnn_divisors
    convs = tuple(
        replace(
            c,
            channels_in=c.channels_in if i == 0 else c.channels_in // conv_div,
            channels_out=c.channels_out // conv_div,
        )
        for i, c in enumerate(config.convs)
    )
    last = len(config.dense) - 1
    dense = tuple(
        replace(
            d,
            n_in=d.n_in // conv_div if i == 0 else d.n_in // dense_div,
            n_out=d.n_out if i == last else d.n_out // dense_div,
        )
        for i, d in enumerate(config.dense)
    )
    return replace(config, convs=convs, dense=dense)


def mlp_config(settings: HPSettings) -> MLPConfig:
    """The MLP of ``simple`` / ``tolerance``: the seed's 784-512-10, or H·W·C inputs and K outputs for a
    user dataset (the hidden layer and the neuron constants unchanged)."""
    config = SIMPLE if settings.task == "simple" else TOLERANCE
    if settings.data is None:
        return config
    return replace(config, sizes=(settings.data.n_inputs, *config.sizes[1:-1], len(settings.data.classes)))


def build_network(settings: HPSettings) -> nn.Module:
    """The network of the settings' task, method and dataset."""
    task, method = settings.task, settings.method
    if task in ("simple", "tolerance"):
        return HPMLP(mlp_config(settings), method)
    if task == "classification":
        return HPConvNet(cnn_config(settings), method)
    if task == "multitask":
        part = settings.multitask
        return MultitaskNet(MultitaskConfig(hidden=part.hidden, sparsity=part.sparsity), method)
    config = FewShotConfig(ways=settings.fewshot.ways, shots=settings.fewshot.shots)
    return FewShotNet(replace(config, weight_lr=settings.lr, meta_lr=settings.local_lr), method)
