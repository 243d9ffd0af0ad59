"""``ape arena store``: the content-addressed artifact store."""

from __future__ import annotations

import shutil
import time

import click

from .common import artifact_store, errors


@click.group()
def store():
    """Artifact store: put, get and serve content-addressed models, shards and specs."""


@store.command(name="put")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def put(files):
    """Add FILES to the local store; prints "<sha256> <uri>" per file.

    \b
    Example:
        ape arena store put model.onnx shards/round-0.npz
    """
    st = artifact_store()
    with errors():
        for f in files:
            sha, uri = st.put(f)
            click.echo(f"{sha} {uri}")


@store.command(name="get")
@click.argument("uri")
@click.option(
    "--sha256", "sha", required=True, help="Expected sha256 (hex): the fetch is verified."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Copy the verified file here (default: just print its store path).",
)
def get(uri, sha, out):
    """Fetch URI (file://, http(s)://, ipfs://) into the store, verified against --sha256.

    \b
    Example:
        ape arena store get http://127.0.0.1:8765/<sha256> --sha256 <sha256> -o model.onnx
    """
    st = artifact_store()
    with errors():
        path = st.get(uri, sha)
    if out:
        shutil.copyfile(path, out)
        click.echo(out)
    else:
        click.echo(str(path))


@store.command(name="serve")
@click.option("--port", type=int, default=8765, show_default=True, help="0 = any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only by default.")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host.")
def serve(port, host, allow_remote):
    """Serve the store read-only over HTTP (GET /<sha256>) until Ctrl-C.

    Publish artifacts with `--uri-base http://HOST:PORT` on `task create` / `node submit`.

    \b
    Example:
        ape arena store serve --port 8765
    """
    from ..evaluation.store import serve as do_serve

    st = artifact_store()
    try:
        served = do_serve(st.root, host=host, port=port, allow_remote=allow_remote)
    except (ValueError, OSError) as err:
        raise click.ClickException(" ".join(str(err).split())) from None
    click.echo(f"serving {st.root} at {served.url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
