"""Chain client: the deployed Arena + ArenaToken through Ape (DESIGN §3, contracts/PROTOCOL.md).

``ArenaClient`` is the only place that talks to the contracts. It knows nothing of ONNX or
scoring: hashes go in as 32 bytes (or 64 hex digits), scores as ``uint64`` ints.

* typed views (frozen dataclasses): ``task_params``, ``task_state``, ``current_round``,
  ``current_phase``, ``phase_window``, ``participant``, ``delegation``, ``round_info``,
  ``submissions``, ``model_commit``, ``validator_round``, ``validator_scores``, ``claimable``…
* commitments computed locally with eth_abi exactly as PROTOCOL.md §5 says
  (``model_commitment``, ``score_commitment``; tests compare them with the contract's pure
  functions);
* transactions with the bounty/stake approval done when needed, and every contract revert
  turned into an ``ArenaError`` whose one-line message says what to do next;
* ``wait_for_phase(task, round, phase)``: sleeps on a real chain; on a local chain a
  ``warp`` hook (see ``ArenaClient.enable_warp``) jumps the clock instead.

Example::

    from ape import accounts
    from ape_arena.protocol.client import ArenaClient, Phase, Role

    arena = ArenaClient.from_deployment(account=accounts.test_accounts[0])
    task = arena.create_task(TaskParams(bounty=1000 * 10**18, spec_hash=..., eval_root=...))
    arena.join(task, Role.NODE, 10 * 10**18)
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

WAD = 10**18
TOKEN = 10**18
SCORE_SCALE = 10**9
INVALID_SCORE = 2**64 - 1
MAX_SUBMISSIONS = 128
MAX_VALIDATORS = 32
MAX_ROUNDS = 64
MAX_FINALIZE_STEPS = 320
DEFAULT_FINALIZE_STEPS = 20  # worst page at 128 x 32 stays < 15M gas (README Gas)
"""Finalize units per transaction: keeps every finalize under 15M gas at 128 x 32 (README Gas)."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
LOCAL_CHAIN_IDS = {31337, 1337}


class Role(IntEnum):
    NONE = 0
    NODE = 1
    VALIDATOR = 2


class Phase(IntEnum):
    NOT_STARTED = 0
    COMMIT = 1
    REVEAL = 2
    SCORE_COMMIT = 3
    SCORE_REVEAL = 4
    ENDED = 5

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class Status(IntEnum):
    NONE = 0
    ACTIVE = 1
    CANCELLED = 2
    ENDED = 3


class Stage(IntEnum):
    OPEN = 0
    CONSENSUS = 1
    RANK = 2
    PAY_NODES = 3
    PAY_VALIDATORS = 4
    DONE = 5


class VoidReason(IntEnum):
    NONE = 0
    NO_EVAL = 1
    NO_SUBMISSIONS = 2
    NO_QUORUM = 3


