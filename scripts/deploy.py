"""Deploy AIArena: ``ape run deploy --network ethereum:local:foundry``.

On a real network pass an Ape account: ``ape run deploy --network base:sepolia:node --account NAME``.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option


@click.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@click.option("--force", is_flag=True, help="Replace an existing live deployment record.")
@click.option("--emission/--no-emission", default=False, help="Also deploy the Emission contract.")
def cli(network, account, force, emission):
    """Deploy ArenaToken and Arena and write deployments/<chain_id>.json."""
    from ape_arena.protocol.deploy import deploy_all
    from ape_arena.protocol.wallet import resolve_account

    deploy_all(resolve_account(account, network), force=force, emission=emission, log=click.echo)
