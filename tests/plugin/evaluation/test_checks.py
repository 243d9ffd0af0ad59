"""Static model checks: one crafted ONNX file per rule, each asserting its reason code."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from ape_arena.evaluation.checks import CODES, CheckError, check_model, check_model_bytes
from onnx import helper, numpy_helper


def assert_fails(code: str, path, spec, sha) -> CheckError:
    with pytest.raises(CheckError) as info:
        check_model(path, spec, sha)
    assert info.value.code == code, str(info.value)
    assert info.value.reason
    return info.value


# ---------------------------------------------------------------------------- passing
def test_crafted_good_model_passes_and_reports_facts(digits_onnx, write_model, digits_spec):
    path, sha = write_model(digits_onnx())
    info = check_model(path, digits_spec, sha)
    assert info.sha256 == sha
    assert info.size_bytes == path.stat().st_size
    assert info.opset == 17
    assert info.num_params == 64 * 10 + 10
    assert info.num_nodes == 2
    assert info.op_types == ("Add", "MatMul")
    assert info.inputs[0].name == "features" and info.inputs[0].shape == ("batch", 64)
    assert info.outputs[0].shape == ("batch", 10)


def test_expected_hash_accepts_bytes_hex_and_0x(digits_onnx, write_model, digits_spec):
    path, sha = write_model(digits_onnx())
    for expected in (bytes.fromhex(sha), sha.upper(), "0x" + sha, None):
        assert check_model(path, digits_spec, expected).sha256 == sha


def test_exported_torch_model_passes(tiny_mlp, digits_spec, tmp_path):
    from ape_arena.evaluation.export import export_model

    sha = export_model(tiny_mlp(), digits_spec, tmp_path / "m.onnx")
    info = check_model(tmp_path / "m.onnx", digits_spec, sha)
    assert info.num_params == 64 * 32 + 32 + 32 * 10 + 10


def test_unknown_dims_and_symbolic_fixed_dims_are_accepted(digits_onnx, write_model, digits_spec):
    """A model more general than the spec (unknown / symbolic dims) is fine."""
    model = digits_onnx(in_shape=("n", "f"), out_shape=(None, None))
    path, sha = write_model(model)
    info = check_model(path, digits_spec, sha)
    assert info.inputs[0].shape == ("n", "f")
    assert info.outputs[0].shape == (None, None)


def test_input_that_is_also_an_initializer_is_not_a_model_input(
    digits_onnx, write_model, digits_spec
):
    model = digits_onnx()
    model.graph.input.append(helper.make_tensor_value_info("B", onnx.TensorProto.FLOAT, [10]))
    path, sha = write_model(model)
    assert [t.name for t in check_model(path, digits_spec, sha).inputs] == ["features"]


# ---------------------------------------------------------------------------- failing
def test_unreadable_missing_file(tmp_path, digits_spec):
    assert_fails("unreadable", tmp_path / "nope.onnx", digits_spec, None)


def test_sha256_mismatch(digits_onnx, write_model, digits_spec):
    path, sha = write_model(digits_onnx())
    err = assert_fails("sha256_mismatch", path, digits_spec, "00" * 32)
    assert sha in err.reason


def test_too_large_checked_before_reading(digits_onnx, write_model, make_spec):
    path, sha = write_model(digits_onnx())
    spec = make_spec(limits={"max_bytes": 100})
    err = assert_fails("too_large", path, spec, sha)
    assert "100" in err.reason
    # also before hashing: a too-large file with a wrong hash reports the size
    assert_fails("too_large", path, spec, "11" * 32)


@pytest.mark.parametrize(
    "data",
    [b"not an onnx model", b"\xff" * 64, b"", b"\x08\x07"],  # garbage, empty, no graph
    ids=["text", "ff", "empty", "ir-only"],
)
def test_corrupt_bytes(data, write_model, digits_spec):
    path, sha = write_model(data)
    assert_fails("corrupt", path, digits_spec, sha)


def test_truncated_model_is_corrupt(digits_onnx, write_model, digits_spec):
    data = digits_onnx().SerializeToString()
    path, sha = write_model(data[: len(data) // 2])
    assert_fails("corrupt", path, digits_spec, sha)


def test_checker_failure_dangling_input(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.node[1].input[1] = "does_not_exist"
    path, sha = write_model(model)
    err = assert_fails("checker_failed", path, digits_spec, sha)
    assert "onnx.checker" in err.reason


def test_checker_failure_unknown_op(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.node[1].op_type = "NoSuchOp"
    path, sha = write_model(model)
    assert_fails("checker_failed", path, digits_spec, sha)


@pytest.mark.parametrize("opset", [11, 22])
def test_opset_outside_range(opset, digits_onnx, write_model, digits_spec):
    path, sha = write_model(digits_onnx(opset=opset))
    err = assert_fails("opset_out_of_range", path, digits_spec, sha)
    assert f"opset {opset}" in err.reason and "13..21" in err.reason


def test_missing_default_opset(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    path, sha = write_model(model)
    assert_fails("opset_out_of_range", path, digits_spec, sha)


def test_custom_op_domain_node(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.node[1].domain = "com.microsoft"
    model.graph.node[1].op_type = "BiasGelu"
    path, sha = write_model(model)
    err = assert_fails("custom_domain", path, digits_spec, sha)
    assert "com.microsoft" in err.reason


def test_custom_domain_opset_import(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.opset_import.append(helper.make_opsetid("evil.ops", 1))
    path, sha = write_model(model)
    assert_fails("custom_domain", path, digits_spec, sha)


def test_custom_domain_hidden_in_subgraph(digits_onnx, write_model, digits_spec):
    """A custom op inside an If branch is found too."""
    model = digits_onnx()
    branch = helper.make_graph(
        [helper.make_node("Steal", ["B"], ["y"], domain="evil.ops")],
        "then",
        [],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [10])],
    )
    cond = numpy_helper.from_array(np.array(True), "cond")
    model.graph.initializer.append(cond)
    model.graph.node.append(
        helper.make_node(
            "If", ["cond"], ["unused"], then_branch=branch, else_branch=branch, name="if"
        )
    )
    path, sha = write_model(model)
    assert_fails("custom_domain", path, digits_spec, sha)


def test_model_local_function_is_custom_domain(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    fn = helper.make_function(
        "local",
        "Affine",
        ["x", "w"],
        ["y"],
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [helper.make_opsetid("", 17)],
    )
    model.functions.append(fn)
    path, sha = write_model(model)
    assert_fails("custom_domain", path, digits_spec, sha)


def test_banned_random_op(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.node[1].output[0] = "clean"
    model.graph.node.extend(
        [
            helper.make_node("RandomNormalLike", ["clean"], ["noise"], name="noise"),
            helper.make_node("Add", ["clean", "noise"], ["logits"], name="noisy"),
        ]
    )
    path, sha = write_model(model)
    err = assert_fails("banned_op", path, digits_spec, sha)
    assert "RandomNormalLike" in err.reason


def test_external_data_initializer(digits_onnx, write_model, digits_spec, tmp_path):
    from onnx.external_data_helper import set_external_data

    model = digits_onnx()
    w = model.graph.initializer[0]
    (tmp_path / "weights.bin").write_bytes(w.raw_data)
    set_external_data(w, location="weights.bin", offset=0, length=len(w.raw_data))
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    path, sha = write_model(model)
    err = assert_fails("external_data", path, digits_spec, sha)
    assert "weights.bin" in err.reason


def test_external_data_in_constant_attribute(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    t = numpy_helper.from_array(np.zeros(10, np.float32), "c")
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value="/etc/passwd")
    model.graph.node.append(helper.make_node("Constant", [], ["c"], value=t))
    path, sha = write_model(model)
    assert_fails("external_data", path, digits_spec, sha)


def test_too_many_params(digits_onnx, write_model, make_spec):
    path, sha = write_model(digits_onnx())
    err = assert_fails("too_many_params", path, make_spec(limits={"max_params": 649}), sha)
    assert "650" in err.reason
    assert check_model(path, make_spec(limits={"max_params": 650}), sha).num_params == 650


def test_params_hidden_in_constant_node_count(digits_onnx, write_model, make_spec):
    model = digits_onnx()
    big = numpy_helper.from_array(np.zeros((100, 100), np.float32), "k")
    model.graph.node.insert(0, helper.make_node("Constant", [], ["k"], value=big))
    path, sha = write_model(model)
    assert_fails("too_many_params", path, make_spec(limits={"max_params": 10_000}), sha)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"in_name": "pixels"}, "inputs are ['pixels']"),
        ({"out_name": "probs"}, "outputs are ['probs']"),
        ({"in_dtype": "float64"}, "DOUBLE"),
        ({"in_shape": ("batch", 8, 8)}, "rank 3"),
        ({"in_shape": ("batch", 63), "n_features": 63}, "dim 1 is 63"),
        ({"in_shape": (32, 64)}, "batch dim must be dynamic"),
        ({"out_shape": ("batch", 9), "n_classes": 9}, "dim 1 is 9"),
        ({"out_shape": (7, 10)}, "batch dim must be dynamic"),
        ({"out_shape": ("batch",)}, "rank 1"),
    ],
    ids=[
        "input-name",
        "output-name",
        "input-dtype",
        "input-rank",
        "input-fixed-dim",
        "input-fixed-batch",
        "output-classes",
        "output-fixed-batch",
        "output-rank",
    ],
)
def test_signature_mismatch(kwargs, needle, digits_onnx, write_model, digits_spec):
    path, sha = write_model(digits_onnx(**kwargs))
    err = assert_fails("signature_mismatch", path, digits_spec, sha)
    assert needle in err.reason


def test_signature_extra_output(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.output.append(
        helper.make_tensor_value_info("xw", onnx.TensorProto.FLOAT, ["batch", 10])
    )
    path, sha = write_model(model)
    assert_fails("signature_mismatch", path, digits_spec, sha)


def test_signature_extra_input(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.input.append(
        helper.make_tensor_value_info("mask", onnx.TensorProto.FLOAT, ["batch", 64])
    )
    path, sha = write_model(model)
    assert_fails("signature_mismatch", path, digits_spec, sha)


def test_lm_signature_against_digits_spec_mismatches(tiny_byte_lm, lm_spec, digits_spec, tmp_path):
    from ape_arena.evaluation.export import export_model

    sha = export_model(tiny_byte_lm(), lm_spec, tmp_path / "lm.onnx")
    out_shape = check_model(tmp_path / "lm.onnx", lm_spec, sha).outputs[0].shape
    assert out_shape[0] == "batch" and out_shape[2] == 256
    with pytest.raises(CheckError) as info:
        check_model(tmp_path / "lm.onnx", digits_spec, sha)
    assert info.value.code == "signature_mismatch"


# ---------------------------------------------------------------------------- API
def test_check_error_codes_are_closed():
    with pytest.raises(ValueError):
        CheckError("made_up", "x")
    assert CheckError("corrupt", "why").code in CODES


def test_bad_expected_hash_argument_is_a_caller_error(digits_onnx, digits_spec):
    data = digits_onnx().SerializeToString()
    with pytest.raises(ValueError, match="64 hex"):
        check_model_bytes(data, digits_spec, "abc")
    with pytest.raises(ValueError, match="32 bytes"):
        check_model_bytes(data, digits_spec, b"\x00" * 31)
    assert check_model_bytes(data, digits_spec, hashlib.sha256(data).digest()).num_nodes == 2


def sparse_weight(dense_shape, nnz: int, name: str = "S"):
    values = numpy_helper.from_array(np.ones(nnz, np.float32), name)
    indices = numpy_helper.from_array(np.arange(nnz, dtype=np.int64), name + "_idx")
    return helper.make_sparse_tensor(values, indices, list(dense_shape))


def test_sparse_initializer_counts_its_dense_size(digits_onnx, write_model, make_spec):
    model = digits_onnx()
    model.graph.sparse_initializer.append(sparse_weight((100, 100), nnz=3))
    path, sha = write_model(model)
    info = check_model(path, make_spec(limits={"max_params": 20_000}), sha)
    assert info.num_params == 650 + 100 * 100
    assert_fails("too_many_params", path, make_spec(limits={"max_params": 10_000}), sha)


def test_external_data_in_sparse_initializer(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    sparse = sparse_weight((10,), nnz=2)
    sparse.values.ClearField("raw_data")
    sparse.values.data_location = onnx.TensorProto.EXTERNAL
    sparse.values.external_data.add(key="location", value="vals.bin")
    model.graph.sparse_initializer.append(sparse)
    path, sha = write_model(model)
    assert_fails("external_data", path, digits_spec, sha)


# ---------------------------------------------------------------------------- determinism holes
def with_dropout(model, mode_input: str | None, extra_nodes=(), extra_inits=()):
    """digits model with Dropout(logits_pre, ratio=0.5, training_mode=mode_input) at the end."""
    model.graph.node[1].output[0] = "pre"
    inputs = ["pre", "ratio"] + ([mode_input] if mode_input else [])
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.5, np.float32), "ratio"))
    model.graph.initializer.extend(extra_inits)
    model.graph.node.extend([*extra_nodes, helper.make_node("Dropout", inputs, ["logits"])])
    return model


@pytest.mark.parametrize("mode", ["constant-true", "computed-from-input"])
def test_dropout_that_can_train_is_banned(mode, digits_onnx, write_model, digits_spec):
    """A torch model exported in train mode keeps Dropout(training_mode=True): it drops a
    random half of the logits on every run, so three runs give three scores."""
    if mode == "constant-true":
        model = with_dropout(
            digits_onnx(),
            "train",
            extra_inits=[numpy_helper.from_array(np.array(True), "train")],
        )
    else:
        model = with_dropout(
            digits_onnx(),
            "train",
            extra_nodes=[
                helper.make_node("ReduceSum", ["features"], ["total"], keepdims=0),
                helper.make_node("Greater", ["total", "zero"], ["train"]),
            ],
            extra_inits=[numpy_helper.from_array(np.array(0.0, np.float32), "zero")],
        )
    path, sha = write_model(model)
    err = assert_fails("banned_op", path, digits_spec, sha)
    assert "training_mode" in err.reason


@pytest.mark.parametrize("mode", ["absent", "initializer-false", "constant-node-false"])
def test_inert_dropout_passes(mode, digits_onnx, write_model, digits_spec):
    if mode == "absent":
        model = with_dropout(digits_onnx(), None)
    elif mode == "initializer-false":
        model = with_dropout(
            digits_onnx(), "eval", extra_inits=[numpy_helper.from_array(np.array(False), "eval")]
        )
    else:
        const = helper.make_node(
            "Constant", [], ["eval"], value=numpy_helper.from_array(np.array(False), "v")
        )
        model = with_dropout(digits_onnx(), "eval", extra_nodes=[const])
    path, sha = write_model(model)
    assert "Dropout" in check_model(path, digits_spec, sha).op_types


def test_weights_hidden_in_constant_value_ints_count(digits_onnx, write_model, make_spec):
    """7.9M weights in a Constant's value_ints used to count as 0 parameters."""
    model = digits_onnx()
    model.graph.node.insert(
        0, helper.make_node("Constant", [], ["hidden"], value_ints=list(range(5_000)))
    )
    path, sha = write_model(model)
    err = assert_fails("too_many_params", path, make_spec(limits={"max_params": 5_000}), sha)
    assert "5650" in err.reason
    assert check_model(path, make_spec(limits={"max_params": 5_650}), sha).num_params == 5_650


