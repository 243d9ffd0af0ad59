"""``ape arena delegator``: commands for delegators (and the top-level claim/withdraw)."""

from __future__ import annotations

import click

from .common import ADDRESS, AMOUNT, arena_command, connect, errors, status


@click.group()
def delegator():
    """Delegators: back a node or validator, claim its shared rewards, withdraw at task end."""


@arena_command(name="delegate")
@click.argument("task_id", metavar="TASK", type=int)
@click.argument("participant", metavar="PARTICIPANT", type=ADDRESS)
@click.option("--amount", type=AMOUNT, required=True, help="ARENA to delegate (e.g. 50).")
def delegate(network, account, arena_address, task_id, participant, amount):
    """Back PARTICIPANT (a node or validator address) in TASK; approves the tokens first.

    Your delegation counts from the next round and shares the participant's rewards pro rata
    after its commission. It also shares its risk: a validator votes with its delegations,
    so a slash takes the same fraction of your delegation as of its own stake (that part is
    burned). It is locked until the task ends; once the participant was slashed you may
    withdraw early, between two finalizations.

    \b
    Example:
        ape arena delegator delegate 1 0x3C44…93BC --amount 50 --network ethereum:local:node
    """
    from ..protocol import Role, fmt_tokens, fmt_wad

    client = connect(network, account, arena_address)
    with errors(), status(f"delegating to {participant}"):
        client.delegate(task_id, participant, amount)
        d = client.delegation(task_id, participant, client.account)
        p = client.participant(task_id, participant)
    click.echo(
        f"delegated {fmt_tokens(amount)} ARENA to {Role(p.role).name.lower()} {participant} in "
        f"task {task_id} (commission {fmt_wad(p.commission)}); active from round "
        f"{d.pending_round}"
        + (
            f"; WARNING: it was slashed before, delegations to it keep {p.kept:.4%} of their value"
            if p.slash_round
            else ""
        )
    )


@arena_command(name="claim")
@click.argument("task_id", metavar="TASK", type=int)
@click.argument("participant", metavar="PARTICIPANT", type=ADDRESS)
def claim(network, account, arena_address, task_id, participant):
    """Claim your vested share of PARTICIPANT's rewards in TASK.

    \b
    Example:
        ape arena delegator claim 1 0x3C44…93BC --network ethereum:local:node
    """
    client = connect(network, account, arena_address)
    _claim(client, task_id, participant)


@arena_command(name="withdraw")
@click.argument("task_id", metavar="TASK", type=int)
@click.argument("participant", metavar="PARTICIPANT", type=ADDRESS)
def withdraw(network, account, arena_address, task_id, participant):
    """Withdraw your delegation to PARTICIPANT after TASK ended (or, if PARTICIPANT was
    slashed, at any time between two finalizations).

    \b
    Example:
        ape arena delegator withdraw 1 0x3C44…93BC --network ethereum:local:node
    """
    client = connect(network, account, arena_address)
    _withdraw(client, task_id, participant)


def _claim(client, task_id: int, participant) -> None:
    from ..protocol import fmt_tokens

    with errors(), status("claiming"):
        amount = client.claim(task_id, participant)
        who = participant if participant is not None else client.account
        left = client.claimable(task_id, who, client.account)
        later = vesting_note(client, task_id, who, client.account, left)
    whose = "your own rewards" if participant is None else f"your share of {participant}"
    click.echo(
        f"claimed {fmt_tokens(amount)} ARENA ({whose} in task {task_id}); "
        f"{fmt_tokens(left)} more claimable now{later}"
    )


def vesting_note(client, task_id: int, participant, account, claimable_now: int) -> str:
    """What is still vesting and when it vests, as '; X more vest when …' ('' if nothing)."""
    from ..protocol import fmt_time, fmt_tokens
    from ..roles.account import still_vesting

    vesting, exact = still_vesting(client, task_id, participant, account, claimable_now)
    if not vesting:
        return ""
    p = client.task_params(task_id)
    end = fmt_time(client.round_end(task_id, p.num_rounds - 1))
    when = f"when task {task_id} ends (its last round is over at {end} and finalized)"
    return f"; {'' if exact else 'about '}{fmt_tokens(vesting)} more vest {when}"


def _withdraw(client, task_id: int, participant) -> None:
    from ..protocol import fmt_tokens

    with errors(), status("withdrawing"):
        amount = client.withdraw(task_id, participant)
    whose = "your stake" if participant is None else f"your delegation to {participant}"
    click.echo(f"withdrew {fmt_tokens(amount)} ARENA ({whose} in task {task_id})")


# --------------------------------------------------------------------------- top level
@arena_command(name="claim")
@click.argument("task_id", metavar="TASK", type=int)
def claim_own(network, account, arena_address, task_id):
    """Claim your own vested rewards in TASK as a node or validator.

    A share delta of each reward is claimable as soon as its round is finalized, the rest
    when the task ends.

    \b
    Example:
        ape arena claim 1 --account NAME --network ethereum:local:node
    """
    client = connect(network, account, arena_address)
    _claim(client, task_id, None)


@arena_command(name="withdraw")
@click.argument("task_id", metavar="TASK", type=int)
def withdraw_own(network, account, arena_address, task_id):
    """Withdraw your own stake (minus slashing) from TASK after it ended.

    \b
    Example:
        ape arena withdraw 1 --account NAME --network ethereum:local:node
    """
    client = connect(network, account, arena_address)
    _withdraw(client, task_id, None)


for _cmd in (delegate, claim, withdraw):
    delegator.add_command(_cmd)
