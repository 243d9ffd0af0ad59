"""The isolated scoring worker (DESIGN §4.3): one process that runs untrusted ONNX models.

``Engine`` (engine.py) starts it as ``python -m ape_arena.evaluation.worker --fd N --memory-limit B``
with one end of a socket pair as file descriptor N. The worker

1. caps its own address space (``RLIMIT_AS``) before importing anything heavy,
2. receives the init message (spec JSON, shard path + sha256, threads, device),
3. reads the eval shard **once** from the file, checks its sha256 on the very bytes it
   parses (no check-then-use gap), validates it against the spec and keeps it,
4. then serves ``score`` requests until told to exit or killed: read the model file once
   and run every static check (``checks.check_model_bytes``: hash, size, rules) on exactly
   those bytes, here under the worker's limits rather than in the validator's process;
   build an onnxruntime session, run it over the shard in ``spec.limits.max_batch_rows``
   batches, check every output (shape, dtype, finiteness), feed it to
   ``arena_kernels.metric_rows`` and reduce all per-row values once with ``exact_total``.
   On the CPU the cross-entropy metrics (float32 logits) instead run inside the model's
   graph (``fused.py``: onnxruntime's log-softmax and a gather of each row's target, plus
   a finiteness sum), so the logits never leave onnxruntime; a model whose batches are
   not all ordinary (non-finite, wrong shape, an onnxruntime error) is scored again on
   the plain path, which alone decides INVALID and why.
5. probes row independence (``Scorer._probe``): ``PROBE_ROWS`` rows chosen from the
   shard's hash are scored again together and each alone; a row whose loss moves by more
   than ``PROBE_ATOL + PROBE_RTOL * |loss|`` makes the model INVALID ``batch_dependent``.

Messages are length-prefixed JSON (``multiprocessing.connection``'s framing, never pickle:
the parent does not unpickle anything a worker that ran untrusted code sends). Floats cross
as ``float.hex`` strings so totals arrive bit-exact.

Determinism: onnxruntime runs with ``use_deterministic_compute``, sequential execution, a
fixed graph-optimisation level and a fixed thread count; batches are the spec's
``max_batch_rows`` (so every validator cuts the shard the same way); per-row metric values
are summed exactly (``math.fsum``), so the total is independent of batching and threads of
the metric. On the CPU path the metric of batch k runs on a helper thread while onnxruntime
computes batch k+1 (results are consumed in batch order, so this changes no number); for
wide outputs (token logits, >= ``SPLIT_MIN_ELEMS`` per row) the metric instead runs between
batches with the batch's rows split over ``metric_workers`` threads, which on a small
machine beats making it compete with onnxruntime for the cores.

GPU path: when the session's active providers start with ``CUDAExecutionProvider`` and torch
sees CUDA, inputs are uploaded once, outputs stay on the device through IOBinding and reach
the Triton metric kernels through DLPack. ``select_providers``/``select_path`` hold that
decision and are unit-tested on CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
GRAPH_OPT_LEVELS = ("disable", "basic", "extended", "all")

# Runtime reason codes (static ones come from checks.CheckError.code).
LOAD_FAILED = "load_failed"
RUNTIME_ERROR = "runtime_error"
MEMORY_LIMIT = "memory_limit"
OUTPUT_SHAPE = "output_shape"
OUTPUT_DTYPE = "output_dtype"
NON_FINITE = "non_finite"
NO_ROWS = "no_rows"
BATCH_DEPENDENT = "batch_dependent"

#: Row-independence probe (``Scorer._probe``): how many rows it re-scores and the tolerance
#: on each row's loss, ``|in_batch - elsewhere| <= PROBE_ATOL + PROBE_RTOL * |in_batch|``.
#: Honest float32 kernels round differently at different batch sizes; the largest gap
#: measured on the fixture models (MLP, CNN, GRU, conv, transformer, skl2onnx exports, at
#: batch 1, 7 and 1,024) is far below this (see the README's spec section).
PROBE_ROWS = 8
PROBE_RTOL = 1e-4
PROBE_ATOL = 1e-5

#: output elements per row from which the CPU path scores a batch's metric between batches
#: (split over threads) instead of overlapping it with the next batch's inference
SPLIT_MIN_ELEMS = 4096

_ALLOC_MARKERS = ("bad_alloc", "failed to allocate", "allocate memory", "out of memory")


#: Markers of graphs whose onnxruntime result depends on the intra-op thread count: the
#: ai.onnx.ml tree ensembles split their trees over threads and sum the parts in a
#: thread-dependent order (a RandomForest's score moved by 117 units over 1-8 threads).
#: Such a graph runs with one intra-op thread, whatever the validator's CPU count;
#: parallelism comes from the workers. The marker is searched in the model bytes (a
#: false positive only costs speed, never agreement).
THREAD_SENSITIVE_MARKERS = (b"ai.onnx.ml",)


def session_threads(model: bytes, threads: int) -> int:
    """The intra-op threads to score ``model`` with: 1 for a thread-sensitive graph."""
    return 1 if any(marker in model for marker in THREAD_SENSITIVE_MARKERS) else threads


class ShardError(RuntimeError):
    """The eval shard cannot be used (wrong sha256, unreadable, does not fit the spec)."""


class DeviceError(RuntimeError):
    """``device="cuda"`` was requested but no CUDA session/tensor path is available."""


class MachineFault(RuntimeError):
    """A fault of the validator's own machine (device, driver, compiler, CUDA runtime) met
    while scoring a model: the worker answers ``status="fault"`` and the engine stops the
    round with ``ValidatorFault``; the model is never marked INVALID for it."""


class ModelInvalid(Exception):
    """A model is INVALID for a runtime reason (``code``, ``reason``)."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# ----------------------------------------------------------------------------- device choice
