"""The engine's worker processes: a fixed number of slots, each holding one warm, isolated
``worker.py`` process with the round's shard loaded.

A worker caps its own memory (``RLIMIT_AS``, or ``RLIMIT_DATA`` where CUDA may be used),
runs in its own session (terminal signals go to the engine only) and dies with the engine.
A slot whose worker died or was killed is refilled with a fresh process on its next use.
``default_workers`` says how many slots a machine gets when nobody says otherwise.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .worker import ShardError, recv, send

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 4 * 2**30
DEFAULT_STARTUP_TIMEOUT = 300.0


class EngineError(RuntimeError):
    """The engine itself cannot work (worker does not start, bad configuration)."""


class ValidatorFault(EngineError):
    """This validator's machine failed, not a model's rules: a worker ran past the time
    limit, died (twice) or could not start, or the device, driver, compiler or CUDA runtime
    failed (``device="cuda"``; with ``"auto"`` the worker scores on the CPU instead). The
    round is not scored at all (a model is never INVALID for it), because slow or failing
    hardware must not make honest validators disagree."""


@dataclass
class Worker:
    """One worker process and the socket the engine talks to it through."""

    proc: subprocess.Popen
    conn: Any
    log_path: Path
    ready: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    """The worker's ``ready`` message (providers, shard rows, …)."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, limit: int = 400) -> str:
        """The end of the worker's stdout/stderr, on one line."""
        try:
            text = self.log_path.read_bytes()[-limit:].decode(errors="replace").strip()
        except OSError:
            return ""
        return " | ".join(line for line in text.splitlines() if line.strip())[-limit:]


class WorkerPool:
    """``size`` slots of warm workers, all started with the same ``init`` message.

    Args:
        size: number of slots (worker processes alive at once).
        init: the message every worker gets first (spec, shard, threads, device, …).
        threads: ``OMP_NUM_THREADS`` of each worker.
        memory_limit: each worker's memory cap in bytes (0 = none).
        device: "auto", "cpu" or "cuda": decides how the memory cap is applied.
        startup_timeout: seconds a worker may take to load the shard and say ready.
        on_spawn: called with the pid of every worker started (restarts included).
    """

    def __init__(
        self,
        size: int,
        init: dict[str, Any],
        *,
        threads: int,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        device: str = "auto",
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        on_spawn: Callable[[int], None] | None = None,
    ):
        self.size = int(size)
        self.init = init
        self.threads = int(threads)
        self.memory_limit = int(memory_limit)
        self.device = device
        self.startup_timeout = float(startup_timeout)
        self.on_spawn = on_spawn
        self._slots: list[Worker | None] = [None] * self.size
        self._logdir = tempfile.TemporaryDirectory(prefix="arena-worker-")
        self._started = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start a worker in every empty slot (does not wait for them to load)."""
        for slot, worker in enumerate(self._slots):
            if worker is None:
                self._slots[slot] = self._spawn()

    def wait_ready(self) -> dict[str, Any]:
        """Block until every worker has loaded the shard; returns the first one's ready
        message."""
        self.start()
        for worker in self._slots:
            assert worker is not None
            self._ensure_ready(worker)
        first = self._slots[0]
        assert first is not None
        return first.info

    def close(self) -> None:
        """Stop the workers (politely, then by force)."""
        live = [w for w in self._slots if w is not None]
        self._slots = [None] * self.size
        for w in live:
            _stop(w)
        self._logdir.cleanup()

    @property
    def pids(self) -> list[int]:
        """pids of the live worker processes, in slot order."""
        return [w.pid for w in self._slots if w is not None]

    @property
    def first_pid(self) -> int | None:
        """pid of the first slot's worker (None before ``start``)."""
        w = self._slots[0] if self._slots else None
        return None if w is None else w.pid

    @property
    def started(self) -> int:
        """How many worker processes this pool has started (restarts included)."""
        return self._started

    # ------------------------------------------------------------------ use
    def live(self, slot: int = 0) -> Worker:
        """The ready worker of ``slot``, started afresh if it is missing or dead."""
        worker = self._slots[slot]
        if worker is None or worker.proc.poll() is not None:
            if worker is not None:
                self.discard(worker)
            worker = self._slots[slot] = self._spawn()
        self._ensure_ready(worker)
        return worker

    def reply(self, worker: Worker, timeout: float) -> tuple[dict[str, Any] | None, str]:
        """Next message from ``worker`` within ``timeout`` s: (message, "") or (None, why)."""
        try:
            if not worker.conn.poll(timeout):
                return None, "timeout"
            return recv(worker.conn), ""
        except (EOFError, OSError, ValueError):
            return None, _exit_reason(worker.proc)

    def discard(self, worker: Worker) -> None:
        """Kill ``worker`` and empty its slot (refilled on the slot's next use)."""
        _kill(worker)
        for i, w in enumerate(self._slots):  # in place: other slots belong to other threads
            if w is worker:
                self._slots[i] = None

    # ------------------------------------------------------------------ internals
    def _spawn(self) -> Worker:
        parent, child = socket.socketpair()
        with self._lock:
            self._started += 1
            number = self._started
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
        worker = Worker(proc, conn, log_path)
        send(conn, {"kind": "init", **self.init})
        if self.on_spawn is not None:
            self.on_spawn(proc.pid)
        return worker

    def _ensure_ready(self, worker: Worker) -> None:
        if worker.ready:
            return
        reply, why = self.reply(worker, self.startup_timeout)
        if reply is None:
            tail = worker.log_tail()
            self.discard(worker)
            raise ValidatorFault(
                f"the scoring worker did not start ({why}); its log ends with: {tail or '-'}"
                + (
                    f" (memory_limit={self.memory_limit} bytes may be too small)"
                    if self.memory_limit
                    else ""
                )
            )
        if reply.get("kind") == "fatal":
            self.discard(worker)
            if reply.get("code") == "shard":
                raise ShardError(reply.get("error", "eval shard refused by the worker"))
            raise ValidatorFault(
                f"the scoring worker failed to start ({reply.get('code')}): {reply.get('error')}."
                " This is a fault of this machine (device, driver, libraries or memory), so the"
                " round is not scored and no model is marked INVALID."
            )
        worker.ready = True
        worker.info = reply


