"""Weights in one external-data file: causal LMs over ONNX's 2 GiB single-file limit (DESIGN
§4.1), for language-model tasks (specs with a ``chat`` section) only.

A submission is still one ``.onnx`` file whose sha256 is committed on chain. Its weights may
live in **one** external-data file whose sha256 the model declares in its metadata
(``metadata_props``), so the on-chain hash commits to the data too:

========================================  ==================================================
``arena.external_data_sha256``            sha256 of the data file (64 lowercase hex digits)
``arena.external_data_uri`` (optional)    where to fetch it; by default the model's own URI
                                          with its last segment (the model's sha256)
                                          replaced by the data's sha256, i.e. the same store
========================================  ==================================================

Rules (all ``external_data`` INVALID, deterministic: they read the model and the data file):

* every external tensor names the same ``location``, a **bare file name** (no ``/`` or
  ``\\``, not ``.``/``..``, no NUL; at most 255 characters): a path, and so any traversal,
  is INVALID. The name is only a label: no path from the model is ever opened. The engine
  reads the data file from its own folder (the validator's store, by sha256; for a node's
  local check, the model's folder) and hands its bytes to onnxruntime in memory
  (``SessionOptions.add_external_initializers_from_files_in_memory``);
* each external tensor carries exactly the keys ``location``, ``offset`` and ``length``
  (decimal integers), ``length`` equals the tensor's byte size, and the data file holds
  ``offset + length`` bytes (a shorter file is *truncated*);
* the data file's sha256 equals the declared one (else *mismatched*); a file that cannot be
  found or fetched is *missing*; model file + data file <= ``limits.max_bytes``.

Example (a node, after exporting ``model.onnx`` + ``model.onnx.data``)::

    seal("model.onnx")            # writes arena.external_data_sha256 into the model
    ape arena node check model.onnx --data eval.npz
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

SHA256_KEY = "arena.external_data_sha256"
URI_KEY = "arena.external_data_uri"
CODE = "external_data"
_KEYS = frozenset({"location", "offset", "length"})
_MAX_NAME = 255
_MAX_URI = 1024

# bytes per element of the tensor types external data may hold (TensorProto.DataType)
_ITEMSIZE = {
    1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8,
    15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1,
}  # fmt: skip
_NIBBLE = frozenset({21, 22, 23})  # UINT4, INT4, FLOAT4E2M1: two elements per byte


class ExternalDataError(ValueError):
    """A rule above is broken: ``code`` (``external_data`` or ``too_large``) and a reason."""

    def __init__(self, reason: str, code: str = CODE):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class External:
    """A model's external data as the model declares it."""

    location: str
    """The one file name every external tensor names (a label, never opened as a path)."""
    sha256: str
    uri: str
    """``arena.external_data_uri``, or ``""`` (fetch from the model's own store)."""
    end: int
    """Bytes the file must hold: the largest ``offset + length``."""
    tensors: int


def is_external(t: onnx.TensorProto) -> bool:
    import onnx

    return t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) > 0


def bare_name(location: str) -> bool:
    """A plain file name: no directory part, no traversal, nothing a path could mean."""
    return (
        0 < len(location) <= _MAX_NAME
        and "/" not in location
        and "\\" not in location
        and "\x00" not in location
        and location not in (".", "..")
        and ":" not in location  # drive letters, URLs
    )


