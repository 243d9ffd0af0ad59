"""Eval shards: one npz file per round, hashed, committed in a Merkle root, verified on load.

Deterministic bytes
-------------------
``write_shard`` writes the npz itself instead of ``np.savez`` (which stamps the current time
into every zip member): members in sorted key order, named ``<key>.npy``, stored without
compression, a fixed 1980-01-01 timestamp, fixed permissions and host system, zip64 headers
always on (as numpy does). The same arrays therefore always give the same bytes and the same
sha256, on any machine with the same numpy ``.npy`` header format. ``np.load`` reads the files
as usual.

Shard layout
------------
Arrays are keyed as in the task spec: each input's ``data_key``, ``data.target_key`` and, if
set, ``data.mask_key``. ``load_shard`` refuses anything else, checks dtypes (inputs as the
spec says; target int64 class/token ids, float32 for ``mse``; mask bool/uint8), ranks and
fixed dims, one shared row count, symbolic dims consistent across arrays, and target values
(class ids in ``[0, C)``; token ids in ``[0, V)`` or ``ignore_index``; finite floats).

Datasets (DESIGN §5, all offline)
---------------------------------
* ``digits_split`` / ``augment`` / ``digits_eval_arrays``: scikit-learn ``load_digits``
  (pixels scaled to [0, 1]), a deterministic train/eval split, and a seeded augmentation
  (random sub-pixel shift, scale, contrast, noise) to reach realistic shard sizes (>= 50,000
  rows per round).
* ``stdlib_corpus`` / ``lm_arrays``: bytes of the Python standard library's ``.py`` files
  (sorted paths, a deterministic train/eval file split), cut into ``[N, seq]`` int64 token
  windows with next-byte int64 targets (``ignore_index`` past the end of the text). The bytes
  depend on the Python version that reads them, which is fine: the creator builds shards
  once and publishes their hashes.

Example::

    arrays = digits_eval_arrays(rows=50_000 * 3, seed=7)
    manifest = build_shards(arrays, num_rounds=3, out_dir="shards/", spec=spec, seed=7)
    manifest.tree.root  # eval_root for create_task
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import sysconfig
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..fsutil import atomic_write_bytes
from .merkle import EvalTree
from .spec import CLASSIFICATION_METRICS, TOKEN_METRICS, TaskSpec

if TYPE_CHECKING:
    import numpy as np

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
DEFAULT_MAX_SHARD_BYTES = 8 * 1024**3
"""Largest total uncompressed size ``load_shard`` accepts by default (8 GiB)."""
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "arena-shards-v1"


class ShardError(ValueError):
    """Base class for eval shard errors."""


class ShardHashError(ShardError):
    """A shard file's bytes do not hash to the committed sha256: it must not be used."""


class ShardFormatError(ShardError):
    """A shard's arrays do not match the task spec (keys, dtypes, shapes, values)."""


# ---------------------------------------------------------------------------- files
def shard_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The deterministic npz bytes of ``arrays`` (see module docstring)."""
    import numpy as np

    if not arrays:
        raise ShardFormatError("a shard needs at least one array")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key in sorted(arrays):
            arr = np.asarray(arrays[key])
            if arr.dtype == object:
                raise ShardFormatError(f"array {key!r} has dtype object; not allowed in shards")
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(
                    fh, np.ascontiguousarray(arr), version=(1, 0), allow_pickle=False
                )
    return buf.getvalue()


def write_shard(arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> str:
    """Atomically write ``arrays`` as a deterministic npz; return its sha256 (hex)."""
    data = shard_bytes(arrays)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def _hex(value: bytes | str) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return value.lower().removeprefix("0x")


def shard_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_shard(path: str | os.PathLike[str], expected_sha256: bytes | str) -> str:
    """Raise ``ShardHashError`` unless the file's sha256 is ``expected_sha256``."""
    expected = _hex(expected_sha256)
    actual = shard_sha256(path)
    if actual != expected:
        raise ShardHashError(
            f"eval shard {path} has sha256 {actual} but the committed hash is {expected}; "
            "refusing to use it"
        )
    return actual


