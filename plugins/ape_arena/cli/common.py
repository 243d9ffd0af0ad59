"""Commands and helpers shared by several roles.

* ``arena_command``: a ``click.command`` with Ape's ``ConnectedProviderCommand`` (so
  ``--network`` works as in every Ape tool), ``--account`` (``account_option(prompt=False)``;
  local networks default to a test account through ``wallet.resolve_account``) and
  ``--arena ADDRESS`` (default: ``deployments/<chain_id>.json``).
* parameter types: token amounts (``100``, ``2.5``, ``1000wei``), fractions (``0.1``,
  ``10%``), durations (``90``, ``15m``, ``2h``, ``1d``), scores (``0.25`` -> 0.25e9).
* ``errors()``: every known error (contract reverts, spec, store, checks, shards) becomes a
  one-line ``click.ClickException``.
* ``connect(...)``: the ``ArenaClient`` for the connected chain.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

TOKEN = 10**18
WAD = 10**18


# --------------------------------------------------------------------------- param types
class TokenAmount(click.ParamType):
    """ARENA amount: ``100`` / ``2.5`` tokens (18 decimals) or ``1000wei``; -> wei (int)."""

    name = "AMOUNT"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace("_", "").replace(",", "")
        try:
            if text.endswith("wei"):
                wei = int(text[:-3].strip())
            else:
                text = text.removesuffix("arena").strip()
                wei = Decimal(text) * TOKEN
                if wei != wei.to_integral_value():
                    raise InvalidOperation
                wei = int(wei)
        except (InvalidOperation, ValueError):
            self.fail(f"{value!r} is not a token amount (e.g. 100, 2.5 or 1000wei)", param, ctx)
        if wei < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return wei


class WadFraction(click.ParamType):
    """A fraction: ``0.1`` or ``10%`` -> WAD int (1e18 = 1.0)."""

    name = "FRACTION"

    def __init__(self, maximum: Decimal | None = Decimal(1)):
        self.maximum = maximum

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            frac = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
        except InvalidOperation:
            self.fail(f"{value!r} is not a fraction (e.g. 0.1 or 10%)", param, ctx)
        if frac < 0 or (self.maximum is not None and frac > self.maximum):
            self.fail(f"{value!r} must be between 0 and {self.maximum}", param, ctx)
        return int(frac * WAD)


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType):
    """Seconds: ``90``, ``90s``, ``15m``, ``2h``, ``1d``."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value).lower())
        if not m:
            self.fail(f"{value!r} is not a duration (e.g. 90, 15m, 2h, 1d)", param, ctx)
        return int(Decimal(m.group(1)) * _UNITS[m.group(2)])


class Score(click.ParamType):
    """A loss as a decimal (``0.25``) -> uint64 fixed point (x 1e9); ``0`` = none."""

    name = "SCORE"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return int(Decimal(str(value)) * 10**9)
        except InvalidOperation:
            self.fail(f"{value!r} is not a number", param, ctx)


class Address(click.ParamType):
    """A 0x address (any case) -> checksummed; an Ape account alias is resolved too."""

    name = "ADDRESS"

    def convert(self, value, param, ctx):
        from eth_utils import is_address, to_checksum_address

        text = str(value).strip()
        if is_address(text):
            return to_checksum_address(text)
        try:
            from ape import accounts

            return accounts.load(text).address
        except Exception:
            self.fail(
                f"{value!r} is not an address (0x + 40 hex digits) or account alias", param, ctx
            )


AMOUNT = TokenAmount()
ADDRESS = Address()
FRACTION = WadFraction()
DURATION = Duration()
SCORE = Score()


# --------------------------------------------------------------------------- decorators
def arena_command(*, name: str | None = None, account: bool = True, **kwargs: Any):
    """``@click.command`` connected to ``--network``, with ``--account``, ``--arena`` and
    Ape's ``-v/--verbosity`` (``-v DEBUG`` shows Ape's own log lines and RPC detail)."""
    from ape.cli import ConnectedProviderCommand, account_option, verbosity_option

    def decorate(fn: Callable) -> Callable:
        fn = click.option(
            "--arena",
            "arena_address",
            metavar="ADDRESS",
            default=None,
            help="Arena contract address (default: deployments/<chain_id>.json).",
        )(fn)
        if account:
            fn = account_option(prompt=False)(fn)
        fn = verbosity_option()(fn)
        return click.command(name=name, cls=ConnectedProviderCommand, **kwargs)(fn)

    return decorate


