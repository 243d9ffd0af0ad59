"""Static checks on a submitted ONNX model, before any of it runs (DESIGN §4.3).

Each failure is a ``CheckError`` with a short machine-readable ``code`` and a human
``reason``. The rules are deterministic (they read only the file's bytes and the spec), so
honest validators on any hardware reach the same verdict. Order, cheapest first:

============================  =============================================================
code                          rule
============================  =============================================================
``unreadable``                the file cannot be read
``too_large``                 file size > ``limits.max_bytes`` (from ``stat``, before reading)
``sha256_mismatch``           sha256 of the bytes != the expected (on-chain) hash
``corrupt``                   the bytes do not parse as an ONNX ``ModelProto`` with a graph
``external_data``             any tensor (initializer, sparse, ``Constant`` attribute, in any
                              subgraph or local function) stored outside the file, except
                              in a language-model task (spec ``chat``), where the weights
                              may sit in one declared, hash-committed external-data file
                              under the rules of ``external.py`` (bare file name, exact
                              offsets and lengths, sha256 in the model's metadata)
``custom_domain``             an opset import or node domain other than ``""``,
                              ``"ai.onnx"``, ``"ai.onnx.ml"``; model-local functions too
``opset_out_of_range``        default-domain opset outside ``[opset_min, opset_max]``, or an
                              ``ai.onnx.ml`` opset outside ``1..MAX_ML_OPSET`` (the newest
                              onnx knows)
``banned_op``                 random ops (``RandomNormal``, ``Bernoulli``, …), and
                              ``Dropout`` whose ``training_mode`` is not absent or a
                              constant false (it drops at random): scores must be identical
                              across validators
``checker_failed``            ``onnx.checker.check_model`` rejects the model
``too_many_params``           every weight the model carries > ``max_params``: tensor
                              elements (initializers, sparse initializers, tensor
                              attributes) plus the elements of every list attribute
                              (``Constant``'s ``value_ints``/``value_floats``, the arrays of
                              ``ai.onnx.ml`` tree ensembles, …), subgraphs included
``unbounded_loop``            a ``Loop`` whose trip count ``M`` is absent or not a constant
                              (initializer or ``Constant``), a ``Scan`` whose scanned axis
                              has no static length, or nested loops whose trip counts
                              multiply to more than ``MAX_LOOP_TRIPS`` (65,536): a model's
                              work must follow from its graph and the spec
``signature_mismatch``        inputs/outputs differ from the spec (names, dtypes, ranks,
                              fixed dims, dynamic batch dim)
``tokenizer_mismatch``        language-model tasks: the model declares (metadata
                              ``arena.tokenizer_sha256``, which the export helper writes) a
                              tokenizer other than the spec's; the shards' token ids would
                              mean other text to it
============================  =============================================================

Every rule walks the main graph, every subgraph (``If``/``Loop``/``Scan`` bodies) and the
graphs of ``training_info`` (which onnxruntime ignores, but which the file still carries).

Signature rule: the graph's real inputs (``graph.input`` minus names that are initializers)
must be exactly the spec's input names and the graph must have exactly one output, the
spec's. Element types must match. Where the model declares a shape, its rank must match, a
dim the spec fixes must be that size or symbolic/unknown in the model, and the batch dim (the
spec's first, symbolic dim) must not be fixed in the model. A tensor with no declared shape is
accepted here; the engine checks the actual output shape at run time.

Example::

    info = check_model("model.onnx", spec, expected_sha256=onchain_hash)
    print(info.num_params, info.opset)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING

from .external import External, ExternalDataError, describe, is_external
from .spec import TaskSpec, TensorSpec

if TYPE_CHECKING:  # onnx is imported lazily inside the functions
    import onnx

ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
BANNED_OPS = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)
"""Ops whose output is random: they would make validators disagree on a model's score."""

