"""Fixtures for the evaluation-engine tests: a small digits eval shard and crafted ONNX models.

Every model is a real ``.onnx`` file built with ``onnx.helper`` (no mocks): a good linear
classifier and graphs that go wrong only at run time (NaN / inf logits, a wrong output shape,
a huge allocation, an endless loop). ``tests/plugin/conftest.py`` re-exports these fixtures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ENGINE_ROWS = 3000
"""Rows of the test shard: > one batch for the small ``max_batch_rows`` the tests use."""
TEST_BATCH_ROWS = 1024


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def engine_spec(**limits: Any):
    """The shipped digits spec with small test batches (so shards span several batches)."""
    from ape_arena.evaluation.spec import TaskSpec, example

    raw = example("digits").model_dump(mode="json")
    raw["limits"] = {**raw["limits"], "max_batch_rows": TEST_BATCH_ROWS, **limits}
    return TaskSpec.model_validate(raw)


def write_digits_shard(path: Path, rows: int = ENGINE_ROWS, seed: int = 0) -> tuple[Path, str]:
    """``rows`` digits (load_digits, repeated with pixel noise), as the spec's npz layout."""
    import numpy as np
    from ape_arena.tools.models import digits_data

    x, y = digits_data()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), rows)
    noise = rng.normal(0.0, 0.05, (rows, 64)).astype(np.float32)
    features = np.clip(x[idx] + noise, 0.0, 1.0).astype(np.float32)
    np.savez(path, features=features, target=y[idx].astype(np.int64))
    return path, sha256_of(path)


# ----------------------------------------------------------------------------- ONNX graphs
def _linear_parts(seed: int):
    import numpy as np
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((64, 10)) * 0.5).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "B")
    return [w, b]


def _model(nodes, initializers, out_shape=("batch", 10), opset: int = 17):
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        nodes,
        "engine_test",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, list(out_shape))],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def good_model(seed: int = 0):
    """logits = features @ W + B."""
    from onnx import helper

    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
    ]
    return _model(nodes, _linear_parts(seed))


def nan_model():
    """log(x - 2) is NaN for every pixel in [0, 1]: NaN logits at run time."""
    import numpy as np
    from onnx import helper, numpy_helper

    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    nodes = [
        helper.make_node("Sub", ["features", "two"], ["shifted"]),
        helper.make_node("Log", ["shifted"], ["nan"]),
        helper.make_node("MatMul", ["nan", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
    ]
    return _model(nodes, [*_linear_parts(1), two])


def inf_model():
    """Division by zero: +-inf logits at run time."""
    import numpy as np
    from onnx import helper, numpy_helper

    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Div", ["z", "zero"], ["logits"]),
    ]
    return _model(nodes, [*_linear_parts(2), zero])


def offset_model(offset, seed: int = 7):
    """logits = features @ W + B + ``offset`` (a float or 10 floats, may hold +-inf): huge
    but finite logits, or a single -inf column that only the exact rules catch."""
    import numpy as np
    from onnx import helper, numpy_helper

    off = numpy_helper.from_array(np.broadcast_to(np.float32(offset), (10,)).copy(), "offset")
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Add", ["z", "offset"], ["logits"]),
    ]
    return _model(nodes, [*_linear_parts(seed), off])


def batch_size_model(scale: float = 1.0, seed: int = 8):
    """Adapts to its batch: adds ``scale`` x the batch's row count to logit 0, so a row
    scores differently in a batch of 1,024 and alone (INVALID ``batch_dependent``)."""
    import numpy as np
    from onnx import helper, numpy_helper

    one_hot = np.zeros(10, np.float32)
    one_hot[0] = scale
    inits = [
        *_linear_parts(seed),
        numpy_helper.from_array(one_hot, "hot"),
        numpy_helper.from_array(np.array([0], np.int64), "first"),
    ]
    nodes = [
        helper.make_node("Shape", ["features"], ["shape"]),
        helper.make_node("Gather", ["shape", "first"], ["rows"], axis=0),
        helper.make_node("Cast", ["rows"], ["rows_f"], to=1),
        helper.make_node("Mul", ["rows_f", "hot"], ["bump"]),
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Add", ["z", "bump"], ["logits"]),
    ]
    return _model(nodes, inits)