def join_options(f: Callable) -> Callable:
    """The TASK argument and the --amount/--commission options shared by every ``join``."""
    for decorator in reversed(
        (
            click.argument("task_id", metavar="TASK", type=int),
            click.option(
                "--amount", type=AMOUNT, required=True, help="Stake in ARENA (top-ups allowed)."
            ),
            click.option(
                "--commission",
                type=FRACTION,
                default="0",
                show_default=True,
                help="Your share of delegators' part of your rewards, fixed for the task "
                "(0.1 or 10%).",
            ),
        )
    ):
        f = decorator(f)
    return f


def connect(
    network: Any,
    account: Any = None,
    arena_address: str | None = None,
    *,
    need_account: bool = True,
):
    """The ``ArenaClient`` of the connected chain, with the resolved sender account."""
    from ..protocol import ArenaClient
    from ..protocol.wallet import resolve_account

    acct = resolve_account(account, network) if need_account else account
    if acct is None and network.is_local:
        acct = resolve_account(None, network)
    with errors():
        if arena_address:
            return ArenaClient.at(arena_address, account=acct, log=click.echo)
        return ArenaClient.from_deployment(acct, log=click.echo)


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Turn the plugin's known errors into one-line ``click.ClickException``s."""
    from ..protocol import ArenaError

    known: tuple[type[BaseException], ...] = (ArenaError, FileNotFoundError)
    for mod, name in (
        ("ape_arena.evaluation.spec", "SpecError"),
        ("ape_arena.evaluation.store", "StoreError"),
        ("ape_arena.evaluation.shards", "ShardError"),
        ("ape_arena.evaluation.checks", "CheckError"),
        ("ape_arena.evaluation.pool", "EngineError"),  # ValidatorFault included
        ("ape_arena.evaluation.worker", "ShardError"),
        ("ape_arena.protocol.deployments", "DeploymentExistsError"),
    ):
        try:
            known += (getattr(__import__(mod, fromlist=[name]), name),)
        except Exception:  # a module that is not there (yet) or cannot import
            pass
    try:
        yield
    except click.ClickException:
        raise
    except known as err:
        raise click.ClickException(one_line(err)) from None
    except Exception as err:
        if "invalid chain id for signer" in str(err).lower():
            raise click.ClickException(wrong_chain_id_hint(err)) from None
        raise


def wrong_chain_id_hint(err: BaseException) -> str:
    """A node that runs another chain id than the network Ape signs for (an anvil started
    without ``--chain-id 1337`` behind ``ethereum:local:node``)."""
    try:
        from ape import chain

        running = f"the node runs chain id {chain.provider.web3.eth.chain_id}"
    except Exception:  # noqa: BLE001 - only a hint
        running = "the node runs another chain id"
    return (
        f"{running}, but Ape signed for its network's chain id (1337 for ethereum:local): "
        "start the local chain with `make chain` (anvil --chain-id 1337 ...) or pick the "
        f"--network that matches the node ({one_line(err)})"
    )


def one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())


