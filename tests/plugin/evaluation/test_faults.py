"""A validator's own faults are never a model's (issue #14): simulated on the CPU.

* the CUDA path failing inside a worker (a CUDA runtime error, a Triton launcher that
  cannot be built, a driver fault) with ``device="auto"``: the model is scored again on
  the CPU, with the CPU's exact verdict, and later models go straight to the CPU;
  with ``device="cuda"``: the worker answers ``fault`` and the engine stops the round with
  ``ValidatorFault`` (nothing INVALID);
* a session that does not land on CUDA although ``device="cuda"`` was asked: a fault;
* a model the CPU refuses too stays INVALID for the model's own reason;
* a worker that cannot start (``device="cuda"`` on a machine without CUDA): ``ValidatorFault``;
* both onnxruntime packages in one venv: a clear error before any scoring;
* reproducible CUDA provider options (no TF32, heuristic cuDNN search, a device memory cap).
"""

from __future__ import annotations

import pytest
from ape_arena.evaluation import worker as worker_mod
from ape_arena.evaluation.engine import Engine, EngineError, ValidatorFault
from ape_arena.evaluation.pool import check_onnxruntime_install
from ape_arena.evaluation.worker import CPU_EP, CUDA_EP, CUDA_PROVIDER_OPTIONS, Scorer

from tests.plugin.evaluation.fixtures_engine import (
    engine_spec,
    good_model,
    nan_model,
    sha256_of,
    write_digits_shard,
)

FAULTS = [
    RuntimeError("CUDA error: an illegal memory access was encountered"),
    RuntimeError("Failed to find C compiler. Please specify via CC environment variable."),
    OSError("libcuda.so.1: cannot open shared object file"),
]


@pytest.fixture(scope="module")
def round_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    shard, shard_sha = write_digits_shard(d / "shard.npz", rows=256)
    models = {}
    for name, model in (("good", good_model(seed=3)), ("nan", nan_model())):
        path = d / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        models[name] = (str(path), sha256_of(path))
    return engine_spec(), shard, shard_sha, models


def scorer(round_files, device: str = "auto", **init) -> Scorer:
    spec, shard, shard_sha, _ = round_files
    return Scorer(
        {
            "spec_json": spec.to_json().decode(),
            "shard_path": str(shard),
            "shard_sha256": shard_sha,
            "threads": 1,
            "device": device,
            "fuse": False,
            **init,
        }
    )


def on_a_cuda_provider(monkeypatch, torch_sees_a_gpu: bool) -> None:
    """onnxruntime offering its CUDA provider; torch seeing a GPU or not."""
    monkeypatch.setattr(
        worker_mod,
        "select_providers",
        lambda d, a: [(CUDA_EP, dict(CUDA_PROVIDER_OPTIONS)), CPU_EP],
    )
    monkeypatch.setattr("torch.cuda.is_available", lambda: torch_sees_a_gpu)


def on_cuda(monkeypatch, fault: BaseException, calls: list):
    """Pretend the session landed on CUDA and make the CUDA path raise ``fault``."""

    def run_cuda(self, sess):
        calls.append(1)
        raise fault

    monkeypatch.setattr(worker_mod, "select_path", lambda device, providers, cuda: "cuda")
    monkeypatch.setattr(Scorer, "_run_cuda", run_cuda)


@pytest.mark.parametrize("fault", FAULTS, ids=["cuda-error", "no-compiler", "no-driver"])
def test_auto_scores_again_on_the_cpu_with_the_same_verdict(round_files, monkeypatch, fault):
    _, _, _, models = round_files
    plain = scorer(round_files).score(*models["good"])
    assert plain["status"] == "ok" and plain["path"] == "cpu"
    calls: list = []
    on_cuda(monkeypatch, fault, calls)
    s = scorer(round_files)
    first = s.score(*models["good"])
    assert first["status"] == "ok" and first["path"] == "cpu"
    assert first["total"] == plain["total"] and first["count"] == plain["count"]
    again = s.score(*models["good"])  # the CUDA path is not tried a second time
    assert again["total"] == plain["total"] and calls == [1]
    # a model the CPU refuses stays INVALID for its own reason
    bad = s.score(*models["nan"])
    assert bad["status"] == "invalid" and bad["code"] == "non_finite"


