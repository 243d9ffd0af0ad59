"""``ape arena``: the command line for every AIArena role.

Each role's group lives in its own module under ``ape_arena.cli``; those modules keep heavy
imports (torch, onnxruntime) inside the command functions so ``ape arena --help`` is fast.
"""

import click

from .cli import delegator, explorer, node, store, task, validator
from .cli.common import balance, deployments, status_, transfer


@click.group(name="arena")
def cli():
    """AIArena: a decentralized AI training arena (tasks, nodes, validators, delegators).

    The examples use a local chain started with `make chain` (chain id 1337) and deployed
    to with `ape run deploy --network ethereum:local:node`; on Base Sepolia use
    `--network base:sepolia:node --account NAME`.

    \b
    Example:
        ape arena task show 1 --network ethereum:local:node
    """
    _ape_logs_to_stderr()


def _ape_logs_to_stderr() -> None:
    """Ape's own log lines ("INFO: Connecting to a 'anvil' node.") go to stderr, so stdout
    holds only what the command prints (``--json`` output stays pure JSON)."""
    import logging

    try:
        from ape.logging import ClickHandler
    except ImportError:  # pragma: no cover - an Ape without it logs as it likes
        return
    for handler in logging.getLogger("ape").handlers:
        if isinstance(handler, ClickHandler):
            levels = ("error", "warning", "success", "info", "debug")
            handler.echo_kwargs = {
                **handler.echo_kwargs,
                **{level: {"err": True} for level in levels},
            }


cli.add_command(task.task)
cli.add_command(node.node)
cli.add_command(validator.validator)
cli.add_command(delegator.delegator)
cli.add_command(store.store)
cli.add_command(deployments)
# Shortcuts for a participant's own money: `ape arena claim TASK`, `ape arena withdraw TASK`.
cli.add_command(delegator.claim_own)
cli.add_command(delegator.withdraw_own)
# Token helpers: fund accounts (`ape arena transfer ADDRESS --amount N`), check balances.
cli.add_command(transfer)
cli.add_command(balance)
# One account across every task: stake, claimable, vesting, slashed, withdrawable.
cli.add_command(status_)
# The explorer web page (tasks, leaderboards, charts) of the connected chain.
cli.add_command(explorer.explorer)
