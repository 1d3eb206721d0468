"""Shifting Learning as time-stepped GeNN 5 models (docs/shifting.md, «Time-stepped version»).

Units: **code-frame time units** — the time t of the original code, where a spike at t is carried as
z = exp(t) and the synaptic current decays with a time constant of 1 unit (there are no ms here; ``dt``
and ``t`` of the simulation are in these units). Each layer runs on its own shifted clock: a neuron of a
layer with offset ``D`` that spikes at code time t_code does so at simulation time t = t_code + D. The
offsets (dynamic params, set by the host per run) keep all simulation times ≥ 0 and leave every layer
at least one step of latency even when its delays ln(e_tp) are negative; z values are always formed in
the code frame (``exp(t - D)``), so no offset leaks into any z.

Phases (the dynamic int param ``phase`` of every population, set by the host):

* ``FORWARD`` (0): inputs fire at their times; a :data:`ShiftingNeuron` keeps the running sums
  A = Σw and B = Σw·z of the inputs that have arrived, forms the candidate c = B/(A − 1) in every step in
  which input arrives, keeps the minimum valid one (c ≥ z of the arriving inputs: the "relaxed"
  causality of the original), and fires once when t reaches ln(zsched·e_tp) + D (to the nearest step).
  zsched starts at the no-spike sentinel 1e5, so a neuron without a valid candidate fires at the
  sentinel time like the original's z = 1e5.
* ``QUIET`` (2): nothing integrates and nothing fires (one step drains spikes still in flight).
* ``LEARN`` (1): each layer emits one *learning spike* at its own step ``tlearn`` (output layer first).
  The learning spike of a post neuron runs :data:`ShiftingSynapse`'s ``post_spike_syn_code`` on all its
  input synapses: a synapse whose presynaptic spike arrived no later than the step that set the post's
  minimum (the causal mask) adds δ·e^{e_tp}·(z_pre − ẑ_post) to its per-lane gradient and feeds
  g·δ back into the presynaptic neuron with ``addToPre`` (the feedback connection). A hidden neuron sums
  the feedback it receives into ``delta`` before its own learning spike one step later. The output
  error δ_out (the global reward signal) is written into the output layer's ``delta`` by the host.

Arrival is quantised (docs/shifting.md, «Stepped vs analytic»): inputs that arrive in a step were emitted
one step earlier, so their z is exp(t − dt − Dpre) and B grows by ΔA·exp(t − dt − Dpre) with ΔA = ``Isyn``
(``DeltaCurr`` delivers a step's Σw at once).
"""

from __future__ import annotations

from genn_models.base import NeuronModel, WeightUpdateModel

FORWARD, LEARN, QUIET = 0, 1, 2
"""Values of the ``phase`` param."""

SENTINEL = 1e5
"""z of a neuron without a valid candidate (as the original's no-spike value)."""

NEVER = 1e30
"""Initial spike time of a neuron that has not fired (later than any simulation time)."""

ShiftingInput = NeuronModel(
    "ShiftingInput",
    params=[("phase", "int"), "D"],
    vars=[
        ("tin", "scalar", "READ_ONLY_DUPLICATE"),
        ("fired", "int"),
        ("tspk", "scalar"),
        ("zspk", "scalar"),
    ],
    threshold_condition_code="phase == 0 && fired == 0 && t >= tin",
    reset_code="""
        fired = 1;
        tspk = t;
        zspk = exp(t - D);          // the z this spike carries, in the code frame
    """,
)
"""Time-to-first-spike input: fires once, in the first step with t ≥ ``tin`` (simulation time, set per
lane by the host), and stores its spike time ``tspk`` and code-frame z ``zspk``."""

