"""``ape arena node``: commands for training nodes."""

import click


@click.group()
def node():
    """Training nodes: join a task, check a model against the spec, submit and reveal it."""
