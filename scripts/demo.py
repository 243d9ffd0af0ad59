"""The AIArena demo: ``make demo`` (= ``ape run demo --network ethereum:local:foundry``)."""

import click
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--explore",
    is_flag=True,
    help="At the end, leave the explorer running on http://127.0.0.1:8080/ (Ctrl-C stops it).",
)
@click.option("--port", type=int, default=8080, show_default=True, help="The explorer's port.")
def cli(network, explore, port):
    """Run a whole arena on a local chain (see ape_arena.tools.demo); exit 1 if a check fails."""
    from ape_arena.tools.demo import run_demo

    if not run_demo(network, log=click.echo, explore_port=port if explore else None):
        raise SystemExit(1)
