"""``make bench`` smoke test: ``python -m ape_arena.tools.bench --quick`` runs and writes its JSON.

Asserts the structure of the results, never timings (shared machines swing several x).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_bench_quick_writes_results(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "ape_arena.tools.bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(out.glob("bench-*-quick.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())

    for key in ("cpu_model", "cpu_count", "threads", "python", "torch", "onnxruntime", "numpy"):
        assert key in record["machine"], key
    assert record["machine"]["baseline_device"] == "cpu"  # this machine has no GPU
    assert "baselines (bare onnxruntime, torch eager) run on the cpu" in proc.stderr
    assert record["quick"] is True and record["timestamp"].endswith("+00:00")
    tasks = {t["task"]: t for t in record["tasks"]}
    assert set(tasks) == {"digits", "bytes_lm", "chat_lm"}
    assert tasks["digits"]["models"] == 2 and tasks["bytes_lm"]["models"] == 1
    assert tasks["chat_lm"]["models"] == 1 and tasks["chat_lm"]["tokens"] == 8 * 64
    for t in tasks.values():
        assert t["invalid"] == 0, t["per_model"]
        assert len(t["per_model"]) == t["models"]
        for key in (
            "engine_models_per_min",
            "engine_samples_per_s",
            "floor_samples_per_s",
            "torch_bs1_samples_per_s",
            "torch_batched_samples_per_s",
            "engine_over_floor",
            "engine_over_torch_bs1",
        ):
            assert t[key] > 0, key
        for m in t["per_model"]:
            assert m["status"] == "ok" and 0 <= m["score"] < 2**64 - 1
    totals = record["totals"]
    assert totals["engine_over_floor"] > 0 and totals["engine_seconds"] > 0
    # the printed table names every measured column
    for column in ("engine/floor", "engine/torch-bs1", "floor samples/s", "torch bs1 samples/s"):
        assert column in proc.stdout
    assert str(files[0]) in proc.stdout


def test_baselines_follow_the_engine_onto_the_gpu(monkeypatch):
    """On a GPU machine (CUDA onnxruntime, a GPU, CUDA torch) the baselines run there too,
    bare onnxruntime with the engine's reproducible CUDA options; else on the CPU."""
    import onnxruntime
    import torch
    from ape_arena.evaluation import pool
    from ape_arena.evaluation.worker import CUDA_PROVIDER_OPTIONS
    from ape_arena.tools import bench

    assert bench.baseline_device() == "cpu"
    assert bench.ort_providers("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])  # fmt: skip
    monkeypatch.setattr(pool, "gpu_present", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert bench.baseline_device() == "cuda"
    assert bench.ort_providers("cuda") == [
        ("CUDAExecutionProvider", CUDA_PROVIDER_OPTIONS),
        "CPUExecutionProvider",
    ]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.baseline_device() == "cpu"  # onnxruntime-gpu but a CPU torch
