"""The evaluation engine (DESIGN §4.3): a task spec + an eval shard + model files -> scores.

Example::

    from ape_arena.evaluation.engine import Engine

    with Engine(spec, "round3.npz", shard_sha256) as engine:
        results = engine.score_round([("m1.onnx", sha1), ("ipfs://…", sha2)])
    [r.score for r in results]          # uint64 fixed-point losses, INVALID = 2**64 - 1

Per round
---------
1. **Shard**: its sha256 is checked once (``start``); a mismatch raises ``ShardError``. It is
   the only failure that stops a round: with a wrong shard no model can be scored.
2. **Static checks** (``checks.check_model``) run on a background thread ahead of the
   worker, so they overlap inference of the models before.
3. **Run**: each model goes to one of ``workers`` warm, isolated worker processes
   (``worker.py``), each with the shard loaded once. On CPU the default is one
   single-threaded worker per core, scoring that many models at once (small models use a
   core far better than a thread pool spread over one small model), with the largest
   model files dispatched first so the round does not end on one long straggler. A worker
   caps its address space (``memory_limit``; ``RLIMIT_AS``, or ``RLIMIT_DATA`` where CUDA
   may be used) and dies with the engine; the engine gives
   each model ``time_limit`` seconds of wall time and kills and replaces a worker that
   overruns or dies. A dead worker is retried once on a fresh process (``crash_retries``),
   so an unrelated kill (say the OOM killer) does not turn a valid model INVALID.
4. **Score**: ``score = round_half_up(total / count * 1e9)``, computed exactly with
   ``fractions.Fraction`` from the float64 total (an exact ``math.fsum`` over every per-row
   value) and the integer count, clamped to ``[0, 2**64 - 2]``. ``2**64 - 1`` is INVALID.

Every failure of a model (static check, load, run-time error, wrong output shape or dtype,
non-finite output, memory or time limit, crash) gives an INVALID ``ScoreResult`` with a
``code`` and a human ``reason``; the round always continues with the next model.

Limits protect the validator and sit far above what a model allowed by the spec needs
(defaults 4 GiB and 600 s), so a slow machine never turns a valid model INVALID.

Progress: a rich progress bar on stderr when it is a terminal (``progress=True/False`` to
force), and ``on_event(EngineEvent)`` for callers such as the CLI.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from .worker import DEVICES, GRAPH_OPT_LEVELS, ShardError, recv, send

log = logging.getLogger(__name__)

SCALE = 10**9
"""Fixed-point scale of a score: score = mean loss x 1e9."""
INVALID_SCORE = 2**64 - 1
"""The uint64 score of a model that could not be scored."""
MAX_VALID_SCORE = INVALID_SCORE - 1

DEFAULT_MEMORY_LIMIT = 4 * 2**30
DEFAULT_TIME_LIMIT = 600.0
DEFAULT_STARTUP_TIMEOUT = 300.0

# Engine-side reason codes (the worker's are in worker.py, static ones in checks.py).
TIME_LIMIT = "time_limit"
WORKER_CRASHED = "worker_crashed"
FETCH_FAILED = "fetch_failed"

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIME_LIMIT",
    "INVALID_SCORE",
    "SCALE",
    "Engine",
    "EngineError",
    "EngineEvent",
    "ScoreResult",
    "ShardError",
    "default_workers",
    "score_from_total",
    "score_models",
]


class EngineError(RuntimeError):
    """The engine itself cannot work (worker does not start, bad configuration)."""


@dataclass(frozen=True)
class ScoreResult:
    """One model's result. ``score`` is the uint64 the validator commits on-chain."""

    sha256: str
    score: int
    status: Literal["ok", "invalid"]
    reason: str = ""
    seconds: float = 0.0
    code: str = ""
    """Machine-readable reason code ('' when ok)."""
    total: float | None = None
    """Exact float64 loss total (``None`` when INVALID)."""
    count: int = 0
    """Denominator of the mean (rows or kept tokens)."""
    infer_seconds: float = 0.0
    """Time the worker spent in onnxruntime for this model."""
    metric_seconds: float = 0.0
    """Time the worker spent in the metric (overlaps inference when pipelined; with the
    metric fused into the graph, only the host's share: the log-softmax counts as inference)."""
    path: str = ""
    """How it was scored: "cpu", "cpu-fused" (metric inside the graph, fused.py) or "cuda"."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def mean_loss(self) -> float | None:
        return None if self.total is None or not self.count else self.total / self.count

    def score_bytes(self) -> bytes:
        """The score as 8 big-endian bytes (how it is ABI-encoded as uint64)."""
        return self.score.to_bytes(8, "big")


@dataclass(frozen=True)
class EngineEvent:
    """Progress report: ``kind`` is "start" (model sent to the worker), "result", or
    "worker" (a worker was started; ``pid`` set)."""

    kind: Literal["start", "result", "worker"]
    index: int = -1
    total: int = 0
    sha256: str = ""
    attempt: int = 1
    pid: int | None = None
    result: ScoreResult | None = None


def score_from_total(total: float, count: int) -> int:
    """Fixed-point score of a loss: ``floor(total / count * 10**9 + 1/2)``, exactly.

    The float64 ``total`` is converted to an exact rational, so no float rounding happens
    here; ties round up. Clamped to ``[0, 2**64 - 2]`` (a tiny negative total from a loss
    that is mathematically >= 0 scores 0; ``2**64 - 1`` stays reserved for INVALID).

    Raises:
        ValueError: non-finite total or count <= 0.
    """
    if not math.isfinite(total):
        raise ValueError(f"loss total {total!r} is not finite")
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    exact = Fraction(total) * SCALE / count
    score = math.floor(exact + Fraction(1, 2))
    return min(max(score, 0), MAX_VALID_SCORE)


def normalise_sha256(value: str | bytes) -> str:
    """64 lowercase hex digits from 32 bytes or hex (``0x`` optional)."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"sha256 must be 32 bytes, got {len(value)}")
        return bytes(value).hex()
    text = str(value).lower().removeprefix("0x")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
    return text


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _invalid(sha: str, code: str, reason: str, seconds: float = 0.0) -> ScoreResult:
    return ScoreResult(sha, INVALID_SCORE, "invalid", reason, seconds, code)


