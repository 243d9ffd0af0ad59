"""Chain client: the deployed Arena + ArenaToken through Ape (DESIGN §3, contracts/PROTOCOL.md).

``ArenaClient`` is the only place that talks to the contracts. It knows nothing of ONNX or
scoring: hashes go in as 32 bytes (or 64 hex digits), scores as ``uint64`` ints. It is put
together from readable parts of this package:

* ``views.ArenaViews``: typed views (frozen dataclasses of ``types``): ``task_params``,
  ``task_state``, ``current_round``, ``current_phase``, ``phase_window``, ``participant``,
  ``delegation``, ``round_info``, ``submissions``, ``model_commit``, ``validator_round``,
  ``validator_scores``, ``claimable``…;
* ``transactions.ArenaTransactions``: transactions with the bounty/stake approval done when
  needed, commitments computed locally (``commitments``);
* ``reverts.RevertExplainer``: every contract revert turned into an ``ArenaError`` whose
  one-line message says what to do next;
* here: construction from a deployment record, the chain clock, and
  ``wait_for_phase(task, round, phase)``, which sleeps on a real chain; on a local chain a
  ``warp`` hook (see ``ArenaClient.enable_warp``) jumps the clock instead.

Example::

    from ape import accounts
    from ape_arena.protocol import ArenaClient, Role, TaskParams

    arena = ArenaClient.from_deployment(account=accounts.test_accounts[0])
    task = arena.create_task(TaskParams(bounty=1000 * 10**18, spec_hash=..., eval_root=...))
    arena.join(task, Role.NODE, 10 * 10**18)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .reverts import RevertExplainer
from .transactions import ArenaTransactions
from .types import LOCAL_CHAIN_IDS, PROTOCOL_VERSION, ArenaError, Phase, fmt_time
from .views import ArenaViews


class ArenaClient(ArenaViews, ArenaTransactions, RevertExplainer):
    """The deployed Arena + ArenaToken, with typed views and explained transactions.

    ``account`` is the default sender; every transaction method also takes ``sender=``.
    ``warp`` (``Callable[[int], None]``), when set, is used by ``wait_for_phase`` to jump the
    chain clock to a timestamp instead of sleeping (local chains only; see ``enable_warp``).
    """

    def __init__(
        self,
        arena: Any,
        token: Any | None = None,
        account: Any | None = None,
        *,
        warp: Callable[[int], None] | None = None,
        poll_seconds: float = 5.0,
        preflight: bool = True,
        log: Callable[[str], None] | None = None,
    ):
        self.arena = arena
        self.token = token if token is not None else _contract(str(arena.token()), "ArenaToken")
        self.account = account
        self.warp = warp
        self.poll_seconds = poll_seconds
        self.preflight = preflight
        self.log = log or (lambda _msg: None)

    # ----------------------------------------------------------------- construction
    @classmethod
    def at(
        cls,
        arena_address: str,
        token_address: str | None = None,
        account: Any | None = None,
        **kwargs: Any,
    ) -> ArenaClient:
        """A client for explicit addresses (the token address defaults to ``arena.token()``)."""
        from ape import chain

        if not chain.provider.get_code(arena_address):
            raise ArenaError(
                f"no contract at {arena_address} on chain {chain.chain_id}: "
                + (
                    _fresh_anvil_hint()
                    or "the deployment record is from an earlier chain (a local chain "
                    "restarted starts empty); run `ape run deploy` with this --network again"
                )
            )
        arena = _contract(arena_address, "Arena")
        _check_version(arena, arena_address)
        token = _contract(token_address or str(arena.token()), "ArenaToken")
        return cls(arena, token, account, **kwargs)

    @classmethod
    def from_deployment(
        cls, account: Any | None = None, *, chain_id: int | None = None, root=None, **kwargs: Any
    ) -> ArenaClient:
        """A client for the addresses in ``deployments/<chain_id>.json`` of the connected chain.

        Raises ``ArenaError`` with a hint when there is no record or it has no Arena.
        """
        from ape import chain

        from . import deployments

        cid = chain.chain_id if chain_id is None else chain_id
        try:
            record = deployments.load(cid, root)
        except FileNotFoundError as err:
            hint = _fresh_anvil_hint()
            raise ArenaError(f"{err}" + (f". Or: {hint}" if hint else "")) from None
        contracts = record.get("contracts", {})
        if "Arena" not in contracts:
            raise ArenaError(
                f"the deployment record for chain {cid} has no Arena "
                f"(contracts: {', '.join(contracts) or 'none'}); run `ape run deploy` again"
            )
        return cls.at(contracts["Arena"], contracts.get("ArenaToken"), account, **kwargs)

    # ----------------------------------------------------------------- chain / time
    @property
    def address(self) -> str:
        return str(self.arena.address)

    @property
    def chain_id(self) -> int:
        from ape import chain

        return chain.chain_id

    @property
    def scope(self) -> str:
        """``<chain_id>/<arena address>``: the folder that keeps local state of this arena.

        Local dev chains restart empty and redeploy to the same addresses, so their chain
        part also carries the genesis block hash: ``31337-<hash[:16]>/<arena address>``.
        """
        chain_part = str(self.chain_id)
        if self.is_local:
            from ape import chain

            try:
                chain_part += "-" + bytes(chain.blocks[0].hash).hex()[:16]
            except Exception:
                pass
        return f"{chain_part}/{self.address.lower()}"

    @property
    def is_local(self) -> bool:
        from ape import chain

        return chain.chain_id in LOCAL_CHAIN_IDS

    def now(self) -> int:
        """Timestamp the next transaction's block will (at least) carry: the pending block's,
        never below the head's (a node reached by URL may report a pending time from the wall
        clock while a dev chain's clock was moved ahead of it)."""
        from ape import chain

        head = int(chain.blocks.head.timestamp)
        try:
            return max(int(chain.pending_timestamp), head)
        except Exception:
            return head

    def head_time(self) -> int:
        from ape import chain

        return int(chain.blocks.head.timestamp)

    def mine_block(self) -> None:
        """Mine one empty block (local dev chains only: there blocks come with transactions)."""
        if not self.is_local:
            raise ArenaError("mine_block only works on a local dev chain")
        from ape import chain

        try:
            chain.mine()
        except Exception:  # a provider without `mine` (a node reached by URL): ask it directly
            chain.provider.make_request("evm_mine", [])

    def head_block(self) -> int:
        """The number of the chain's latest block."""
        from ape import chain

        return int(chain.blocks.head.number)

    def enable_warp(self) -> ArenaClient:
        """Make ``wait_for_phase`` jump the clock (local dev chains only)."""
        if not self.is_local:
            raise ArenaError(f"chain {self.chain_id} is not a local dev chain: time cannot warp")
        self.warp = local_warp
        return self

    # ----------------------------------------------------------------- waiting
    def wait_for_phase(
        self,
        task: int,
        round_: int,
        phase: Phase | int,
        *,
        timeout: float | None = None,
        on_wait: Callable[[int, int], None] | None = None,
    ) -> int:
        """Block until ``phase`` of ``round_`` is open; return its end time.

        With ``warp`` set the clock jumps to the phase start; otherwise this sleeps (polling
        every ``poll_seconds``, calling ``on_wait(now, start)``). Raises ``ArenaError`` when the
        window has already closed or ``timeout`` seconds pass.
        """
        phase = Phase(int(phase))
        start, end = self.phase_window(task, round_, phase)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = self.now()
            if now >= end:
                raise ArenaError(
                    f"task {task} round {round_} {phase.label} closed at {fmt_time(end)}; "
                    f"wait for round {round_ + 1}"
                )
            if now >= start:
                return end
            if self.warp is not None:
                self.warp(start)
                continue
            if on_wait is not None:
                on_wait(now, start)
            if deadline is not None and time.monotonic() >= deadline:
                raise ArenaError(
                    f"timed out waiting for task {task} round {round_} {phase.label} "
                    f"(opens {fmt_time(start)})"
                )
            time.sleep(max(0.5, min(self.poll_seconds, start - now)))

    def wait_until(self, timestamp: int, *, on_wait: Callable[[int, int], None] | None = None):
        """Block until the chain clock reaches ``timestamp`` (warps when ``warp`` is set)."""
        while (now := self.now()) < timestamp:
            if self.warp is not None:
                self.warp(timestamp)
                continue
            if on_wait is not None:
                on_wait(now, timestamp)
            time.sleep(max(0.5, min(self.poll_seconds, timestamp - now)))


