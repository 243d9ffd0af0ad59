"""Evaluation engine (DESIGN §4.3): scores, determinism, runtime failures, shard refusal.

Real files only: an npz eval shard and ``.onnx`` models crafted with onnx.helper
(tests/plugin/evaluation/fixtures_engine.py). Each ``Engine`` starts a real worker process.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
from ape_arena.evaluation.engine import (
    INVALID_SCORE,
    Engine,
    EngineEvent,
    ScoreResult,
    ShardError,
    ValidatorFault,
    default_workers,
    score_from_total,
)
from ape_arena.evaluation.worker import CPU_EP, CUDA_EP, DeviceError, select_path, select_providers
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

from tests.plugin.evaluation.fixtures_engine import (
    _linear_parts,
    _model,
    batch_size_model,
    custom_domain_model,
    endless_loop_model,
    engine_spec,
    good_model,
    inf_model,
    memory_bomb_model,
    nan_model,
    reference_cross_entropy,
    slow_loop_model,
    write_digits_shard,
    wrong_shape_model,
)

GIB = 2**30
F32_UNITS = 440
"""How far a CPU-path score may sit from the float64 reference: the metric's exponentials
are float32 (arena_kernels.cross_entropy_rows_cpu: each row within 3e-7 nats = 4.4e-7 bits
of float64; fused into the graph: onnxruntime's float32 log-softmax, each row within about
one float32 ulp, with errors of both signs), so a mean is within 4.4e-7 * 1e9 = 440
fixed-point units."""
REPO = Path(__file__).resolve().parents[3]


# ----------------------------------------------------------------------------- fixed point
def test_score_rounds_half_up_exactly():
    assert score_from_total(0.5, 1) == 500_000_000
    assert score_from_total(0.5, 10**9) == 1  # mean * 1e9 = 0.5 exactly: ties round up
    assert score_from_total(2.5, 10**9) == 3  # not banker's rounding
    assert score_from_total(0.49999999999999994, 10**9) == 0
    assert score_from_total(1.0, 3) == 333_333_333
    assert score_from_total(2.0, 3) == 666_666_667
    assert score_from_total(0.0, 5) == 0


def test_score_clamps_below_invalid_and_unavailable():
    """A valid score is never one of the protocol's two markers (INVALID = 2**64 - 1,
    UNAVAILABLE = 2**64 - 2): an astronomic loss is the largest valid score, 2**64 - 3."""
    from ape_arena.protocol.types import UNAVAILABLE_SCORE

    assert score_from_total(-1e-12, 7) == 0  # float noise below a loss that is >= 0
    assert score_from_total(1e300, 1) == INVALID_SCORE - 2 == UNAVAILABLE_SCORE - 1
    assert score_from_total(2.0**64 / 1e9, 1) == INVALID_SCORE - 2


@pytest.mark.parametrize(
    ("total", "count"), [(math.nan, 1), (math.inf, 1), (-math.inf, 3), (1.0, 0)]
)
def test_score_refuses_non_finite_or_empty(total, count):
    with pytest.raises(ValueError):
        score_from_total(total, count)


@given(
    total=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    count=st.integers(min_value=1, max_value=10**7),
)
def test_score_is_the_nearest_integer(total, count):
    score = score_from_total(total, count)
    exact = Fraction(total) * 10**9 / count
    assert -Fraction(1, 2) < score - exact <= Fraction(1, 2)


def test_score_result_bytes_are_uint64_big_endian():
    r = ScoreResult("ab" * 32, 258, "ok")
    assert r.score_bytes() == b"\x00" * 6 + b"\x01\x02"
    assert ScoreResult("ab" * 32, INVALID_SCORE, "invalid").score_bytes() == b"\xff" * 8


# ----------------------------------------------------------------------------- device choice
def test_providers_cpu_only_build():
    assert select_providers("auto", [CPU_EP]) == [CPU_EP]
    assert select_providers("cpu", [CUDA_EP, CPU_EP]) == [CPU_EP]
    with pytest.raises(DeviceError):
        select_providers("cuda", ["AzureExecutionProvider", CPU_EP])


def test_providers_gpu_build_asks_for_cuda_first():
    providers = select_providers("auto", [CUDA_EP, CPU_EP])
    assert providers[0][0] == CUDA_EP and providers[-1] == CPU_EP


@pytest.mark.parametrize(
    ("device", "active", "cuda", "expected"),
    [
        ("auto", [CUDA_EP, CPU_EP], True, "cuda"),
        # onnxruntime-gpu lists CUDA even where it cannot run: the active list decides
        ("auto", [CPU_EP], True, "cpu"),
        ("auto", [CUDA_EP, CPU_EP], False, "cpu"),  # torch cannot see the GPU
        ("auto", [CPU_EP, CUDA_EP], True, "cpu"),  # CUDA is only a fallback
        ("cpu", [CUDA_EP, CPU_EP], True, "cpu"),
        ("cuda", [CUDA_EP, CPU_EP], True, "cuda"),
    ],
)
def test_select_path(device, active, cuda, expected):
    assert select_path(device, active, cuda) == expected


def test_select_path_cuda_required_but_missing():
    with pytest.raises(DeviceError, match="device='cuda'"):
        select_path("cuda", [CPU_EP], True)
    with pytest.raises(ValueError):
        select_path("tpu", [CPU_EP], False)


# ----------------------------------------------------------------------------- good models
def test_good_model_matches_independent_reference(engine_shard, save_onnx, capsys):
    """Engine score == onnxruntime + numpy float64 log loss (and sklearn) to float32
    resolution (``F32_UNITS``)."""
    import numpy as np
    from sklearn.metrics import log_loss

    shard, shard_sha = engine_shard
    path, sha = save_onnx(good_model(seed=0), "good0")
    events: list[EngineEvent] = []

    def fetch(uri: str, want: str) -> str:
        if "missing" in uri:
            raise FileNotFoundError("404 from the test gateway")
        return path

    with Engine(
        engine_spec(),
        shard,
        shard_sha,
        workers=1,
        progress=True,
        on_event=events.append,
        fetch=fetch,
    ) as engine:
        results = engine.score_round(
            [
                (path, sha),
                (Path(path).as_uri(), sha),
                ("http://gateway.test/good0", sha),
                ("http://gateway.test/missing", sha),
            ]
        )
        assert engine.workers_started == 1  # one warm worker served every model
        assert {e.pid for e in events if e.kind == "start"} == {engine.worker_pid}
    assert capsys.readouterr().err.count("scoring") >= 1  # the rich bar was drawn

    direct, via_file_uri, via_fetch, missing = results
    total, count = reference_cross_entropy(Path(path), shard)
    expected = score_from_total(total, count)
    assert direct.ok and direct.count == count == 3000
    assert abs(direct.score - expected) <= F32_UNITS
    assert math.isclose(direct.total, total, rel_tol=1e-6)

    data = np.load(shard)
    logits = np.asarray(
        __import__("onnxruntime")
        .InferenceSession(path, providers=["CPUExecutionProvider"])
        .run(None, {"features": data["features"]})[0],
        dtype=np.float64,
    )
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    sk = log_loss(data["target"], probs, labels=list(range(10)))
    assert abs(direct.score - round(sk * 1e9)) <= F32_UNITS + 1

    assert via_file_uri.score == direct.score and via_fetch.score == direct.score
    assert missing.status == "invalid" and missing.code == "fetch_failed"
    assert missing.score == INVALID_SCORE and "404" in missing.reason

    kinds = [(e.kind, e.index) for e in events if e.kind != "worker"]
    # one worker: models run one after the other, in order; a model that fails its checks
    # never reaches a worker (no "start") and is reported as soon as it is known
    assert [k for k in kinds if k[1] != 3] == [
        ("start", 0),
        ("result", 0),
        ("start", 1),
        ("result", 1),
        ("start", 2),
        ("result", 2),
    ]
    assert [k for k in kinds if k[1] == 3] == [("result", 3)]


# ----------------------------------------------------------------------------- failures
def _kill_worker_when(target_sha: str, engine_ref: list[Engine]):
    """on_event hook that SIGKILLs the worker whenever it starts on ``target_sha``."""

    def on_event(event: EngineEvent) -> None:
        if event.kind == "start" and event.sha256 == target_sha:
            os.kill(event.pid, signal.SIGKILL)

    return on_event


@pytest.fixture(
    scope="module",
    params=[(1, True), (2, True), (1, False)],
    ids=["1-worker", "2-workers", "1-worker-unfused"],
)
def failure_round(request, engine_shard, save_onnx):
    """One round mixing good models with every runtime failure (and one static one), on
    one worker and on a pool of two (models then run two at a time, out of order), and
    once more with the metric outside the graph (``fuse=False``)."""
    workers, fuse = request.param
    shard, shard_sha = engine_shard
    goods = [save_onnx(good_model(seed=10 + i), f"good{10 + i}") for i in range(8)]
    bad = {
        "nan": save_onnx(nan_model(), "nan"),
        "inf": save_onnx(inf_model(), "inf"),
        "shape": save_onnx(wrong_shape_model(), "shape"),
        "memory": save_onnx(memory_bomb_model(), "memory"),
        "loop": save_onnx(endless_loop_model(), "loop"),
        "batch": save_onnx(batch_size_model(), "batch"),
        "static": save_onnx(custom_domain_model(), "static"),
    }
    order: list[tuple[str, tuple[str, str]]] = []
    for i, (name, item) in enumerate(bad.items()):
        order.append((f"good{i}", goods[i]))
        order.append((name, item))
    order.append(("good_last", goods[len(bad)]))
    events: list[EngineEvent] = []
    engine = Engine(
        engine_spec(),
        shard,
        shard_sha,
        memory_limit=int(1.5 * GIB),
        time_limit=4.0,
        workers=workers,
        fuse=fuse,
        on_event=events.append,
    )
    with engine:
        results = engine.score_round([item for _, item in order])
        workers = (engine.workers, engine.workers_started, engine.fuse)
    by_name = {name: r for (name, _), r in zip(order, results, strict=True)}
    refs = {
        name: score_from_total(*reference_cross_entropy(Path(item[0]), shard))
        for name, item in order
        if name.startswith("good")
    }
    return by_name, refs, workers, events


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("nan", "non_finite", "non-finite output"),
        ("inf", "non_finite", "non-finite output"),
        ("shape", "output_shape", "[1, 10]"),
        ("memory", "memory_limit", "memory limit"),
        ("loop", "unbounded_loop", "the limit is 65536"),
        ("batch", "batch_dependent", "depends on the other rows of its batch"),
        ("static", "custom_domain", "com.attacker"),
    ],
)
def test_bad_model_is_invalid_with_reason(failure_round, name, code, words):
    results, _, _, _ = failure_round
    r = results[name]
    assert r.status == "invalid" and r.score == INVALID_SCORE
    assert r.code == code, r.reason
    assert words in r.reason


def test_round_continues_after_every_failure(failure_round):
    results, refs, (_, _, fuse), _ = failure_round
    for name, expected in refs.items():
        r = results[name]
        assert r.ok, f"{name}: {r.reason}"
        assert abs(r.score - expected) <= F32_UNITS, name
        assert r.path == ("cpu-fused" if fuse else "cpu"), name


def test_round_reuses_its_workers_after_model_failures(failure_round):
    """No model failure above (the memory bomb included) costs a worker: the round ends on
    the workers it started with."""
    _, _, (workers, started, _), _ = failure_round
    assert started == workers


def _fault_round(engine_shard, save_onnx, model, **options):
    shard, shard_sha = engine_shard
    goods = [save_onnx(good_model(seed=40 + i), f"fault_good{i}") for i in range(2)]
    events: list[EngineEvent] = []
    hook = options.pop("hook", None)

    def on_event(event: EngineEvent) -> None:
        events.append(event)
        if hook is not None:
            hook(event)

    with Engine(engine_spec(), shard, shard_sha, workers=1, on_event=on_event, **options) as engine:
        with pytest.raises(ValidatorFault) as info:
            engine.score_round([goods[0], model, goods[1]])
    return str(info.value), events


def test_crash_is_a_validator_fault_not_invalid(engine_shard, save_onnx):
    """A worker that dies on a model, and again on a fresh worker, stops the round with a
    message: a crash is this machine's fault, never the model's INVALID."""
    crasher = save_onnx(good_model(seed=99), "crasher")
    message, events = _fault_round(
        engine_shard, save_onnx, crasher, hook=_kill_worker_when(crasher[1], [])
    )
    assert "died 2 times" in message and "no model is marked INVALID" in message
    starts = [e for e in events if e.kind == "start" and e.sha256 == crasher[1]]
    assert [e.attempt for e in starts] == [1, 2]  # retried once...
    assert starts[0].pid != starts[1].pid  # ...on a fresh worker
    assert not any(e.kind == "result" and e.sha256 == crasher[1] for e in events)


def test_one_crash_is_retried_on_a_fresh_worker(engine_shard, save_onnx):
    """An unrelated kill (say the OOM killer) of one attempt does not change the score."""
    shard, shard_sha = engine_shard
    model = save_onnx(good_model(seed=98), "killed_once")
    killed: list[int] = []

    def kill_first(event: EngineEvent) -> None:
        if event.kind == "start" and event.sha256 == model[1] and not killed:
            killed.append(event.pid)
            os.kill(event.pid, signal.SIGKILL)

    with Engine(engine_spec(), shard, shard_sha, workers=1, on_event=kill_first) as engine:
        (result,) = engine.score_round([model])
    assert killed and result.ok
    expected = score_from_total(*reference_cross_entropy(Path(model[0]), shard))
    assert abs(result.score - expected) <= F32_UNITS


def test_overrun_is_a_validator_fault_not_invalid(engine_shard, save_onnx):
    """A model within the rules that runs past the validator's time limit (here a loop at
    the trip-count limit and a 2 s limit) stops the round: slow hardware must not make
    honest validators disagree by marking it INVALID."""
    slow = save_onnx(slow_loop_model(), "slow_loop")
    message, events = _fault_round(engine_shard, save_onnx, slow, time_limit=2.0)
    assert "time limit of 2 s" in message and "no model is marked INVALID" in message
    assert not any(e.kind == "result" and e.sha256 == slow[1] for e in events)


def test_static_checks_run_in_the_worker(engine_shard, save_onnx, monkeypatch):
    """The engine's own process runs no static check: with them broken here, the worker
    still gives every verdict (a statically bad model INVALID, a good one its score)."""
    from ape_arena.evaluation import checks

    def broken(*args, **kwargs):
        raise AssertionError("static checks ran in the validator's own process")

    monkeypatch.setattr(checks, "check_model", broken)
    monkeypatch.setattr(checks, "check_model_bytes", broken)
    shard, shard_sha = engine_shard
    good = save_onnx(good_model(seed=31), "in_worker_good")
    bad = save_onnx(custom_domain_model(), "in_worker_bad")
    with Engine(engine_spec(), shard, shard_sha, workers=1) as engine:
        ok, static = engine.score_round([good, bad])
    assert ok.ok and static.code == "custom_domain"


def test_pathological_graph_is_checked_inside_the_sandbox(engine_shard, save_onnx):
    """A 150k-node graph (4.3 MB, within the size limit; its static checks take seconds):
    under the worker's limits it gets its verdict from the worker, and under a time limit
    it cannot meet, the worker is killed and the round stops with a validator fault, while
    the validator's own process stays free."""
    shard, shard_sha = engine_shard
    nodes = [helper.make_node("MatMul", ["features", "W"], ["x0"])]
    nodes += [helper.make_node("Identity", [f"x{i}"], [f"x{i + 1}"]) for i in range(150_000)]
    nodes.append(helper.make_node("Add", ["x150000", "B"], ["logits"]))
    chain = save_onnx(_model(nodes, _linear_parts(3)), "chain150k")
    with Engine(engine_spec(), shard, shard_sha, workers=1) as engine:
        (result,) = engine.score_round([chain])
    assert result.ok, result.reason
    expected = score_from_total(*reference_cross_entropy(Path(chain[0]), shard))
    assert abs(result.score - expected) <= F32_UNITS
    with Engine(engine_spec(), shard, shard_sha, workers=1, time_limit=0.5) as engine:
        with pytest.raises(ValidatorFault, match="time limit of 0.5 s"):
            engine.score_round([chain])


