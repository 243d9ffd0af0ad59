# pragma version ~=0.4.3
"""
@title AIArena shared state
@custom:contract-name arena_state
@license MIT
@notice Constants, structs and storage shared by `Arena` and `ArenaEngine`, plus the
        stake-bucket helpers both need. Both deployables `initializes:` this module
        FIRST so its storage occupies the same slots in both: `Arena.finalize`
        delegatecalls `ArenaEngine.run`, which works on Arena's storage.
        Semantics: contracts/PROTOCOL.md.
"""


from ethereum.ercs import IERC20
from . import sortition


# ---- constants ----------------------------------------------------------------------------
NODE: constant(uint256) = 1
VALIDATOR: constant(uint256) = 2

# Revealed submissions per round (DESIGN §3.3: bounded only by what finalize pages through).
MAX_SUBMISSIONS: constant(uint256) = 1024
# Committee members whose votes one submission records (DESIGN §3.4: the committee size has
# mean <= K <= 64; 256 is never reached in practice, and a vote past it is not recorded).
MAX_VOTES: constant(uint256) = 256
MAX_ROUNDS: constant(uint256) = 64
MAX_PROOF_LENGTH: constant(uint256) = 16
MAX_URI_LENGTH: constant(uint256) = 256
SCORE_SCALE: constant(uint256) = 10**9
INVALID: constant(uint64) = max_value(uint64)
UNAVAILABLE: constant(uint64) = max_value(uint64) - 1
SCORE_FLOOR: constant(uint256) = 10**6
WAD: constant(uint256) = 10**18
ACC: constant(uint256) = 10**36
MIN_PHASE_DURATION: constant(uint256) = 1
MAX_PHASE_DURATION: constant(uint256) = 30 * 86400
MAX_START_DELAY: constant(uint256) = 365 * 86400
MAX_TOLERANCE: constant(uint256) = 1000 * 10**18
MAX_FINALIZE_STEPS: constant(uint256) = 320
MAX_COMMITTEE_SIZE: constant(uint256) = sortition.MAX_COMMITTEE_SIZE
SEED_WINDOW: constant(uint256) = 256
KEEPER_SHARE_DIVISOR: constant(uint256) = 10
_MASK64: constant(uint256) = 2**64 - 1

PHASE_NOT_STARTED: constant(uint256) = 0
PHASE_COMMIT: constant(uint256) = 1
PHASE_EVAL: constant(uint256) = 2
PHASE_REVEAL: constant(uint256) = 3
PHASE_SCORE_COMMIT: constant(uint256) = 4
PHASE_SCORE_REVEAL: constant(uint256) = 5
PHASE_ENDED: constant(uint256) = 6

STATUS_ACTIVE: constant(uint256) = 1
STATUS_CANCELLED: constant(uint256) = 2
STATUS_ENDED: constant(uint256) = 3

STAGE_OPEN: constant(uint256) = 0
STAGE_CONSENSUS: constant(uint256) = 1
STAGE_RANK: constant(uint256) = 2
STAGE_AGREEMENT: constant(uint256) = 3
STAGE_PAY_NODES: constant(uint256) = 4
STAGE_PAY_VALIDATORS: constant(uint256) = 5
STAGE_DONE: constant(uint256) = 6

VOID_NONE: constant(uint256) = 0
VOID_NO_EVAL: constant(uint256) = 1
VOID_NO_SUBMISSIONS: constant(uint256) = 2
VOID_NO_QUORUM: constant(uint256) = 3

SLASH_MISS: constant(uint256) = 1
SLASH_DEVIATION: constant(uint256) = 2
SLASH_NODE_MISS: constant(uint256) = 3