#: onnxruntime's CUDA provider, set for reproducible scores: no TF32 (10-bit mantissas moved a
#: digits MLP's score by up to 182,214 units), cuDNN's heuristic convolution choice instead
#: of the default EXHAUSTIVE timing search (whose pick can change between sessions), one
#: device. ``gpu_mem_limit`` is added per worker (``cuda_options``).
CUDA_PROVIDER_OPTIONS: dict[str, str] = {
    "device_id": "0",
    "use_tf32": "0",
    "cudnn_conv_algo_search": "HEURISTIC",
    "cudnn_conv_use_max_workspace": "0",
}


def select_providers(device: str, available: Sequence[str]) -> list[Any]:
    """Execution providers to request for ``device`` given onnxruntime's available list.

    ``"cpu"``: CPU only. ``"auto"``/``"cuda"``: CUDA first when the installed onnxruntime
    offers it (``onnxruntime-gpu`` lists it even on machines without a GPU, so the session's
    *active* providers decide, see ``select_path``).
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device != "cpu" and CUDA_EP in available:
        return [(CUDA_EP, dict(CUDA_PROVIDER_OPTIONS)), CPU_EP]
    if device == "cuda":
        raise DeviceError(
            "device='cuda' but this onnxruntime offers no CUDAExecutionProvider; install the "
            "`gpu` extra (onnxruntime-gpu) or use device='cpu'"
        )
    return [CPU_EP]


def select_path(device: str, session_providers: Sequence[str], cuda_available: bool) -> str:
    """``"cuda"`` (IOBinding + DLPack + Triton) or ``"cpu"`` for one live session.

    CUDA only when the session really runs on ``CUDAExecutionProvider`` (its first active
    provider) *and* torch can see a CUDA device; anything else is the CPU path.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    on_cuda = bool(session_providers) and session_providers[0] == CUDA_EP and cuda_available
    if device == "cuda" and not on_cuda:
        raise DeviceError(
            f"device='cuda' but the session runs on {list(session_providers)} and torch "
            f"cuda available={cuda_available}"
        )
    if device == "cpu":
        return "cpu"
    return "cuda" if on_cuda else "cpu"


