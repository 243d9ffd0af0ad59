"""Task specs (DESIGN §4.1): the JSON file whose sha256 a task records on-chain.

A spec declares the model's ONNX signature (input names, dtypes, shapes with a symbolic batch
dim; one output), the limits a submission must respect, where the eval shard keeps the target
(and optional mask), and the metric. Every metric is a loss: lower is better.

Canonical bytes and the on-chain hash
-------------------------------------
``TaskSpec.to_json()`` gives the canonical bytes: every field (defaults included), keys
sorted, two-space indent, ASCII only (non-ASCII escaped), one trailing newline.
``TaskSpec.write(path)`` writes exactly those bytes, so ``sha256(file) == spec.sha256()``.

The on-chain ``spec_hash`` is the sha256 of the **file as published** (the bytes a validator
downloads and verifies through the artifact store before parsing them). Publish specs with
``write``/``to_json`` so the file hash and ``spec.sha256()`` agree; a hand-formatted file parses
fine but hashes differently (``is_canonical`` tells you which one you have).

Example::

    spec = TaskSpec.load("digits.json")
    spec.write("out/digits.json")       # canonical; file sha256 == spec.sha256()
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..fsutil import atomic_write_bytes

DType = Literal["float32", "float16", "int64", "int32", "uint8"]
Metric = Literal["cross_entropy", "error_rate", "mse", "token_cross_entropy", "bits_per_byte"]

DTYPES: tuple[str, ...] = ("float32", "float16", "int64", "int32", "uint8")
METRICS: tuple[str, ...] = (
    "cross_entropy",
    "error_rate",
    "mse",
    "token_cross_entropy",
    "bits_per_byte",
)
CLASSIFICATION_METRICS = frozenset({"cross_entropy", "error_rate"})
TOKEN_METRICS = frozenset({"token_cross_entropy", "bits_per_byte"})
IGNORE_INDEX = -100
"""Target value that token metrics skip (PyTorch's ``ignore_index`` convention)."""

OPSET_FLOOR = 7
OPSET_CEILING = 30
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class SpecError(ValueError):
    """A task spec is malformed; the message names the field and what is allowed."""


def _check_dim(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and _SYMBOL.match(value):
        return value
    raise ValueError(
        f"dim {value!r} is not allowed; a dim is a positive int (fixed size) or a name "
        "like 'batch' (symbolic)"
    )


Dim = Annotated[int | str, BeforeValidator(_check_dim)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class TensorSpec(_Frozen):
    """One ONNX tensor: name, element type and shape (ints fixed, strings symbolic)."""

    name: str = Field(min_length=1, max_length=128)
    dtype: DType
    shape: list[Dim] = Field(min_length=1, max_length=8)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def batch_dim(self) -> str | int:
        return self.shape[0]


class InputSpec(TensorSpec):
    """A model input, fed from the eval shard's npz array ``data_key``."""

    data_key: str = Field(pattern=_KEY.pattern, max_length=128)


class Limits(_Frozen):
    """What a submitted model may be: file size, parameter count, opset range, batch size."""

    max_bytes: int = Field(gt=0)
    """Largest accepted ONNX file in bytes (checked before parsing)."""
    max_params: int = Field(gt=0)
    """Largest total element count over all initializers."""
    opset_min: int = Field(ge=OPSET_FLOOR, le=OPSET_CEILING)
    opset_max: int = Field(ge=OPSET_FLOOR, le=OPSET_CEILING)
    max_batch_rows: int = Field(default=4096, gt=0)
    """Rows per inference batch the validator feeds the model."""

    @model_validator(mode="after")
    def _opset_order(self) -> Limits:
        if self.opset_min > self.opset_max:
            raise ValueError(
                f"opset_min ({self.opset_min}) must be <= opset_max ({self.opset_max})"
            )
        return self


class DataSpec(_Frozen):
    """Where the eval shard (npz) keeps the target and the optional mask.

    The target's dtype follows from the metric (``TaskSpec.target_dtype``): int64 class ids
    for classification and token metrics (``ignore_index`` marks skipped tokens), float32
    for ``mse``. A mask, when present, is a uint8/bool array shaped like the target; rows or
    tokens where it is 0 do not count.
    """

    target_key: str = Field(default="target", pattern=_KEY.pattern, max_length=128)
    mask_key: str | None = Field(default=None, pattern=_KEY.pattern, max_length=128)
    ignore_index: int = IGNORE_INDEX


MAX_VOCAB = 262_144
"""Largest vocabulary a token metric accepts (Gemma 3's tokenizer)."""
MAX_CONTEXT = 131_072


class BaseModelSpec(_Frozen):
    """A task's committed base model: submissions may be LoRA adapters of its named weights
    (``evaluation/adapter.py``), which the validator merges into the hash-verified base."""

    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 of the base ONNX file."""
    model_uri: str = Field(default="", max_length=256)
    """Where validators and nodes fetch it (verified against ``model_sha256``)."""
    adaptable: list[str] = Field(min_length=1, max_length=4096)
    """ONNX initializer names an adapter may change (2-D weights)."""
    max_rank: int = Field(ge=1, le=256)
    """Largest LoRA rank r an adapter may use."""


class ChatSpec(_Frozen):
    """A language-model task on chat data (``evaluation/chat.py``): the tokenizer the eval
    shards were cut with, the chat template, the context length, and where each shard row's
    byte count lives. With ``metric = "bits_per_byte"`` the score is the token losses in bits
    over the answers' UTF-8 bytes (any vocabulary), so models with different tokenizers
    compare; with ``token_cross_entropy`` it is the mean loss per answer token."""

    tokenizer_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 of the ``tokenizer.json`` (``tokenizers`` library) the shards were cut with."""
    tokenizer_uri: str = Field(default="", max_length=256)
    """Where nodes fetch it (verified against ``tokenizer_sha256``)."""
    template: dict[str, str]
    """Each role's text (``system``, ``user``, ``assistant``) with one ``{content}`` slot."""
    context_length: int = Field(ge=1, le=MAX_CONTEXT)
    bytes_key: str = Field(default="bytes", pattern=_KEY.pattern, max_length=128)
    """Shard array (int64 [batch]) with the UTF-8 bytes of each row's counted answers."""
    base: BaseModelSpec | None = None
    """The base model LoRA adapters apply to (none: only whole models are submitted)."""

    @model_validator(mode="after")
    def _template(self) -> ChatSpec:
        from .chat import ROLES, ChatError, ChatTemplate

        if sorted(self.template) != sorted(ROLES):
            raise ValueError(
                f"chat.template needs exactly the roles {list(ROLES)}, got {sorted(self.template)}"
            )
        try:
            ChatTemplate(**self.template)
        except ChatError as exc:
            raise ValueError(f"chat.template: {exc}") from None
        return self


class TaskSpec(_Frozen):
    """A whole task spec. Load with ``load``/``from_json``; publish with ``write``."""

    name: str = Field(pattern=_KEY.pattern, max_length=128)
    description: str = Field(default="", max_length=4096)
    inputs: list[InputSpec] = Field(min_length=1, max_length=16)
    output: TensorSpec
    limits: Limits
    data: DataSpec = DataSpec()
    metric: Metric
    chat: ChatSpec | None = None
    """Set for language-model tasks on chat data (see ``ChatSpec``)."""
    version: int = Field(default=1, ge=1)

    # ------------------------------------------------------------------ validation
    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        names = [t.name for t in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"inputs: names must be unique, got {names}")
        if self.output.name in names:
            raise ValueError(f"output.name {self.output.name!r} is also an input name")
        keys = [t.data_key for t in self.inputs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"inputs: data_key values must be unique, got {keys}")
        reserved = {self.data.target_key} | ({self.data.mask_key} if self.data.mask_key else set())
        if self.chat is not None:
            if self.chat.bytes_key in reserved:
                raise ValueError("chat.bytes_key must differ from data.target_key/mask_key")
            reserved.add(self.chat.bytes_key)
        if self.data.mask_key == self.data.target_key:
            raise ValueError("data.mask_key must differ from data.target_key")
        clash = reserved.intersection(keys)
        if clash:
            raise ValueError(f"inputs: data_key {sorted(clash)} clashes with data target/mask key")

        tensors: list[TensorSpec] = [*self.inputs, self.output]
        batch = self.inputs[0].shape[0]
        for t in tensors:
            if not isinstance(t.shape[0], str):
                raise ValueError(
                    f"{t.name}: the first dim must be the symbolic batch dim (a name such as "
                    f"'batch'), got {t.shape[0]}"
                )
            if t.shape[0] != batch:
                raise ValueError(
                    f"{t.name}: batch dim {t.shape[0]!r} differs from {batch!r}; "
                    "all tensors share one batch dim"
                )
            for d in t.shape[1:]:
                if d == batch:
                    raise ValueError(f"{t.name}: batch dim {batch!r} may only be the first dim")

        out = self.output
        if self.metric in CLASSIFICATION_METRICS:
            if out.rank != 2 or not isinstance(out.shape[1], int) or out.shape[1] < 2:
                raise ValueError(
                    f"output.shape: metric {self.metric} needs [batch, num_classes] with a "
                    f"fixed num_classes >= 2, got {out.shape}"
                )
        elif self.metric in TOKEN_METRICS:
            if out.rank != 3 or not isinstance(out.shape[2], int) or out.shape[2] < 2:
                raise ValueError(
                    f"output.shape: metric {self.metric} needs [batch, seq, vocab] with a "
                    f"fixed vocab >= 2, got {out.shape}"
                )
            if out.shape[2] > MAX_VOCAB:
                raise ValueError(f"output.shape: vocab {out.shape[2]} is over {MAX_VOCAB}")
            if self.metric == "bits_per_byte" and out.shape[2] != 256 and self.chat is None:
                raise ValueError(
                    f"output.shape: bits_per_byte needs a byte vocabulary (last dim 256), "
                    f"got {out.shape[2]} (or a chat section whose shards count bytes)"
                )
        if self.chat is not None:
            if self.metric not in TOKEN_METRICS:
                raise ValueError(
                    f"chat: metric must be one of {sorted(TOKEN_METRICS)}, got {self.metric}"
                )
            if out.shape[1] != self.chat.context_length:
                raise ValueError(
                    f"output.shape: seq dim {out.shape[1]!r} must be chat.context_length "
                    f"({self.chat.context_length})"
                )
        if self.metric != "mse" and out.dtype not in ("float32", "float16"):
            raise ValueError(f"output.dtype: metric {self.metric} needs float logits")
        if self.metric == "mse" and out.dtype not in ("float32", "float16"):
            raise ValueError("output.dtype: metric mse needs a float output")
        return self

    # ------------------------------------------------------------------ facts
    @property
    def batch_symbol(self) -> str:
        """Name of the symbolic batch dim shared by every tensor (e.g. ``"batch"``)."""
        return str(self.inputs[0].shape[0])

    @property
    def counts_bytes(self) -> bool:
        """Whether the score divides by the shard's byte counts (chat ``bits_per_byte``)."""
        return self.chat is not None and self.metric == "bits_per_byte"

    @property
    def row_metric(self) -> str:
        """The metric of the per-row values: a chat ``bits_per_byte`` task sums token
        losses (``token_cross_entropy``, nats) and converts the total to bits per byte."""
        return "token_cross_entropy" if self.counts_bytes else self.metric

    @property
    def target_dtype(self) -> str:
        """dtype of the eval shard's target array: int64 class ids, float32 for mse."""
        return "float32" if self.metric == "mse" else "int64"

    @property
    def target_shape(self) -> list[int | str]:
        """Expected target shape: [batch] for classification, [batch, seq] for tokens,
        the output shape for mse."""
        out = self.output.shape
        if self.metric in CLASSIFICATION_METRICS:
            return [out[0]]
        if self.metric in TOKEN_METRICS:
            return list(out[:2])
        return list(out)

    # ------------------------------------------------------------------ (de)serialise
    @classmethod
    def from_json(cls, data: bytes | str) -> TaskSpec:
        """Parse and validate spec JSON. Raises ``SpecError`` naming the bad field."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SpecError(f"task spec is not UTF-8 text: {exc}") from None
        try:
            raw = json.loads(data)
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"task spec is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from None
        if not isinstance(raw, dict):
            raise SpecError(f"task spec must be a JSON object, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise SpecError(_explain(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TaskSpec:
        """Read and validate a spec file; errors name the file and the bad field."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read task spec {p}: {exc.strerror or exc}") from None
        try:
            return cls.from_json(data)
        except SpecError as exc:
            raise SpecError(f"{p}: {exc}") from None

    def to_json(self) -> bytes:
        """Canonical bytes: all fields, sorted keys, indent 2, ASCII, trailing newline. A spec
        without a ``chat`` section leaves the key out, so specs written before it existed
        keep their bytes and their on-chain hash."""
        raw = self.model_dump(mode="json")
        if raw.get("chat") is None:
            raw.pop("chat", None)
        text = json.dumps(raw, sort_keys=True, indent=2, ensure_ascii=True)
        return (text + "\n").encode("ascii")

    def sha256(self) -> bytes:
        """sha256 (32 bytes) of ``to_json()``: the ``spec_hash`` recorded on-chain."""
        return hashlib.sha256(self.to_json()).digest()

    def sha256_hex(self) -> str:
        return self.sha256().hex()

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Atomically write the canonical bytes, so ``sha256(file) == self.sha256()``."""
        return atomic_write_bytes(path, self.to_json())


def is_canonical(data: bytes) -> bool:
    """True if ``data`` parses as a spec and is byte-for-byte its canonical form."""
    try:
        return TaskSpec.from_json(data).to_json() == data
    except SpecError:
        return False


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<spec>"


def _explain(exc: ValidationError) -> str:
    """Turn pydantic's report into one line per bad field, with what is allowed."""
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        where = _loc(err["loc"])
        kind = err["type"]
        if kind == "literal_error":
            allowed = err.get("ctx", {}).get("expected", "")
            msg = f"{where}: {err.get('input')!r} is not allowed; expected one of {allowed}"
        elif kind == "extra_forbidden":
            msg = f"{where}: unknown field (typo?); remove it"
        elif kind == "missing":
            msg = f"{where}: required field is missing"
        elif kind == "value_error":
            msg = f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
        else:
            msg = f"{where}: {err['msg']} (got {err.get('input')!r})"
        if msg not in seen:
            seen.add(msg)
            lines.append(msg)
    return "invalid task spec: " + "; ".join(lines)


def data_dir() -> Path:
    """Folder of the example specs shipped with the plugin (digits.json, bytes_lm.json)."""
    return Path(__file__).parent / "specs"


def example(name: str) -> TaskSpec:
    """Load a shipped example spec by name, e.g. ``example("digits")``."""
    return TaskSpec.load(data_dir() / f"{name}.json")
