"""Omniglot 1-shot 5-way task of the Hebbian-memory model: data, episodes, ProtoNet, memory network, CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from conftest import require_dataset

from hybridsnn.checkpoint import save_checkpoint
from hybridsnn.cli import main
from hybridsnn.data import OneShotRun
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.hebbian.layers import encode
from hybridsnn.hebbian.omniglot import network as omniglot
from hybridsnn.hebbian.omniglot import run as omniglot_run
from hybridsnn.hebbian.omniglot.data import (
    background_characters,
    one_shot_episodes,
    prepare_images,
    prototypical_episode,
    run_episodes,
    split_characters,
    with_rotations,
)
from hybridsnn.hebbian.omniglot.network import OmniglotConfig, OmniglotSNN
from hybridsnn.hebbian.omniglot.protonet import (
    ProtoEncoder,
    ProtoNetSettings,
    load_protonet,
    pretrain_protonet,
    prototypical_loss,
    save_protonet,
)
from hybridsnn.hebbian.training import AssociationSteps, make_optimizer
from hybridsnn.spiking.distributed import DistributedContext


def _named_pool(classes: int = 12, drawings: int = 6) -> torch.Tensor:
    """Currents that name their item: pool[c, k] = [c, k]."""
    c, k = torch.meshgrid(torch.arange(classes), torch.arange(drawings), indexing="ij")
    return torch.stack([c, k], dim=-1).float()


def test_one_shot_episodes_store_five_classes_and_ask_for_the_position_of_the_query_class():
    batch = one_shot_episodes(_named_pool(), 600, 5, torch.Generator().manual_seed(0))
    assert batch.support.shape == (600, 5, 2) and batch.query.shape == (600, 2) and batch.size == 600
    classes, drawings = batch.support[..., 0].long(), batch.support[..., 1].long()
    assert all(len(set(row.tolist())) == 5 for row in classes)
    rows = torch.arange(600)
    assert torch.equal(classes[rows, batch.target], batch.query[:, 0].long())  # label = position
    assert torch.all(drawings[rows, batch.target] != batch.query[:, 1].long())  # another drawing
    assert torch.bincount(batch.target, minlength=5).min() > 80  # every position is asked for
    assert len(set(classes.flatten().tolist())) == 12
    same = one_shot_episodes(_named_pool(), 600, 5, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batch, same, strict=True))


def test_run_episodes_pick_the_true_class_and_distractors_of_the_same_run():
    runs = [
        OneShotRun(r, np.zeros(0), np.zeros(0), np.random.default_rng(r).permutation(20)) for r in range(3)
    ]
    run_index, classes = torch.meshgrid(torch.arange(3), torch.arange(20), indexing="ij")
    support = torch.stack([run_index, classes], dim=-1).float()  # [3, 20, 2]: (run, class)
    queries = torch.stack([run_index, torch.from_numpy(np.stack([r.answers for r in runs]))], dim=-1).float()
    batch = run_episodes(runs, support, queries, ways=5, seed=1)
    assert batch.size == 60 and batch.support.shape == (60, 5, 2)
    rows = torch.arange(60)
    assert torch.all(batch.support[..., 0] == batch.query[:, :1])  # all candidates from the query's run
    assert all(len(set(row.tolist())) == 5 for row in batch.support[..., 1])
    assert torch.equal(batch.support[rows, batch.target, 1], batch.query[:, 1])
    assert len(set(batch.target.tolist())) == 5


def test_prototypical_episode_uses_distinct_classes_and_drawings():
    images = _named_pool(10, 7)
    support, query = prototypical_episode(images, 4, 2, 3, torch.Generator().manual_seed(3))
    assert support.shape == (4, 2, 2) and query.shape == (4, 3, 2)
    both = torch.cat([support, query], dim=1)
    assert len(set(both[:, 0, 0].tolist())) == 4 and torch.all(both[..., 0] == both[:, :1, 0])
    assert all(len(set(row.tolist())) == 5 for row in both[..., 1])
    with pytest.raises(UserError, match="6 drawings per class"):
        prototypical_episode(images[:, :5], 4, 3, 3)
    with pytest.raises(UserError, match=">= 13 classes"):
        one_shot_episodes(_named_pool(), 1, 13)


def test_prototypical_loss_and_accuracy_equal_the_hand_computed_values():
    support = torch.tensor([[[0.0, 0.0]], [[2.0, 0.0]]])  # prototypes (0, 0) and (2, 0)
    query = torch.tensor([[[0.5, 0.0]], [[2.0, 0.0]]])  # squared distances (0.25, 2.25) and (4, 0)
    loss, accuracy = prototypical_loss(support, query)
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-4.0))) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6) and float(accuracy) == 1.0
    wrong = torch.tensor([[[1.5, 0.0]], [[2.0, 0.0]]])  # the first query is nearer class 1
    assert float(prototypical_loss(support, wrong)[1]) == 0.5
    # prototypes are means over the shots
    two_shots = torch.tensor([[[-1.0, 0.0], [1.0, 0.0]], [[2.0, 1.0], [2.0, -1.0]]])
    torch.testing.assert_close(prototypical_loss(two_shots, query)[0], loss)


def test_images_are_inverted_resized_and_rotated():
    drawing = np.full((105, 105), 255, dtype=np.uint8)
    drawing[:, :15] = 0  # ink in the left seventh
    image = prepare_images(drawing[None])
    assert image.shape == (1, 1, 28, 28)
    assert float(image[0, 0, :, 0].min()) > 0.99 and float(image[0, 0, :, 6:].max()) < 0.01
    rotated = with_rotations(image[None].repeat(2, 3, 1, 1, 1))  # 2 characters × 3 drawings
    assert rotated.shape == (8, 3, 1, 28, 28)
    torch.testing.assert_close(rotated[2], rotated[0].rot90(1, dims=(-2, -1)))  # block 1: 90°
    assert float(rotated[2, 0, 0, -1].min()) > 0.99  # turned counter-clockwise: the ink is at the bottom


def test_character_split_is_seeded_disjoint_and_complete():
    split = split_characters(50, 7, val=5, test=10)
    assert [len(split[k]) for k in ("train", "val", "test")] == [35, 5, 10]
    assert sorted(torch.cat(list(split.values())).tolist()) == list(range(50))
    assert torch.equal(split["test"], split_characters(50, 7, 5, 10)["test"])
    assert not torch.equal(split["test"], split_characters(50, 8, 5, 10)["test"])
    with pytest.raises(UserError, match="cannot split 10 characters"):
        split_characters(10, 0, val=5, test=5)


def test_background_characters_merge_the_small_sets_without_duplicates(data_root):
    require_dataset(data_root, "omniglot/images_background_small1.zip")
    require_dataset(data_root, "omniglot/images_background_small2.zip")
    images, names = background_characters(data_root)
    assert images.shape == (242, 20, 1, 28, 28) and len(set(names)) == 242  # 136 + 156 − 50 shared
    assert sum(name.startswith("Greek/") for name in names) == 24
    assert float(images.min()) >= 0 and float(images.max()) <= 1 and float(images.mean()) < 0.2


def _synthetic_characters(classes: int, drawings: int = 20, seed: int = 0) -> torch.Tensor:
    """Each class a fixed random stroke pattern; drawings add noise and a one-pixel shift."""
    g = torch.Generator().manual_seed(seed)
    patterns = (torch.rand(classes, 1, 1, 28, 28, generator=g) > 0.8).float()
    shifts = torch.randint(-1, 2, (classes, drawings), generator=g)
    images = torch.stack(
        [
            torch.roll(patterns[c, 0], int(shifts[c, k]), dims=-1)
            for c in range(classes)
            for k in range(drawings)
        ]
    )
    noise = 0.2 * torch.rand(classes * drawings, 1, 28, 28, generator=g)
    return (images + noise).clamp(0, 1).view(classes, drawings, 1, 28, 28)


def test_protonet_pretraining_learns_and_round_trips_through_its_checkpoint(tmp_path, torch_one_thread):
    train, val = _synthetic_characters(30, 6), _synthetic_characters(10, 6, seed=1)
    epochs = []
    settings = ProtoNetSettings(epochs=3, iterations=8, ways=10, queries=2, val_episodes=10, val_queries=3)
    result = pretrain_protonet(train, val, settings, log=lambda epoch, metrics: epochs.append(metrics))
    assert len(epochs) == 3 and epochs[-1]["loss"] < epochs[0]["loss"]
    assert result.val_accuracy == max(m["val_accuracy"] for m in epochs) > 0.6  # chance 0.2
    currents = result.encoder.currents(train.flatten(0, 1))
    assert currents.shape == (180, 64) and float(currents.min()) >= 0 and float(currents.max()) == 1.0
    path = save_protonet(tmp_path / "encoders.safetensors", result.encoder)
    torch.testing.assert_close(
        load_protonet(path).currents(val.flatten(0, 1)), result.encoder.currents(val.flatten(0, 1))
    )
    save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2)}, model="hebbian", config={})
    with pytest.raises(CheckpointError, match="does not hold an Omniglot ProtoNet"):
        load_protonet(tmp_path / "other.safetensors")
    with pytest.raises(UserError, match=r"must be \[N, 1, 28, 28\]"):
        result.encoder(torch.zeros(2, 28, 28))


def test_protonet_currents_are_features_standardised_over_the_training_images():
    """offset = per-feature mean, scale = standard deviation (1 for a constant feature), currents
    (f − offset) / scale clipped to [0, 1]. Features [0, 1], [2, 1], [4, 1]: mean [2, 1], std [2, 0] → the
    training currents [0, 0], [0, 0], [1, 0]; a new [3, 5] → [0.5, 1]. (Dividing by the maximum, as before,
    gave [0, 1], [0.5, 1], [1, 1]: the shared second feature at full current in every image.)"""
    encoder = ProtoEncoder(2)
    encoder.body = torch.nn.Identity()  # the "images" are the features themselves
    train = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    currents = encoder.calibrated_currents(train)
    assert encoder.offset.tolist() == [2.0, 1.0] and encoder.scale.tolist() == [2.0, 1.0]
    assert currents.tolist() == [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    assert encoder.currents(torch.tensor([[3.0, 5.0], [1.0, 0.0]])).tolist() == [[0.5, 1.0], [0.0, 0.0]]
    assert "offset" in encoder.state_dict()  # saved with the encoder (and refused when missing)


def _small_network() -> OmniglotSNN:
    """6 features, M=16, 10 steps per item with the time-compressed constants of the quick modes
    (docs/hebbian.md, «Quick modes»)."""
    torch.manual_seed(0)
    config = OmniglotConfig(
        feature_size=6,
        label_size=6,
        memory_size=16,
        steps=10,
        tau_mem=5.0,
        tau_trace=5.0,
        readout_window=8,
        gamma_pos=1.2,
        gamma_neg=1.2,
    )
    return OmniglotSNN(config)


def test_memory_network_shapes_errors_and_training_lowers_the_loss(torch_one_thread):
    model = _small_network()
    g = torch.Generator().manual_seed(0)
    batch = one_shot_episodes(torch.rand(10, 4, 6, generator=g), 8, 5, g)
    scores, populations = model(*batch.inputs)
    assert scores.shape == (8, 5) and populations["read_values"].shape == (10, 8, 16)
    assert populations["write_keys"].shape == (50, 8, 16) and populations["labels"].shape == (50, 8, 6)
    assert model.last_images[0].shape == (50, 8, 6) and model.last_images[1].shape == (10, 8, 6)
    with pytest.raises(UserError, match=r"support must be \[B, 5, 6\]"):
        model(batch.support[:, :4], batch.query)
    with pytest.raises(UserError, match=r"query must be \[8, 6\]"):
        model(batch.support, batch.query[:4])
    optimizer, scheduler = make_optimizer(model, 1e-2)
    steps = AssociationSteps(model, optimizer, scheduler, DistributedContext(device=torch.device("cpu")))
    first = steps.eval_step(batch)
    for _ in range(10):
        steps.train_step(batch)
    assert steps.eval_step(batch)["loss"] < 0.8 * first["loss"]


def test_warm_start_gives_image_keys_label_values_and_read_keys_equal_to_the_write_keys():
    torch.manual_seed(0)
    config = OmniglotConfig(feature_size=6, label_size=4, memory_size=8, steps=10, readout_window=5)
    cold = OmniglotSNN(config)
    assert torch.all(cold.writing.weight != 0)
    assert not torch.equal(cold.reading.weight[:, :6], cold.writing.weight[:8, :6])
    torch.manual_seed(0)
    warm = OmniglotSNN(dataclasses.replace(config, warm_start=True))
    write, read = warm.writing.weight, warm.reading.weight  # [2M, images + labels], [M, images + M]
    assert torch.equal(write[:8, :6], cold.writing.weight[:8, :6])  # image → key: the Xavier start, kept
    assert torch.equal(write[8:, 6:], cold.writing.weight[8:, 6:])  # label → value: kept
    assert not write[:8, 6:].any() and not write[8:, :6].any()  # label → key, image → value: zero
    assert torch.equal(read[:, :6], write[:8, :6]) and torch.equal(read[:, 6:], cold.reading.weight[:, 6:])
    # a label alone drives no key and an image alone no value in the store phase
    assert torch.equal(warm.writing(torch.cat([torch.zeros(10, 2, 6), torch.ones(10, 2, 4)], -1)).keys,
                       torch.zeros(10, 2, 8))  # fmt: skip


def test_image_neurons_are_non_leaky_if_with_a_balanced_threshold():
    """Threshold refractory + 1 = 4 (the balanced threshold for currents = features / training maximum):
    v = c·(t+1) without leak. c = 1 (the maximum) crosses 4 at step 4, the reset removes 4 → a spike every
    4th step, the 250 Hz ceiling; c = 0.5 crosses at step 8 (v = 4.5), then 4.5 + 0.5 − 4 = 1 → every 8th
    step (125 Hz); c = 0.25 at step 16 (v = 4.25), then 0.5 + 15·0.25 → step 32. Threshold 1 (the old value)
    fired 1 and 0.5 both at the ceiling: 80 % of the ProtoNet features saturated and looked alike."""
    assert omniglot.balanced_image_threshold(3) == 4.0 and omniglot.balanced_image_threshold(0) == 1.0
    neurons = OmniglotConfig().image_neurons()
    assert neurons.threshold == 4.0 and neurons.decay == 1.0 and not neurons.scale_input
    spikes = encode(torch.tensor([[[1.0, 0.5, 0.25, 0.0]]]), 40, neurons)[:, 0]
    assert torch.nonzero(spikes[:, 0]).flatten().tolist() == list(range(4, 40, 4))
    assert torch.nonzero(spikes[:, 1]).flatten().tolist() == [8, 16, 24, 32]
    assert torch.nonzero(spikes[:, 2]).flatten().tolist() == [16, 32]
    assert float(spikes[:, 3].sum()) == 0.0
    # rates proportional to the current up to the maximum: in 400 ms 100·c spikes (to within the last one)
    counts = encode(torch.tensor([[[0.1, 0.3, 0.6, 0.9, 1.0]]]), 400, neurons)[:, 0].sum(dim=0)
    assert counts.tolist() == [9.0, 29.0, 59.0, 90.0, 99.0]


def test_each_image_is_encoded_from_rest():
    """The same image gives the same spikes at every position of the store phase (state reset per image)."""
    model = _small_network()
    support = torch.rand(1, 1, 6).repeat(2, 5, 1)
    model(support, support[:, 0])
    images, query = model.last_images
    blocks = images.view(5, 10, 2, 6)
    assert float(blocks[0].sum()) > 0 and all(torch.equal(block, blocks[0]) for block in blocks)
    assert torch.equal(query, blocks[0])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--network", "hmem"], "runs the spiking network only"),
        (["--embedding-size", "80"], "encoder's 64 features"),
        (["--sequence-length", "3"], "stores 5 images (5-way)"),
    ],
)
def test_bad_omniglot_flags_give_one_line_errors(tmp_path, capsys, flags, message):
    argv = ["train", "hebbian", "--task", "omniglot", "--quick", *flags, "--output", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def _fake_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 synthetic characters of 16 drawings (4 train, 3 val, 3 test before rotations) and 2 synthetic
    one-shot runs."""
    monkeypatch.setattr(
        omniglot_run,
        "background_characters",
        lambda root: (_synthetic_characters(10, 16), tuple(f"A/c{i}" for i in range(10))),
    )
    monkeypatch.setattr(omniglot_run, "VAL_CHARACTERS", 3)
    monkeypatch.setattr(omniglot_run, "TEST_CHARACTERS", 3)
    monkeypatch.setitem(omniglot_run.QUICK, "encoder_val_episodes", 4)
    strokes = torch.nn.functional.interpolate(_synthetic_characters(20, 2, seed=5)[:, :, 0], size=(105, 105))
    drawings = (255 * (1 - strokes)).round().to(torch.uint8).numpy()  # [20 classes, 2, 105, 105]
    answers = [np.random.default_rng(r).permutation(20) for r in range(2)]
    runs = [OneShotRun(r + 1, drawings[:, 0], drawings[a, 1], a) for r, a in enumerate(answers)]
    monkeypatch.setattr(omniglot_run, "load_one_shot_runs", lambda root: runs)


