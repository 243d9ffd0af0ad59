"""The row-independence probe (worker.Scorer._probe, issue #13): a model's score must be a
property of the model on each row, not of the batch the validator happens to feed it.

Honest models of every kind the project ships or meets (digits MLP and CNN, a skl2onnx
LogisticRegression, GRU / conv / transformer byte LMs) pass at batch 1, 7 and 1,024; a
model that adds its batch size to a logit, or mixes in the rows before it, is INVALID
``batch_dependent`` at each of those batch sizes, on the fused and on the plain path.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from ape_arena.evaluation.engine import Engine
from ape_arena.evaluation.spec import TaskSpec
from ape_arena.evaluation.worker import PROBE_ROWS, probe_rows

from tests.plugin.evaluation.fixtures_engine import (
    batch_size_model,
    engine_spec,
    running_sum_model,
    write_digits_shard,
)
from tests.plugin.evaluation.test_third_party import skl2onnx_logistic_regression

BATCHES = (1, 7, 1024)


def _with_batch(spec: TaskSpec, rows: int) -> TaskSpec:
    raw = spec.model_dump(mode="json")
    raw["limits"]["max_batch_rows"] = rows
    return TaskSpec.model_validate(raw)


def _save(model, path) -> tuple[str, str]:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def test_probe_rows_follow_the_shard_hash_only():
    a = probe_rows("ab" * 32, 1_000)
    assert a == probe_rows("ab" * 32, 1_000)  # every validator probes the same rows
    assert len(a) == len(set(a)) == PROBE_ROWS and all(0 <= r < 1_000 for r in a)
    assert a != sorted(a)  # batched in an order unlike the shard's
    assert probe_rows("cd" * 32, 1_000) != a  # another shard, other rows
    assert sorted(probe_rows("ab" * 32, 5)) == [0, 1, 2, 3, 4]  # a tiny shard: every row


@pytest.fixture(scope="module")
def honest_rounds(tmp_path_factory):
    """(spec, shard, shard sha, models) for the digits kinds and the byte-LM kinds."""
    from ape_arena.evaluation.export import export_model
    from ape_arena.evaluation.shards import lm_arrays, stdlib_corpus, write_shard
    from ape_arena.evaluation.spec import example
    from ape_arena.tools.models import digits_data, make_model
    from sklearn.linear_model import LogisticRegression

    tmp = tmp_path_factory.mktemp("probe")
    digits_shard, digits_sha = write_digits_shard(tmp / "digits.npz", rows=1_100)
    spec = engine_spec()
    digits = [
        (str(tmp / f"{n}.onnx"), export_model(make_model(n, seed=3), spec, tmp / f"{n}.onnx"))
        for n in ("digits-mlp-64", "digits-cnn-8")
    ]
    x, y = digits_data()
    clf = LogisticRegression(max_iter=2000).fit(x.astype(np.float32), y)
    digits.append(_save(skl2onnx_logistic_regression(clf), tmp / "skl2onnx-lr.onnx"))
    lm_spec = example("bytes_lm")
    lm_shard = tmp / "lm.npz"
    lm_sha = write_shard(lm_arrays(stdlib_corpus(3_000, part="eval")[:3_000]), lm_shard)
    lms = [
        (str(tmp / f"{n}.onnx"), export_model(make_model(n, seed=3), lm_spec, tmp / f"{n}.onnx"))
        for n in ("lm-gru-48", "lm-conv-48", "lm-tf-32")
    ]
    return [
        (spec, digits_shard, digits_sha, ["mlp", "cnn", "skl2onnx-lr"], digits),
        (lm_spec, lm_shard, lm_sha, ["gru", "conv", "transformer"], lms),
    ]


@pytest.mark.parametrize("batch", BATCHES)
def test_honest_models_pass_the_probe(honest_rounds, batch):
    """No false positive: every honest kind scores (fused path, and the plain path for the
    digits kinds) and its largest probe gap is printed as a fraction of the tolerance."""
    for spec, shard, shard_sha, names, models in honest_rounds:
        for fuse in (True, False) if names[0] == "mlp" else (True,):
            with Engine(
                _with_batch(spec, batch), shard, shard_sha, fuse=fuse, progress=False
            ) as engine:
                results = engine.score_round(models)
            for name, r in zip(names, results, strict=True):
                assert r.ok, (name, batch, fuse, r.code, r.reason)
                assert 0.0 <= r.probe_gap < 1.0
                print(f"batch {batch:5d} fuse={fuse!s:5} {name:12s} gap {r.probe_gap:.2e}")


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "plain"])
def test_batch_dependent_models_are_invalid(tmp_path, batch, fuse):
    shard, shard_sha = write_digits_shard(tmp_path / "eval.npz", rows=1_100)
    models = [
        _save(batch_size_model(), tmp_path / "batch_size.onnx"),
        _save(batch_size_model(scale=1e-3), tmp_path / "batch_size_small.onnx"),
        _save(running_sum_model(), tmp_path / "running_sum.onnx"),
    ]
    spec = _with_batch(engine_spec(), batch)
    with Engine(spec, shard, shard_sha, fuse=fuse, progress=False) as engine:
        results = engine.score_round(models)
    for (path, _), r in zip(models, results, strict=True):
        assert r.code == "batch_dependent", (path, r.code, r.reason)
        assert "depends on the other rows of its batch" in r.reason