def load_shard(
    path: str | os.PathLike[str],
    spec: TaskSpec,
    expected_sha256: bytes | str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> dict[str, np.ndarray]:
    """Load a shard (``np.load(allow_pickle=False)``) and check it against ``spec``.

    With ``expected_sha256`` the file is verified first (``ShardHashError``). The npz's
    declared uncompressed size must stay under ``max_bytes`` (zip-bomb guard).
    """
    import numpy as np

    if expected_sha256 is not None:
        verify_shard(path, expected_sha256)
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ShardFormatError(f"eval shard {path} is not an npz file: {exc}") from None
    if total > max_bytes:
        raise ShardFormatError(f"eval shard {path} unpacks to {total} bytes > {max_bytes}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ShardFormatError(f"eval shard {path} cannot be read as npz: {exc}") from None
    check_arrays(arrays, spec)
    return arrays


def check_arrays(arrays: Mapping[str, np.ndarray], spec: TaskSpec) -> int:
    """Check shard arrays against the spec; return the row count. Raises ShardFormatError."""
    import numpy as np

    data = spec.data
    want = [t.data_key for t in spec.inputs] + [data.target_key]
    if data.mask_key:
        want.append(data.mask_key)
    if spec.chat is not None:
        want.append(spec.chat.bytes_key)
    if sorted(arrays) != sorted(want):
        raise ShardFormatError(f"shard arrays are {sorted(arrays)}; the spec needs {sorted(want)}")

    symbols: dict[str, int] = {}

    def shape_ok(key: str, arr: np.ndarray, shape: list[int | str]) -> None:
        if arr.ndim != len(shape):
            raise ShardFormatError(
                f"array {key!r} has shape {arr.shape}; the spec needs rank {len(shape)} {shape}"
            )
        for i, (have, need) in enumerate(zip(arr.shape, shape, strict=True)):
            if isinstance(need, int):
                if have != need:
                    raise ShardFormatError(
                        f"array {key!r} dim {i} is {have}; the spec fixes {need}"
                    )
            elif symbols.setdefault(need, have) != have:
                raise ShardFormatError(
                    f"array {key!r} dim {i} ({need!r}) is {have} but another array has "
                    f"{symbols[need]}"
                )

    for t in spec.inputs:
        arr = arrays[t.data_key]
        if arr.dtype != np.dtype(t.dtype):
            raise ShardFormatError(
                f"array {t.data_key!r} has dtype {arr.dtype}; input {t.name!r} needs {t.dtype}"
            )
        shape_ok(t.data_key, arr, t.shape)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ShardFormatError(f"array {t.data_key!r} holds NaN or infinite values")

    target = arrays[data.target_key]
    if target.dtype != np.dtype(spec.target_dtype):
        raise ShardFormatError(
            f"target {data.target_key!r} has dtype {target.dtype}; metric {spec.metric} needs "
            f"{spec.target_dtype}"
        )
    shape_ok(data.target_key, target, spec.target_shape)
    if spec.metric in CLASSIFICATION_METRICS or spec.metric in TOKEN_METRICS:
        classes = int(spec.output.shape[-1])
        valid = (target >= 0) & (target < classes)
        if spec.metric in TOKEN_METRICS:
            valid |= target == data.ignore_index
        if not valid.all():
            bad = target[~valid].ravel()[:5].tolist()
            raise ShardFormatError(
                f"target {data.target_key!r} has ids outside [0, {classes}) (e.g. {bad})"
            )
    elif not np.isfinite(target).all():
        raise ShardFormatError(f"target {data.target_key!r} holds NaN or infinite values")

    if spec.chat is not None:
        key = spec.chat.bytes_key
        counts = arrays[key]
        if counts.dtype != np.int64:
            raise ShardFormatError(
                f"array {key!r} has dtype {counts.dtype}; byte counts need int64"
            )
        shape_ok(key, counts, [spec.batch_symbol])
        if (counts < 0).any():
            raise ShardFormatError(f"array {key!r} holds negative byte counts")
        if spec.counts_bytes and int(counts.sum()) <= 0:
            raise ShardFormatError(f"array {key!r}: the shard counts no bytes")

    if data.mask_key:
        mask = arrays[data.mask_key]
        if mask.dtype not in (np.dtype(bool), np.dtype(np.uint8)):
            raise ShardFormatError(f"mask {data.mask_key!r} has dtype {mask.dtype}; use bool/uint8")
        if mask.shape != target.shape:
            raise ShardFormatError(
                f"mask {data.mask_key!r} has shape {mask.shape}; the target has {target.shape}"
            )

    rows = {key: arr.shape[0] for key, arr in arrays.items()}
    if len(set(rows.values())) != 1:
        raise ShardFormatError(f"arrays disagree on the row count: {rows}")
    n = next(iter(rows.values()))
    if n < 1:
        raise ShardFormatError("the shard has no rows")
    return n


# ---------------------------------------------------------------------------- per-round set
@dataclass(frozen=True)
class ShardInfo:
    round: int
    sha256: str
    file: str
    rows: int


@dataclass(frozen=True)
class ShardManifest:
    """The shards of one task, their hashes and the Merkle tree (``tree.root`` = eval_root)."""

    folder: Path
    shards: tuple[ShardInfo, ...]
    tree: EvalTree

    def path(self, round_: int) -> Path:
        return self.folder / self.shards[round_ - self.tree.first_round].file

    def tree_for(self, num_rounds: int) -> EvalTree:
        """The eval tree of a task of ``num_rounds`` rounds using the first shards: the
        commitment binds exactly one shard per round, so a task with fewer rounds than the
        folder has shards commits to a tree over exactly its rounds."""
        if num_rounds == self.tree.num_rounds:
            return self.tree
        first = self.tree.first_round
        if not first < num_rounds <= self.tree.num_rounds:
            raise ShardError(
                f"{self.folder} holds shards for rounds {first}..{self.tree.num_rounds - 1}; "
                f"a task of {num_rounds} rounds cannot use them"
            )
        return EvalTree([s.sha256 for s in self.shards[: num_rounds - first]], first)

    def to_dict(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "eval_root": "0x" + self.tree.root.hex(),
            "shards": [
                {"round": s.round, "sha256": s.sha256, "file": s.file, "rows": s.rows}
                for s in self.shards
            ],
            "merkle": self.tree.to_dict(),
        }

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ShardManifest:
        """Read ``manifest.json``; the stored root must match the listed hashes."""
        f = Path(folder)
        data = json.loads((f / MANIFEST).read_text())
        if data.get("format") != MANIFEST_FORMAT:
            raise ShardError(f"{f / MANIFEST} is not a shard manifest")
        shards = tuple(ShardInfo(**s) for s in data["shards"])
        tree = EvalTree([s.sha256 for s in shards], shards[0].round if shards else 0)
        if "0x" + tree.root.hex() != data["eval_root"]:
            raise ShardError(f"{f / MANIFEST}: eval_root does not match the shard hashes")
        return cls(folder=f, shards=shards, tree=tree)


def split_rows(n: int, num_rounds: int, seed: int) -> list[np.ndarray]:
    """A seeded permutation of ``range(n)`` cut into ``num_rounds`` near-equal parts."""
    import numpy as np

    if num_rounds < 1 or n < num_rounds:
        raise ValueError(f"cannot split {n} rows into {num_rounds} non-empty rounds")
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, num_rounds)]


