"""Generate and nvcc-compile every GeNN network of the project with GeNN's cuda backend, without loading.

Run by tests/test_genn_cuda_build.py in a child process whose environment holds the fake device
(tests/cuda/fake_device.c); prints one JSON object: network name -> path of its compiled runner.
Usage: python tests/cuda/build_networks.py BUILD_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from hybridsnn.shifting.reference import LayerParams
from hybridsnn.shifting.stepped import SteppedNetwork
from hybridsnn.sym_stdp.config import make_config
from hybridsnn.sym_stdp.network import EngineChoice, InferenceNetwork, TrainingNetwork, initial_weights

PREFERENCES = (("device_select_method", "MANUAL"), ("block_size_select_method", "MANUAL"))


def main(build_dir: Path) -> dict[str, str]:
    engine = EngineChoice("genn", "cuda", str(build_dir), preferences=PREFERENCES)
    built = {}
    for n in (100, 6400):
        config = make_config("mnist", n)
        p2e, e2c = initial_weights(config, np.random.default_rng(0))
        theta = np.full(n, config.theta_init, np.float32)
        for net in (
            TrainingNetwork(config, p2e, e2c, theta, engine=engine, seed=1, load=False),
            InferenceNetwork(config, engine=engine, seed=1, batch=32, load=False),
        ):
            built[net.model.name] = net.model.build_info["build_dir"]
    generator = torch.Generator().manual_seed(0)
    layers = [LayerParams.init(a, b, generator, torch.float32) for a, b in ((4, 16), (16, 3))]
    stepped = SteppedNetwork(layers, engine="genn", backend="cuda", batch_size=8, build_dir=build_dir,
                             genn_preferences=dict(PREFERENCES), load=False)  # fmt: skip
    built[stepped._model.name] = stepped._model.build_info["build_dir"]
    return built


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
