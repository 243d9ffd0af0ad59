"""``ape arena validator``: commands for validators."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from ape.cli import ConnectedProviderCommand, account_option


@click.group()
def validator():
    """Validators: join a task and run the per-round scoring loop (score, commit, reveal)."""


def _wei(text: str, what: str) -> int:
    """``"12.5"`` ARENA -> wei (18 decimals)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number", param_hint=what) from None
    wei = value * 10**18
    if value < 0 or wei != wei.to_integral_value():
        raise click.BadParameter(f"{text!r} must be >= 0 with at most 18 decimals", param_hint=what)
    return int(wei)


def _wad(text: str, what: str) -> int:
    """``"0.1"`` -> 10**17 (a fraction in WAD)."""
    wad = _wei(text, what)
    if wad > 10**18:
        raise click.BadParameter(f"{text!r} must be between 0 and 1", param_hint=what)
    return wad


def _client(account):
    from ..chain import ArenaClient, ArenaError

    try:
        return ArenaClient.from_deployment(account=account, log=click.echo)
    except ArenaError as err:
        raise click.ClickException(str(err)) from None


@validator.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@click.argument("task", type=int)
@click.option("--amount", required=True, help="Stake in ARENA (decimals allowed), e.g. 500.")
@click.option(
    "--commission",
    default="0",
    show_default=True,
    help="Fraction (0..1) of your rewards kept before the rest is shared with delegators; "
    "fixed for the task.",
)
def join(network, account, task, amount, commission):
    """Stake as a validator in TASK (again with the same commission to top up).

    Stake added before the task starts counts from round 0, later stake from the next round.

    \b
    Example:
        ape arena validator join 1 --amount 500 --commission 0.1 \\
            --network ethereum:local:foundry --account TEST::3
    """
    from ..chain import ArenaError, Role, fmt_tokens
    from ..wallet import resolve_account

    acct = resolve_account(account, network)
    client = _client(acct)
    stake, fee = _wei(amount, "--amount"), _wad(commission, "--commission")
    try:
        client.join(task, Role.VALIDATOR, stake, fee, sender=acct)
        p = client.participant(task, acct)
    except ArenaError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"{acct.address} is a validator in task {task}: own stake "
        f"{fmt_tokens(p.own)} ARENA (pending from round {p.pending_round}), "
        f"commission {commission}"
    )


@validator.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@click.argument("task", type=int)
@click.option("--once", is_flag=True, help="Do what is due right now, then exit.")
@click.option(
    "--max-rounds", type=int, default=None, help="Exit after this many rounds were finalized."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State folder (default: arena.state_dir of ape-config.yaml).",
)
@click.option(
    "--poll", type=float, default=5.0, show_default=True, help="Seconds between clock checks."
)
@click.option("--threads", type=int, default=None, help="onnxruntime threads (default: all).")
@click.option("--no-finalize", is_flag=True, help="Leave finalizing rounds to others.")
def run(network, account, task, once, max_rounds, state_dir, poll, threads, no_finalize):
    """Validate TASK round after round: wait for each phase, fetch the eval shard and every
    revealed model (hash-checked), score them, commit, reveal, finalize, claim; at the end
    claim the rest and withdraw the stake.

    Crash-safe: scores and salt are saved atomically in the state folder before the commit
    transaction. Run the same command again after a crash or restart: a committed round is
    revealed from the saved state, never scored again.

    \b
    Example:
        ape arena validator run 1 --network base:sepolia:node --account NAME
        ape arena validator run 1 --once --network ethereum:local:foundry --account TEST::3
    """
    from ..chain import ArenaError
    from ..validator import Validator, ValidatorError
    from ..wallet import resolve_account

    acct = resolve_account(account, network)
    client = _client(acct)
    options = {"threads": threads} if threads else {}
    try:
        v = Validator(
            client,
            task,
            acct,
            state_dir=state_dir,
            log=click.echo,
            engine_options=options,
            finalize=not no_finalize,
            name=f"validator {acct.address[:8]}",
        )
        click.echo(f"validating task {task} as {acct.address}; state in {v.states.folder}")
        steps = v.run(once=once, max_rounds=max_rounds, poll_seconds=poll)
    except (ArenaError, ValidatorError) as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        raise click.ClickException(
            "interrupted; run the same command again to resume from the saved state"
        ) from None
    done = [a for s in steps for a in s.actions]
    click.echo(f"done: {', '.join(done) if done else 'nothing was due'}")
