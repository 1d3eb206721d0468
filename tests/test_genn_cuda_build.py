"""GeNN's cuda backend generates and nvcc compiles every network of the project, on a machine without a GPU.

Skipped unless PyGeNN was built with its cuda backend (``CUDA_PATH`` set when it was installed), nvcc is
on PATH and curand's device header can be found (CUDA toolkit, or the nvidia wheels of a CUDA build of
torch). The child process gets the fake device of tests/cuda/fake_device.c preloaded (answering GeNN's
device queries; see docs/cuda_without_gpu.md), builds with manual device and block-size selection, and
never loads: loading needs a real GPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hybridsnn import sim

HERE = Path(__file__).resolve().parent
pytestmark = [
    pytest.mark.genn,
    pytest.mark.skipif(not sim.pygenn_available(), reason="pygenn is not installed"),
    pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH"),
]


def _cuda_path() -> Path:
    """The CUDA toolkit: $CUDA_PATH, else the folder above nvcc's bin/ (following wrapper scripts)."""
    if os.environ.get("CUDA_PATH"):
        return Path(os.environ["CUDA_PATH"])
    nvcc = Path(shutil.which("nvcc")).resolve()
    for candidate in (nvcc.parent.parent, *Path("/usr/local").glob("cuda*")):
        if (candidate / "include" / "cuda_runtime_api.h").is_file():
            return candidate
    pytest.skip("CUDA toolkit headers (cuda_runtime_api.h) not found; set CUDA_PATH")


def _curand_dirs(cuda: Path) -> tuple[Path, Path | None]:
    """(include folder with curand_kernel.h, library folder with libcurand or None)."""
    roots = [cuda] + [Path(p) / "nvidia" / sub for p in sys.path for sub in ("cu13", "cu12", "curand")]
    for root in roots:
        if (root / "include" / "curand_kernel.h").is_file():
            lib = root / "lib"
            return root / "include", lib if lib.is_dir() else None
    pytest.skip("curand_kernel.h not found (install the CUDA toolkit's curand or a CUDA build of torch)")


def _fake_device(cuda: Path, folder: Path) -> Path:
    """Compile the fake device; it also stands in for libcuda.so (link time and load time)."""
    library = folder / "libhybridsnn_fake_cuda.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", f"-I{cuda / 'include'}", "-Wl,-soname,libcuda.so.1",
                    "-o", str(library), str(HERE / "cuda" / "fake_device.c")], check=True)  # fmt: skip
    for alias in ("libcuda.so", "libcuda.so.1"):
        (folder / alias).symlink_to(library.name)
    return library


def test_every_network_generates_and_compiles_cuda_code(tmp_path):
    cuda = _cuda_path()
    include, curand_lib = _curand_dirs(cuda)
    stub = tmp_path / "stub"
    stub.mkdir()
    fake = _fake_device(cuda, stub)
    env = dict(os.environ)
    link_dirs = [str(stub), str(curand_lib or ""), env.get("LIBRARY_PATH")]
    env.update(
        CUDA_PATH=str(cuda),
        CPATH=os.pathsep.join(filter(None, [str(include), env.get("CPATH")])),
        LIBRARY_PATH=os.pathsep.join(filter(None, link_dirs)),
        LD_LIBRARY_PATH=os.pathsep.join(filter(None, [str(stub), env.get("LD_LIBRARY_PATH")])),
        LD_PRELOAD=str(fake),
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")])),
    )
    probe = subprocess.run([sys.executable, "-c", "from pygenn.genn_model import backend_modules as b; "
                            "print('cuda' in b)"], env=env, capture_output=True, text=True)  # fmt: skip
    if probe.stdout.strip() != "True":
        pytest.skip("this PyGeNN has no cuda backend (install it with CUDA_PATH set)")
    done = subprocess.run([sys.executable, str(HERE / "cuda" / "build_networks.py"), str(tmp_path / "build")],
                          env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    built = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(built) == sorted(
        ["sym_stdp_train_100", "sym_stdp_infer_100_b32", "sym_stdp_train_6400", "sym_stdp_infer_6400_b32",
         next(name for name in built if name.startswith("shifting"))]
    )  # fmt: skip
    for name, code in built.items():
        code = Path(code)
        assert (code / "librunner.so").stat().st_size > 0, name
        assert any(code.glob("*.cc")), name  # GeNN's generated CUDA sources (compiled as .cu by nvcc)
        assert "nvcc" in (code / "Makefile").read_text(), name
