"""The AIArena demo: ``make demo`` (= ``ape run demo --network ethereum:local:foundry``)."""

import click
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
def cli(network):
    """Run a whole arena on a local chain (see ape_arena.tools.demo); exit 1 if a check fails."""
    from ape_arena.tools.demo import run_demo

    if not run_demo(network, log=click.echo):
        raise SystemExit(1)