@dataclass
class _Prepared:
    """A model after fetching and static checks (``error`` set when it failed them)."""

    sha256: str
    path: str | None = None
    error: ScoreResult | None = None
    seconds: float = 0.0
    size: int = 0
    """File size in bytes (a proxy for how long the model takes to score)."""


@dataclass
class _Worker:
    proc: subprocess.Popen
    conn: Any
    log_path: Path
    ready: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Scores rounds of models on one eval shard with warm, isolated workers.

    Args:
        spec: a ``TaskSpec`` or the path of a spec file.
        shard_path: the eval shard (``.npz``) for this round.
        shard_sha256: its committed sha256 (hex or 32 bytes).
        memory_limit: worker address-space cap in bytes (``RLIMIT_AS``; 0 = none).
        time_limit: wall seconds per model (load + run + metric) before the worker is killed.
        workers: worker processes scoring models at once (default: one per CPU of this
            process on CPU, 1 with CUDA). Scores do not depend on it.
        threads: onnxruntime intra-op threads per worker (default: CPUs // workers, so
            ``workers=1`` gives one worker with every CPU, for a round of one large model).
        device: "auto" (CUDA when really active, else CPU), "cpu" or "cuda".
        graph_opt: onnxruntime graph optimisation level, fixed for every model.
        pipeline: compute the metric of batch k while onnxruntime runs batch k+1 (CPU; only
            with one worker: several workers already keep every core busy).
        metric_threads: torch threads per metric call (default 1); values do not depend on it.
        metric_workers: batches whose metric may run at once (default: ``threads``).
        spinning: let idle onnxruntime threads busy-wait (default: only without pipeline,
            where no metric thread needs the cores).
        fuse: on the CPU, compute the cross-entropy metrics inside the model's graph with
            onnxruntime's log-softmax (fused.py; ~3x cheaper than fetching the logits);
            anything unusual is re-scored on the plain path, which alone decides INVALID.
        crash_retries: fresh-worker retries for a model whose worker died.
        progress: rich progress bar on stderr (None = only when stderr is a terminal).
        on_event: callback for ``EngineEvent``s (CLI hooks, tests).
        fetch: ``fetch(uri, sha256) -> local path`` for http(s)/ipfs URIs (default: the
            configured ``store.ArtifactStore``, which verifies the hash).
    """

    def __init__(
        self,
        spec: Any,
        shard_path: str | os.PathLike[str],
        shard_sha256: str | bytes,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        time_limit: float = DEFAULT_TIME_LIMIT,
        threads: int | None = None,
        workers: int | None = None,
        device: str = "auto",
        graph_opt: str = "all",
        pipeline: bool = True,
        metric_threads: int = 1,
        metric_workers: int | None = None,
        spinning: bool | None = None,
        fuse: bool = True,
        crash_retries: int = 1,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        progress: bool | None = None,
        on_event: Callable[[EngineEvent], None] | None = None,
        fetch: Callable[[str, str], str | os.PathLike[str]] | None = None,
    ):
        from .spec import TaskSpec

        self.spec = spec if isinstance(spec, TaskSpec) else TaskSpec.load(spec)
        self.shard_path = str(Path(shard_path).resolve())
        self.shard_sha256 = normalise_sha256(shard_sha256)
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if graph_opt not in GRAPH_OPT_LEVELS:
            raise ValueError(f"graph_opt must be one of {GRAPH_OPT_LEVELS}, got {graph_opt!r}")
        if time_limit <= 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {time_limit}")
        if memory_limit < 0:
            raise ValueError(f"memory_limit must be >= 0 bytes, got {memory_limit}")
        self.memory_limit = int(memory_limit)
        self.time_limit = float(time_limit)
        for name, value in (("threads", threads), ("workers", workers)):
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        cpus = _cpu_count()
        if workers is None:
            workers = default_workers(device, threads, memory_limit=memory_limit)
        self.workers = int(workers)
        self.threads = int(threads) if threads else max(1, cpus // self.workers)
        self.device = device
        self.graph_opt = graph_opt
        self.pipeline = pipeline and self.workers == 1
        self.metric_threads = max(1, int(metric_threads))
        self.metric_workers = int(metric_workers) if metric_workers else self.threads
        self.spinning = (not self.pipeline) if spinning is None else bool(spinning)
        self.fuse = bool(fuse)
        self.crash_retries = int(crash_retries)
        self.startup_timeout = float(startup_timeout)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.on_event = on_event
        self.fetch = fetch
        self._slots: list[_Worker | None] = [None] * self.workers
        self._store: Any = None
        self._shard_verified = False
        self._logdir = tempfile.TemporaryDirectory(prefix="arena-worker-")
        self._workers_started = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Verify the shard and start the warm workers (does not wait for them to load)."""
        self.verify_shard()
        for slot, worker in enumerate(self._slots):
            if worker is None:
                self._slots[slot] = self._spawn()

    def verify_shard(self) -> None:
        """Check the shard's sha256 once; raises ``ShardError`` on mismatch."""
        if self._shard_verified:
            return
        try:
            digest = file_sha256(self.shard_path)
        except OSError as exc:
            raise ShardError(
                f"cannot read eval shard {self.shard_path}: {exc.strerror or exc}"
            ) from None
        if digest != self.shard_sha256:
            raise ShardError(
                f"eval shard {self.shard_path} has sha256 {digest} but the task commits to "
                f"{self.shard_sha256}; refusing to score this round on it (re-fetch the shard)"
            )
        self._shard_verified = True

    def wait_ready(self) -> dict[str, Any]:
        """Block until every worker has loaded the shard; returns the first one's ready
        message."""
        self.start()
        for slot in range(self.workers):
            worker = self._slots[slot]
            assert worker is not None
            self._ensure_ready(worker)
        first = self._slots[0]
        assert first is not None
        return first.info

    def close(self) -> None:
        """Stop the workers (politely, then by force)."""
        live = [w for w in self._slots if w is not None]
        self._slots = [None] * self.workers
        for w in live:
            _stop(w)
        self._logdir.cleanup()

    @property
    def worker_pid(self) -> int | None:
        """pid of the first worker process (None before ``start``)."""
        w = self._slots[0] if self._slots else None
        return None if w is None else w.proc.pid

    @property
    def worker_pids(self) -> list[int]:
        """pids of the live worker processes."""
        return [w.proc.pid for w in self._slots if w is not None]

    @property
    def workers_started(self) -> int:
        """How many worker processes this engine has started (restarts included)."""
        return self._workers_started

    # ------------------------------------------------------------------ scoring
    def score_round(
        self, models: Sequence[tuple[str | os.PathLike[str], str | bytes]]
    ) -> list[ScoreResult]:
        """Score ``models`` (``(path_or_uri, expected_sha256)`` pairs) in order.

        Returns one ``ScoreResult`` per model, in the same order. Raises only for problems
        of the round itself (``ShardError``, ``EngineError``), never because of a model.
        """
        self.start()
        items = list(models)
        n = len(items)
        results: list[ScoreResult | None] = [None] * n
        checker = ThreadPoolExecutor(1, thread_name_prefix="arena-checks")
        runner = ThreadPoolExecutor(self.workers, thread_name_prefix="arena-run")
        try:
            futures: list[Future[_Prepared]] = [
                checker.submit(self._prepare, str(src), sha) for src, sha in items
            ]
            with _progress(self.progress, n) as bar:

                def finish(i: int, result: ScoreResult) -> None:
                    results[i] = result
                    self._emit(EngineEvent("result", i, n, result.sha256, result=result))
                    bar(result)

                free = list(range(self.workers))
                ready: list[tuple[int, _Prepared]] = []
                running: dict[Future[ScoreResult], tuple[int, int]] = {}
                checked = 0
                while checked < n or ready or running:
                    # static-check results arrive in order; failures are final at once
                    while checked < n and futures[checked].done():
                        prepared = futures[checked].result()
                        if prepared.error is not None:
                            finish(checked, prepared.error)
                        else:
                            ready.append((checked, prepared))
                        checked += 1
                    if free and ready:
                        # largest file first among the checked models (longest job first)
                        pick = max(range(len(ready)), key=lambda k: (ready[k][1].size, -k))
                        i, prepared = ready.pop(pick)
                        slot = free.pop(0)
                        fut = runner.submit(self._run_model, i, n, prepared, slot)
                        running[fut] = (i, slot)
                        continue
                    # something is running or still being checked (else the dispatch above ran)
                    waiting: list[Future[Any]] = list(running)
                    if checked < n and (free or not waiting):
                        waiting.append(futures[checked])
                    done, _ = wait(waiting, return_when=FIRST_COMPLETED)
                    for fut in done:
                        if fut in running:
                            i, slot = running.pop(fut)
                            free.append(slot)
                            finish(i, fut.result())
        finally:  # on Ctrl-C or a round error, do not wait for checks nobody will use
            checker.shutdown(wait=True, cancel_futures=True)
            runner.shutdown(wait=True, cancel_futures=True)
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _prepare(self, src: str, sha: str | bytes) -> _Prepared:
        """Fetch (if a URI) and run the static checks; never raises for a model problem."""
        from .checks import CheckError, check_model

        t0 = time.perf_counter()
        try:
            want = normalise_sha256(sha)
        except ValueError as exc:
            text = sha.hex() if isinstance(sha, bytes | bytearray) else str(sha)
            return _Prepared(text, error=_invalid(text, "bad_hash", str(exc)))
        try:
            path = self._local_path(src, want)
        except Exception as exc:  # noqa: BLE001 - a bad URI is that model's problem
            return _Prepared(
                want,
                error=_invalid(want, FETCH_FAILED, f"cannot fetch {src}: {exc}"),
            )
        try:
            check_model(path, self.spec, want)
        except CheckError as exc:
            dt = time.perf_counter() - t0
            return _Prepared(want, error=_invalid(want, exc.code, exc.reason, dt))
        except Exception as exc:  # noqa: BLE001 - a checker crash must not stop the round
            dt = time.perf_counter() - t0
            return _Prepared(
                want, error=_invalid(want, "checker_failed", f"static checks crashed: {exc}", dt)
            )
        resolved = Path(path).resolve()
        try:
            size = resolved.stat().st_size
        except OSError:
            size = 0
        return _Prepared(want, path=str(resolved), seconds=time.perf_counter() - t0, size=size)

    def _local_path(self, src: str, sha: str) -> str:
        if src.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return unquote(urlparse(src).path)
        if "://" not in src:
            return src
        if self.fetch is not None:
            return str(self.fetch(src, sha))
        from .store import ArtifactStore  # verifies what it fetches against ``sha``

        if self._store is None:
            self._store = ArtifactStore.from_config()
        return str(self._store.get(src, sha, max_bytes=self.spec.limits.max_bytes))

    def _run_model(self, index: int, total: int, prepared: _Prepared, slot: int = 0) -> ScoreResult:
        sha = prepared.sha256
        attempts = 1 + max(0, self.crash_retries)
        reason = ""
        for attempt in range(1, attempts + 1):
            worker = self._live_worker(slot)
            self._emit(EngineEvent("start", index, total, sha, attempt, pid=worker.proc.pid))
            t0 = time.monotonic()
            job = f"{index}:{attempt}"
            try:
                send(
                    worker.conn, {"kind": "score", "job": job, "path": prepared.path, "sha256": sha}
                )
            except OSError:
                pass  # a dead worker shows up as EOF below
            reply, why = self._await(worker, self.time_limit)
            wall = time.monotonic() - t0
            if reply is not None and reply.get("kind") == "result" and reply.get("job") == job:
                return self._to_result(sha, reply, prepared.seconds)
            self._discard(worker)
            if why == "timeout":
                return _invalid(
                    sha,
                    TIME_LIMIT,
                    f"ran longer than the time limit of {self.time_limit:g} s (worker killed)",
                    prepared.seconds + wall,
                )
            reason = why
            log.warning(
                "worker died scoring %s (attempt %d): %s; its log ends with: %s",
                sha,
                attempt,
                why,
                _tail(worker.log_path) or "-",
            )
        return _invalid(
            sha, WORKER_CRASHED, f"the worker process died scoring this model: {reason}"
        )

    def _to_result(self, sha: str, reply: dict[str, Any], check_seconds: float) -> ScoreResult:
        seconds = check_seconds + float(reply.get("seconds", 0.0))
        if reply.get("status") != "ok":
            return _invalid(
                sha, str(reply.get("code", "invalid")), str(reply.get("reason")), seconds
            )
        total = float.fromhex(reply["total"])
        count = int(reply["count"])
        try:
            score = score_from_total(total, count)
        except ValueError as exc:
            return _invalid(sha, "non_finite", str(exc), seconds)
        return ScoreResult(
            sha,
            score,
            "ok",
            "",
            seconds,
            "",
            total,
            count,
            float(reply.get("infer_seconds", 0.0)),
            float(reply.get("metric_seconds", 0.0)),
            str(reply.get("path", "")),
        )

    # ------------------------------------------------------------------ workers
    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        with self._lock:
            self._workers_started += 1
            number = self._workers_started
        Path(self._logdir.name).mkdir(parents=True, exist_ok=True)
        log_path = Path(self._logdir.name) / f"worker-{number}.log"
        env = dict(os.environ)
        env.setdefault("MALLOC_ARENA_MAX", "2")  # per-thread malloc arenas eat address space
        env["OMP_NUM_THREADS"] = str(self.threads)
        env["PYTHONPATH"] = os.pathsep.join(
            [*_package_roots(), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
        )
        cmd = [
            sys.executable,
            "-m",
            "ape_arena.evaluation.worker",
            "--fd",
            str(child.fileno()),
            "--memory-limit",
            str(self.memory_limit),
            "--memory-kind",
            _memory_kind(self.device),
            "--parent",
            str(os.getpid()),
        ]
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                cmd,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                start_new_session=True,  # terminal signals (Ctrl-C) go to the engine only
            )
        child.close()
        from multiprocessing.connection import Connection

        conn = Connection(parent.detach())
        worker = _Worker(proc, conn, log_path)
        send(
            conn,
            {
                "kind": "init",
                "spec_json": self.spec.to_json().decode(),
                "shard_path": self.shard_path,
                "shard_sha256": self.shard_sha256,
                "threads": self.threads,
                "device": self.device,
                "graph_opt": self.graph_opt,
                "pipeline": self.pipeline,
                "metric_threads": self.metric_threads,
                "metric_workers": self.metric_workers,
                "spinning": self.spinning,
                "fuse": self.fuse,
            },
        )
        self._emit(EngineEvent("worker", pid=proc.pid))
        return worker

    def _live_worker(self, slot: int = 0) -> _Worker:
        worker = self._slots[slot]
        if worker is None or worker.proc.poll() is not None:
            if worker is not None:
                self._discard(worker)
            worker = self._slots[slot] = self._spawn()
        self._ensure_ready(worker)
        return worker

    def _ensure_ready(self, worker: _Worker) -> None:
        if worker.ready:
            return
        reply, why = self._await(worker, self.startup_timeout)
        if reply is None:
            tail = _tail(worker.log_path)
            self._discard(worker)
            raise EngineError(
                f"the scoring worker did not start ({why}); its log ends with: {tail or '-'}"
                + (
                    f" (memory_limit={self.memory_limit} bytes may be too small)"
                    if self.memory_limit
                    else ""
                )
            )
        if reply.get("kind") == "fatal":
            self._discard(worker)
            if reply.get("code") == "shard":
                raise ShardError(reply.get("error", "eval shard refused by the worker"))
            raise EngineError(f"the scoring worker failed to start: {reply.get('error')}")
        worker.ready = True
        worker.info = reply

    def _await(self, worker: _Worker, timeout: float) -> tuple[dict[str, Any] | None, str]:
        """Next message from ``worker`` within ``timeout`` s: (message, "") or (None, why)."""
        try:
            if not worker.conn.poll(timeout):
                return None, "timeout"
            return recv(worker.conn), ""
        except (EOFError, OSError, ValueError):
            return None, _exit_reason(worker.proc)

    def _discard(self, worker: _Worker) -> None:
        _kill(worker)
        for i, w in enumerate(self._slots):  # in place: other slots belong to other threads
            if w is worker:
                self._slots[i] = None

    def _emit(self, event: EngineEvent) -> None:
        if self.on_event is not None:
            with self._lock:  # callers need not be thread-safe
                self.on_event(event)


