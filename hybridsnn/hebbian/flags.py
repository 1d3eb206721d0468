"""The flags of ``hybridsnn train|test|plot hebbian`` (the seed's names with dashes) and which task reads
which training flag (a flag given to a task that does not read it is refused)."""

from __future__ import annotations

import argparse

from hybridsnn.checks import values
from hybridsnn.flag_groups import add_device_flags
from hybridsnn.hebbian.concentration.flags import FLAGS as CONCENTRATION_FLAGS
from hybridsnn.hebbian.concentration.flags import add_arguments as add_concentration_flags
from hybridsnn.hebbian.networks import NETWORKS


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The seed's flags (with dashes) for train/test; plot: runs to compare."""
    if command == "plot":
        parser.add_argument(
            "compare",
            nargs="*",
            metavar="RUN_DIR",
            help="more associations runs drawn together with the first: accuracy vs stored pairs per network "
            "(sweep.png) and their out-of-distribution curves (ood_comparison.png)",
        )
        return
    add_device_flags(parser)
    add = parser.add_argument
    # fmt: off
    add("--batch-size", type=values.count, default=None, metavar="N",
        help="examples per batch, over all processes, >= 1 (default 512; babi, cross-modal, omniglot 256)")
    add("--sequence-length", type=values.count, default=None, metavar="L",
        help="pairs to store per example, >= 1, <= --num-classes (default 10; cross-modal 3, 1..10)")
    add("--test-lengths", type=values.count, nargs="+", default=None, metavar="L",
        help="associations: also test at these sequence lengths (out-of-distribution; each 1..classes)")
    add("--test-size", type=values.count, default=None, metavar="N",
        help="test examples, >= 1 (default 2000)")
    if command != "train":
        return
    add("--babi-task", type=values.integer(1, 20), default=None, metavar="N",
        help="babi: task 1..20 of bAbI v1.2 en-10k (default 1)")
    add("--max-num-sentences", type=values.count, default=None, metavar="N",
        help="babi: drop stories longer than N sentences, >= 1 (default 50)")
    add("--encoders", default=None, metavar="PATH",
        help="cross-modal, omniglot: encoders file written by an earlier run of the same task "
        "(RUN/checkpoints/encoders.safetensors) instead of pre-training them")
    add("--encoder-epochs", type=values.count, default=None, metavar="N",
        help="cross-modal, omniglot: encoder pre-training epochs, >= 1 (cross-modal 10, omniglot 100)")
    add("--encoder-iterations", type=values.count, default=None, metavar="N",
        help="omniglot: ProtoNet episodes per epoch, >= 1 (default 100)")
    add("--encoder-ways", type=values.integer(2), default=None, metavar="N",
        help="omniglot: classes per ProtoNet training episode, >= 2 (default 60)")
    add("--network", default="snn", choices=NETWORKS,
        help="associations: snn (default), hmem (ReLU H-Mem) or lstm")
    add("--num-classes", type=values.count, default=None, metavar="N",
        help="associations: number of labels, >= 1 (default 10)")
    add("--feature-size", type=values.count, default=10, metavar="F",
        help="associations: feature vector size, >= 1 (default 10)")
    add("--num-time-steps", type=values.count, default=None, metavar="T",
        help="steps (ms) per item, >= 1 (default 100)")
    add("--embedding-size", type=values.count, default=None, metavar="E",
        help="encoder neurons per stream, >= 1 (default 80; cross-modal, omniglot: their encoders' 64)")
    add("--memory-size", type=values.count, default=None, metavar="M",
        help="key/value neurons, >= 1 (default 100)")
    add("--w-max", type=values.positive, default=1.0,
        help="soft upper bound of memory weights, > 0 (default 1)")
    add("--gamma-pos", type=values.non_negative, default=None,
        help="potentiation rate γ+ per step, >= 0 (default 0.3; hmem 0.1)")
    add("--gamma-neg", type=values.non_negative, default=None,
        help="depression rate γ− per step, >= 0 (default 0.3; hmem 0.1)")
    add("--tau-trace", type=values.positive, default=None, metavar="MS",
        help="trace time constant in ms, > 0 (default 20)")
    add("--readout-delay", type=values.count, default=None, metavar="STEPS",
        help="value→key feedback delay in steps, >= 1 (default 1; babi 30)")
    add("--readout-window", type=values.count, default=None, metavar="STEPS",
        help="last recall steps counted by the read-out, 1..--num-time-steps (default 30; not cross-modal)")
    add("--thr", type=values.positive, default=None,
        help="firing threshold in input units, > 0 (default 0.1; cross-modal 0.05)")
    add("--perfect-reset", action="store_true", help="reset the membrane to 0 after a spike")
    add("--refractory-time-steps", type=values.non_negative_integer, default=3, metavar="STEPS",
        help="refractory period in steps, >= 0 (default 3)")
    add("--tau-mem", type=values.positive, default=None, metavar="MS",
        help="membrane time constant in ms, > 0 (default 20)")
    add("--dampening-factor", type=values.positive, default=1.0,
        help="surrogate-gradient height, > 0 (default 1)")
    add("--epochs", type=values.count, default=None, metavar="N", help="training epochs, >= 1 (default 250)")
    add("--iterations", type=values.count, default=None, metavar="N",
        help="batches per epoch, >= 1 (default: ceil(9000 / batch))")
    add("--learning-rate", type=values.positive, default=None, metavar="LR",
        help="Adam learning rate, > 0 (default 3e-3; hmem and lstm 1e-3)")
    add("--learning-rate-decay", type=values.number(0.0, 1.0, open_min=True), default=0.85,
        help="learning-rate factor every --decay-learning-rate-every epochs, in (0, 1] (default 0.85)")
    add("--decay-learning-rate-every", type=values.count, default=20, metavar="N",
        help="epochs between learning-rate decays, >= 1 (default 20)")
    add("--max-grad-norm", type=values.non_negative, default=None,
        help="gradient-norm clipping, >= 0 (default 40; concentration 0.5; 0 = off)")
    add("--l2", type=values.non_negative, default=None,
        help="rate-regulariser weight from epoch 2, >= 0 (default 1e-5; hmem 0)")
    add("--target-rate", type=values.non_negative, default=0.0, metavar="HZ",
        help="regulariser target rate in Hz, >= 0 (default 0)")
    add("--val-size", type=values.count, default=None, metavar="N",
        help="validation examples, >= 1 (default 1000)")
    add("--dataset-seed", type=values.seed, default=42,
        help="seed of the data split and the validation/test sets, 0..2**32-1 (default 42)")
    add("--checkpoint-steps", type=values.non_negative_integer, default=0, metavar="K",
        help="recompute the store loop in blocks of K steps in the backward pass (less memory; 0 = off)")
    add("--compile", action="store_true",
        help="torch.compile the store step (~2x faster; compiles ~30 s; not babi, cross-modal)")
    add(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="plain autograd plasticity instead of the fused node (same numbers, more memory)",
    )
    # fmt: on
    add_concentration_flags(add)


