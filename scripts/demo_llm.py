"""The language-model demo: ``make demo-llm`` (= ``ape run demo_llm --network ethereum:local:foundry``)."""

import click
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
def cli(network):
    """A chat task on a committed base model with LoRA adapters, on a local chain (see
    ape_arena.tools.demo_llm); exit 1 if a check fails."""
    from ape_arena.tools.demo_llm import run_demo_llm

    if not run_demo_llm(network, log=click.echo):
        raise SystemExit(1)
