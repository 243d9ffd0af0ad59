"""LoRA adapters on a committed base model (DESIGN §4.1): a submission that is not a whole
ONNX model but low-rank updates of named weights of the task's base model.

An adapter is a safetensors file holding, for each adapted base initializer ``W`` (an ONNX
initializer name the spec allows), ``<W>.lora_A`` [r, cols] and ``<W>.lora_B`` [rows, r]
(float32 or float16) with ``W`` of shape [rows, cols], and optionally ``{"alpha": "<float>"}``
in the safetensors metadata (default: alpha = r). The validator merges it into the
hash-verified base in memory::

    W' = W + (alpha / r) * (B @ A)

computed in float64 as a fixed-order sum of r outer products (no BLAS, so the merged bytes
are the same on every machine), cast to W's dtype. The merged model then goes through every
static check and is scored like a whole submission.

Rules (each a deterministic ``AdapterError`` code, so every validator marks the same adapter
INVALID for the same reason): ``adapter_base`` (its metadata ``base_sha256`` names another
base than the task's), ``adapter_format`` (not safetensors, a tensor without its
pair, a name not ending in ``.lora_A``/``.lora_B``, a dtype or rank other than 2-D float,
non-finite values, a bad alpha), ``adapter_name`` (a weight the spec does not let adapters
change, or one the base does not have), ``adapter_rank`` (r over the spec's ``max_rank``, or
A and B disagreeing on r), ``adapter_shape`` (A or B not matching W's shape),
``tokenizer_mismatch`` (its metadata ``tokenizer_sha256`` names another tokenizer than the
task's).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

SUFFIXES = (".lora_A", ".lora_B")
MAX_HEADER = 1 << 24


class AdapterError(ValueError):
    """An adapter that breaks a rule: ``code`` and a reason naming the tensor."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Adapter:
    """Parsed LoRA pairs: ``pairs[name] = (A [r, cols], B [rows, r])``, alpha, and the
    sha256 of the base it was trained for (metadata ``base_sha256``, when given)."""

    pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    alpha: float | None
    base_sha256: str | None = None
    tokenizer_sha256: str | None = None
    """The tokenizer it was trained with (metadata ``tokenizer_sha256``), when given."""

    def rank(self, name: str) -> int:
        return int(self.pairs[name][0].shape[0])


