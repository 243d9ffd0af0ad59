"""``ape arena explorer``: the arena explorer web page (``ape_arena.tools.explorer``)."""

from __future__ import annotations

import click

from .common import arena_command, connect, errors


@arena_command(name="explorer", account=False)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; 0.0.0.0 shares it on your network).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Port to listen on.")  # fmt: skip
@click.option("--from-block", type=click.IntRange(min=0), default=None,
              help="Read events (rewards, delegations) from this block on "
              "(default: the arena's deployment block from deployments/<chain_id>.json, else 0).")  # fmt: skip
def explorer(network, arena_address, host, port, from_block):
    """Serve the arena explorer, a web page of the connected chain's arena: the tasks (status,
    phase with a countdown, bounty, participants), each task's leaderboards per round, a
    chart of each node's consensus loss over rounds, each validator's scores against the
    consensus (D, F, slashes), where each round's pot went, and each account's positions,
    rewards over time and delegations' realised return. It refreshes as blocks arrive and
    sends no transaction. Open the printed URL in a browser; Ctrl-C stops it.

    \b
    Example:
        ape arena explorer --network ethereum:local:node
        ape arena explorer --port 9000 --network base:sepolia:node
    """
    import socket

    from ..protocol import deployments
    from ..tools.explorer import ExplorerData, serve

    client = connect(network, None, arena_address, need_account=False)
    if from_block is None:
        try:
            record = deployments.load(client.chain_id)
            same = (
                str(record.get("contracts", {}).get("Arena", "")).lower() == client.address.lower()
            )
            from_block = int(record.get("block", 0)) if same else 0
        except Exception:
            from_block = 0
    with socket.socket() as probe:  # a clear message instead of uvicorn's traceback
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port"
            ) from None
    data = ExplorerData(client, network=network.choice, from_block=from_block)
    with errors():
        data.info()
    click.echo(
        f"explorer of arena {client.address} on {network.choice} (chain {client.chain_id}): "
        f"http://{host}:{port}/  (Ctrl-C stops it)"
    )
    serve(data, host=host, port=port)
