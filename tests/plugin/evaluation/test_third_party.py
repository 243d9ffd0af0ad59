"""Exports by tools other than ours are first-class: a scikit-learn LogisticRegression
exported with skl2onnx (raw scores, no ZipMap, the label output dropped) passes the static
checks and the engine scores it within 10 fixed-point units of scikit-learn's own log_loss
on the same rows."""

from __future__ import annotations

import hashlib

import numpy as np
from ape_arena.evaluation.checks import check_model
from ape_arena.evaluation.engine import Engine
from ape_arena.tools.models import digits_data

from tests.plugin.evaluation.fixtures_engine import engine_spec, write_digits_shard

UNITS = 10  # 1e-8 nats


def skl2onnx_logistic_regression(clf):
    """The fitted classifier as the digits spec wants it: input `features` [batch, 64], one
    output `logits` [batch, 10] holding the raw decision scores."""
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        clf,
        initial_types=[("features", FloatTensorType([None, 64]))],
        options={id(clf): {"zipmap": False, "raw_scores": True}},
        target_opset=17,
    )
    graph = onx.graph
    (scores,) = [o.name for o in graph.output if o.name != "label"]
    graph.node.append(helper.make_node("Identity", [scores], ["logits"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10]))
    return onx


def test_skl2onnx_logistic_regression_scores_like_scikit_learn(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    x, y = digits_data()
    clf = LogisticRegression(max_iter=2000).fit(x.astype(np.float32), y)
    path = tmp_path / "lr.onnx"
    path.write_bytes(skl2onnx_logistic_regression(clf).SerializeToString())
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = engine_spec()
    info = check_model(path, spec, sha)
    assert "LinearClassifier" in info.op_types  # an ai.onnx.ml op: scored with one thread
    shard, shard_sha = write_digits_shard(tmp_path / "eval.npz")
    with Engine(spec, shard, shard_sha, progress=False) as engine:
        (res,) = engine.score_round([(str(path), sha)])
    assert res.ok, res.reason
    rows = np.load(shard)
    reference = log_loss(rows["target"], clf.predict_proba(rows["features"]), labels=range(10))
    assert abs(res.score - round(reference * 1e9)) <= UNITS, (res.score, reference)