def running_sum_model(seed: int = 9):
    """Looks at the rows before it: a row's features are replaced by the running sum over
    its batch (``CumSum`` over the batch axis), so it scores differently alone."""
    import numpy as np
    from onnx import helper, numpy_helper

    inits = [
        *_linear_parts(seed),
        numpy_helper.from_array(np.array(0, np.int64), "batch_axis"),
        numpy_helper.from_array(np.array(0.01, np.float32), "small"),
    ]
    nodes = [
        helper.make_node("CumSum", ["features", "batch_axis"], ["cum"]),
        helper.make_node("Mul", ["cum", "small"], ["cum_s"]),
        helper.make_node("MatMul", ["cum_s", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
    ]
    return _model(nodes, inits)


def wrong_shape_model():
    """Declares ``[batch, 10]`` but averages over the batch: ``[1, 10]`` at run time."""
    from onnx import helper

    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("ReduceMean", ["z"], ["logits"], axes=[0], keepdims=1),
    ]
    return _model(nodes, _linear_parts(3), opset=17)


def memory_bomb_model(bytes_per_row: int = 2**22):
    """Materialises a ``[batch, bytes_per_row / 4]`` float tensor from the input's shape
    (4 MiB per row by default: GiBs per batch), then folds it into the logits."""
    import numpy as np
    from onnx import helper, numpy_helper

    scale = numpy_helper.from_array(np.array([1, bytes_per_row // 4 // 64], np.int64), "scale")
    one = helper.make_tensor("one", 1, [1], [1.0])  # FLOAT
    nodes = [
        helper.make_node("Shape", ["features"], ["shape"]),  # [batch, 64]
        helper.make_node("Mul", ["shape", "scale"], ["big_shape"]),
        helper.make_node("ConstantOfShape", ["big_shape"], ["big"], value=one),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["z"]),
        helper.make_node("Add", ["z", "total"], ["logits"]),
    ]
    return _model(nodes, [*_linear_parts(4), scale])


def endless_loop_model(trip_count: int = 2**62, size: int = 64):
    """A ``Loop`` with a huge trip count multiplying a ``size`` x ``size`` matrix each step
    (statically INVALID, ``unbounded_loop``). ``slow_loop_model`` stays within the rules."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("MatMul", ["acc_in", "M"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", onnx.TensorProto.FLOAT, [size, size]),
        ],
        [
            helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", onnx.TensorProto.FLOAT, [size, size]),
        ],
    )
    eye = np.eye(size, dtype=np.float32)
    inits = [
        *_linear_parts(5),
        numpy_helper.from_array(np.array(trip_count, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "yes"),
        numpy_helper.from_array(eye, "acc0"),
        numpy_helper.from_array(eye, "M"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([64], np.int64), "n64"),
    ]
    nodes = [
        helper.make_node("Loop", ["trips", "yes", "acc0"], ["acc"], body=body),
        helper.make_node("Slice", ["acc", "zero", "n64", "zero"], ["acc64"]),
        helper.make_node("Slice", ["acc64", "zero", "n64", "one"], ["acc64b"]),
        helper.make_node("MatMul", ["features", "acc64b"], ["x2"]),
        helper.make_node("MatMul", ["x2", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
    ]
    return _model(nodes, inits)


def slow_loop_model():
    """Within the rules (a constant trip count at the limit) but slow: 65,536 products of
    256 x 256 matrices (~2 TFLOP, minutes on a CPU core), for the time-limit guard."""
    from ape_arena.evaluation.checks import MAX_LOOP_TRIPS

    return endless_loop_model(trip_count=MAX_LOOP_TRIPS, size=256)


def custom_domain_model():
    """Statically bad: a node from a custom op domain (caught by checks.py, never run)."""
    from onnx import helper

    model = good_model(seed=6)
    model.graph.node[1].domain = "com.attacker"
    model.opset_import.append(helper.make_opsetid("com.attacker", 1))
    return model


def reference_cross_entropy(model_path: Path, shard_path: Path) -> tuple[float, int]:
    """Independent loss: onnxruntime defaults in one go + numpy float64 log-softmax."""
    import numpy as np
    import onnxruntime as ort

    data = np.load(shard_path)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], {"features": data["features"]})[0].astype(np.float64)
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    losses = -logp[np.arange(len(logits)), data["target"]]
    return float(losses.sum()), len(losses)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engine")


@pytest.fixture(scope="module")
def engine_shard(engine_dir: Path) -> tuple[Path, str]:
    """(path, sha256) of a 3000-row digits eval shard."""
    return write_digits_shard(engine_dir / "eval.npz")


@pytest.fixture(scope="module")
def save_onnx(engine_dir: Path) -> Callable[[Any, str], tuple[str, str]]:
    """``save_onnx(model, name)`` -> (path, sha256) of the written ``.onnx`` file."""

    def save(model: Any, name: str) -> tuple[str, str]:
        path = engine_dir / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        return str(path), sha256_of(path)

    return save
