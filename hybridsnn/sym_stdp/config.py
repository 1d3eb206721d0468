"""The per-configuration constants of sym-STDP as one frozen dataclass (docs/sym_stdp.md, «Model and
equations», «Constants per configuration»).

Only the (dataset, hidden size) pairs of the original ``model.h`` exist: MNIST with 100, 400, 1600, 6400 or
10000 hidden neurons and Fashion-MNIST with 400 or 6400. A user's own dataset (``--dataset PATH``,
docs/own_data.md) takes the MNIST constants of its hidden size, with H×W input neurons, K output neurons
and the P2E column sum scaled to the input (0.1 per input neuron, 78.4 for 28×28). Times are in ms, voltages
in mV, rates in Hz.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from hybridsnn.errors import UserError

DATASETS = ("mnist", "fashion-mnist")
USER = "user"  # SymStdpConfig.dataset of a network trained on a user's own dataset
MNIST_SHAPE = (28, 28)
DIGITS = tuple(str(d) for d in range(10))
P2E_NORM_PER_INPUT = 0.1  # P2E column sum per input neuron (78.4 for MNIST's 784)
SIZES = (100, 400, 1600, 6400, 10000)

# Per-configuration overrides of the SymStdpConfig defaults (the MNIST values), from model.h.
_TABLE: dict[tuple[str, int], dict[str, float]] = {
    ("mnist", 100): {"nu_p2e": 0.005, "nu_e2c": 0.04, "t_theta": 6e6, "theta_plus": 0.07},
    ("mnist", 400): {"nu_p2e": 0.005, "nu_e2c": 0.04, "t_theta": 6e6, "theta_plus": 0.07},
    ("mnist", 1600): {"nu_p2e": 0.02, "nu_e2c": 0.08, "t_theta": 8e6, "theta_plus": 0.07},
    ("mnist", 6400): {"nu_p2e": 0.01, "nu_e2c": 0.04, "t_theta": 2e7, "theta_plus": 0.05},
    ("mnist", 10000): {"nu_p2e": 0.0075, "nu_e2c": 0.04, "t_theta": 2e7, "theta_plus": 0.05},
    # Fashion-MNIST: Vthresh -60, gEC_MAX 40, NORMAL 19.6 (model.h:48,138,148-152).
    ("fashion-mnist", 400): {
        "nu_p2e": 0.02,
        "nu_e2c": 0.32,
        "t_theta": 5e7,
        "theta_plus": 0.05,
        "v_thresh": -60.0,
        "g_e2c_max": 40.0,
        "p2e_norm": 19.6,
        "e2c_norm": 800.0,
    },
    # The 6400 gEC_MAX is ambiguous in model.h (40 annotated "fashion", 8 otherwise); we take 40
    # (docs/sym_stdp.md, «Decisions against the original»).
    ("fashion-mnist", 6400): {
        "nu_p2e": 0.0005,
        "nu_e2c": 0.08,
        "t_theta": 2e7,
        "theta_plus": 0.05,
        "v_thresh": -60.0,
        "g_e2c_max": 40.0,
        "p2e_norm": 19.6,
    },
}


@dataclass(frozen=True)
class SymStdpConfig:
    """Every constant of one sym-STDP configuration (ms, mV, Hz; weights dimensionless conductances)."""

    dataset: str
    n_hidden: int
    n_input: int = 784
    n_classes: int = 10
    input_shape: tuple[int, int] = MNIST_SHAPE  # (H, W) of the images, H*W = n_input
    classes: tuple[str, ...] = DIGITS  # names of the n_classes output neurons
    dt: float = 0.5
    present_ms: float = 350.0
    rest_ms: float = 150.0
    # learning
    nu_p2e: float = 0.005
    nu_e2c: float = 0.04
    a_plus: float = 0.1
    a_minus: float = 0.1
    tau_trace: float = 20.0
    g_p2e_max: float = 1.0
    g_e2c_max: float = 8.0
    p2e_norm: float = 78.4
    e2c_norm: float | None = None  # default 0.1 * n_hidden * g_e2c_max
    # excitatory neurons
    t_theta: float = 6e6
    theta_plus: float = 0.07
    theta_init: float = 20.0
    v_thresh: float = -52.0
    # fixed connections
    g_e2i: float = 10.4
    g_i2e: float = 17.0
    # input and teacher
    intensity_start: float = 2.0
    intensity_max: float = 32.0
    min_hidden_spikes: int = 5
    teacher_hz: float = 200.0

    @property
    def present_steps(self) -> int:
        """Steps of one presentation (700 at dt 0.5 ms)."""
        return round(self.present_ms / self.dt)

    @property
    def rest_steps(self) -> int:
        """Steps of the rest after each attempt (300 at dt 0.5 ms)."""
        return round(self.rest_ms / self.dt)

    @property
    def e2c_column_sum(self) -> float:
        """Target sum of each output neuron's incoming E2C weights (Cla_NORMAL)."""
        return self.e2c_norm if self.e2c_norm is not None else 0.1 * self.n_hidden * self.g_e2c_max

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for config.json and checkpoint metadata."""
        return asdict(self)


def make_config(dataset: str, n_hidden: int, **overrides: Any) -> SymStdpConfig:
    """The configuration of ``(dataset, n_hidden)`` from the original table, with optional overrides."""
    if dataset not in DATASETS:
        raise UserError(f"unknown sym-STDP dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    if (dataset, n_hidden) not in _TABLE:
        sizes = sorted(n for d, n in _TABLE if d == dataset)
        raise UserError(
            f"sym-STDP has no configuration for {dataset} with {n_hidden} hidden neurons; "
            f"allowed sizes for {dataset}: {', '.join(map(str, sizes))}"
        )
    base = SymStdpConfig(dataset=dataset, n_hidden=n_hidden, **_TABLE[(dataset, n_hidden)])
    return replace(base, **overrides) if overrides else base


def user_config(n_hidden: int, input_shape: tuple[int, int], classes: tuple[str, ...]) -> SymStdpConfig:
    """The configuration for a user's own dataset of grey ``input_shape`` = (H, W) images and ``classes``:
    the MNIST constants of ``n_hidden``, H×W input and len(classes) output neurons."""
    height, width = input_shape
    base = make_config("mnist", n_hidden)
    return replace(base, dataset=USER, n_input=height * width, n_classes=len(classes),
                   input_shape=(height, width), classes=tuple(classes),
                   p2e_norm=P2E_NORM_PER_INPUT * height * width)  # fmt: skip
