"""Constants, enums and typed records of the Arena contracts (contracts/PROTOCOL.md).

Every view of ``ArenaClient`` returns one of the frozen dataclasses here; their fields are
named and ordered as the contract's structs. Amounts are wei, fractions WAD (1e18 = 1.0),
scores ``uint64`` losses with scale 1e9 (``INVALID_SCORE`` = 2**64 - 1). The ``fmt_*``
helpers show those units to people.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from eth_utils import to_checksum_address

__all__ = [
    "SEED_WINDOW",
    "scores_by_slot",
    "CommitteeDraw",
    "ArenaError",
    "TransientTxError",
    "DEFAULT_FINALIZE_STEPS",
    "Delegation",
    "FinalizeResult",
    "INVALID_SCORE",
    "UNAVAILABLE_SCORE",
    "LOCAL_CHAIN_IDS",
    "MAX_FINALIZE_STEPS",
    "MAX_ROUNDS",
    "PROTOCOL_VERSION",
    "MAX_SUBMISSIONS",
    "MAX_PAGE",
    "PAGE_GAS",
    "REVEAL_PAGE",
    "MAX_VOTES",
    "ModelCommit",
    "Participant",
    "Phase",
    "Role",
    "RoundInfo",
    "SCORE_SCALE",
    "Stage",
    "Status",
    "Submission",
    "TOKEN",
    "TaskParams",
    "TaskState",
    "ValidatorRound",
    "Vote",
    "VoidReason",
    "WAD",
    "ZERO_ADDRESS",
    "address_of",
    "fmt_score",
    "fmt_time",
    "fmt_tokens",
    "fmt_wad",
    "task_param_problems",
    "from_struct",
    "hex32",
    "to_bytes32",
]

WAD = 10**18
TOKEN = 10**18
SCORE_SCALE = 10**9
INVALID_SCORE = 2**64 - 1
UNAVAILABLE_SCORE = 2**64 - 2
"""What a validator reports for a model it could not fetch or verify (counts neither for nor
against its deviation; a submission most of whose weight reports it is unscored)."""
MAX_SUBMISSIONS = 1024
"""Revealed submissions per round (the only per-round cap; validators, nodes and delegators
have none)."""
MAX_VOTES = 256
"""Committee votes one submission records (committee sizes have mean <= K <= 64)."""
MAX_PAGE = 1024
"""Longest page of the paged list views (``validators``)."""
REVEAL_PAGE = 192
PAGE_GAS = 14_000_000
"""The client halves a finalize page's ``max_steps`` while its gas estimate is above this
(DESIGN §3.6: every transaction < 15M gas)."""
"""Scores per ``reveal_scores`` transaction: a validator with more assignments (one on every
committee) reveals in pages under its one commitment, each page < 15M gas (README Gas)."""
MAX_COMMITTEE_SIZE = 64
KEEPER_SHARE_DIVISOR = 10  # keepers get at most bounty / num_rounds / 10 of a round
SEED_WINDOW = 256  # blocks a committee draw's target block hash stays readable (PROTOCOL.md §5a)
MAX_ROUNDS = 64
PROTOCOL_VERSION = 2
"""The Arena protocol this client speaks (``Arena.PROTOCOL_VERSION()``, contracts/PROTOCOL.md)."""
MAX_FINALIZE_STEPS = 320
DEFAULT_FINALIZE_STEPS = 12  # worst page at 128 x 32 stays < 15M gas (README Gas)
"""Finalize units per transaction: every page under 15M gas at 128 submissions x 32 validators
(README Gas); larger committees make CONSENSUS units dearer, so the client also halves a page
while its gas estimate is above PAGE_GAS."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
LOCAL_CHAIN_IDS = {31337, 1337}


class Role(IntEnum):
    NONE = 0
    NODE = 1
    VALIDATOR = 2


class Phase(IntEnum):
    NOT_STARTED = 0
    COMMIT = 1
    EVAL = 2
    REVEAL = 3
    SCORE_COMMIT = 4
    SCORE_REVEAL = 5
    ENDED = 6

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
    AGREEMENT = 3
    PAY_NODES = 4
    PAY_VALIDATORS = 5
    DONE = 6


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


class TransientTxError(ArenaError):
    """A transaction failed without a revert reason but passes a dry run now: the chain's
    state changed between the gas estimate and the block (another participant's transaction
    landed first). Sending it again is safe; the role loops do so."""


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


MIN_PHASE_DURATION = 1
MAX_PHASE_DURATION = 30 * 86400
MAX_START_DELAY = 365 * 86400
MAX_TOLERANCE = 1000 * WAD
"""The contract's bounds on ``TaskParams`` (contracts/PROTOCOL.md §2, ``Arena.create_task``)."""