def _records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_train_test_plot_and_encoder_reuse_through_the_cli(tmp_path, capsys, monkeypatch, torch_one_thread):
    _fake_data(monkeypatch)
    train = ["train", "hebbian", "--task", "omniglot", "--quick", "--num-time-steps", "10"]
    train += ["--readout-window", "5", "--memory-size", "8"]
    train += ["--batch-size", "4", "--iterations", "2", "--val-size", "8", "--test-size", "8"]
    common = ["--output", str(tmp_path), "--no-progress", "--threads", "1"]
    encoder = ["--encoder-epochs", "2", "--encoder-iterations", "2", "--encoder-ways", "5"]
    assert main([*train, "--epochs", "2", *encoder, *common, "--run-name", "a"]) == 0
    run = tmp_path / "a"
    results = json.loads((run / "results.json").read_text())["metrics"]
    accuracies = ("test", "test_runs", "best_val", "encoder_val", "encoder_test", "encoder_runs_20way")
    assert all(0.0 <= results[f"{name}_accuracy"] <= 1.0 for name in accuracies)
    assert results["chance"] == 0.2 and results["epochs"] == 2
    records = _records(run)
    assert [r["encoder_epoch"] for r in records if r["split"] == "encoder_val"] == [1, 2]
    assert {r["split"] for r in records} >= {"train", "val", "test", "test_runs"}
    saved = run / "checkpoints" / "encoders.safetensors"
    assert load_protonet(saved).channels == 64
    best = run / "checkpoints" / "best.safetensors"
    assert main(["test", "hebbian", "--task", "omniglot", "--checkpoint", str(best), *common]) == 0
    out = capsys.readouterr().out
    assert f"test_accuracy = {results['test_accuracy']:.4f}" in out
    assert f"test_runs_accuracy = {results['test_runs_accuracy']:.4f}" in out
    assert main(["plot", "hebbian", str(run)]) == 0
    assert {p.name for p in (run / "plots").iterdir()} == {"accuracy.png", "encoder_accuracy.png"}
    # a second run reuses the saved encoder: no pre-training, the same encoder accuracies
    assert main([*train, "--epochs", "1", "--encoders", str(saved), *common, "--run-name", "b"]) == 0
    reused = json.loads((tmp_path / "b" / "results.json").read_text())["metrics"]
    assert reused["encoder_runs_20way_accuracy"] == results["encoder_runs_20way_accuracy"]
    assert not any(r["split"].startswith("encoder") for r in _records(tmp_path / "b"))


def test_omniglot_test_refuses_a_missing_or_foreign_checkpoint(tmp_path, capsys):
    common = ["--output", str(tmp_path), "--no-progress"]
    assert main(["test", "hebbian", "--task", "omniglot", *common]) == 2
    assert "test hebbian needs --checkpoint PATH" in capsys.readouterr().err
    other = save_checkpoint(
        tmp_path / "x.safetensors", {"w": np.zeros(2)}, model="hebbian", config={"task": "cross-modal"}
    )
    assert main(["test", "hebbian", "--task", "omniglot", "--checkpoint", str(other), *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a trained hebbian omniglot network" in err