# ---- structs ------------------------------------------------------------------------------
struct TaskParams:
    bounty: uint256
    spec_hash: bytes32
    spec_uri: String[256]
    eval_root: bytes32
    num_rounds: uint256
    start_time: uint256
    commit_duration: uint256
    eval_duration: uint256
    reveal_duration: uint256
    score_commit_duration: uint256
    score_reveal_duration: uint256
    min_node_stake: uint256
    min_validator_stake: uint256
    gamma: uint256
    delta: uint256
    rank_ratio: uint256
    rank_epsilon: uint256
    tolerance: uint256
    slash_tau: uint256
    slash_miss: uint256
    slash_dev: uint256
    slash_node_miss: uint256
    min_committee: uint256
    baseline_score: uint64
    # Protocol v2 committees (DESIGN §3.4): expected committee size K, 1..MAX_COMMITTEE_SIZE.
    committee_size: uint256
    # Tokens paid to whoever sends `draw` (per call that changes the draw) and finalize (per
    # unit of work), from the round's pot; 0 = none (DESIGN §3.5). At most a
    # KEEPER_SHARE_DIVISOR-th of the round's bounty share goes to keepers per round.
    keeper_tip: uint256


struct TaskState:
    creator: address
    status: uint256
    finalized_rounds: uint256
    carry: uint256
    refund: uint256
    refund_claimed: bool
    participant_count: uint256
    validator_count: uint256
    total_own_stake: uint256
    round_length: uint256
    burned: uint256
    # Emission in the carry that void rounds rolled on (never refunded; burned at the end).
    emission_carry: uint256


struct ParticipantInfo:
    role: uint256
    commission: uint256
    own_active: uint256
    own_pending: uint256
    # Active delegations are shares: worth del_shares * del_index // ACC tokens. A slash of a
    # validator lowers del_index, taking the same fraction of every delegation at once.
    del_shares: uint256
    del_pending: uint256
    pending_round: uint256
    acc: uint256
    del_index: uint256
    owner_earned: uint256
    owner_claimed: uint256
    slashed: uint256
    del_burned: uint256
    slash_round: uint256
    validator_index: uint256


struct DelegationInfo:
    shares: uint256
    pending: uint256
    pending_round: uint256
    acc_checkpoint: uint256
    earned: uint256
    claimed: uint256


struct RoundInfo:
    eval_revealed: bool
    shard_sha256: bytes32
    shard_uri: String[256]
    num_submissions: uint256
    commit_count: uint256
    committer_count: uint256
    validator_commit_count: uint256
    validator_reveal_count: uint256
    stage: uint256
    cursor: uint256
    void_reason: uint256
    pot: uint256
    emission_amount: uint256
    nodes_pot: uint256
    validators_pot: uint256
    node_stake: uint256
    validator_stake: uint256
    sum_g_stake: uint256
    sum_f_stake: uint256
    paid: uint256
    slashed: uint256
    available: uint256
    eligible: uint256
    # keeper tips paid for this round (draw and finalize), part of `paid`
    keeper_tips: uint256


struct SubmissionInfo:
    node: address
    model_sha256: bytes32
    uri: String[256]
    commit_seq: uint256
    # (round << 128) | seq of the commit that first revealed this model hash in the task
    key: uint256
    consensus: uint64
    status: uint256
    stake: uint256
    weight: uint256
    reward: uint256


# The RANK walk over the caller-supplied order (sorted by consensus, then key).
struct RankWalk:
    best: uint64
    last_consensus: uint64
    last_key: uint256
    bucket_start: uint64
    winner: uint256
    winner_key: uint256


struct ModelCommit:
    commitment: bytes32
    seq: uint256
    committed: bool
    revealed: bool
    slot: uint256
    displaced: bool
    slash: uint256


struct ValidatorRound:
    commitment: bytes32
    committed: bool
    revealed: bool
    stake: uint256
    deviation_sum: uint256
    deviation: uint256
    agreement: uint256
    reward: uint256
    slash: uint256
    burned: uint256
    scored: uint256
    covered: uint256
    # how many of its assigned slots were available (not UNAVAILABLE by consensus).
    # deviation_sum, scored, covered and assigned_available are kept packed in `_tally`
    # (one write per vote); the `validator_round` view fills them in from it.
    assigned_available: uint256
    # the paged reveal: scores revealed so far (all its assignments once `revealed`), the
    # slot the next page starts at, and the running hash of the revealed scores
    assignments: uint256
    next_slot: uint256
    reveal_hash: bytes32


