"""The on-disk kernel cache survives damage: a truncated module is rewritten, a bad folder is one line."""

from __future__ import annotations

import sys

import pytest

from hybridsnn.errors import UserError
from hybridsnn.sim.kernel_cache import _key, load_kernel

SOURCE = "import numba\n\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n"


def test_truncated_module_in_the_cache_is_rewritten(tmp_path):
    first = load_kernel(SOURCE, tmp_path)
    assert first.module.twice(21) == 42 and first.path.read_text() == SOURCE
    first.path.write_text(SOURCE[:40])  # a disk filled up mid-write by some other tool


    del sys.modules[f"hybridsnn_kernel_{_key(SOURCE)}"]  # a new process
    again = load_kernel(SOURCE, tmp_path)
    assert again.path == first.path and again.path.read_text() == SOURCE
    assert again.module.twice(4) == 8


def test_unwritable_cache_folder_is_one_line_naming_the_variable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="HYBRIDSNN_CACHE") as info:
        load_kernel(SOURCE + "# other\n", blocker / "cache")
    assert "\n" not in str(info.value)
