"""The cross-entropy metric appended to a model's own graph (CPU path of the engine).

On a CPU validator the softmax over a language model's logits costs a large share of what
the model's inference costs (256 exponentials per byte for a byte LM), and copying the
logits out of onnxruntime into numpy costs more on top. :func:`fuse_nll` appends the metric
to the submitted graph instead, so onnxruntime computes it with its own vectorised
log-softmax (MLAS) right after the logits and hands back one number per row, the
log-probability of its target (the loss is its negation):

    picked = GatherElements(LogSoftmax(logits, axis=-1), target_index, axis=-1)
    check = ReduceSum(logits)          (all elements; NaN or +-inf anywhere make it so)
    shape = Shape(logits)

The graph's own output stays an output (nothing upstream changes). ``target_index`` is a
new int64 input shaped like the logits with a last dimension of 1. The worker uses these
values only when a batch is entirely ordinary: no error, the expected shape, a finite
``check`` and finite ``picked``. Anything else (NaN/inf logits, sums that overflow float32,
wrong shapes, a failing gather) makes it score that model again from the start through the
plain graph, where the exact rules of the unfused path decide: fusing changes speed, never
which model is INVALID or why.

Values are float32 log-probabilities (within about one float32 ulp of each row's loss of
the float64 reference; summed exactly in float64 afterwards), the same for every batching
and thread count: onnxruntime's log-softmax reduces each row on one thread with a fixed
vector order. ``check`` only decides between this path and the plain one; with one
onnxruntime thread (the default worker layout) its summation order is fixed too, so even
a model whose finite logits overflow a float32 sum takes the same path on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default-domain opset from which every appended operator exists with these semantics
#: (GatherElements is opset 11; LogSoftmax on the last axis and a ReduceSum over all axes
#: mean the same in every opset since).
MIN_OPSET = 11


@dataclass(frozen=True)
class FusedNames:
    """Names of the new input and outputs in a fused graph."""

    target: str
    picked: str
    check: str
    shape: str


def fuse_nll(model: bytes, output: str) -> tuple[bytes, FusedNames] | None:
    """The model with the per-row cross entropy of ``output`` appended, or ``None`` when it
    cannot be fused (no such output, or a default-domain opset below ``MIN_OPSET``).

    New names never collide with any name in the graph (inputs, outputs, initialisers,
    node inputs/outputs, node names, value infos).
    """
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load_from_string(model)
    g = m.graph
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    outputs = [o for o in g.output if o.name == output]
    if opset < MIN_OPSET or not outputs:
        return None
    rank = len(outputs[0].type.tensor_type.shape.dim)
    if rank < 1:
        return None

    taken = {v.name for v in (*g.input, *g.output, *g.initializer, *g.value_info)}
    for node in g.node:
        taken.update(node.input)
        taken.update(node.output)
        taken.add(node.name)

    def fresh(base: str) -> str:
        name, i = f"arena_{base}", 0
        while name in taken:
            i += 1
            name = f"arena_{base}_{i}"
        taken.add(name)
        return name

    names = FusedNames(fresh("target_index"), fresh("picked"), fresh("check"), fresh("shape"))
    log_probs = fresh("log_probs")
    g.input.append(helper.make_tensor_value_info(names.target, TensorProto.INT64, [None] * rank))
    g.node.extend(
        [
            helper.make_node(
                "LogSoftmax", [output], [log_probs], axis=-1, name=fresh("log_softmax")
            ),
            helper.make_node(
                "GatherElements",
                [log_probs, names.target],
                [names.picked],
                axis=-1,
                name=fresh("gather"),
            ),
            helper.make_node(
                "ReduceSum", [output], [names.check], keepdims=0, name=fresh("check_sum")
            ),
            helper.make_node("Shape", [output], [names.shape], name=fresh("shape_of")),
        ]
    )
    g.output.extend(
        [
            helper.make_tensor_value_info(names.picked, TensorProto.FLOAT, [None] * rank),
            helper.make_tensor_value_info(names.check, TensorProto.FLOAT, []),
            helper.make_tensor_value_info(names.shape, TensorProto.INT64, [rank]),
        ]
    )
    return m.SerializeToString(), names