def task_param_problems(p: TaskParams, now: int) -> list[str]:
    """Each ``TaskParams`` field outside the range ``create_task`` accepts, named with its
    ``task create`` option and its allowed range (the contract only says "parameter out of
    range"). ``now`` is the chain's time; an empty list means the contract accepts them."""
    out: list[str] = []

    def bound(name: str, value: int, lo: int, hi: int, wad: bool = False) -> None:
        if not lo <= int(value) <= hi:
            show = fmt_wad if wad else str
            option = "--" + name.replace("_", "-")
            out.append(f"{name} ({option}) is {show(value)}; allowed {show(lo)}..{show(hi)}")

    if p.bounty == 0:
        out.append("bounty (--bounty) is 0; it must be more")
    if bytes(p.eval_root) == bytes(32):
        out.append("eval_root is zero; commit to the shards' Merkle root (manifest.json)")
    bound("num_rounds", p.num_rounds, 1, MAX_ROUNDS)
    start = int(p.start_time) or int(now)
    if not now <= start <= now + MAX_START_DELAY:
        out.append(
            f"start_time (--start-in) is {fmt_time(start)}; it must lie between now "
            f"({fmt_time(now)}) and {MAX_START_DELAY // 86400} days later"
        )
    for name in (
        "commit_duration", "eval_duration", "reveal_duration", "score_commit_duration",
        "score_reveal_duration",
    ):  # fmt: skip
        bound(name, getattr(p, name), MIN_PHASE_DURATION, MAX_PHASE_DURATION)
    for name in ("min_node_stake", "min_validator_stake"):
        if getattr(p, name) == 0:
            out.append(f"{name} (--{name.replace('_', '-')}) is 0; it must be more")
    bound("gamma", p.gamma, 0, WAD // 2, wad=True)
    bound("delta", p.delta, 0, WAD, wad=True)
    bound("rank_ratio", p.rank_ratio, 0, WAD, wad=True)
    bound("rank_epsilon", p.rank_epsilon, 1, MAX_TOLERANCE, wad=True)
    bound("tolerance", p.tolerance, 1, MAX_TOLERANCE, wad=True)
    bound("slash_tau", p.slash_tau, 0, MAX_TOLERANCE, wad=True)
    for name in ("slash_miss", "slash_dev", "slash_node_miss"):
        bound(name, getattr(p, name), 0, WAD, wad=True)
    bound("min_committee", p.min_committee, 1, MAX_VOTES)
    bound("committee_size", p.committee_size, 1, MAX_COMMITTEE_SIZE)
    if p.num_rounds >= 1:
        bound("keeper_tip", p.keeper_tip, 0, p.bounty // p.num_rounds // KEEPER_SHARE_DIVISOR)
    return out


def fmt_wad(value: int) -> str:
    return f"{int(value) / WAD:g}"


def fmt_score(score: int) -> str:
    if int(score) == INVALID_SCORE:
        return "INVALID"
    if int(score) == UNAVAILABLE_SCORE:
        return "UNAVAILABLE"
    return f"{int(score) / SCORE_SCALE:.6f}"


def plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if hasattr(value, "address") and not isinstance(value, str | int):
        return str(value.address)
    return value


def from_struct(cls, raw: Any):
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
        values[name] = plain(v)
    return cls(**values)


def address_of(value: Any) -> str:
    """An Ape account / contract / address string -> the checksummed address."""
    if hasattr(value, "address"):
        value = value.address
    return to_checksum_address(str(value))


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
    eval_duration: int = 1800
    reveal_duration: int = 1800
    score_commit_duration: int = 3600
    score_reveal_duration: int = 1800
    min_node_stake: int = 10 * TOKEN
    min_validator_stake: int = 100 * TOKEN
    gamma: int = WAD // 10
    delta: int = WAD // 2
    rank_ratio: int = 8 * WAD // 10
    rank_epsilon: int = WAD // 100
    tolerance: int = WAD // 10
    slash_tau: int = WAD // 2
    slash_miss: int = WAD // 10
    slash_dev: int = WAD // 10
    slash_node_miss: int = WAD // 10
    min_committee: int = 1
    baseline_score: int = 0
    committee_size: int = 64
    keeper_tip: int = 0
    """Paid per finalize unit and per ``draw`` call that changes the draw, from the round's pot
    (at most bounty / num_rounds / 10 per round; 0: none)."""

    ABI_ORDER = (
        "bounty spec_hash spec_uri eval_root num_rounds start_time commit_duration "
        "eval_duration reveal_duration score_commit_duration score_reveal_duration "
        "min_node_stake min_validator_stake gamma delta rank_ratio rank_epsilon tolerance slash_tau "
        "slash_miss slash_dev slash_node_miss min_committee baseline_score committee_size keeper_tip"
    ).split()

    def as_tuple(self) -> tuple:
        out = []
        for name in self.ABI_ORDER:
            v = getattr(self, name)
            out.append(to_bytes32(v) if name in ("spec_hash", "eval_root") else v)
        return tuple(out)

    @property
    def phase_durations(self) -> tuple[int, int, int, int, int]:
        """Seconds of COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL, in round order."""
        return (
            self.commit_duration,
            self.eval_duration,
            self.reveal_duration,
            self.score_commit_duration,
            self.score_reveal_duration,
        )

    @property
    def round_length(self) -> int:
        return sum(self.phase_durations)


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
    burned: int = 0
    """Delegated stake burned by slashes in this task (PROTOCOL.md §8)."""
    emission_carry: int = 0
    """Emission that void rounds rolled on; burned if still there at the end (§10)."""


@dataclass(frozen=True)
class Participant:
    role: int
    commission: int
    own_active: int
    own_pending: int
    del_shares: int
    """Active delegations in shares, each worth ``del_index / 1e36`` tokens."""
    del_pending: int
    pending_round: int
    acc: int
    del_index: int
    """Tokens per delegation share x 1e36; every slash of a validator lowers it."""
    owner_earned: int
    owner_claimed: int
    slashed: int
    del_burned: int
    slash_round: int
    """1 + the last round this participant was slashed in (0: never); from then on its
    delegators may leave before the task ends."""
    validator_index: int

    @property
    def joined(self) -> bool:
        return self.role != 0

    @property
    def own(self) -> int:
        return self.own_active + self.own_pending

    @property
    def del_active(self) -> int:
        """What the active delegations are worth now, in tokens."""
        return self.del_shares * self.del_index // 10**36

    @property
    def delegated(self) -> int:
        return self.del_active + self.del_pending

    @property
    def kept(self) -> float:
        """Fraction of a delegation's value its slashes left (1.0 = never slashed)."""
        return self.del_index / 10**36 if self.del_index else 1.0


@dataclass(frozen=True)
class Delegation:
    shares: int
    pending: int
    pending_round: int
    acc_checkpoint: int
    earned: int
    claimed: int


@dataclass(frozen=True)
class CommitteeDraw:
    """``committee(task, round)`` (PROTOCOL.md §5a): the draw's target block, its seed
    (zero until readable), the frozen W and K, the submission count and their digest."""

    target_block: int
    seed: bytes
    weight: int
    committee_size: int
    submissions: int
    digest: bytes

    @property
    def drawn(self) -> bool:
        return self.target_block != 0

    @property
    def seeded(self) -> bool:
        return self.seed != b"\0" * 32


@dataclass(frozen=True)
class RoundInfo:
    eval_revealed: bool
    shard_sha256: bytes
    shard_uri: str
    num_submissions: int
    commit_count: int
    committer_count: int
    validator_commit_count: int
    validator_reveal_count: int
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
    available: int = 0
    eligible: int = 0
    keeper_tips: int = 0

    @property
    def done(self) -> bool:
        return self.stage == Stage.DONE


@dataclass(frozen=True)
class Submission:
    node: str
    model_sha256: bytes
    uri: str
    commit_seq: int
    key: int
    """``(round << 128) | seq`` of the commit that first revealed this model hash in the
    task: within a bucket of near-equal consensus only the smallest key earns."""
    consensus: int
    status: int
    """0 scored, 1 split (midpoint of an exact half), 2 unscored, 3 unavailable."""
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
    displaced: bool = False
    slash: int = 0


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
    burned: int = 0
    scored: int = 0
    """Its reports counted in D (scored, non-split submissions, not UNAVAILABLE)."""
    covered: int = 0
    """Its reports that were not UNAVAILABLE, on submissions that were available."""
    assigned_available: int = 0
    """How many of its assigned slots were available (not UNAVAILABLE by consensus)."""
    assignments: int = 0
    """Scores revealed so far (all of its assignments once ``revealed``)."""
    next_slot: int = 0
    """The slot its next reveal page starts at (paged reveal, PROTOCOL.md §5)."""
    reveal_hash: bytes = b"\0" * 32
    """The running hash of the scores revealed so far."""


@dataclass(frozen=True)
class Vote:
    """One committee vote of ``votes(task, round, k)`` (PROTOCOL.md §5a)."""

    validator: str
    score: int
    weight: int
    """Its vote weight max(eff, W // K), 0 while its reveal is incomplete."""
    counted: bool
    """Whether its reveal completed (CONSENSUS counts only those)."""


def scores_by_slot(slots: list[int], scores: list[int], n: int) -> list[int | None]:
    """A validator's revealed ``scores`` (one per slot of ``slots``, its assignment in slot
    order, PROTOCOL.md §5a) spread over all ``n`` slots: None where it sat on no committee
    (or has not revealed that far yet)."""
    out: list[int | None] = [None] * n
    for k, x in zip(slots, scores, strict=False):
        out[k] = int(x)
    return out


@dataclass(frozen=True)
class FinalizeResult:
    """What ``finalize`` did: rounds completed, transactions sent, and whether the task ended."""

    rounds: list[int] = field(default_factory=list)
    transactions: int = 0
    task_ended: bool = False
