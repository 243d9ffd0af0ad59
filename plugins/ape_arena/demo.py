"""The local demo. At this stage: deploy everything to the local anvil and print addresses."""

from __future__ import annotations

import click


def run_demo(network, log=print) -> None:
    if not network.is_local:
        raise click.UsageError("the demo warps chain time; run it on a local network")
    from .deploy import deploy_all
    from .wallet import resolve_account

    log("AIArena demo: deploying to the local anvil")
    deploy_all(resolve_account(None, network), log=log)
