"""C-level mutation testing of the GeNN code strings in ``genn_models/`` (docs/testing.md).

Python mutation tools only garble the code strings (every such mutant dies at translation), so this
driver mutates the C code itself, one operator at a time, and runs the numba-engine tests that build the
mutated model:

* ``+`` ↔ ``-`` (binary), unary ``-`` dropped, ``*`` ↔ ``/``
* ``+=`` ↔ ``-=``, ``*=`` ↔ ``/=``, ``++`` ↔ ``--``
* ``<`` → ``<=`` / ``>``, ``<=`` → ``<`` / ``>=``, ``>`` → ``>=`` / ``<``, ``>=`` → ``>`` / ``<=``,
  ``==`` ↔ ``!=``, ``&&`` ↔ ``||``
* ``fmin`` ↔ ``fmax``, ``fabs(...)`` → ``(...)``
* numeric constants ×2 (0 → 1)
* each statement dropped (declarations are kept: dropping them only breaks translation)

and the same arithmetic/constant mutants in the Python bodies of the derived-parameter lambdas.

Each mutant is written into a private copy of the checkout (``--workdir``, default a temporary folder;
the checkout itself is never edited), ``python -m pytest -x`` runs the tests listed for its model in
``TESTS`` there, and the mutant is *killed* when they fail (or time out), *survived* when they pass.
Every mutant compiles a fresh numba kernel (~15 s of CPU), so ``--sample N`` draws N mutants
deterministically (``--seed``) from the selection; ``--models`` restricts to some models.

    HYBRIDSNN_DATA=../shared/data nice -n 19 .venv/bin/python bench/mutate_genn_models.py \\
        --models SymSTDP --report output/mutation/genn_sym_stdp.json
    .venv/bin/python bench/mutate_genn_models.py --list            # the mutants, nothing run
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_DYNAMICS = "tests/test_sim_dynamics.py"
_SYM_UNITS = [
    "tests/test_sym_stdp.py::test_excitatory_refractory_gap_and_theta_float32",
    "tests/test_sym_stdp.py::test_teacher_and_input_rates_include_the_forced_silent_step",
    "tests/test_sym_stdp.py::test_readout_and_inhibitory_neurons_integrate_fire_and_reset_by_hand",
]
TESTS: dict[str, list[str]] = {
    "LIF": [_DYNAMICS],
    "PoissonRate": [_DYNAMICS],
    "SpikeSourceArray": [_DYNAMICS],
    "ExpCurr": [_DYNAMICS],
    "ExpCond": [_DYNAMICS],
    "DeltaCurr": [_DYNAMICS],
    "StaticPulse": [_DYNAMICS],
    "StaticPulseConstantWeight": [_DYNAMICS],
    "TraceSTDP": [_DYNAMICS],
    "OneToOne": [_DYNAMICS],
    "AllButSelf": [_DYNAMICS],
    "SymPoissonInput": [_DYNAMICS, _SYM_UNITS[1]],
    "SymLIFExc": [_DYNAMICS, _SYM_UNITS[0]],
    "SymLIFCla": [_SYM_UNITS[1], _SYM_UNITS[2]],
    "SymLIFInh": [_SYM_UNITS[2]],
    "SymSTDP": [_DYNAMICS],
    "ShiftingInput": ["tests/test_shifting_stepped.py"],
    "ShiftingNeuron": ["tests/test_shifting_stepped.py"],
    "ShiftingSynapse": ["tests/test_shifting_stepped.py"],
}
"""The fast numba-engine tests that build each model (every model of genn_models/ has one)."""

MODEL_CLASSES = {"NeuronModel", "WeightUpdateModel", "PostsynapticModel", "SparseConnectivity"}

_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?\*/)"
    r"|(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[fFuU]?)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><<=|>>=|\+\+|--|\+=|-=|\*=|/=|==|!=|<=|>=|&&|\|\||<<|>>|[-+*/<>=!&|^%?:;,(){}\[\].])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
_SWAP = {"+": ["-"], "-": ["+"], "*": ["/"], "/": ["*"], "+=": ["-="], "-=": ["+="], "*=": ["/="],
         "/=": ["*="], "++": ["--"], "--": ["++"], "<": ["<=", ">"], "<=": ["<", ">="], ">": [">=", "<"],
         ">=": [">", "<="], "==": ["!="], "!=": ["=="], "&&": ["||"], "||": ["&&"]}  # fmt: skip
_FUNCS = {"fmin": "fmax", "fmax": "fmin"}
_DECL = {"const", "scalar", "float", "double", "int", "unsigned", "bool", "uint32_t", "int32_t"}


@dataclass
class Mutant:
    """One mutant: where it is and what it changes (``new``: the whole mutated literal's value)."""

    id: str
    file: str
    model: str
    field: str
    line: int
    change: str
    new: str
    status: str = "not run"
    seconds: float = 0.0
    detail: str = ""


def _tokens(code: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of every token, comments and spaces included."""
    return [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(code)]


def _is_operand_end(tok: tuple[str, str, int] | None) -> bool:
    return tok is not None and (tok[0] in ("number", "name") or tok[1] in (")", "]", "++", "--"))


def _mutations(code: str, python: bool = False) -> list[tuple[int, int, str, str]]:
    """(start, end, replacement, description) of every mutation of ``code``."""
    toks = _tokens(code)
    sig = [t for t in toks if t[0] not in ("space", "comment")]
    out: list[tuple[int, int, str, str]] = []
    for i, (kind, text, pos) in enumerate(sig):
        prev = sig[i - 1] if i else None
        end = pos + len(text)
        if kind == "op" and text in _SWAP:
            if text in ("+", "-") and not _is_operand_end(prev):
                if text == "-":
                    out.append((pos, end, "", "unary - dropped"))
                continue
            if text == "*" and python and i + 1 < len(sig) and sig[i + 1][1] == "*":
                continue
            if text in ("++", "--") and python:
                continue
            for new in _SWAP[text]:
                out.append((pos, end, new, f"{text} -> {new}"))
        elif kind == "name" and text in _FUNCS:
            out.append((pos, end, _FUNCS[text], f"{text} -> {_FUNCS[text]}"))
        elif kind == "name" and text == "fabs":
            out.append((pos, end, "", "fabs dropped"))
        elif kind == "number":
            if prev is not None and prev[1] == "[":
                continue  # an index, not a constant of the model
            digits = re.match(r"[\d.eE+-]+", text).group()
            suffix = text[len(digits) :]
            value = float(digits)
            if value == 0:
                new = ("1.0" if "." in digits else "1") + suffix
            else:
                doubled = value * 2
                floating = "." in digits or "e" in digits.lower()
                new = (repr(doubled) if floating else str(int(doubled))) + suffix
            out.append((pos, end, new, f"{text} -> {new}"))
    if not python:
        out.extend(_dropped_statements(code, toks))
    return out


def _dropped_statements(code: str, toks: list[tuple[str, str, int]]) -> list[tuple[int, int, str, str]]:
    out = []
    depth = 0
    start_idx = None
    for i, (kind, text, _) in enumerate(toks):
        if kind in ("space", "comment"):
            continue
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        if start_idx is None and text not in ("{", "}", ";"):
            start_idx = i
        if text in ("{", "}"):
            start_idx = None
        elif text == ";" and depth == 0:
            if start_idx is not None:
                first = toks[start_idx][1]
                if first not in _DECL and first not in ("if", "else", "for", "while"):
                    s, e = toks[start_idx][2], toks[i][2] + 1
                    out.append((s, e, "", "statement dropped"))
            start_idx = None
    return out


def _line_of(code: str, pos: int, base_line: int) -> int:
    return base_line + code.count("\n", 0, pos)


def _context(code: str, start: int, end: int, new: str) -> str:
    line_start = code.rfind("\n", 0, start) + 1
    line_end = code.find("\n", end)
    line_end = len(code) if line_end < 0 else line_end
    old = code[line_start:line_end].strip()
    mutated = (code[line_start:start] + new + code[end:line_end]).strip()
    return f"`{old}` -> `{mutated}`"


def find_mutants(root: Path = REPO) -> list[Mutant]:
    """Every mutant of every code string (and derived-parameter lambda) in ``root/genn_models``."""
    mutants: list[Mutant] = []
    for path in sorted((root / "genn_models").glob("*.py")):
        source = path.read_text()
        rel = str(path.relative_to(root))
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in MODEL_CLASSES):
                continue
            if not (node.args and isinstance(node.args[0], ast.Constant)):
                continue
            model = node.args[0].value
            for kw in node.keywords:
                if kw.arg and kw.arg.endswith("_code") and isinstance(kw.value, ast.Constant):
                    code = kw.value.value
                    for k, (s, e, new, what) in enumerate(_mutations(code)):
                        mutated = code[:s] + new + code[e:]
                        line = _line_of(code, s, kw.value.lineno)
                        change = f"{what}: {_context(code, s, e, new)}"
                        mutant_id = f"{model}.{kw.arg}.{k}"
                        mutants.append(Mutant(mutant_id, rel, model, kw.arg, line, change, mutated))
                elif kw.arg == "derived_params" and isinstance(kw.value, ast.List):
                    for elt in kw.value.elts:
                        if not (isinstance(elt, ast.Tuple) and isinstance(elt.elts[1], ast.Lambda)):
                            continue
                        name, body = elt.elts[0].value, elt.elts[1].body
                        code = ast.get_source_segment(source, body)
                        for k, (s, e, new, what) in enumerate(_mutations(code, python=True)):
                            mutated = code[:s] + new + code[e:]
                            change = f"{what}: `{code}` -> `{mutated}`"
                            mutants.append(
                                Mutant(f"{model}.derived.{name}.{k}", rel, model, f"derived {name}",
                                       body.lineno, change, mutated)
                            )  # fmt: skip
    return mutants


def apply(mutant: Mutant, root: Path) -> str:
    """Write ``mutant`` into ``root``'s copy of its file; returns the original text (to restore)."""
    path = root / mutant.file
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def span(node: ast.AST) -> tuple[int, int]:  # ast columns count UTF-8 bytes
        def at(line: int, col: int) -> int:
            return offsets[line - 1] + len(lines[line - 1].encode()[:col].decode())

        return at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in MODEL_CLASSES):
            continue
        if not (node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == mutant.model):
            continue
        for kw in node.keywords:
            if kw.arg == mutant.field:
                s, e = span(kw.value)
                path.write_text(source[:s] + repr(mutant.new) + source[e:])
                return source
            if kw.arg == "derived_params" and mutant.field.startswith("derived "):
                for elt in kw.value.elts:
                    if elt.elts[0].value == mutant.field.split(" ", 1)[1]:
                        s, e = span(elt.elts[1].body)
                        path.write_text(source[:s] + mutant.new + source[e:])
                        return source
    raise LookupError(f"mutant {mutant.id}: {mutant.field} of {mutant.model} not found in {mutant.file}")


def make_workdir(workdir: Path) -> None:
    """A copy of what the tests need (package, models, tests, pyproject) in ``workdir``."""
    for part in ("hybridsnn", "genn_models", "tests"):
        shutil.copytree(REPO / part, workdir / part, ignore=shutil.ignore_patterns("__pycache__", "*_CODE"),
                        dirs_exist_ok=True)  # fmt: skip
    shutil.copy2(REPO / "pyproject.toml", workdir / "pyproject.toml")


def run_tests(tests: list[str], workdir: Path, timeout: float) -> tuple[str, str]:
    """('killed' | 'survived' | 'timeout', first failure) of ``pytest -x tests`` in ``workdir``."""
    env = {**os.environ, "PYTHONPATH": str(workdir), "HYBRIDSNN_CACHE": str(workdir / ".cache")}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rfE", *tests]
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"tests ran past {timeout:.0f} s"
    finally:
        shutil.rmtree(workdir / ".cache", ignore_errors=True)
    if proc.returncode == 0:
        return "survived", ""
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    last = proc.stdout.strip().splitlines()[-1:] or [proc.stderr.strip()[-300:]]
    detail = (failed or last)[0][:300]
    return ("killed" if proc.returncode in (1, 2) else "error"), detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated model names (default: all with tests)")
    parser.add_argument("--ids", help="comma-separated mutant ids (from --list) to run, e.g. survivors")
    parser.add_argument("--sample", type=int, help="run only this many mutants, drawn with --seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant (past it: killed)")
    parser.add_argument("--workdir", type=Path, help="copy of the checkout to mutate (default: temp folder)")
    parser.add_argument("--report", type=Path, help="write every mutant and its result here (JSON)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)

    mutants = find_mutants()
    if args.models:
        wanted = set(args.models.split(","))
        unknown = wanted - {m.model for m in mutants}
        if unknown:
            parser.error(f"no such model: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.model in wanted]
    if args.ids:
        ids = set(args.ids.split(","))
        unknown = ids - {m.id for m in mutants}
        if unknown:
            parser.error(f"no such mutant: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.id in ids]
    if args.list:
        for m in mutants:
            print(f"{m.id:45s} {m.file}:{m.line}  {m.change}  tests: {'yes' if m.model in TESTS else 'none'}")
        print(f"{len(mutants)} mutants")
        return 0
    for m in mutants:
        if m.model not in TESTS:
            m.status = "no tests"
    runnable = [m for m in mutants if m.model in TESTS]
    if args.sample is not None and args.sample < len(runnable):
        chosen = {m.id for m in random.Random(args.seed).sample(runnable, args.sample)}
        for m in runnable:
            if m.id not in chosen:
                m.status = "not sampled"
        runnable = [m for m in runnable if m.id in chosen]

    temp = None
    if args.workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="genn-mutants-")
        args.workdir = Path(temp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    make_workdir(args.workdir)
    print(f"{len(runnable)} mutants to run in {args.workdir}", flush=True)
    try:
        for k, m in enumerate(runnable, 1):
            original = apply(m, args.workdir)
            start = time.perf_counter()
            try:
                m.status, m.detail = run_tests(TESTS[m.model], args.workdir, args.timeout)
            finally:
                (args.workdir / m.file).write_text(original)
            m.seconds = round(time.perf_counter() - start, 1)
            print(f"[{k}/{len(runnable)}] {m.status:8s} {m.seconds:6.1f}s {m.id}  {m.change}", flush=True)
            if args.report:
                _write_report(args.report, mutants)
    finally:
        if temp is not None:
            temp.cleanup()
    if args.report:
        _write_report(args.report, mutants)
    _summary(mutants)
    return 0


def _write_report(path: Path, mutants: list[Mutant]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in asdict(m).items() if k != "new"} for m in mutants]
    path.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


def _summary(mutants: list[Mutant]) -> None:
    by_model: dict[str, dict[str, int]] = {}
    for m in mutants:
        counts = by_model.setdefault(m.model, {})
        counts[m.status] = counts.get(m.status, 0) + 1
    print(f"\n{'model':28s} {'run':>5s} {'killed':>7s} {'survived':>9s}  other")
    for model, counts in by_model.items():
        run = sum(counts.get(s, 0) for s in ("killed", "timeout", "survived", "error"))
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        rest = {s: n for s, n in counts.items() if s not in ("killed", "timeout", "survived")}
        other = ", ".join(f"{s}: {n}" for s, n in rest.items())
        print(f"{model:28s} {run:5d} {killed:7d} {counts.get('survived', 0):9d}  {other}")
    survivors = [m for m in mutants if m.status == "survived"]
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  {m.id}  {m.file}:{m.line}  {m.change}")


if __name__ == "__main__":
    raise SystemExit(main())
