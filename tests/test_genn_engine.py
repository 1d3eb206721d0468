"""The genn engine's own mechanisms: flush-to-zero around GeNN's CPU code, the compiled step loop, backend
preferences, and GeNN's error lines when GeNN ends the process. Runs only where ``pygenn`` is importable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import genn_models as gm
from hybridsnn import sim
from hybridsnn.errors import UserError
from hybridsnn.sim import fpenv

pytestmark = [
    pytest.mark.genn,
    pytest.mark.skipif(not sim.pygenn_available(), reason="pygenn is not installed"),
]

HALVING = gm.NeuronModel("Halving", vars=[("x", "scalar")], sim_code="x *= 0.5;")


def _halved(engine: str, steps: int, build_dir) -> tuple[np.ndarray, object]:
    backend = "single_threaded_cpu" if engine == "genn" else None
    model = sim.create_model(f"halving_{engine}", engine=engine, backend=backend, build_dir=build_dir)
    pop = model.add_neuron_population("pop", 3, HALVING, {}, {"x": 1.0})
    model.build()
    model.load()
    model.run(steps)
    pop.vars["x"].pull_from_device()
    return pop.vars["x"].view.copy(), model


@pytest.mark.skipif(not fpenv.IS_X86, reason="FTZ/DAZ are x86 MXCSR bits")
def test_genn_cpu_code_runs_with_denormals_flushed_and_the_state_is_restored(tmp_path):
    # 2^-126 is the smallest normal float32: one more halving gives a subnormal, which FTZ makes 0
    normal, _ = _halved("genn", 126, tmp_path)
    assert normal.tolist() == [2.0**-126] * 3
    flushed, model = _halved("genn", 127, tmp_path)
    assert flushed.tolist() == [0.0, 0.0, 0.0]
    reference, _ = _halved("numba", 127, tmp_path)
    np.testing.assert_array_equal(flushed, reference)
    assert not fpenv.flush_state()  # restored for the Python code around the runs
    assert model.timestep == 127 and model.t == pytest.approx(63.5)


def test_compiled_step_loop_equals_single_steps(tmp_path):
    whole, _ = _halved("genn", 40, tmp_path / "a")
    backend_model = sim.create_model("halving_steps", engine="genn", backend="single_threaded_cpu",
                                     build_dir=tmp_path / "b")  # fmt: skip
    pop = backend_model.add_neuron_population("pop", 3, HALVING, {}, {"x": 1.0})
    backend_model.build()
    backend_model.load()
    for _ in range(40):
        backend_model.step_time()
    pop.vars["x"].pull_from_device()
    np.testing.assert_array_equal(pop.vars["x"].view, whole)
    assert whole.tolist() == [2.0**-40] * 3


def test_backend_preferences_are_converted_and_checked(tmp_path):
    model = sim.create_model("prefs", engine="genn", backend="single_threaded_cpu", build_dir=tmp_path,
                             genn_preferences={"debug_code": "false"})  # fmt: skip
    assert model.preferences == {"optimize_code": True, "debug_code": False}
    with pytest.raises(UserError, match="unknown GeNN single_threaded_cpu backend preference 'blocks'"):
        sim.create_model("p2", engine="genn", backend="single_threaded_cpu", genn_preferences={"blocks": 1})
    with pytest.raises(UserError, match="GeNN preference debug_code=2: expected true or false"):
        sim.create_model("p4", engine="genn", genn_preferences={"debug_code": 2})
    with pytest.raises(UserError, match="GeNN preferences apply to --engine genn only"):
        sim.create_model("prefs3", engine="numba", genn_preferences={"debug_code": True})


def test_genn_error_lines_reach_the_user_when_genn_ends_the_process():
    script = textwrap.dedent(
        """
        import ctypes
        from hybridsnn.sim.genn_engine import _captured_output
        with _captured_output():
            print("2026-01-01 00:00:00.000 ERROR [1] [GeNN::CodeGenerator::CUDA::Array::allocate@110] "
                  "backend.cc: 110: cuda runtime error 35: CUDA driver version is insufficient", flush=True)
            ctypes.CDLL(None).exit(1)  # what GeNN's CHECK_CUDA_ERRORS does
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "hybridsnn: error: GeNN ended the process: backend.cc: 110: cuda runtime error 35: "
        "CUDA driver version is insufficient"
    )
