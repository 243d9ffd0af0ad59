"""``python3 -m arena_kernels.gpu_check`` (``make gpu-check``): on a machine without a GPU every
GPU check prints SKIP and it exits 0; under the Triton interpreter its kernel and metric
checks really run (and pass); a failing check is a FAIL line and counts in the exit code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import arena_kernels
import pytest
import torch
from arena_kernels import gpu_check

pytestmark = [
    pytest.mark.filterwarnings("ignore:Conversion of an array with ndim:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]


def test_without_a_gpu_every_gpu_check_is_skipped_and_it_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    kernels_dir = str(Path(arena_kernels.__file__).resolve().parents[1])
    env["PYTHONPATH"] = kernels_dir
    out = tmp_path / "gc.json"
    proc = subprocess.run(
        [sys.executable, "-m", "arena_kernels.gpu_check", "--quick", "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [x for x in proc.stdout.splitlines() if x.startswith("CHECK ")]
    assert lines[0].startswith("CHECK env PASS ") and "torch=" in lines[0]
    data = json.loads(out.read_text())
    assert data["summary"]["FAIL"] == 0
    if not torch.cuda.is_available():  # this machine: no GPU, so every other check skips
        assert all(" SKIP " in x for x in lines[1:]) and len(lines) > 30, proc.stdout
        assert data["summary"] == {"PASS": 1, "FAIL": 0, "SKIP": len(lines) - 1}
    names = {r["name"] for r in data["results"]}
    assert {"kernel ce bfloat16 V=151936", "metric bits_per_byte", "engine lm-65k"} <= names


def test_under_the_interpreter_the_kernel_and_metric_checks_pass():
    report = gpu_check.run(interpret=True, quick=True, report=gpu_check.Report(io.StringIO()))
    by = {r["name"]: r for r in report.results}
    kernel = [r for r in report.results if r["name"].startswith(("kernel", "metric"))]
    assert len(kernel) == 3 * 3 + 3 * 3 + 5
    assert all(r["status"] == "PASS" for r in kernel), [r for r in kernel if r["status"] != "PASS"]
    assert by["metric error_rate"]["triton"] == by["metric error_rate"]["cpu"]
    assert report.failures == 0


def test_a_failing_check_is_a_fail_line_and_counts_in_the_exit_code(tmp_path, monkeypatch, capsys):
    def broken(torch, dtype, vocab, device, rows):
        raise AssertionError("argmax differs from the reference")

    monkeypatch.setattr(gpu_check, "check_ce", broken)
    out = tmp_path / "gc.json"
    code = gpu_check.main(["--interpret", "--quick", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 9  # 3 dtypes x 3 vocabularies
    assert "CHECK kernel ce float32 V=10 FAIL argmax differs from the reference" in printed
    assert json.loads(out.read_text())["summary"]["FAIL"] == 9


def test_fixed_point_matches_the_engine_rule():
    assert gpu_check.fixed_point(1.0, 3) == 333333333
    assert gpu_check.fixed_point(2.0, 3) == 666666667
    assert gpu_check.fixed_point(0.5e-9, 1) == 1  # ties round up