# ---------------------------------------------------------------------- helpers
def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _cuda_likely(device: str) -> bool:
    """Whether the workers will score on CUDA (one worker then owns the device)."""
    if device == "cpu":
        return False
    if device == "cuda":
        return True
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _memory_kind(device: str) -> str:
    """``RLIMIT_AS`` on CPU; ``RLIMIT_DATA`` when the worker may initialise CUDA (the driver
    reserves huge address ranges it never touches, which ``RLIMIT_AS`` would refuse)."""
    if device == "cpu":
        return "as"
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover
        return "as"
    return "data" if "CUDAExecutionProvider" in ort.get_available_providers() else "as"


def _package_roots() -> list[str]:
    """Folders that hold ape_arena and arena_kernels, so the worker imports the same code."""
    roots = [str(Path(__file__).resolve().parents[2])]
    try:
        import arena_kernels

        for p in getattr(arena_kernels, "__path__", []):
            roots.append(str(Path(p).resolve().parent))
    except ImportError:  # pragma: no cover
        pass
    return list(dict.fromkeys(roots))


def _exit_reason(proc: subprocess.Popen) -> str:
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "the worker stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


def _kill(worker: _Worker) -> None:
    try:
        worker.conn.close()
    except OSError:
        pass
    if worker.proc.poll() is None:
        worker.proc.kill()
    try:
        worker.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
        log.error("worker %d did not die after SIGKILL", worker.proc.pid)


