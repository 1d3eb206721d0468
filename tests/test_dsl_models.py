"""DSL architectures: the local classifiers' pooling, parameter counts and output shapes of the six models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hybridsnn.dsl.block import LocalBlock, dsl_lif_config
from hybridsnn.dsl.decoder import decoder_pooling
from hybridsnn.dsl.network import ARCHITECTURES, build_network, get_architecture, prepare_input, sized_layers
from hybridsnn.dsl.rules import TRAINERS
from hybridsnn.dsl.settings import NETWORK_KEYS, DSLSettings
from hybridsnn.errors import UserError

LIF = dsl_lif_config()

# docs/dsl.md, «Model and equations»: (channels, dim_out) -> pooling kernel, pooled decoder input with
# --dim-in-decoder 1024
POOLING = [
    ((12, 24), (4, 2), 864),  # MNISTCNN conv1
    ((64, 8), (2, 2), 1024),  # MNISTCNN conv2, FashionCNN conv2
    ((32, 24), (8, 4), 576),  # FashionCNN conv1
    ((64, 32), (8, 8), 1024),  # SVHNCNN conv1-2
    ((128, 16), (8, 4), 1024),  # SVHNCNN conv3-5
    ((96, 32), (16, 8), 768),  # CIFARCNN conv1
    ((256, 32), (16, 16), 1024),  # CIFARCNN conv2
    ((384, 16), (16, 8), 768),  # CIFARCNN conv3
    ((384, 8), (8, 4), 768),  # CIFARCNN conv4
    ((256, 8), (4, 4), 1024),  # CIFARCNN conv5
]

# docs/dsl.md, «Model and equations»: encoder / classifier parameters and number of blocks
PARAMETERS = {
    "MNISTDNN": (627_200, 8_000, 1),
    "FashionDNN": (5_017_600, 64_000, 1),
    "MNISTCNN": (19_500, 18_880, 2),
    "FashionCNN": (1_100_576, 26_240, 3),
    "SVHNCNN": (8_795_840, 61_440, 6),
    "CIFARCNN": (21_146_144, 64_000, 7),
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize(("shape", "kernel", "size"), POOLING)
def test_decoder_pooling_matches_the_seed_table(shape, kernel, size):
    channels, dim_out = shape
    got_kernel, padding, got_size = decoder_pooling(channels, dim_out, 1024)
    assert (got_kernel, padding, got_size) == (kernel, (0, 0), size)
    block = LocalBlock(nn.Conv2d(1, channels, 3, padding=1, bias=False), lif=LIF, dim_out=dim_out)
    assert block.decoder_features == size
    pooled = block.pool(torch.zeros(1, channels, dim_out, dim_out))
    assert pooled[0].numel() == size


def test_decoder_pooling_without_and_with_padding():
    assert decoder_pooling(4, 4, 1024) == (None, (0, 0), 64)  # small enough: no pooling
    # 5 is no multiple of the kernel: h = ceil(5/4) = 2, w = ceil(5/2) = 3, padded to fit
    assert decoder_pooling(3, 5, 20) == ((4, 2), (2, 1), 3 * 2 * 3)
    block = LocalBlock(nn.Conv2d(1, 3, 1, bias=False), lif=LIF, dim_out=5, dim_in_decoder=20)
    assert block.pool(torch.zeros(1, 3, 5, 5)).shape == (1, 3, 2, 3)
    assert block.decoder_features == 18


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_model_has_the_seed_parameters_and_output_shapes(name):
    encoder, decoder, n_blocks = PARAMETERS[name]
    network = build_network(name, lif=LIF)
    assert len(network.blocks) == n_blocks
    assert sum(b.encoder.weight.numel() for b in network.blocks) == encoder
    assert sum(b.decoder.weight.numel() for b in network.blocks) == decoder
    assert all(b.encoder.bias is None for b in network.blocks)
    images = torch.rand(2, *get_architecture(name).input_shape)
    with torch.no_grad():
        outputs = network(images, 2)
    assert [tuple(o.shape) for o in outputs] == [(2, 2, 10)] * n_blocks


def test_between_block_ops_pool_and_flatten_per_step():
    spikes = torch.arange(2 * 3 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 3, 1, 4, 4)
    pooled = prepare_input(spikes, ("pool2",), static=False)
    assert pooled.shape == (2, 3, 1, 2, 2)
    assert pooled[1, 2, 0, 0, 0] == spikes[1, 2, 0, :2, :2].mean()
    assert prepare_input(spikes, ("pool2", "flatten"), static=False).shape == (2, 3, 4)
    assert prepare_input(torch.zeros(5, 1, 28, 28), ("flatten",), static=True).shape == (5, 784)


SETTINGS = {"dataset": "MNIST", "arch": "MNISTDNN", "learning_rule": "FELL", "tau": 1.0, "thresh": 1.0,
            "time_window": 10, "dim_in_decoder": 1024, "fa": False, "random_matrix": False,
            "encoding": "real"}  # fmt: skip


def network_from(config: dict) -> nn.Module:
    return DSLSettings.from_config(config).build()


def test_settings_convert_to_and_from_the_stored_config():
    settings = DSLSettings.from_config({**SETTINGS, "seed": 1234, "epochs": 3})  # other keys are ignored
    assert settings.to_config() == SETTINGS and tuple(SETTINGS) == NETWORK_KEYS
    assert settings.trainer is TRAINERS["FELL"]  # the rule is resolved once, into its function
    assert (settings.seed_dataset, settings.image_shape) == ("MNIST", (1, 28, 28))
    assert settings.decoder == "trained"
    fashion = DSLSettings.from_config({**SETTINGS, "dataset": "fashion-mnist", "fa": True})
    assert (fashion.seed_dataset, fashion.decoder) == ("FashionMNIST", "fa")
    with pytest.raises(AttributeError):
        settings.tau = 2.0  # frozen
    with pytest.raises(UserError, match="lacks the DSL setting"):
        DSLSettings.from_config({k: v for k, v in SETTINGS.items() if k != "encoding"})
    with pytest.raises(UserError, match="unknown learning rule 'SGD'"):
        DSLSettings.from_config({**SETTINGS, "learning_rule": "SGD"})


def test_bad_configurations_are_refused_with_one_line():
    settings = {**SETTINGS, "arch": "CIFARCNN"}
    with pytest.raises(UserError, match=r"CIFARCNN takes \(3, 32, 32\) images but MNIST"):
        network_from(settings)
    with pytest.raises(UserError, match="unknown DSL model 'LeNet'"):
        network_from({**settings, "arch": "LeNet"})
    with pytest.raises(UserError, match="unknown DSL dataset 'ImageNet'"):
        network_from({**settings, "dataset": "ImageNet"})
    with pytest.raises(UserError, match="exclude each other"):
        network_from({**settings, "arch": "MNISTDNN", "fa": True, "random_matrix": True})
    with pytest.raises(UserError, match="tau_ms must be"):
        network_from({**settings, "arch": "MNISTDNN", "tau": 0.0})
    with pytest.raises(UserError, match="--encoding latency needs --time-window >= 2"):
        network_from({**settings, "arch": "MNISTDNN", "encoding": "latency", "time_window": 1})
    with pytest.raises(UserError, match="bias-free"):
        LocalBlock(nn.Linear(3, 3), lif=LIF)
    with pytest.raises(UserError, match="needs dim_out"):
        LocalBlock(nn.Conv2d(1, 2, 3, bias=False), lif=LIF)


def test_decoder_pooling_takes_sizes_from_one_and_refuses_other_values():
    assert decoder_pooling(1, 1, 1) == (None, (0, 0), 1)
    assert decoder_pooling(1, 4, 8) == ((2, 1), (0, 0), 8)  # 16 > 8: halve the height; 8 is small enough
    assert decoder_pooling(4, 2, 1) == ((2, 2), (0, 0), 4)  # the kernel stops at dim_out, size or not
    for bad in (0, -3, True, 2.0, "4"):
        for args in ((bad, 4, 16), (4, bad, 16), (4, 4, bad)):
            name = ("channels", "dim_out", "dim_in_decoder")[args.index(bad)]
            with pytest.raises(UserError, match=rf"^{name} must be an integer >= 1, got {bad!r}$"):
                decoder_pooling(*args)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_layers_sized_for_the_models_own_images_are_the_seeds(name):
    arch = get_architecture(name)  # dim_out and the flattened sizes are written out by hand in the table
    assert sized_layers(arch, arch.input_shape) == arch.layers


def test_a_cnn_sized_for_other_square_images_carries_the_side_through_its_blocks():
    fashion = get_architecture("FashionCNN")
    # 20x20x3: conv5 -> 16; pool 8, conv5 -> 4; pool 2, flatten 64 x 2 x 2 = 256 into the dense block
    layers = sized_layers(fashion, (3, 20, 20))
    assert [(s.n_in, s.n_out, s.dim_out) for s in layers] == [(3, 32, 16), (32, 64, 4), (256, 1024, None)]
    network = build_network("FashionCNN", lif=LIF, num_classes=4, input_shape=(3, 20, 20))
    outputs = network(torch.rand(2, 3, 20, 20), steps=2)
    assert [tuple(o.shape) for o in outputs] == [(2, 2, 4)] * 3
    assert sized_layers(get_architecture("MNISTDNN"), (3, 20, 7))[0].n_in == 420  # any size, dense only
    with pytest.raises(UserError, match=r"takes square images .* holds 20x7x3 images"):
        sized_layers(fashion, (3, 20, 7))
    with pytest.raises(UserError, match="8x8 images shrink to nothing by block 2"):
        sized_layers(fashion, (1, 8, 8))  # conv5 -> 4, pool 2, conv5 -> -2
