"""The kernels must also build for real GPUs, not only run in the interpreter.

Runs ``arena_kernels.compile_check`` in a subprocess without TRITON_INTERPRET: each
variant goes through Triton's full pipeline (TTIR -> TTGIR -> LLVM -> PTX -> cubin via the
ptxas bundled with Triton) for sm_80; no GPU needed.
"""

import os
import subprocess
import sys
from pathlib import Path

import arena_kernels
import pytest


@pytest.mark.slow
def test_kernels_compile_to_cubin_without_gpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    kernels_dir = str(Path(arena_kernels.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [kernels_dir, env.get("PYTHONPATH")]))
    env["TRITON_CACHE_DIR"] = str(tmp_path / "triton-cache")  # a real compile every run
    proc = subprocess.run(
        [sys.executable, "-m", "arena_kernels.compile_check", "--capability", "80"]
        + ["--case", "bf16:10", "fp16:65536", "fp32:262144"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    # per case: cross-entropy with and without argmax and squared error, plus their aligned
    # (vectorised) variants where the row length is a multiple of 16
    assert len(lines) == 3 + 6 + 6 and all(" ok (" in line for line in lines), proc.stdout
    assert sum(" aligned " in line for line in lines) == 6
    assert sum("tile=1x8192" in line for line in lines) == 6, proc.stdout  # 262,144 columns
