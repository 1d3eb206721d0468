"""Generate one numba kernel that runs a whole network for many timesteps (GeNN 5 step order).

Per timestep, exactly as GeNN 5 ``stepTime``: (1) synapse update for the spikes of the previous step:
synapse dynamics code, then for every presynaptic spike ``pre_spike_syn_code`` on its row (event-driven:
cost scales with spikes), then for every postsynaptic spike ``post_spike_syn_code`` on its column;
(2) neuron update per neuron: postsynaptic model code (``inSyn``, ``injectCurrent``) with variables at the
start of the step, sim code, weight-update pre/post dynamics code, threshold; for a spike: pre/post spike
code, recording, spike time, then reset code.

Arrays are passed in by name (see :class:`Names`); per-batch arrays carry a leading batch axis and the
kernel loops over the batch copies it is given. The kernel releases the GIL, so the runtime runs slices of
a batch on several threads at once; the kernel itself does not depend on the batch size.
"""

from __future__ import annotations

import itertools
import platform
from dataclasses import dataclass, field
from typing import Any

from hybridsnn.sim import ctype as ct
from hybridsnn.sim.ctype import CType
from hybridsnn.sim.kernel_library import (
    FAST_MATH_FLAGS,
    FLUSH_DENORMALS_OTHER,
    FLUSH_DENORMALS_X86,
    HELPERS,
    THREAD_SYNC,
    random_functions,
)
from hybridsnn.sim.spec import derived_values
from hybridsnn.sim.translate import Expr, Function, Scope, Symbol, Translator, code_use


def _fastmath_source(enabled: bool) -> str:
    """The ``fastmath=`` argument as deterministic source text (a set literal in sorted order)."""
    return "{" + ", ".join(repr(f) for f in sorted(FAST_MATH_FLAGS)) + "}" if enabled else "False"


class Names:
    """Kernel argument names of every array (shared with the runtime that allocates them)."""

    @staticmethod
    def nvar(p: int, v: str) -> str:
        """Neuron variable."""
        return f"n{p}v_{v}"

    @staticmethod
    def negp(p: int, e: str) -> str:
        """Neuron extra global parameter."""
        return f"n{p}e_{e}"

    @staticmethod
    def nx(p: int, what: str) -> str:
        """Neuron internals: spk (spike list), st / pst (last / previous spike time), rec (recording)."""
        return f"n{p}x_{what}"

    @staticmethod
    def svar(s: int, kind: str, v: str) -> str:
        """Synapse-group arrays: kind v (per synapse), p (pre var), q (post var), m (postsynaptic var),
        e (WU extra global param), f (PSM extra global param)."""
        return f"s{s}{kind}_{v}"

    @staticmethod
    def sx(s: int, what: str) -> str:
        """Synapse internals: out (input to the target), outpre (addToPre), and the SPARSE index arrays
        rowptr, ind, colptr, colsyn, colpre."""
        return f"s{s}x_{what}"


@dataclass(frozen=True)
class ArgSpec:
    """One array argument: name, dtype name, number of axes, and whether axis 0 is the batch."""

    name: str
    dtype: str
    ndim: int
    per_batch: bool

    def numba_type(self) -> str:
        """The numba signature of this argument (C-contiguous)."""
        base = "boolean" if self.dtype == "bool" else self.dtype
        return f"{base}[{', '.join([':'] * (self.ndim - 1) + ['::1'])}]"


@dataclass
class KernelPlan:
    """Generated module source plus what the runtime must supply to it."""

    source: str
    args: list[ArgSpec]
    rng_slots: dict[str, int]
    dynamic_slots: dict[tuple[str, str, str], int]
    connectivity_builders: dict[int, str] = field(default_factory=dict)
    shared_populations: frozenset[int] = frozenset()
    """Populations whose update runs whole on thread 0 (see ``KernelWriter._needs_one_thread``)."""


def _statement(arg_types: tuple[CType, ...], template: str) -> Function:
    """A void context function (e.g. ``addToPost``) emitted as ``template`` filled with its arguments."""
    return Function(arg_types, lambda args: Expr(template.format(*args), None), statement_only=True)


def _var_per_batch(access: str) -> bool:
    return access != "READ_ONLY"


def _var_writable(access: str) -> bool:
    return access == "READ_WRITE"