# ----------------------------------------------------------------------------- shard
def sha256_hex(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified_file(path: str, expected_sha256: str, what: str, advice: str = "") -> bytes:
    """A file read once, its sha256 checked on exactly those bytes (no check-then-use gap;
    ``ShardError``: an input of the round, not a submission)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ShardError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    digest = sha256_hex(data)
    if digest != expected_sha256:
        raise ShardError(
            f"{what} {path} has sha256 {digest} but the task commits to {expected_sha256}{advice}"
        )
    return data


def read_verified(path: str, expected_sha256: str) -> bytes:
    """Read the eval shard once and check its sha256 on exactly those bytes."""
    return read_verified_file(
        path, expected_sha256, "eval shard", "; refusing to score on it (re-fetch the shard)"
    )


def load_shard_arrays(
    path: str, spec: Any, expected_sha256: str, max_bytes: int = 8 * 2**30
) -> dict[str, Any]:
    """The shard's arrays, loaded once: inputs by ``data_key``, target, optional mask.

    The sha256 is checked on exactly the bytes that are parsed (no check-then-use gap), the
    npz's declared unpacked size is capped (zip bombs), and the arrays are validated against
    the spec with ``shards.check_arrays`` (keys, dtypes, ranks, fixed dims, row counts,
    target ids). Raises ``ShardError`` saying what is wrong.
    """
    import zipfile

    import numpy as np

    data = read_verified(path, expected_sha256)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
        if unpacked > max_bytes:
            raise ShardError(f"eval shard {path} unpacks to {unpacked} bytes > {max_bytes}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: np.ascontiguousarray(npz[key]) for key in npz.files}
    except ShardError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad shard
        raise ShardError(f"eval shard {path} is not a readable .npz file: {exc}") from None
    del data
    try:
        from .shards import ShardError as FormatError
        from .shards import check_arrays
    except ImportError:  # pragma: no cover - shards.py is part of the plugin
        check_arrays, FormatError = _check_arrays_minimal, ShardError
    try:
        check_arrays(arrays, spec)
    except FormatError as exc:
        raise ShardError(f"eval shard {path} does not fit the task spec: {exc}") from None
    return arrays


def _check_arrays_minimal(arrays: dict[str, Any], spec: Any) -> None:
    import numpy as np

    wanted = [(t.data_key, t.dtype, t.shape) for t in spec.inputs]
    wanted.append((spec.data.target_key, spec.target_dtype, spec.target_shape))
    for key, dtype, shape in wanted:
        arr = arrays.get(key)
        if arr is None or arr.dtype != np.dtype(dtype) or arr.ndim != len(shape):
            raise ShardError(f"array {key!r} is missing or not {dtype} of rank {len(shape)}")
    if len({a.shape[0] for a in arrays.values()}) != 1:
        raise ShardError("shard arrays disagree on the number of rows")


def bind_symbols(spec: Any, arrays: dict[str, Any]) -> dict[str, int]:
    """Sizes of the spec's symbolic non-batch dims, read off the shard arrays."""
    bound: dict[str, int] = {}
    shapes = [(t.shape, arrays[t.data_key].shape) for t in spec.inputs]
    shapes.append((spec.target_shape, arrays[spec.data.target_key].shape))
    for sym_shape, real in shapes:
        for need, have in zip(sym_shape[1:], real[1:], strict=True):
            if isinstance(need, str):
                if bound.setdefault(need, int(have)) != int(have):
                    raise ShardError(
                        f"eval shard binds dim {need!r} to both {bound[need]} and {have}"
                    )
    return bound


def probe_rows(shard_sha256: str, rows: int, k: int = PROBE_ROWS) -> list[int]:
    """The rows the row-independence probe re-scores, in the order it batches them: the
    first ``min(k, rows)`` distinct values of ``sha256("arena-probe:<shard>:<i>") mod rows``
    for ``i = 0, 1, ...``. They depend only on the shard's hash, so every validator of a
    round probes the same rows in the same order, and a model cannot know them in advance."""
    picked: list[int] = []
    i = 0
    while len(picked) < min(k, rows):
        digest = hashlib.sha256(f"arena-probe:{shard_sha256}:{i}".encode()).digest()
        row = int.from_bytes(digest[:8], "big") % rows
        if row not in picked:
            picked.append(row)
        i += 1
    return picked


def expected_output_shape(spec: Any, rows: int, bound: dict[str, int]) -> tuple[int | None, ...]:
    """Output shape for a batch of ``rows``: fixed dims, bound symbols, None = any size."""
    out: list[int | None] = [rows]
    for d in spec.output.shape[1:]:
        out.append(d if isinstance(d, int) else bound.get(d))
    return tuple(out)


# ----------------------------------------------------------------------------- scoring
class Scorer:
    """Holds the spec and the shard; scores one model file at a time."""

    def __init__(self, init: dict[str, Any]):
        import numpy as np
        import onnxruntime as ort

        from .spec import TaskSpec

        self.np = np
        self.ort = ort
        self.spec = TaskSpec.from_json(init["spec_json"])
        self.threads = int(init["threads"])
        self.device = init.get("device", "auto")
        self.graph_opt = init.get("graph_opt", "all")
        self.pipeline = bool(init.get("pipeline", True))
        self.max_model_bytes = self.spec.limits.max_bytes
        self.arrays = load_shard_arrays(init["shard_path"], self.spec, init["shard_sha256"])
        self.base = None  # the committed base model LoRA adapters merge into
        self.base_shapes: dict[str, tuple[int, ...]] = {}
        if self.spec.chat is not None and self.spec.chat.base is not None:
            self._load_base(init.get("base_path"))
        self.rows = next(iter(self.arrays.values())).shape[0]
        # chat bits per byte: the shard's UTF-8 byte count is the score's denominator
        self.byte_count = (
            int(self.arrays[self.spec.chat.bytes_key].sum()) if self.spec.chat is not None else 0
        )
        self.bound = bind_symbols(self.spec, self.arrays)
        self.batch_rows = self.spec.limits.max_batch_rows
        self.probe = probe_rows(init["shard_sha256"], self.rows) if init.get("probe", True) else []
        self._probe_main: dict[int, Any] = {}
        self._probe_gap = 0.0
        self.providers = select_providers(self.device, ort.get_available_providers())
        gpu_mem_limit = int(init.get("gpu_mem_limit") or 0)
        if gpu_mem_limit and self.providers and isinstance(self.providers[0], tuple):
            # the device's memory capped like the host's: the same verdict on CPU and GPU
            self.providers[0][1]["gpu_mem_limit"] = str(gpu_mem_limit)
        self._gpu_arrays: dict[str, Any] | None = None
        self._cuda_broken = ""  # why the CUDA path failed once ("auto" then stays on the CPU)

        import torch

        if self.device == "auto" and self.providers[0] != CPU_EP and not torch.cuda.is_available():
            # onnxruntime-gpu lists CUDA on machines without a usable GPU: say so and score
            # on the CPU path (in-graph metric included) rather than meet it per model
            print("onnxruntime offers CUDA but torch sees no GPU: scoring on the CPU",
                  file=sys.stderr)  # fmt: skip
            self.providers = [CPU_EP]
        # reproducible CUDA numerics for the metric kernels' torch side (no-ops on the CPU)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

        # Per-row metric values depend neither on torch's thread count nor on the batch
        # (arena_kernels sums each row sequentially), so batches' metrics may run on
        # ``metric_workers`` threads at once. One torch thread each: torch's own pool spins
        # and collapses when it shares the cores with onnxruntime (measured ~4x slower).
        self.metric_threads = int(init.get("metric_threads") or 1)
        self.metric_workers = max(1, int(init.get("metric_workers") or self.threads))
        torch.set_num_threads(self.metric_threads)
        self.spinning = bool(init.get("spinning", not self.pipeline))
        # Wide outputs (token logits): the metric costs a large fraction of inference and
        # both compete for the same cores, so overlapping them only adds contention
        # (onnxruntime's parallel sections wait for a descheduled thread). Then the metric
        # of a batch runs between batches, split over ``metric_workers`` threads instead.
        per_row = expected_output_shape(self.spec, 1, self.bound)
        wide = math.prod(d if d is not None else 1 << 16 for d in per_row) >= SPLIT_MIN_ELEMS
        self.overlap = self.pipeline and not wide
        self.torch = torch
        from arena_kernels.metrics import NLL_METRICS, exact_total, metric_rows, nll_metric_rows

        self.metric_rows = metric_rows
        self.nll_metric_rows = nll_metric_rows
        # CPU path of the cross-entropy metrics: the metric runs inside the model's graph
        # (fused.py), the plain path stays the arbiter for anything unusual.
        self.fuse = (
            bool(init.get("fuse", True))
            and self.spec.metric in NLL_METRICS
            and self.spec.output.dtype == "float32"
            and self.providers == [CPU_EP]
        )
        self.exact_total = exact_total
        if self.fuse:  # the fused graph's gather index: any valid id where rows are ignored
            target = self.arrays[self.spec.data.target_key]
            ignored = target == self.spec.data.ignore_index
            self._gather_index = np.where(ignored, 0, target)[..., None]
        self._pool = None
        self._infer_s = self._metric_s = 0.0
        self._external: tuple[Any, Any] | None = None  # (External, its verified bytes)

    def _load_base(self, path: str | None) -> None:
        """Read the base model once, its sha256 checked on the bytes that are parsed."""
        import onnx

        from .adapter import base_shapes

        want = self.spec.chat.base.model_sha256
        if not path:
            raise ShardError("the task has a base model but the engine was given none (base_path)")
        data = read_verified_file(path, want, "the base model")
        self.base = onnx.load_model_from_string(data)
        self.base_shapes = base_shapes(self.base)

    # -- onnxruntime
    def session_options(self, threads: int):
        """Options of every session; ``threads`` from ``session_threads``."""
        ort = self.ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.graph_opt]
        so.use_deterministic_compute = True
        # Busy-waiting onnxruntime threads would steal the cores the metric thread needs.
        so.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if self.spinning else "0"
        )
        so.log_severity_level = 3
        if self._external is not None:  # weights from memory: onnxruntime opens no file
            from .external import add_to_session

            add_to_session(so, *self._external)
        return so

    def load_session(self, model: bytes, threads: int):
        try:
            return self.ort.InferenceSession(
                model, sess_options=self.session_options(threads), providers=self.providers
            )
        except Exception as exc:  # noqa: BLE001 - whatever onnxruntime refuses is INVALID
            error = exc
        if self.device == "auto" and self.providers != [CPU_EP]:
            # A CUDA problem (driver, unsupported op on the device) must not make a model
            # INVALID that the CPU can run: "auto" then scores this model on the CPU.
            try:
                sess = self.ort.InferenceSession(
                    model, sess_options=self.session_options(threads), providers=[CPU_EP]
                )
            except Exception:  # noqa: BLE001 - fails on the CPU too: the model's fault
                pass
            else:
                print(f"CUDA session failed ({error}); scoring on the CPU", file=sys.stderr)
                return sess
        raise _classify(error, LOAD_FAILED, "onnxruntime cannot load the model") from None

    # -- one model
    def score(self, path: str, expected_sha256: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        self._external = None
        try:
            model = self._read_checked(path, expected_sha256)
            check_s = time.perf_counter() - t0
            self._infer_s = self._metric_s = 0.0
            self._probe_main = {}
            self._probe_gap = 0.0
            threads = session_threads(model, self.threads)
            fused = self._run_fused(model, threads) if self.fuse else None
            if fused is not None:
                values, count = fused
                path_kind = "cpu-fused"
                del model
            else:
                box = [model]  # the helper drops the bytes as soon as no path needs them
                del model
                values, count, path_kind = self._score_plain(box, threads)
            if count <= 0:
                raise ModelInvalid(NO_ROWS, "the shard has no scored rows (all masked)")
            total = self.exact_total(self.np.concatenate(values))
            if self.spec.counts_bytes:  # chat bits per byte: nats -> bits, over the bytes
                total, count = total / math.log(2.0), self.byte_count
            if not math.isfinite(total):
                raise ModelInvalid(NON_FINITE, "non-finite loss total")
            return {
                "status": "ok",
                "total": float(total).hex(),
                "count": int(count),
                "path": path_kind,
                "seconds": time.perf_counter() - t0,
                "check_seconds": check_s,
                "probe_gap": self._probe_gap,
                "infer_seconds": self._infer_s,
                "metric_seconds": self._metric_s,
            }
        except ModelInvalid as exc:
            return _invalid(exc.code, exc.reason, t0)
        except MachineFault as exc:
            return {"status": "fault", "error": str(exc), "seconds": time.perf_counter() - t0}
        except MemoryError:
            return _invalid(MEMORY_LIMIT, "ran out of memory (worker memory limit)", t0)
        except Exception as exc:  # noqa: BLE001 - a model must never take the worker down
            err = _classify(exc, RUNTIME_ERROR, "onnxruntime failed while running the model")
            return _invalid(err.code, err.reason, t0)
        finally:
            self._external = None  # the data's mapping closes with its last reference

    def _score_plain(self, box: list[bytes], threads: int) -> tuple[list[Any], int, str]:
        """Score the model in ``box`` (emptied on the way) on the session's path, then
        probe it. A CUDA failure that is no model verdict goes to ``_cuda_failed``: with
        ``device="auto"`` the model is scored again from the start on the CPU."""
        self._probe_main = {}
        self._probe_gap = 0.0
        sess = self.load_session(box[0], threads)
        try:
            path_kind = select_path(
                self.device, sess.get_providers(), self._cuda_available(sess.get_providers())
            )
        except DeviceError as exc:
            raise MachineFault(str(exc)) from None
        if path_kind == "cuda" and not (self._cuda_broken and self.device == "auto"):
            try:
                return (*self._run_and_probe(sess, "cuda"), "cuda")
            except (ModelInvalid, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - the device's fault, not the model's
                self._cuda_failed(exc)
            self._probe_main = {}
            self._probe_gap = 0.0
            path_kind = "cpu"
            sess = self._cpu_session(box[0], threads)
        elif path_kind == "cuda":
            path_kind = "cpu"
            sess = self._cpu_session(box[0], threads)
        box.clear()
        return (*self._run_and_probe(sess, path_kind), path_kind)

    def _run_and_probe(self, sess: Any, path_kind: str) -> tuple[list[Any], int]:
        if path_kind == "cuda":
            values, count = self._run_cuda(sess)
        else:
            values, count = self._run_cpu(sess)
        if count > 0:
            self._probe(lambda rows: self._rows_plain(sess, rows, path_kind), self._plain_losses)
        return values, count

    def _cuda_failed(self, exc: BaseException) -> None:
        """The CUDA path raised something other than a model verdict (a CUDA runtime error,
        a Triton launcher that cannot be built, a driver fault). With ``device="cuda"`` that
        stops the round (``MachineFault``); with ``"auto"`` this worker scores this model and
        every later one on the CPU, whose verdict every validator shares."""
        text = str(exc).strip()
        first = (text.splitlines()[0] if text else type(exc).__name__)[:300]
        why = f"{type(exc).__name__}: {first}"
        if self.device == "cuda":
            raise MachineFault(
                f"the CUDA path failed ({why}); this is a fault of this machine's GPU, driver "
                "or compiler, not of the model: fix it or score with --device cpu"
            ) from None
        if not self._cuda_broken:
            print(f"CUDA path failed ({why}); scoring on the CPU from now on", file=sys.stderr)
        self._cuda_broken = why

    def _cpu_session(self, model: bytes, threads: int):
        try:
            return self.ort.InferenceSession(
                model, sess_options=self.session_options(threads), providers=[CPU_EP]
            )
        except Exception as exc:  # noqa: BLE001 - the CPU refuses it: the model's fault
            raise _classify(exc, LOAD_FAILED, "onnxruntime cannot load the model") from None

    def _read_checked(self, path: str, expected_sha256: str) -> bytes:
        """The model's bytes, read once, after every static check (``checks.py``) passed on
        exactly those bytes. The checks run here, inside the worker, so a pathological graph
        meets the worker's memory limit and the engine's time limit, never the validator's
        own process."""
        from .checks import CheckError, check_model_bytes

        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                model = fh.read(self.max_model_bytes + 1)
        except OSError as exc:
            raise ModelInvalid("unreadable", f"cannot read the model file: {exc}") from None
        if len(model) > self.max_model_bytes:
            raise ModelInvalid(
                "too_large",
                f"model file is {max(size, len(model))} bytes; the task allows at most "
                f"{self.max_model_bytes}",
            )
        if self.base is not None:
            from .adapter import is_adapter

            if is_adapter(model):
                return self._merged_adapter(model, expected_sha256)
        try:
            info = check_model_bytes(model, self.spec, expected_sha256)
        except CheckError as exc:
            raise ModelInvalid(exc.code, exc.reason) from None
        if info.external is not None:
            self._read_external(path, info.external, len(model))
        return model

    def _read_external(self, path: str, ext: Any, model_size: int) -> None:
        """The model's external-data file, from the model's own folder only (by sha256 or
        by the bare location name; ``external.py``), verified, kept for ``session_options``
        until the model is scored."""
        from .external import ExternalDataError, read_local

        try:
            self._external = (ext, read_local(path, ext, self.max_model_bytes - model_size))
        except ExternalDataError as exc:
            raise ModelInvalid(exc.code, exc.reason) from None

    def _merged_adapter(self, data: bytes, expected_sha256: str) -> bytes:
        """A LoRA adapter (``adapter.py``): its hash checked on its own bytes, its rules
        checked against the spec and the base, merged into the base, and the merged model
        put through every static check."""
        import hashlib

        from .adapter import AdapterError, apply_adapter
        from .checks import CheckError, check_model_bytes

        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256.lower().removeprefix("0x"):
            raise ModelInvalid(
                "sha256_mismatch",
                f"file sha256 is {digest} but the expected (on-chain) hash is {expected_sha256}",
            )
        try:
            merged = apply_adapter(data, self.base, self.base_shapes, self.spec.chat)
        except AdapterError as exc:
            raise ModelInvalid(exc.code, exc.reason) from None
        try:
            check_model_bytes(merged, self.spec, None)
        except CheckError as exc:
            raise ModelInvalid(exc.code, f"the merged model: {exc.reason}") from None
        return merged

    # -- row independence
    def _keep_probe(self, out: Any, s: int, e: int) -> None:
        """Keep the outputs of the probe's rows in batch ``s:e`` as the main pass saw them."""
        for row in self.probe:
            if s <= row < e:
                part = out[row - s]
                self._probe_main[row] = part.clone() if hasattr(part, "clone") else part.copy()

    def _probe(self, run: Any, losses: Any) -> bool:
        """The row-independence probe: the probe rows (``probe_rows``) are scored again,
        all together in one batch (in the probe's order) and each alone (batch of 1), and
        every row's loss there must match its loss in its batch of the main pass within
        ``PROBE_ATOL + PROBE_RTOL * |loss|``; else the model is INVALID ``batch_dependent``
        (a model must score each row on its own, not adapt to the batch it sees).

        ``run(rows)`` returns the outputs of those rows batched together (``None``: the
        fused path gives up, the caller falls back to the plain path), ``losses(outputs,
        rows)`` each row's loss. Returns False when ``run`` gave up."""
        if not self.probe or len(self._probe_main) != len(self.probe):
            return True
        t0 = time.perf_counter()
        rows = self.probe
        stack = self.torch.stack if hasattr(self._probe_main[rows[0]], "clone") else self.np.stack
        main = losses(stack([self._probe_main[r] for r in rows]), rows)
        main_at = {r: float(v) for r, v in zip(rows, main, strict=True)}
        try:
            for batch in [rows] + [[r] for r in rows]:
                out = run(batch)
                if out is None:
                    return False
                for r, got in zip(batch, losses(out, batch), strict=True):
                    want = main_at[r]
                    allowed = PROBE_ATOL + PROBE_RTOL * abs(want)
                    gap = abs(float(got) - want) / allowed
                    self._probe_gap = max(self._probe_gap, gap) if gap == gap else math.inf
                    if not gap <= 1.0:
                        n = min(self.rows, (r // self.batch_rows + 1) * self.batch_rows) - (
                            r // self.batch_rows * self.batch_rows
                        )
                        raise ModelInvalid(
                            BATCH_DEPENDENT,
                            f"row {r}'s loss is {want:.9g} in its batch of {n} rows but "
                            f"{float(got):.9g} in a batch of {len(batch)} (allowed gap "
                            f"{PROBE_ATOL:g} + {PROBE_RTOL:g} x |loss|): the model's output "
                            "for a row depends on the other rows of its batch",
                        )
        finally:
            self._infer_s += time.perf_counter() - t0
        return True

    def _take(self, key: str, rows: list[int]) -> Any:
        return self.arrays[key][rows]

    def _rows_plain(self, sess: Any, rows: list[int], path_kind: str) -> Any:
        """Outputs of ``rows`` batched together, through ``sess`` (plain CPU or CUDA path),
        with the main pass's output checks."""
        feeds = {t.name: self._take(t.data_key, rows) for t in self.spec.inputs}
        (out,) = sess.run([self.spec.output.name], feeds)
        self._check_output(out.shape, out.dtype.name, len(rows))
        if out.size and not _all_finite(self.np, self.torch, out):
            raise ModelInvalid(NON_FINITE, f"non-finite output (probe rows {rows})")
        if path_kind == "cuda":  # pragma: no cover - needs a GPU
            return self.torch.from_numpy(out).to("cuda")
        return out

    def _plain_losses(self, out: Any, rows: list[int]) -> Any:
        """Each row's loss from the model's outputs (``error_rate`` compares the rows'
        cross entropy: a 0/1 error would flip on honest rounding at a near tie)."""
        data = self.spec.data
        target = self._take(data.target_key, rows)
        mask = self._take(data.mask_key, rows) if data.mask_key else None
        if hasattr(out, "clone") and out.is_cuda:  # pragma: no cover - needs a GPU
            target = self.torch.from_numpy(target).to("cuda")
            mask = None if mask is None else self.torch.from_numpy(mask).to("cuda")
        metric = "cross_entropy" if self.spec.metric == "error_rate" else self.spec.row_metric
        try:
            values = self.metric_rows(
                metric, out, target, mask=mask, ignore_index=data.ignore_index
            )
        except ValueError as exc:
            raise ModelInvalid(OUTPUT_SHAPE, f"metric rejects the output: {exc}") from None
        return values.values.reshape(len(rows), -1).sum(axis=1)

    def _cuda_available(self, providers: Sequence[str]) -> bool:
        if not providers or providers[0] != CUDA_EP:
            return False
        return bool(self.torch.cuda.is_available())

    def _batches(self):
        for start in range(0, self.rows, self.batch_rows):
            yield start, min(self.rows, start + self.batch_rows)

    def _feeds(self, s: int, e: int) -> dict[str, Any]:
        """onnxruntime feeds of rows ``s:e`` (views into the shard's inputs)."""
        return {t.name: self.arrays[t.data_key][s:e] for t in self.spec.inputs}

    def _target_and_mask(self, s: int, e: int) -> tuple[Any, Any]:
        """The shard's target rows ``s:e`` and its mask rows (``None`` without a mask)."""
        data = self.spec.data
        mask = self.arrays[data.mask_key][s:e] if data.mask_key else None
        return self.arrays[data.target_key][s:e], mask

    def _check_output(self, shape: tuple[int, ...], dtype: str, rows: int) -> None:
        want = expected_output_shape(self.spec, rows, self.bound)
        if len(shape) != len(want) or any(
            w is not None and w != h for h, w in zip(shape, want, strict=True)
        ):
            shown = ["?" if w is None else w for w in want]
            raise ModelInvalid(
                OUTPUT_SHAPE, f"output has shape {list(shape)} at run time; expected {shown}"
            )
        if dtype != self.spec.output.dtype:
            raise ModelInvalid(
                OUTPUT_DTYPE, f"output dtype is {dtype}; the spec requires {self.spec.output.dtype}"
            )

    def _metric(self, out, target, mask, checked: bool = False):
        """The batch's ``MetricRows``; with ``checked`` (CUDA path) ``(MetricRows,
        non-finite count)``, the count from the metric kernel's own pass."""
        from arena_kernels.metrics import metric_rows_checked

        rows = metric_rows_checked if checked else self.metric_rows
        try:
            return rows(
                self.spec.row_metric, out, target, mask=mask,
                ignore_index=self.spec.data.ignore_index,
            )  # fmt: skip
        except ValueError as exc:
            raise ModelInvalid(OUTPUT_SHAPE, f"metric rejects the output: {exc}") from None

    def _cpu_batch_metric(self, out, s: int, e: int):
        t0 = time.perf_counter()
        try:
            return self._cpu_batch_metric_inner(out, s, e)
        finally:
            self._metric_s += time.perf_counter() - t0

    def _cpu_batch_metric_inner(self, out, s: int, e: int):
        np = self.np
        # NaN propagates through min/max and inf shows as an extreme: one fused pass
        # (torch's aminmax; min and max are exact, so threads and order do not matter).
        if out.size and not _all_finite(np, self.torch, out):
            raise ModelInvalid(NON_FINITE, f"non-finite output (rows {s}..{e - 1})")
        rows = self._metric(out, *self._target_and_mask(s, e))
        return rows.values, rows.count

    def _run_cpu(self, sess) -> tuple[list[Any], int]:
        """Run every batch; metrics run on ``metric_workers`` threads while onnxruntime
        computes the next batches. Results are taken in batch order, so the first failing
        batch decides the reason and the values are the same as without the pipeline."""
        from collections import deque

        out_name = self.spec.output.name
        values: list[Any] = []
        count = 0
        pool = self._thread_pool() if self.overlap else None
        pending: deque = deque()

        def collect(v_c: tuple[Any, int]) -> None:
            nonlocal count
            values.append(v_c[0])
            count += v_c[1]

        try:
            for s, e in self._batches():
                t0 = time.perf_counter()
                (out,) = sess.run([out_name], self._feeds(s, e))
                self._infer_s += time.perf_counter() - t0
                self._check_output(out.shape, out.dtype.name, e - s)
                self._keep_probe(out, s, e)
                if pool is None:
                    collect(self._split_metric(out, s, e))
                    continue
                while len(pending) >= self.metric_workers:
                    collect(pending.popleft().result())
                pending.append(pool.submit(self._cpu_batch_metric, out, s, e))
                del out
            while pending:
                collect(pending.popleft().result())
        finally:
            for fut in pending:  # only when failing: let running metrics finish, drop them
                fut.cancel()
            for fut in pending:
                if not fut.cancelled():
                    try:
                        fut.result()
                    except Exception:  # noqa: BLE001 - already failing; first error wins
                        pass
        return values, count

    def _run_fused(self, model: bytes, threads: int) -> tuple[list[Any], int] | None:
        """Score with the metric inside the graph (``fused.fuse_nll``): per batch one
        onnxruntime call returns each row's target log-probability, a finiteness sum and the
        logits' shape. ``None`` (score it on the plain path instead, from the start) when
        the graph cannot be fused or any batch is not entirely ordinary: an onnxruntime
        error, an unexpected shape, a non-finite sum or log-probability, or a row that
        fails the row-independence probe (``_probe``) here. The plain path then
        decides with its exact rules, so fusing never changes whether or why a model is
        INVALID. Time spent here before such a fallback stays in the model's times."""
        np = self.np
        from .fused import fuse_nll

        try:
            fused = fuse_nll(model, self.spec.output.name)
            if fused is None:
                return None
            graph, names = fused
            sess = self.ort.InferenceSession(
                graph, sess_options=self.session_options(threads), providers=[CPU_EP]
            )
            del graph
        except Exception:  # noqa: BLE001 - the plain path will say what is wrong
            return None
        fetch = [names.picked, names.check, names.shape]
        values: list[Any] = []
        count = 0
        for s, e in self._batches():
            feeds = self._feeds(s, e)
            feeds[names.target] = self._gather_index[s:e]
            t0 = time.perf_counter()
            try:
                picked, check, shape = sess.run(fetch, feeds)
            except Exception:  # noqa: BLE001 - includes MemoryError: the plain path decides
                return None
            t1 = time.perf_counter()
            self._infer_s += t1 - t0
            try:
                self._check_output(tuple(int(d) for d in shape), "float32", e - s)
            except ModelInvalid:
                return None
            target, mask = self._target_and_mask(s, e)
            if (
                picked.shape != (*target.shape, 1)
                or not math.isfinite(float(check))
                or not _all_finite(np, self.torch, picked)
            ):
                return None
            self._keep_probe(picked, s, e)
            rows = self.nll_metric_rows(
                self.spec.row_metric,
                -picked[..., 0],
                target,
                mask,
                ignore_index=self.spec.data.ignore_index,
            )
            values.append(rows.values)
            count += rows.count
            self._metric_s += time.perf_counter() - t1

        def run_rows(rows: list[int]) -> Any:
            feeds = {t.name: self._take(t.data_key, rows) for t in self.spec.inputs}
            feeds[names.target] = self._gather_index[rows]
            try:
                picked, check, shape = sess.run(fetch, feeds)
            except Exception:  # noqa: BLE001 - the plain path decides
                return None
            try:
                self._check_output(tuple(int(d) for d in shape), "float32", len(rows))
            except ModelInvalid:
                return None
            ordinary = (
                picked.shape == feeds[names.target].shape
                and math.isfinite(float(check))
                and _all_finite(np, self.torch, picked)
            )
            return picked if ordinary else None

        def losses(picked: Any, rows: list[int]) -> Any:
            data = self.spec.data
            mask = self._take(data.mask_key, rows) if data.mask_key else None
            nll = self.nll_metric_rows(
                self.spec.row_metric,
                -picked[..., 0],
                self._take(data.target_key, rows),
                mask,
                ignore_index=data.ignore_index,
            )
            return nll.values.reshape(len(rows), -1).sum(axis=1)

        try:
            if count > 0 and not self._probe(run_rows, losses):
                return None
        except ModelInvalid:  # batch_dependent: the plain path decides, as for all else
            return None
        return values, count

    def _split_metric(self, out, s: int, e: int) -> tuple[Any, int]:
        """Metric of one batch while onnxruntime is idle: its rows are cut into
        ``metric_workers`` parts scored on as many threads (numpy releases the GIL).
        Per-row values do not depend on the cut, so the values are the same."""
        parts = self.metric_workers if self.metric_workers > 1 and e - s > 1 else 1
        if parts == 1:
            return self._cpu_batch_metric(out, s, e)
        cuts = [s + (e - s) * i // parts for i in range(parts + 1)]
        pool = self._thread_pool()
        futs = [
            pool.submit(self._cpu_batch_metric, out[a - s : b - s], a, b)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
            if b > a
        ]
        results = [f.result() for f in futs]
        return self.np.concatenate([v for v, _ in results]), sum(c for _, c in results)

    def _thread_pool(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.metric_workers, thread_name_prefix="metric")
        return self._pool

    def _run_cuda(self, sess) -> tuple[list[Any], int]:  # pragma: no cover - needs a GPU
        torch = self.torch
        np = self.np
        if self._gpu_arrays is None:  # upload the shard once per worker
            self._gpu_arrays = {
                k: torch.from_numpy(v).to("cuda", non_blocking=False)
                for k, v in self.arrays.items()
            }
        g = self._gpu_arrays
        dev = torch.cuda.current_device()
        out_name = self.spec.output.name
        values: list[Any] = []
        count = 0
        for s, e in self._batches():
            io_binding = sess.io_binding()
            for t in self.spec.inputs:
                x = g[t.data_key][s:e]
                io_binding.bind_input(
                    t.name, "cuda", dev, np.dtype(t.dtype).type, tuple(x.shape), x.data_ptr()
                )
            io_binding.bind_output(out_name, "cuda", dev)
            sess.run_with_iobinding(io_binding)
            (ort_out,) = io_binding.get_outputs()
            try:  # zero-copy: the logits never leave the device
                out = torch.from_dlpack(ort_out)
            except (AttributeError, TypeError, RuntimeError):  # build without DLPack
                out = torch.from_numpy(ort_out.numpy()).to("cuda")
            self._check_output(tuple(out.shape), str(out.dtype).removeprefix("torch."), e - s)
            self._keep_probe(out, s, e)
            target = g[self.spec.data.target_key][s:e]
            mask = g[self.spec.data.mask_key][s:e] if self.spec.data.mask_key else None
            # the output's finiteness is counted in the metric kernel's own pass
            rows, non_finite = self._metric(out, target, mask, checked=True)
            if non_finite:
                raise ModelInvalid(NON_FINITE, f"non-finite output (rows {s}..{e - 1})")
            values.append(rows.values)
            count += rows.count
            del out, ort_out, io_binding
        return values, count


def _all_finite(np: Any, torch: Any, out: Any) -> bool:
    """True when a non-empty numpy array holds no NaN and no +-inf."""
    if out.dtype == np.float32 and out.flags.c_contiguous and out.flags.writeable:
        lo, hi = torch.aminmax(torch.from_numpy(out))
        return math.isfinite(float(lo)) and math.isfinite(float(hi))
    return bool(np.isfinite(out.min()) and np.isfinite(out.max()))


def _invalid(code: str, reason: str, t0: float) -> dict[str, Any]:
    return {
        "status": "invalid",
        "code": code,
        "reason": reason,
        "seconds": time.perf_counter() - t0,
    }


def _classify(exc: BaseException, code: str, what: str) -> ModelInvalid:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > 300:
        first = first[:297] + "..."
    if isinstance(exc, MemoryError) or any(m in text.lower() for m in _ALLOC_MARKERS):
        return ModelInvalid(MEMORY_LIMIT, f"exceeded the worker memory limit: {first}")
    return ModelInvalid(code, f"{what}: {first}")


def _vm_bytes() -> int:
    """This process's current address-space size (what ``RLIMIT_AS`` caps), 0 if unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ----------------------------------------------------------------------------- protocol
def send(conn, message: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode())


def recv(conn) -> dict[str, Any]:
    return json.loads(conn.recv_bytes())


def set_memory_limit(limit: int, kind: str = "as") -> None:
    """Cap this process's memory; 0 leaves it unlimited.

    ``kind="as"``: the address space (``RLIMIT_AS``), the CPU default. ``kind="data"``:
    private writable memory (``RLIMIT_DATA``), for GPU workers, because the CUDA driver
    reserves far more address space than it ever uses and would fail under ``RLIMIT_AS``.
    """
    if limit > 0:
        which = resource.RLIMIT_AS if kind == "as" else resource.RLIMIT_DATA
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(which, (limit, hard))


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the engine's process dies (best effort)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, 9, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ape_arena.evaluation.worker", description=__doc__
    )
    parser.add_argument("--fd", type=int, required=True, help="socket fd to the engine")
    parser.add_argument("--memory-limit", type=int, default=0, help="memory cap in bytes")
    parser.add_argument("--memory-kind", choices=("as", "data"), default="as")
    parser.add_argument("--parent", type=int, default=0, help="engine pid (exit if it is gone)")
    args = parser.parse_args(argv)
    set_memory_limit(args.memory_limit, args.memory_kind)
    die_with_parent()
    if args.parent and os.getppid() != args.parent:
        return 2  # the engine died before we could ask to die with it
    # Anything a library prints goes to the log (stderr), never into the protocol.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    from multiprocessing.connection import Connection

    conn = Connection(args.fd)
    try:
        init = recv(conn)
    except (EOFError, OSError):
        return 2
    t0 = time.perf_counter()
    try:
        scorer = Scorer(init)
    except ShardError as exc:
        send(conn, {"kind": "fatal", "code": "shard", "error": str(exc)})
        return 3
    except DeviceError as exc:
        send(conn, {"kind": "fatal", "code": "device", "error": str(exc)})
        return 3
    except MemoryError:
        send(
            conn, {"kind": "fatal", "code": "memory", "error": "worker ran out of memory at start"}
        )
        return 3
    except Exception as exc:  # noqa: BLE001
        send(conn, {"kind": "fatal", "code": "start", "error": f"{type(exc).__name__}: {exc}"})
        return 3
    send(
        conn,
        {
            "kind": "ready",
            "pid": os.getpid(),
            "rows": scorer.rows,
            "seconds": time.perf_counter() - t0,
            "vm_bytes": _vm_bytes(),
            "providers": [p if isinstance(p, str) else p[0] for p in scorer.providers],
        },
    )
    while True:
        try:
            msg = recv(conn)
        except (EOFError, OSError):
            return 0  # the engine went away
        if msg.get("kind") == "exit":
            return 0
        if msg.get("kind") == "score":
            result = scorer.score(msg["path"], msg["sha256"])
            result.update(kind="result", job=msg["job"])
            send(conn, result)


if __name__ == "__main__":
    sys.exit(main())
