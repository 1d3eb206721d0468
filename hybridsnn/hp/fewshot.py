"""Omniglot N-way K-shot learning with a plastic spiking read-out and a bi-level meta step (docs/hp.md,
«Tasks»).

Feature extractor (not spiking): 4 × [Conv2d(k3, stride 2, pad 1, 128 channels), tanh] on 31×31 images →
512 features. Read-out: ``N_ways`` hard-reset LIF neurons (λ = 0.2, θ = 0.5) driven by
``x @ (α ⊙ Wᵀ + (1 − α) ⊙ H) + w_binding · label`` with the softmax Hebbian rule (decay 0.99, rate
``min(η, 0.1)``, β shifting the softmax); H starts at zero in every episode. An episode shows the N·K labelled
support images, one per step, then one unlabelled query; the output is ``softmax(u)`` at the last step,
trained with BCE against the query's one-hot label.

Meta step (``hp``): 5 support episodes, each a step of the weight optimiser (Adam 8e-5 on the convolutions
and W); then the query episode's gradient with respect to (α, β, η) minus ``lr_second`` × the
finite-difference
second-order term ``(∇_meta L_spt(w + ε·dw) − ∇_meta L_spt(w − ε·dw)) / 2ε`` (clamped to [−1, 1],
``ε = min(1e-3/‖dw‖, 1e-3)``, dw = the query gradient of the weights), gradient-norm clip 1, Adam 3e-5.
``gp``: the same network with H ≡ 0 and α fixed, trained on the support episodes only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.hp.layer import LOCAL_PARAMETER_NAMES, HebbianRule, MetaInit, PlasticLinear, split_parameters
from hybridsnn.hp.methods import HP, Method, check_network_method
from hybridsnn.hp.mlp import hp_lif
from hybridsnn.spiking import lif_step

IMAGE_SIZE = 31
OMNIGLOT_MEAN, OMNIGLOT_STD = 0.9195, 0.2721


@dataclass(frozen=True)
class FewShotConfig:
    """Constants of the seed (docs/hp.md, «Tasks»)."""

    ways: int = 5
    shots: int = 1
    channels: int = 128
    threshold: float = 0.5
    decay: float = 0.2
    trace_decay: float = 0.99
    w_binding: float = 10.0
    weight_lr: float = 8e-5
    meta_lr: float = 3e-5
    lr_second: float = 0.1
    support_steps: int = 5
    lr_step: int = 10000
    lr_gamma: float = 0.5
    flip_prob: float = 0.2

    def __post_init__(self) -> None:
        if self.ways < 2 or self.shots < 1:
            raise UserError(f"few-shot needs >= 2 ways and >= 1 shot, got {self.ways}-way {self.shots}-shot")


class FewShotNet(nn.Module):
    """``forward(images [S, 1, 31, 31], labels [S, ways]) -> class probabilities [1, ways]``."""

    def __init__(self, config: FewShotConfig = FewShotConfig(), method: Method = HP) -> None:
        super().__init__()
        check_network_method(method, ("fewshot",), "few-shot")
        self.config, self.method = config, method
        c = config.channels
        self.convs = nn.ModuleList(nn.Conv2d(a, c, 3, stride=2, padding=1) for a in (1, c, c, c))
        features = c * 2 * 2
        rule = HebbianRule(sign=1.0, post="softmax", decay=config.trace_decay, bound=None)
        init = MetaInit(alpha=0.1, beta=0.1, eta=0.1, alpha_matrix=True, eta_uniform=False)
        self.readout = PlasticLinear(features, config.ways, combine="gated", rule=rule, init=init, bias=False)
        self.lif = hp_lif(config.threshold, config.decay, "zero")
        if not method.local_learns:  # gp: α stays at its random start, β and η are unused
            for name in LOCAL_PARAMETER_NAMES:
                getattr(self.readout, name).requires_grad_(False)
        self.hebbian = method.hebbian

    def features(self, images: Tensor) -> Tensor:
        """512 features per image (tanh conv stack)."""
        x = images
        for conv in self.convs:
            x = torch.tanh(conv(x))
        return x.flatten(1)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise UserError(
                f"few-shot images must be [S, 1, {IMAGE_SIZE}, {IMAGE_SIZE}], got {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0], self.config.ways):
            raise UserError(f"few-shot labels must be [S, {self.config.ways}], got {tuple(labels.shape)}")
        feats = self.features(images)
        trace = self.readout.zero_trace()
        state = None
        for step in range(images.shape[0]):
            x = feats[step : step + 1]
            current = self.readout.current(x, trace) + self.config.w_binding * labels[step : step + 1]
            _, state = lif_step(current, state, self.lif)
            if self.hebbian:
                trace = self.readout.update(trace, x, state.membrane, self.config.threshold)
        assert state is not None
        return torch.softmax(state.membrane, dim=-1)


def prepare_images(images: np.ndarray) -> Tensor:
    """uint8 105×105 Omniglot drawings → normalised float ``[N, 1, 31, 31]`` (bilinear, antialiased)."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0).unsqueeze(1)
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return (x - OMNIGLOT_MEAN) / OMNIGLOT_STD


