"""The sym-STDP training procedure: the sample loop, the evaluation and checkpoint schedule, and the state a
run resumes from (docs/sym_stdp.md, «Model and equations», «Training procedure»).

Training presents samples sequentially (the original's fixed order, no shuffling) to one plastic network,
each with the retry rule. Every ``eval_every`` samples, and after the last one, the current weights are
copied into a frozen batched inference network that classifies the test subset: SL accuracy from the output
layer, USL accuracy from Diehl&Cook label assignments computed on the hidden responses recorded during
training (the "train monitor"). Every ``checkpoint_every`` samples, and at the end, the weights are saved
(``samples-NNNNNNNN``, ``final``), with the whole state as ``last`` for ``--resume``. Counts are in
training samples; times in seconds unless named ``ms``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from hybridsnn.checkpoint import Checkpoint, check_shapes
from hybridsnn.checks import values
from hybridsnn.data.user_dataset import RESTORE_OR_RESTART
from hybridsnn.errors import CheckpointError, UserError
from hybridsnn.results import Run
from hybridsnn.sym_stdp import monitor as train_monitor
from hybridsnn.sym_stdp.config import SymStdpConfig
from hybridsnn.sym_stdp.evaluation import Evaluation, evaluate, log_evaluation, progress_bar
from hybridsnn.sym_stdp.network import EngineChoice, InferenceNetwork, TrainingNetwork, initial_weights
from hybridsnn.sym_stdp.readout import assign_labels
from hybridsnn.sym_stdp.weights import Weights, check_weights

Images = tuple[np.ndarray, np.ndarray]
"""Images (n, 28, 28) as uint8 pixels and their labels (n,)."""


@dataclass
class TrainState:
    """Everything a training run carries from sample to sample (saved in checkpoints for resume)."""

    p2e: np.ndarray
    e2c: np.ndarray
    theta: np.ndarray
    monitor: np.ndarray  # (n_train, n_hidden) uint16 hidden spike counts of the last accepted presentation
    seen: np.ndarray  # (n_train,) bool: the monitor row holds a response
    assignments: np.ndarray  # (n_hidden,) class of each hidden neuron, -1 = none yet
    samples_seen: int = 0
    attempts: int = 0
    engine_state: dict[str, np.ndarray] = field(default_factory=dict)
    """The training network's simulation state (numba engine: ``get_state``), for exact resume."""

    def tensors(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (engine state under ``engine.<name>``)."""
        return {
            "p2e": self.p2e,
            "e2c": self.e2c,
            "theta": self.theta,
            "assignments": self.assignments,
            **train_monitor.pack(self.monitor, self.seen),
            **{f"engine.{k}": v for k, v in self.engine_state.items()},
        }

    @classmethod
    def from_tensors(
        cls,
        tensors: dict[str, np.ndarray],
        monitor: tuple[np.ndarray, np.ndarray],
        samples_seen: int,
        attempts: int,
    ) -> TrainState:
        """Rebuild the state saved by :meth:`tensors` (``monitor``: its unpacked counts and 'seen' flags)."""
        return cls(
            tensors["p2e"],
            tensors["e2c"],
            tensors["theta"],
            *monitor,
            tensors["assignments"].astype(np.int64),
            samples_seen,
            attempts,
            {k[len("engine.") :]: v for k, v in tensors.items() if k.startswith("engine.")},
        )


@dataclass(frozen=True)
class Procedure:
    """How a training run proceeds: ``epochs`` passes over the training samples, a test-set evaluation
    every ``eval_every`` and a checkpoint every ``checkpoint_every`` samples; ``seed`` of the weights and
    the training network (the inference network gets ``seed + 1``), ``batch`` inference copies in flight,
    ``plastic_hidden`` False to train only the output layer, ``progress`` False for no progress bars."""

    epochs: int
    eval_every: int
    checkpoint_every: int
    seed: int
    engine: EngineChoice
    batch: int
    plastic_hidden: bool = True
    progress: bool = True


@dataclass
class Outcome:
    """The end of a training run: its state, its last evaluation, and the time spent learning."""

    state: TrainState
    evaluation: Evaluation | None
    learn_seconds: float
    trained: int  # samples presented in this process (a resumed run counts only its own)
    presentations: int  # attempts made in this process

    def metrics(self) -> dict[str, object]:
        """The final metrics: the last evaluation's, the samples and attempts, ms per sample/presentation."""
        state = self.state
        return {
            **(self.evaluation.metrics() if self.evaluation else {}),
            "train_samples": state.samples_seen,
            "mean_train_attempts": state.attempts / max(state.samples_seen, 1),
            "ms_per_train_sample": 1000.0 * self.learn_seconds / max(self.trained, 1),
            "ms_per_presentation": 1000.0 * self.learn_seconds / max(self.presentations, 1),
        }


def fresh_state(config: SymStdpConfig, seed: int, n_train: int, start: Weights | None = None) -> TrainState:
    """The state before the first sample: random P2E/E2C (from ``seed``) and θ at its initial value, with
    ``start``'s arrays (p2e, theta and e2c, whichever it holds) in their place; no responses, no labels."""
    rng = np.random.default_rng(seed)
    p2e, e2c = initial_weights(config, rng)
    theta = np.full(config.n_hidden, config.theta_init, np.float32)
    start = start or {}
    return TrainState(
        start.get("p2e", p2e),
        start.get("e2c", e2c),
        start.get("theta", theta),
        *train_monitor.empty_monitor(n_train, config.n_hidden),
        np.full(config.n_hidden, -1, np.int64),
    )


def resumed_state(run: Run, config: SymStdpConfig, n_train: int, total: int) -> TrainState | None:
    """The training state of the run's ``last`` checkpoint (``--resume``), checked against the run's
    configuration; None when the run has none yet."""
    last = run.checkpoint_dir / "last.safetensors"
    if not last.is_file():
        return None
    checkpoint = run.load_checkpoint("last")
    _refuse_other_images(checkpoint, config, f"--resume {str(run.path)!r}")
    return _checked_state(checkpoint, config, n_train, total, str(last))


def _refuse_other_images(ckpt: Checkpoint, config: SymStdpConfig, source: str) -> None:
    """Refuse in one line to continue a run on a user dataset whose images (H, W) or classes are no longer
    those its ``last`` checkpoint was trained on (the dataset at the run's path was replaced)."""
    trained = ckpt.extra.get("sym_stdp")
    if not isinstance(trained, dict) or trained.get("dataset") != config.dataset:
        return  # another dataset altogether: the shape checks of the state name it
    before = (list(trained.get("input_shape") or ()), list(trained.get("classes") or ()))
    if before != (list(config.input_shape), list(config.classes)):
        now = "x".join(map(str, config.input_shape))
        raise UserError(f"{source}: the run was trained on {'x'.join(map(str, before[0]))} images, classes "
                        f"{', '.join(map(str, before[1]))}; its dataset now holds {now} images, classes "
                        f"{', '.join(config.classes)}; {RESTORE_OR_RESTART}")  # fmt: skip


def _checked_state(
    ckpt: Checkpoint, config: SymStdpConfig, n_train: int, total: int, source: str
) -> TrainState:
    """The training state held by ``ckpt``: the shapes, types and counters of this configuration's run."""
    n = config.n_hidden
    check_shapes(ckpt.tensors, {"p2e": (config.n_input, n), "e2c": (n, config.n_classes), "theta": (n,),
                                "assignments": (n,)}, source=source)  # fmt: skip
    check_weights(ckpt.tensors, f"checkpoint {source!r}", config.n_input, config.n_classes)
    monitor = train_monitor.unpack(ckpt.tensors, n_train, n, source)
    seen, attempts = ckpt.extra.get("samples_seen"), ckpt.extra.get("attempts")
    for name, value, low, high in (("samples_seen", seen, 0, total), ("attempts", attempts, seen, None)):
        if isinstance(value, bool) or not isinstance(value, int) or not values.in_range(value, low, high):
            allowed = f"a whole number {low}..{high}" if high is not None else f"a whole number >= {low}"
            raise CheckpointError(f"checkpoint {source!r}: {name} is {value!r}; this run needs {allowed}")
    return TrainState.from_tensors(ckpt.tensors, monitor, seen, attempts)


def save_state(run: Run, state: TrainState, config: SymStdpConfig, name: str) -> None:
    """Weights, θ and assignments under ``name``; the full state (with the train monitor) as ``last``."""
    extra = {"samples_seen": state.samples_seen, "attempts": state.attempts, "sym_stdp": config.to_dict()}
    full = state.tensors()
    run.save_checkpoint(name, {k: full[k] for k in ("p2e", "e2c", "theta", "assignments")}, extra=extra)
    run.save_checkpoint("last", full, extra=extra)


def train(
    run: Run,
    config: SymStdpConfig,
    state: TrainState,
    procedure: Procedure,
    train_set: Images,
    test_set: Images,
) -> Outcome:
    """Train from ``state`` until ``procedure.epochs`` passes over ``train_set`` are done, evaluating on
    ``test_set`` and saving checkpoints on schedule; ends with the ``final`` checkpoint."""
    train_x, train_y = train_set
    total = procedure.epochs * len(train_x)
    # --resume recomputes everything after the last checkpoint: forget the evaluations a killed run had
    # logged since (their epoch is samples/len(train); a fresh run has none)
    run.drop_metrics_after(state.samples_seen / len(train_y))
    network = TrainingNetwork(config, state.p2e, state.e2c, state.theta, engine=procedure.engine,
                              seed=procedure.seed, plastic_hidden=procedure.plastic_hidden)  # fmt: skip
    if state.engine_state and hasattr(network.model, "set_state"):
        network.model.set_state(state.engine_state)  # continue the simulation itself, bit for bit
    inference = InferenceNetwork(config, engine=procedure.engine, seed=procedure.seed + 1,
                                 batch=procedure.batch)  # fmt: skip
    first_sample, first_attempt = state.samples_seen, state.attempts
    learn_seconds = 0.0
    result: Evaluation | None = None
    bar = tqdm(total=total, initial=state.samples_seen, desc=f"sym-STDP N={config.n_hidden}", unit="img",
               disable=not procedure.progress)  # fmt: skip
    while state.samples_seen < total:
        index = state.samples_seen % len(train_x)
        tick = time.perf_counter()
        counts, attempts = network.learn_sample(train_x[index], int(train_y[index]))
        learn_seconds += time.perf_counter() - tick
        state.monitor[index], state.seen[index] = counts, True
        state.samples_seen += 1
        state.attempts += attempts
        bar.update(1)
        done = state.samples_seen == total
        if state.samples_seen % procedure.eval_every == 0 or done:
            state.p2e, state.e2c, state.theta = network.weights()
            result = _evaluate_training(run, state, train_y, inference, test_set, procedure.progress)
            bar.set_postfix(sl=f"{result.sl_accuracy:.3f}", usl=f"{result.usl_accuracy:.3f}")
        if state.samples_seen % procedure.checkpoint_every == 0 or done:
            state.p2e, state.e2c, state.theta = network.weights()
            if hasattr(network.model, "get_state"):
                state.engine_state = network.model.get_state()
            save_state(run, state, config, f"samples-{state.samples_seen:08d}")
    bar.close()
    save_state(run, state, config, "final")
    trained, presentations = state.samples_seen - first_sample, state.attempts - first_attempt
    return Outcome(state, result, learn_seconds, trained, presentations)


def _evaluate_training(
    run: Run,
    state: TrainState,
    train_y: np.ndarray,
    inference: InferenceNetwork,
    test_set: Images,
    progress: bool,
) -> Evaluation:
    """Assign hidden neurons from the training monitor, test the current weights, log the metrics."""
    test_x, test_y = test_set
    # unseen rows get no class, so they count in no class mean (no copy of the monitor is made)
    labels = np.where(state.seen, train_y, -1)
    state.assignments = assign_labels(state.monitor, labels, inference.config.n_classes, state.assignments)
    with progress_bar(len(test_x), "evaluate", progress) as pbar:
        result = evaluate(
            inference, state.p2e, state.e2c, state.theta, state.assignments, test_x, test_y, pbar.update
        )
    log_evaluation(run, result, state.samples_seen, state.samples_seen / len(train_y))
    return result