ShiftingNeuron = NeuronModel(
    "ShiftingNeuron",
    params=[("phase", "int"), "D", "Dpre", "tlearn"],
    vars=[
        ("A", "scalar"),
        ("B", "scalar"),
        ("zsched", "scalar"),
        ("tcause", "scalar"),
        ("tfire", "scalar"),
        ("fired", "int"),
        ("tspk", "scalar"),
        ("zspk", "scalar"),
        ("zhat", "scalar"),
        ("delta", "scalar"),
        ("dscale", "scalar"),
        ("lspk", "int"),
        ("etp", "scalar", "READ_ONLY"),
    ],
    sim_code="""
        if (phase == 0) {
            if (tfire < 0.0) {
                tfire = log(zsched * etp) + D;        // sentinel time until a valid candidate arrives
            }
            if (fired == 0 && Isyn != 0.0) {
                const scalar znow = exp(t - dt - Dpre);   // z of the inputs arriving now
                A += Isyn;
                B += Isyn * znow;
                if (tcause < 0.0) {
                    tcause = t;                       // first arrival: the mask of a sentinel neuron
                }
                if (A > 1.0) {
                    const scalar c = B / (A - 1.0);
                    if (c >= znow && c < zsched) {
                        zsched = c;
                        tcause = t;
                        tfire = log(c * etp) + D;
                    }
                }
            }
        }
        else if (phase == 1 && lspk == 0) {
            delta += Isyn;                            // feedback from the layer above
        }
    """,
    threshold_condition_code=(
        "(phase == 0 && fired == 0 && t + 0.5 * dt >= tfire)"
        " || (phase == 1 && lspk == 0 && t + 0.5 * dt >= tlearn)"
    ),
    reset_code="""
        if (phase == 0) {
            fired = 1;
            tspk = t;
            zhat = zsched * etp;
            zspk = exp(t - D);
        }
        else {
            lspk = 1;
            dscale = delta * exp(etp);
        }
    """,
)
"""Single-spike neuron of Shifting Learning with the min-candidate schedule (docs/shifting.md,
«Time-stepped version»).

Per lane: running sums ``A``, ``B``; scheduled raw output ``zsched`` (init :data:`SENTINEL`), the arrival
step ``tcause`` that set it (init −1), its firing time ``tfire`` (init −1: computed in the first step),
``fired``; after the forward spike ``tspk``, ``zspk`` = exp(tspk − D) and ``zhat`` = zsched·e_tp (the
layer output ẑ); in the learning phase ``delta`` (output: written by the host; hidden: feedback sum),
``dscale`` = δ·exp(e_tp) and ``lspk``. Shared by all lanes: ``etp`` (e_tp, READ_ONLY). Dynamic params:
``phase``, offsets ``D`` (own layer) and ``Dpre`` (input layer), ``tlearn`` (time of the learning spike)."""

ShiftingSynapse = WeightUpdateModel(
    "ShiftingSynapse",
    params=[("feedback", "int")],
    vars=[("g", "scalar", "READ_ONLY"), ("grad", "scalar")],
    pre_neuron_var_refs=[("tspk_pre", "scalar", "READ_ONLY"), ("zspk_pre", "scalar", "READ_ONLY")],
    post_neuron_var_refs=[
        ("tcause_post", "scalar", "READ_ONLY"),
        ("lspk_post", "int", "READ_ONLY"),
        ("delta_post", "scalar", "READ_ONLY"),
        ("dscale_post", "scalar", "READ_ONLY"),
        ("zhat_post", "scalar", "READ_ONLY"),
    ],
    pre_spike_syn_code="addToPost(g);",
    post_spike_syn_code="""
        // a learning spike of the post neuron; the pre spike (arriving one step after tspk_pre) is causal
        if (lspk_post != 0 && tspk_pre < tcause_post - 0.5 * dt) {
            grad += dscale_post * (zspk_pre - zhat_post);
            if (feedback != 0) {
                addToPre(g * delta_post);
            }
        }
    """,
)
"""Forward synapse with the local three-factor term and the feedback connection.

``g`` (e_ts, shared by all lanes) is added to the target on every presynaptic spike (use ``DeltaCurr``).
On a learning spike of the post neuron: ``grad`` (per lane) += δ·exp(e_tp)·(z_pre − ẑ_post) if the pre
spike was causal, and with ``feedback`` = 1 the presynaptic neuron receives g·δ (docs/shifting.md,
«Learning rule»). Pre references: ``tspk``, ``zspk``; post references: ``tcause``, ``lspk``, ``delta``,
``dscale``, ``zhat``."""