@pytest.mark.parametrize("fault", FAULTS, ids=["cuda-error", "no-compiler", "no-driver"])
def test_cuda_device_answers_fault_never_invalid(round_files, monkeypatch, fault):
    _, _, _, models = round_files
    monkeypatch.setattr(worker_mod, "select_providers", lambda device, available: [CPU_EP])
    calls: list = []
    on_cuda(monkeypatch, fault, calls)
    s = scorer(round_files, device="cuda")
    for name in ("good", "nan"):
        out = s.score(*models[name])
        assert out["status"] == "fault", out
        assert "fault of this machine" in out["error"] and str(fault).split(":")[0] in out["error"]


def test_a_session_off_cuda_when_cuda_was_asked_is_a_fault(round_files, monkeypatch):
    _, _, _, models = round_files
    monkeypatch.setattr(worker_mod, "select_providers", lambda device, available: [CPU_EP])
    out = scorer(round_files, device="cuda").score(*models["good"])
    assert out["status"] == "fault" and "device='cuda'" in out["error"]


def test_engine_stops_the_round_on_a_fault_reply(round_files, monkeypatch):
    """The worker's ``fault`` answer becomes ``ValidatorFault`` in the engine (a real worker
    process answers; its reply is replaced on the way as a GPU worker's would be)."""
    spec, shard, shard_sha, models = round_files
    with Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu") as engine:
        real = engine.pool.reply

        def reply(worker, timeout):
            msg, why = real(worker, timeout)
            if msg is not None and msg.get("kind") == "result":
                msg = {"kind": "result", "job": msg["job"], "status": "fault",
                       "error": "the CUDA path failed (RuntimeError: CUDA error)"}  # fmt: skip
            return msg, why

        monkeypatch.setattr(engine.pool, "reply", reply)
        with pytest.raises(
            ValidatorFault, match="fault of this machine.*no model is marked INVALID"
        ):
            engine.score_round([models["good"]])


def test_a_worker_that_cannot_start_on_cuda_is_a_validator_fault(round_files):
    spec, shard, shard_sha, models = round_files
    with (
        pytest.raises(ValidatorFault, match="failed to start \\(device\\).*CUDAExecutionProvider"),
        Engine(spec, shard, shard_sha, workers=1, threads=1, device="cuda") as engine,
    ):
        engine.score_round([models["good"]])


def test_both_onnxruntime_packages_are_refused_with_the_fix():
    check_onnxruntime_install(lambda name: name == "onnxruntime")
    check_onnxruntime_install(lambda name: name == "onnxruntime-gpu")
    with pytest.raises(EngineError, match="both onnxruntime and onnxruntime-gpu.*pip uninstall"):
        check_onnxruntime_install(lambda name: True)


def test_cuda_provider_options_are_reproducible_and_capped(round_files, monkeypatch):
    providers = worker_mod.select_providers("auto", [CUDA_EP, CPU_EP])
    assert providers[0] == (CUDA_EP, CUDA_PROVIDER_OPTIONS) and providers[1] == CPU_EP
    assert CUDA_PROVIDER_OPTIONS["use_tf32"] == "0"
    assert CUDA_PROVIDER_OPTIONS["cudnn_conv_algo_search"] == "HEURISTIC"
    assert providers[0][1] is not CUDA_PROVIDER_OPTIONS  # a copy per worker
    # a worker's device memory is capped like its host memory
    on_a_cuda_provider(monkeypatch, torch_sees_a_gpu=True)
    s = scorer(round_files, fuse=True, gpu_mem_limit=3 * 2**30)
    assert s.providers[0][1]["gpu_mem_limit"] == str(3 * 2**30)
    assert not s.fuse  # the in-graph metric is a CPU-path feature


def test_auto_with_a_cuda_provider_but_no_gpu_scores_on_the_cpu_path(round_files, monkeypatch):
    on_a_cuda_provider(monkeypatch, torch_sees_a_gpu=False)
    s = scorer(round_files, fuse=True)
    assert s.providers == [CPU_EP] and s.fuse


def test_memory_cap_kind_follows_the_installed_libraries(monkeypatch):
    """``RLIMIT_AS`` only for a CPU-only install; a CUDA torch or onnxruntime-gpu (mapped by
    every worker, GPU or not) or ``device="cuda"`` get ``RLIMIT_DATA``."""
    from ape_arena.evaluation import pool

    assert pool.cuda_libraries_installed() is False  # this venv: torch +cpu, onnxruntime
    assert pool._memory_kind("auto") == pool._memory_kind("cpu") == "as"
    assert pool._memory_kind("cuda") == "data"
    monkeypatch.setattr(pool, "cuda_libraries_installed", lambda: True)
    assert pool._memory_kind("cpu") == pool._memory_kind("auto") == "data"
