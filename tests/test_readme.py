"""The README's test command is exactly what CI runs."""

from __future__ import annotations

from conftest import REPO_ROOT


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
                if "pytest" in line and not line.lstrip().startswith("#")]  # fmt: skip
    assert len(ci_lines) == 2
    assert ci_lines[0] in readme  # the README's command, verbatim
    # the second run repeats its test part with other kernels
    pytest_part = ci_lines[0].split("&& ")[-1]
    assert ci_lines[1] == f"OMP_NUM_THREADS=2 ATEN_CPU_CAPABILITY=default {pytest_part}"


def test_ci_installs_the_tested_versions():
    run = (REPO_ROOT / ".ci" / "run").read_text()
    assert 'export PIP_CONSTRAINT="$PWD/.ci/constraints.txt"' in run
    pins = [line for line in (REPO_ROOT / ".ci" / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")]  # fmt: skip
    assert all("==" in pin for pin in pins)
    pinned = {pin.split("==")[0].lower() for pin in pins}
    assert pinned >= {"numpy", "numba", "torch", "torchvision", "pytest"}