def describe(model: onnx.ModelProto, tensors: Any, allowed: bool) -> External | None:
    """The model's external data with every rule that reads only the model checked;
    ``None`` when no tensor is external. ``tensors``: ``(where, TensorProto)`` pairs (every
    stored tensor of the model, subgraphs included). Raises ``ExternalDataError``."""
    import onnx

    location: str | None = None
    end = count = 0
    for where, t in tensors:
        if not is_external(t):
            continue
        name = t.name or "<unnamed>"
        if not allowed:
            loc = next((e.value for e in t.external_data if e.key == "location"), "?")
            raise ExternalDataError(
                f"tensor {name!r} ({where}) refers to external data {loc!r}; this task takes "
                "a single self-contained .onnx file (external data is for language-model "
                "tasks only)"
            )
        if t.data_location != onnx.TensorProto.EXTERNAL:
            raise ExternalDataError(f"tensor {name!r} ({where}) has external-data fields "
                                    "but is not marked EXTERNAL")  # fmt: skip
        kv: dict[str, str] = {}
        for e in t.external_data:
            if e.key not in _KEYS or e.key in kv:
                raise ExternalDataError(
                    f"tensor {name!r} ({where}): external-data key {e.key!r} is not allowed "
                    "(exactly location, offset and length, once each)"
                )
            kv[e.key] = e.value
        if set(kv) != _KEYS:
            missing = ", ".join(sorted(_KEYS - set(kv)))
            raise ExternalDataError(f"tensor {name!r} ({where}): external data without {missing}")
        loc = kv["location"]
        if not bare_name(loc):
            raise ExternalDataError(
                f"tensor {name!r} ({where}): external data location {loc!r} is a path (path "
                "traversal); only a bare file name is allowed"
            )
        if location is None:
            location = loc
        elif loc != location:
            raise ExternalDataError(
                f"tensor {name!r} ({where}) uses external file {loc!r} but others use "
                f"{location!r}: all external data must be in one file"
            )
        offset, length = _uint(kv["offset"], name, "offset"), _uint(kv["length"], name, "length")
        want = _nbytes(t, name)
        if length != want:
            raise ExternalDataError(
                f"tensor {name!r} ({where}): external length {length} but the tensor holds "
                f"{want} bytes"
            )
        end = max(end, offset + length)
        count += 1
    if location is None:
        return None
    meta = {p.key: p.value for p in model.metadata_props}
    sha = meta.get(SHA256_KEY, "")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ExternalDataError(
            f"the model keeps {count} tensors in {location!r} but does not declare that file's "
            f"sha256 (metadata {SHA256_KEY!r}, 64 lowercase hex digits): seal it with "
            "`ape arena node seal MODEL.onnx`"
        )
    uri = meta.get(URI_KEY, "")
    if len(uri) > _MAX_URI:
        raise ExternalDataError(f"metadata {URI_KEY!r} is over {_MAX_URI} characters")
    return External(location, sha, uri, end, count)


