"""Small filesystem helpers shared by the roles' local state files, shards, specs and models."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` so that ``path`` always holds either the old or the new file.

    Temp file in the same folder -> flush + fsync -> ``os.replace`` -> fsync the folder (so
    the rename itself survives a power cut). A failure removes the temp file. Returns the
    path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """:func:`atomic_write_bytes` of ``data`` as indented, key-sorted JSON plus a newline."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode())


class LockHeld(RuntimeError):
    """Another process holds a ``run_lock``; the message names it."""


class run_lock:
    """One running loop per state folder: an exclusive ``fcntl.flock`` on ``path``, held
    until ``release`` (or the process ends: the kernel drops it even on SIGKILL, so a crash
    never leaves a stale lock). The file records the holder's pid, start time and command,
    which a refused second process shows in its message.

    Example::

        with run_lock(folder / "run.lock", "validator run for 0xabc on task 1"):
            ...  # the only loop for this folder
    """

    def __init__(self, path: str | os.PathLike[str], what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> run_lock:
        import fcntl
        import sys
        import time

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(
                f"another {self.what} is already running ({holder}; lock {self.path}). Two "
                "loops for one account would overwrite each other's saved state and "
                "commitments; stop the other one first (it resumes from the saved state)."
            ) from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "started": int(time.time()), "argv": sys.argv[:8]}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> run_lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    import time

    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(info["started"])))
        cmd = " ".join(str(a) for a in info.get("argv", []))
        return f"pid {int(info['pid'])}, started {started}" + (f": {cmd}" if cmd else "")
    except (ValueError, KeyError, TypeError, OSError):
        return "a process that has not written its pid yet"