@dataclass
class Episode:
    """An episode: images ``[S, 1, 31, 31]`` (support then query), labels ``[S, ways]`` (query row zero),
    and the query's target class."""

    images: Tensor
    labels: Tensor
    target: int


class EpisodeSampler:
    """Builds N-way K-shot episodes from ``characters`` ``[C, drawings, 1, 31, 31]`` with its own RNG."""

    def __init__(self, characters: Tensor, config: FewShotConfig, *, seed: int, flip: bool) -> None:
        if characters.shape[0] < config.ways or characters.shape[1] < config.shots + 1:
            raise UserError(
                f"need >= {config.ways} characters with >= {config.shots + 1} drawings, got "
                f"{tuple(characters.shape[:2])}"
            )
        self.characters, self.config, self.flip = characters, config, flip
        self.rng = np.random.default_rng(seed)

    def task(self) -> tuple[np.ndarray, int]:
        """A random choice of N characters and the query's position among them."""
        return self.rng.choice(len(self.characters), self.config.ways, replace=False), int(
            self.rng.integers(self.config.ways)
        )

    def episode(self, classes: np.ndarray, query: int) -> Episode:
        """Support images of ``classes`` in random order, then a different drawing of class ``query``."""
        cfg = self.config
        drawings = self.characters.shape[1]
        images, labels = [], []
        query_drawing = None
        for position, character in enumerate(classes):
            picks = self.rng.choice(drawings, cfg.shots + 1, replace=False)
            for pick in picks[: cfg.shots]:
                images.append(self.characters[character, pick])
                labels.append(position)
            if position == query:
                query_drawing = self.characters[character, picks[-1]]
        order = self.rng.permutation(len(images))
        stacked = torch.stack([images[i] for i in order] + [query_drawing])  # type: ignore[list-item]
        if self.flip:
            flips = torch.from_numpy(self.rng.random(len(stacked)) < cfg.flip_prob)
            stacked[flips] = stacked[flips].flip(-1)
        onehot = torch.zeros(len(stacked), cfg.ways)
        onehot[torch.arange(len(order)), torch.tensor([labels[i] for i in order])] = 1.0
        return Episode(stacked, onehot, query)


def episode_loss(model: FewShotNet, episode: Episode) -> tuple[Tensor, bool]:
    """BCE of the output against the one-hot target, and whether the prediction is right."""
    device = model.readout.fc.weight.device
    probs = model(episode.images.to(device), episode.labels.to(device))
    target = F.one_hot(torch.tensor([episode.target], device=device), model.config.ways)
    target = target.to(probs.dtype).view_as(probs)
    return F.binary_cross_entropy(probs, target), int(probs.argmax()) == episode.target