def _uint(text: str, name: str, key: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise ExternalDataError(f"tensor {name!r}: external {key} {text!r} is not an integer >= 0")
    return int(text)


def _nbytes(t: onnx.TensorProto, name: str) -> int:
    n = prod(t.dims)
    if t.data_type in _NIBBLE:
        return (n + 1) // 2
    if t.data_type not in _ITEMSIZE:
        raise ExternalDataError(f"tensor {name!r}: element type {t.data_type} cannot be external")
    return n * _ITEMSIZE[t.data_type]


def verify(ext: External, data: Any) -> None:
    """The data file's bytes (``bytes`` or ``mmap``, already within the task's size limit:
    ``open_data``) against the model's declaration."""
    size = len(data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != ext.sha256:
        raise ExternalDataError(
            f"external data mismatched: the file's sha256 is {digest} but the model declares "
            f"{ext.sha256}"
        )
    if size < ext.end:
        raise ExternalDataError(
            f"external data truncated: {ext.location!r} holds {size} bytes but the model's "
            f"tensors need {ext.end}"
        )


def local_data(folder: str | os.PathLike[str], ext: External) -> Path:
    """The data file in ``folder`` (the engine's own folder): named by its sha256 (a store)
    or by the bare location name (next to a node's export). Raises ``ExternalDataError``
    (*missing*) when neither is there."""
    for name in (ext.sha256, ext.location):
        p = Path(folder) / name
        if p.is_file():
            return p
    raise ExternalDataError(
        f"external data missing: neither {ext.sha256} nor {ext.location!r} is in {folder}"
    )


def open_data(path: str | os.PathLike[str], room: int) -> Any:
    """The data file mapped read-only (``b""`` when empty); ``too_large`` past ``room``."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > room:
            raise ExternalDataError(
                f"model and external data together are over the task's limit (data {size} "
                f"bytes, {room} left after the model file)",
                code="too_large",
            )
        if size == 0:
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def read_local(model_path: str | os.PathLike[str], ext: External, room: int) -> Any:
    """The verified data of the model at ``model_path`` from the model's own folder
    (``local_data``), mapped read-only. Raises ``ExternalDataError``."""
    path = local_data(Path(model_path).resolve().parent, ext)
    try:
        data = open_data(path, room)
    except OSError as exc:
        raise ExternalDataError(f"external data missing: cannot read {path}: {exc}") from None
    verify(ext, data)
    return data


def add_to_session(options: Any, ext: External | None, data: Any) -> None:
    """Hand the verified bytes to onnxruntime under the model's location name: onnxruntime
    then resolves every external tensor from memory and opens no file."""
    if ext is not None:
        options.add_external_initializers_from_files_in_memory([ext.location], [data], [len(data)])


def declared(path: str | os.PathLike[str]) -> External | None:
    """What a model file at ``path`` declares about external data, read without the static
    checks (a validator uses it to fetch the data before scoring): a byte search for the
    metadata key first, so ordinary models are never parsed here. ``None`` if nothing or
    the model does not parse (the worker then says why it is INVALID)."""
    import onnx

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return None
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if mm.find(SHA256_KEY.encode()) < 0:
                return None
            model = onnx.ModelProto()
            try:
                model.ParseFromString(mm[:])
            except Exception:  # noqa: BLE001 - the worker's checks report it
                return None
    from .checks import _all_tensors

    try:
        return describe(model, _all_tensors(model), allowed=True)
    except ExternalDataError:
        return None


def data_uri(ext: External, model_uri: str, model_sha256: str) -> str:
    """Where the data file is fetched: the declared URI, else the model's URI with its
    final segment (the model's sha256) replaced by the data's sha256."""
    if ext.uri:
        return ext.uri
    head, sep, last = model_uri.rpartition("/")
    if not sep or last.lower().removeprefix("0x") != model_sha256.lower().removeprefix("0x"):
        raise ExternalDataError(
            f"external data missing: the model declares no {URI_KEY!r} and its URI "
            f"{model_uri!r} does not end in its sha256, so the data's place is unknown"
        )
    return f"{head}/{ext.sha256}"


def fetch_beside(
    model_path: str | os.PathLike[str],
    model_uri: str,
    model_sha256: str,
    get: Callable[[str, str], Any],
) -> None:
    """Fetch the external-data file the model at ``model_path`` declares (nothing for a
    model without one) with ``get(uri, sha256)``: a store that verifies the hash and keeps
    the file by its sha256 beside the model, where the engine looks for it. Raises
    ``ExternalDataError`` when the data has no place to come from (``data_uri``)."""
    ext = declared(model_path)
    if ext is not None:
        get(data_uri(ext, model_uri, model_sha256), ext.sha256)


def seal(path: str | os.PathLike[str], uri: str = "") -> External | None:
    """Declare the external data of the model at ``path`` (the exporter's files, side by
    side): check the location is one bare file name, hash that file, and write
    ``arena.external_data_sha256`` (and ``uri`` if given) into the model's metadata.
    Returns the declaration, or ``None`` for a model without external data (left as is)."""
    import onnx

    from .checks import _all_tensors

    model = onnx.load_model(str(path), load_external_data=False)
    tensors = [(w, t) for w, t in _all_tensors(model) if is_external(t)]
    if not tensors:
        return None
    props = {p.key: p.value for p in model.metadata_props if p.key not in (SHA256_KEY, URI_KEY)}
    locations = {next((e.value for e in t.external_data if e.key == "location"), "")
                 for _, t in tensors}  # fmt: skip
    if len(locations) != 1 or not bare_name(next(iter(locations))):
        raise ExternalDataError(
            f"the model's external data is in {sorted(locations)}: it must be one file with a "
            "bare name next to the model (save with all_tensors_to_one_file=True)"
        )
    location = next(iter(locations))
    data_path = Path(path).parent / location
    h = hashlib.sha256()
    with open(data_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    onnx.helper.set_model_props(
        model, {**props, SHA256_KEY: h.hexdigest(), **({URI_KEY: uri} if uri else {})}
    )
    ext = describe(model, tensors, allowed=True)
    assert ext is not None
    size = data_path.stat().st_size
    if size < ext.end:
        raise ExternalDataError(
            f"{data_path} holds {size} bytes but the model's tensors need {ext.end} (truncated)"
        )
    Path(path).write_bytes(model.SerializeToString())  # the data file is left untouched
    return ext