def build_shards(
    arrays: Mapping[str, np.ndarray],
    num_rounds: int,
    out_dir: str | os.PathLike[str],
    *,
    spec: TaskSpec | None = None,
    seed: int = 0,
    first_round: int = 0,
) -> ShardManifest:
    """Split a dataset into one shard per round, write them and ``manifest.json``.

    Files are named ``round-<r>.npz``; with ``spec`` every shard is checked against it.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(arrays.values())))
    parts = split_rows(n, num_rounds, seed)
    infos = []
    for i, rows in enumerate(parts):
        r = first_round + i
        part = {key: arr[rows] for key, arr in arrays.items()}
        if spec is not None:
            check_arrays(part, spec)
        name = f"round-{r}.npz"
        sha = write_shard(part, folder / name)
        infos.append(ShardInfo(round=r, sha256=sha, file=name, rows=int(len(rows))))
    tree = EvalTree([s.sha256 for s in infos], first_round)
    manifest = ShardManifest(folder=folder, shards=tuple(infos), tree=tree)
    (folder / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    return manifest


# ---------------------------------------------------------------------------- digits
@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def digits_split(eval_fraction: float = 0.3, seed: int = 0):
    """``(x_train, y_train), (x_eval, y_eval)``: load_digits pixels / 16 as float32 [n, 64],
    labels int64, a seeded split stratified by label."""
    import numpy as np

    x, y = _digits()
    rng = np.random.default_rng(seed)
    eval_idx = []
    for label in range(10):
        idx = np.flatnonzero(y == label)
        take = int(round(len(idx) * eval_fraction))
        eval_idx.append(rng.permutation(idx)[:take])
    mask = np.zeros(len(y), bool)
    mask[np.concatenate(eval_idx)] = True
    return (x[~mask], y[~mask]), (x[mask], y[mask])


def augment(
    x: np.ndarray,
    y: np.ndarray,
    rows: int,
    seed: int,
    *,
    max_shift: float = 0.5,
    noise: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` seeded variations of 8x8 digit images ``x`` ([n, 64] in [0, 1]) and labels.

    Each row picks a source image and applies a random shift of up to ``max_shift`` pixels
    (<= 1) in each direction (bilinear, sub-pixel), a contrast scale in [0.8, 1.2], a
    brightness offset in [-0.05, 0.05] and Gaussian pixel noise (sigma ``noise``), then
    clips to [0, 1]. Same inputs
    and seed -> same float32 output bits (numpy's PCG64 and IEEE float32 arithmetic).
    """
    import numpy as np

    if rows < 1:
        raise ValueError("rows must be >= 1")
    if not 0 <= max_shift <= 1:
        raise ValueError("max_shift must be in [0, 1] pixels")
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(x), size=rows)
    images = x[src].reshape(rows, 8, 8).astype(np.float32)
    shift = rng.uniform(-max_shift, max_shift, size=(rows, 2)).astype(np.float32)
    contrast = rng.uniform(0.8, 1.2, size=(rows, 1, 1)).astype(np.float32)
    bright = rng.uniform(-0.05, 0.05, size=(rows, 1, 1)).astype(np.float32)
    jitter = rng.normal(0.0, noise, size=(rows, 8, 8)).astype(np.float32)

    padded = np.pad(images, ((0, 0), (1, 2), (1, 2)))  # zero border for shifts of <= 1 px
    grid = np.arange(8, dtype=np.float32)
    sy = grid[None, :] - shift[:, :1] + 1  # source coords in the padded image
    sx = grid[None, :] - shift[:, 1:] + 1
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    wy = (sy - y0).astype(np.float32)[:, :, None]
    wx = (sx - x0).astype(np.float32)[:, None, :]
    r = np.arange(rows)[:, None, None]

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[r, (y0 + dy)[:, :, None], (x0 + dx)[:, None, :]]

    shifted = (
        at(0, 0) * (1 - wy) * (1 - wx)
        + at(0, 1) * (1 - wy) * wx
        + at(1, 0) * wy * (1 - wx)
        + at(1, 1) * wy * wx
    )
    out = np.clip(shifted * contrast + bright + jitter, 0.0, 1.0).astype(np.float32)
    return out.reshape(rows, 64), y[src].astype(np.int64)


