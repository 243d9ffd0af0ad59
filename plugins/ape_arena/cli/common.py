"""Commands and helpers shared by several roles."""

import json

import click


@click.command()
def deployments():
    """Show the AIArena deployment record for every chain known in this project.

    \b
    Example:
        ape arena deployments
    """
    from ..deployments import deployments_dir

    folder = deployments_dir()
    files = sorted(folder.glob("*.json")) if folder.exists() else []
    if not files:
        raise click.ClickException(f"no deployments in {folder}; run `ape run deploy` first")
    for path in files:
        click.echo(f"{path.name}: {json.dumps(json.loads(path.read_text())['contracts'])}")