def _stop(worker: _Worker) -> None:
    if worker.proc.poll() is None:
        try:
            send(worker.conn, {"kind": "exit"})
            worker.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
    _kill(worker)


def _tail(path: Path, limit: int = 400) -> str:
    try:
        text = path.read_bytes()[-limit:].decode(errors="replace").strip()
    except OSError:
        return ""
    return " | ".join(line for line in text.splitlines() if line.strip())[-limit:]


class _progress:
    """Context manager yielding ``advance(result)``; a rich bar when enabled."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and total > 0
        self.total = total
        self._bar = None

    def __enter__(self) -> Callable[[ScoreResult], None]:
        if not self.enabled:
            return lambda result: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.__enter__()
        task = self._bar.add_task("scoring", total=self.total)
        bar = self._bar

        def advance(result: ScoreResult) -> None:
            tag = "ok" if result.ok else f"INVALID ({result.code})"
            bar.update(task, advance=1, description=f"scoring {result.sha256[:10]} {tag}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def default_workers(
    device: str = "auto",
    threads: int | None = None,
    models: int | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> int:
    """Worker processes an ``Engine`` starts when not told: one per CPU on CPU (CPUs //
    ``threads`` when threads per worker are given), 1 with CUDA, never more than
    ``models`` (a round of one model gets one worker with every CPU) and never more than
    physical memory / ``memory_limit`` (each worker may use up to its limit)."""
    if threads:
        n = max(1, _cpu_count() // int(threads))
    else:
        n = 1 if _cuda_likely(device) else _cpu_count()
    if memory_limit:
        n = min(n, max(1, _physical_memory() // memory_limit))
    return max(1, min(n, models)) if models is not None else n


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def score_models(
    spec: Any,
    shard_path: str | os.PathLike[str],
    shard_sha256: str | bytes,
    models: Iterable[tuple[str | os.PathLike[str], str | bytes]],
    **options: Any,
) -> list[ScoreResult]:
    """One-shot helper: start an engine, score one round, stop it (no more workers than
    models unless ``workers`` is given)."""
    items = list(models)
    if options.get("workers") is None:
        options["workers"] = default_workers(
            options.get("device", "auto"), options.get("threads"), len(items)
        )
    with Engine(spec, shard_path, shard_sha256, **options) as engine:
        return engine.score_round(items)
