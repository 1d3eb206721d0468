"""The torch spiking core shared by DSL, HP-SNN and the Hebbian memory.

* :mod:`~hybridsnn.spiking.surrogate`: Heaviside spikes with rectangular/triangular/exponential surrogates.
* :mod:`~hybridsnn.spiking.lif`: LIF steps (soft/hard reset, refractory period), runs over time, modules.
* :mod:`~hybridsnn.spiking.readout`: spike-count and membrane read-outs, firing rates, accuracy.
* :mod:`~hybridsnn.spiking.state`: training state in hybridsnn checkpoints.
* :mod:`~hybridsnn.spiking.training`: the train/evaluate loop with metrics, checkpoints and exact resume.
"""

from hybridsnn.spiking.lif import (
    LIF,
    RESET_MODES,
    LIFConfig,
    LIFState,
    LIFTrace,
    SpikingLayer,
    decay_from_tau,
    initial_state,
    lif_sequence,
    lif_step,
)
from hybridsnn.spiking.readout import (
    accuracy,
    count_correct,
    final_membrane,
    firing_rate_hz,
    mean_membrane,
    predict,
    spike_counts,
)
from hybridsnn.spiking.state import Stateful, checkpoint_payload, restore_state
from hybridsnn.spiking.surrogate import (
    SURROGATES,
    Exponential,
    Rectangular,
    SpikeFunction,
    Surrogate,
    Triangular,
    get_surrogate,
)
from hybridsnn.spiking.training import (
    BestMetric,
    FitResult,
    MetricMeans,
    batch_size,
    check_resume,
    epoch_seed,
    evaluate,
    fit,
    log_metrics_once,
    train_epoch,
)

__all__ = [
    "LIF",
    "RESET_MODES",
    "SURROGATES",
    "BestMetric",
    "Exponential",
    "FitResult",
    "LIFConfig",
    "LIFState",
    "LIFTrace",
    "MetricMeans",
    "Rectangular",
    "SpikeFunction",
    "SpikingLayer",
    "Stateful",
    "Surrogate",
    "Triangular",
    "accuracy",
    "batch_size",
    "check_resume",
    "checkpoint_payload",
    "count_correct",
    "decay_from_tau",
    "epoch_seed",
    "evaluate",
    "final_membrane",
    "firing_rate_hz",
    "fit",
    "get_surrogate",
    "initial_state",
    "lif_sequence",
    "lif_step",
    "log_metrics_once",
    "mean_membrane",
    "predict",
    "restore_state",
    "spike_counts",
    "train_epoch",
]