class ArenaError(RuntimeError):
    """A contract revert (or a client-side refusal) explained in one line.

    ``reason`` is the raw revert string (``"arena: wrong phase"``) or ``None`` for client-side
    errors; ``str(err)`` is the message to show a user.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------- value helpers
def to_bytes32(value: bytes | str) -> bytes:
    """32 bytes, or 64 hex digits (``0x`` optional) -> 32 bytes."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"expected 32 bytes, got {len(value)}")
        return bytes(value)
    text = str(value).strip().lower().removeprefix("0x")
    if len(text) != 64:
        raise ValueError(f"expected 64 hex digits, got {value!r}")
    return bytes.fromhex(text)


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def fmt_time(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_tokens(wei: int, decimals: int = 4) -> str:
    """``1234500000000000000`` -> ``"1.2345"`` (trailing zeros trimmed)."""
    whole, frac = divmod(int(wei), TOKEN)
    text = f"{whole}.{frac:018d}"[: len(str(whole)) + 1 + decimals].rstrip("0").rstrip(".")
    return text or "0"


def fmt_wad(value: int) -> str:
    return f"{int(value) / WAD:g}"


def fmt_score(score: int) -> str:
    return "INVALID" if int(score) == INVALID_SCORE else f"{int(score) / SCORE_SCALE:.6f}"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if hasattr(value, "address") and not isinstance(value, str | int):
        return str(value.address)
    return value


def _from_struct(cls, raw: Any):
    """An Ape struct / tuple return value -> dataclass ``cls`` (fields matched by name)."""
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for i, name in enumerate(names):
        try:
            v = getattr(raw, name)
        except AttributeError:
            try:
                v = raw[i]
            except (IndexError, KeyError, TypeError):
                continue  # a client-side field with a default (e.g. Submission.slot)
        values[name] = _plain(v)
    return cls(**values)


# --------------------------------------------------------------------------- typed records
@dataclass(frozen=True)
class TaskParams:
    """``TaskParams`` of ``create_task`` (PROTOCOL.md §2). Amounts in wei, fractions in WAD."""

    bounty: int
    spec_hash: bytes
    eval_root: bytes
    spec_uri: str = ""
    num_rounds: int = 3
    start_time: int = 0
    commit_duration: int = 3600
    reveal_duration: int = 1800
    score_commit_duration: int = 3600
    score_reveal_duration: int = 1800
    min_node_stake: int = 10 * TOKEN
    min_validator_stake: int = 100 * TOKEN
    gamma: int = WAD // 10
    delta: int = WAD // 2
    rank_ratio: int = 8 * WAD // 10
    tolerance: int = WAD // 10
    slash_tau: int = WAD // 2
    slash_miss: int = WAD // 10
    slash_dev: int = WAD // 10
    min_quorum: int = 1
    baseline_score: int = 0

    ABI_ORDER = (
        "bounty spec_hash spec_uri eval_root num_rounds start_time commit_duration "
        "reveal_duration score_commit_duration score_reveal_duration min_node_stake "
        "min_validator_stake gamma delta rank_ratio tolerance slash_tau slash_miss slash_dev "
        "min_quorum baseline_score"
    ).split()

    def as_tuple(self) -> tuple:
        out = []
        for name in self.ABI_ORDER:
            v = getattr(self, name)
            out.append(to_bytes32(v) if name in ("spec_hash", "eval_root") else v)
        return tuple(out)

    @property
    def round_length(self) -> int:
        return (
            self.commit_duration
            + self.reveal_duration
            + self.score_commit_duration
            + self.score_reveal_duration
        )


@dataclass(frozen=True)
class TaskState:
    creator: str
    status: int
    finalized_rounds: int
    carry: int
    refund: int
    refund_claimed: bool
    participant_count: int
    validator_count: int
    total_own_stake: int
    round_length: int


@dataclass(frozen=True)
class Participant:
    role: int
    commission: int
    own_active: int
    own_pending: int
    del_active: int
    del_pending: int
    pending_round: int
    acc: int
    owner_earned: int
    owner_claimed: int
    slashed: int
    validator_index: int

    @property
    def joined(self) -> bool:
        return self.role != 0

    @property
    def own(self) -> int:
        return self.own_active + self.own_pending

    @property
    def delegated(self) -> int:
        return self.del_active + self.del_pending


@dataclass(frozen=True)
class Delegation:
    active: int
    pending: int
    pending_round: int
    acc_checkpoint: int
    earned: int
    claimed: int


@dataclass(frozen=True)
class RoundInfo:
    eval_revealed: bool
    shard_sha256: bytes
    shard_uri: str
    num_submissions: int
    commit_count: int
    validator_commits: int
    validator_reveals: int
    stage: int
    cursor: int
    void_reason: int
    pot: int
    emission_amount: int
    nodes_pot: int
    validators_pot: int
    node_stake: int
    validator_stake: int
    sum_g_stake: int
    sum_f_stake: int
    paid: int
    slashed: int

    @property
    def done(self) -> bool:
        return self.stage == Stage.DONE


@dataclass(frozen=True)
class Submission:
    node: str
    model_sha256: bytes
    uri: str
    commit_seq: int
    consensus: int
    stake: int
    weight: int
    reward: int
    slot: int = -1


@dataclass(frozen=True)
class ModelCommit:
    commitment: bytes
    seq: int
    committed: bool
    revealed: bool
    slot: int


@dataclass(frozen=True)
class ValidatorRound:
    commitment: bytes
    committed: bool
    revealed: bool
    stake: int
    deviation_sum: int
    deviation: int
    agreement: int
    reward: int
    slash: int


@dataclass(frozen=True)
class FinalizeResult:
    """What ``finalize`` did: rounds completed, transactions sent, and whether the task ended."""

    rounds: list[int] = field(default_factory=list)
    transactions: int = 0
    task_ended: bool = False


# --------------------------------------------------------------------------- commitments
def model_commitment(model_sha256: bytes | str, node: str, task: int, round_: int) -> bytes:
    """``keccak256(abi_encode(bytes32 model_sha256, address node, uint256 task, uint256 round))``."""
    return keccak(
        abi_encode(
            ["bytes32", "address", "uint256", "uint256"],
            [to_bytes32(model_sha256), to_checksum_address(str(node)), int(task), int(round_)],
        )
    )


def score_commitment(
    task: int, round_: int, validator: str, scores: Sequence[int], salt: bytes | str
) -> bytes:
    """``keccak256(abi_encode(uint256 task, uint256 round, address validator, uint64[] scores,
    bytes32 salt))`` with the standard encoding of a dynamic ``uint64[]``."""
    return keccak(
        abi_encode(
            ["uint256", "uint256", "address", "uint64[]", "bytes32"],
            [
                int(task),
                int(round_),
                to_checksum_address(str(validator)),
                [int(s) for s in scores],
                to_bytes32(salt),
            ],
        )
    )


def new_salt() -> bytes:
    import secrets

    return secrets.token_bytes(32)


# --------------------------------------------------------------------------- the client
_STATIC_HINTS: dict[str, str] = {
    "deposits closed": "deposits now would only count after the last round; this task takes no more stake",
    "nothing to withdraw": "nothing left to withdraw for this position (already withdrawn or fully slashed)",
    "creator cannot join": "the task creator cannot join its own task; use another account",
    "has participants": "someone already joined; a task can only be cancelled before anyone joins",
    "rounds finalized": "a round was already finalized; the task can no longer be cancelled",
    "cannot delegate to self": "you cannot delegate to yourself; top up with `ape arena node join` instead",
    "already revealed": "already revealed in this round",
    "duplicate model": "another node revealed this model hash first; submit your own model",
    "bad proof": "the shard hash and proof do not match the task's eval root; use the saved shard manifest",
    "eval already revealed": "this round's eval shard is already revealed",
    "refund already claimed": "the refund was already claimed",
    "zero amount": "amount must be greater than zero",
    "parameter out of range": "a task parameter is out of its allowed range (see contracts/PROTOCOL.md §2)",
    "commission out of range": "commission must be between 0 and 1",
}
"""Revert reasons whose explanation needs no chain state (the others are in ``_hint``)."""


class ArenaClient:
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
        from ape import Contract

        self.arena = arena
        self.token = token if token is not None else Contract(str(arena.token()))
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
                f"no contract at {arena_address} on chain {chain.chain_id}: the deployment "
                "record is stale (a local chain starts empty each time); run `ape run deploy`"
            )
        arena = _contract(arena_address, "Arena")
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
            raise ArenaError(str(err)) from None
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
        """Timestamp the next transaction's block will (at least) carry."""
        from ape import chain

        try:
            return int(chain.pending_timestamp)
        except Exception:
            return int(chain.blocks.head.timestamp)

    def head_time(self) -> int:
        from ape import chain

        return int(chain.blocks.head.timestamp)

    def enable_warp(self) -> ArenaClient:
        """Make ``wait_for_phase`` jump the clock (local dev chains only)."""
        if not self.is_local:
            raise ArenaError(f"chain {self.chain_id} is not a local dev chain: time cannot warp")
        self.warp = local_warp
        return self

    # ----------------------------------------------------------------- views
    def task_count(self) -> int:
        return int(self.arena.task_count())

    def task_params(self, task: int) -> TaskParams:
        self._check_task(task)
        raw = self.arena.task_params(task)
        names = [f.name for f in dataclasses.fields(TaskParams)]
        values = {}
        for name in names:
            try:
                v = getattr(raw, name)
            except AttributeError:
                v = raw[TaskParams.ABI_ORDER.index(name)]
            values[name] = _plain(v)
        return TaskParams(**values)

    def task_state(self, task: int) -> TaskState:
        self._check_task(task)
        return _from_struct(TaskState, self.arena.task_state(task))

    def current_round(self, task: int) -> int:
        """Time-round: -1 before the start, may be >= num_rounds after the last round."""
        return int(self.arena.current_round(task))

    def round_at(self, task: int, timestamp: int) -> int:
        """The time-round at ``timestamp`` (-1 before the start), as the contract computes it;
        used with ``now()`` so a commitment is for the round of the block that includes it."""
        p = self.task_params(task)
        if timestamp < p.start_time:
            return -1
        return (timestamp - p.start_time) // p.round_length

    def current_phase(self, task: int) -> Phase:
        return Phase(int(self.arena.current_phase(task)))

    def round_start(self, task: int, round_: int) -> int:
        return int(self.arena.round_start(task, round_))

    def phase_end(self, task: int, round_: int, phase: Phase | int) -> int:
        return int(self.arena.phase_end(task, round_, int(phase)))

    def phase_window(self, task: int, round_: int, phase: Phase | int) -> tuple[int, int]:
        """``(start, end)`` of ``phase`` in ``round_``: the phase holds for start <= t < end."""
        phase = Phase(int(phase))
        if phase == Phase.COMMIT:
            start = self.round_start(task, round_)
        else:
            start = self.phase_end(task, round_, phase - 1)
        return start, self.phase_end(task, round_, phase)

    def round_end(self, task: int, round_: int) -> int:
        return self.phase_end(task, round_, Phase.SCORE_REVEAL)

    def schedule(self, task: int) -> dict[str, int]:
        """Where the task is now: ``{round, phase, phase_end, now}`` (phase_end 0 if none)."""
        r, ph, now = self.current_round(task), self.current_phase(task), self.head_time()
        end = self.phase_end(task, r, ph) if Phase.COMMIT <= ph <= Phase.SCORE_REVEAL else 0
        return {"round": r, "phase": int(ph), "phase_end": end, "now": now}

    def participant(self, task: int, account: Any) -> Participant:
        return _from_struct(Participant, self.arena.participant(task, _addr(account)))

    def delegation(self, task: int, participant: Any, delegator: Any) -> Delegation:
        return _from_struct(
            Delegation, self.arena.delegation(task, _addr(participant), _addr(delegator))
        )

    def effective_stake(self, task: int, account: Any, round_: int) -> int:
        return int(self.arena.effective_stake(task, _addr(account), round_))

    def own_stake(self, task: int, account: Any, round_: int) -> int:
        return int(self.arena.own_stake(task, _addr(account), round_))

    def round_info(self, task: int, round_: int) -> RoundInfo:
        return _from_struct(RoundInfo, self.arena.round_info(task, round_))

    def submission(self, task: int, round_: int, k: int) -> Submission:
        sub = _from_struct(Submission, self.arena.submission(task, round_, k))
        return dataclasses.replace(sub, slot=k)

    def submissions(self, task: int, round_: int) -> list[Submission]:
        """Revealed submissions of a round in slot order (the order validators score in)."""
        n = self.round_info(task, round_).num_submissions
        return [self.submission(task, round_, k) for k in range(n)]

    def model_commit(self, task: int, round_: int, node: Any) -> ModelCommit:
        return _from_struct(ModelCommit, self.arena.model_commit(task, round_, _addr(node)))

    def validators(self, task: int) -> list[str]:
        return [to_checksum_address(str(v)) for v in self.arena.validators(task)]

    def validator_round(self, task: int, round_: int, validator: Any) -> ValidatorRound:
        return _from_struct(
            ValidatorRound, self.arena.validator_round(task, round_, _addr(validator))
        )

    def validator_scores(self, task: int, round_: int, validator: Any) -> list[int]:
        return [int(s) for s in self.arena.validator_scores(task, round_, _addr(validator))]

    def claimable(self, task: int, participant: Any, account: Any | None = None) -> int:
        """Owner part when ``account`` is the participant (default), else the delegation's."""
        acct = participant if account is None else account
        return int(self.arena.claimable(task, _addr(participant), _addr(acct)))

    def withdrawable(self, task: int, participant: Any, account: Any | None = None) -> int:
        acct = participant if account is None else account
        return int(self.arena.withdrawable(task, _addr(participant), _addr(acct)))

    def model_owner(self, task: int, model_sha256: bytes | str) -> str:
        return to_checksum_address(str(self.arena.model_owner(task, to_bytes32(model_sha256))))

    def balance(self, account: Any) -> int:
        return int(self.token.balanceOf(_addr(account)))

    def allowance(self, owner: Any) -> int:
        return int(self.token.allowance(_addr(owner), self.address))

    def can_finalize(self, task: int) -> bool:
        """True when the next unfinalized round is over (``finalize`` would not revert)."""
        st = self.task_state(task)
        if st.status != Status.ACTIVE:
            return False
        params = self.task_params(task)
        if st.finalized_rounds >= params.num_rounds:
            return False
        return self.now() >= self.round_end(task, st.finalized_rounds)

    # ----------------------------------------------------------------- transactions
    def approve_if_needed(self, amount: int, sender: Any | None = None) -> Any | None:
        """Approve the arena for ``amount`` if the current allowance is lower."""
        who = self._sender(sender)
        if self.allowance(who) >= amount:
            return None
        bal = self.balance(who)
        if bal < amount:
            raise ArenaError(
                f"{who.address} holds {fmt_tokens(bal)} ARENA but {fmt_tokens(amount)} is "
                "needed; get tokens first (on a local chain the deployer holds the supply)"
            )
        return self._tx("approve", None, self.token.approve, self.address, amount, sender=who)

    def create_task(self, params: TaskParams, sender: Any | None = None) -> int:
        """Approve (if needed) and deposit the bounty; return the new task id."""
        who = self._sender(sender)
        self.approve_if_needed(params.bounty, who)
        receipt = self._tx(
            "create_task", None, self.arena.create_task, params.as_tuple(), sender=who
        )
        logs = list(receipt.decode_logs(self.arena.TaskCreated))
        if logs:
            return int(logs[0].task)
        return self.task_count()

    def cancel_task(self, task: int, sender: Any | None = None):
        return self._tx("cancel_task", task, self.arena.cancel_task, task, sender=sender)

    def join(
        self,
        task: int,
        role: Role | int,
        amount: int,
        commission: int = 0,
        sender: Any | None = None,
    ):
        """Join (or top up) as NODE or VALIDATOR; approves the stake first when needed."""
        who = self._sender(sender)
        self._check_task(task)
        self.approve_if_needed(amount, who)
        return self._tx(
            "join", task, self.arena.join, task, int(role), amount, commission, sender=who
        )

    def delegate(self, task: int, participant: Any, amount: int, sender: Any | None = None):
        who = self._sender(sender)
        self._check_task(task)
        self.approve_if_needed(amount, who)
        # ``ContractInstance.delegate`` is Ape's EIP-7702 property: call the method by name.
        try:
            fn = self.arena._mutable_methods_["delegate"]
        except Exception:  # pragma: no cover - other Ape versions
            fn = functools.partial(self.arena.invoke_transaction, "delegate")
        return self._tx("delegate", task, fn, task, _addr(participant), amount, sender=who)

    def commit_model(
        self,
        task: int,
        model_sha256: bytes | str,
        sender: Any | None = None,
        *,
        round_: int | None = None,
    ) -> bytes:
        """Commit to a model hash for the current round (or ``round_``, when the caller has
        already recorded the commitment for it); returns the commitment."""
        who = self._sender(sender)
        r = self.round_at(task, self.now()) if round_ is None else round_
        c = model_commitment(model_sha256, who.address, task, max(r, 0))
        self._tx(
            "commit_model", task, self.arena.commit_model, task, c, sender=who, phase=Phase.COMMIT
        )
        return c

    def reveal_model(
        self, task: int, model_sha256: bytes | str, uri: str, sender: Any | None = None
    ):
        return self._tx(
            "reveal_model", task, self.arena.reveal_model, task, to_bytes32(model_sha256), uri,
            sender=sender, phase=Phase.REVEAL,
        )  # fmt: skip

    def reveal_eval(
        self,
        task: int,
        round_: int,
        shard_sha256: bytes | str,
        shard_uri: str,
        proof: Iterable[bytes | str],
        sender: Any | None = None,
    ):
        return self._tx(
            "reveal_eval", task, self.arena.reveal_eval, task, round_, to_bytes32(shard_sha256),
            shard_uri, [to_bytes32(p) for p in proof], sender=sender, phase=Phase.REVEAL,
            round_=round_,
        )  # fmt: skip

    def commit_scores(
        self, task: int, scores: Sequence[int], salt: bytes | str, sender: Any | None = None
    ) -> bytes:
        """Commit to ``scores`` (one per revealed submission) for the current round."""
        who = self._sender(sender)
        r = self.round_at(task, self.now())
        c = score_commitment(task, max(r, 0), who.address, scores, salt)
        self._tx(
            "commit_scores",
            task,
            self.arena.commit_scores,
            task,
            c,
            sender=who,
            phase=Phase.SCORE_COMMIT,
        )
        return c

    def reveal_scores(
        self, task: int, scores: Sequence[int], salt: bytes | str, sender: Any | None = None
    ):
        return self._tx(
            "reveal_scores", task, self.arena.reveal_scores, task, [int(s) for s in scores],
            to_bytes32(salt), sender=sender, phase=Phase.SCORE_REVEAL,
        )  # fmt: skip

    def finalize(
        self,
        task: int,
        *,
        max_steps: int = DEFAULT_FINALIZE_STEPS,
        all_rounds: bool = True,
        max_txs: int = 1000,
        sender: Any | None = None,
        progress: Callable[[int, RoundInfo], None] | None = None,
    ) -> FinalizeResult:
        """Finalize the next round (``all_rounds``: every round that is over), ``max_steps``
        units per transaction, until done. Raises ``ArenaError`` if nothing can be finalized."""
        who = self._sender(sender)
        done: list[int] = []
        txs = 0
        while txs < max_txs:
            st = self.task_state(task)
            r = st.finalized_rounds
            if st.status != Status.ACTIVE or (done and not self.can_finalize(task)):
                break
            self._tx("finalize", task, self.arena.finalize, task, max_steps, sender=who, round_=r)
            txs += 1
            info = self.round_info(task, r)
            if progress is not None:
                progress(r, info)
            if info.done:
                done.append(r)
                if not all_rounds:
                    break
        ended = self.task_state(task).status == Status.ENDED
        return FinalizeResult(rounds=done, transactions=txs, task_ended=ended)

    def claim(self, task: int, participant: Any | None = None, sender: Any | None = None) -> int:
        """Claim the sender's vested rewards from ``participant`` (default: the sender's own
        owner part). Returns the amount paid."""
        who = self._sender(sender)
        p = who if participant is None else participant
        receipt = self._tx(
            "claim", task, self.arena.claim, task, _addr(p), sender=who, participant=p
        )
        return _sum_logs(receipt, self.arena.Claimed)

    def withdraw(self, task: int, participant: Any | None = None, sender: Any | None = None) -> int:
        """Withdraw stake (own, or the delegation to ``participant``) after the task ended."""
        who = self._sender(sender)
        p = who if participant is None else participant
        receipt = self._tx(
            "withdraw", task, self.arena.withdraw, task, _addr(p), sender=who, participant=p
        )
        return _sum_logs(receipt, self.arena.Withdrawn)

    def claim_refund(self, task: int, sender: Any | None = None) -> int:
        receipt = self._tx("claim_refund", task, self.arena.claim_refund, task, sender=sender)
        return _sum_logs(receipt, self.arena.RefundClaimed)

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

    # ----------------------------------------------------------------- internals
    def _sender(self, sender: Any | None):
        who = sender if sender is not None else self.account
        if who is None:
            raise ArenaError("no account: pass --account NAME (or give ArenaClient an account)")
        return who

    def _check_task(self, task: int) -> None:
        count = self.task_count()
        if not 1 <= int(task) <= count:
            raise ArenaError(
                f"task {task} does not exist on chain {self.chain_id} "
                f"(tasks 1..{count}); check the id and --network",
                "arena: unknown task",
            )

    def _tx(self, action: str, task: int | None, fn, *args, sender=None, **ctx):
        """Send ``fn(*args)`` from ``sender``; a revert becomes an explained ``ArenaError``.

        The transaction is dry-run first with a plain ``eth_call`` (decoded here): that is
        fast and quiet, whereas a revert inside Ape's send path fetches and prints a full
        call trace. Ape's own error is still handled if the state changes in between.
        """
        from ape.exceptions import ContractLogicError

        who = self._sender(sender)
        raw = self._preflight(fn, args, who) if self.preflight else None
        if raw is None:
            try:
                return fn(*args, sender=who)
            except ContractLogicError as err:
                raw = _revert_text(err)
        raise ArenaError(self.explain(raw, action, task, who, **ctx), raw) from None

    def _preflight(self, fn, args: tuple, who) -> str | None:
        """Dry-run a transaction; return its revert reason, or None if it would succeed (or
        the dry run is not possible on this provider)."""
        try:
            from ape import chain

            data = fn.encode_input(*args)
            to = str(fn.contract.address)
            w3 = chain.provider.web3
        except Exception:
            return None
        call = {"from": _addr(who), "to": to, "data": "0x" + bytes(data).hex()}
        for block in ("pending", "latest"):
            try:
                resp = w3.provider.make_request("eth_call", [call, block])
            except Exception:
                return None
            err = resp.get("error") if isinstance(resp, dict) else None
            if not err:
                return None
            reason = _decode_rpc_revert(err)
            if reason is not None:
                return reason
        return None

    def explain(self, raw: str, action: str, task: int | None, sender: Any, **ctx: Any) -> str:
        """A revert string -> one line saying what happened and what to do next."""
        reason = raw.removeprefix("arena: ").strip()
        who = _addr(sender)
        try:
            hint = self._hint(reason, action, task, who, **ctx)
        except Exception:  # a view failing must never hide the original revert
            hint = None
        text = f"{action} failed: {hint or reason}"
        return " ".join(text.split())

    def _hint(self, reason: str, action: str, task, who: str, **ctx) -> str | None:  # noqa: C901
        if task is None:
            if "insufficient" in reason or "exceeds balance" in reason:
                return "not enough ARENA tokens for this transfer"
            return None
        if reason in _STATIC_HINTS:
            return _STATIC_HINTS[reason]
        if reason == "unknown task":
            return f"task {task} does not exist (tasks 1..{self.task_count()}); check the id and --network"
        if reason == "paused" or reason.startswith("pausable"):
            return "the arena is paused by its owner; claims, withdrawals and reveals still work"
        if reason == "wrong phase":
            return self._phase_hint(task, ctx.get("phase"), ctx.get("round_"))
        if reason == "wrong round":
            r = self.current_round(task)
            return f"only the current round's shard can be revealed (now round {r}); use round {r}"
        if reason.startswith("finalize round"):
            n = reason.split()[-2]
            return f"round {n} is not finalized yet; run `ape arena task finalize {task}` first"
        if reason == "round not over":
            st = self.task_state(task)
            r = ctx.get("round_", st.finalized_rounds)
            return f"round {r} ends at {fmt_time(self.round_end(task, r))}; finalize after that"
        if reason == "stake not active":
            p = self.participant(task, who)
            return (
                f"your stake activates in round {p.pending_round} (now round "
                f"{self.current_round(task)}); wait for that round's commit phase"
            )
        if reason == "task not active":
            st = self.task_state(task)
            return f"task {task} is {Status(st.status).name.lower()}; nothing more happens in it"
        if reason == "task not ended":
            st = self.task_state(task)
            n = self.task_params(task).num_rounds
            end = self.round_end(task, n - 1)
            return (
                f"stake stays locked until task {task} ends ({st.finalized_rounds}/{n} rounds "
                f"finalized, last round ends {fmt_time(end)}); then run finalize and retry"
            )
        if reason == "nothing to claim":
            if self.task_state(task).status == Status.ENDED:
                return f"nothing left to claim in task {task}: every vested reward was claimed"
            return (
                "nothing claimable now: rewards appear when rounds are finalized "
                "(the vested part at once, the rest when the task ends)"
            )
        if reason == "not a participant":
            p = ctx.get("participant")
            return f"{_addr(p) if p is not None else who} has not joined task {task}"
        if reason == "below minimum stake":
            prm = self.task_params(task)
            return (
                f"minimum stake is {fmt_tokens(prm.min_node_stake)} ARENA for nodes, "
                f"{fmt_tokens(prm.min_validator_stake)} for validators"
            )
        if reason == "commission is fixed":
            c = self.participant(task, who).commission
            return f"commission was fixed at {fmt_wad(c)} when you joined; pass --commission {fmt_wad(c)} to top up"
        if reason == "role mismatch":
            role = Role(self.participant(task, who).role).name.lower()
            return f"you joined task {task} as a {role}; one role per address per task"
        if reason == "not creator":
            return f"only the creator ({self.task_state(task).creator}) can do this"
        if reason == "not a node":
            return f"{who} has not joined task {task} as a node; run `ape arena node join {task}` first"
        if reason == "not a validator":
            return f"{who} has not joined task {task} as a validator; run `ape arena validator join {task}` first"
        if reason == "no commitment":
            return f"{who} made no commitment in round {max(self.current_round(task), 0)}; commit in the next round's commit phase"
        if reason == "bad reveal":
            return (
                f"the revealed data does not match {who}'s commitment for round "
                f"{max(self.current_round(task), 0)}; reveal exactly what you committed"
            )
        if reason == "round full":
            return f"round already has the maximum of {MAX_SUBMISSIONS} submissions"
        if reason == "wrong number of scores":
            n = self.round_info(task, max(self.current_round(task), 0)).num_submissions
            return f"the round has {n} revealed submissions; give exactly one score per submission"
        if reason == "too many validators":
            return f"task {task} already has {MAX_VALIDATORS} validators"
        if "insufficient" in reason or "exceeds balance" in reason:
            return f"not enough ARENA: {who} holds {fmt_tokens(self.balance(who))}"
        return None

    def _phase_hint(self, task: int, want: Phase | None, round_: int | None) -> str:
        now_r, now_ph = self.current_round(task), self.current_phase(task)
        here = f"task {task} is in {now_ph.label}" + (
            f" of round {now_r}" if Phase.COMMIT <= now_ph <= Phase.SCORE_REVEAL else ""
        )
        if want is None:
            return f"wrong phase: {here}"
        want = Phase(int(want))
        params = self.task_params(task)
        r = now_r if round_ is None else round_
        if now_ph == Phase.NOT_STARTED:
            start, _ = self.phase_window(task, 0, want)
            return f"{here}; the {want.label} phase of round 0 opens at {fmt_time(start)}"
        if now_ph == Phase.ENDED or r >= params.num_rounds:
            return f"{here}; all {params.num_rounds} rounds are over"
        start, end = self.phase_window(task, max(r, 0), want)
        if self.now() >= end:
            nxt = r + 1
            if nxt >= params.num_rounds:
                return f"the {want.label} window of round {r} closed at {fmt_time(end)} and it was the last round"
            nstart, _ = self.phase_window(task, nxt, want)
            return (
                f"the {want.label} window of round {r} closed at {fmt_time(end)}; wait for "
                f"round {nxt} ({want.label} opens {fmt_time(nstart)})"
            )
        return f"{here}; the {want.label} phase of round {r} opens at {fmt_time(start)}"


