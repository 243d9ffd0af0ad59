"""Plain-Python reference model of ``contracts/Arena.vy``, written from ``contracts/PROTOCOL.md``.

The model follows PROTOCOL.md §3–§9 (time, activation, submissions, scores, paginated
finalize, crediting with the 1e36 accumulator, delegation settle, vesting, slashing, refund)
with exact unsigned integer arithmetic, so it predicts every payout, slash and roll-over to the
wei. It was written from the specification only, never from the Vyper source, so that it is an
independent oracle. Emission (§10) is not modelled: the tests deploy Arena with
``emission = empty(address)``.

Every state-changing entry point takes ``sender`` and ``now`` and either applies its effects
or raises :class:`Revert` carrying *all* revert reasons that apply (the specification does not
fix the order of checks, so a test accepts any of them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ape_arena.protocol.sortition import is_assigned, vote_weight
from eth_abi import encode
from eth_utils import keccak

# ---- constants (§1) ---------------------------------------------------------------------
NODE = 1
VALIDATOR = 2
MAX_SUBMISSIONS = 1024
MAX_ROUNDS = 64
MAX_PROOF_LENGTH = 16
SCORE_SCALE = 10**9
INVALID = 2**64 - 1
UNAVAILABLE = 2**64 - 2
SCORED, SPLIT, UNSCORED, UNAVAILABLE_STATUS = 0, 1, 2, 3  # submission status (§6)
SCORE_FLOOR = 10**6
WAD = 10**18
ACC = 10**36
MIN_PHASE_DURATION = 1
MAX_PHASE_DURATION = 2_592_000
MAX_START_DELAY = 31_536_000
MAX_TOLERANCE = 1000 * WAD
MAX_FINALIZE_STEPS = 320

PHASE_NOT_STARTED, PHASE_COMMIT, PHASE_EVAL, PHASE_REVEAL = 0, 1, 2, 3
PHASE_SCORE_COMMIT, PHASE_SCORE_REVEAL, PHASE_ENDED = 4, 5, 6
SEED_WINDOW = 256  # blocks a draw's target block hash stays readable (§5a)
STATUS_ACTIVE, STATUS_CANCELLED, STATUS_ENDED = 1, 2, 3
STAGE_OPEN, STAGE_CONSENSUS, STAGE_RANK, STAGE_AGREEMENT = 0, 1, 2, 3
STAGE_PAY_NODES, STAGE_PAY_VALIDATORS, STAGE_DONE = 4, 5, 6
MAX_VOTES = 256  # committee votes one slot records (§5a)
KEEPER_SHARE_DIVISOR = 10  # keepers get at most bounty // num_rounds // 10 per round (§6a)
VOID_NONE, VOID_NO_EVAL, VOID_NO_SUBMISSIONS, VOID_NO_QUORUM = 0, 1, 2, 3
SLASH_MISS, SLASH_DEV, SLASH_NODE_MISS = 1, 2, 3

PAUSED_MSG = "arena: paused"
BURNED = "burned"  # the token ledger's sink for burned stake
NOT_OWNER_MSG = "ownable: caller is not the owner"

PARAM_FIELDS = (
    "bounty",
    "spec_hash",
    "spec_uri",
    "eval_root",
    "num_rounds",
    "start_time",
    "commit_duration",
    "eval_duration",
    "reveal_duration",
    "score_commit_duration",
    "score_reveal_duration",
    "min_node_stake",
    "min_validator_stake",
    "gamma",
    "delta",
    "rank_ratio",
    "rank_epsilon",
    "tolerance",
    "slash_tau",
    "slash_miss",
    "slash_dev",
    "slash_node_miss",
    "min_committee",
    "baseline_score",
    "committee_size",
    "keeper_tip",
)


class Revert(Exception):
    """A call the specification says must revert; ``reasons`` lists every applicable one."""

    def __init__(self, reasons):
        if isinstance(reasons, str):
            reasons = [reasons]
        self.reasons = list(reasons)
        super().__init__(" | ".join(self.reasons))


def arena(msg: str) -> str:
    return "arena: " + msg


def ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


# ---- hashing (§5) -----------------------------------------------------------------------
def model_commitment(model_sha256: bytes, node: str, task: int, rnd: int) -> bytes:
    return keccak(
        encode(["bytes32", "address", "uint256", "uint256"], [model_sha256, node, task, rnd])
    )


def score_chain(scores, h: bytes = b"\x00" * 32) -> bytes:
    """h_(i+1) = keccak256(abi_encode(h_i, score_i)) over the scores (§5)."""
    for x in scores:
        h = keccak(encode(["bytes32", "uint64"], [h, x]))
    return h


def chain_commitment(task: int, rnd: int, validator: str, h: bytes, salt: bytes) -> bytes:
    """The score commitment over the running hash ``h`` of the scores (§5)."""
    return keccak(
        encode(
            ["uint256", "uint256", "address", "bytes32", "bytes32"], [task, rnd, validator, h, salt]
        )
    )


def score_commitment(task: int, rnd: int, validator: str, scores, salt: bytes) -> bytes:
    return chain_commitment(task, rnd, validator, score_chain(scores), salt)


def eval_leaf(rnd: int, shard_sha256: bytes) -> bytes:
    return keccak(encode(["uint256", "bytes32"], [rnd, shard_sha256]))


def eval_depth(num_rounds: int) -> int:
    """ceil(log2(num_rounds)): the proof length of the positional eval tree (§5)."""
    d = 0
    while 2**d < num_rounds:
        d += 1
    return d


def merkle_root_and_proofs(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Positional tree (§5): leaf i at position i, zero-padded to 2**depth positions,
    node = keccak(left ++ right); the root and one proof (bottom-up siblings) per leaf."""
    width = 2 ** eval_depth(len(leaves))
    nodes = {(0, i): (leaves[i] if i < len(leaves) else b"\x00" * 32) for i in range(width)}
    level, size = 0, width
    while size > 1:
        for i in range(size // 2):
            nodes[(level + 1, i)] = keccak(nodes[(level, 2 * i)] + nodes[(level, 2 * i + 1)])
        level, size = level + 1, size // 2
    proofs = [[nodes[(lv, (i >> lv) ^ 1)] for lv in range(level)] for i in range(len(leaves))]
    return nodes[(level, 0)], proofs


def verify_proof(proof, root: bytes, leaf: bytes, index: int, num_rounds: int) -> bool:
    if len(proof) != eval_depth(num_rounds):
        return False
    h = leaf
    for i, p in enumerate(proof):
        h = keccak(p + h) if (index >> i) & 1 else keccak(h + p)
    return h == root


# ---- state ------------------------------------------------------------------------------
@dataclass
class Params:
    bounty: int
    spec_hash: bytes
    spec_uri: str
    eval_root: bytes
    num_rounds: int
    start_time: int
    commit_duration: int
    eval_duration: int
    reveal_duration: int
    score_commit_duration: int
    score_reveal_duration: int
    min_node_stake: int
    min_validator_stake: int
    gamma: int
    delta: int
    rank_ratio: int
    rank_epsilon: int
    tolerance: int
    slash_tau: int
    slash_miss: int
    slash_dev: int
    slash_node_miss: int
    min_committee: int
    baseline_score: int
    committee_size: int = 64
    keeper_tip: int = 0

    def as_tuple(self):
        return tuple(getattr(self, f) for f in PARAM_FIELDS)


@dataclass
class Participant:
    role: int
    commission: int
    own_active: int = 0
    own_pending: int = 0
    del_shares: int = 0  # active delegations, in shares worth del_index / ACC tokens each
    del_pending: int = 0
    pending_round: int = 0
    acc: int = 0  # rewards per share, x ACC
    del_index: int = ACC  # tokens per share, x ACC; a validator's slash lowers it
    acc_snapshot: dict = field(default_factory=dict)
    index_snapshot: dict = field(default_factory=dict)
    owner_earned: int = 0
    owner_claimed: int = 0
    slashed: int = 0
    del_burned: int = 0
    slash_round: int = 0  # 1 + the last round p was slashed in (0: never)
    validator_index: int = 0

    @property
    def del_value(self) -> int:
        return self.del_shares * self.del_index // ACC

    @property
    def has_pending(self) -> bool:
        return self.own_pending > 0 or self.del_pending > 0


@dataclass
class Position:
    shares: int = 0
    pending: int = 0
    pending_round: int = 0
    ckpt: int = 0
    earned: int = 0
    claimed: int = 0


@dataclass
class ModelCommit:
    commitment: bytes = b""
    seq: int = 0
    revealed: bool = False
    slot: int = 0
    displaced: bool = False
    slash: int = 0


@dataclass
class Submission:
    node: str
    model: bytes
    uri: str
    seq: int
    key: int = 0  # (round << 128) | seq of the commit that first revealed this hash
    consensus: int = 0
    status: int = SCORED
    stake: int = 0
    weight: int = 0
    reward: int = 0


@dataclass
class ValidatorRound:
    commitment: bytes = b""
    committed: bool = False
    revealed: bool = False
    scores: dict = field(default_factory=dict)  # slot -> score, as revealed so far
    stake: int = 0
    dsum: int = 0
    deviation: int = 0
    agreement: int = 0
    reward: int = 0
    slash: int = 0
    burned: int = 0
    scored: int = 0  # reports counted in D (scored, non-split submissions)
    covered: int = 0  # reports that were not UNAVAILABLE, on available submissions
    assigned_available: int = 0  # of its committee slots, the available ones
    assignments: int = 0  # scores revealed so far (paged reveal, §5)
    next_slot: int = 0  # the slot its next page starts at
    reveal_hash: bytes = b"\x00" * 32  # running hash of the scores revealed so far


@dataclass
class Credit:
    """One §7 crediting: reward x split into owner part and delegator part (dpart, dpaid)."""

    round: int
    participant: str
    x: int
    owner: int
    dpart: int
    dpaid: int


@dataclass
class Round:
    eval_revealed: bool = False
    shard_sha256: bytes = b"\x00" * 32
    commits: dict = field(default_factory=dict)  # node -> ModelCommit
    commit_count: int = 0
    committers: list = field(default_factory=list)  # nodes in first-commit order
    subs: list = field(default_factory=list)  # Submission, slot order
    vals: dict = field(default_factory=dict)  # validator -> ValidatorRound
    stage: int = STAGE_OPEN
    cursor: int = 0
    void_reason: int = VOID_NONE
    pot: int = 0
    nodes_pot: int = 0
    validators_pot: int = 0
    node_stake: int = 0
    validator_stake: int = 0
    sum_g_stake: int = 0
    sum_f_stake: int = 0
    paid: int = 0
    slashed: int = 0
    available: int = 0
    eligible: int = 0
    walk: dict = field(default_factory=dict)  # the RANK walk (best, last, bucket, winner)
    credits: list = field(default_factory=list)
    slashes: list = field(default_factory=list)  # (participant, amount, reason)
    # the committee draw (§5a): target_block, seed, weight, committee_size, submissions, digest
    draw: dict | None = None
    votes: dict = field(default_factory=dict)  # slot -> [(validator, score)] in reveal order
    keeper_tips: int = 0  # tips paid for this round (draw and finalize), part of paid
    tip_log: list = field(default_factory=list)  # (keeper, amount) per tipped call
    validator_reveals: int = 0  # completed reveals


@dataclass
class Task:
    tid: int
    creator: str
    params: Params
    status: int = STATUS_ACTIVE
    finalized_rounds: int = 0
    carry: int = 0
    refund: int = 0
    refund_claimed: bool = False
    participants: dict = field(default_factory=dict)  # addr -> Participant
    validators: list = field(default_factory=list)
    total_own_stake: int = 0
    burned: int = 0  # delegated stake burned by slashes (§8)
    positions: dict = field(default_factory=dict)  # (participant, delegator) -> Position
    rounds: dict = field(default_factory=dict)  # r -> Round
    model_owner: dict = field(default_factory=dict)  # sha -> [node, round, seq, slot]
    bounty_paid_out: int = 0  # sum of `base` opened so far (bookkeeping for invariants)

    @property
    def round_length(self) -> int:
        p = self.params
        return (
            p.commit_duration
            + p.eval_duration
            + p.reveal_duration
            + p.score_commit_duration
            + p.score_reveal_duration
        )

    def round(self, r: int) -> Round:
        if r not in self.rounds:
            self.rounds[r] = Round()
        return self.rounds[r]


# ---- the model --------------------------------------------------------------------------
class ArenaModel:
    """State of one deployed Arena (emission off) and of the token balances it moves."""

    def __init__(self, owner: str, arena_address: str = "arena"):
        self.owner = owner
        self.address = arena_address
        self.paused = False
        self.tasks: dict[int, Task] = {}
        self.balances: dict[str, int] = {}  # token balances of every account we track
        self.withdrawn: dict = {}  # (task, participant, account) -> amount withdrawn

    # -- token ledger --
    def _move(self, src: str, dst: str, amount: int):
        self.balances[src] = self.balances.get(src, 0) - amount
        if self.balances[src] < 0:
            raise AssertionError(f"model: {src} balance negative")
        self.balances[dst] = self.balances.get(dst, 0) + amount

    def fund(self, account: str, amount: int):
        self.balances[account] = self.balances.get(account, 0) + amount

    # -- time (§3) --
    @staticmethod
    def time_round(task: Task, now: int) -> int:
        if now < task.params.start_time:
            return -1
        return (now - task.params.start_time) // task.round_length

    def phase(self, task: Task, now: int) -> int:
        t = self.time_round(task, now)
        if t < 0:
            return PHASE_NOT_STARTED
        if t >= task.params.num_rounds:
            return PHASE_ENDED
        p = task.params
        off = (now - p.start_time) % task.round_length
        for phase, end in (
            (PHASE_COMMIT, p.commit_duration),
            (PHASE_EVAL, p.commit_duration + p.eval_duration),
            (PHASE_REVEAL, p.commit_duration + p.eval_duration + p.reveal_duration),
            (
                PHASE_SCORE_COMMIT,
                p.commit_duration + p.eval_duration + p.reveal_duration + p.score_commit_duration,
            ),
        ):
            if off < end:
                return phase
        return PHASE_SCORE_REVEAL

    def round_start(self, task: Task, r: int) -> int:
        return task.params.start_time + r * task.round_length

    # -- stake views (§4) --
    @staticmethod
    def own(pt: Participant, r: int) -> int:
        return pt.own_active + (pt.own_pending if pt.pending_round <= r else 0)

    @staticmethod
    def dele(pt: Participant, r: int) -> int:
        return pt.del_value + (pt.del_pending if pt.pending_round <= r else 0)

    def eff(self, pt: Participant, r: int) -> int:
        return self.own(pt, r) + self.dele(pt, r)

    # -- helpers --
    def _task(self, tid: int) -> Task:
        if tid not in self.tasks:
            raise Revert(arena("unknown task"))
        return self.tasks[tid]

    @staticmethod
    def _sync(pt: Participant, upto: int):
        if upto < 0:
            return
        if pt.has_pending and pt.pending_round <= upto:
            pt.acc_snapshot[pt.pending_round] = pt.acc
            pt.index_snapshot[pt.pending_round] = pt.del_index
            pt.own_active += pt.own_pending
            pt.del_shares += pt.del_pending * ACC // pt.del_index
            pt.own_pending = 0
            pt.del_pending = 0

    @staticmethod
    def _settle(pt: Participant, pos: Position):
        if pos.pending > 0 and (pt.pending_round != pos.pending_round or pt.del_pending == 0):
            snap = pt.acc_snapshot[pos.pending_round]
            new = pos.pending * ACC // pt.index_snapshot[pos.pending_round]
            pos.earned += (pos.shares * (pt.acc - pos.ckpt) + new * (pt.acc - snap)) // ACC
            pos.shares += new
            pos.pending = 0
        else:
            pos.earned += pos.shares * (pt.acc - pos.ckpt) // ACC
        pos.ckpt = pt.acc

    def _activation(self, task: Task, now: int, errs: list) -> tuple[int, int]:
        t = self.time_round(task, now)
        a = t + 1
        if a >= task.params.num_rounds:
            errs.append(arena("deposits closed"))
        elif t >= 1 and task.finalized_rounds < t:
            errs.append(arena(f"finalize round {t - 1} first"))
        return t, a

    # -- owner --
    def pause(self, sender: str):
        if sender != self.owner:
            raise Revert(NOT_OWNER_MSG)
        if self.paused:
            raise Revert("pausable: contract is paused")
        self.paused = True

    def unpause(self, sender: str):
        if sender != self.owner:
            raise Revert(NOT_OWNER_MSG)
        if not self.paused:
            raise Revert("pausable: contract is not paused")
        self.paused = False

    # -- create / cancel / refund (§2, §9) --
    def create_task(self, sender: str, params: Params, now: int) -> int:
        errs = []
        if self.paused:
            errs.append(PAUSED_MSG)
        p = copy.copy(params)
        if p.bounty == 0:
            errs.append(arena("zero amount"))
        rng = arena("parameter out of range")
        durations = (
            p.commit_duration,
            p.eval_duration,
            p.reveal_duration,
            p.score_commit_duration,
            p.score_reveal_duration,
        )
        checks = [
            p.eval_root != b"\x00" * 32,
            1 <= p.num_rounds <= MAX_ROUNDS,
            p.start_time == 0 or now <= p.start_time <= now + MAX_START_DELAY,
            all(MIN_PHASE_DURATION <= d <= MAX_PHASE_DURATION for d in durations),
            p.min_node_stake >= 1 and p.min_validator_stake >= 1,
            p.gamma <= WAD // 2,
            p.delta <= WAD,
            p.rank_ratio <= WAD,
            1 <= p.rank_epsilon <= MAX_TOLERANCE,
            1 <= p.tolerance <= MAX_TOLERANCE,
            p.slash_tau <= MAX_TOLERANCE,
            p.slash_miss <= WAD and p.slash_dev <= WAD and p.slash_node_miss <= WAD,
            1 <= p.min_committee <= MAX_VOTES,
            1 <= p.committee_size <= 64,
            1 <= p.num_rounds and p.keeper_tip <= self.keeper_cap_of(p.bounty, p.num_rounds, 1),
        ]
        if not all(checks):
            errs.append(rng)
        if errs:
            raise Revert(errs)
        if p.start_time == 0:
            p.start_time = now
        tid = len(self.tasks) + 1
        self._move(sender, self.address, p.bounty)
        self.tasks[tid] = Task(tid=tid, creator=sender, params=p)
        return tid

    def cancel_task(self, sender: str, tid: int):
        task = self._task(tid)
        errs = []
        if sender != task.creator:
            errs.append(arena("not creator"))
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if task.participants:
            errs.append(arena("has participants"))
        if task.finalized_rounds > 0:
            errs.append(arena("rounds finalized"))
        if errs:
            raise Revert(errs)
        task.status = STATUS_CANCELLED
        # less round 0's draw tips: they were paid out of the bounty (§6a)
        rd = task.rounds.get(0)
        tips = rd.keeper_tips if rd is not None else 0
        self._move(self.address, task.creator, task.params.bounty - tips)
        task.bounty_paid_out = task.params.bounty

    def claim_refund(self, sender: str, tid: int) -> int:
        task = self._task(tid)
        errs = []
        if sender != task.creator:
            errs.append(arena("not creator"))
        if task.status != STATUS_ENDED:
            errs.append(arena("task not ended"))
        elif task.refund_claimed:
            errs.append(arena("refund already claimed"))
        if errs:
            raise Revert(errs)
        task.refund_claimed = True
        amount = task.refund
        self._move(self.address, task.creator, amount)
        return amount

    # -- stake (§4) --
    def join(self, sender: str, tid: int, role: int, amount: int, commission: int, now: int):
        errs = []
        if self.paused:
            errs.append(PAUSED_MSG)
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if role not in (NODE, VALIDATOR):
            errs.append(arena("bad role"))
        if sender == task.creator:
            errs.append(arena("creator cannot join"))
        pt = task.participants.get(sender)
        if pt is not None:
            if role != pt.role:
                errs.append(arena("role mismatch"))
            if amount == 0:
                errs.append(arena("zero amount"))
            if commission != pt.commission:
                errs.append(arena("commission is fixed"))
        else:
            minimum = (
                task.params.min_node_stake if role == NODE else task.params.min_validator_stake
            )
            if amount == 0:
                errs.append(arena("zero amount"))
            if amount < minimum:
                errs.append(arena("below minimum stake"))
            if commission > WAD:
                errs.append(arena("commission out of range"))
        t, a = self._activation(task, now, errs)
        if errs:
            raise Revert(errs)
        if pt is None:
            pt = Participant(role=role, commission=commission)
            if role == VALIDATOR:
                pt.validator_index = len(task.validators)
                task.validators.append(sender)
            task.participants[sender] = pt
        self._sync(pt, t)
        pt.own_pending += amount
        pt.pending_round = max(a, 0)
        task.total_own_stake += amount
        self._move(sender, self.address, amount)

    def delegate(self, sender: str, tid: int, participant: str, amount: int, now: int):
        errs = []
        if self.paused:
            errs.append(PAUSED_MSG)
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if amount == 0:
            errs.append(arena("zero amount"))
        pt = task.participants.get(participant)
        if pt is None:
            errs.append(arena("not a participant"))
        if participant == sender:
            errs.append(arena("cannot delegate to self"))
        t, a = self._activation(task, now, errs)
        if errs:
            raise Revert(errs)
        self._sync(pt, t)
        pos = task.positions.get((participant, sender))
        if pos is None:
            pos = task.positions[(participant, sender)] = Position(ckpt=pt.acc)
        else:
            self._settle(pt, pos)
        a = max(a, 0)
        pos.pending += amount
        pos.pending_round = a
        pt.del_pending += amount
        pt.pending_round = a
        self._move(sender, self.address, amount)

    # -- submissions (§5) --
    def _commit_guards(
        self, sender: str, tid: int, c: bytes, now: int, phase: int, role: int, not_role: str
    ):
        """The checks a model commit and a score commit share; returns (task, round)."""
        errs = []
        if self.paused:
            errs.append(PAUSED_MSG)
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if self.phase(task, now) != phase:
            errs.append(arena("wrong phase"))
        pt = task.participants.get(sender)
        r = self.time_round(task, now)
        if pt is None or pt.role != role:
            errs.append(arena(not_role))
        elif self.own(pt, r) == 0:
            errs.append(arena("stake not active"))
        if c == b"\x00" * 32:
            errs.append(arena("empty commitment"))
        if errs:
            raise Revert(errs)
        return task, r

    def commit_model(self, sender: str, tid: int, c: bytes, now: int):
        task, r = self._commit_guards(sender, tid, c, now, PHASE_COMMIT, NODE, "not a node")
        rd = task.round(r)
        if sender in rd.commits and rd.commits[sender].revealed:
            raise Revert(arena("already revealed"))
        if sender not in rd.commits:
            rd.committers.append(sender)
        mc = rd.commits.setdefault(sender, ModelCommit())
        mc.commitment = c
        mc.seq = rd.commit_count
        rd.commit_count += 1

    def reveal_model(self, sender: str, tid: int, model: bytes, uri: str, now: int):
        errs = []
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        phase_ok = self.phase(task, now) == PHASE_REVEAL
        if not phase_ok:
            errs.append(arena("wrong phase"))
        pt = task.participants.get(sender)
        if pt is None or pt.role != NODE:
            errs.append(arena("not a node"))
        r = self.time_round(task, now)
        if phase_ok and not (r in task.rounds and task.rounds[r].eval_revealed):
            errs.append(arena("eval not revealed"))
        mc = task.rounds[r].commits.get(sender) if phase_ok and r in task.rounds else None
        if mc is None:
            errs.append(arena("no commitment"))
        elif mc.revealed:
            errs.append(arena("already revealed"))
        elif model_commitment(model, sender, tid, r) != mc.commitment:
            errs.append(arena("bad reveal"))
        if errs:
            raise Revert(errs)
        rd = task.round(r)
        rec = task.model_owner.get(model)
        if rec is not None and rec[0] != sender:
            owner, orr, oseq, oslot = rec
            if orr == r and oseq > mc.seq:
                displaced = rd.commits[owner]
                displaced.revealed = False
                displaced.displaced = True
                rd.subs[oslot] = Submission(
                    node=sender, model=model, uri=uri, seq=mc.seq, key=(r << 128) | mc.seq
                )
                mc.revealed = True
                mc.slot = oslot
                task.model_owner[model] = [sender, r, mc.seq, oslot]
                return "replaced"
            raise Revert(arena("duplicate model"))
        if len(rd.subs) >= MAX_SUBMISSIONS:
            raise Revert(arena("round full"))
        slot = len(rd.subs)
        key = (r << 128) | mc.seq if rec is None else (rec[1] << 128) | rec[2]
        rd.subs.append(Submission(node=sender, model=model, uri=uri, seq=mc.seq, key=key))
        mc.revealed = True
        mc.slot = slot
        if rec is None:
            task.model_owner[model] = [sender, r, mc.seq, slot]
        return "appended"

    def reveal_eval(self, sender: str, tid: int, rnd: int, shard: bytes, proof, now: int):
        errs = []
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if sender != task.creator:
            errs.append(arena("not creator"))
        if self.phase(task, now) != PHASE_EVAL:
            errs.append(arena("wrong phase"))
        elif rnd != self.time_round(task, now):
            errs.append(arena("wrong round"))
        if errs:
            raise Revert(errs)
        rd = task.round(rnd)
        if rd.eval_revealed:
            raise Revert(arena("eval already revealed"))
        if not verify_proof(
            proof, task.params.eval_root, eval_leaf(rnd, shard), rnd, task.params.num_rounds
        ):
            raise Revert(arena("bad proof"))
        rd.eval_revealed = True
        rd.shard_sha256 = shard

    # -- scores (§5) --
    def commit_scores(
        self, sender: str, tid: int, c: bytes, now: int, block: int = 0, block_hash=None
    ):
        task, r = self._commit_guards(
            sender, tid, c, now, PHASE_SCORE_COMMIT, VALIDATOR, "not a validator"
        )
        rd = task.round(r)
        seed = self._readable_seed(tid, r, rd, block, block_hash)
        if seed is None:
            raise Revert(arena("committees not drawn"))
        rd.draw["seed"] = seed  # the first commit fixes it (§5a)
        vr = rd.vals.setdefault(sender, ValidatorRound())
        vr.commitment = c
        vr.committed = True

    def reveal_scores(self, sender: str, tid: int, scores, salt: bytes, now: int):
        """One page: the next scores of the sender's assigned slots in slot order; the page
        that reveals the last one checks the commitment and completes the reveal (§5)."""
        errs = []
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        phase_ok = self.phase(task, now) == PHASE_SCORE_REVEAL
        if not phase_ok:
            errs.append(arena("wrong phase"))
        pt = task.participants.get(sender)
        if pt is None or pt.role != VALIDATOR:
            errs.append(arena("not a validator"))
        r = self.time_round(task, now)
        rd = task.rounds.get(r) if phase_ok else None
        vr = rd.vals.get(sender) if rd is not None else None
        slots: list = []
        complete = False
        if vr is None or not vr.committed:
            errs.append(arena("no commitment"))
        elif vr.revealed:
            errs.append(arena("already revealed"))
        else:
            bits = self.assignment(task, r, sender)
            left = [k for k in range(vr.next_slot, len(rd.subs)) if bits >> k & 1]
            slots = left[: len(scores)]
            complete = len(scores) >= len(left)
            h = score_chain(scores, vr.reveal_hash)
            if len(scores) > len(left):
                errs.append(arena("too many scores"))
            elif not scores and not complete:
                errs.append(arena("empty page"))
            elif complete and chain_commitment(tid, r, sender, h, salt) != vr.commitment:
                errs.append(arena("bad reveal"))
        if errs:
            raise Revert(errs)
        for k, x in zip(slots, scores, strict=True):
            vr.scores[k] = x
            votes = rd.votes.setdefault(k, [])
            if len(votes) < MAX_VOTES:
                votes.append((sender, x))
        vr.assignments += len(scores)
        if complete:
            vr.revealed = True
            vr.stake = self.eff(pt, r)
            rd.validator_reveals += 1
            rd.validator_stake += vr.stake
        else:
            vr.next_slot = slots[-1] + 1
            vr.reveal_hash = h

    # -- finalize (§6) --
    def finalize(self, sender: str, tid: int, max_steps: int, now: int, order=()) -> bool:
        """One finalize call; RANK units take the slots of `order` one by one (the call stops
        when it runs out). All or nothing, like a transaction."""
        saved = copy.deepcopy((self.tasks, self.balances))
        try:
            return self._finalize(sender, tid, max_steps, now, list(order))
        except Revert:
            self.tasks, self.balances = saved
            raise

    def _finalize(self, sender: str, tid: int, max_steps: int, now: int, order: list) -> bool:
        errs = []
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            errs.append(arena("task not active"))
        if max_steps == 0:
            errs.append(arena("zero steps"))
        r = task.finalized_rounds
        if task.status == STATUS_ACTIVE and now < self.round_start(task, r + 1):
            errs.append(arena("round not over"))
        if errs:
            raise Revert(errs)
        rd = task.round(r)
        budget = max_steps
        tips = 0
        while budget > 0 and rd.stage != STAGE_DONE:
            if rd.stage == STAGE_RANK and rd.eligible != 0 and not order:
                break  # RANK units take the caller's order; the call stops when it runs out
            budget -= 1
            tips += self._tip(task, rd, 1)  # booked before the unit (its close reads paid)
            if rd.stage == STAGE_OPEN:
                self._open(task, r, rd)
            elif rd.stage == STAGE_CONSENSUS:
                self._consensus(task, r, rd, rd.cursor)
                rd.cursor += 1
                if rd.cursor == len(rd.subs):
                    rd.stage, rd.cursor = STAGE_RANK, 0
            elif rd.stage == STAGE_RANK:
                if rd.eligible == 0:
                    self._finish_rank(task, r, rd)
                else:
                    self._rank_step(task, rd, order.pop(0))
            elif rd.stage == STAGE_AGREEMENT:
                self._agreement(task, rd, rd.cursor)
                rd.cursor += 1
                if rd.cursor >= len(task.validators):
                    rd.stage, rd.cursor = STAGE_PAY_NODES, 0
            elif rd.stage == STAGE_PAY_NODES:
                self._node_unit(task, r, rd, rd.cursor)
                rd.cursor += 1
                if rd.cursor == len(rd.committers):
                    if rd.void_reason != VOID_NONE:
                        self._void_validators(task, r, rd)
                    else:
                        rd.stage, rd.cursor = STAGE_PAY_VALIDATORS, 0
            elif rd.stage == STAGE_PAY_VALIDATORS:
                self._pay_validator(task, r, rd, rd.cursor)
                rd.cursor += 1
            if rd.stage == STAGE_PAY_VALIDATORS and rd.cursor >= len(task.validators):
                self._close(task, r, rd)
        if tips:
            self._move(self.address, sender, tips)
            rd.tip_log.append((sender, tips))
        return rd.stage == STAGE_DONE

    @staticmethod
    def keeper_cap_of(bounty: int, num_rounds: int, tip: int) -> int:
        """Keepers' most per round: bounty // num_rounds // 10, 0 without a tip (§6a)."""
        return bounty // num_rounds // KEEPER_SHARE_DIVISOR if tip else 0

    def _tip(self, task: Task, rd: Round, units: int) -> int:
        p = task.params
        cap = self.keeper_cap_of(p.bounty, p.num_rounds, p.keeper_tip)
        amount = min(p.keeper_tip * units, cap - rd.keeper_tips)
        rd.keeper_tips += amount
        rd.paid += amount
        return amount

    def steps_needed(self, tid: int) -> int:
        """Units of work left for the round being finalized (for pagination tests)."""
        task = self.tasks[tid]
        rd = task.round(task.finalized_rounds)
        n, v, m = len(rd.subs), len(task.validators), len(rd.committers)
        void = self._void_reason(task, rd) if rd.stage == STAGE_OPEN else rd.void_reason
        if void != VOID_NONE:
            node_pass = m if void != VOID_NO_EVAL else 0
            val_pass = v if self._committees(rd) else 0
            if rd.stage == STAGE_OPEN:
                return 1 + node_pass + val_pass
            return {
                STAGE_PAY_NODES: m - rd.cursor + val_pass,
                STAGE_PAY_VALIDATORS: v - rd.cursor,
            }.get(rd.stage, 0)
        ranks = max(self.expected_eligible(tid), 1)
        if rd.stage == STAGE_OPEN:
            return 1 + n + ranks + v + m + v
        return {
            STAGE_CONSENSUS: n - rd.cursor + ranks + v + m + v,
            STAGE_RANK: ranks - rd.cursor + v + m + v,
            STAGE_AGREEMENT: v - rd.cursor + m + v,
            STAGE_PAY_NODES: m - rd.cursor + v,
            STAGE_PAY_VALIDATORS: v - rd.cursor,
        }.get(rd.stage, 0)

    @staticmethod
    def _committees(rd: Round) -> bool:
        """Whether the round had committees: a fixed seed and submissions (§5a)."""
        return bool(rd.draw and rd.draw["seed"] != b"\0" * 32 and rd.draw["submissions"])

    def _at_rank(self, tid: int) -> tuple[Task, Round] | None:
        """The round being finalized as it stands at its first RANK unit: itself when it is
        in RANK, else a copy finalized ahead up to there; None when finalize would revert or
        the round has no RANK units (void, nothing eligible, already past RANK)."""
        task = self.tasks[tid]
        r = task.finalized_rounds
        rd = task.round(r)
        if rd.stage == STAGE_RANK:
            return task, rd
        if rd.stage not in (STAGE_OPEN, STAGE_CONSENSUS):
            return None
        ahead = copy.deepcopy(self)
        try:
            ahead._finalize("keeper", tid, 10**9, 2**64, [])  # stops at the RANK units
        except Revert:
            return None  # finalize would revert anyway (task not active, ...)
        task = ahead.tasks[tid]
        rd = task.round(r)
        return (task, rd) if rd.stage == STAGE_RANK else None

    def rank_order(self, tid: int) -> list[int]:
        """The order a caller passes to finalize: the eligible slots of the round being
        finalized sorted by (consensus, key), from the RANK cursor on."""
        at = self._at_rank(tid)
        if at is None:
            return []
        task, rd = at
        elig = [k for k, s in enumerate(rd.subs) if s.status <= SPLIT and self.eligible(task, s)]
        elig.sort(key=lambda k: (rd.subs[k].consensus, rd.subs[k].key))
        return elig[rd.cursor :]

    def expected_eligible(self, tid: int) -> int:
        task = self.tasks[tid]
        rd = task.round(task.finalized_rounds)
        if rd.stage in (STAGE_OPEN, STAGE_CONSENSUS):
            at = self._at_rank(tid)
            return 0 if at is None else at[1].eligible
        return rd.eligible

    def _void_reason(self, task: Task, rd: Round) -> int:
        if not rd.eval_revealed:
            return VOID_NO_EVAL
        if not rd.subs:
            return VOID_NO_SUBMISSIONS
        if rd.validator_reveals == 0:
            return VOID_NO_QUORUM
        return VOID_NONE

    def _open(self, task: Task, r: int, rd: Round):
        p = task.params
        base = p.bounty // p.num_rounds
        if r == p.num_rounds - 1:
            base += p.bounty % p.num_rounds
        task.bounty_paid_out += base
        rd.pot = base + task.carry
        task.carry = 0
        rd.void_reason = self._void_reason(task, rd)
        if rd.void_reason != VOID_NONE:
            if rd.void_reason != VOID_NO_EVAL and rd.committers:
                # the shard was out: committed nodes that did not reveal still pay
                rd.stage, rd.cursor = STAGE_PAY_NODES, 0
            else:
                self._void_validators(task, r, rd)
        else:
            rd.stage, rd.cursor = STAGE_CONSENSUS, 0

    def _void_validators(self, task: Task, r: int, rd: Round):
        """A void round with committees slashes its assigned non-revealers in a validator
        pass; any other void round closes."""
        if self._committees(rd):
            rd.stage, rd.cursor = STAGE_PAY_VALIDATORS, 0
        else:
            self._close(task, r, rd)

    @staticmethod
    def consensus(pairs, tolerance: int) -> tuple[int, int]:
        """(c, status) of one submission from its (score, weight) reports (§6 CONSENSUS)."""
        gone = sum(w for x, w in pairs if x == UNAVAILABLE)
        avail = [(x, w) for x, w in pairs if x != UNAVAILABLE]
        total = sum(w for _, w in avail)
        if not avail or 2 * gone > total + gone:
            return 0, UNAVAILABLE_STATUS
        if total == 0:
            return min(x for x, _ in avail), SCORED
        groups: dict[int, int] = {}
        for x, w in avail:
            groups[x] = groups.get(x, 0) + w
        xs = sorted(groups)
        cum = 0
        for i, x in enumerate(xs):
            cum += groups[x]
            if 2 * cum > total or i == len(xs) - 1:
                return x, SCORED
            if 2 * cum == total:  # exact half: the two middle scores are x and xs[i + 1]
                hi = xs[i + 1]
                if (hi - x) * WAD <= tolerance * max(x, SCORE_FLOOR):
                    return x + (hi - x) // 2, SPLIT
                return 0, UNSCORED
        raise AssertionError("unreachable")

    @staticmethod
    def deviation(x: int, c: int) -> int:
        if x == INVALID and c == INVALID:
            return 0
        if x == INVALID or c == INVALID:
            return WAD
        return abs(x - c) * WAD // max(c, SCORE_FLOOR)

    def _consensus(self, task: Task, r: int, rd: Round, k: int):
        sub = rd.subs[k]
        votes = [(v, x) for v, x in rd.votes.get(k, []) if rd.vals[v].revealed]
        w, size = rd.draw["weight"], rd.draw["committee_size"]
        pairs = [(x, vote_weight(rd.vals[v].stake, w, size)) for v, x in votes]
        if len(pairs) >= task.params.min_committee:
            sub.consensus, sub.status = self.consensus(pairs, task.params.tolerance)
        else:  # fewer than min_committee of its committee revealed: unscored, nobody slashed over it
            sub.consensus, sub.status = 0, UNSCORED
        sub.stake = self.eff(task.participants[sub.node], r)
        if sub.status == UNAVAILABLE_STATUS:
            return
        rd.available += 1
        for v, x in votes:
            vr = rd.vals[v]
            vr.assigned_available += 1
            if x == UNAVAILABLE:
                continue
            vr.covered += 1
            if sub.status == SCORED:
                vr.dsum += self.deviation(x, sub.consensus)
                vr.scored += 1
        if sub.status <= SPLIT and self.eligible(task, sub):
            rd.eligible += 1

    def eligible(self, task: Task, sub: Submission) -> bool:
        b = task.params.baseline_score
        return sub.consensus != INVALID and (b == 0 or sub.consensus <= b)

    @staticmethod
    def pow_wad(q: int, k: int) -> int:
        result, base = WAD, q
        while k:
            if k & 1:
                result = result * base // WAD
            base = base * base // WAD
            k >>= 1
        return result

    def rank_weight(self, c: int, best: int, q: int, eps: int) -> int:
        """g = q^t, t = (c - best) / (eps * max(best, FLOOR)), linear between integer t."""
        t = (c - best) * WAD * WAD // (eps * max(best, SCORE_FLOOR))
        g = self.pow_wad(q, t // WAD)
        return g - (g - g * q // WAD) * (t % WAD) // WAD

    def _rank_step(self, task: Task, rd: Round, k: int):
        """One slot of the caller's order (§6 RANK): checked, then walked into buckets."""
        if not 0 <= k < len(rd.subs):
            raise Revert(arena("bad order"))
        sub = rd.subs[k]
        if sub.status > SPLIT or not self.eligible(task, sub):
            raise Revert(arena("bad order"))
        c, key, w = sub.consensus, sub.key, rd.walk
        rd.node_stake += sub.stake
        if rd.cursor == 0:
            w.update(best=None, last=(c, key), start=c, winner=k, winner_key=key)
        else:
            if (c, key) <= w["last"]:
                raise Revert(arena("bad order"))
            eps = task.params.rank_epsilon
            if (c - w["start"]) * WAD <= eps * max(w["start"], SCORE_FLOOR):
                if key < w["winner_key"]:
                    w.update(winner=k, winner_key=key)
            else:
                self._close_bucket(task, rd)
                w.update(start=c, winner=k, winner_key=key)
            w["last"] = (c, key)
        rd.cursor += 1
        if rd.cursor == rd.eligible:
            self._close_bucket(task, rd)
            self._finish_rank(task, 0, rd)

    def _close_bucket(self, task: Task, rd: Round):
        w = rd.walk
        win = rd.subs[w["winner"]]
        p = task.params
        if w["best"] is None:  # the first bucket: its winner is the best
            w["best"] = win.consensus
        win.weight = self.rank_weight(win.consensus, w["best"], p.rank_ratio, p.rank_epsilon)
        rd.sum_g_stake += win.weight * win.stake

    def _finish_rank(self, task: Task, r: int, rd: Round):
        p = task.params
        cap = self.keeper_cap_of(p.bounty, p.num_rounds, p.keeper_tip)
        t_stake, s, pot = rd.node_stake, rd.validator_stake, rd.pot - cap  # keepers' reserve
        r_nodes = pot * p.gamma // WAD
        if t_stake + s > 0:
            r_nodes += (pot * (WAD - 2 * p.gamma) // WAD) * t_stake // (t_stake + s)
        rd.nodes_pot = r_nodes
        rd.validators_pot = pot - r_nodes
        rd.stage, rd.cursor = STAGE_AGREEMENT, 0

    def _agreement(self, task: Task, rd: Round, j: int):
        """Validator j (§6 AGREEMENT): D_j and F_j of a completed reveal, F_j * w_j summed."""
        vr = rd.vals.get(task.validators[j])
        if vr is None or not vr.revealed:
            return
        p = task.params
        if vr.scored:
            vr.deviation = vr.dsum // vr.scored
            ratio = vr.deviation * WAD // p.tolerance
            agreement = 0 if ratio >= WAD else WAD - ratio
            vr.agreement = agreement * vr.covered // vr.assigned_available
        else:  # nothing it reported was scored: neither paid nor slashed for deviation
            vr.deviation = vr.agreement = 0
        rd.sum_f_stake += vr.agreement * vr.stake

    def _node_unit(self, task: Task, r: int, rd: Round, i: int):
        """Committer i (first-commit order): pay its submission, or slash an unrevealed
        commit once the shard was out (§6 PAY_NODES)."""
        node = rd.committers[i]
        mc = rd.commits[node]
        unserved = False
        if mc.revealed:
            sub = rd.subs[mc.slot]
            void = rd.void_reason != VOID_NONE
            unserved = not void and sub.status == UNAVAILABLE_STATUS
            if not void and sub.weight > 0 and rd.sum_g_stake > 0:
                x = rd.nodes_pot * (sub.weight * sub.stake) // rd.sum_g_stake
                sub.reward = x
                self._credit(task, r, rd, sub.node, x)
        if unserved or (not mc.revealed and not mc.displaced and rd.eval_revealed):
            mc.slash = self._slash_own(task, rd, node, task.params.slash_node_miss, SLASH_NODE_MISS)

    def _pay_validator(self, task: Task, r: int, rd: Round, j: int):
        v = task.validators[j]
        vr = rd.vals.get(v)
        p = task.params
        if vr is None or not vr.revealed:
            if self.assignment(task, r, v):  # assigned, no reveal (§8)
                self._slash(task, r, rd, v, p.slash_miss, SLASH_MISS)
            return
        if vr.revealed:
            if rd.sum_f_stake > 0:
                y = rd.validators_pot * (vr.agreement * vr.stake) // rd.sum_f_stake
                vr.reward = y
                self._credit(task, r, rd, v, y)
            if vr.deviation > p.slash_tau:
                self._slash(task, r, rd, v, p.slash_dev, SLASH_DEV)
        else:
            self._slash(task, r, rd, v, p.slash_miss, SLASH_MISS)

    def _close(self, task: Task, r: int, rd: Round):
        task.carry = rd.pot - rd.paid + rd.slashed
        self._finish(task, rd)

    def _finish(self, task: Task, rd: Round):
        rd.stage = STAGE_DONE
        rd.cursor = 0
        task.finalized_rounds += 1
        if task.finalized_rounds == task.params.num_rounds:
            task.status = STATUS_ENDED
            task.refund = task.carry
            task.carry = 0

    # -- crediting and slashing (§7, §8) --
    def _credit(self, task: Task, r: int, rd: Round, addr: str, x: int):
        pt = task.participants[addr]
        self._sync(pt, r)
        own, dl, s = pt.own_active, pt.del_value, pt.commission
        if own + dl == 0:
            # PROTOCOL.md says this cannot happen; it can (validator slashed to zero own
            # stake after committing, no delegation): then w_j = 0 and x = 0.
            assert x == 0
            owner = 0
        else:
            owner = x * (s + (WAD - s) * own // (own + dl)) // WAD
        dpart = x - owner
        dpaid = 0
        if pt.del_shares > 0 and dpart > 0:
            inc = dpart * ACC // pt.del_shares
            if inc > 0:
                # PROTOCOL.md §7 after finding F2: the whole dpart is reserved once the
                # accumulator moves (the first version reserved inc * dl // ACC and rolled
                # the rest over, which could leave the contract 1 wei per round short)
                pt.acc += inc
                dpaid = dpart
        pt.owner_earned += owner
        rd.paid += owner + dpaid
        rd.credits.append(Credit(r, addr, x, owner, dpart, dpaid))

    def _slash_own(self, task: Task, rd: Round, addr: str, frac: int, reason: int) -> int:
        """Take frac of addr's active own stake, rounded up (§8); it joins the round's
        slashed amount, which rolls into the next round's pot."""
        pt = task.participants[addr]
        self._sync(pt, task.finalized_rounds)
        amount = ceil_div(pt.own_active * frac, WAD)
        pt.own_active -= amount
        pt.slashed += amount
        task.total_own_stake -= amount
        rd.slashed += amount
        if amount:
            rd.slashes.append((addr, amount, 0, reason))
        return amount

    def _slash(self, task: Task, r: int, rd: Round, addr: str, frac: int, reason: int):
        """A validator's slash takes frac of its own stake (to the pot) and of its
        delegations: the share index falls by ceil(index * frac / WAD) (to >= 1) and the
        value the delegations lose is burned (§8)."""
        pt = task.participants[addr]
        self._sync(pt, r)
        cut = ceil_div(pt.own_active * frac, WAD)
        burned = 0
        if pt.del_shares > 0 and frac > 0:
            lowered = max(pt.del_index - ceil_div(pt.del_index * frac, WAD), 1)
            burned = pt.del_shares * pt.del_index // ACC - pt.del_shares * lowered // ACC
            pt.del_index = lowered
        if cut == 0 and burned == 0:
            return
        pt.own_active -= cut
        pt.slashed += cut
        pt.del_burned += burned
        pt.slash_round = r + 1
        task.total_own_stake -= cut
        task.burned += burned
        rd.slashed += cut
        vr = rd.vals.setdefault(addr, ValidatorRound())  # an assigned non-committer too
        vr.slash += cut
        vr.burned += burned
        rd.slashes.append((addr, cut, burned, reason))
        if burned:
            self._move(self.address, BURNED, burned)

    # -- claims and withdrawals (§7, §9) --
    def _vested(self, task: Task, earned: int) -> int:
        if task.status == STATUS_ENDED:
            return earned
        return earned * task.params.delta // WAD

    def _position_settled(self, task: Task, participant: str, account: str, mutate: bool):
        pt = task.participants[participant]
        pos = task.positions.get((participant, account))
        if pos is None:
            return pt, None
        if not mutate:
            pt, pos = copy.deepcopy(pt), copy.deepcopy(pos)
        self._sync(pt, task.finalized_rounds - 1)
        self._settle(pt, pos)
        return pt, pos

    def claimable(self, tid: int, participant: str, account: str) -> int:
        task = self.tasks.get(tid)
        if task is None or participant not in task.participants:
            return 0
        if account == participant:
            pt = task.participants[participant]
            return self._vested(task, pt.owner_earned) - pt.owner_claimed
        _, pos = self._position_settled(task, participant, account, mutate=False)
        if pos is None:
            return 0
        return self._vested(task, pos.earned) - pos.claimed

    @staticmethod
    def _leaving(task: Task, pt: Participant, participant: str, account: str) -> bool:
        """A delegator of a slashed participant may leave before the task ends (§4)."""
        return task.status == STATUS_ACTIVE and account != participant and pt.slash_round > 0

    @staticmethod
    def _mid_finalization(task: Task) -> bool:
        rd = task.rounds.get(task.finalized_rounds)
        return rd is not None and rd.stage != STAGE_OPEN

    def withdrawable(self, tid: int, participant: str, account: str) -> int:
        task = self.tasks.get(tid)
        if task is None:
            return 0
        pt = task.participants.get(participant)
        if pt is None:
            return 0
        if task.status not in (STATUS_ENDED, STATUS_CANCELLED):
            if not self._leaving(task, pt, participant, account) or self._mid_finalization(task):
                return 0
        if account == participant:
            return pt.own_active + pt.own_pending
        spt, pos = self._position_settled(task, participant, account, mutate=False)
        return 0 if pos is None else pos.shares * spt.del_index // ACC + pos.pending

    def claim(self, sender: str, tid: int, participant: str) -> int:
        task = self._task(tid)
        if participant not in task.participants:
            raise Revert(arena("not a participant"))
        if sender == participant:
            pt = task.participants[participant]
            amount = self._vested(task, pt.owner_earned) - pt.owner_claimed
            if amount == 0:
                raise Revert(arena("nothing to claim"))
            pt.owner_claimed += amount
        else:
            if (participant, sender) not in task.positions:
                raise Revert(arena("nothing to claim"))
            # settle on copies: a reverted claim must leave no trace (the settle's floor
            # division depends on how often it runs)
            pt, pos = self._position_settled(task, participant, sender, mutate=False)
            amount = self._vested(task, pos.earned) - pos.claimed
            if amount == 0:
                raise Revert(arena("nothing to claim"))
            pos.claimed += amount
            task.participants[participant] = pt
            task.positions[(participant, sender)] = pos
        self._move(self.address, sender, amount)
        return amount

    def withdraw(self, sender: str, tid: int, participant: str) -> int:
        task = self._task(tid)
        pt = task.participants.get(participant)
        ended = task.status in (STATUS_ENDED, STATUS_CANCELLED)
        if not ended and (pt is None or not self._leaving(task, pt, participant, sender)):
            raise Revert(arena("task not ended"))
        if pt is None:
            raise Revert(arena("not a participant"))
        if not ended and self._mid_finalization(task):
            raise Revert(arena("round being finalized"))
        if not ended and sender != participant and self._drawn(task):
            raise Revert(arena("committees drawn"))
        if sender == participant:
            amount = pt.own_active + pt.own_pending
            if amount == 0:
                raise Revert(arena("nothing to withdraw"))
            pt.own_active = pt.own_pending = 0
        else:
            if (participant, sender) not in task.positions:
                raise Revert(arena("nothing to withdraw"))
            pt, pos = self._position_settled(task, participant, sender, mutate=False)
            amount = pos.shares * pt.del_index // ACC + pos.pending
            if amount == 0:
                raise Revert(arena("nothing to withdraw"))
            pt.del_shares -= pos.shares
            if pos.pending:  # still in the participant's pending bucket
                pt.del_pending -= pos.pending
            pos.shares = pos.pending = 0
            task.participants[participant] = pt
            task.positions[(participant, sender)] = pos
        key = (tid, participant, sender)
        self.withdrawn[key] = self.withdrawn.get(key, 0) + amount
        self._move(self.address, sender, amount)
        return amount

    # -- committees (§5a) --
    def _readable_seed(self, tid: int, r: int, rd: Round, block: int, block_hash):
        """The draw's seed as the contract reads it at block ``block``: the fixed one, else
        the target block's hash while readable, else None."""
        d = rd.draw
        if d is None:
            return None
        if d["seed"] != b"\0" * 32:
            return d["seed"]
        t = d["target_block"]
        if block_hash is None or block <= t or block - t > SEED_WINDOW:
            return None
        return keccak(
            encode(
                ["bytes32", "uint256", "uint256", "bytes32"], [block_hash(t), tid, r, d["digest"]]
            )
        )

    def assignment(self, task: Task, r: int, v: str) -> int:
        """Bitmap of the slots validator v sits on in round r (0 until a commit fixed the
        seed): the rule of ape_arena.protocol.sortition with eff_v(r)."""
        rd = task.rounds.get(r)
        if rd is None or rd.draw is None or rd.draw["seed"] == b"\0" * 32:
            return 0
        return self.assignment_with(task, r, v, rd.draw["seed"])

    def assignment_with(self, task: Task, r: int, v: str, seed: bytes) -> int:
        """``assignment`` for a given seed (a client computes it before the seed is fixed)."""
        d, j = task.rounds[r].draw, task.validators.index(v)
        eff = self.eff(task.participants[v], r)
        if eff == 0:  # no stake, no committee (and no division by W)
            return 0
        bits = 0
        for k in range(d["submissions"]):
            if is_assigned(seed, k, j, eff, d["weight"], d["committee_size"]):
                bits |= 1 << k
        return bits

    @staticmethod
    def _drawn(task: Task) -> bool:
        rd = task.rounds.get(task.finalized_rounds)
        return rd is not None and rd.draw is not None

    def weight(self, task: Task, r: int) -> int:
        """W of round r: the validators' effective stake in r, summed (not a running sum)."""
        return sum(self.eff(pt, r) for pt in task.participants.values() if pt.role == VALIDATOR)

    def draw(self, sender: str, tid: int, rnd: int, now: int, block: int, block_hash) -> None:
        """``draw`` at chain time ``now`` in block ``block``; ``block_hash(n)`` reads the
        chain's hash of block ``n`` (only called for readable blocks)."""
        task = self._task(tid)
        if task.status != STATUS_ACTIVE:
            raise Revert(arena("task not active"))
        f = task.finalized_rounds
        if rnd < f:
            raise Revert(arena("round finalized"))
        if rnd > f:
            raise Revert(arena("finalize earlier rounds first"))
        t, ph = self.time_round(task, now), self.phase(task, now)
        if not (t > rnd or (t == rnd and ph >= PHASE_SCORE_COMMIT)):
            raise Revert(arena("reveals not closed"))
        rd = task.round(rnd)
        d = rd.draw
        if d is not None:
            if d["seed"] != b"\0" * 32:
                raise Revert(arena("already drawn"))
            if block <= d["target_block"]:
                raise Revert(arena("seed block not mined"))
            if block - d["target_block"] <= SEED_WINDOW:
                d["seed"] = keccak(
                    encode(
                        ["bytes32", "uint256", "uint256", "bytes32"],
                        [block_hash(d["target_block"]), tid, rnd, d["digest"]],
                    )
                )
            else:
                d["target_block"] = block + 1
            self._tip_draw(sender, task, rd)
            return
        digest = b"\0" * 32
        for s in rd.subs:
            digest = keccak(encode(["bytes32", "bytes32"], [digest, s.model]))
        rd.draw = {
            "target_block": block + 1,
            "seed": b"\0" * 32,
            "weight": self.weight(task, rnd),
            "committee_size": task.params.committee_size,
            "submissions": len(rd.subs),
            "digest": digest,
        }
        self._tip_draw(sender, task, rd)

    def _tip_draw(self, sender: str, task: Task, rd: Round) -> None:
        """A draw call that changed the draw earns one keeper tip (§6a)."""
        amount = self._tip(task, rd, 1)
        if amount:
            self._move(self.address, sender, amount)
            rd.tip_log.append((sender, amount))

    # -- accounting for invariants --
    def owed(self, tid: int) -> int:
        """Everything the contract owes for a task: stake, unpaid rewards, carry, refund and
        the part of the bounty (and of an open round's pot) not yet distributed."""
        task = self.tasks[tid]
        total = 0
        for pt in task.participants.values():
            total += pt.own_active + pt.own_pending
            total += self._vested_all(pt.owner_earned) - pt.owner_claimed
        for p, d in task.positions:
            spt, sp = self._position_settled(task, p, d, mutate=False)
            total += sp.shares * spt.del_index // ACC + sp.pending + sp.earned - sp.claimed
        total += task.carry
        if task.status == STATUS_ENDED and not task.refund_claimed:
            total += task.refund
        total += task.params.bounty - task.bounty_paid_out
        if task.status == STATUS_ACTIVE:
            rd = task.rounds.get(task.finalized_rounds)
            if rd is not None and rd.stage not in (STAGE_OPEN, STAGE_DONE):
                # pot opened but not closed: what is not yet credited is still owed
                total += rd.pot - rd.paid + rd.slashed
            elif rd is not None and rd.stage == STAGE_OPEN:
                total -= rd.keeper_tips  # draw tips, paid out of the pot to come
        return total

    @staticmethod
    def _vested_all(earned: int) -> int:
        return earned