def _check_version(arena: Any, address: str) -> None:
    """Refuse an Arena of another protocol version than this client's (a v1 Arena has no
    ``PROTOCOL_VERSION`` getter: the call reverts)."""
    try:
        theirs = int(arena.PROTOCOL_VERSION())
    except Exception:  # noqa: BLE001 - no such getter: a v1 (unversioned) Arena
        theirs = 1
    if theirs != PROTOCOL_VERSION:
        raise ArenaError(
            f"the Arena at {address} speaks protocol v{theirs} but this client speaks "
            f"v{PROTOCOL_VERSION}: deploy the current contracts (`ape run deploy`) and use "
            "their record, or use a client of that version (ape-arena release for "
            f"v{theirs}); nothing was sent"
        )


def _fresh_anvil_hint() -> str:
    """When this command runs on an anvil it started itself (``ethereum:local:foundry``, the
    default network), the likely mistake: the deployment is on the chain the user keeps
    running, which needs ``--network ethereum:local:node``."""
    try:
        from ape import chain

        provider = chain.provider
        if provider.name != "foundry" or getattr(provider, "process", None) is None:
            return ""
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    return (
        "this command started a fresh, empty anvil of its own (the default network "
        "ethereum:local:foundry does that for every command); to use the chain you deployed "
        "to, run it (`make chain`) and pass `--network ethereum:local:node`"
    )


def _contract(address: str, name: str):
    """An Ape contract instance at ``address`` typed with the ABI shipped with this client
    (``protocol/abi``), never with whatever Ape cached for that address."""
    from ape import chain

    from .abi import contract_type

    try:
        # replace=True: the shipped type also overwrites a stale entry of Ape's cache
        return chain.contracts.instance_at(
            address, contract_type=contract_type(name), replace=True, fetch_from_explorer=False
        )
    except Exception as err:
        raise ArenaError(
            f"cannot load the {name} contract at {address} ({' '.join(str(err).split())})"
        ) from None


def local_warp(timestamp: int) -> None:
    """Jump a local dev chain's clock: the next block gets ``timestamp``; mine one block so
    views see it. Does nothing if the chain is already there."""
    from ape import chain

    head = int(chain.blocks.head.timestamp)
    if timestamp > head:
        chain.mine(timestamp=int(timestamp))
    else:
        chain.mine()