def _metadata(data: bytes) -> dict[str, str]:
    """The safetensors header's ``__metadata__`` (8-byte little-endian length, JSON)."""
    if len(data) < 8:
        raise AdapterError("adapter_format", "not a safetensors file (too short)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(MAX_HEADER, len(data) - 8):
        raise AdapterError("adapter_format", "not a safetensors file (bad header length)")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AdapterError(
            "adapter_format", "not a safetensors file (header is not JSON)"
        ) from None
    meta = (header.get("__metadata__") or {}) if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        raise AdapterError("adapter_format", "safetensors metadata must be an object")
    return meta


def is_adapter(data: bytes) -> bool:
    """Whether a submission's bytes are a safetensors adapter rather than an ONNX model: a
    safetensors file opens with its header length and a JSON object; an ONNX protobuf never
    has ``{`` at byte 8 after a length that fits the file."""
    if len(data) < 10 or data[8:9] != b"{":
        return False
    (size,) = struct.unpack("<Q", data[:8])
    return size <= len(data) - 8


def read_adapter(data: bytes) -> Adapter:
    """Parse an adapter's bytes (rules ``adapter_format``; see the module docstring)."""
    from safetensors.numpy import load

    meta = _metadata(data)
    try:
        tensors = load(data)
    except Exception as exc:  # noqa: BLE001 - whatever safetensors refuses
        raise AdapterError("adapter_format", f"not a safetensors file ({exc})") from None
    if not tensors:
        raise AdapterError("adapter_format", "the adapter holds no tensors")
    halves: dict[str, dict[str, np.ndarray]] = {}
    for key in sorted(tensors):
        suffix = next((s for s in SUFFIXES if key.endswith(s)), None)
        if suffix is None:
            raise AdapterError("adapter_format", f"tensor {key!r} must end in .lora_A or .lora_B")
        arr = tensors[key]
        if arr.ndim != 2 or arr.dtype not in (np.float32, np.float16):
            raise AdapterError(
                "adapter_format",
                f"tensor {key!r} must be 2-D float32/float16, got {arr.dtype} {arr.shape}",
            )
        if not np.isfinite(arr).all():
            raise AdapterError("adapter_format", f"tensor {key!r} holds NaN or infinite values")
        halves.setdefault(key[: -len(suffix)], {})[suffix] = arr
    pairs = {}
    for name, half in halves.items():
        if set(half) != set(SUFFIXES):
            missing = sorted(set(SUFFIXES) - set(half))[0]
            raise AdapterError("adapter_format", f"weight {name!r} has no {missing} tensor")
        pairs[name] = (half[".lora_A"], half[".lora_B"])
    alpha = None
    if "alpha" in meta:
        try:
            alpha = float(meta["alpha"])
        except (TypeError, ValueError):
            alpha = math.nan
        if not math.isfinite(alpha) or alpha <= 0:
            raise AdapterError("adapter_format", f"metadata alpha {meta['alpha']!r} must be > 0")
    base = meta.get("base_sha256")
    if base is not None and (not isinstance(base, str) or len(base) != 64):
        raise AdapterError("adapter_format", f"metadata base_sha256 {base!r} is not a sha256")
    tok = meta.get("tokenizer_sha256")
    if tok is not None and (not isinstance(tok, str) or len(tok) != 64):
        raise AdapterError("adapter_format", f"metadata tokenizer_sha256 {tok!r} is not a sha256")
    return Adapter(pairs, alpha, base.lower() if base else None, tok.lower() if tok else None)


def check_adapter(
    adapter: Adapter,
    base_shapes: dict[str, tuple[int, ...]],
    adaptable: Iterable[str],
    max_rank: int,
    base_sha256: str | None = None,
    tokenizer_sha256: str | None = None,
) -> None:
    """Rules ``adapter_base`` (metadata naming another base than ``base_sha256``),
    ``tokenizer_mismatch`` (metadata naming another tokenizer than ``tokenizer_sha256``),
    ``adapter_name``, ``adapter_rank``, ``adapter_shape`` against the base's initializer
    shapes and the spec's allowed names and maximum rank."""
    if tokenizer_sha256 is not None and adapter.tokenizer_sha256 not in (None, tokenizer_sha256):
        raise AdapterError(
            "tokenizer_mismatch",
            f"the adapter was trained with tokenizer {adapter.tokenizer_sha256}; the task's "
            f"shards are cut with {tokenizer_sha256}",
        )
    if base_sha256 is not None and adapter.base_sha256 not in (None, base_sha256):
        raise AdapterError(
            "adapter_base",
            f"the adapter was made for base {adapter.base_sha256}, the task's is {base_sha256}",
        )
    allowed = set(adaptable)
    for name in sorted(adapter.pairs):
        a, b = adapter.pairs[name]
        if name not in allowed:
            raise AdapterError(
                "adapter_name", f"weight {name!r} is not one the task lets adapters change"
            )
        if name not in base_shapes:
            raise AdapterError("adapter_name", f"the base model has no weight {name!r}")
        r = a.shape[0]
        if b.shape[1] != r:
            raise AdapterError("adapter_rank", f"{name}: lora_A has rank {r}, lora_B {b.shape[1]}")
        if not 1 <= r <= max_rank:
            raise AdapterError("adapter_rank", f"{name}: rank {r}; the task allows 1..{max_rank}")
        shape = tuple(base_shapes[name])
        if len(shape) != 2 or (b.shape[0], a.shape[1]) != shape:
            raise AdapterError(
                "adapter_shape",
                f"{name}: lora_B {b.shape} @ lora_A {a.shape} gives {(b.shape[0], a.shape[1])}, "
                f"the base weight is {shape}",
            )


def base_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Initializer name -> shape of an ``onnx.ModelProto``."""
    return {init.name: tuple(int(d) for d in init.dims) for init in model.graph.initializer}


def lora_delta(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """``scale * (B @ A)`` in float64 as a fixed-order sum of rank-1 outer products."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    delta = np.zeros((b.shape[0], a.shape[1]), dtype=np.float64)
    for k in range(a.shape[0]):
        delta += np.multiply.outer(b64[:, k], a64[k, :])
    return delta * scale


def merge_adapter(base: Any, adapter: Adapter) -> bytes:
    """The base model (``onnx.ModelProto``, not modified) with ``W' = W + (alpha/r) B A`` for
    every adapted weight, serialised."""
    import onnx
    from onnx import numpy_helper

    merged = onnx.ModelProto()
    merged.CopyFrom(base)
    by_name = {init.name: init for init in merged.graph.initializer}
    for name in sorted(adapter.pairs):
        a, b = adapter.pairs[name]
        r = a.shape[0]
        scale = (adapter.alpha if adapter.alpha is not None else r) / r
        w = numpy_helper.to_array(by_name[name])
        new = (w.astype(np.float64) + lora_delta(a, b, scale)).astype(w.dtype)
        by_name[name].CopyFrom(numpy_helper.from_array(new, name))
    return merged.SerializeToString()


def apply_adapter(data: bytes, base: Any, shapes: dict[str, tuple[int, ...]], chat: Any) -> bytes:
    """An adapter's bytes read, checked against the spec's ``chat`` section (its ``base``
    and tokenizer) and the base's initializer ``shapes``, and merged into ``base``: the
    merged model's bytes. Raises ``AdapterError``; the caller checks the merged model."""
    adapter = read_adapter(data)
    b = chat.base
    check_adapter(adapter, shapes, b.adaptable, b.max_rank, b.model_sha256, chat.tokenizer_sha256)
    return merge_adapter(base, adapter)


def write_adapter(
    path: Any,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    alpha: float | None = None,
    base_sha256: str | None = None,
    tokenizer_sha256: str | None = None,
) -> str:
    """Write ``pairs`` as an adapter file (what a node submits), naming the base and the
    tokenizer it was trained with when given; return its sha256 (hex)."""
    import hashlib

    from safetensors.numpy import save

    tensors = {}
    for name, (a, b) in pairs.items():
        tensors[f"{name}.lora_A"] = np.ascontiguousarray(a)
        tensors[f"{name}.lora_B"] = np.ascontiguousarray(b)
    meta = {}
    if alpha is not None:
        meta["alpha"] = repr(float(alpha))
    if base_sha256 is not None:
        meta["base_sha256"] = base_sha256.lower().removeprefix("0x")
    if tokenizer_sha256 is not None:
        meta["tokenizer_sha256"] = tokenizer_sha256.lower().removeprefix("0x")
    data = save(tensors, metadata=meta or None)
    with open(path, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def check_submission(
    path: Any, spec: Any, base_path: Any = None, expected_sha256: str | None = None
) -> Any:
    """The static checks a validator runs on a submission file, for nodes before they
    submit: an ONNX model is checked as it is; an adapter (the task has a ``chat.base``) is
    checked against the base file at ``base_path`` (its sha256 verified), merged, and the
    merged model checked. Returns ``checks.ModelInfo`` with the submitted file's sha256;
    raises ``checks.CheckError`` (an ``AdapterError`` becomes one with its code)."""
    import hashlib
    import os

    import onnx

    from .checks import CheckError, check_model, check_model_bytes

    base = spec.chat.base if getattr(spec, "chat", None) is not None else None
    if base is None:
        return _with_data(check_model(path, spec, expected_sha256), path, spec)
    if os.path.getsize(path) > spec.limits.max_bytes:
        raise CheckError("too_large", f"the file is over {spec.limits.max_bytes} bytes")
    with open(path, "rb") as fh:
        data = fh.read()
    if not is_adapter(data):
        return _with_data(check_model_bytes(data, spec, expected_sha256), path, spec)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower().removeprefix("0x"):
        raise CheckError("sha256_mismatch", f"file sha256 is {digest}, expected {expected_sha256}")
    if base_path is None:
        raise CheckError(
            "no_base", "this is a LoRA adapter: checking it needs the task's base model (--base)"
        )
    with open(base_path, "rb") as fh:
        base_bytes = fh.read()
    if hashlib.sha256(base_bytes).hexdigest() != base.model_sha256:
        raise CheckError(
            "base_mismatch",
            f"{base_path} is not the task's base model (sha256 {base.model_sha256})",
        )
    proto = onnx.load_model_from_string(base_bytes)
    try:
        merged = apply_adapter(data, proto, base_shapes(proto), spec.chat)
    except AdapterError as exc:
        raise CheckError(exc.code, exc.reason) from None
    info = check_model_bytes(merged, spec, None)
    from dataclasses import replace

    return replace(info, sha256=digest, size_bytes=len(data))


def _with_data(info: Any, path: Any, spec: Any) -> Any:
    """``info`` once the model's external-data file (if it declares one) is found in the
    model's folder and verified (``external.py``); raises ``checks.CheckError``."""
    if info.external is None:
        return info
    from .checks import CheckError
    from .external import ExternalDataError, read_local

    try:
        read_local(path, info.external, spec.limits.max_bytes - info.size_bytes)
    except ExternalDataError as exc:
        raise CheckError(exc.code, exc.reason) from None
    return info
