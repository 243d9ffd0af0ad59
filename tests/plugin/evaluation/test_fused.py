"""The cross-entropy metric fused into the model's graph (plugins/ape_arena/fused.py) and
the engine's use of it: same values as the plain path to float32 resolution, the model's
own output untouched, and every unusual model decided by the plain path's exact rules.

Real files only: crafted ``.onnx`` models (tests/plugin/evaluation/fixtures_engine.py), a digits npz
shard and real worker processes.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from ape_arena.evaluation.engine import INVALID_SCORE, Engine, score_from_total
from ape_arena.evaluation.fused import MIN_OPSET, fuse_nll
from onnx import helper

from tests.plugin.evaluation.fixtures_engine import (
    engine_spec,
    good_model,
    inf_model,
    nan_model,
    offset_model,
    reference_cross_entropy,
    wrong_shape_model,
)

F32_UNITS = 440  # as in test_engine.py: float32 resolution of a mean loss, in 1e-9 units


def _run(model_bytes: bytes, feeds: dict, outputs=None):
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return sess.run(outputs, feeds)


def _features(rows: int = 257, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, 64), dtype=np.float32)


def test_fused_graph_keeps_the_output_and_adds_each_rows_target_log_prob():
    model = good_model(seed=3).SerializeToString()
    x = _features()
    target = np.random.default_rng(1).integers(0, 10, len(x))
    graph, names = fuse_nll(model, "logits")
    logits, picked, check, shape = _run(
        graph,
        {"features": x, names.target: target[:, None]},
        ["logits", names.picked, names.check, names.shape],
    )
    (plain,) = _run(model, {"features": x})
    assert np.array_equal(logits, plain)  # nothing upstream of the metric changed
    assert list(shape) == [len(x), 10]
    assert picked.shape == (len(x), 1) and picked.dtype == np.float32
    z = plain.astype(np.float64)
    ref = z[np.arange(len(z)), target] - np.log(np.exp(z).sum(1))
    np.testing.assert_allclose(picked[:, 0], ref, rtol=0, atol=1e-6)
    assert math.isclose(float(check), float(z.sum()), rel_tol=1e-5)


def test_fused_values_do_not_depend_on_the_batch():
    graph, names = fuse_nll(good_model(seed=4).SerializeToString(), "logits")
    x = _features(300, seed=2)
    t = np.random.default_rng(3).integers(0, 10, (300, 1))
    sess = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    whole = sess.run([names.picked], {"features": x, names.target: t})[0]
    parts = [
        sess.run([names.picked], {"features": x[a:b], names.target: t[a:b]})[0]
        for a, b in ((0, 1), (1, 7), (7, 300))
    ]
    assert np.array_equal(whole, np.concatenate(parts))


def test_fused_names_never_collide_with_the_graph():
    model = good_model(seed=5)
    g = model.graph
    # the model already uses every name the fusion would pick first
    g.node[0].output[0] = "arena_picked"
    g.node[1].input[0] = "arena_picked"
    g.node[1].name = "arena_log_softmax"
    g.initializer[1].name = "arena_check"
    g.node[1].input[1] = "arena_check"
    g.value_info.append(helper.make_tensor_value_info("arena_target_index", 1, None))
    onnx.checker.check_model(model)
    graph, names = fuse_nll(model.SerializeToString(), "logits")
    assert names.picked == "arena_picked_1" and names.check == "arena_check_1"
    assert names.target == "arena_target_index_1"
    x = _features(5)
    picked = _run(graph, {"features": x, names.target: np.zeros((5, 1), np.int64)})[1]
    assert picked.shape == (5, 1) and np.isfinite(picked).all()


def test_fusion_declined_for_old_opsets_and_unknown_outputs():
    old = good_model(seed=6)
    old.opset_import[0].version = MIN_OPSET - 1
    assert fuse_nll(old.SerializeToString(), "logits") is None
    assert fuse_nll(good_model(seed=6).SerializeToString(), "probs") is None


# ----------------------------------------------------------------------------- engine
def _score(shard, shard_sha, models, fuse: bool):
    with Engine(engine_spec(), shard, shard_sha, workers=1, fuse=fuse, progress=False) as e:
        return e.score_round(models)


@pytest.fixture(scope="module")
def both_paths(engine_shard, save_onnx):
    """One round scored with the metric fused and one on the plain path."""
    shard, shard_sha = engine_shard
    models = {
        "good": save_onnx(good_model(seed=31), "fused_good"),
        "huge": save_onnx(offset_model(1e36), "fused_huge"),  # float32 sum overflows
        "minus_inf": save_onnx(offset_model([0.0] * 9 + [-math.inf]), "fused_minus_inf"),
        "nan": save_onnx(nan_model(), "fused_nan"),
        "inf": save_onnx(inf_model(), "fused_inf"),
        "shape": save_onnx(wrong_shape_model(), "fused_shape"),
    }
    items = list(models.values())
    fused = dict(zip(models, _score(shard, shard_sha, items, True), strict=True))
    plain = dict(zip(models, _score(shard, shard_sha, items, False), strict=True))
    return models, fused, plain


def test_engine_fuses_the_metric_and_agrees_with_the_plain_path(both_paths, engine_shard):
    models, fused, plain = both_paths
    good_f, good_p = fused["good"], plain["good"]
    assert good_f.ok and good_p.ok
    assert (good_f.path, good_p.path) == ("cpu-fused", "cpu")
    expected = score_from_total(*reference_cross_entropy(Path(models["good"][0]), engine_shard[0]))
    assert abs(good_f.score - expected) <= F32_UNITS
    assert abs(good_f.score - good_p.score) <= F32_UNITS
    assert good_f.count == good_p.count == 3000


def test_unusual_but_valid_logits_are_scored_by_the_plain_path(both_paths):
    _, fused, plain = both_paths
    huge_f, huge_p = fused["huge"], plain["huge"]
    assert huge_f.ok, huge_f.reason
    assert huge_f.path == "cpu"  # fell back: its logits' float32 sum is inf
    assert huge_f.score == huge_p.score  # and so the very same number
    assert abs(huge_f.mean_loss - math.log(10)) < 1e-6  # 1e36 swamps z: uniform


@pytest.mark.parametrize("name", ["minus_inf", "nan", "inf", "shape"])
def test_invalid_decisions_are_the_plain_paths(both_paths, name):
    _, fused, plain = both_paths
    f, p = fused[name], plain[name]
    assert f.status == p.status == "invalid" and f.score == INVALID_SCORE
    assert (f.code, f.reason) == (p.code, p.reason)
    assert f.code == ("output_shape" if name == "shape" else "non_finite")


def test_fusion_can_be_turned_off_and_is_only_for_cross_entropy(engine_shard, save_onnx):
    shard, shard_sha = engine_shard
    item = save_onnx(good_model(seed=32), "fused_err")
    spec = engine_spec()
    raw = spec.model_dump(mode="json")
    raw["metric"] = "error_rate"
    spec = type(spec).model_validate(raw)
    with Engine(spec, shard, shard_sha, workers=1, progress=False) as engine:
        (r,) = engine.score_round([item])
    assert r.ok and r.path == "cpu"  # error_rate needs the argmax: plain path


def test_fused_graph_rejects_an_old_opset_model_gracefully(engine_shard, save_onnx):
    """A model the fusion declines is still scored (plain path), with the same score."""
    shard, shard_sha = engine_shard
    model = good_model(seed=33)
    model.opset_import[0].version = 10
    item = save_onnx(model, "fused_old")
    spec = engine_spec(opset_min=7)
    results = []
    for fuse in (True, False):
        with Engine(spec, shard, shard_sha, workers=1, fuse=fuse, progress=False) as engine:
            results += engine.score_round([item])
    fused, plain = results
    assert fused.ok and fused.path == "cpu" and fused.score == plain.score


def _bigram_model(seed: int):
    """A byte LM as small as it gets: logits[b, t] = E[tokens[b, t]] (opset 17)."""
    from onnx import numpy_helper

    table = np.random.default_rng(seed).standard_normal((256, 256)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "tokens"], ["logits"], axis=0)],
        "bigram",
        [helper.make_tensor_value_info("tokens", onnx.TensorProto.INT64, ["batch", 128])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 128, 256])],
        initializer=[numpy_helper.from_array(table, "E")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_the_specs_ignore_index_is_honoured_on_both_paths(tmp_path, save_onnx):
    """A token task with its own ignore marker (-1): those tokens count on neither path."""
    from ape_arena.evaluation.spec import TaskSpec, example

    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 256, (40, 128))
    target = rng.integers(0, 256, (40, 128))
    target[:, ::5] = -1
    shard = tmp_path / "ignore.npz"
    np.savez(shard, tokens=tokens, target=target)
    sha = hashlib.sha256(shard.read_bytes()).hexdigest()
    raw = example("bytes_lm").model_dump(mode="json")
    raw["data"]["ignore_index"] = -1
    raw["limits"]["max_batch_rows"] = 16
    spec = TaskSpec.model_validate(raw)
    path, msha = save_onnx(_bigram_model(seed=6), "fused_ignore")
    results = []
    for fuse in (True, False):
        with Engine(spec, shard, sha, workers=1, fuse=fuse, progress=False) as engine:
            results += engine.score_round([(path, msha)])
    fused, plain = results
    assert fused.ok and plain.ok, (fused.reason, plain.reason)
    assert (fused.path, plain.path) == ("cpu-fused", "cpu")
    keep = target != -1
    assert fused.count == plain.count == int(keep.sum())
    (logits,) = _run(Path(path).read_bytes(), {"tokens": tokens})
    z = logits.astype(np.float64)[keep]
    t = target[keep]
    m = z.max(1)
    nats = (m + np.log(np.exp(z - m[:, None]).sum(1)) - z[np.arange(len(t)), t]).sum()
    expected = score_from_total(float(nats / math.log(2)), int(keep.sum()))
    assert abs(fused.score - expected) <= F32_UNITS and abs(plain.score - expected) <= F32_UNITS
