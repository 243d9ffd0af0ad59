"""``ape arena``: the command line for every AIArena role.

Each role has its own group; commands are added to the groups by their own modules.
"""

import click


@click.group(name="arena")
def cli():
    """AIArena: a decentralized AI training arena (tasks, nodes, validators, delegators).

    \b
    Example:
        ape arena task show 0 --network ethereum:local:foundry
    """


@cli.group()
def task():
    """Task creators: create a task from a spec and eval shards, reveal shards, show results."""


@cli.group()
def node():
    """Training nodes: join a task, check a model against the spec, submit and reveal it."""


@cli.group()
def validator():
    """Validators: join a task and run the per-round scoring loop (score, commit, reveal)."""


@cli.group()
def delegator():
    """Delegators: back a node or validator, claim its shared rewards, withdraw at task end."""


@cli.group()
def store():
    """Artifact store: put, get and serve content-addressed models, shards and specs."""


@cli.command()
def deployments():
    """Show the AIArena deployment record for every chain known in this project."""
    import json

    from .deployments import deployments_dir

    folder = deployments_dir()
    files = sorted(folder.glob("*.json")) if folder.exists() else []
    if not files:
        raise click.ClickException(f"no deployments in {folder}; run `ape run deploy` first")
    for path in files:
        click.echo(f"{path.name}: {json.dumps(json.loads(path.read_text())['contracts'])}")