class KernelWriter:
    """Writes the kernel module for a network description (see :class:`NetworkDescription`)."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.scalar = ct.precision_type(net.precision)
        self.time = ct.precision_type(net.time_precision)
        self.counter = itertools.count()
        self.args: dict[str, ArgSpec] = {}
        self.rng_slots: dict[str, int] = {}
        self.dynamic_slots: dict[tuple[str, str, str], int] = {}
        self.uses_prev_st: set[int] = set()
        self.scratch: dict[str, str] = {}
        self.shared_populations: set[int] = set()
        self.dt_literal = ct.py_literal(ct.param_literal(net.dt, self.time), self.time)

    # -- small helpers ----------------------------------------------------------------------------------
    def _namer(self, name: str) -> str:
        return f"_c{next(self.counter)}_{name}"

    def _translator(self, where: str) -> Translator:
        return Translator(where, self.scalar, self.time, self._namer)

    def _arg(self, name: str, dtype: CType | str, per_batch: bool, ndim: int = 1) -> str:
        dtype_name = dtype if isinstance(dtype, str) else dtype.name
        spec = ArgSpec(name, dtype_name, ndim + (1 if per_batch else 0), per_batch)
        self.args.setdefault(name, spec)
        return name

    def _type(self, name: str) -> CType:
        t = ct.resolve(name, self.scalar, self.time)
        assert t is not None, name
        return t

    def _rng(self, key: str) -> int:
        return self.rng_slots.setdefault(key, len(self.rng_slots))

    def _rng_functions(self, key: str) -> dict[str, Function]:
        """``gennrand_*`` functions of generator ``key`` (its state lives in the local ``rs<slot>``)."""
        return random_functions(f"rs{self._rng(key)}", self.scalar)

    def _params(
        self,
        scope: Scope,
        model: Any,
        values: dict[str, float],
        dynamic: set[str],
        key: tuple[str, str, str],
        local_prefix: str,
    ) -> None:
        """Add params (literals, or runtime locals when dynamic) and derived params (literals)."""
        for p in model.params:
            t = self._type(p.type)
            if p.name in dynamic:
                local = f"{local_prefix}{p.name}"
                if (*key, p.name) not in self.dynamic_slots:
                    slot = self.dynamic_slots[(*key, p.name)] = len(self.dynamic_slots)
                    self.dynamic_inits.append(f"    {local} = {ct.cast(f'dyn[{slot}]', ct.FLOAT64, t)}")
                scope.symbols[p.name] = Symbol(local, t)
            else:
                scope.symbols[p.name] = Symbol(ct.py_literal(ct.param_literal(values[p.name], t), t), t)
        for d in model.derived_params:
            t = self._type(d.type)
            value = derived_values(model, values, self.net.dt)[d.name]
            scope.symbols[d.name] = Symbol(ct.py_literal(ct.param_literal(value, t), t), t)

    def _base_scope(self) -> Scope:
        scope = Scope()
        scope.symbols["t"] = Symbol("t", self.time)
        scope.symbols["dt"] = Symbol(self.dt_literal, self.time)
        return scope

    # -- main ------------------------------------------------------------------------------------------
    def write(self) -> KernelPlan:
        """The kernel module for the network."""
        net = self.net
        self.dynamic_inits: list[str] = []
        self._find_prev_st_users()
        for p, pop in enumerate(net.neurons):
            self._arg(Names.nx(p, "spk"), ct.UINT32, True)
            self._arg(Names.nx(p, "st"), self.time, True)
            if p in self.uses_prev_st:
                self._arg(Names.nx(p, "pst"), self.time, True)
            if pop.record:
                self._arg(Names.nx(p, "rec"), ct.UINT32, True, ndim=2)
        synapse_lines = self._synapse_update()
        neuron_lines = self._neuron_update()
        specs = list(self.args.values())
        params = ["n_steps", "ts0", "dyn", "rng_all", "spk_cnt_all", "tid", "nthr", "bounds", "sync"]
        params += [a.name + ("_all" if a.per_batch else "") for a in specs]
        signature = ", ".join(
            [
                "int64",
                "int64",
                "float64[::1]",
                "uint64[:, ::1]",
                "int32[:, :, ::1]",
                "int64",
                "int64",
                "int64[:, ::1]",
                "int64[::1]",
                *(a.numba_type() for a in specs),
            ]
        )
        slots = sorted(self.rng_slots.values())
        pops = range(len(net.neurons))
        lines = [
            f"@njit('void({signature})', cache=True, nogil=True, error_model='numpy', "
            f"fastmath={_fastmath_source(net.fastmath)})",
            f"def run({', '.join(params)}):",
            *self.dynamic_inits,
            "    for b in range(rng_all.shape[0]):",
            "        fp_state = _flush_denormals()",
            "        rng = rng_all[b]",
            *(f"        rs{k} = rng[{k}]" for k in slots),
            "        spk_cnt = spk_cnt_all[b]",
            *(f"        {a.name} = {a.name}_all[b]" for a in specs if a.per_batch),
            *(f"        N{p} = {Names.nx(p, 'spk')}.shape[0]" for p in range(len(net.neurons))),
            *(f"        lo{p}, hi{p} = bounds[{p}, tid], bounds[{p}, tid + 1]" for p in pops),
            *(f"        {name} = {init}" for name, init in self.scratch.items()),
            "        passed = 0",
            "        for step in range(n_steps):",
            "            ts = ts0 + step",
            f"            t = np.{self.time.name}(ts) * {self.dt_literal}",
            *synapse_lines,
            "            passed = _barrier(sync, nthr, passed)",
            *neuron_lines,
            "            passed = _barrier(sync, nthr, passed)",
            "        if tid == 0:  # shared generators advance on thread 0 only",
            *(f"            rng[{k}] = rs{k}" for k in slots),
            "            pass",
            "        _restore_fp_state(fp_state)",
        ]
        builders = self._connectivity_builders()
        flush = (
            FLUSH_DENORMALS_X86
            if platform.machine().lower() in ("x86_64", "amd64")
            else FLUSH_DENORMALS_OTHER
        )
        source = (
            f"# Generated by hybridsnn.sim.kernel for network {net.name!r}; do not edit.\n"
            f"{HELPERS}{THREAD_SYNC}{flush}\n\n" + "\n".join(lines) + "\n" + "".join(builders.values())
        )
        return KernelPlan(
            source,
            specs,
            dict(self.rng_slots),
            dict(self.dynamic_slots),
            {s: f"conn_s{s}" for s in builders},
            frozenset(self.shared_populations),
        )

    def _find_prev_st_users(self) -> None:
        for syn in self.net.synapses:
            for code in syn.wu.model.code().values():
                names = code_use(code).names
                if "prev_st_pre" in names:
                    self.uses_prev_st.add(syn.src)
                if "prev_st_post" in names:
                    self.uses_prev_st.add(syn.trg)

    # -- synapse update --------------------------------------------------------------------------------
    def _synapse_scope(self, s: int, syn: Any, where_code: str) -> tuple[Scope, Translator, list[str]]:
        """Scope of per-synapse code of group ``s``; also the hoisted per-presynaptic-neuron loads."""
        net = self.net
        wu = syn.wu.model
        scope = self._base_scope()
        tr = self._translator(
            f"weight update model {wu.name!r} {where_code} (synapse population {syn.name!r})"
        )
        self._params(scope, wu, syn.wu_params, syn.wu_dynamic, ("s", str(s), "wu"), f"d{s}w_")
        scalar = self.scalar
        scope.symbols.update(
            id_pre=Symbol("ipre", ct.UINT32),
            id_post=Symbol("j", ct.UINT32),
            id_syn=Symbol("syn", ct.UINT32),
            num_pre=Symbol(f"N{syn.src}", ct.UINT32),
            num_post=Symbol(f"N{syn.trg}", ct.UINT32),
        )
        for v in wu.vars:
            name = self._arg(Names.svar(s, "v", v.name), self._type(v.type), _var_per_batch(v.access))
            scope.symbols[v.name] = Symbol(
                f"{name}[syn]", self._type(v.type), writable=_var_writable(v.access)
            )
        hoisted: list[str] = []
        for v in wu.pre_vars:
            name = self._arg(Names.svar(s, "p", v.name), self._type(v.type), _var_per_batch(v.access))
            local = f"h{s}p_{v.name}"
            hoisted.append(f"{local} = {name}[ipre]")
            scope.symbols[v.name] = Symbol(local, self._type(v.type))
        for v in wu.post_vars:
            name = self._arg(Names.svar(s, "q", v.name), self._type(v.type), _var_per_batch(v.access))
            scope.symbols[v.name] = Symbol(f"{name}[j]", self._type(v.type))
        for ref_name, ref in syn.wu_pre_refs.items():
            decl = next(v for v in net.neurons[syn.src].model.vars if v.name == ref.var)
            name = self._arg(Names.nvar(syn.src, ref.var), self._type(decl.type), _var_per_batch(decl.access))
            scope.symbols[ref_name] = Symbol(f"{name}[ipre]", self._type(decl.type))
        for ref_name, ref in syn.wu_post_refs.items():
            decl = next(v for v in net.neurons[syn.trg].model.vars if v.name == ref.var)
            name = self._arg(Names.nvar(syn.trg, ref.var), self._type(decl.type), _var_per_batch(decl.access))
            scope.symbols[ref_name] = Symbol(f"{name}[j]", self._type(decl.type))
        for e in wu.extra_global_params:
            name = self._arg(Names.svar(s, "e", e.name), self._type(e.type[:-1].strip()), False)
            scope.symbols[e.name] = Symbol(name, self._type(e.type[:-1].strip()), writable=True, array=True)
        src_st, trg_st = Names.nx(syn.src, "st"), Names.nx(syn.trg, "st")
        scope.symbols["st_pre"] = Symbol(f"({self.dt_literal} + {src_st}[ipre])", self.time)
        scope.symbols["st_post"] = Symbol(f"({self.dt_literal} + {trg_st}[j])", self.time)
        if syn.src in self.uses_prev_st:
            scope.symbols["prev_st_pre"] = Symbol(
                f"({self.dt_literal} + {Names.nx(syn.src, 'pst')}[ipre])", self.time
            )
        if syn.trg in self.uses_prev_st:
            scope.symbols["prev_st_post"] = Symbol(
                f"({self.dt_literal} + {Names.nx(syn.trg, 'pst')}[j])", self.time
            )
        out = self._arg(Names.sx(s, "out"), scalar, True)
        scope.functions["addToPost"] = _statement((scalar,), out + "[j] += {0}")
        if "addToPre" in self._wu_calls(wu):
            outpre = self._arg(Names.sx(s, "outpre"), scalar, True)
            scope.functions["addToPre"] = _statement((scalar,), outpre + "[ipre] += {0}")
        scope.functions.update(self._rng_functions(f"s{s}"))
        return scope, tr, hoisted

    @staticmethod
    def _wu_calls(wu: Any) -> set[str]:
        calls: set[str] = set()
        for code in (wu.pre_spike_syn_code, wu.post_spike_syn_code, wu.synapse_dynamics_code):
            calls |= code_use(code).calls
        return calls

    def _sparse_arrays(self, s: int, columns: bool) -> None:
        """The CSR arrays of SPARSE group ``s``, and its column (CSC) arrays when postsynaptic spike code
        walks columns (the runtime builds only the arrays the kernel takes)."""
        self._arg(Names.sx(s, "rowptr"), ct.INT64, False)
        self._arg(Names.sx(s, "ind"), ct.UINT32, False)
        if columns:
            self._arg(Names.sx(s, "colptr"), ct.INT64, False)
            self._arg(Names.sx(s, "colpre"), ct.UINT32, False)
            self._arg(Names.sx(s, "colsyn"), ct.UINT64, False)

    def _shared_group(self, syn: Any) -> bool:
        """True if group ``syn``'s synapse code must run on one thread: it writes presynaptic inputs
        (``addToPre``), draws from the group's one generator, or may write extra global parameter arrays."""
        wu = syn.wu.model
        calls = self._wu_calls(wu)
        random = any(c.startswith("gennrand") for c in calls)
        return "addToPre" in calls or random or bool(wu.extra_global_params)

    @staticmethod
    def _each_spike(p: int, var: str, pad: str, own: bool = False) -> list[str]:
        """Loop head binding ``var`` to every spike of population ``p`` from the last step, in ascending
        neuron order (thread ``th`` keeps its spikes from ``bounds[p, th]``); ``own``: this thread's only.
        The body goes at ``pad`` plus 8 spaces."""
        spk = Names.nx(p, "spk")
        threads = "range(tid, tid + 1)" if own else "range(nthr)"
        return [
            pad + f"for th in {threads}:",
            pad + f"    for k in range(bounds[{p}, th], bounds[{p}, th] + spk_cnt[{p}, th]):",
            pad + f"        {var} = {spk}[k]",
        ]

    def _synapse_update(self) -> list[str]:
        """Synapse update. With several threads each one updates the synapses onto its own slice of the
        target population (``lo``..``hi``), so every synapse and input sees its updates in the one-thread
        order; groups whose code is not safe to split (:meth:`_shared_group`) run whole on thread 0."""
        dynamics: list[str] = []
        pre: list[str] = []
        post: list[str] = []
        pad = " " * 12
        for s, syn in enumerate(self.net.synapses):
            wu = syn.wu.model
            sparse = syn.matrix_type == "SPARSE"
            if sparse:
                self._sparse_arrays(s, bool(wu.post_spike_syn_code.strip()))
            self._arg(Names.sx(s, "out"), self.scalar, True)
            shared = self._shared_group(syn)
            gpad = pad + "    " if shared else pad
            guard = [pad + "if tid == 0:"] if shared else []
            lo, hi = (("0", f"N{syn.trg}") if shared else (f"lo{syn.trg}", f"hi{syn.trg}"))
            if wu.synapse_dynamics_code.strip():
                scope, tr, hoisted = self._synapse_scope(s, syn, "synapse_dynamics_code")
                body = tr.statements(wu.synapse_dynamics_code, scope, indent=0)
                dynamics += [pad + f"# synapse dynamics of {syn.name!r}", *guard,
                             gpad + f"for ipre in range(N{syn.src}):"]  # fmt: skip
                dynamics += [gpad + "    " + h for h in hoisted]
                dynamics += self._row_loop(s, syn, sparse, body, gpad + "    ", lo, hi)
            if wu.pre_spike_syn_code.strip():
                scope, tr, hoisted = self._synapse_scope(s, syn, "pre_spike_syn_code")
                body = tr.statements(wu.pre_spike_syn_code, scope, indent=0)
                pre += [pad + f"# presynaptic spikes of {syn.name!r}", *guard]
                pre += self._each_spike(syn.src, "ipre", gpad)
                pre += [gpad + "        " + h for h in hoisted]
                pre += self._row_loop(s, syn, sparse, body, gpad + "        ", lo, hi)
            if wu.post_spike_syn_code.strip():
                scope, tr, hoisted = self._synapse_scope(s, syn, "post_spike_syn_code")
                body = tr.statements(wu.post_spike_syn_code, scope, indent=0)
                post += [pad + f"# postsynaptic spikes of {syn.name!r}", *guard]
                post += self._each_spike(syn.trg, "j", gpad, own=not shared)  # column j: its owner's
                inner = gpad + "            "
                if sparse:
                    colptr = Names.sx(s, "colptr")
                    post += [
                        gpad + f"        for c in range({colptr}[j], {colptr}[j + 1]):",
                        inner + f"syn = {Names.sx(s, 'colsyn')}[c]",
                        inner + f"ipre = {Names.sx(s, 'colpre')}[c]",
                    ]
                else:
                    post += [
                        gpad + f"        for ipre in range(N{syn.src}):",
                        inner + f"syn = np.uint64(ipre) * np.uint64(N{syn.trg}) + np.uint64(j)",
                    ]
                post += [inner + h for h in hoisted]
                post += [inner + line for line in body] or [inner + "pass"]
        return dynamics + pre + post

    @staticmethod
    def _row_loop(s: int, syn: Any, sparse: bool, body: list[str], pad: str, lo: str, hi: str) -> list[str]:
        """The loop over the synapses of row ``ipre`` onto targets ``lo`` <= j < ``hi``. Synapse and
        neuron indices are unsigned, so numba emits no negative-index wrap-around checks and LLVM can
        vectorise dense rows. A SPARSE row is sorted by target, so its slice is found by bisection."""
        inner = pad + "    "
        if sparse:
            rowptr, ind = Names.sx(s, "rowptr"), Names.sx(s, "ind")
            head = [
                pad + f"k_lo, k_hi = _row_slice({ind}, {rowptr}[ipre], {rowptr}[ipre + 1], {lo}, {hi}, "
                f"N{syn.trg})",
                pad + "for k_syn in range(k_lo, k_hi):",
                inner + "syn = np.uint64(k_syn)",
                inner + f"j = {ind}[syn]",
            ]
        else:
            head = [
                pad + f"base = np.uint64(ipre) * np.uint64(N{syn.trg})",
                pad + f"for j in range(np.uint64({lo}), np.uint64({hi})):",
                inner + "syn = base + np.uint64(j)",
            ]
        return head + ([inner + line for line in body] or [inner + "pass"])

    # -- neuron update ---------------------------------------------------------------------------------
    def _neuron_update(self) -> list[str]:
        lines: list[str] = []
        pad = " " * 12
        for p in sorted(self.uses_prev_st):
            lines += [
                pad + f"for k in range(lo{p}, lo{p} + spk_cnt[{p}, tid]):",
                pad + f"    {Names.nx(p, 'pst')}[{Names.nx(p, 'spk')}[k]] = t - {self.dt_literal}",
            ]
        for p, pop in enumerate(self.net.neurons):
            lines += self._population(p, pop, pad)
        return lines

    def _population(self, p: int, pop: Any, pad: str) -> list[str]:
        """Neuron update of population ``p`` in two passes over the neurons.

        Pass 1 runs the postsynaptic models, sim code, weight-update dynamics and the threshold test for
        every neuron and only marks spikes in a flag array: no loop-carried state (the spike list, a shared
        generator), so LLVM vectorises it. Pass 2 visits the flagged neurons in ascending order and runs
        spike code, recording and reset code, appending to the spike list exactly as one pass would.
        Neuron-model random numbers come from one generator per neuron (``n{p}x_rng``) for the same reason.
        """
        net = self.net
        model = pop.model
        inner = pad + "    "
        scope = self._base_scope()
        where = f"neuron model {model.name!r} {{}} (population {pop.name!r})"
        self._params(scope, model, pop.params, pop.dynamic, ("n", str(p), "neuron"), f"d{p}n_")
        locals_: dict[str, tuple[str, CType, str]] = {}
        for v in model.vars:
            t = self._type(v.type)
            arr = self._arg(Names.nvar(p, v.name), t, _var_per_batch(v.access))
            locals_[v.name] = (f"l{p}_{v.name}", t, arr)
            scope.symbols[v.name] = Symbol(f"l{p}_{v.name}", t, writable=_var_writable(v.access))
        for e in model.extra_global_params:
            et = self._type(e.type[:-1].strip())
            name = self._arg(Names.negp(p, e.name), et, False)
            scope.symbols[e.name] = Symbol(name, et, writable=True, array=True)
        scope.symbols.update(
            id=Symbol("i", ct.UINT32),
            num_neurons=Symbol(f"N{p}", ct.UINT32),
            Isyn=Symbol("Isyn", self.scalar),
            st=Symbol(f"{Names.nx(p, 'st')}[i]", self.time),
        )
        neuron_rng = f"rn{p}"
        scope.functions.update(random_functions(neuron_rng, self.scalar))
        incoming = [(s, syn) for s, syn in enumerate(net.synapses) if syn.trg == p]
        outgoing = [(s, syn) for s, syn in enumerate(net.synapses) if syn.src == p]

        body: list[str] = [f"Isyn = {ct.py_literal(0.0, self.scalar)}"]
        used: set[str] = set()
        assigned: set[str] = set()
        calls: set[str] = set()
        for field_name, code in model.code().items():
            use = code_use(code, expression=field_name == "threshold_condition_code")
            used |= use.names
            assigned |= use.assigned
            calls |= use.calls
        # postsynaptic models (with neuron variables as at the start of the step)
        for s, syn in incoming:
            body += self._psm(s, syn, scope, locals_, used, assigned)
        for s, syn in outgoing:
            if "addToPre" in self._wu_calls(syn.wu.model):
                outpre = Names.sx(s, "outpre")
                body += [f"Isyn = Isyn + {outpre}[i]", f"{outpre}[i] = {ct.py_literal(0.0, self.scalar)}"]
        sim = self._translator(where.format("sim_code"))
        neuron_scope = scope.child()
        threshold = model.threshold_condition_code
        old_spike = ""
        if threshold.strip() and model.auto_refractory_required:
            pre, old_spike = self._translator(where.format("threshold_condition_code")).expression(
                threshold, neuron_scope
            )
            body += [*pre, f"old_spike = {old_spike}"]
        body += sim.statements(model.sim_code, neuron_scope, share_scope=True)
        # weight-update dynamics and spike code of attached synapse groups (their pre/post vars cached)
        wu_loads, wu_dyn, wu_spike, wu_stores = [], [], [], []
        for s, syn, side in [(s, syn, "pre") for s, syn in outgoing] + [
            (s, syn, "post") for s, syn in incoming
        ]:
            loads, dyn, spk, stores = self._wu_neuron(s, syn, side, locals_, used, assigned)
            wu_loads += loads
            wu_dyn += dyn
            wu_spike += spk
            wu_stores += stores
        body = body[:1] + wu_loads + body[1:] + wu_dyn
        loads = [f"{local} = {arr}[i]" for name, (local, _, arr) in locals_.items() if name in used]
        stores = [
            f"{arr}[i] = {local}"
            for name, (local, _, arr) in locals_.items()
            if name in used and name in assigned
        ]
        if self._needs_one_thread(model, incoming, outgoing):
            self.shared_populations.add(p)
        if any(c.startswith("gennrand") for c in calls):
            rng = self._arg(Names.nx(p, "rng"), ct.UINT64, True)
            loads.append(f"{neuron_rng} = {rng}[i]")
            stores.append(f"{rng}[i] = {neuron_rng}")
        head = [pad + f"# neuron update of {pop.name!r}", pad + "cnt = 0"]
        tail = [pad + f"spk_cnt[{p}, tid] = cnt"]
        if pop.record:  # this thread's words only (slices of split populations start at multiples of 32)
            rec = Names.nx(p, "rec")
            head += [
                pad + f"rec_row = {rec}[ts % {rec}.shape[0]]",
                pad + f"if hi{p} > lo{p}:",
                pad + f"    rec_row[lo{p} >> 5 : (hi{p} + 31) >> 5] = 0",
            ]
        # unsigned loop indices: numba then emits no negative-index checks and LLVM vectorises the loop
        loop = pad + f"for i in range(np.uint64(lo{p}), np.uint64(hi{p})):"
        if not threshold.strip():
            one_pass = loads + body + stores + wu_stores
            return head + [loop] + [inner + x for x in one_pass] + tail
        pre, cond = self._translator(where.format("threshold_condition_code")).expression(
            threshold, neuron_scope
        )
        spiked = f"({cond}){' and not old_spike' if old_spike else ''}"
        spike = list(wu_spike)
        if pop.record:
            spike.append(
                "rec_row[i >> np.uint64(5)] = rec_row[i >> np.uint64(5)] "
                "| np.uint32(np.uint32(1) << np.uint32(i & np.uint64(31)))"
            )
        spike += [f"{Names.nx(p, 'st')}[i] = t", f"{Names.nx(p, 'spk')}[lo{p} + cnt] = i", "cnt += 1"]
        spike += self._translator(where.format("reset_code")).statements(model.reset_code, neuron_scope)
        flags = f"flags{p}"
        self.scratch[flags] = f"np.zeros(N{p}, np.uint8)"
        first = [*loads, *body, *pre, f"{flags}[i] = np.uint8(1) if {spiked} else np.uint8(0)"]
        second = [*loads, *wu_loads]
        if "Isyn" in code_use(model.reset_code).names:  # the reset sees this step's input, as in one pass
            self.scratch[f"isyn{p}"] = f"np.zeros(N{p}, np.{self.scalar.name})"
            first.append(f"isyn{p}[i] = Isyn")
            second.append(f"Isyn = isyn{p}[i]")
        first += [*stores, *wu_stores]
        second += [*spike, *stores, *wu_stores]
        return (
            head
            + [loop]
            + [inner + x for x in first]
            + [loop, inner + f"if {flags}[i] != 0:"]
            + [inner + "    " + x for x in second]
            + tail
        )

    @staticmethod
    def _needs_one_thread(model: Any, incoming: list[Any], outgoing: list[Any]) -> bool:
        """True if a population's update must not be split over threads: code in its neuron loop draws
        from a shared generator (postsynaptic or weight-update neuron code) or may write an extra global
        parameter array at any index."""

        def draws(*codes: str) -> bool:
            return any(c.startswith("gennrand") for code in codes for c in code_use(code).calls)

        if model.extra_global_params:
            return True
        for _, syn in incoming:
            if syn.ps.model.extra_global_params or draws(syn.ps.model.sim_code):
                return True
        sides = [(syn, "pre") for _, syn in outgoing] + [(syn, "post") for _, syn in incoming]
        for syn, side in sides:
            wu = syn.wu.model
            codes = getattr(wu, f"{side}_dynamics_code"), getattr(wu, f"{side}_spike_code")
            if wu.extra_global_params or draws(*codes):
                return True
        return False

    def _ref_symbols(
        self,
        scope: Scope,
        refs: dict[str, Any],
        decls: Any,
        locals_: dict[str, Any],
        used: set[str],
        assigned: set[str],
        code_assigned: frozenset[str],
    ) -> None:
        """Bind neuron variable references to the neuron's cached locals."""
        for decl in decls:
            ref = refs[decl.name]
            local, t, _ = locals_[ref.var]
            scope.symbols[decl.name] = Symbol(local, t, writable=decl.access == "READ_WRITE")
            used.add(ref.var)
            if decl.name in code_assigned:
                assigned.add(ref.var)

    def _psm(
        self, s: int, syn: Any, parent: Scope, locals_: dict[str, Any], used: set[str], assigned: set[str]
    ) -> list[str]:
        psm = syn.ps.model
        scope = self._base_scope()  # the neuron's own variables are visible only through references
        scope.symbols.update(id=parent.symbols["id"], num_neurons=parent.symbols["num_neurons"])
        use = code_use(psm.sim_code)
        self._params(scope, psm, syn.ps_params, syn.ps_dynamic, ("s", str(s), "ps"), f"d{s}s_")
        for v in psm.vars:
            name = self._arg(Names.svar(s, "m", v.name), self._type(v.type), _var_per_batch(v.access))
            scope.symbols[v.name] = Symbol(f"{name}[i]", self._type(v.type), writable=_var_writable(v.access))
        for e in psm.extra_global_params:
            et = self._type(e.type[:-1].strip())
            name = self._arg(Names.svar(s, "f", e.name), et, False)
            scope.symbols[e.name] = Symbol(name, et, writable=True, array=True)
        self._ref_symbols(scope, syn.ps_refs, psm.neuron_var_refs, locals_, used, assigned, use.assigned)
        local = f"linSyn{s}"
        scope.symbols["inSyn"] = Symbol(local, self.scalar, writable=True)
        scope.functions["injectCurrent"] = _statement((self.scalar,), "Isyn = Isyn + {0}")
        scope.functions.update(self._rng_functions(f"s{s}ps"))
        tr = self._translator(f"postsynaptic model {psm.name!r} sim_code (synapse population {syn.name!r})")
        out = Names.sx(s, "out")
        return [f"{local} = {out}[i]", *tr.statements(psm.sim_code, scope), f"{out}[i] = {local}"]

    def _wu_neuron(
        self, s: int, syn: Any, side: str, locals_: dict[str, Any], used: set[str], assigned: set[str]
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """Weight-update ``{side}_dynamics_code`` and ``{side}_spike_code`` (side pre/post) of group ``s`` in
        the neuron update: (loads, dynamics lines, spike lines, stores); its pre/post vars live in locals."""
        wu = syn.wu.model
        dynamics, spike = getattr(wu, f"{side}_dynamics_code"), getattr(wu, f"{side}_spike_code")
        if not (dynamics.strip() or spike.strip()):
            return [], [], [], []
        pop = syn.src if side == "pre" else syn.trg
        scope = self._base_scope()
        scope.symbols.update(id=Symbol("i", ct.UINT32), num_neurons=Symbol(f"N{pop}", ct.UINT32))
        self._params(scope, wu, syn.wu_params, syn.wu_dynamic, ("s", str(s), "wu"), f"d{s}w_")
        letter = "p" if side == "pre" else "q"
        code_names = code_use(dynamics).names | code_use(spike).names
        code_assigned = code_use(dynamics).assigned | code_use(spike).assigned
        loads, stores = [], []
        for v in wu.pre_vars if side == "pre" else wu.post_vars:
            t = self._type(v.type)
            name = self._arg(Names.svar(s, letter, v.name), t, _var_per_batch(v.access))
            local = f"w{s}{letter}_{v.name}"
            scope.symbols[v.name] = Symbol(local, t, writable=_var_writable(v.access))
            if v.name in code_names:
                loads.append(f"{local} = {name}[i]")
                if v.name in code_assigned:
                    stores.append(f"{name}[i] = {local}")
        for e in wu.extra_global_params:
            et = self._type(e.type[:-1].strip())
            name = self._arg(Names.svar(s, "e", e.name), et, False)
            scope.symbols[e.name] = Symbol(name, et, writable=True, array=True)
        scope.symbols[f"st_{side}"] = Symbol(f"{Names.nx(pop, 'st')}[i]", self.time)
        refs = syn.wu_pre_refs if side == "pre" else syn.wu_post_refs
        decls = wu.pre_neuron_var_refs if side == "pre" else wu.post_neuron_var_refs
        self._ref_symbols(scope, refs, decls, locals_, used, assigned, frozenset(code_assigned))
        scope.functions.update(self._rng_functions(f"s{s}"))
        where = f"weight update model {wu.name!r} {{}} (synapse population {syn.name!r})"
        dyn_lines = self._translator(where.format(f"{side}_dynamics_code")).statements(dynamics, scope)
        spike_lines = self._translator(where.format(f"{side}_spike_code")).statements(spike, scope)
        return loads, dyn_lines, spike_lines, stores

    # -- connectivity ----------------------------------------------------------------------------------
    def _connectivity_builders(self) -> dict[int, str]:
        builders = {}
        for s, syn in enumerate(self.net.synapses):
            if syn.connectivity is None:
                continue
            snippet = syn.connectivity.snippet
            scope = self._base_scope()
            self._params(scope, snippet, syn.connectivity.params, set(), ("c", str(s), "conn"), f"c{s}_")
            scope.symbols.update(
                id_pre=Symbol("id_pre", ct.UINT32),
                num_pre=Symbol("num_pre", ct.UINT32),
                num_post=Symbol("num_post", ct.UINT32),
            )
            scope.functions["addSynapse"] = _statement(
                (ct.UINT32,), "_add_synapse(rows, row_len, id_pre, {0})"
            )
            scope.functions.update(random_functions("rs0", self.scalar))
            tr = self._translator(
                f"sparse connectivity {snippet.name!r} row_build_code (synapse population {syn.name!r})"
            )
            body = tr.statements(snippet.row_build_code, scope, indent=2)
            builders[s] = (
                "\n\n@njit('void(int64, int64, uint64[::1], int32[:, ::1], int32[::1])', cache=True)\n"
                f"def conn_s{s}(num_pre, num_post, rng, rows, row_len):\n"
                "    rs0 = rng[0]\n"
                "    for id_pre in range(num_pre):\n" + "\n".join(body or ["        pass"]) + "\n"
                "    rng[0] = rs0\n"
            )
        return builders


# ---------------------------------------------------------------------------------------------------------
# What the writer needs to know about a network (built by the runtime at build time)
@dataclass
class NeuronDesc:
    """One neuron population: model, param values, dynamic param names, spike recording on/off."""

    name: str
    model: Any
    params: dict[str, float]
    dynamic: set[str]
    record: bool


@dataclass
class SynapseDesc:
    """One synapse population; ``src``/``trg`` are neuron population indices, refs map name -> VarRef."""

    name: str
    matrix_type: str
    src: int
    trg: int
    wu: Any
    wu_params: dict[str, float]
    wu_dynamic: set[str]
    wu_pre_refs: dict[str, Any]
    wu_post_refs: dict[str, Any]
    ps: Any
    ps_params: dict[str, float]
    ps_dynamic: set[str]
    ps_refs: dict[str, Any]
    connectivity: Any


@dataclass
class NetworkDesc:
    """A whole network: precision ("float"/"double"), dt (ms), fast-math on/off, populations in order."""

    name: str
    precision: str
    time_precision: str
    dt: float
    fastmath: bool
    neurons: list[NeuronDesc]
    synapses: list[SynapseDesc]


def write_kernel(net: NetworkDesc) -> KernelPlan:
    """Generate the kernel module for ``net``."""
    return KernelWriter(net).write()