# A round's committee draw (PROTOCOL.md §5a): the future block whose hash seeds it and
# what it froze. `seed` stays empty until a call after `target_block` reads that hash.
struct CommitteeDraw:
    target_block: uint256
    seed: bytes32
    weight: uint256
    committee_size: uint256
    submissions: uint256
    digest: bytes32


struct ModelOwner:
    node: address
    round: uint256
    seq: uint256
    slot: uint256


# ---- immutables and storage ---------------------------------------------------------------
# @dev The Emission contract (zero address: no emission); set once by Arena's constructor.
emission: public(address)
# @dev The ArenaToken (Arena's `token` immutable, stored for the delegatecalled engine).
_token: address

task_count: public(uint256)

_params: HashMap[uint256, TaskParams]
_state: HashMap[uint256, TaskState]
_parts: HashMap[uint256, HashMap[address, ParticipantInfo]]
_dels: HashMap[uint256, HashMap[address, HashMap[address, DelegationInfo]]]
# task -> participant -> pending_round -> participant accumulator when that bucket merged
_acc_snap: HashMap[uint256, HashMap[address, HashMap[uint256, uint256]]]
# task -> participant -> pending_round -> del_index when that bucket merged (its share price)
_index_snap: HashMap[uint256, HashMap[address, HashMap[uint256, uint256]]]
# task -> validator index (join order) -> address; no cap on their number
_validators: HashMap[uint256, HashMap[uint256, address]]
_rounds: HashMap[uint256, HashMap[uint256, RoundInfo]]
_subs: HashMap[uint256, HashMap[uint256, HashMap[uint256, SubmissionInfo]]]
_mcommits: HashMap[uint256, HashMap[uint256, HashMap[address, ModelCommit]]]
# task -> round -> i -> the i-th node to commit in the round (each node once, in first-commit order)
_committers: HashMap[uint256, HashMap[uint256, HashMap[uint256, address]]]
# task -> round -> validator index -> record
_vrounds: HashMap[uint256, HashMap[uint256, HashMap[uint256, ValidatorRound]]]
# task -> round -> validator index -> i -> its scores 4i..4i+3 (assignment order), packed
_scores: HashMap[uint256, HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]]
# task -> round -> slot -> i -> the i-th committee vote recorded for it: (j << 64) | score
_votes: HashMap[uint256, HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]]
_vote_count: HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]
# task -> round -> validator index -> its CONSENSUS tally, one word: deviation_sum (bits
# 0-127) | scored << 128 | covered << 160 | assigned_available << 192
_tally: HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]
_owners: HashMap[uint256, HashMap[bytes32, ModelOwner]]
_walks: HashMap[uint256, HashMap[uint256, RankWalk]]
_draws: HashMap[uint256, HashMap[uint256, CommitteeDraw]]
# Sum over the task's validators of own + delegated stake, pending buckets included, and
# the part of it that activates at a given round: W of round r = _vstake - _vpend[r + 1]
# (while round r is the first unfinalized one no bucket activates later than r + 1).
_vstake: HashMap[uint256, uint256]
_vpend: HashMap[uint256, HashMap[uint256, uint256]]


@internal
@view
def _own(task: uint256, p: address, r: uint256) -> uint256:
    own: uint256 = self._parts[task][p].own_active
    if self._parts[task][p].pending_round <= r:
        own += self._parts[task][p].own_pending
    return own


@internal
@view
def _eff(task: uint256, p: address, r: uint256) -> uint256:
    amount: uint256 = self._parts[task][p].own_active + self._del_value(task, p)
    if self._parts[task][p].pending_round <= r:
        amount += self._parts[task][p].own_pending + self._parts[task][p].del_pending
    return amount


@internal
@view
def _del_value(task: uint256, p: address) -> uint256:
    """
    @dev Tokens the active delegations to p are worth: del_shares * del_index // ACC.
    """
    return self._parts[task][p].del_shares * self._parts[task][p].del_index // ACC