class MetaTrainer:
    """One training iteration of :mod:`hybridsnn.hp.fewshot` (support steps, then the bi-level meta step)."""

    def __init__(self, model: FewShotNet) -> None:
        cfg = model.config
        self.model = model
        self.weights, self.meta = split_parameters(model)
        self.optim_w = torch.optim.Adam(self.weights, lr=cfg.weight_lr, eps=1e-6)
        self.optim_meta = torch.optim.Adam(self.meta, lr=cfg.meta_lr, eps=1e-6) if self.meta else None
        self.sched_w = torch.optim.lr_scheduler.StepLR(self.optim_w, cfg.lr_step, cfg.lr_gamma)
        self.sched_meta = (
            torch.optim.lr_scheduler.StepLR(self.optim_meta, cfg.lr_step, cfg.lr_gamma)
            if self.optim_meta
            else None
        )

    def state(self) -> dict[str, object]:
        """Objects to checkpoint."""
        objects: dict[str, object] = {"model": self.model, "optim_w": self.optim_w, "sched_w": self.sched_w}
        if self.optim_meta is not None:
            objects.update(optim_meta=self.optim_meta, sched_meta=self.sched_meta)
        return objects

    def _meta_grad(self, episode: Episode) -> list[Tensor]:
        loss, _ = episode_loss(self.model, episode)
        return list(torch.autograd.grad(loss, self.meta, allow_unused=True))

    def second_order(self, support: Episode, dw: list[Tensor]) -> list[Tensor]:
        """Finite-difference ``∂²L_spt/∂meta∂w · dw`` (DARTS), clamped to [−1, 1]."""
        norm = torch.sqrt(sum((g.reshape(-1) ** 2).sum() for g in dw))
        eps = min(1e-3 / max(float(norm), 1e-12), 1e-3)
        with torch.no_grad():
            for w, g in zip(self.weights, dw, strict=True):
                w.add_(g, alpha=eps)
        plus = self._meta_grad(support)
        with torch.no_grad():
            for w, g in zip(self.weights, dw, strict=True):
                w.sub_(g, alpha=2 * eps)
        minus = self._meta_grad(support)
        with torch.no_grad():
            for w, g in zip(self.weights, dw, strict=True):
                w.add_(g, alpha=eps)
        return [
            ((p - m) / (2 * eps)).clamp(-1.0, 1.0) if p is not None else torch.zeros_like(a)
            for p, m, a in zip(plus, minus, self.meta, strict=True)
        ]

    def iteration(self, sampler: EpisodeSampler) -> dict[str, float]:
        """Support steps and (``hp``) the meta step on one task; returns the losses."""
        classes, query = sampler.task()
        steps = self.model.config.support_steps
        supports = [sampler.episode(classes, query) for _ in range(steps)]
        support_loss = 0.0
        for support in supports:
            loss, _ = episode_loss(self.model, support)
            self.optim_w.zero_grad(set_to_none=True)
            loss.backward()
            self.optim_w.step()
            support_loss += loss.item() / steps
        self.sched_w.step()
        metrics = {"support_loss": support_loss}
        if self.optim_meta is None:
            return metrics
        query_episode = sampler.episode(classes, query)
        loss, correct = episode_loss(self.model, query_episode)
        grads = torch.autograd.grad(loss, self.meta + self.weights, allow_unused=True)
        da = [
            g if g is not None else torch.zeros_like(p)
            for g, p in zip(grads, self.meta + self.weights, strict=True)
        ]
        meta_grads, dw = da[: len(self.meta)], da[len(self.meta) :]
        hessian = self.second_order(supports[-1], dw)
        for param, grad, h in zip(self.meta, meta_grads, hessian, strict=True):
            param.grad = grad - self.model.config.lr_second * h
        nn.utils.clip_grad_norm_(self.meta, 1.0)
        self.optim_meta.step()
        self.optim_meta.zero_grad(set_to_none=True)
        assert self.sched_meta is not None
        self.sched_meta.step()
        return {**metrics, "query_loss": loss.item(), "query_accuracy": float(correct)}


def evaluate_episodes(model: FewShotNet, sampler: EpisodeSampler, episodes: int) -> float:
    """Accuracy over ``episodes`` test episodes (no learning except the within-episode Hebbian trace)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for _ in range(episodes):
            classes, query = sampler.task()
            _, right = episode_loss(model, sampler.episode(classes, query))
            correct += right
    model.train()
    return correct / episodes


OMNIGLOT_SETS = {"small": ("small1", "small2"), "full": ("background", "evaluation")}
TEST_CLASSES = 100


def omniglot_characters(root: object, sets: str) -> Tensor:
    """All distinct characters of the chosen Omniglot image sets as ``[C, 20, 1, 31, 31]`` normalised tensors
    (a character in two sets, e.g. Greek and Latin in both small sets, is taken once)."""
    from hybridsnn.data.omniglot import distinct_characters

    if sets not in OMNIGLOT_SETS:
        raise unknown_choice("Omniglot sets", sets, OMNIGLOT_SETS)
    drawings, names = distinct_characters(OMNIGLOT_SETS[sets], root)  # type: ignore[arg-type]
    images = prepare_images(drawings.reshape(-1, *drawings.shape[2:]))
    return images.view(len(names), -1, 1, IMAGE_SIZE, IMAGE_SIZE)


def split_characters(
    characters: Tensor, seed: int, test_classes: int = TEST_CLASSES
) -> tuple[Tensor, Tensor]:
    """Seeded shuffle of the characters; the last ``test_classes`` are the test classes (docs/hp.md,
    «Tasks»)."""
    if len(characters) <= test_classes:
        raise UserError(
            f"need more than {test_classes} characters for a train/test split, got {len(characters)}"
        )
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(characters)))
    shuffled = characters[order]
    return shuffled[:-test_classes], shuffled[-test_classes:]
