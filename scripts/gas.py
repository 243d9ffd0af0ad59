"""Gas per function at the maximum sizes: ``ape run gas --network ethereum:local:foundry``
(``make gas``). Writes gas-report.md / gas-report.json; exits 1 if any transaction reaches
15,000,000 gas. The logic lives in ape_arena.tools.gas."""

import sys

import click
from ape.cli import ConnectedProviderCommand
from ape_arena.tools.gas import disable_anvil_steps_tracing

# Before Ape starts anvil: no opcode traces kept in memory (they reach 20+ GB at max sizes).
disable_anvil_steps_tracing()


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--out", default=".", show_default=True, help="Folder for gas-report.md and gas-report.json."
)
@click.option(
    "--check-steps",
    type=int,
    default=None,
    help="Also check this finalize max_steps at its worst alignment; exit 2 if a page reaches 15M gas.",
)
@click.option(
    "--submissions",
    type=click.IntRange(2, 1024),
    default=1024,
    show_default=True,
    help="Nodes that each reveal one model (MAX_SUBMISSIONS = 1,024 is the largest round).",
)
@click.option(
    "--validators",
    type=click.IntRange(2, 1024),
    default=128,
    show_default=True,
    help="Validators of equal stake; committees have K = 64 (128: each sits on half of them).",
)
@click.option(
    "--client-paging/--profile",
    default=True,
    show_default=True,
    help="Finalize as the client does (pages halved while eth_estimateGas exceeds 14M), or "
    "profile every finalize unit alone and search the largest safe max_steps (slow and "
    "disk-hungry at 1,024 submissions: use it with --submissions 128 --validators 32).",
)
def cli(network, out, check_steps, submissions, validators, client_paging):
    """One round at the largest sizes on anvil (1,024 submissions, K = 64): gas table and
    finalize step size."""
    from ape_arena.tools.gas import main

    if check_steps and client_paging:
        raise click.UsageError("--check-steps checks a fixed max_steps: add --profile")
    sys.exit(
        main(
            out_dir=out,
            log=click.echo,
            check_steps=check_steps,
            submissions=submissions,
            validators=validators,
            client_paging=client_paging,
        )
    )
