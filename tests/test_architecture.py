"""docs/architecture.md holds: the import graph has no upward or sideways edges, every system's declaration
agrees with the catalog, the page's three recipes run as written, and every document the code cites exists."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridsnn import cli, registry
from hybridsnn.data import dataset_names, load_dataset
from hybridsnn.data.registry import DATASETS
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "hybridsnn"
SYSTEMS = registry.SYSTEM_PACKAGES
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _system_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "hybridsnn" and parts[1] in SYSTEMS else None


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_shared_layers_import_no_system_and_systems_import_no_other_system() -> None:
    edges = []
    for path in _python_files(PACKAGE) + _python_files(REPO_ROOT / "genn_models"):
        relative = path.relative_to(REPO_ROOT)
        inside = relative.parts[0] == "hybridsnn" and relative.parts[1] in SYSTEMS
        owner = relative.parts[1] if inside else None
        for module in _imported_modules(path):
            target = _system_of(module)
            if target is not None and target != owner:
                edges.append(f"{relative} imports {module}")
    assert not edges, "imports across layers:\n" + "\n".join(sorted(edges))


def test_no_models_package_is_left() -> None:
    assert not (PACKAGE / "models").exists()


@pytest.mark.parametrize("package", SYSTEMS)
def test_each_system_declares_itself_once_with_catalogued_datasets(package: str) -> None:
    declaration = __import__(f"hybridsnn.{package}.system", fromlist=["SYSTEM"])
    info = declaration.SYSTEM
    assert registry.MODELS[info.name] is info
    assert info.module == f"hybridsnn.{package}.driver"
    assert info.tasks == declaration.TASKS and info.datasets == declaration.DATASETS
    assert set(info.datasets) <= set(dataset_names()), f"{info.name}: datasets missing from the catalog"
    parser = cli.build_model_parser("hybridsnn", "train", info.name)
    task = next(a for a in parser._actions if a.dest == "task")
    assert tuple(task.choices) == info.tasks and task.default == info.tasks[0]


def _recipes() -> dict[str, str]:
    """The code blocks of docs/architecture.md, by the file name in their ``<!-- recipe: NAME -->`` mark."""
    text = ARCHITECTURE.read_text()
    blocks = re.findall(r"<!-- recipe: (\S+) -->\n```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 4, f"expected 4 recipe blocks, found {[name for name, _ in blocks]}"
    return dict(blocks)


def test_add_a_system_recipe_trains_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipes = _recipes()
    package = tmp_path / "src" / "toy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("toy/system.py", "toy/driver.py"):
        (tmp_path / "src" / name).write_text(recipes[name])
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    for name in [m for m in sys.modules if m == "toy" or m.startswith("toy.")]:
        monkeypatch.delitem(sys.modules, name)
    from toy.system import SYSTEM

    monkeypatch.setitem(registry.MODELS, "toy", SYSTEM)
    out = tmp_path / "runs"
    code = cli.main(["train", "toy", "--epochs", "3", "--output", str(out), "--run-name", "r",
                     "--no-progress"])
    assert code == 0
    run = out / "r"
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    # The perceptron rule from w = (0, 0, bias 0) over the XOR patterns in file order, by hand: epoch 0
    # corrects (0,1) -> (0, 1, 1) and (1,1) -> (-1, 0, 0); epoch 1 corrects (0,1), (1,0), (1,1) -> (-1, 0, 1);
    # epoch 2 corrects all four and ends at (-1, 0, 1) again.
    assert [r["weight_norm"] for r in records] == pytest.approx([1.0, 2**0.5, 2**0.5], abs=1e-12)


def test_add_a_genn_model_recipe_adapts(tmp_path: Path) -> None:
    namespace: dict = {}
    exec(compile(_recipes()["adaptive_lif.py"], "adaptive_lif.py", "exec"), namespace)
    times = np.asarray(namespace["spike_times"](str(tmp_path)))
    assert len(times) >= 4
    intervals = np.diff(times)
    assert intervals[-1] > intervals[0]  # each spike adds adaptation current: the intervals lengthen


def test_add_a_dataset_recipe_loads_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hybridsnn.data.registry.DATASETS", dict(DATASETS))
    namespace: dict = {}
    exec(compile(_recipes()["points.py"], "points.py", "exec"), namespace)
    (tmp_path / "points").mkdir()
    np.save(tmp_path / "points" / "train_x.npy", np.array([[0.0, 1.0], [2.0, -1.0], [3.0, 3.0]]))
    np.save(tmp_path / "points" / "train_y.npy", np.array([1, 0, 1]))
    data = load_dataset("points", "train", root=tmp_path, download=False, limit=2)
    assert data.x.dtype == np.float32 and data.x.tolist() == [[0.0, 1.0], [2.0, -1.0]]
    assert data.y.tolist() == [1, 0]


SECTION_SIGN = "\u00a7"  # the sign the seeds' specs number their sections with
#: A path of a page under docs/ and an optional ``, «Heading»`` after it (either may wrap onto a new line).
CITED_DOC = re.compile(r"(docs/[\w./-]+\.md)(?:,\s*(?:#\s*)?«([^»]+)»)?")
WRAP = re.compile(r"\s*\n\s*(?:#\s*)?")


def _code_files() -> list[Path]:
    folders = ("hybridsnn", "genn_models", "bench", "tests", "run_scripts")
    return [p for f in folders for p in sorted((REPO_ROOT / f).rglob("*")) if p.suffix in (".py", ".sh")
            and "__pycache__" not in p.parts]  # fmt: skip


def test_every_document_the_code_cites_exists_with_its_section() -> None:
    missing = []
    for path in _code_files():
        text = path.read_text()
        if SECTION_SIGN in text:
            missing.append(f"{path.relative_to(REPO_ROOT)}: cites a numbered section of a document outside "
                           "the repository (cite docs/<page>.md, «Heading» instead)")
        for doc, section in CITED_DOC.findall(text):
            section = WRAP.sub(" ", section).strip()
            target = REPO_ROOT / doc
            if not target.is_file():
                missing.append(f"{path.relative_to(REPO_ROOT)}: {doc} does not exist")
            elif section and not re.search(rf"^#+ {re.escape(section)}\s*$", target.read_text(), flags=re.M):
                missing.append(f"{path.relative_to(REPO_ROOT)}: {doc} has no heading «{section}»")
    assert not missing, "\n".join(missing)


def test_the_registry_reads_the_declarations_without_importing_torch_or_numba() -> None:
    """``hybridsnn list`` and ``--help`` stay fast: the system.py files and package __init__s import nothing
    heavy."""
    code = ("import sys, hybridsnn.registry as r; assert len(r.MODELS) == 5; "
            "print(sorted(m for m in ('torch', 'numba', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"