# ---------------------------------------------------------------------- layout
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
        n = max(1, cpu_count() // int(threads))
    else:
        n = 1 if _cuda_likely(device) else cpu_count()
    if memory_limit:
        n = min(n, max(1, physical_memory() // memory_limit))
    return max(1, min(n, models)) if models is not None else n


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def physical_memory() -> int:
    """Bytes of RAM of this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def gpu_present() -> bool:
    """Whether this machine shows an NVIDIA GPU to its processes (the driver's device files),
    a check that needs no CUDA library: onnxruntime-gpu lists its CUDA provider even on a
    machine with no GPU at all."""
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg"))


def gpu_names() -> list[str]:
    """The NVIDIA GPUs' model names from the driver's /proc files (no CUDA import)."""
    names = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    return names


def machine_info() -> dict[str, Any]:
    """What scored a round, kept with its scores in the validator's state file: the
    versions of the libraries that compute a score and the GPUs the driver shows."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("ape-arena", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "torch", "triton"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"versions": versions, "gpus": gpu_names(), "machine": platform.machine()}


def check_onnxruntime_install(installed: Callable[[str], bool] | None = None) -> None:
    """Refuse a venv with both ``onnxruntime`` and ``onnxruntime-gpu``: they share one
    import folder, so whichever was installed last silently replaced part of the other."""
    if installed is None:
        from importlib import metadata

        def installed(name: str) -> bool:
            try:
                metadata.distribution(name)
            except metadata.PackageNotFoundError:
                return False
            return True

    if installed("onnxruntime") and installed("onnxruntime-gpu"):
        raise EngineError(
            "both onnxruntime and onnxruntime-gpu are installed; they share one import folder "
            "and break each other. Keep one: `pip uninstall -y onnxruntime onnxruntime-gpu`, "
            "then `make setup EXTRAS=gpu,test` on a GPU machine (or EXTRAS=cpu,test)"
        )


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
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    if not gpu_present():
        log.warning(
            "onnxruntime-gpu is installed but this machine shows no NVIDIA GPU: scoring on "
            "the CPU (device auto), with one worker per CPU and the in-graph metric"
        )
        return False
    return True


def cuda_libraries_installed() -> bool:
    """Whether the worker's imports map CUDA libraries (a CUDA torch build, its nvidia-*
    wheels, or onnxruntime-gpu), whatever the device: an idle worker then holds about
    3.3 GiB of address space it never touches."""
    from importlib import metadata

    try:
        if "+cpu" not in metadata.version("torch"):
            for dist in metadata.distributions():
                name = (dist.metadata["Name"] or "").lower()
                if name.startswith("nvidia-cuda-runtime"):
                    return True
    except metadata.PackageNotFoundError:
        pass
    try:
        metadata.distribution("onnxruntime-gpu")
    except metadata.PackageNotFoundError:
        return False
    return True


def _memory_kind(device: str) -> str:
    """``RLIMIT_AS`` for a CPU-only install; ``RLIMIT_DATA`` (private writable memory)
    whenever the worker maps CUDA libraries or may initialise CUDA: the libraries and the
    driver reserve huge address ranges they never touch, which ``RLIMIT_AS`` would count
    (a 65,536-vocabulary LM came back INVALID ``memory_limit`` on the CPU path next to a
    CUDA torch). Both caps sit far above what a model within the spec's ``max_params``
    needs, so a model gets the same verdict either way."""
    if device == "cuda" or cuda_libraries_installed():
        return "data"
    return "as"


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


def _kill(worker: Worker) -> None:
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


def _stop(worker: Worker) -> None:
    if worker.proc.poll() is None:
        try:
            send(worker.conn, {"kind": "exit"})
            worker.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
    _kill(worker)
