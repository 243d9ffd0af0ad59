"""The engine part of the GPU check (``ape_arena.tools.gpu_engine_check``): on this machine
(onnxruntime without a CUDA provider) it answers SKIP with the reason; its four models are
built, exported and scored by the engine on the CPU exactly as the GPU run builds them."""

from __future__ import annotations

import io

import onnxruntime as ort
import pytest
import torch
from ape_arena.evaluation.engine import Engine
from ape_arena.tools import gpu_engine_check
from arena_kernels.gpu_check import Report


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="a CUDA onnxruntime runs them"
)
def test_without_a_cuda_onnxruntime_every_engine_check_skips_with_the_reason(tmp_path):
    report = Report(io.StringIO())
    gpu_engine_check.engine_checks(report, torch, tmp_path)
    assert [r["status"] for r in report.results] == ["SKIP"] * 5
    assert all("CUDAExecutionProvider" in r["detail"] for r in report.results)


@pytest.mark.parametrize("name", ["mlp", "cnn", "byte-lm", "lm-65k"])
def test_each_model_is_built_exported_and_scored_on_the_cpu(tmp_path, name):
    spec, shard, shard_sha, model, model_sha, _ = gpu_engine_check._engine_models(name, tmp_path)
    with Engine(spec, shard, shard_sha, device="cpu", workers=1, progress=False) as engine:
        (res,) = engine.score_round([(str(model), model_sha)])
    assert res.ok, res.reason
    assert res.score > 0
