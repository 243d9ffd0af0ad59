"""``ape arena delegator``: commands for delegators."""

import click


@click.group()
def delegator():
    """Delegators: back a node or validator, claim its shared rewards, withdraw at task end."""