def test_tree_ensemble_arrays_count_as_parameters(write_model, make_spec):
    """An ai.onnx.ml tree ensemble keeps its whole model in list attributes."""
    n = 301  # nodes of one tree: 150 splits, 151 leaves
    tree = helper.make_node(
        "TreeEnsembleRegressor",
        ["features"],
        ["score"],
        domain="ai.onnx.ml",
        n_targets=1,
        nodes_treeids=[0] * n,
        nodes_nodeids=list(range(n)),
        nodes_featureids=[i % 64 for i in range(n)],
        nodes_values=[0.5] * n,
        nodes_modes=["BRANCH_LEQ"] * 150 + ["LEAF"] * 151,
        nodes_truenodeids=[2 * i + 1 if i < 150 else 0 for i in range(n)],
        nodes_falsenodeids=[2 * i + 2 if i < 150 else 0 for i in range(n)],
        target_treeids=[0] * 151,
        target_nodeids=list(range(150, n)),
        target_ids=[0] * 151,
        target_weights=[1.0] * 151,
    )
    graph = helper.make_graph(
        [tree, helper.make_node("Tile", ["score", "reps"], ["logits"])],
        "trees",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(np.array([1, 10], np.int64), "reps")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    path, sha = write_model(model)
    info = check_model(path, make_spec(limits={"max_params": 10**6}), sha)
    arrays = 7 * n + 4 * 151  # seven node arrays, four target arrays
    assert info.num_params == arrays + 2  # + the Tile repeats
    assert_fails("too_many_params", path, make_spec(limits={"max_params": arrays}), sha)


def test_ml_opset_that_does_not_exist_is_out_of_range(digits_onnx, write_model, digits_spec):
    from ape_arena.evaluation.checks import max_ml_opset

    model = digits_onnx()
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 99))
    path, sha = write_model(model)
    err = assert_fails("opset_out_of_range", path, digits_spec, sha)
    assert "ai.onnx.ml opset 99" in err.reason
    model.opset_import[-1].version = max_ml_opset()
    path, sha = write_model(model, "ok.onnx")
    assert check_model(path, digits_spec, sha).opset_imports["ai.onnx.ml"] == max_ml_opset()


