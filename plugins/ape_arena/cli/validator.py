"""``ape arena validator``: commands for validators."""

from __future__ import annotations

import click

from .common import (
    arena_command,
    connect,
    errors,
    join_options,
    loop_options,
    status,
    wait_printer,
)
from .common import (
    autosign as do_autosign,
)


@click.group()
def validator():
    """Validators: join a task and run the per-round scoring loop (score, commit, reveal)."""


@arena_command(name="join")
@join_options
def join(network, account, arena_address, task_id, amount, commission):
    """Stake as a validator in TASK (again, with the same commission, to top up).

    Stake added during round r counts from round r+1 (before the start: from round 0).
    Own stake is slashed for a committed-but-unrevealed round or for scores far from the
    consensus; it is locked until the task ends.

    \b
    Example:
        ape arena validator join 1 --amount 500 --commission 10% \\
            --network ethereum:local:node --account TEST::3
    """
    from ..protocol import Role, fmt_tokens, fmt_wad

    client = connect(network, account, arena_address)
    with errors(), status(f"joining task {task_id} as a validator"):
        client.join(task_id, Role.VALIDATOR, amount, commission)
        p = client.participant(task_id, client.account)
    click.echo(
        f"{client.account.address} is a validator in task {task_id}: own stake "
        f"{fmt_tokens(p.own)} ARENA (pending {fmt_tokens(p.own_pending)} from round "
        f"{p.pending_round}), commission {fmt_wad(p.commission)}"
    )


@arena_command(name="run")
@click.argument("task_id", metavar="TASK", type=int)
@loop_options
@click.option(
    "--max-rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Exit once this many rounds have closed and been finalized.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State folder (default: arena.state_dir of ape-config.yaml).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Scoring worker processes, each scoring one model at a time (default: one per CPU; "
    "1 with a GPU). Scores do not depend on it.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="onnxruntime threads per worker (default: CPUs / workers). For rounds of one "
    "large model use --workers 1 (that worker then gets every CPU).",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=1.0),
    default=600.0,
    show_default=True,
    help="Seconds a model may take (static checks, load, run). A guard for this machine, "
    "not a rule: a model past it stops the round with a message (no score is committed) "
    "and is never marked INVALID.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where models run: auto (CUDA when onnxruntime-gpu and a GPU are there, else the "
    "CPU; a CUDA failure moves scoring to the CPU), cpu, or cuda (a CUDA failure stops the "
    "round with a message; no model is ever INVALID for it).",
)
def run(
    network,
    account,
    arena_address,
    task_id,
    once,
    max_rounds,
    state_dir,
    poll,
    workers,
    threads,
    time_limit,
    device,
    no_finalize,
    autosign,
):
    """Validate TASK round after round until it ends: wait for each phase, fetch the eval
    shard and every revealed model (each checked against its on-chain sha256), score them,
    commit, reveal, finalize, claim; at the end claim the rest and withdraw the stake.

    Crash-safe: scores and salt are saved atomically in the state folder
    (<state-dir>/<chain>/<arena>/task-<id>/<validator>/round-<r>.json) before the commit
    transaction. After a crash or restart run the same command again: a committed round is
    revealed from the saved state, never scored again and never re-salted.

    \b
    Example:
        ape arena validator run 1 --network ethereum:local:node --account TEST::3
        ape arena validator run 1 --once --network base:sepolia:node --account NAME
    """
    from ..roles.validator import Validator, ValidatorError

    client = connect(network, account, arena_address)
    acct = client.account
    if autosign:
        do_autosign(acct)
    options = {k: v for k, v in (("workers", workers), ("threads", threads)) if v}
    options["time_limit"] = time_limit
    if device != "auto":
        options["device"] = device
    try:
        with errors():
            v = Validator(
                client,
                task_id,
                acct,
                state_dir=state_dir,
                log=click.echo,
                engine_options=options,
                finalize=not no_finalize,
                name=f"validator {acct.address[:8]}",
            )
            click.echo(f"validating task {task_id} as {acct.address}; state in {v.states.folder}")
            steps = v.run(
                once=once,
                max_rounds=max_rounds,
                poll_seconds=poll,
                on_wait=wait_printer("the next phase"),
            )
    except ValidatorError as err:
        raise click.ClickException(" ".join(str(err).split())) from None
    except KeyboardInterrupt:
        raise click.ClickException(
            "interrupted; run the same command again to resume from the saved state"
        ) from None
    done = [a for s in steps for a in s.actions]
    click.echo(f"done: {', '.join(done) if done else 'nothing was due'}")


for _cmd in (join, run):
    validator.add_command(_cmd)