@internal
def _sync(task: uint256, p: address, upto: uint256):
    """
    @dev Merge p's pending bucket into active if it activates at or before `upto`: own
         stake as is, delegated tokens as shares at the current del_index; snapshot the
         accumulator and the index for the delegation positions of that bucket.
    """
    pr: uint256 = self._parts[task][p].pending_round
    if pr > upto:
        return
    op: uint256 = self._parts[task][p].own_pending
    dp: uint256 = self._parts[task][p].del_pending
    if op == 0 and dp == 0:
        return
    index: uint256 = self._parts[task][p].del_index
    self._acc_snap[task][p][pr] = self._parts[task][p].acc
    self._index_snap[task][p][pr] = index
    self._parts[task][p].own_active += op
    before: uint256 = self._parts[task][p].del_shares
    after: uint256 = before + dp * ACC // index
    self._parts[task][p].del_shares = after
    if self._parts[task][p].role == VALIDATOR:
        # pending tokens become shares: their value may round down by < 1 wei
        self._vstake[task] -= before * index // ACC + dp - after * index // ACC
    self._parts[task][p].own_pending = 0
    self._parts[task][p].del_pending = 0


@internal
def _notify(task: uint256, total: uint256):
    """
    @dev Report a task's total own stake to Emission. A failing Emission never blocks
         joins, slashing or finalization (the call's failure is ignored).
    """
    if self.emission != empty(address):
        ok: bool = raw_call(
            self.emission,
            abi_encode(task, total, method_id=method_id("notify_stake(uint256,uint256)")),
            revert_on_failure=False,
        )


# ---- shared checks and the clock ------------------------------------------------------
@internal
@view
def _exists(task: uint256):
    assert task != 0 and task <= self.task_count, "arena: unknown task"


@internal
@view
def _clock(task: uint256) -> (uint256, uint256):
    start: uint256 = self._params[task].start_time
    if block.timestamp < start:
        return PHASE_NOT_STARTED, 0
    elapsed: uint256 = block.timestamp - start
    r: uint256 = elapsed // self._state[task].round_length
    if r >= self._params[task].num_rounds:
        return PHASE_ENDED, r
    off: uint256 = elapsed % self._state[task].round_length
    t: uint256 = self._params[task].commit_duration
    if off < t:
        return PHASE_COMMIT, r
    t += self._params[task].eval_duration
    if off < t:
        return PHASE_EVAL, r
    t += self._params[task].reveal_duration
    if off < t:
        return PHASE_REVEAL, r
    t += self._params[task].score_commit_duration
    if off < t:
        return PHASE_SCORE_COMMIT, r
    return PHASE_SCORE_REVEAL, r


@internal
@view
def _in_phase(task: uint256, phase: uint256) -> uint256:
    assert self._state[task].status == STATUS_ACTIVE, "arena: task not active"
    p: uint256 = 0
    r: uint256 = 0
    p, r = self._clock(task)
    assert p == phase, "arena: wrong phase"
    return r


@internal
@pure
def _eval_depth(num_rounds: uint256) -> uint256:
    """
    @dev Proof length of the positional eval tree of `num_rounds` leaves: ceil(log2(n)).
    """
    d: uint256 = 0
    for _: uint256 in range(8):
        if (1 << d) >= num_rounds:
            break
        d += 1
    return d


@internal
@view
def _weight(task: uint256, r: uint256) -> uint256:
    """
    @dev W of round r while r is the first unfinalized round: the validators' own and
         delegated stake that is active in r (PROTOCOL.md §5a).
    """
    return self._vstake[task] - self._vpend[task][r + 1]


@internal
@view
def _seed(task: uint256, r: uint256) -> bytes32:
    """
    @dev The round's committee seed: the stored one, else computed from the target block's
         hash while it is readable (after the block, at most SEED_WINDOW blocks back),
         else empty.
    """
    seed: bytes32 = self._draws[task][r].seed
    if seed != empty(bytes32):
        return seed
    t: uint256 = self._draws[task][r].target_block
    if t == 0 or block.number <= t or block.number - t > SEED_WINDOW:
        return empty(bytes32)
    return sortition._round_seed(blockhash(t), task, r, self._draws[task][r].digest)


