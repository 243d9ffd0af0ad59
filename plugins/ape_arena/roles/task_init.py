"""``task init``: a task's spec, eval shards and manifest from plain data files, no Python.

Kinds and what DATA may be:

==================  ======================================================================
kind                DATA
==================  ======================================================================
``classification``  ``.npz`` with ``features`` [N, ...] and ``target`` [N] (int class ids
                    0..C-1; ``X``/``y`` also accepted), a folder with ``features.npy`` and
                    ``target.npy``, or a ``.csv`` of numbers (a header row is skipped; the
                    last column is the class id)
``regression``      the same, the target being numbers ([N] or [N, D]); metric ``mse``
``bytes-lm``        a text file, or a folder of them (read in name order); next-byte
                    prediction over windows of ``--seq`` bytes, metric ``bits_per_byte``
``chat-lm``         a JSONL file of dialogues (ShareGPT ``conversations`` or ``messages``)
                    and ``--tokenizer tokenizer.json``: a causal LM scored on the assistant
                    answers, ``--seq`` tokens of context, metric ``bits_per_byte`` over the
                    answers' bytes (``evaluation/chat.py``); the tokenizer is copied to
                    ``out/tokenizer.json`` for publishing
==================  ======================================================================

The rows are split at random (``--seed``) into one shard per round; the spec takes its
limits from the shipped examples (``evaluation/specs``) and its shapes from the data.
Every problem names the file, and the row or column where it can.

Example::

    made = init_task("iris.csv", "classification", rounds=3, out="iris-task")
    made.spec_path, made.manifest.tree.root
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..evaluation.shards import ShardManifest, build_shards, lm_arrays
from ..evaluation.spec import TaskSpec, example

KINDS = ("classification", "regression", "bytes-lm", "chat-lm")


class TaskInitError(ValueError):
    """The data cannot make a task; the message says which file and what is wrong."""


@dataclass(frozen=True)
class InitTask:
    spec: TaskSpec
    spec_path: Path
    manifest: ShardManifest
    shard_dir: Path
    rows: int


def init_task(
    data: str | os.PathLike[str],
    kind: str,
    *,
    rounds: int,
    out: str | os.PathLike[str],
    name: str | None = None,
    seed: int = 0,
    seq: int = 128,
    tokenizer: str | os.PathLike[str] | None = None,
    tokenizer_uri: str = "",
    base: str | os.PathLike[str] | None = None,
    base_uri: str = "",
    adapt: tuple[str, ...] = ("q_proj", "v_proj"),
    max_rank: int = 8,
) -> InitTask:
    """Write ``out/spec.json`` and ``out/shards`` (one shard per round + manifest.json).

    chat-lm only: ``tokenizer_uri`` (where nodes fetch the tokenizer) and a base model for
    LoRA adapters: ``base`` (an ONNX causal LM exported with ``evaluation/hf.py``, checked
    against the spec and copied to ``out/base.onnx``), ``base_uri`` (where validators and
    nodes fetch it), ``adapt`` (the modules whose weights adapters may change: every 2-D
    initializer named ``<...>.<module>.weight`` or ``.weight.T``) and ``max_rank``."""
    if kind not in KINDS:
        raise TaskInitError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if rounds < 1:
        raise TaskInitError(f"--rounds must be >= 1, got {rounds}")
    src = Path(data)
    if not src.exists():
        raise TaskInitError(f"{src}: no such file or folder")
    task_name = _name(name or src.stem)
    if (kind == "chat-lm") != (tokenizer is not None):
        raise TaskInitError(
            "--tokenizer tokenizer.json goes with --kind chat-lm (and only with it)"
        )
    if kind != "chat-lm" and (base is not None or base_uri or tokenizer_uri):
        raise TaskInitError("--base, --base-uri and --tokenizer-uri go with --kind chat-lm")
    if base is None and base_uri:
        raise TaskInitError("--base-uri names where --base is published: give --base too")
    tokenizer_bytes = b""
    if kind == "chat-lm":
        arrays, raw, tokenizer_bytes = _chat_task(src, Path(tokenizer), seq)
    elif kind == "bytes-lm":
        arrays = lm_arrays(_read_text_bytes(src), seq=seq)
        raw = example("bytes_lm").model_dump(mode="json")
        raw["inputs"][0]["shape"] = ["batch", seq]
        raw["output"]["shape"] = ["batch", seq, 256]
        raw["description"] = f"Next-byte prediction over {src.name} in windows of {seq} bytes."
    else:
        x, y = _read_table(src)
        raw = example("digits").model_dump(mode="json")
        raw["inputs"][0]["shape"] = ["batch", *x.shape[1:]]
        if kind == "classification":
            y = _class_ids(y, src)
            classes = int(y.max()) + 1
            raw["output"]["shape"] = ["batch", classes]
            raw["description"] = (
                f"Classify the rows of {src.name} into {classes} classes. Output: "
                "logits [batch, classes]. Loss: mean cross-entropy against the class id."
            )
        else:
            y = y.astype(np.float32).reshape(len(y), -1)
            raw["metric"] = "mse"
            raw["output"]["shape"] = ["batch", y.shape[1]]
            raw["description"] = (
                f"Predict the target of {src.name} ({y.shape[1]} value(s) per row). "
                "Loss: mean squared error."
            )
        arrays = {"features": x, "target": y}
    raw["name"] = task_name
    if kind == "chat-lm":
        raw["chat"]["tokenizer_uri"] = tokenizer_uri
    base_bytes = b""
    if base is not None:
        base_bytes = _chat_base(raw, Path(base), base_uri, adapt, max_rank)
    n = len(arrays["target"])
    if n < rounds:
        raise TaskInitError(f"{src}: {n} rows cannot make {rounds} shards (one per round)")
    spec = TaskSpec.model_validate(raw)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = spec.write(folder / "spec.json")
    if tokenizer_bytes:
        (folder / "tokenizer.json").write_bytes(tokenizer_bytes)
    if base_bytes:
        (folder / "base.onnx").write_bytes(base_bytes)
    manifest = build_shards(arrays, rounds, folder / "shards", spec=spec, seed=seed)
    return InitTask(spec, spec_path, manifest, folder / "shards", n)


# ----------------------------------------------------------------------------- readers
def _chat_task(src: Path, tokenizer_path: Path, seq: int) -> tuple[dict, dict, bytes]:
    """Arrays, spec fields and tokenizer bytes of a chat-lm task."""
    import hashlib

    from ..evaluation.chat import ChatError, ChatTemplate, chat_arrays, read_dialogues
    from ..evaluation.spec import MAX_VOCAB

    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - a dependency of the plugin
        raise TaskInitError(f"chat-lm needs the tokenizers library: {exc}") from None
    try:
        data = tokenizer_path.read_bytes()
        tok = Tokenizer.from_str(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, Exception) as exc:  # noqa: BLE001 - named below
        raise TaskInitError(f"{tokenizer_path}: not a tokenizers tokenizer.json ({exc})") from None
    vocab = tok.get_vocab_size()
    if not 2 <= vocab <= MAX_VOCAB:
        raise TaskInitError(f"{tokenizer_path}: vocabulary {vocab}; allowed 2..{MAX_VOCAB}")
    template = ChatTemplate()
    try:
        arrays = chat_arrays(read_dialogues(src), tok, template, seq)
    except ChatError as exc:
        raise TaskInitError(str(exc)) from None
    raw = example("bytes_lm").model_dump(mode="json")
    raw["inputs"][0]["shape"] = ["batch", seq]
    raw["output"]["shape"] = ["batch", seq, vocab]
    raw["chat"] = {
        "tokenizer_sha256": hashlib.sha256(data).hexdigest(),
        "template": template.to_dict(),
        "context_length": seq,
    }
    raw["description"] = (
        f"Chat language model on the dialogues of {src.name}: {seq} tokens of context with "
        f"the task's tokenizer ({vocab} tokens); loss: the assistant answers' bits per byte."
    )
    return arrays, raw, data


def _chat_base(raw: dict, path: Path, uri: str, adapt: tuple[str, ...], max_rank: int) -> bytes:
    """Add ``chat.base`` to ``raw`` for the base model at ``path``; return its bytes."""
    import hashlib

    import onnx

    from ..evaluation.checks import CheckError, check_model_bytes

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TaskInitError(f"--base {path}: {exc.strerror or exc}") from None
    plain = TaskSpec.model_validate(raw)
    try:
        check_model_bytes(data, plain, None)
    except CheckError as exc:
        raise TaskInitError(f"--base {path} does not fit the task's spec: {exc}") from None
    names = [i.name for i in onnx.load_model_from_string(data).graph.initializer
             if len(i.dims) == 2]  # fmt: skip
    wanted = tuple(f".{m}.weight" for m in adapt)
    adaptable = sorted(n for n in names if n.removesuffix(".T").endswith(wanted))
    if not adaptable:
        named = sorted(n for n in names if n.removesuffix(".T").endswith(".weight"))[:12]
        raise TaskInitError(
            f"--base {path}: no 2-D weight of the modules {list(adapt)} (named "
            f"<...>.<module>.weight[.T]); its named weights start with {named} (export it with "
            "ape_arena.evaluation.hf.export_causal_lm)"
        )
    if not 1 <= max_rank <= 256:
        raise TaskInitError(f"--max-rank {max_rank}: allowed 1..256")
    raw["chat"]["base"] = {"model_sha256": hashlib.sha256(data).hexdigest(), "model_uri": uri,
                           "adaptable": adaptable, "max_rank": max_rank}  # fmt: skip
    return data


def _name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip(".-") or "task"
    return ("t_" + cleaned if not re.match(r"[A-Za-z_]", cleaned) else cleaned)[:128]


def _read_text_bytes(src: Path) -> bytes:
    files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    data = b"".join(p.read_bytes() for p in files)
    if len(data) < 2:
        raise TaskInitError(f"{src}: needs at least 2 bytes of text, found {len(data)}")
    return data


def _read_table(src: Path) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 [N, ...], target [N] or [N, D]) from an npz, npy folder or csv."""
    if src.is_dir():
        fx, fy = src / "features.npy", src / "target.npy"
        if not (fx.is_file() and fy.is_file()):
            raise TaskInitError(f"{src}: a data folder needs features.npy and target.npy")
        x, y = _npy(fx), _npy(fy)
    elif src.suffix == ".npz":
        with np.load(src, allow_pickle=False) as npz:
            keys = set(npz.files)
            for fk, tk in (("features", "target"), ("X", "y"), ("x", "y")):
                if {fk, tk} <= keys:
                    x, y = npz[fk], npz[tk]
                    break
            else:
                raise TaskInitError(
                    f"{src}: needs arrays 'features' and 'target' (or 'X' and 'y'); it has "
                    f"{', '.join(sorted(keys)) or 'none'}"
                )
    elif src.suffix == ".csv":
        x, y = _csv(src)
    else:
        raise TaskInitError(f"{src}: use a .npz, a .csv or a folder with features.npy/target.npy")
    if x.ndim < 2:
        x = x.reshape(len(x), 1)
    if len(x) != len(y):
        raise TaskInitError(f"{src}: {len(x)} feature rows but {len(y)} targets")
    if not np.issubdtype(x.dtype, np.number):
        raise TaskInitError(f"{src}: features must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise TaskInitError(f"{src}: features of row {row} are not all finite numbers")
    return x, y


def _npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise TaskInitError(f"{path}: not a plain numeric .npy ({exc})") from None


def _csv(src: Path) -> tuple[np.ndarray, np.ndarray]:
    import csv

    rows: list[list[float]] = []
    with open(src, newline="") as fh:
        for i, line in enumerate(csv.reader(fh)):
            if not line or all(not c.strip() for c in line):
                continue
            try:
                rows.append([float(c) for c in line])
            except ValueError:
                if i == 0 and not rows:
                    continue  # a header row
                bad = next(c for c in line if not _is_number(c))
                raise TaskInitError(
                    f"{src}: line {i + 1}, column {line.index(bad) + 1}: {bad!r} is not a number"
                ) from None
    if not rows:
        raise TaskInitError(f"{src}: no data rows")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise TaskInitError(f"{src}: data row {i + 1} has {len(r)} columns, the first {width}")
    if width < 2:
        raise TaskInitError(f"{src}: needs at least 2 columns (features, then the target last)")
    table = np.asarray(rows, dtype=np.float64)
    return table[:, :-1], table[:, -1]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _class_ids(y: np.ndarray, src: Path) -> np.ndarray:
    y = np.asarray(y).reshape(-1) if np.asarray(y).ndim > 1 and y.shape[1:] == (1,) else y
    if y.ndim != 1:
        raise TaskInitError(
            f"{src}: a classification target is one class id per row, got {y.shape}"
        )
    if not np.all(np.isfinite(y.astype(np.float64))) or np.any(y != np.round(y)) or np.any(y < 0):
        row = int(np.argwhere((y != np.round(y)) | (y < 0) | ~np.isfinite(y.astype(float)))[0][0])
        raise TaskInitError(
            f"{src}: classification targets must be class ids 0, 1, 2, ...; row {row} has {y[row]!r}"
        )
    return y.astype(np.int64)