# ----------------------------------------------------------------------------- determinism
_SCORE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from ape_arena.evaluation.engine import Engine
    from tests.plugin.evaluation.fixtures_engine import engine_spec
    shard, shard_sha, models = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    with Engine(engine_spec(), shard, shard_sha, progress=False) as engine:
        out = [(r.score_bytes().hex(), r.total.hex() if r.total is not None else None)
               for r in engine.score_round([tuple(m) for m in models])]
    print(json.dumps(out))
    """
)


def test_scores_identical_across_processes(engine_shard, save_onnx):
    shard, shard_sha = engine_shard
    models = [save_onnx(good_model(seed=s), f"det{s}") for s in (21, 22)]
    models.append(save_onnx(nan_model(), "det_nan"))
    argv = [sys.executable, "-c", _SCORE_SCRIPT, str(shard), shard_sha, json.dumps(models)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    runs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
        for _ in range(2)
    ]
    outs = []
    for proc in runs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        outs.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    assert outs[0] == outs[1]
    assert outs[0][2][0] == "ff" * 8  # the NaN model is INVALID in both
    assert all(total is not None for _, total in outs[0][:2])


# ----------------------------------------------------------------------------- the shard
def test_wrong_shard_hash_is_refused(engine_shard, save_onnx):
    shard, _ = engine_shard
    engine = Engine(engine_spec(), shard, "00" * 32)
    with pytest.raises(ShardError, match="refusing to score"):
        engine.score_round([save_onnx(good_model(), "good0")])
    engine.close()


def test_shard_changed_after_verification_is_refused_by_the_worker(tmp_path, save_onnx):
    """The worker re-checks the hash on the bytes it loads: no check-then-use gap."""
    shard, sha = write_digits_shard(tmp_path / "shard.npz", rows=200)
    engine = Engine(engine_spec(), shard, sha)
    try:
        engine.verify_shard()
        write_digits_shard(shard, rows=200, seed=1)  # different bytes, same path
        with pytest.raises(ShardError, match="refusing to score"):
            engine.score_round([save_onnx(good_model(), "good0")])
    finally:
        engine.close()


def test_engine_rejects_bad_configuration(engine_shard):
    shard, sha = engine_shard
    with pytest.raises(ValueError, match="device"):
        Engine(engine_spec(), shard, sha, device="tpu")
    with pytest.raises(ValueError, match="time_limit"):
        Engine(engine_spec(), shard, sha, time_limit=0)
    with pytest.raises(ValueError, match="sha256"):
        Engine(engine_spec(), shard, "xyz")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        Engine(engine_spec(), shard, sha, workers=0)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        Engine(engine_spec(), shard, sha, threads=-1)


def test_engine_default_layout(engine_shard):
    """CPU: one single-threaded worker per CPU; ``threads`` alone sets workers = CPUs //
    threads; ``workers`` alone shares the CPUs out."""
    from ape_arena.evaluation.pool import DEFAULT_MEMORY_LIMIT, cpu_count, physical_memory

    shard, sha = engine_shard
    cpus = cpu_count()
    fit = max(1, physical_memory() // DEFAULT_MEMORY_LIMIT)  # workers that fit in RAM
    e = Engine(engine_spec(), shard, sha, device="cpu")
    assert (e.workers, e.threads) == (min(cpus, fit), max(1, cpus // min(cpus, fit)))
    e = Engine(engine_spec(), shard, sha, device="cpu", threads=cpus)
    assert (e.workers, e.threads) == (1, cpus)
    assert e.pipeline  # one worker: the metric overlaps inference inside it
    e = Engine(engine_spec(), shard, sha, device="cpu", workers=1)
    assert (e.workers, e.threads) == (1, cpus)
    e = Engine(engine_spec(), shard, sha, device="cpu", workers=3, threads=2)
    assert (e.workers, e.threads) == (3, 2) and not e.pipeline
    # callers that know the round (validator, score_models) start no more than its models
    assert default_workers("cpu", models=1) == 1
    assert default_workers("cpu", models=10_000) == min(cpus, fit)
    assert default_workers("cpu", threads=cpus) == 1
    # each worker may use its memory limit: no more workers than physical memory holds
    assert default_workers("cpu", memory_limit=2 * physical_memory()) == 1
    assert default_workers("cpu", memory_limit=0) == cpus  # no limit, no cap


def test_worker_pool_gives_the_same_results_as_one_worker(engine_shard, save_onnx):
    """Two workers score models two at a time (out of order, largest checked file first)
    and return exactly the single worker's results, in the caller's order."""
    import numpy as np
    from onnx import numpy_helper

    shard, shard_sha = engine_shard
    models = []
    for i, pad in enumerate([0, 50_000, 0, 200_000, 10_000]):
        model = good_model(seed=40 + i)
        if pad:  # an unused initializer makes the file larger (dispatched earlier)
            model.graph.initializer.append(
                numpy_helper.from_array(np.zeros(pad, np.float32), f"pad{i}")
            )
        models.append(save_onnx(model, f"pool{i}"))
    models.insert(2, save_onnx(nan_model(), "pool_nan"))
    with Engine(engine_spec(), shard, shard_sha, workers=1, progress=False) as one:
        single = one.score_round(models)
    events: list[EngineEvent] = []
    with Engine(
        engine_spec(), shard, shard_sha, workers=2, progress=False, on_event=events.append
    ) as two:
        pooled = two.score_round(models)
        pids = set(two.worker_pids)
        assert two.workers_started == 2
    assert [r.sha256 for r in pooled] == [sha for _, sha in models]
    assert [r.score_bytes() for r in pooled] == [r.score_bytes() for r in single]
    assert [(r.total, r.count, r.code) for r in pooled] == [
        (r.total, r.count, r.code) for r in single
    ]
    assert pooled[2].code == "non_finite" and all(r.ok for i, r in enumerate(pooled) if i != 2)
    starts = [e for e in events if e.kind == "start"]
    assert sorted(e.index for e in starts) == list(range(len(models)))  # each model once
    assert {e.pid for e in starts} == pids and len(pids) == 2
    assert sorted(e.index for e in events if e.kind == "result") == list(range(len(models)))


# ----------------------------------------------------------------------------- byte LM
def test_byte_lm_bits_per_byte_with_mask_and_ignore(tmp_path):
    """Token metric path: -100 targets and a 0/1 mask are skipped; score == numpy reference,
    with the metric fused into the graph and without."""
    import numpy as np
    import onnxruntime as ort
    from ape_arena.evaluation.export import export_model
    from ape_arena.evaluation.shards import lm_arrays, stdlib_corpus, write_shard
    from ape_arena.evaluation.spec import TaskSpec, example
    from ape_arena.tools.models import make_model

    raw = example("bytes_lm").model_dump(mode="json")
    raw["limits"]["max_batch_rows"] = 16
    raw["data"]["mask_key"] = "mask"
    spec = TaskSpec.model_validate(raw)
    arrays = lm_arrays(stdlib_corpus(5_000, part="eval")[:5_000])  # last window padded: -100
    rng = np.random.default_rng(0)
    arrays["mask"] = (rng.random(arrays["target"].shape) > 0.25).astype(np.uint8)
    shard = tmp_path / "lm.npz"
    shard_sha = write_shard(arrays, shard)
    model = tmp_path / "lm.onnx"
    model_sha = export_model(make_model("lm-conv-48", seed=3), spec, model)

    results = []
    for fuse in (True, False):
        with Engine(spec, shard, shard_sha, progress=False, fuse=fuse) as engine:
            results += engine.score_round([(model, model_sha)])
    result, unfused = results
    assert (result.path, unfused.path) == ("cpu-fused", "cpu")
    assert unfused.count == result.count
    assert abs(unfused.score - result.score) <= F32_UNITS

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], {"tokens": arrays["tokens"]})[0].astype(np.float64)
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    target = arrays["target"]
    keep = (target != -100) & (arrays["mask"] != 0)
    picked = np.take_along_axis(logp, np.where(keep, target, 0)[..., None], -1)[..., 0]
    total_bits = float(-picked[keep].sum() / math.log(2))
    assert result.ok, result.reason
    assert result.count == int(keep.sum()) < target.size
    assert abs(result.score - score_from_total(total_bits, int(keep.sum()))) <= F32_UNITS


_ORPHAN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from ape_arena.evaluation.engine import Engine
    from tests.plugin.evaluation.fixtures_engine import engine_spec
    engine = Engine(engine_spec(), sys.argv[1], sys.argv[2], progress=False, time_limit=600)
    engine.wait_ready()
    print(engine.worker_pid, flush=True)
    engine.score_round([(sys.argv[3], sys.argv[4])])  # a long loop: the worker is busy
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return not any(line.startswith("State:") and "Z" in line for line in fh)
    except FileNotFoundError:
        return False


def test_worker_dies_with_a_killed_engine(engine_shard, save_onnx):
    """A validator SIGKILLed mid-model must not leave a busy worker running behind it."""
    import time

    shard, shard_sha = engine_shard
    loop_path, loop_sha = save_onnx(slow_loop_model(), "loop_orphan")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(shard), shard_sha, loop_path, loop_sha],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    try:
        worker_pid = int(proc.stdout.readline())
        time.sleep(1.0)  # let the worker get into the loop
        assert _alive(worker_pid)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid)


# ----------------------------------------------------------------------------- threads
def tree_ensemble_model(trees: int = 200, seed: int = 5):
    """A digits 'forest': `trees` depth-2 regression trees over random pixels, each leaf
    adding random float weights to all ten logits (ai.onnx.ml TreeEnsembleRegressor, whose
    onnxruntime kernel sums the trees per thread)."""
    import numpy as np
    import onnx
    from onnx import helper

    rng = np.random.default_rng(seed)
    a = {k: [] for k in ("tid", "nid", "feat", "val", "mode", "yes", "no")}
    t_tree, t_node, t_id, t_w = [], [], [], []
    for t in range(trees):
        for nid in range(7):
            branch = nid < 3
            a["tid"].append(t)
            a["nid"].append(nid)
            a["feat"].append(int(rng.integers(64)) if branch else 0)
            a["val"].append(float(rng.uniform(0.2, 0.8)) if branch else 0.0)
            a["mode"].append("BRANCH_LEQ" if branch else "LEAF")
            a["yes"].append(2 * nid + 1 if branch else 0)
            a["no"].append(2 * nid + 2 if branch else 0)
            if not branch:
                for k in range(10):
                    t_tree.append(t)
                    t_node.append(nid)
                    t_id.append(k)
                    t_w.append(float(rng.normal(0, 0.37)))
    forest = helper.make_node(
        "TreeEnsembleRegressor", ["features"], ["logits"], domain="ai.onnx.ml", n_targets=10,
        nodes_treeids=a["tid"], nodes_nodeids=a["nid"], nodes_featureids=a["feat"],
        nodes_values=a["val"], nodes_modes=a["mode"], nodes_truenodeids=a["yes"],
        nodes_falsenodeids=a["no"], target_treeids=t_tree, target_nodeids=t_node,
        target_ids=t_id, target_weights=t_w, aggregate_function="SUM",
    )  # fmt: skip
    graph = helper.make_graph(
        [forest],
        "forest",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 10])],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )


def test_thread_sensitive_graphs_run_with_one_intra_op_thread():
    from ape_arena.evaluation.worker import session_threads

    forest = tree_ensemble_model(trees=2).SerializeToString()
    linear = good_model().SerializeToString()
    assert [session_threads(forest, n) for n in (1, 2, 8)] == [1, 1, 1]
    assert [session_threads(linear, n) for n in (1, 2, 8)] == [1, 2, 8]


def test_scores_identical_across_thread_and_worker_counts(engine_shard, save_onnx):
    """A validator's CPU count decides its engine's threads and workers: 1/2/4 threads x 1/2
    workers must give the same score bytes, for a tree ensemble as for the other kinds."""
    shard, shard_sha = engine_shard
    models = [
        save_onnx(tree_ensemble_model(), "forest"),
        save_onnx(good_model(seed=3), "linear"),
        save_onnx(nan_model(), "nan"),
    ]
    seen = {}
    for threads in (1, 2, 4):
        for workers in (1, 2):
            with Engine(
                engine_spec(), shard, shard_sha, threads=threads, workers=workers, progress=False
            ) as engine:
                seen[(threads, workers)] = [r.score_bytes() for r in engine.score_round(models)]
    first = seen[(1, 1)]
    assert all(v == first for v in seen.values()), seen
    assert first[0] != b"\xff" * 8 and first[2] == b"\xff" * 8  # the forest scores; NaN is INVALID


def test_preset_kinds_score_identically_across_thread_and_worker_counts(tmp_path):
    """Every model kind of the fixtures (MLP, CNN on digits; GRU, conv, transformer byte LMs)
    gives the same score bytes at 1/2/4 intra-op threads x 1/2 workers: their graphs keep
    their threads because this holds for them (the tree ensembles above do not)."""
    from ape_arena.evaluation.export import export_model
    from ape_arena.evaluation.shards import lm_arrays, stdlib_corpus, write_shard
    from ape_arena.evaluation.spec import TaskSpec, example
    from ape_arena.tools.models import make_model

    digits_shard, digits_sha = write_digits_shard(tmp_path / "digits.npz", rows=1_000)
    raw = example("bytes_lm").model_dump(mode="json")
    raw["limits"]["max_batch_rows"] = 16
    lm_spec = TaskSpec.model_validate(raw)
    lm_shard = tmp_path / "lm.npz"
    lm_sha = write_shard(lm_arrays(stdlib_corpus(3_000, part="eval")[:3_000]), lm_shard)
    rounds = [
        (engine_spec(), digits_shard, digits_sha, ["digits-mlp-64", "digits-cnn-8"]),
        (lm_spec, lm_shard, lm_sha, ["lm-gru-48", "lm-conv-48", "lm-tf-32"]),
    ]
    for spec, shard, shard_sha, names in rounds:
        models = []
        for name in names:
            path = tmp_path / f"{name}.onnx"
            models.append((str(path), export_model(make_model(name, seed=4), spec, path)))
        seen = {}
        for threads in (1, 2, 4):
            for workers in (1, 2):
                with Engine(
                    spec, shard, shard_sha, threads=threads, workers=workers, progress=False
                ) as engine:
                    results = engine.score_round(models)
                assert all(r.ok for r in results), [r.reason for r in results]
                seen[(threads, workers)] = [r.score_bytes() for r in results]
        first = seen[(1, 1)]
        assert all(v == first for v in seen.values()), (names, seen)