CODES = (
    "unreadable",
    "too_large",
    "sha256_mismatch",
    "corrupt",
    "external_data",
    "custom_domain",
    "opset_out_of_range",
    "banned_op",
    "checker_failed",
    "too_many_params",
    "unbounded_loop",
    "signature_mismatch",
    "tokenizer_mismatch",
    # LoRA adapters on a task's base model (adapter.py)
    "adapter_base",
    "adapter_format",
    "adapter_name",
    "adapter_rank",
    "adapter_shape",
    # a node checking an adapter locally without (the right) base model
    "no_base",
    "base_mismatch",
)

MAX_LOOP_TRIPS = 1 << 16
"""Most iterations a loop body may run per inference call, nested loops multiplied: with
this, a model's work follows from its graph and the spec (no input-driven loop can hold a
validator), so running out of time is a fault of the validator's machine, never INVALID."""

# ONNX TensorProto element types of the spec's dtypes.
_ONNX_ELEM = {"float32": 1, "uint8": 2, "int32": 6, "int64": 7, "float16": 10}


class CheckError(ValueError):
    """A model failed a static check. ``code`` is machine-readable, ``reason`` is for people."""

    def __init__(self, code: str, reason: str):
        if code not in CODES:
            raise ValueError(f"unknown check code {code!r}")
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as the model declares it (``shape`` None: not declared)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True)
class ModelInfo:
    """Facts about a model that passed every check."""

    sha256: str
    size_bytes: int
    ir_version: int
    opset: int
    opset_imports: dict[str, int]
    producer: str
    num_params: int
    num_nodes: int
    op_types: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    external: External | None = None
    """The model's declared external-data file (``external.py``), checked by the engine."""


def _normalise_hash(expected: bytes | str | None) -> str | None:
    if expected is None:
        return None
    if isinstance(expected, bytes | bytearray):
        if len(expected) != 32:
            raise ValueError(f"expected_sha256 must be 32 bytes, got {len(expected)}")
        return bytes(expected).hex()
    text = expected.lower().removeprefix("0x")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"expected_sha256 must be 64 hex digits, got {expected!r}")
    return text