def test_training_info_graphs_are_checked(digits_onnx, write_model, make_spec, digits_spec):
    """training_info is ignored by onnxruntime but carried by the file: a random op or
    weights hidden there are found."""
    model = digits_onnx()
    info = model.training_info.add()
    info.algorithm.CopyFrom(
        helper.make_graph(
            [helper.make_node("RandomUniform", [], ["r"], shape=[2])],
            "train",
            [],
            [helper.make_tensor_value_info("r", onnx.TensorProto.FLOAT, [2])],
        )
    )
    path, sha = write_model(model)
    assert_fails("banned_op", path, digits_spec, sha)

    model = digits_onnx()
    info = model.training_info.add()
    info.initialization.CopyFrom(
        helper.make_graph(
            [],
            "init",
            [],
            [],
            [numpy_helper.from_array(np.zeros(1_000, np.float32), "stash")],
        )
    )
    path, sha = write_model(model, "stash.onnx")
    assert_fails("too_many_params", path, make_spec(limits={"max_params": 1_000}), sha)


# ---------------------------------------------------------------------------- loop bounds
def _loop_body(inner: onnx.NodeProto | None = None, p: str = "") -> onnx.GraphProto:
    """A Loop body carrying a [10] vector that adds B each step (optionally with ``inner``,
    itself a Loop, before it); ``p`` prefixes its names (SSA across nested bodies)."""
    nodes = [helper.make_node("Identity", [f"{p}cond_in"], [f"{p}cond_out"])]
    if inner is not None:
        nodes.append(inner)
    nodes.append(helper.make_node("Add", [f"{p}acc_in", "B"], [f"{p}acc_out"]))
    return helper.make_graph(
        nodes,
        f"{p}body",
        [
            helper.make_tensor_value_info(f"{p}i", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info(f"{p}cond_in", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{p}acc_in", onnx.TensorProto.FLOAT, [10]),
        ],
        [
            helper.make_tensor_value_info(f"{p}cond_out", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{p}acc_out", onnx.TensorProto.FLOAT, [10]),
        ],
    )


def _with_loop(model: onnx.ModelProto, trips_name: str, body=None, name="loop") -> None:
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), "yes"))
    model.graph.node.append(
        helper.make_node(
            "Loop", [trips_name, "yes", "B"], [f"{name}_out"], body=body or _loop_body(), name=name
        )
    )


