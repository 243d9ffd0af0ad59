"""Gas per function at the maximum sizes: ``ape run gas --network ethereum:local:foundry``
(``make gas``). Writes gas-report.md / gas-report.json; exits 1 if any transaction reaches
15,000,000 gas. The logic lives in ape_arena.gas."""

import sys

import click
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
@click.option("--out", default=".", show_default=True, help="Folder for gas-report.md and gas-report.json.")
def cli(network, out):
    """One round at MAX_SUBMISSIONS x MAX_VALIDATORS on anvil: gas table and finalize step size."""
    from ape_arena.gas import main

    sys.exit(main(out_dir=out, log=click.echo))
