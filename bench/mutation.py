"""Run mutmut (``[tool.mutmut]`` in pyproject.toml) on one target at a time and print the score table.

Run it from a *copy* of the checkout (mutmut writes ``mutants/`` and runs the tests there; a copy keeps
the working checkout and its kernel cache out of it)::

    git worktree add ../mut HEAD && cd ../mut        # or a copy with uncommitted changes
    HYBRIDSNN_DATA=../shared/data nice -n 19 /path/to/.venv/bin/python bench/mutation.py \\
        hybridsnn.checkpoint hybridsnn.dsl.rules
    .../python bench/mutation.py --fraction 0.2 hybridsnn.sim.translate   # a deterministic 20 % sample
    .../python bench/mutation.py --rerun survivors hybridsnn.checkpoint    # after adding tests
    .../python bench/mutation.py --scores                                  # the table only

``--profile kernel`` mutates the kernel generator ``hybridsnn/sim/kernel.py`` against the tests that compile
and run kernels (test_sim_dynamics, test_sim_errors, test_sim_translate): every mutant that changes the
generated code costs a numba compile (~15 s), so sample it (``--fraction 0.03``). A profile rewrites the
copy's ``[tool.mutmut]`` and needs a copy of its own (``mutants/`` belongs to one profile).

A target is a module (``hybridsnn.hp.layer``) or a prefix of mutant names. ``--fraction`` keeps the
mutants whose name hashes below it (the same ones on every run of the same code). Survivors listed in
``.mutation/accepted.txt`` (``name  reason`` per line: equivalent mutants, message text) are counted as
accepted, not survived.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path.cwd()
MUTANTS = ROOT / "mutants"
ACCEPTED = ROOT / ".mutation" / "accepted.txt"
KILLED = {1, 3, -24, 24, 152, 255, 36, -11, -9}  # mutmut: failed, internal error, timeout, crash
SURVIVED, NO_TESTS = {0}, {5, 33}
PROFILES = {
    "kernel": {
        "only_mutate": ["hybridsnn/sim/kernel.py"],
        "pytest_add_cli_args_test_selection": [
            "tests/test_sim_dynamics.py", "tests/test_sim_errors.py", "tests/test_sim_translate.py",
        ],
    },
}  # fmt: skip
"""Other ``[tool.mutmut]`` settings than pyproject.toml's (the default profile)."""


def use_profile(name: str) -> None:
    """Rewrite this copy's ``[tool.mutmut]`` for profile ``name`` (refusing a ``mutants/`` of another)."""
    marker = MUTANTS / "profile.txt"
    held = marker.read_text().strip() if marker.exists() else name
    if held != name:
        raise SystemExit(f"mutants/ holds profile {held!r}; run profile {name!r} in another copy")
    if name != "default":
        text = (ROOT / "pyproject.toml").read_text()
        for key, values in PROFILES[name].items():
            listed = "[\n" + "".join(f'    "{v}",\n' for v in values) + "]"
            text, count = re.subn(rf"(?ms)^{key} = \[.*?^\]", f"{key} = {listed}", text)
            if count != 1:
                raise SystemExit(f"pyproject.toml: [tool.mutmut] {key} not found")
        (ROOT / "pyproject.toml").write_text(text)
    MUTANTS.mkdir(exist_ok=True)
    marker.write_text(name + "\n")


def _mutmut() -> list[str]:
    return [str(Path(sys.executable).with_name("mutmut"))]


def load_results() -> dict[str, int | None]:
    """mutant name -> mutmut exit code (None: not run yet) from ``mutants/**/*.meta``."""
    results: dict[str, int | None] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        results.update(json.loads(meta.read_text())["exit_code_by_key"])
    return results


def load_accepted() -> dict[str, str]:
    accepted = {}
    if ACCEPTED.exists():
        for line in ACCEPTED.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                accepted[name] = reason.strip()
    return accepted


def sampled(name: str, fraction: float) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) < fraction * 0x100000000


def module_of(name: str) -> str:
    return name.split(".x_", 1)[0].split(".xǁ", 1)[0]