def _const(model: onnx.ModelProto, name: str, value: int) -> None:
    model.graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name))


@pytest.mark.parametrize("trips", [0, 1, 65_536])
def test_loop_with_a_constant_trip_count_passes(trips, digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    _const(model, "M", trips)
    _with_loop(model, "M")
    path, sha = write_model(model)
    assert "Loop" in check_model(path, digits_spec, sha).op_types


def test_loop_trip_count_from_a_constant_node_passes(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.node.append(
        helper.make_node(
            "Constant", [], ["M"], value=numpy_helper.from_array(np.array(3, np.int64))
        )
    )
    _with_loop(model, "M")
    path, sha = write_model(model)
    assert check_model(path, digits_spec, sha).num_nodes == 6


def test_loop_over_the_limit_is_unbounded(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    _const(model, "M", 65_537)
    _with_loop(model, "M")
    path, sha = write_model(model)
    err = assert_fails("unbounded_loop", path, digits_spec, sha)
    assert "65537 iterations" in err.reason and "65536" in err.reason


def test_loop_driven_by_the_input_is_unbounded(digits_onnx, write_model, digits_spec):
    """M computed from the data (here the batch size): the data would decide the work."""
    model = digits_onnx()
    model.graph.node.extend(
        [
            helper.make_node("Shape", ["features"], ["shape"]),
            helper.make_node("ReduceMax", ["shape"], ["M"], keepdims=0),
        ]
    )
    _with_loop(model, "M")
    path, sha = write_model(model)
    err = assert_fails("unbounded_loop", path, digits_spec, sha)
    assert "no constant trip count" in err.reason


def test_loop_without_trip_count_is_unbounded(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    _with_loop(model, "")
    path, sha = write_model(model)
    assert_fails("unbounded_loop", path, digits_spec, sha)


@pytest.mark.parametrize(("outer", "inner", "ok"), [(200, 200, True), (300, 300, False)])
def test_nested_loops_multiply(outer, inner, ok, digits_onnx, write_model, digits_spec):
    """A loop inside a loop body runs outer x inner times; the outer scope's constants
    are visible inside."""
    model = digits_onnx()
    _const(model, "M_outer", outer)
    _const(model, "M_inner", inner)
    inner_loop = helper.make_node(
        "Loop", ["M_inner", "cond_in", "acc_in"], ["inner_out"], body=_loop_body(p="in_"), name="in"
    )
    _with_loop(model, "M_outer", body=_loop_body(inner_loop))
    path, sha = write_model(model)
    if ok:
        check_model(path, digits_spec, sha)
    else:
        err = assert_fails("unbounded_loop", path, digits_spec, sha)
        assert "90000 iterations" in err.reason


def _scan_body() -> onnx.GraphProto:
    return helper.make_graph(
        [helper.make_node("Add", ["s_in", "x"], ["s_out"])],
        "scan_body",
        [
            helper.make_tensor_value_info("s_in", onnx.TensorProto.FLOAT, [64]),
            helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [64]),
        ],
        [helper.make_tensor_value_info("s_out", onnx.TensorProto.FLOAT, [64])],
    )


def test_scan_over_the_batch_is_unbounded(digits_onnx, write_model, digits_spec):
    """A Scan over the input's batch axis (a running sum over rows): its length is data."""
    model = digits_onnx()
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(64, np.float32), "s0"))
    model.graph.node.append(
        helper.make_node(
            "Scan", ["s0", "features"], ["s"], body=_scan_body(), num_scan_inputs=1, name="scan"
        )
    )
    path, sha = write_model(model)
    err = assert_fails("unbounded_loop", path, digits_spec, sha)
    assert "no static length" in err.reason


def test_scan_over_a_constant_passes(digits_onnx, write_model, digits_spec):
    model = digits_onnx()
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.zeros(64, np.float32), "s0"),
            numpy_helper.from_array(np.ones((5, 64), np.float32), "rows5"),
        ]
    )
    model.graph.node.append(
        helper.make_node(
            "Scan", ["s0", "rows5"], ["s"], body=_scan_body(), num_scan_inputs=1, name="scan"
        )
    )
    path, sha = write_model(model)
    assert "Scan" in check_model(path, digits_spec, sha).op_types
