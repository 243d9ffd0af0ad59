"""``ape arena task``: commands for task creators (and anyone inspecting a task)."""

import click


@click.group()
def task():
    """Task creators: create a task from a spec and eval shards, reveal shards, show results."""
