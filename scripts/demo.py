"""The AIArena demo: ``make demo`` (= ``ape run demo --network ethereum:local:foundry``)."""

import click
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
def cli(network):
    """Run a whole arena on a local chain."""
    from ape_arena.demo import run_demo

    run_demo(network, log=click.echo)