def generate() -> None:
    """Let mutmut write ``mutants/`` and its test statistics (it then stops: no mutant matches)."""
    subprocess.run([*_mutmut(), "run", "--max-children", "1", "no-such-mutant*"], check=False)
    if not any(MUTANTS.rglob("*.py.meta")):
        raise SystemExit("mutmut generated no mutants (see its output above)")


def scores(targets: list[str], fraction: float | None) -> None:
    results, accepted = load_results(), load_accepted()
    rows: dict[str, dict[str, int]] = {}
    survivors = []
    for name, code in results.items():
        module = module_of(name)
        if targets and not any(name.startswith(t) for t in targets):
            continue
        if fraction is not None and not sampled(name, fraction):
            continue  # the table of a sample counts the sample only
        row = rows.setdefault(module, dict.fromkeys(("mutants", "run", "killed", "survived", "accepted",
                                                     "no tests", "not run"), 0))  # fmt: skip
        row["mutants"] += 1
        if code is None:
            row["not run"] += 1
        elif code in NO_TESTS:
            row["no tests"] += 1
        elif code in SURVIVED and name in accepted:
            row["run"] += 1
            row["accepted"] += 1
        elif code in SURVIVED:
            row["run"] += 1
            row["survived"] += 1
            survivors.append(name)
        else:
            row["run"] += 1
            row["killed"] += 1
    print(f"\n{'module':32s} {'mutants':>8s} {'run':>5s} {'killed':>7s} {'survived':>9s} {'accepted':>9s} "
          f"{'no tests':>9s} {'score':>6s}")  # fmt: skip
    for module, r in sorted(rows.items()):
        judged = r["run"] - r["accepted"]
        score = f"{100 * r['killed'] / judged:.0f} %" if judged else "-"
        print(f"{module:32s} {r['mutants']:8d} {r['run']:5d} {r['killed']:7d} {r['survived']:9d} "
              f"{r['accepted']:9d} {r['no tests']:9d} {score:>6s}")  # fmt: skip
    if survivors:
        print("\nsurvivors (mutmut show NAME for the diff):")
        for name in survivors:
            print("  " + name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="modules or mutant-name prefixes (default: all)")
    parser.add_argument("--fraction", type=float, help="run only this share of the mutants (0-1, by hash)")
    parser.add_argument("--scores", action="store_true", help="print the table, run nothing")
    rerun_help = "also run these again: survivors (and untested ones) or all (default: only new ones)"
    parser.add_argument("--rerun", choices=("survivors", "all"), help=rerun_help)
    parser.add_argument("--profile", choices=("default", *PROFILES), default="default")
    parser.add_argument("--max-children", default="1")
    args = parser.parse_args(argv)
    if not (ROOT / "pyproject.toml").exists() or "[tool.mutmut]" not in (ROOT / "pyproject.toml").read_text():
        parser.error("run from the root of a copy of the checkout (its pyproject.toml has [tool.mutmut])")
    if ROOT.resolve() == Path(__file__).resolve().parents[1] and (ROOT / ".venv").exists():
        print("note: running in a checkout with a .venv; a copy (git worktree) keeps it undisturbed")
    if not args.scores:
        use_profile(args.profile)
        if not any(MUTANTS.rglob("*.py.meta")):
            generate()
        rerun = {None: {None}, "survivors": {None, *SURVIVED, *NO_TESTS}, "all": None}[args.rerun]
        names = [
            n for n, code in load_results().items()
            if (not args.targets or any(n.startswith(t) for t in args.targets))
            and (args.fraction is None or sampled(n, args.fraction))
            and (rerun is None or code in rerun)
        ]  # fmt: skip
        if not names:
            print("nothing to run (see --rerun)")
            scores(args.targets, args.fraction)
            return 0
        print(f"{len(names)} mutants to run", flush=True)
        subprocess.run([*_mutmut(), "run", "--max-children", args.max_children, *names], check=False)
    scores(args.targets, args.fraction)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