# --------------------------------------------------------------------------- output
def console():
    """A rich console on stderr for progress (stdout stays machine-readable)."""
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while a step runs (plain when stderr is not a terminal)."""
    con = console()
    if con.is_terminal:
        with con.status(message):
            yield
    else:
        yield


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=_json_default))


def _json_default(value: Any):
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def state_dir() -> Path:
    """``arena.state_dir`` of ape-config.yaml (default ``.arena/state``)."""
    try:
        from ape import config

        name = config.get_config("arena").state_dir
    except Exception:
        name = ".arena/state"
    return Path.cwd() / name


def artifact_store():
    from ..evaluation.store import ArtifactStore

    return ArtifactStore.from_config()


def uri_for(sha256: str, local_uri: str, uri_base: str | None) -> str:
    """The URI to publish on-chain: ``<uri_base>/<sha256>`` when given, else the local one."""
    if uri_base:
        return f"{uri_base.rstrip('/')}/{sha256}"
    return local_uri


def wait_printer(what: str) -> Callable[[int, int], None]:
    """``on_wait`` callback for ``ArenaClient.wait_for_phase``: one line per minute."""
    from ..protocol import fmt_time

    last = {"t": None}

    def show(now: int, start: int) -> None:
        minute = (start - now) // 60
        if last["t"] != minute:
            last["t"] = minute
            click.echo(f"waiting for {what}: opens {fmt_time(start)} (in {start - now}s)", err=True)

    return show


# --------------------------------------------------------------------------- commands
@click.command()
def deployments():
    """Show the AIArena deployment record for every chain known in this project.

    \b
    Example:
        ape arena deployments
    """
    from ..protocol.deployments import deployments_dir

    folder = deployments_dir()
    files = sorted(folder.glob("*.json")) if folder.exists() else []
    if not files:
        raise click.ClickException(f"no deployments in {folder}; run `ape run deploy` first")
    for path in files:
        click.echo(f"{path.name}: {json.dumps(json.loads(path.read_text())['contracts'])}")


@arena_command(name="balance")
@click.argument("addresses", nargs=-1, metavar="[ADDRESS]...", type=ADDRESS)
def balance(network, account, arena_address, addresses):
    """Show ARENA token balances of ADDRESSes (default: --account, or the first test account
    on a local chain).

    \b
    Example:
        ape arena balance 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --network ethereum:local:node
    """
    from ..protocol import fmt_tokens

    client = connect(network, account, arena_address, need_account=False)
    targets = list(addresses)
    if not targets and client.account is not None:
        targets = [client.account.address]
    if not targets:
        raise click.UsageError("give an ADDRESS or --account NAME")
    with errors():
        for addr in targets:
            click.echo(f"{addr} {fmt_tokens(client.balance(addr), 18)} ARENA")


def page_options(default_limit: int) -> Callable[[Callable], Callable]:
    """``--limit`` and ``--below`` of the commands that read tasks a page at a time."""

    def decorate(fn: Callable) -> Callable:
        fn = click.option(
            "--below",
            type=click.IntRange(min=2),
            default=None,
            help="Only tasks with a smaller id (the next page).",
        )(fn)
        return click.option(
            "--limit",
            type=click.IntRange(min=1, max=1000),
            default=default_limit,
            show_default=True,
            help="At most this many tasks (newest first).",
        )(fn)

    return decorate


@arena_command(name="status")
@click.argument("address", metavar="[ADDRESS]", type=ADDRESS, required=False)
@page_options(50)
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Look for the account's delegations from this block on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status_(network, account, arena_address, address, limit, below, from_block, as_json):
    """Show what ADDRESS (default: --account) has in each task: its role (node, validator,
    delegator, creator), stake, delegations to it, what it can claim now, what vests when
    the task ends, what was slashed, what it can withdraw, the creator's refund.

    \b
    Example:
        ape arena status 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --network ethereum:local:node
    """
    from ..protocol import fmt_tokens
    from ..roles.account import account_status

    client = connect(network, account, arena_address, need_account=False)
    who = address or (client.account.address if client.account is not None else None)
    if who is None:
        raise click.UsageError("give an ADDRESS or --account NAME")
    with errors():
        report = account_status(client, who, limit=limit, below=below, from_block=from_block)
    if as_json:
        echo_json(report)
        return
    if not report["tasks"]:
        click.echo(f"{who} has nothing in tasks {report['tasks_checked'] or 'none yet'}")
    for t in report["tasks"]:
        head = f"task {t['task']} ({t['status']}): {t['role']}"
        if t["role"] == "creator":
            refund = "taken" if t["refund_claimed"] else fmt_tokens(t["refund"]) + " ARENA"
            click.echo(f"{head}; refund {refund}")
            continue
        if t["role"] == "delegator":
            head += f" of {t['participant']}"
        parts = [f"stake {fmt_tokens(t['stake'])}"]
        if "delegated" in t:
            parts.append(f"delegated to it {fmt_tokens(t['delegated'])}")
        parts.append(f"claimable now {fmt_tokens(t['claimable'])}")
        if t["vesting"]:
            about = "" if t["vesting_exact"] else "about "
            parts.append(f"vesting until the end {about}{fmt_tokens(t['vesting'])}")
        if t.get("slashed"):
            parts.append(f"slashed {fmt_tokens(t['slashed'])}")
        if t["withdrawable"]:
            parts.append(f"withdrawable {fmt_tokens(t['withdrawable'])}")
        click.echo(f"{head}; " + ", ".join(parts) + " ARENA")
    if report["next_below"]:
        click.echo(f"older tasks: ape arena status {who} --below {report['next_below']}")


@arena_command(name="transfer")
@click.argument("to", metavar="ADDRESS", type=ADDRESS)
@click.option("--amount", type=AMOUNT, required=True, help="ARENA to send (e.g. 1000).")
def transfer(network, account, arena_address, to, amount):
    """Send ARENA tokens to ADDRESS (fund a node, validator or delegator account).

    On a local chain the deployer (the first test account) holds the initial supply.

    \b
    Example:
        ape arena transfer 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --amount 1000 \\
            --network ethereum:local:node
    """
    from ..protocol import fmt_tokens

    client = connect(network, account, arena_address)
    with errors():
        have = client.balance(client.account)
        if have < amount:
            raise click.ClickException(
                f"{client.account.address} holds {fmt_tokens(have)} ARENA, less than "
                f"{fmt_tokens(amount)}"
            )
        client.token.transfer(to, amount, sender=client.account)
    click.echo(f"sent {fmt_tokens(amount)} ARENA from {client.account.address} to {to}")


# --------------------------------------------------------------------------- role loops
def loop_options(fn: Callable) -> Callable:
    """``--once``, ``--poll``, ``--no-finalize``, ``--autosign`` of the hands-free ``run``
    commands."""
    fn = click.option(
        "--autosign",
        is_flag=True,
        help="Sign this loop's transactions without a prompt each (a keyfile account: its "
        "passphrase is asked once, or read from APE_ACCOUNTS_<alias>_PASSPHRASE).",
    )(fn)
    fn = click.option("--no-finalize", is_flag=True, help="Leave finalizing rounds to others.")(fn)
    fn = click.option(
        "--poll",
        type=click.FloatRange(min=0.1),
        default=5.0,
        show_default=True,
        help="Seconds between chain clock checks while waiting for a phase.",
    )(fn)
    return click.option("--once", is_flag=True, help="Do what is due right now, then exit.")(fn)


def autosign(account: Any) -> None:
    """Let a keyfile account sign without a prompt per transaction (Ape's ``set_autosign``;
    the passphrase from ``APE_ACCOUNTS_<alias>_PASSPHRASE`` or asked once). Test and other
    accounts that never prompt are left as they are."""
    import os

    if account is None or not hasattr(account, "set_autosign"):
        return
    passphrase = os.environ.get(f"APE_ACCOUNTS_{account.alias}_PASSPHRASE")
    account.set_autosign(True, passphrase=passphrase)


def run_role_loop(loop: Any, once: bool, poll: float) -> None:
    """Run a ``roles.loop.RoleLoop`` to its end; its errors become one-line messages."""
    from ..roles.loop import LoopError

    try:
        with errors():
            steps = loop.run_loop(
                once=once, poll_seconds=poll, on_wait=wait_printer("the next phase")
            )
    except LoopError as err:
        raise click.ClickException(" ".join(str(err).split())) from None
    except KeyboardInterrupt:
        raise click.ClickException(
            "interrupted; run the same command again to carry on where it stopped"
        ) from None
    done = [a for s in steps for a in s.actions]
    click.echo(f"done: {', '.join(done) if done else 'nothing was due'}")
