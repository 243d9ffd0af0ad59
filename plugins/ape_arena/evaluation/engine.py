"""The evaluation engine (DESIGN §4.3): a task spec + an eval shard + model files -> scores.

Example::

    from ape_arena.evaluation.engine import Engine

    with Engine(spec, "round3.npz", shard_sha256) as engine:
        results = engine.score_round([("m1.onnx", sha1), ("ipfs://…", sha2)])
    [r.score for r in results]          # uint64 fixed-point losses, INVALID = 2**64 - 1

Per round
---------
1. **Shard**: its sha256 is checked once (``start``); a mismatch raises ``ShardError``: with a
   wrong shard no model can be scored.
2. **Fetch**: URIs are fetched (and verified) on a background thread ahead of the workers.
3. **Run**: each model goes to one of ``workers`` warm, isolated worker processes
   (``worker.py``, kept by ``pool.WorkerPool``), each with the shard loaded once. The worker
   reads the file once, runs the static checks (``checks.check_model_bytes``) on exactly
   those bytes, under its memory limit and the engine's time limit, then scores it and
   probes that its rows' losses do not depend on their batch (``batch_dependent``). On CPU
   the default is one single-threaded worker per core, scoring that many models at once
   (small models use a core far better than a thread pool spread over one small model),
   with the largest model files dispatched first so the round does not end on one long
   straggler. A worker caps its address space (``memory_limit``; ``RLIMIT_AS``, or
   ``RLIMIT_DATA`` where CUDA may be used) and dies with the engine.
4. **Score**: ``score = round_half_up(total / count * 1e9)``, exactly (``results.py``),
   clamped to ``[0, 2**64 - 3]``. ``2**64 - 1`` is INVALID (``2**64 - 2``, UNAVAILABLE,
   is the validator's, for a model it could not fetch).

Every failure a rule about the model decides (static check, load, run-time error, wrong
output shape or dtype, non-finite output, the memory limit, batch dependence) gives an
INVALID ``ScoreResult`` with a ``code`` and a human ``reason``; the round continues with the
next model.

Faults of the validator's machine are never INVALID: a model's work is bounded by the spec
and its graph (``checks.py`` admits only constant loop trip counts), so the engine's
``time_limit`` (default 600 s) is a guard far above it. A worker that runs past it, or dies
twice in a row on one model (a fresh process for the retry, ``crash_retries``), raises
``ValidatorFault``: the round is not scored and the caller (the validator) skips it with
that message, rather than commit a verdict that slow or broken hardware made.

Progress: a rich progress bar on stderr when it is a terminal (``progress=True/False`` to
force), and ``on_event(EngineEvent)`` for callers such as the CLI.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .external import ExternalDataError, fetch_beside
from .pool import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_STARTUP_TIMEOUT,
    EngineError,
    ValidatorFault,
    WorkerPool,
    check_onnxruntime_install,
    cpu_count,
    default_workers,
)
from .results import (
    FETCH_FAILED,
    INVALID_SCORE,
    SCALE,
    EngineEvent,
    ScoreResult,
    from_reply,
    invalid,
    progress_bar,
    score_from_total,
)
from .worker import DEVICES, GRAPH_OPT_LEVELS, ShardError, send

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 600.0

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
    "ValidatorFault",
    "default_workers",
    "file_sha256",
    "normalise_sha256",
    "score_from_total",
    "score_models",
]


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


@dataclass
class _Prepared:
    """A model after fetching and static checks (``error`` set when it failed them)."""

    sha256: str
    path: str | None = None
    error: ScoreResult | None = None
    seconds: float = 0.0
    size: int = 0
    """File size in bytes (a proxy for how long the model takes to score)."""


class Engine:
    """Scores rounds of models on one eval shard with warm, isolated workers.

    Args:
        spec: a ``TaskSpec`` or the path of a spec file.
        shard_path: the eval shard (``.npz``) for this round.
        shard_sha256: its committed sha256 (hex or 32 bytes).
        memory_limit: worker address-space cap in bytes (``RLIMIT_AS``; 0 = none); by
            default ``spec_memory_limit(spec)``: 4 GiB, more for specs that allow bigger
            models or wider batches of logits, so no model the spec allows meets it.
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
        base_model: the local file of the spec's ``chat.base`` model (its sha256 is checked
            by every worker): submissions may then be LoRA adapters merged into it.
    """

    def __init__(
        self,
        spec: Any,
        shard_path: str | os.PathLike[str],
        shard_sha256: str | bytes,
        *,
        memory_limit: int | None = None,
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
        base_model: str | os.PathLike[str] | None = None,
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
        if memory_limit is None:
            memory_limit = spec_memory_limit(self.spec)
        if memory_limit < 0:
            raise ValueError(f"memory_limit must be >= 0 bytes, got {memory_limit}")
        self.memory_limit = int(memory_limit)
        self.time_limit = float(time_limit)
        for name, value in (("threads", threads), ("workers", workers)):
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        cpus = cpu_count()
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
        self._store: Any = None
        self._shard_verified = False
        self._lock = threading.Lock()
        self.pool = WorkerPool(
            self.workers,
            {
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
                "gpu_mem_limit": self.memory_limit,
                "base_path": str(Path(base_model).resolve()) if base_model else None,
            },
            threads=self.threads,
            memory_limit=self.memory_limit,
            device=self.device,
            startup_timeout=self.startup_timeout,
            on_spawn=lambda pid: self._emit(EngineEvent("worker", pid=pid)),
        )

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Verify the shard and start the warm workers (does not wait for them to load)."""
        check_onnxruntime_install()
        self.verify_shard()
        self.pool.start()

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
        self.verify_shard()
        return self.pool.wait_ready()

    def close(self) -> None:
        """Stop the workers (politely, then by force)."""
        self.pool.close()

    @property
    def worker_pid(self) -> int | None:
        """pid of the first worker process (None before ``start``)."""
        return self.pool.first_pid

    @property
    def worker_pids(self) -> list[int]:
        """pids of the live worker processes."""
        return self.pool.pids

    @property
    def workers_started(self) -> int:
        """How many worker processes this engine has started (restarts included)."""
        return self.pool.started

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
            with progress_bar(self.progress, n) as bar:

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
        """Check the hash's form and fetch the model (if a URI); never raises for a model
        problem. The static checks run in the worker, on the bytes it scores."""
        t0 = time.perf_counter()
        try:
            want = normalise_sha256(sha)
        except ValueError as exc:
            text = sha.hex() if isinstance(sha, bytes | bytearray) else str(sha)
            return _Prepared(text, error=invalid(text, "bad_hash", str(exc)))
        try:
            path = self._local_path(src, want)
            if self.spec.chat is not None and "://" in src and not src.startswith("file://"):
                fetch_beside(path, src, want, self._local_path)
        except ExternalDataError as exc:
            return _Prepared(want, error=invalid(want, exc.code, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a bad URI is that model's problem
            return _Prepared(
                want,
                error=invalid(want, FETCH_FAILED, f"cannot fetch {src}: {exc}"),
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
            worker = self.pool.live(slot)
            self._emit(EngineEvent("start", index, total, sha, attempt, pid=worker.pid))
            job = f"{index}:{attempt}"
            try:
                send(
                    worker.conn, {"kind": "score", "job": job, "path": prepared.path, "sha256": sha}
                )
            except OSError:
                pass  # a dead worker shows up as EOF below
            reply, why = self.pool.reply(worker, self.time_limit)
            if reply is not None and reply.get("kind") == "result" and reply.get("job") == job:
                if reply.get("status") == "fault":
                    raise ValidatorFault(
                        f"scoring model {sha[:12]} (#{index + 1} of {total}) met a fault of this "
                        f"machine: {reply.get('error')}. The round is not scored and no model "
                        "is marked INVALID."
                    )
                return from_reply(sha, reply, prepared.seconds)
            self.pool.discard(worker)
            if why == "timeout":
                raise ValidatorFault(
                    f"model {sha[:12]} (#{index + 1} of {total}) ran past this validator's time "
                    f"limit of {self.time_limit:g} s (worker killed). A model's work is bounded "
                    "by the spec and its graph, so this is a fault of this machine (too slow, "
                    "overloaded or swapping): the round is not scored and no model is marked "
                    "INVALID. Raise --time-limit or free the machine, then score again."
                )
            reason = why
            log.warning(
                "worker died scoring %s (attempt %d): %s; its log ends with: %s",
                sha,
                attempt,
                why,
                worker.log_tail() or "-",
            )
        raise ValidatorFault(
            f"the worker died {attempts} times scoring model {sha[:12]} (#{index + 1} of "
            f"{total}): {reason}. A crash is a fault of this machine (memory pressure, the "
            "OOM killer, a broken onnxruntime or driver), so the round is not scored and no "
            "model is marked INVALID; see the worker log above."
        )

    def _emit(self, event: EngineEvent) -> None:
        if self.on_event is not None:
            with self._lock:  # callers need not be thread-safe
                self.on_event(event)


def spec_memory_limit(spec: Any) -> int:
    """A worker's default memory cap for ``spec``: ``DEFAULT_MEMORY_LIMIT`` (4 GiB), or for
    specs that allow more, three times the largest model (``max_bytes``: the file, the
    parsed graph, onnxruntime's copy) plus three batches of outputs (the logits, their
    log-softmax, one in flight) plus 1 GiB for the shard and the runtime."""
    per_row = 1
    for d in spec.output.shape[1:]:
        per_row *= d if isinstance(d, int) else 1 << 10
    logits = spec.limits.max_batch_rows * per_row * 4
    return max(DEFAULT_MEMORY_LIMIT, 3 * spec.limits.max_bytes + 3 * logits + (1 << 30))


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