# --------------------------------------------------------------------------- module helpers
def _addr(value: Any) -> str:
    if hasattr(value, "address"):
        value = value.address
    return to_checksum_address(str(value))


def _contract(address: str, name: str):
    """An Ape contract instance, typed from this project's compiled ABI when available."""
    from ape import Contract, project

    try:
        return getattr(project, name).at(address)
    except Exception:
        pass
    try:
        return Contract(address)
    except Exception as err:
        raise ArenaError(
            f"cannot load the {name} ABI for {address}: run `ape arena` inside the AIArena "
            f"project folder (it reads the compiled contracts) ({' '.join(str(err).split())})"
        ) from None


def _revert_text(err: Exception) -> str:
    msg = getattr(err, "revert_message", None) or getattr(err, "message", None) or str(err)
    return str(msg).strip().splitlines()[0] if str(msg).strip() else "transaction reverted"


def _decode_rpc_revert(err: dict) -> str | None:
    """An ``eth_call`` JSON-RPC error -> the revert string (None if it is no revert)."""
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        from eth_abi import decode as abi_decode

        try:
            return abi_decode(["string"], bytes.fromhex(data[10:]))[0]
        except Exception:
            pass
    message = str(err.get("message", ""))
    if "revert" in message.lower():
        reason = message.split("reverted", 1)[-1].lstrip(": ").strip()
        return reason or "transaction reverted"
    return None


def _sum_logs(receipt: Any, event: Any) -> int:
    total = 0
    for log in receipt.decode_logs(event):
        total += int(log.amount)
    return total


def local_warp(timestamp: int) -> None:
    """Jump a local dev chain's clock: the next block gets ``timestamp``; mine one block so
    views see it. Does nothing if the chain is already there."""
    from ape import chain

    head = int(chain.blocks.head.timestamp)
    if timestamp > head:
        chain.mine(timestamp=int(timestamp))
    else:
        chain.mine()