@internal
@view
def _activation(task: uint256) -> uint256:
    assert self._state[task].status == STATUS_ACTIVE, "arena: task not active"
    start: uint256 = self._params[task].start_time
    if block.timestamp < start:
        return 0
    t: uint256 = (block.timestamp - start) // self._state[task].round_length
    assert t + 1 < self._params[task].num_rounds, "arena: deposits closed"
    if self._state[task].finalized_rounds < t:
        raise concat("arena: finalize round ", uint2str(t - 1), " first")
    return t + 1


@internal
def _sync_finalized(task: uint256, p: address):
    f: uint256 = self._state[task].finalized_rounds
    if f != 0:
        self._sync(task, p, f - 1)


@internal
def _settle(task: uint256, p: address, d: address):
    """
    @dev Bring position (p, d) up to date with p's accumulator (caller synced p first);
         a pending amount of a merged bucket becomes shares at that bucket's index.
    """
    acc: uint256 = self._parts[task][p].acc
    pending: uint256 = self._dels[task][p][d].pending
    shares: uint256 = self._dels[task][p][d].shares
    ckpt: uint256 = self._dels[task][p][d].acc_checkpoint
    gain: uint256 = 0
    pr: uint256 = self._dels[task][p][d].pending_round
    if pending != 0 and (self._parts[task][p].pending_round != pr or self._parts[task][p].del_pending == 0):
        new: uint256 = pending * ACC // self._index_snap[task][p][pr]
        gain = (shares * (acc - ckpt) + new * (acc - self._acc_snap[task][p][pr])) // ACC
        self._dels[task][p][d].shares = shares + new
        self._dels[task][p][d].pending = 0
    else:
        gain = shares * (acc - ckpt) // ACC
    self._dels[task][p][d].earned += gain
    self._dels[task][p][d].acc_checkpoint = acc


@internal
@view
def _keeper_cap(task: uint256) -> uint256:
    """
    @dev The most a round pays keepers: bounty // num_rounds // KEEPER_SHARE_DIVISOR, 0
         without a tip. Finalize reserves it from the pot before splitting it.
    """
    if self._params[task].keeper_tip == 0:
        return 0
    return self._params[task].bounty // self._params[task].num_rounds // KEEPER_SHARE_DIVISOR


@internal
def _tip(task: uint256, r: uint256, units: uint256) -> uint256:
    """
    @dev Book `units` keeper tips for round r, up to the round's keeper cap: they count as
         paid (out of the reserve). The caller transfers the amount to msg.sender.
    @return The amount to transfer.
    """
    tip: uint256 = self._params[task].keeper_tip
    if tip == 0:
        return 0
    paid: uint256 = self._rounds[task][r].keeper_tips
    amount: uint256 = min(tip * units, self._keeper_cap(task) - paid)
    if amount != 0:
        self._rounds[task][r].keeper_tips = paid + amount
        self._rounds[task][r].paid += amount
    return amount


@internal
@view
def _next_assigned(task: uint256, r: uint256, j: uint256, eff: uint256, start: uint256) -> uint256:
    """
    @dev The first slot >= `start` that validator index j (effective stake `eff`) is
         assigned in round r, or the round's submission count when there is none (also
         before a score commit fixed the seed: finalize never depends on when it runs).
         O(n) keccaks at most, n <= MAX_SUBMISSIONS.
    """
    n: uint256 = self._draws[task][r].submissions
    seed: bytes32 = self._draws[task][r].seed
    if seed == empty(bytes32) or start >= n:
        return n
    total: uint256 = self._draws[task][r].weight
    size: uint256 = self._draws[task][r].committee_size
    for k: uint256 in range(start, start + MAX_SUBMISSIONS, bound=MAX_SUBMISSIONS):
        if k >= n:
            return n
        if sortition._is_assigned(seed, k, j, eff, total, size):
            return k
    return n


@internal
@pure
def _unpack_tally(t: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @dev (deviation_sum, scored, covered, assigned_available) of a `_tally` word.
    """
    return t & (2**128 - 1), (t >> 128) & (2**32 - 1), (t >> 160) & (2**32 - 1), t >> 192
