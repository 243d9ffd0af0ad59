"""``ape arena validator``: commands for validators."""

import click


@click.group()
def validator():
    """Validators: join a task and run the per-round scoring loop (score, commit, reveal)."""
