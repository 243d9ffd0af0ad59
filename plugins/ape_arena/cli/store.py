"""``ape arena store``: the content-addressed artifact store."""

import click


@click.group()
def store():
    """Artifact store: put, get and serve content-addressed models, shards and specs."""