def digits_eval_arrays(
    rows: int, seed: int = 0, eval_fraction: float = 0.3, split_seed: int = 0
) -> dict:
    """``{"features", "target"}`` for the digits spec: ``rows`` augmented from the eval part
    of ``digits_split(eval_fraction, split_seed)`` only (nodes train on the other part)."""
    _, (x_eval, y_eval) = digits_split(eval_fraction, seed=split_seed)
    x, y = augment(x_eval, y_eval, rows, seed)
    return {"features": x, "target": y}


# ---------------------------------------------------------------------------- bytes LM
@functools.cache
def _stdlib_py_files() -> tuple[Path, ...]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return tuple(
        sorted(
            (
                p
                for p in root.rglob("*.py")
                if not {"site-packages", "dist-packages"} & set(p.parts)
            ),
            key=lambda p: p.relative_to(root).as_posix(),
        )
    )


def stdlib_files(part: str = "all") -> list[Path]:
    """Sorted ``.py`` files of this Python's standard library (no site-packages).

    ``part``: ``"eval"`` is every 5th file in sorted order, ``"train"`` the rest, ``"all"``.
    """
    if part not in ("all", "train", "eval"):
        raise ValueError("part must be 'all', 'train' or 'eval'")
    files = list(_stdlib_py_files())
    if part == "eval":
        return files[::5]
    if part == "train":
        return [f for i, f in enumerate(files) if i % 5]
    return files


def stdlib_corpus(min_bytes: int = 1_000_000, part: str = "eval") -> bytes:
    """At least ``min_bytes`` of standard-library source text (whole files, sorted order)."""
    chunks: list[bytes] = []
    size = 0
    for path in stdlib_files(part):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        chunks.append(data)
        size += len(data)
        if size >= min_bytes:
            return b"".join(chunks)
    raise ValueError(f"the standard library only has {size} bytes of {part!r} source")


def lm_arrays(data: bytes, seq: int = 128, ignore_index: int = -100) -> dict:
    """``{"tokens", "target"}``: ``data`` cut into ``[N, seq]`` int64 windows; target is the
    next byte at each position, ``ignore_index`` where the text has ended (the last window
    is padded with token 0)."""
    import numpy as np

    if seq < 1 or len(data) < 2:
        raise ValueError("need seq >= 1 and at least 2 bytes")
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    n_windows = -(-(len(raw) - 1) // seq)
    size = n_windows * seq
    tokens = np.zeros(size, np.int64)
    target = np.full(size, ignore_index, np.int64)
    tokens[: len(raw) - 1] = raw[:-1]
    target[: len(raw) - 1] = raw[1:]
    return {"tokens": tokens.reshape(n_windows, seq), "target": target.reshape(n_windows, seq)}


def lm_eval_arrays(min_bytes: int = 1_000_000, seq: int = 128) -> dict:
    """Byte-LM eval arrays over the ``eval`` part of the standard library."""
    return lm_arrays(stdlib_corpus(min_bytes, part="eval"), seq)


def iter_batches(arrays: Mapping[str, np.ndarray], batch_rows: int) -> Iterable[dict]:
    """Slice shard arrays into consecutive row batches (views, no copies)."""
    n = len(next(iter(arrays.values())))
    for start in range(0, n, batch_rows):
        yield {key: arr[start : start + batch_rows] for key, arr in arrays.items()}
