"""Content-addressed artifact store (DESIGN §4.2): models, eval shards and task specs.

Everything lives in one local folder, one file per item, named by the sha256 (lowercase hex)
of its bytes. Nothing enters the folder unverified:

* ``put`` hashes while copying into a temp file inside the folder, then renames it to its
  hash (atomic on one file system).
* ``get(uri, expected_sha256)`` returns the stored file if it is there (re-hashed, so disk
  corruption is caught and the item refetched); otherwise it fetches ``uri`` into a temp file
  with a size cap, hashes it, and only if the hash matches renames it into place. On any
  mismatch or error the temp file is removed and ``HashMismatchError``/``FetchError`` is
  raised and the item is never trusted: a validator reports the model UNAVAILABLE (it could
  not get the committed bytes), or INVALID for ``TooLargeError`` (the served content is over
  the task's size limit, a rule about the model).

URIs: ``file:///abs/path``, ``http(s)://…`` (urllib, timeout, size cap; a timeout, a
refused connection, HTTP 5xx/408/429 are retried 3 times with backoff 1, 2, 4 s), and
``ipfs://<cid>[/path]`` fetched as ``<gateway><cid>[/path]`` through the configured HTTP
gateway (``arena.ipfs_gateway``).

``serve(store_dir)`` serves a store read-only over HTTP on loopback (stdlib ``http.server``
in a thread) so nodes and validators on one machine can exchange artifacts by
``http://127.0.0.1:<port>/<sha256>``. CLI wiring (someone else's file): ``ape arena store
serve`` can call ``serve_forever(store_dir, host, port, on_ready=click.echo)``.

Example::

    store = ArtifactStore(".arena/store")
    sha, uri = store.put("model.onnx")
    path = store.get("http://127.0.0.1:8765/" + sha, sha)
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import io
import ipaddress
import os
import re
import shutil
import socket
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NamedTuple

DEFAULT_GATEWAY = "https://ipfs.io/ipfs/"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 2 * 1024**3
"""Largest artifact fetched by default (2 GiB); pass ``max_bytes`` to tighten per call."""
CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class StoreError(RuntimeError):
    """Base class for artifact store errors."""


class HashMismatchError(StoreError):
    """Fetched bytes do not hash to the expected (on-chain) sha256; nothing was stored."""

    def __init__(self, uri: str, expected: str, actual: str):
        super().__init__(
            f"content from {uri} has sha256 {actual} but the expected hash is {expected}; "
            "refusing to use it (nothing was stored)"
        )
        self.uri, self.expected, self.actual = uri, expected, actual


class FetchError(StoreError):
    """A URI could not be fetched: unsupported scheme, missing, too large, timeout, HTTP error."""


class TooLargeError(FetchError):
    """The content at a URI is larger than the size cap (nothing was stored)."""


def normalise_sha256(value: bytes | str) -> str:
    """32 bytes, or 64 hex digits (``0x`` optional, any case) -> lowercase hex."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"sha256 must be 32 bytes, got {len(value)}")
        return bytes(value).hex()
    text = value.strip().lower().removeprefix("0x")
    if not _HEX64.match(text):
        raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
    return text


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ArtifactStore:
    """A local content-addressed folder plus verified fetching from file/http(s)/ipfs URIs."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        ipfs_gateway: str = DEFAULT_GATEWAY,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retries: int = 3,
        retry_delay: float = 1.0,
    ):
        self.root = Path(root).resolve()
        self.retries = max(0, int(retries))
        """Extra attempts for a transient http(s)/ipfs failure (timeout, connection, 5xx, 429),
        waiting ``retry_delay`` seconds, doubling. A 404, a wrong hash or an oversized file
        is final at once."""
        self.retry_delay = float(retry_delay)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ipfs_gateway = ipfs_gateway if ipfs_gateway.endswith("/") else ipfs_gateway + "/"
        self.timeout = timeout
        self.max_bytes = max_bytes

    @classmethod
    def from_config(cls, project: str | os.PathLike[str] | None = None) -> ArtifactStore:
        """The store configured in ape-config.yaml (``arena.store_dir``, ``ipfs_gateway``)."""
        store_dir, gateway = ".arena/store", DEFAULT_GATEWAY
        try:
            from ape import config

            cfg = config.get_config("arena")
            store_dir, gateway = cfg.store_dir, cfg.ipfs_gateway
        except Exception:  # outside an Ape project: defaults
            pass
        base = Path(project) if project is not None else Path.cwd()
        return cls(base / store_dir, ipfs_gateway=gateway)

    # ------------------------------------------------------------------ local
    def path_for(self, sha256: bytes | str) -> Path:
        return self.root / normalise_sha256(sha256)

    def has(self, sha256: bytes | str) -> bool:
        return self.path_for(sha256).is_file()

    def uri_for(self, sha256: bytes | str) -> str:
        return self.path_for(sha256).as_uri()

    def put(self, item: str | os.PathLike[str] | bytes) -> tuple[str, str]:
        """Add a file (path) or bytes; return ``(sha256_hex, file:// uri)``. Idempotent."""
        if isinstance(item, bytes | bytearray):
            return self._ingest(io.BytesIO(bytes(item)), expected=None, source="<bytes>", cap=None)
        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"cannot put {path}: not a file")
        with open(path, "rb") as fh:
            return self._ingest(fh, expected=None, source=str(path), cap=None)

    # ------------------------------------------------------------------ fetch
    def get(
        self,
        uri: str,
        expected_sha256: bytes | str,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> Path:
        """Return a local path whose bytes hash to ``expected_sha256``, fetching if needed.

        Raises:
            HashMismatchError: the fetched bytes hash to something else (nothing stored).
            FetchError: the URI cannot be fetched, or is larger than ``max_bytes``.
        """
        expected = normalise_sha256(expected_sha256)
        cap = self.max_bytes if max_bytes is None else max_bytes
        cached = self.root / expected
        if cached.is_file():
            if sha256_file(cached) == expected:
                return cached
            cached.unlink(missing_ok=True)  # corrupted on disk: drop and refetch
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
        if scheme == "file":
            source = _file_uri_path(uri)
            try:
                fh = open(source, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise FetchError(f"cannot read {uri}: {exc.strerror or exc}") from None
            with fh:
                self._ingest(fh, expected=expected, source=uri, cap=cap)
        elif scheme in ("http", "https", "ipfs"):
            url = self.ipfs_url(uri) if scheme == "ipfs" else uri
            self._fetch_http(url, expected, uri, cap, self.timeout if timeout is None else timeout)
        else:
            raise FetchError(
                f"unsupported URI scheme in {uri!r}; use file://, http(s):// or ipfs://"
            )
        return cached

    def ipfs_url(self, uri: str) -> str:
        """``ipfs://<cid>[/path]`` -> ``<gateway><cid>[/path]``."""
        rest = uri[len("ipfs://") :].lstrip("/")
        if rest.startswith("ipfs/"):
            rest = rest[len("ipfs/") :]
        if not rest:
            raise FetchError(f"ipfs URI without a CID: {uri!r}")
        return self.ipfs_gateway + rest

    def _fetch_http(self, url: str, expected: str, uri: str, cap: int, timeout: float) -> None:
        """Fetch with retries and backoff for what may pass a moment later."""
        import time

        delay = self.retry_delay
        for attempt in range(self.retries + 1):
            try:
                return self._fetch_http_once(url, expected, uri, cap, timeout)
            except _TransientFetch as exc:
                if attempt == self.retries:
                    raise FetchError(f"{exc} ({attempt + 1} attempts)") from None
                time.sleep(delay)
                delay *= 2

    def _fetch_http_once(self, url: str, expected: str, uri: str, cap: int, timeout: float) -> None:
        request = urllib.request.Request(url, headers={"User-Agent": "ape-arena-store/1"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > cap:
                    raise TooLargeError(
                        f"{uri} is {int(length)} bytes; the limit is {cap} (not downloaded)"
                    )
                self._ingest(response, expected=expected, source=uri, cap=cap)
        except urllib.error.HTTPError as exc:
            kind = _TransientFetch if exc.code >= 500 or exc.code in (408, 429) else FetchError
            raise kind(f"cannot fetch {uri}: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise _TransientFetch(f"cannot fetch {uri}: {exc.reason}") from None
        except TimeoutError:
            raise _TransientFetch(f"cannot fetch {uri}: timed out after {timeout} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _TransientFetch(f"cannot fetch {uri}: {type(exc).__name__}: {exc}") from None

    def _ingest(
        self, src: BinaryIO, *, expected: str | None, source: str, cap: int | None
    ) -> tuple[str, str]:
        """Copy ``src`` into a temp file here while hashing; verify; rename to its hash."""
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if cap is not None and size > cap:
                        raise TooLargeError(f"{source} is larger than the limit of {cap} bytes")
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = h.hexdigest()
            if expected is not None and actual != expected:
                raise HashMismatchError(source, expected, actual)
            final = self.root / actual
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            return actual, final.as_uri()
        finally:
            tmp.unlink(missing_ok=True)


class _TransientFetch(Exception):
    """A fetch failure that may pass on a later attempt (``_fetch_http`` retries it)."""


def _file_uri_path(uri: str) -> Path:
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"file URI with a remote host is not supported: {uri!r}")
    return Path(urllib.parse.unquote(parts.path))


# ---------------------------------------------------------------------------- serving
class ServedStore(NamedTuple):
    """What ``serve`` returns: the base URL (``http://127.0.0.1:<port>``) and a stop handle."""

    url: str
    stop: Callable[[], None]

    def uri_for(self, sha256: bytes | str) -> str:
        return f"{self.url}/{normalise_sha256(sha256)}"


class _ReadOnlyStoreHandler(http.server.BaseHTTPRequestHandler):
    store_dir: Path
    server_version = "ape-arena-store/1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._send(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(body=False)

    def _send(self, body: bool) -> None:
        name = urllib.parse.urlsplit(self.path).path.lstrip("/")
        path = self.store_dir / name
        if not _HEX64.match(name) or not path.is_file():
            self.send_error(404, "no such artifact (GET /<sha256 hex>)")
            return
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            self.send_error(404, "no such artifact")
            return
        with fh:
            size = os.fstat(fh.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            self.end_headers()
            if body:
                try:
                    shutil.copyfileobj(fh, self.wfile, CHUNK)
                except (BrokenPipeError, ConnectionResetError):
                    pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the CLI prints its own progress


def serve(
    store_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
) -> ServedStore:
    """Serve ``store_dir`` read-only over HTTP in a background thread.

    Only ``GET``/``HEAD /<sha256 hex>`` of files in the folder itself are answered (no
    listing, no other paths, no writes). Binds to loopback unless ``allow_remote`` is set.
    ``port=0`` picks a free port; the returned ``url`` carries the bound one. Call
    ``stop()`` to shut the server down and join its thread.
    """
    if not allow_remote and not _is_loopback(host):
        raise ValueError(
            f"refusing to serve the store on {host!r}: loopback only (pass allow_remote=True "
            "to expose it to other machines)"
        )
    root = Path(store_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"store folder {root} does not exist")
    handler = type("StoreHandler", (_ReadOnlyStoreHandler,), {"store_dir": root})
    server_class = http.server.ThreadingHTTPServer
    if ":" in host:  # IPv6 literal such as ::1
        server_class = type("StoreServer6", (server_class,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="arena-store", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return ServedStore(url=f"http://{shown}:{bound_port}", stop=stop)


def serve_forever(
    store_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    on_ready: Callable[[str], None] = print,
    stop_event: threading.Event | None = None,
) -> None:
    """Blocking form of ``serve`` for ``ape arena store serve``: report the URL through
    ``on_ready``, serve until Ctrl-C (``KeyboardInterrupt``) or ``stop_event`` is set, then
    stop cleanly."""
    served = serve(store_dir, host, port, allow_remote=allow_remote)
    try:
        on_ready(served.url)
        (stop_event or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