def check_model(
    path: str | os.PathLike[str], spec: TaskSpec, expected_sha256: bytes | str | None
) -> ModelInfo:
    """Run every static check on the ONNX file at ``path``; return its facts.

    ``expected_sha256`` is the on-chain model hash (32 bytes or hex, ``0x`` optional);
    ``None`` skips the hash check (a node checking its own model before committing).

    Raises:
        CheckError: the first failed rule, with ``code`` and ``reason``.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise CheckError("unreadable", f"cannot read {p}: {exc.strerror or exc}") from None
    _check_size(size, spec)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CheckError("unreadable", f"cannot read {p}: {exc.strerror or exc}") from None
    return check_model_bytes(data, spec, expected_sha256)


def check_model_bytes(
    data: bytes, spec: TaskSpec, expected_sha256: bytes | str | None
) -> ModelInfo:
    """``check_model`` on bytes already in memory."""
    expected = _normalise_hash(expected_sha256)
    _check_size(len(data), spec)
    digest = hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected:
        raise CheckError(
            "sha256_mismatch",
            f"file sha256 is {digest} but the expected (on-chain) hash is {expected}; "
            "the file is not the submitted model",
        )
    model = _parse(data)
    try:
        external = describe(model, _all_tensors(model), allowed=spec.chat is not None)
    except ExternalDataError as exc:
        raise CheckError(exc.code, exc.reason) from None
    _check_domains(model)
    opset = _check_opset(model, spec)
    op_types = _check_ops(model)
    _check_checker(_without_external(model) if external is not None else model)
    num_params = _check_params(model, spec)
    _check_loops(model)
    inputs, outputs = _check_signature(model, spec)
    _check_tokenizer(model, spec)
    return ModelInfo(
        sha256=digest,
        size_bytes=len(data),
        ir_version=int(model.ir_version),
        opset=opset,
        opset_imports={o.domain: int(o.version) for o in model.opset_import},
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        num_params=num_params,
        num_nodes=sum(1 for _ in _all_nodes(model)),
        op_types=tuple(sorted(op_types)),
        inputs=inputs,
        outputs=outputs,
        external=external,
    )


# ---------------------------------------------------------------------------- rules
def _check_size(size: int, spec: TaskSpec) -> None:
    if size > spec.limits.max_bytes:
        raise CheckError(
            "too_large",
            f"model file is {size} bytes; the task allows at most {spec.limits.max_bytes}",
        )


def _parse(data: bytes) -> onnx.ModelProto:
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise CheckError("corrupt", f"bytes are not an ONNX model: {exc}") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise CheckError("corrupt", "bytes parse but hold no ONNX graph / ir_version")
    return model


TOKENIZER_KEY = "arena.tokenizer_sha256"
"""Model metadata naming the tokenizer a language model was trained with."""


def _check_tokenizer(model: onnx.ModelProto, spec: TaskSpec) -> None:
    if spec.chat is None:
        return
    declared = next((p.value for p in model.metadata_props if p.key == TOKENIZER_KEY), None)
    if declared is not None and declared.lower() != spec.chat.tokenizer_sha256:
        raise CheckError(
            "tokenizer_mismatch",
            f"the model declares tokenizer {declared[:80]!r} ({TOKENIZER_KEY}); the task's "
            f"shards are cut with tokenizer {spec.chat.tokenizer_sha256}",
        )


def _without_external(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy for ``onnx.checker`` (which would open the location as a file): each external
    tensor becomes an empty in-file tensor of the same name and type. Its layout rules
    are ``external.describe``'s; the shapes stay the graph's concern at load time."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for _, t in _all_tensors(copy):
        if is_external(t):
            del t.external_data[:]
            t.data_location = onnx.TensorProto.DEFAULT
            del t.dims[:]
            t.dims.append(0)
    return copy


def _check_domains(model: onnx.ModelProto) -> None:
    for imp in model.opset_import:
        if imp.domain not in ALLOWED_DOMAINS:
            raise CheckError(
                "custom_domain",
                f"opset import of domain {imp.domain!r}; only standard ONNX domains "
                f"{sorted(ALLOWED_DOMAINS)} are allowed",
            )
    for fn in model.functions:
        raise CheckError(
            "custom_domain",
            f"model-local function {fn.domain}:{fn.name}; inline functions before submitting",
        )
    for node in _all_nodes(model):
        if node.domain not in ALLOWED_DOMAINS:
            raise CheckError(
                "custom_domain",
                f"node {node.name or node.op_type!r} uses op {node.domain}:{node.op_type}; "
                "custom op domains are not allowed",
            )


def max_ml_opset() -> int:
    """The newest ``ai.onnx.ml`` opset of the installed onnx release."""
    from onnx.helper import VERSION_TABLE

    return max(int(row[3]) for row in VERSION_TABLE if row[3] is not None)


def _check_opset(model: onnx.ModelProto, spec: TaskSpec) -> int:
    for o in model.opset_import:
        if o.domain == "ai.onnx.ml" and not 1 <= int(o.version) <= max_ml_opset():
            raise CheckError(
                "opset_out_of_range",
                f"model imports ai.onnx.ml opset {o.version}; versions 1..{max_ml_opset()} exist",
            )
    versions = [int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise CheckError("opset_out_of_range", "model imports no default-domain ONNX opset")
    opset = max(versions)
    lo, hi = spec.limits.opset_min, spec.limits.opset_max
    if not lo <= opset <= hi:
        raise CheckError(
            "opset_out_of_range", f"model uses opset {opset}; the task allows {lo}..{hi}"
        )
    return opset


def _check_ops(model: onnx.ModelProto) -> set[str]:
    op_types = set()
    false_constants = _false_constants(model)
    for node in _all_nodes(model):
        if node.op_type in BANNED_OPS:
            raise CheckError(
                "banned_op",
                f"op {node.op_type} is random; scores must be reproducible across validators",
            )
        if node.op_type == "Dropout" and node.domain in ("", "ai.onnx"):
            mode = node.input[2] if len(node.input) > 2 else ""
            if mode and mode not in false_constants:
                raise CheckError(
                    "banned_op",
                    f"Dropout {node.name or '<unnamed>'!r} has training_mode {mode!r}, which is "
                    "not a constant false: it would drop at random (export in eval mode)",
                )
        op_types.add(node.op_type)
    return op_types


def _false_constants(model: onnx.ModelProto) -> set[str]:
    """Names of the tensors that are constant and all false/zero: initializers and
    ``Constant`` node outputs, in any graph."""
    from onnx import numpy_helper

    def all_false(t: onnx.TensorProto) -> bool:
        try:
            return not numpy_helper.to_array(t).any()
        except Exception:  # noqa: BLE001 - an unreadable constant is not a known false
            return False

    out = set()
    for _, graph in _graphs(model):
        for t in graph.initializer:
            if all_false(t):
                out.add(t.name)
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        if all_false(attr.t):
                            out.add(node.output[0])
                    elif attr.name in ("value_int", "value_ints", "value_float", "value_floats"):
                        values = list(attr.ints) or list(attr.floats) or [attr.i or attr.f]
                        if not any(values):
                            out.add(node.output[0])
    return out


def _check_checker(model: onnx.ModelProto) -> None:
    import onnx

    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckError("checker_failed", f"onnx.checker rejects the model: {first}") from None


def _check_params(model: onnx.ModelProto, spec: TaskSpec) -> int:
    total = sum(prod(t.dims) for _, t in _all_tensors(model)) + _list_attribute_elements(model)
    if total > spec.limits.max_params:
        raise CheckError(
            "too_many_params",
            f"model holds {total} parameters (tensor elements and list-attribute values); the "
            f"task allows at most {spec.limits.max_params}",
        )
    return total


def _list_attribute_elements(model: onnx.ModelProto) -> int:
    """Values stored in list attributes of every node: ``Constant``'s ``value_ints`` /
    ``value_floats`` / ``value_strings``, the node and leaf arrays of ``ai.onnx.ml`` trees,
    and the (few) shape lists of ordinary ops."""
    return sum(
        len(attr.ints) + len(attr.floats) + len(attr.strings)
        for node in _all_nodes(model)
        for attr in node.attribute
    )


def _check_signature(
    model: onnx.ModelProto, spec: TaskSpec
) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    graph = model.graph
    init_names = {t.name for t in graph.initializer} | {
        s.values.name for s in graph.sparse_initializer
    }
    real_inputs = [vi for vi in graph.input if vi.name not in init_names]
    got = [vi.name for vi in real_inputs]
    want = [t.name for t in spec.inputs]
    if sorted(got) != sorted(want) or len(set(got)) != len(got):
        raise CheckError(
            "signature_mismatch", f"model inputs are {got}; the task spec requires {want}"
        )
    outs = [vi.name for vi in graph.output]
    if outs != [spec.output.name]:
        raise CheckError(
            "signature_mismatch",
            f"model outputs are {outs}; the task spec requires exactly [{spec.output.name!r}]",
        )
    by_name = {vi.name: vi for vi in real_inputs}
    inputs = tuple(_match(by_name[t.name], t, spec, "input") for t in spec.inputs)
    output = _match(graph.output[0], spec.output, spec, "output")
    return inputs, (output,)


def _match(vi: onnx.ValueInfoProto, want: TensorSpec, spec: TaskSpec, role: str) -> TensorInfo:
    import onnx

    label = f"{role} {want.name!r}"
    if vi.type.WhichOneof("value") != "tensor_type":
        raise CheckError("signature_mismatch", f"{label} is not a tensor")
    tt = vi.type.tensor_type
    elem = int(tt.elem_type)
    if elem != _ONNX_ELEM[want.dtype]:
        name = onnx.TensorProto.DataType.Name(elem) if elem else "undefined"
        raise CheckError(
            "signature_mismatch", f"{label} has element type {name}; the spec requires {want.dtype}"
        )
    shape: tuple[int | str | None, ...] | None = None
    if tt.HasField("shape"):
        dims: list[int | str | None] = []
        for d in tt.shape.dim:
            kind = d.WhichOneof("value")
            dims.append(int(d.dim_value) if kind == "dim_value" else d.dim_param if kind else None)
        shape = tuple(dims)
        if len(shape) != want.rank:
            raise CheckError(
                "signature_mismatch",
                f"{label} has rank {len(shape)} {list(shape)}; the spec requires rank "
                f"{want.rank} {want.shape}",
            )
        for i, (have, need) in enumerate(zip(shape, want.shape, strict=True)):
            if isinstance(need, int):
                if isinstance(have, int) and have != need:
                    raise CheckError(
                        "signature_mismatch",
                        f"{label} dim {i} is {have}; the spec fixes it to {need}",
                    )
            elif need == spec.batch_symbol and isinstance(have, int):
                raise CheckError(
                    "signature_mismatch",
                    f"{label} dim {i} is fixed to {have}; the batch dim must be dynamic "
                    "(export with a dynamic batch axis)",
                )
    return TensorInfo(name=vi.name, dtype=want.dtype, shape=shape)


def _check_loops(model: onnx.ModelProto) -> None:
    """Every ``Loop``/``Scan`` runs a number of iterations the graph fixes (see CODES)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    shapes: dict[str, list[int | None]] | None = None

    def static_shape(name: str) -> list[int | None] | None:
        nonlocal shapes
        if shapes is None:  # shape inference only for models that have a Scan
            shapes = {}
            try:
                inferred = onnx.shape_inference.infer_shapes(model)
            except Exception:  # noqa: BLE001 - no inference: nothing is static
                inferred = model
            for vi in [*inferred.graph.value_info, *inferred.graph.input]:
                dims = vi.type.tensor_type.shape.dim
                shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        return shapes.get(name)

    def constants(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
        out = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        out[node.output[0]] = attr.t
                    elif attr.name == "value_int":
                        out[node.output[0]] = numpy_helper.from_array(
                            np.array(attr.i, dtype=np.int64)
                        )
        return out

    def trips(node: onnx.NodeProto, known: dict[str, onnx.TensorProto], where: str) -> int:
        label = f"{node.op_type} {node.name or '<unnamed>'!r} in {where}"
        if node.op_type == "Loop":
            m = node.input[0] if node.input else ""
            if not m or m not in known:
                raise CheckError(
                    "unbounded_loop",
                    f"{label} has no constant trip count M: its iterations would depend on "
                    "the data (give M as an initializer or Constant)",
                )
            try:
                values = numpy_helper.to_array(known[m]).reshape(-1)
                return max(0, int(values[0])) if values.size == 1 else -1
            except Exception:  # noqa: BLE001 - unreadable: not a constant we can bound
                return -1
        # Scan: the length of its first scanned input along its scan axis
        n_scan = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
        axes = next((list(a.ints) for a in node.attribute if a.name == "scan_input_axes"), [])
        first = node.input[len(node.input) - n_scan] if 0 < n_scan <= len(node.input) else ""
        if first in known:
            dims: list[int | None] | None = [int(d) for d in known[first].dims]
        else:
            dims = static_shape(first) if where == "graph" else None
        axis = axes[0] if axes else 0
        if dims is None or not -len(dims) <= axis < len(dims) or dims[axis] is None:
            raise CheckError(
                "unbounded_loop",
                f"{label} scans an axis with no static length: its iterations would depend "
                "on the data",
            )
        return int(dims[axis])

    def walk(graph: onnx.GraphProto, outer: dict, factor: int, where: str) -> None:
        known = {**outer, **constants(graph)}
        for node in graph.node:
            inner = factor
            if node.op_type in ("Loop", "Scan") and node.domain in ("", "ai.onnx"):
                n = trips(node, known, where)
                inner = factor * n if n >= 0 else -1
                if n < 0 or inner > MAX_LOOP_TRIPS:
                    raise CheckError(
                        "unbounded_loop",
                        f"{node.op_type} {node.name or '<unnamed>'!r} in {where} runs "
                        f"{'an unreadable number of' if n < 0 else inner} iterations (nested "
                        f"loops multiplied); the limit is {MAX_LOOP_TRIPS}",
                    )
            for attr in node.attribute:
                subs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
                for sub in subs:
                    walk(sub, known, inner, f"{where}/{node.op_type}.{attr.name}")

    walk(model.graph, {}, 1, "graph")
    for fn in model.functions:
        walk(onnx.GraphProto(node=fn.node), {}, 1, f"function {fn.name}")
    for i, info in enumerate(model.training_info):
        for name in ("initialization", "algorithm"):
            if info.HasField(name):
                walk(getattr(info, name), {}, 1, f"training_info[{i}].{name}")


# ---------------------------------------------------------------------------- walkers
def _graphs(model: onnx.ModelProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """The main graph and every subgraph (If/Loop/Scan bodies), depth first; local
    functions; the graphs of ``training_info``."""
    import onnx

    yield from _graphs_of("graph", model.graph)
    for fn in model.functions:
        fake = onnx.GraphProto(node=fn.node)
        yield f"function {fn.name}", fake
    for i, info in enumerate(model.training_info):
        for name in ("initialization", "algorithm"):
            if info.HasField(name):
                yield from _graphs_of(f"training_info[{i}].{name}", getattr(info, name))


def _graphs_of(where: str, graph: onnx.GraphProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """``graph`` and its subgraphs (a training_info graph seen like the main one)."""
    import onnx

    stack: list[tuple[str, onnx.GraphProto]] = [(where, graph)]
    while stack:
        where, g = stack.pop()
        yield where, g
        for node in g.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    stack.append((f"{where}/{node.op_type}.{attr.name}", attr.g))
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(
                        (f"{where}/{node.op_type}.{attr.name}[{i}]", sub)
                        for i, sub in enumerate(attr.graphs)
                    )


def _all_nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    for _, graph in _graphs(model):
        yield from graph.node


def _all_tensors(model: onnx.ModelProto) -> Iterator[tuple[str, onnx.TensorProto]]:
    """Every stored tensor: initializers, sparse initializers, constant attributes."""
    import onnx

    for where, graph in _graphs(model):
        for t in graph.initializer:
            yield f"{where} initializer", t
        for s in graph.sparse_initializer:
            # dense element count for params: report the dense shape through a stand-in
            yield f"{where} sparse initializer", _sparse_as_dense_dims(s)
            yield f"{where} sparse indices", _no_params(s.indices)
        for node in graph.node:
            for attr in node.attribute:
                label = f"{where} {node.op_type}.{attr.name}"
                if attr.type == onnx.AttributeProto.TENSOR:
                    yield label, attr.t
                elif attr.type == onnx.AttributeProto.TENSORS:
                    for t in attr.tensors:
                        yield label, t
                elif attr.type == onnx.AttributeProto.SPARSE_TENSOR:
                    yield label, _sparse_as_dense_dims(attr.sparse_tensor)
                    yield label, _no_params(attr.sparse_tensor.indices)
                elif attr.type == onnx.AttributeProto.SPARSE_TENSORS:
                    for s in attr.sparse_tensors:
                        yield label, _sparse_as_dense_dims(s)
                        yield label, _no_params(s.indices)


def _sparse_as_dense_dims(s: onnx.SparseTensorProto) -> onnx.TensorProto:
    """A copy of the sparse tensor's values carrying the dense dims (for counting)."""
    import onnx

    t = onnx.TensorProto()
    t.CopyFrom(s.values)
    del t.dims[:]
    t.dims.extend(s.dims)
    return t


def _no_params(t: onnx.TensorProto) -> onnx.TensorProto:
    """A copy of ``t`` that counts zero elements but keeps its external-data fields."""
    import onnx

    c = onnx.TensorProto()
    c.CopyFrom(t)
    del c.dims[:]
    c.dims.append(0)
    return c