#: Training flags that only some tasks read (destination → those tasks); given to another task they are
#: refused instead of being ignored. (The tasks' own checks come first: omniglot and concentration name
#: --network, cross-modal and omniglot --embedding-size, omniglot --sequence-length, concentration
#: --batch-size.)
ALL_BUT_CONCENTRATION = ("associations", "omniglot", "cross-modal", "babi")
TRAIN_FLAGS_OF = {
    "babi_task": ("babi",),
    "max_num_sentences": ("babi",),
    "encoders": ("cross-modal", "omniglot"),
    "encoder_epochs": ("cross-modal", "omniglot"),
    "encoder_iterations": ("omniglot",),
    "encoder_ways": ("omniglot",),
    "network": ("associations",),
    "num_classes": ("associations",),
    "feature_size": ("associations",),
    "sequence_length": ("associations", "cross-modal", "omniglot"),
    "test_lengths": ("associations",),
    "readout_window": ("associations", "omniglot", "babi", "concentration"),
    "compile": ("associations", "omniglot", "concentration"),
    "batch_size": ALL_BUT_CONCENTRATION,
    "learning_rate_decay": ALL_BUT_CONCENTRATION,
    "decay_learning_rate_every": ALL_BUT_CONCENTRATION,
    "l2": ALL_BUT_CONCENTRATION,
    "target_rate": ALL_BUT_CONCENTRATION,
    "dataset_seed": ALL_BUT_CONCENTRATION,
    **{name: ("concentration",) for name in CONCENTRATION_FLAGS},
}
#: The same for ``test``: what each task's evaluation reads.
TEST_FLAGS_OF = {
    "sequence_length": ("associations", "cross-modal"),
    "test_lengths": ("associations",),
    "batch_size": ALL_BUT_CONCENTRATION,
}
