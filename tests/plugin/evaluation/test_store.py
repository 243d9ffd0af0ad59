"""Artifact store: content addressing, verified fetching, and the loopback HTTP server."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import threading
import urllib.error
import urllib.request

import pytest
from ape_arena.evaluation.store import (
    ArtifactStore,
    FetchError,
    HashMismatchError,
    TooLargeError,
    normalise_sha256,
    serve,
    sha256_file,
)

PAYLOAD = b"model bytes \x00\x01\x02" * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def contents(folder) -> list[str]:
    """Every entry of the store folder, temp files included."""
    return sorted(os.listdir(folder))


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store", timeout=5, retry_delay=0.01)


@pytest.fixture
def source(tmp_path) -> ArtifactStore:
    """A second store: the remote side (served over HTTP) in fetch tests."""
    src = ArtifactStore(tmp_path / "remote")
    src.put(PAYLOAD)
    return src


@pytest.fixture
def server(source):
    served = serve(source.root)
    yield served
    served.stop()


# ---------------------------------------------------------------------------- put
def test_put_bytes_names_the_file_by_its_hash(store):
    sha, uri = store.put(PAYLOAD)
    assert sha == PAYLOAD_SHA
    path = store.root / sha
    assert uri == path.as_uri() and path.read_bytes() == PAYLOAD
    assert contents(store.root) == [sha]
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_put_path_and_idempotence(store, tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(PAYLOAD)
    assert store.put(src) == store.put(PAYLOAD) == store.put(bytearray(PAYLOAD))
    assert contents(store.root) == [PAYLOAD_SHA]
    assert store.has(PAYLOAD_SHA) and store.has(bytes.fromhex(PAYLOAD_SHA))
    assert not store.has("00" * 32)


def test_put_missing_file(store, tmp_path):
    with pytest.raises(FileNotFoundError):
        store.put(tmp_path / "nope")


# ---------------------------------------------------------------------------- file://
def test_get_file_uri_verifies_and_copies(store, tmp_path):
    src = tmp_path / "shard.npz"
    src.write_bytes(PAYLOAD)
    path = store.get(src.as_uri(), PAYLOAD_SHA)
    assert path == store.root / PAYLOAD_SHA and path.read_bytes() == PAYLOAD


def test_get_file_uri_mismatch_leaves_nothing(store, tmp_path):
    src = tmp_path / "evil.npz"
    src.write_bytes(b"not what was committed")
    wrong = hashlib.sha256(b"what was committed").hexdigest()
    with pytest.raises(HashMismatchError) as info:
        store.get(src.as_uri(), wrong)
    assert info.value.expected == wrong
    assert info.value.actual == hashlib.sha256(b"not what was committed").hexdigest()
    assert "refusing to use it" in str(info.value) and wrong in str(info.value)
    assert contents(store.root) == []


def test_get_missing_file(store, tmp_path):
    with pytest.raises(FetchError, match="cannot read"):
        store.get((tmp_path / "nope").as_uri(), PAYLOAD_SHA)


def test_get_returns_cached_copy_without_fetching(store):
    store.put(PAYLOAD)
    assert store.get("http://127.0.0.1:9/unreachable", PAYLOAD_SHA).read_bytes() == PAYLOAD


def test_corrupted_cached_copy_is_refetched(store, tmp_path):
    store.put(PAYLOAD)
    cached = store.root / PAYLOAD_SHA
    os.chmod(cached, 0o644)
    cached.write_bytes(b"bit rot")
    src = tmp_path / "good"
    src.write_bytes(PAYLOAD)
    assert store.get(src.as_uri(), PAYLOAD_SHA).read_bytes() == PAYLOAD
    # and if the only source is gone the corrupted copy is not returned either
    cached_again = store.root / PAYLOAD_SHA
    os.chmod(cached_again, 0o644)
    cached_again.write_bytes(b"bit rot")
    with pytest.raises(FetchError):
        store.get((tmp_path / "gone").as_uri(), PAYLOAD_SHA)
    assert contents(store.root) == []


def test_size_cap_on_file_uri(store, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(PAYLOAD)
    with pytest.raises(TooLargeError, match="larger than the limit of 100 bytes"):
        store.get(src.as_uri(), PAYLOAD_SHA, max_bytes=100)
    assert contents(store.root) == []


@pytest.mark.parametrize("uri", ["ftp://example.org/x", "s3://bucket/x", "/plain/path"])
def test_unsupported_scheme(store, uri):
    with pytest.raises(FetchError, match="unsupported URI scheme"):
        store.get(uri, PAYLOAD_SHA)


def test_remote_file_host_is_refused(store):
    with pytest.raises(FetchError, match="remote host"):
        store.get("file://otherhost/etc/passwd", PAYLOAD_SHA)


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, b"\x00" * 31])
def test_bad_expected_hash_is_a_caller_error(store, bad):
    with pytest.raises(ValueError):
        store.get("file:///x", bad)


def test_normalise_sha256_forms():
    raw = bytes.fromhex(PAYLOAD_SHA)
    assert normalise_sha256(raw) == normalise_sha256("0x" + PAYLOAD_SHA.upper()) == PAYLOAD_SHA


# ---------------------------------------------------------------------------- http(s)://
def test_get_over_http_from_a_served_store(store, server):
    uri = server.uri_for(PAYLOAD_SHA)
    assert uri.startswith("http://127.0.0.1:")
    path = store.get(uri, PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD
    assert sha256_file(path) == PAYLOAD_SHA


def test_http_content_with_wrong_hash_is_refused(store, server, source):
    other_sha, _ = source.put(b"a different model")
    # the URI serves valid content, but not the content the chain committed to
    os.replace(source.root / other_sha, source.root / ("ab" * 32))
    with pytest.raises(HashMismatchError):
        store.get(f"{server.url}/{'ab' * 32}", "ab" * 32)
    assert contents(store.root) == []


def test_http_404_is_a_fetch_error(store, server):
    with pytest.raises(FetchError, match="HTTP 404"):
        store.get(f"{server.url}/{'00' * 32}", "00" * 32)


def test_http_content_length_over_cap_is_not_downloaded(store, server):
    with pytest.raises(TooLargeError, match=f"is {len(PAYLOAD)} bytes; the limit is 10"):
        store.get(server.uri_for(PAYLOAD_SHA), PAYLOAD_SHA, max_bytes=10)
    assert contents(store.root) == []


def test_connection_refused_is_a_fetch_error(store):
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="cannot fetch"):
        store.get(f"http://127.0.0.1:{port}/{PAYLOAD_SHA}", PAYLOAD_SHA)


def _flaky_server(fail_with: list[int]):
    """An HTTP server that answers each request with the next status of ``fail_with``, then
    with PAYLOAD; returns (server, requests seen)."""
    import http.server
    import threading

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            if fail_with:
                self.send_error(fail_with.pop(0))
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, seen


def test_transient_http_failures_are_retried_with_backoff(store):
    srv, seen = _flaky_server([503, 429])
    try:
        path = store.get(f"http://127.0.0.1:{srv.server_port}/m", PAYLOAD_SHA)
    finally:
        srv.shutdown()
    assert path.read_bytes() == PAYLOAD and len(seen) == 3  # 503, 429, then the file


def test_a_404_is_not_retried_and_retries_end(store):
    srv, seen = _flaky_server([404])
    try:
        with pytest.raises(FetchError, match="HTTP 404"):
            store.get(f"http://127.0.0.1:{srv.server_port}/m", PAYLOAD_SHA)
        assert len(seen) == 1
        srv2, seen2 = _flaky_server([500] * 10)
        try:
            with pytest.raises(FetchError, match=r"HTTP 500 .*\(4 attempts\)"):
                store.get(f"http://127.0.0.1:{srv2.server_port}/m", PAYLOAD_SHA)
        finally:
            srv2.shutdown()
        assert len(seen2) == 4  # the first try and store.retries (3) more
    finally:
        srv.shutdown()


def test_silent_server_times_out(store):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the TCP connection but never answers
    try:
        port = listener.getsockname()[1]
        with pytest.raises(FetchError, match="timed out"):
            store.get(f"http://127.0.0.1:{port}/x", PAYLOAD_SHA, timeout=0.5)
    finally:
        listener.close()
    assert contents(store.root) == []


# ---------------------------------------------------------------------------- ipfs://
def test_ipfs_goes_through_the_gateway(tmp_path, server):
    store = ArtifactStore(tmp_path / "s", ipfs_gateway=server.url)  # no trailing slash
    assert store.ipfs_url("ipfs://bafyXYZ/dir/file") == server.url + "/bafyXYZ/dir/file"
    assert store.ipfs_url("ipfs://ipfs/bafyXYZ") == server.url + "/bafyXYZ"
    assert store.get(f"ipfs://{PAYLOAD_SHA}", PAYLOAD_SHA).read_bytes() == PAYLOAD


def test_ipfs_without_cid(store):
    with pytest.raises(FetchError, match="without a CID"):
        store.get("ipfs://", PAYLOAD_SHA)


# ---------------------------------------------------------------------------- serve
def fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_server_is_read_only_and_answers_only_hash_names(server, source, tmp_path):
    (source.root / "notes.txt").write_text("secret")
    (tmp_path / "outside").write_text("secret")
    status, body = fetch(server.uri_for(PAYLOAD_SHA))
    assert (status, body) == (200, PAYLOAD)
    assert fetch(server.uri_for(PAYLOAD_SHA), "HEAD") == (200, b"")
    assert fetch(server.url + "/")[0] == 404  # no listing
    assert fetch(server.url + "/notes.txt")[0] == 404
    assert fetch(server.url + "/../outside")[0] == 404
    assert fetch(server.url + "/%2e%2e/outside")[0] == 404
    assert fetch(server.url + "/" + PAYLOAD_SHA.upper())[0] == 404
    for method in ("PUT", "POST", "DELETE"):
        assert fetch(server.uri_for(PAYLOAD_SHA), method)[0] == 501
    assert contents(source.root) == sorted([PAYLOAD_SHA, "notes.txt"])


def test_server_serves_concurrent_clients(server):
    results = []

    def worker():
        results.append(fetch(server.uri_for(PAYLOAD_SHA)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [(200, PAYLOAD)] * 4


def test_stop_closes_the_port(source):
    served = serve(source.root)
    assert fetch(served.uri_for(PAYLOAD_SHA))[0] == 200
    served.stop()
    served.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(served.uri_for(PAYLOAD_SHA), timeout=2)


def test_serve_refuses_non_loopback_and_missing_folder(source, tmp_path):
    with pytest.raises(ValueError, match="loopback only"):
        serve(source.root, host="0.0.0.0")
    with pytest.raises(FileNotFoundError):
        serve(tmp_path / "missing")


def test_url_and_stop_unpack(source):
    url, stop = serve(source.root, host="localhost")
    try:
        assert url.startswith("http://127.0.0.1:") and fetch(f"{url}/{PAYLOAD_SHA}")[0] == 200
    finally:
        stop()


def test_serve_forever_blocks_until_stopped(source):
    from ape_arena.evaluation.store import serve_forever

    urls: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    thread = threading.Thread(
        target=serve_forever, args=(source.root,), kwargs={"on_ready": on_ready, "stop_event": stop}
    )
    thread.start()
    assert ready.wait(10)
    assert fetch(f"{urls[0]}/{PAYLOAD_SHA}") == (200, PAYLOAD)
    assert thread.is_alive()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{urls[0]}/{PAYLOAD_SHA}", timeout=2)
