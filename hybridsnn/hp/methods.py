"""HP-SNN's learning methods, each defined once: which parameters learn by gradient (globally), whether the
plastic layers keep a Hebbian trace (local plasticity), and which tasks offer the method (docs/hp.md,
«Methods»).

A run resolves ``--method`` once (:func:`resolve_method`) into a :class:`Method`; the networks read its
flags when they are built and never compare method names while they run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hybridsnn.errors import UserError, unknown_choice
from hybridsnn.hp.system import TASKS

DEFAULT_METHOD = "hp"


@dataclass(frozen=True)
class Method:
    """One HP-SNN method.

    hebbian: the plastic layers add the Hebbian pathway (α·H) to their current and update the trace H.
    local_learns: the meta-local parameters α, β, η are trained by gradient (own optimiser, ``--local-lr``).
    frozen_input_layer: the first layer is a fixed random projection with a fixed Hebbian pathway, run
        without gradient (the LP baseline); the later layers learn.
    ewc: elastic weight consolidation instead of task masks and the input filter (multitask only).
    tasks: the tasks that offer the method.
    flags: training flags (argparse destinations) only this method reads.
    """

    name: str
    hebbian: bool
    local_learns: bool
    tasks: tuple[str, ...]
    frozen_input_layer: bool = False
    ewc: bool = False
    flags: tuple[str, ...] = ()

    def allows(self, task: str) -> bool:
        """True if ``task`` offers this method."""
        return task in self.tasks


HP = Method("hp", hebbian=True, local_learns=True, tasks=TASKS, flags=("local_lr", "meta_tasks"))
GP = Method("gp", hebbian=False, local_learns=False, tasks=TASKS)
LP = Method("lp", hebbian=True, local_learns=True, tasks=("simple",), frozen_input_layer=True,
            flags=("local_lr",))  # fmt: skip
EWC = Method("ewc", hebbian=False, local_learns=False, tasks=("multitask",), ewc=True, flags=("ewc_lambda",))
#: Every method by name, in the order the tasks list them.
METHODS = {method.name: method for method in (HP, GP, LP, EWC)}
#: The training flags that only some methods read, and those methods (``--method gp --local-lr``: refused).
METHOD_FLAGS_OF = {
    flag: tuple(m.name for m in METHODS.values() if flag in m.flags)
    for flag in dict.fromkeys(f for m in METHODS.values() for f in m.flags)
}


def methods_of(task: str) -> tuple[str, ...]:
    """The names of the methods ``task`` offers (simple: hp, gp, lp; multitask: hp, gp, ewc; else hp, gp)."""
    return tuple(name for name, method in METHODS.items() if method.allows(task))


def resolve_method(task: str, name: str | None) -> Method:
    """The method ``name`` (None or empty: hp) of ``task``; refused if the task does not offer it."""
    name = name or DEFAULT_METHOD
    allowed = methods_of(task)
    if name not in allowed:
        raise UserError(f"--method {name!r} is not available for task {task}; allowed: {', '.join(allowed)}")
    return METHODS[name]


def check_network_method(method: Method, tasks: Collection[str], network: str) -> None:
    """Refuse to build the ``network`` of ``tasks`` with a method none of them offers."""
    if not any(method.allows(task) for task in tasks):
        allowed = dict.fromkeys(name for task in tasks for name in methods_of(task))
        raise unknown_choice(f"{network} method", method.name, allowed)
