"""HP-SNN multitask and few-shot parts, and `hybridsnn <command> hp` round trips on small MNIST subsets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, require_dataset

from hybridsnn import cli
from hybridsnn.data import load_dataset
from hybridsnn.hp.fewshot import EpisodeSampler, FewShotConfig, FewShotNet, MetaTrainer, episode_loss
from hybridsnn.hp.methods import EWC, GP, HP
from hybridsnn.hp.multitask import EWCPenalty, MultitaskConfig, MultitaskNet, task_permutation
from hybridsnn.hp.settings import QUICK

SCRIPT = REPO_ROOT / "run_scripts" / "hp.sh"
SMALL = [
    "--train-subset",
    "600",
    "--test-subset",
    "200",
    "--epochs",
    "1",
    "--batch-size",
    "50",
    "--no-progress",
    "--threads",
    "1",
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def mnist(data_root: Path) -> Path:
    require_dataset(data_root, "MNIST/raw/train-images-idx3-ubyte.gz")
    return data_root


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def hp_test_argv(task: str, checkpoint: Path | str, output: Path, data_root: Path, *extra: str) -> list[str]:
    """``hybridsnn test hp`` of ``checkpoint`` on ``task``, writing under ``output``."""
    return [
        "test", "hp", "--task", task, "--checkpoint", str(checkpoint), "--output", str(output),
        "--data-root", str(data_root), *extra,
    ]  # fmt: skip


# -- multitask ------------------------------------------------------------------------------------------


def test_task_permutations_follow_the_seed():
    assert np.array_equal(task_permutation(0), np.arange(784))
    np.random.seed(3)
    expected = np.arange(784)
    np.random.shuffle(expected)
    assert np.array_equal(task_permutation(3), expected)


def test_task_masks_have_the_given_density_orientation_and_are_per_task():
    net = MultitaskNet(MultitaskConfig(hidden=64, sparsity=0.25), HP)
    masks = net.masks(1)
    assert [tuple(m.shape) for m in masks] == [(784, 64), (64, 64), (64, 10)]
    assert masks[0].mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.equal(net.masks(1)[0], MultitaskNet(MultitaskConfig(hidden=64, sparsity=0.25)).masks(1)[0])
    assert not torch.equal(masks[0], net.masks(2)[0])
    assert MultitaskNet(MultitaskConfig(hidden=64), EWC).masks(1) is None


def test_masked_gp_network_only_uses_its_task_subnetwork():
    torch.manual_seed(0)
    net = MultitaskNet(MultitaskConfig(hidden=32, sparsity=0.5), GP)
    x = torch.rand(3, 784) * 3
    before = net(x, 0)
    with torch.no_grad():  # change only weights outside task 0's read-out mask
        net.readout.weight.add_((1 - net.masks(0)[2]).t() * 5.0)
    torch.testing.assert_close(net(x, 0), before)


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away_from_it():
    torch.manual_seed(1)
    net = MultitaskNet(MultitaskConfig(hidden=16), EWC)
    penalty = EWCPenalty(weight=10.0)
    penalty.consolidate(net, [torch.rand(8, 784) * 3], task=0)
    assert penalty(net).item() == 0.0
    with torch.no_grad():
        net.readout.weight.add_(0.1)
    assert penalty(net).item() > 0.0


# -- few-shot -------------------------------------------------------------------------------------------


def _sampler(config: FewShotConfig, seed: int = 0) -> EpisodeSampler:
    characters = torch.randn(12, 4, 1, 31, 31, generator=torch.Generator().manual_seed(seed))
    return EpisodeSampler(characters, config, seed=seed, flip=True)


def test_episodes_show_labelled_support_then_an_unlabelled_query():
    config = FewShotConfig(ways=3, shots=2, channels=8)
    episode = _sampler(config).episode(np.array([4, 7, 9]), query=1)
    assert episode.images.shape == (7, 1, 31, 31) and episode.labels.shape == (7, 3)
    assert episode.labels[:6].sum(dim=0).tolist() == [2.0, 2.0, 2.0] and episode.labels[6].sum() == 0
    assert episode.target == 1


def test_finite_difference_second_order_term_matches_autograd():
    torch.manual_seed(2)
    model = FewShotNet(FewShotConfig(ways=3, channels=4, threshold=5.0), HP)  # no spikes: smooth
    trainer = MetaTrainer(model)
    episode = _sampler(model.config).episode(np.array([0, 1, 2]), query=0)
    dw = [torch.randn_like(w) * 1e-2 for w in trainer.weights]
    approx = trainer.second_order(episode, dw)
    loss, _ = episode_loss(model, episode)
    grads = torch.autograd.grad(loss, trainer.meta, create_graph=True)
    # exact Hessian-vector product ∂/∂w (∇_meta L) · dw for each meta parameter
    for index, meta in enumerate(trainer.meta):
        rows = []
        flat = grads[index].reshape(-1)
        for k in range(flat.numel()):
            second = torch.autograd.grad(flat[k], trainer.weights, retain_graph=True, allow_unused=True)
            rows.append(sum((s * d).sum() for s, d in zip(second, dw, strict=True) if s is not None))
        exact_hvp = torch.stack([torch.as_tensor(r) for r in rows]).reshape(meta.shape)
        torch.testing.assert_close(approx[index], exact_hvp.clamp(-1, 1), rtol=2e-2, atol=2e-4)


def test_meta_iteration_moves_meta_parameters_and_gp_has_none():
    torch.manual_seed(3)
    hp = FewShotNet(FewShotConfig(ways=3, channels=8), HP)
    trainer = MetaTrainer(hp)
    before = hp.readout.alpha.detach().clone()
    metrics = trainer.iteration(_sampler(hp.config))
    assert set(metrics) == {"support_loss", "query_loss", "query_accuracy"}
    assert not torch.equal(before, hp.readout.alpha)
    gp = MetaTrainer(FewShotNet(FewShotConfig(ways=3, channels=8), GP))
    assert gp.optim_meta is None and set(gp.iteration(_sampler(gp.model.config))) == {"support_loss"}


def test_hebbian_readout_binds_labels_within_an_episode():
    """With identical support/query drawings, the plastic read-out answers far above chance at init."""
    torch.manual_seed(4)
    config = FewShotConfig(ways=5, channels=16)
    characters = torch.randn(20, 1, 1, 31, 31).expand(20, 2, 1, 31, 31).contiguous()
    sampler = EpisodeSampler(characters, config, seed=4, flip=False)
    hp, gp = FewShotNet(config, HP).eval(), FewShotNet(config, GP).eval()
    with torch.no_grad():
        hp.readout.eta.fill_(0.1)
        hp.readout.alpha.fill_(0.0)
        gp.readout.alpha.fill_(0.0)
    scores = {"hp": 0, "gp": 0}
    for _ in range(40):
        classes, query = sampler.task()
        episode = sampler.episode(classes, query)
        with torch.no_grad():
            scores["hp"] += episode_loss(hp, episode)[1]
            scores["gp"] += episode_loss(gp, episode)[1]
    assert scores["hp"] >= 30 and scores["gp"] <= 20


# -- command line ---------------------------------------------------------------------------------------


def test_simple_train_test_round_trip_and_method_mismatch_is_refused(mnist, tmp_path, capsys):
    base = ["--output", str(tmp_path), "--data-root", str(mnist), *SMALL]
    assert (
        cli.main(["train", "hp", "--task", "simple", "--run-name", "hp", "--noise-levels", "0", "6", *base])
        == 0
    )
    run = tmp_path / "hp"
    trained = results(run)["metrics"]
    assert trained["test_accuracy"] > 0.3 and trained["noise6_accuracy"] <= trained["noise0_accuracy"] + 0.05
    assert [r["level"] for r in records(run) if r["split"] == "noise"] == [0, 6]
    checkpoint = str(run / "checkpoints" / "last.safetensors")
    simple_test = hp_test_argv(
        "simple", checkpoint, tmp_path, mnist, "--test-subset", "200", "--noise-levels", "0", "--no-progress",
        "--run-name",
    )  # fmt: skip
    assert cli.main([*simple_test, "again"]) == 0
    assert results(tmp_path / "again")["metrics"]["test_accuracy"] == pytest.approx(trained["test_accuracy"])
    capsys.readouterr()
    assert cli.main([*simple_test, "crossed", "--method", "gp"]) == 2
    assert "holds a 'hp' model, not --method gp" in capsys.readouterr().err
    assert cli.main(hp_test_argv("tolerance", checkpoint, tmp_path, mnist, "--no-progress")) == 2
    assert "trained for task 'simple'" in capsys.readouterr().err
    images = load_dataset("mnist", "test", mnist).x[:5]
    np.save(tmp_path / "digits.npy", images)
    predict = ["predict", "hp", "--task", "simple", "--checkpoint", checkpoint, "--input"]
    assert cli.main([*predict, str(tmp_path / "digits.npy"), "--output", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "\t" in line]
    assert [int(line.split("\t")[0]) for line in lines] == [0, 1, 2, 3, 4]
    assert all(0 <= int(line.split("\t")[1]) <= 9 for line in lines)


def test_multitask_records_the_average_over_seen_tasks_and_plots(mnist, tmp_path):
    argv = [
        "train",
        "hp",
        "--task",
        "multitask",
        "--tasks",
        "2",
        "--hidden",
        "32",
        "--sparsity",
        "0.5",
        "--output",
        str(tmp_path),
        "--data-root",
        str(mnist),
        "--run-name",
        "mt",
        *SMALL,
    ]
    assert cli.main(argv) == 0
    run = tmp_path / "mt"
    tasks = [r for r in records(run) if r["split"] == "tasks"]
    assert [r["task"] for r in tasks] == [1, 2]
    assert tasks[0]["accuracy"] == tasks[0]["current_task_accuracy"] > 0.2
    assert tasks[1]["accuracy"] == pytest.approx(
        (tasks[1]["first_task_accuracy"] + tasks[1]["current_task_accuracy"]) / 2
    )
    test = hp_test_argv(
        "multitask", run / "checkpoints" / "last.safetensors", tmp_path, mnist,
        "--test-subset", "200", "--run-name", "mt-test",
    )  # fmt: skip
    assert cli.main(test) == 0
    assert results(tmp_path / "mt-test")["metrics"]["average_accuracy"] == pytest.approx(tasks[1]["accuracy"])
    assert cli.main(["plot", "hp", str(run)]) == 0
    assert (run / "plots" / "continual.png").is_file()


def test_bad_method_and_dataset_give_one_line_errors(mnist, tmp_path, capsys):
    base = ["--output", str(tmp_path), "--data-root", str(mnist), *SMALL]
    assert cli.main(["train", "hp", "--task", "multitask", "--method", "lp", *base]) == 2
    assert "allowed: hp, gp, ewc" in capsys.readouterr().err
    assert cli.main(["train", "hp", "--task", "simple", "--dataset", "cifar10", *base]) == 2
    assert "mnist or fashion-mnist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse refuses the flag's value
        cli.main(["train", "hp", "--task", "simple", *base, "--epochs", "0"])
    assert refused.value.code == 2
    assert "argument --epochs: '0' is not allowed; expected a whole number >= 1" in capsys.readouterr().err


def test_run_script_builds_the_task_commands():
    out = subprocess.run(
        ["bash", str(SCRIPT), "simple", "--quick", "--print"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split("--method ")[1].split()[0] for line in out if "train hp" in line] == ["hp", "gp", "lp"]
    assert all("--task simple" in line and "--quick" in line for line in out if "train hp" in line)
    bad = subprocess.run(["bash", str(SCRIPT), "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown task" in bad.stderr


def test_tolerance_sweeps_and_crossed_checkpoint_refusal(mnist, tmp_path, capsys):
    argv = [
        "train",
        "hp",
        "--task",
        "tolerance",
        "--method",
        "gp",
        "--occlusion-levels",
        "0",
        "10",
        "--noise-levels",
        "0",
        "--output",
        str(tmp_path),
        "--data-root",
        str(mnist),
        "--run-name",
        "tol",
        *SMALL,
    ]
    assert cli.main(argv) == 0
    metrics = results(tmp_path / "tol")["metrics"]
    assert metrics["occlusion0_accuracy"] == metrics["noise0_accuracy"] == metrics["test_accuracy"]
    assert metrics["occlusion10_accuracy"] < metrics["occlusion0_accuracy"]
    checkpoint = str(tmp_path / "tol" / "checkpoints" / "best.safetensors")
    test = hp_test_argv(
        "tolerance", checkpoint, tmp_path, mnist, "--test-subset", "200", "--no-progress",
        "--occlusion-levels", "0",
    )  # fmt: skip
    assert cli.main([*test, "--method", "hp"]) == 2  # the seed's crossed default: HP model, GP state
    assert "holds a 'gp' model, not --method hp" in capsys.readouterr().err
    assert cli.main([*test, "--method", "gp", "--run-name", "tol-test"]) == 0
    plot_dir = tmp_path / "figs"
    assert (
        cli.main(["plot", "hp", str(tmp_path / "tol"), str(tmp_path / "tol-test"), "--output", str(plot_dir)])
        == 0
    )
    assert (plot_dir / "occlusion.png").is_file() and (plot_dir / "noise.png").is_file()


@pytest.mark.slow
def test_fewshot_on_omniglot_small_trains_and_tests(data_root, tmp_path):
    require_dataset(data_root, "omniglot/images_background_small1.zip")
    require_dataset(data_root, "omniglot/images_background_small2.zip")
    argv = [
        "train",
        "hp",
        "--task",
        "fewshot",
        "--quick",
        "--output",
        str(tmp_path),
        "--data-root",
        str(data_root),
        "--run-name",
        "fs",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    trained = results(tmp_path / "fs")["metrics"]
    assert trained["iterations"] == QUICK.iterations and 0.0 <= trained["test_accuracy"] <= 1.0
    test = hp_test_argv(
        "fewshot", tmp_path / "fs" / "checkpoints" / "last.safetensors", tmp_path, data_root,
        "--test-episodes", "100", "--run-name", "fs-test",
    )  # fmt: skip
    assert cli.main(test) == 0
    assert results(tmp_path / "fs-test")["metrics"]["test_accuracy"] > 0.25  # chance: 0.2


@pytest.mark.slow
def test_classification_cnn_trains_on_an_mnist_subset(mnist, tmp_path):
    argv = [
        "train",
        "hp",
        "--task",
        "classification",
        "--train-subset",
        "200",
        "--test-subset",
        "100",
        "--epochs",
        "1",
        "--output",
        str(tmp_path),
        "--data-root",
        str(mnist),
        "--run-name",
        "cnn",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert results(tmp_path / "cnn")["metrics"]["epochs"] == 1


def test_fewshot_characters_take_a_character_of_both_small_sets_once(data_root):
    from hybridsnn.hp.fewshot import omniglot_characters

    require_dataset(data_root, "omniglot/images_background_small1.zip")
    require_dataset(data_root, "omniglot/images_background_small2.zip")
    characters = omniglot_characters(data_root, "small")
    # 136 + 156 characters, of which Greek (24) and Latin (26) are in both sets with the same drawings
    assert characters.shape == (242, 20, 1, 31, 31)
    flat = characters.flatten(1)
    assert len(torch.unique(flat, dim=0)) == 242
