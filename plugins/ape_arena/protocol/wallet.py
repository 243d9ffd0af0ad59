"""Account selection shared by scripts and CLI commands."""

from __future__ import annotations

import click


def resolve_account(account, network):
    """Return ``account``; on a local dev network default to the first test account.

    On any other network an explicit ``--account`` is required (nothing is guessed when real
    funds are at stake).
    """
    if account is not None:
        return account
    if network.is_local:
        from ape import accounts

        return accounts.test_accounts[0]
    raise click.UsageError(
        f"network {network.choice} needs an account: pass --account NAME "
        "(see `ape accounts list`; import one with `ape accounts import NAME`)"
    )
