# pragma version ~=0.4.3
# pragma nonreentrancy on
# pragma optimize codesize
"""
@title AIArena
@custom:contract-name Arena
@license MIT
@notice Decentralized AI training arena (DESIGN §3). A creator posts a task with a
        bounty and a Merkle commitment to per-round eval shards; training nodes
        commit-reveal models; validators commit-reveal scores; `finalize` computes a
        stake-weighted lower-median consensus per submission on-chain, ranks nodes,
        pays nodes and validators (with delegator shares through a 1e36 accumulator)
        and slashes validators that withhold or deviate. Pull payments only.
        The exact arithmetic and the ABI are specified in contracts/PROTOCOL.md.
@custom:kill The owner (two-step transfer) can `pause`: that blocks only the entry
        points that take money or commitments in (`create_task`, `join`, `delegate`,
        `commit_model`, `commit_scores`). Reveals, `finalize`, `claim`, `withdraw`,
        `claim_refund` and `cancel_task` always work. No owner path moves user funds.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.utils import pausable
from . import arena_state as st
from . import sortition

initializes: st
initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: pausable

exports: (
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
    pausable.paused,
    st.task_count,
    st.emission,
)



# A committee vote as the `votes` view returns it.
struct Vote:
    validator: address
    score: uint64
    weight: uint256
    counted: bool


# ---- constants ----------------------------------------------------------------------------
PROTOCOL_VERSION: public(constant(uint256)) = 2  # contracts/PROTOCOL.md; clients check it
NODE: public(constant(uint256)) = 1
VALIDATOR: public(constant(uint256)) = 2

MAX_SUBMISSIONS: public(constant(uint256)) = st.MAX_SUBMISSIONS
MAX_VOTES: public(constant(uint256)) = st.MAX_VOTES
MAX_PAGE: public(constant(uint256)) = 1024
MAX_ROUNDS: public(constant(uint256)) = 64
MAX_PROOF_LENGTH: public(constant(uint256)) = 16
MAX_URI_LENGTH: public(constant(uint256)) = 256
SCORE_SCALE: public(constant(uint256)) = 10**9
INVALID: public(constant(uint64)) = max_value(uint64)
UNAVAILABLE: public(constant(uint64)) = max_value(uint64) - 1
SCORE_FLOOR: public(constant(uint256)) = st.SCORE_FLOOR
WAD: public(constant(uint256)) = 10**18
ACC: public(constant(uint256)) = 10**36
MIN_PHASE_DURATION: public(constant(uint256)) = 1
MAX_PHASE_DURATION: public(constant(uint256)) = 30 * 86400
MAX_START_DELAY: public(constant(uint256)) = 365 * 86400
MAX_TOLERANCE: public(constant(uint256)) = 1000 * 10**18
MAX_FINALIZE_STEPS: public(constant(uint256)) = 320
MAX_COMMITTEE_SIZE: public(constant(uint256)) = st.MAX_COMMITTEE_SIZE
SEED_WINDOW: public(constant(uint256)) = st.SEED_WINDOW
KEEPER_SHARE_DIVISOR: public(constant(uint256)) = st.KEEPER_SHARE_DIVISOR
_MASK64: constant(uint256) = 2**64 - 1

PHASE_NOT_STARTED: public(constant(uint256)) = 0
PHASE_COMMIT: public(constant(uint256)) = 1
PHASE_EVAL: public(constant(uint256)) = 2
PHASE_REVEAL: public(constant(uint256)) = 3
PHASE_SCORE_COMMIT: public(constant(uint256)) = 4
PHASE_SCORE_REVEAL: public(constant(uint256)) = 5
PHASE_ENDED: public(constant(uint256)) = 6

STATUS_ACTIVE: public(constant(uint256)) = 1
STATUS_CANCELLED: public(constant(uint256)) = 2
STATUS_ENDED: public(constant(uint256)) = 3

STAGE_OPEN: public(constant(uint256)) = st.STAGE_OPEN
STAGE_CONSENSUS: public(constant(uint256)) = st.STAGE_CONSENSUS
STAGE_RANK: public(constant(uint256)) = st.STAGE_RANK
STAGE_AGREEMENT: public(constant(uint256)) = st.STAGE_AGREEMENT
STAGE_PAY_NODES: public(constant(uint256)) = st.STAGE_PAY_NODES
STAGE_PAY_VALIDATORS: public(constant(uint256)) = st.STAGE_PAY_VALIDATORS
STAGE_DONE: public(constant(uint256)) = st.STAGE_DONE

VOID_NONE: public(constant(uint256)) = 0
VOID_NO_EVAL: public(constant(uint256)) = 1
VOID_NO_SUBMISSIONS: public(constant(uint256)) = 2
VOID_NO_QUORUM: public(constant(uint256)) = 3

SLASH_MISS: public(constant(uint256)) = 1
SLASH_DEVIATION: public(constant(uint256)) = 2
SLASH_NODE_MISS: public(constant(uint256)) = 3


# ---- immutables ---------------------------------------------------------------------------
token: public(immutable(IERC20))
# @dev The ArenaEngine that `finalize` delegatecalls (same storage layout).
engine: public(immutable(address))
# @dev The ArenaRounds that commits and reveals run in (delegatecalled, same storage layout).
rounds: public(immutable(address))


# ---- events -------------------------------------------------------------------------------
event TaskCreated:
    task: indexed(uint256)
    creator: indexed(address)
    bounty: uint256
    num_rounds: uint256
    start_time: uint256
    spec_hash: bytes32
    eval_root: bytes32
    spec_uri: String[256]

event TaskCancelled:
    task: indexed(uint256)
    creator: indexed(address)
    refund: uint256

event Joined:
    task: indexed(uint256)
    participant: indexed(address)
    role: uint256
    commission: uint256

event Staked:
    task: indexed(uint256)
    participant: indexed(address)
    amount: uint256
    activation_round: uint256
    own_total: uint256

event Delegated:
    task: indexed(uint256)
    participant: indexed(address)
    delegator: indexed(address)
    amount: uint256
    activation_round: uint256

event ModelCommitted:
    task: indexed(uint256)
    round: indexed(uint256)
    node: indexed(address)
    commitment: bytes32
    seq: uint256

event ModelRevealed:
    task: indexed(uint256)
    round: indexed(uint256)
    node: indexed(address)
    slot: uint256
    model_sha256: bytes32
    uri: String[256]

event SubmissionReplaced:
    task: indexed(uint256)
    round: indexed(uint256)
    slot: indexed(uint256)
    displaced: address
    node: address

event EvalRevealed:
    task: indexed(uint256)
    round: indexed(uint256)
    shard_sha256: bytes32
    shard_uri: String[256]

event ScoresCommitted:
    task: indexed(uint256)
    round: indexed(uint256)
    validator: indexed(address)
    commitment: bytes32

event ScoresRevealed:
    task: indexed(uint256)
    round: indexed(uint256)
    validator: indexed(address)
    first: uint256
    scores: DynArray[uint64, MAX_SUBMISSIONS]
    complete: bool

event RoundOpened:
    task: indexed(uint256)
    round: indexed(uint256)
    pot: uint256
    emission_amount: uint256
    void_reason: uint256

event ConsensusComputed:
    task: indexed(uint256)
    round: indexed(uint256)
    slot: indexed(uint256)
    consensus: uint64
    status: uint256

event RoundRanked:
    task: indexed(uint256)
    round: indexed(uint256)
    nodes_pot: uint256
    validators_pot: uint256
    node_stake: uint256
    validator_stake: uint256

event Rewarded:
    task: indexed(uint256)
    round: indexed(uint256)
    participant: indexed(address)
    amount: uint256
    owner_part: uint256
    delegator_part: uint256

event ValidatorScored:
    task: indexed(uint256)
    round: indexed(uint256)
    validator: indexed(address)
    deviation: uint256
    agreement: uint256

event Slashed:
    task: indexed(uint256)
    round: indexed(uint256)
    participant: indexed(address)
    amount: uint256
    burned: uint256
    reason: uint256

event RoundFinalized:
    task: indexed(uint256)
    round: indexed(uint256)
    pot: uint256
    paid: uint256
    slashed: uint256
    carry: uint256
    void_reason: uint256

event TaskEnded:
    task: indexed(uint256)
    refund: uint256
    # emission that void rounds rolled on to the end: burned, never refunded (PROTOCOL.md §10)
    emission_burned: uint256

event Claimed:
    task: indexed(uint256)
    participant: indexed(address)
    account: indexed(address)
    amount: uint256

event Withdrawn:
    task: indexed(uint256)
    participant: indexed(address)
    account: indexed(address)
    amount: uint256

event RefundClaimed:
    task: indexed(uint256)
    creator: indexed(address)
    amount: uint256

event CommitteeDrawn:
    task: indexed(uint256)
    round: indexed(uint256)
    target_block: uint256
    weight: uint256
    committee_size: uint256
    submissions: uint256
    digest: bytes32

event RoundSeeded:
    task: indexed(uint256)
    round: indexed(uint256)
    seed: bytes32

event KeeperTipped:
    task: indexed(uint256)
    round: indexed(uint256)
    keeper: indexed(address)
    units: uint256
    amount: uint256


# ---- constructor --------------------------------------------------------------------------
@deploy
def __init__(token_: address, emission_: address, engine_: address, rounds_: address):
    """
    @notice Deploy the arena; the deployer becomes the owner (pause only).
    @param token_ The ArenaToken (bounties, stake, rewards).
    @param emission_ The Emission contract, or the zero address for no emission.
    @param engine_ The deployed ArenaEngine (finalize logic, delegatecalled).
    @param rounds_ The deployed ArenaRounds (commits and reveals, delegatecalled).
    """
    assert token_ != empty(address) and engine_ != empty(address), "arena: parameter out of range"
    assert rounds_ != empty(address), "arena: parameter out of range"
    token = IERC20(token_)
    engine = engine_
    rounds = rounds_
    st.emission = emission_
    st._token = token_
    ownable.__init__()
    ownable_2step.__init__()
    pausable.__init__()


# ---- owner --------------------------------------------------------------------------------
@external
def pause():
    """
    @notice Pause create_task, join, delegate, commit_model and commit_scores.
    @dev Owner only. Emits `Paused`. Never blocks reveals, finalize, claims or withdrawals.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Lift the pause.
    @dev Owner only. Emits `Unpaused`.
    """
    ownable._check_owner()
    pausable._unpause()


# ---- pure helpers -------------------------------------------------------------------------
@external
@pure
def model_commitment(model_sha256: bytes32, node: address, task: uint256, round: uint256) -> bytes32:
    """
    @notice The model commitment a node submits with `commit_model`.
    @param model_sha256 The sha256 of the model file.
    @param node The committing node.
    @param task The task id.
    @param round The round index.
    @return bytes32 keccak256(abi_encode(model_sha256, node, task, round)).
    """
    return keccak256(abi_encode(model_sha256, node, task, round))


@external
@pure
def score_commitment(
    task: uint256,
    round: uint256,
    validator: address,
    scores: DynArray[uint64, MAX_SUBMISSIONS],
    salt: bytes32,
) -> bytes32:
    """
    @notice The score commitment a validator submits with `commit_scores`.
    @dev A running hash over the scores lets `reveal_scores` check them page by page:
         h_0 = bytes32(0), h_(i+1) = keccak256(abi_encode(h_i, scores[i])); the
         commitment is keccak256(abi_encode(task, round, validator, h_n, salt)).
    @param task The task id.
    @param round The round index.
    @param validator The committing validator.
    @param scores One score per assigned slot, in slot order.
    @param salt A secret random salt.
    @return bytes32 The commitment.
    """
    h: bytes32 = empty(bytes32)
    for x: uint64 in scores:
        h = keccak256(abi_encode(h, x))
    return keccak256(abi_encode(task, round, validator, h, salt))


# ---- task lifecycle -----------------------------------------------------------------------
@external
def create_task(params: st.TaskParams) -> uint256:
    """
    @notice Create a task and pull its bounty from the caller.
    @dev Parameter ranges: contracts/PROTOCOL.md §2. Needs an ERC20 allowance of
         `params.bounty`. Emits `TaskCreated`.
    @param params The task parameters (immutable afterwards).
    @return uint256 The new task id (starting at 1).
    """
    self._not_paused()
    assert params.bounty != 0, "arena: zero amount"
    assert params.eval_root != empty(bytes32), "arena: parameter out of range"
    assert params.num_rounds >= 1 and params.num_rounds <= MAX_ROUNDS, "arena: parameter out of range"
    start: uint256 = params.start_time
    if start == 0:
        start = block.timestamp
    assert start >= block.timestamp and start <= block.timestamp + MAX_START_DELAY, "arena: parameter out of range"
    for d: uint256 in [params.commit_duration, params.eval_duration, params.reveal_duration, params.score_commit_duration, params.score_reveal_duration]:
        assert d >= MIN_PHASE_DURATION and d <= MAX_PHASE_DURATION, "arena: parameter out of range"
    assert params.min_node_stake != 0 and params.min_validator_stake != 0, "arena: parameter out of range"
    assert params.gamma <= WAD // 2, "arena: parameter out of range"
    assert params.delta <= WAD and params.rank_ratio <= WAD, "arena: parameter out of range"
    assert params.rank_epsilon != 0 and params.rank_epsilon <= MAX_TOLERANCE, "arena: parameter out of range"
    assert params.tolerance != 0 and params.tolerance <= MAX_TOLERANCE, "arena: parameter out of range"
    assert params.slash_tau <= MAX_TOLERANCE, "arena: parameter out of range"
    assert params.slash_miss <= WAD and params.slash_dev <= WAD, "arena: parameter out of range"
    assert params.slash_node_miss <= WAD, "arena: parameter out of range"
    assert params.min_committee >= 1 and params.min_committee <= MAX_VOTES, "arena: parameter out of range"
    assert params.committee_size >= 1 and params.committee_size <= MAX_COMMITTEE_SIZE, "arena: parameter out of range"
    assert params.keeper_tip <= params.bounty // params.num_rounds // KEEPER_SHARE_DIVISOR, "arena: parameter out of range"

    task: uint256 = st.task_count + 1
    st.task_count = task
    st._params[task] = params
    st._params[task].start_time = start
    st._state[task].creator = msg.sender
    st._state[task].status = STATUS_ACTIVE
    st._state[task].round_length = (
        params.commit_duration
        + params.eval_duration
        + params.reveal_duration
        + params.score_commit_duration
        + params.score_reveal_duration
    )
    log TaskCreated(
        task=task,
        creator=msg.sender,
        bounty=params.bounty,
        num_rounds=params.num_rounds,
        start_time=start,
        spec_hash=params.spec_hash,
        eval_root=params.eval_root,
        spec_uri=params.spec_uri,
    )
    assert extcall token.transferFrom(msg.sender, self, params.bounty, default_return_value=True)
    return task


@external
def cancel_task(task: uint256):
    """
    @notice Cancel a task nobody joined yet and take the bounty back.
    @dev Creator only; no participant and no finalized round. Emits `TaskCancelled`.
    @param task The task id.
    """
    self._forward()


@external
def claim_refund(task: uint256) -> uint256:
    """
    @notice Creator takes what is left after the last round (rolled-over pots, slashes, dust).
    @dev Creator only, once, after the task ENDED. Emits `RefundClaimed`.
    @param task The task id.
    @return uint256 The amount transferred.
    """
    return abi_decode(raw_call(rounds, msg.data, max_outsize=32, is_delegate_call=True), uint256)


# ---- stake and delegation -----------------------------------------------------------------
@external
def join(task: uint256, role: uint256, amount: uint256, commission: uint256):
    """
    @notice Join a task as NODE (1) or VALIDATOR (2) with own stake, or top up.
    @dev First call: amount >= the role minimum, commission <= WAD (fixed for the task).
         Later calls with the same role and commission add stake. Stake activates
         next round (PROTOCOL.md §4). Emits `Joined` (first call) and `Staked`.
    @param task The task id.
    @param role NODE = 1 or VALIDATOR = 2.
    @param amount Tokens to stake (pulled with transferFrom).
    @param commission The share sigma (WAD) of delegators' part kept by the owner.
    """
    self._not_paused()
    self._forward()


@external
def delegate(task: uint256, participant: address, amount: uint256):
    """
    @notice Back a joined node or validator with `amount` tokens.
    @dev Activates next round (PROTOCOL.md §4); O(1) in the number of delegators.
         Settles the caller's accumulated rewards first. Emits `Delegated`.
    @param task The task id.
    @param participant The node or validator to back.
    @param amount Tokens to delegate (pulled with transferFrom).
    """
    self._not_paused()
    self._forward()


# ---- submissions --------------------------------------------------------------------------
@external
def commit_model(task: uint256, c: bytes32):
    """
    @notice Commit to a model in the COMMIT phase of the current round.
    @dev c = model_commitment(model_sha256, msg.sender, task, round). A re-commit
         overwrites and takes a new (later) commit sequence number. Emits `ModelCommitted`.
    @param task The task id.
    @param c The commitment.
    """
    self._not_paused()
    self._forward()

@external
def reveal_model(task: uint256, model_sha256: bytes32, uri: String[256]):
    """
    @notice Reveal the committed model in the REVEAL phase.
    @dev Duplicate hashes: the earlier commit keeps the slot (PROTOCOL.md §5). Emits
         `ModelRevealed` (and `SubmissionReplaced` when taking over a later commit's slot).
    @param task The task id.
    @param model_sha256 The sha256 of the model file.
    @param uri Where validators fetch the model.
    """
    self._forward()

@external
def reveal_eval(
    task: uint256,
    round: uint256,
    shard_sha256: bytes32,
    shard_uri: String[256],
    proof: DynArray[bytes32, MAX_PROOF_LENGTH],
):
    """
    @notice Creator reveals the round's eval shard in the REVEAL phase.
    @dev Leaf = keccak256(abi_encode(round, shard_sha256)), sorted-pair Merkle proof
         against `eval_root`. Without it the round is void. Emits `EvalRevealed`.
    @param task The task id.
    @param round The current round index.
    @param shard_sha256 The sha256 of the eval shard file.
    @param shard_uri Where validators fetch the shard.
    @param proof The Merkle proof (at most 16 hashes).
    """
    self._forward()

# ---- scores -------------------------------------------------------------------------------
@external
def commit_scores(task: uint256, c: bytes32):
    """
    @notice Commit to this round's scores in the SCORE_COMMIT phase.
    @dev c = score_commitment(task, round, msg.sender, scores, salt); re-commit overwrites.
         Emits `ScoresCommitted`.
    @param task The task id.
    @param c The commitment.
    """
    self._not_paused()
    self._forward()

@external
def reveal_scores(task: uint256, scores: DynArray[uint64, MAX_SUBMISSIONS], salt: bytes32):
    """
    @notice Reveal the committed scores in the SCORE_REVEAL phase.
    @dev One score per revealed submission, in slot order; INVALID = 2**64-1.
         Stored packed, 4 per storage slot. Emits `ScoresRevealed`.
    @param task The task id.
    @param scores The scores (lower is better, scale 1e9).
    @param salt The salt used in the commitment.
    """
    self._forward()

# ---- committees ---------------------------------------------------------------------------
@external
def draw(task: uint256, round: uint256):
    """
    @notice Draw the committees of `round` (PROTOCOL.md §5a). Anyone may call, once the
            round's model reveals closed and every earlier round is finalized.
    @dev First call: freezes W (the validators' active stake), the committee size K, the
         submission count and their digest, and commits to the hash of the next block
         (`target_block`). A call after that block fixes the seed; one more than
         SEED_WINDOW blocks after it picks a new target block instead. Emits
         `CommitteeDrawn` (draw, redraw) or `RoundSeeded` (seed fixed).
    @param task The task id.
    @param round The first unfinalized round.
    """
    self._forward()

# ---- finalize -----------------------------------------------------------------------------
@external
def finalize(task: uint256, max_steps: uint256, order: DynArray[uint256, MAX_SUBMISSIONS]) -> bool:
    """
    @notice Advance the finalization of the next unfinalized round by at most `max_steps`
            units of work (PROTOCOL.md §6). Anyone may call.
    @dev Units: OPEN 1, CONSENSUS 1 per submission, RANK 1 per eligible submission (at
         least 1), PAY_NODES 1 per committer, PAY_VALIDATORS 1 per task validator. A RANK
         unit takes the next slot of `order`: the round's eligible submissions sorted by
         (consensus, key), from the RANK cursor on (`round_info().cursor`); the call stops
         when `order` runs out, and reverts "arena: bad order" on a slot out of order or not
         eligible. Emits the round's events.
    @param task The task id.
    @param max_steps Maximum units of work in this call (>= 1).
    @param order The sorted slots for the RANK units of this call ([] outside RANK).
    @return bool True when the round reached STAGE_DONE in this call.
    """
    st._exists(task)
    assert st._state[task].status == STATUS_ACTIVE, "arena: task not active"
    assert max_steps != 0, "arena: zero steps"
    r: uint256 = st._state[task].finalized_rounds
    assert block.timestamp >= st._params[task].start_time + (r + 1) * st._state[task].round_length, "arena: round not over"
    res: Bytes[32] = raw_call(
        engine,
        abi_encode(task, max_steps, order, method_id=method_id("run(uint256,uint256,uint256[])")),
        max_outsize=32,
        is_delegate_call=True,
    )
    return abi_decode(res, bool)


# ---- claims and exits ---------------------------------------------------------------------
@external
def claim(task: uint256, participant: address) -> uint256:
    """
    @notice Claim vested rewards: as the owner if msg.sender == participant, else as
            that participant's delegator.
    @dev A fraction `delta` of everything earned is claimable at once, all of it after
         the task ENDED. O(1). Emits `Claimed`.
    @param task The task id.
    @param participant The node or validator the rewards come from.
    @return uint256 The amount transferred.
    """
    st._exists(task)
    assert st._parts[task][participant].role != 0, "arena: not a participant"
    amount: uint256 = 0
    if msg.sender == participant:
        amount = self._vested(task, st._parts[task][participant].owner_earned) - st._parts[task][participant].owner_claimed
        assert amount != 0, "arena: nothing to claim"
        st._parts[task][participant].owner_claimed += amount
    else:
        st._sync_finalized(task, participant)
        st._settle(task, participant, msg.sender)
        amount = self._vested(task, st._dels[task][participant][msg.sender].earned) - st._dels[task][participant][msg.sender].claimed
        assert amount != 0, "arena: nothing to claim"
        st._dels[task][participant][msg.sender].claimed += amount
    log Claimed(task=task, participant=participant, account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True)
    return amount


@external
def withdraw(task: uint256, participant: address) -> uint256:
    """
    @notice After the task ENDED (or was cancelled), take back own stake (msg.sender ==
            participant) or the delegation to `participant`, minus slashing. A delegator of
            a participant that was slashed may leave before the task ends, between two
            finalizations (PROTOCOL.md §4).
    @dev Settles delegator rewards first (claim them with `claim`). Emits `Withdrawn`.
    @param task The task id.
    @param participant The node or validator the stake belongs to / backs.
    @return uint256 The amount transferred.
    """
    return abi_decode(raw_call(rounds, msg.data, max_outsize=32, is_delegate_call=True), uint256)


# ---- views --------------------------------------------------------------------------------
@external
@view
def task_params(task: uint256) -> st.TaskParams:
    """
    @notice The task's parameters (start_time resolved).
    @param task The task id.
    @return st.TaskParams The parameters.
    """
    st._exists(task)
    return st._params[task]


@external
@view
def task_state(task: uint256) -> st.TaskState:
    """
    @notice The task's mutable state.
    @param task The task id.
    @return st.TaskState creator, status, finalized_rounds, carry, refund, refund_claimed,
            participant_count, validator_count, total_own_stake, round_length, burned,
            emission_carry.
    """
    st._exists(task)
    return st._state[task]


@external
@view
def current_round(task: uint256) -> int256:
    """
    @notice The time-round: index of the round whose window contains now, -1 before start.
    @dev May be >= num_rounds after the last round's window.
    @param task The task id.
    @return int256 The round index.
    """
    st._exists(task)
    start: uint256 = st._params[task].start_time
    if block.timestamp < start:
        return -1
    return convert((block.timestamp - start) // st._state[task].round_length, int256)


@external
@view
def current_phase(task: uint256) -> uint256:
    """
    @notice The clock phase now (PHASE_* constants).
    @param task The task id.
    @return uint256 The phase id.
    """
    st._exists(task)
    phase: uint256 = 0
    r: uint256 = 0
    phase, r = st._clock(task)
    return phase


@external
@view
def round_start(task: uint256, round: uint256) -> uint256:
    """
    @notice Start of `round` (its COMMIT phase).
    @param task The task id.
    @param round The round index.
    @return uint256 The unix time.
    """
    st._exists(task)
    return st._params[task].start_time + round * st._state[task].round_length


@external
@view
def phase_end(task: uint256, round: uint256, phase: uint256) -> uint256:
    """
    @notice End (exclusive) of `phase` (1..5) of `round`; SCORE_REVEAL's end is when the
            round can be finalized.
    @param task The task id.
    @param round The round index.
    @param phase PHASE_COMMIT .. PHASE_SCORE_REVEAL.
    @return uint256 The unix time.
    """
    st._exists(task)
    assert phase >= PHASE_COMMIT and phase <= PHASE_SCORE_REVEAL, "arena: parameter out of range"
    t: uint256 = st._params[task].start_time + round * st._state[task].round_length
    t += st._params[task].commit_duration
    if phase >= PHASE_EVAL:
        t += st._params[task].eval_duration
    if phase >= PHASE_REVEAL:
        t += st._params[task].reveal_duration
    if phase >= PHASE_SCORE_COMMIT:
        t += st._params[task].score_commit_duration
    if phase == PHASE_SCORE_REVEAL:
        t += st._params[task].score_reveal_duration
    return t


@external
@view
def participant(task: uint256, account: address) -> st.ParticipantInfo:
    """
    @notice A participant's stored record (role 0 = not joined).
    @param task The task id.
    @param account The participant.
    @return st.ParticipantInfo role, commission, own/delegated active and pending amounts,
            pending_round, acc, owner_earned, owner_claimed, slashed, validator_index.
    """
    return st._parts[task][account]


@external
@view
def own_stake(task: uint256, account: address, round: uint256) -> uint256:
    """
    @notice Own stake of `account` counting in `round` (exact for unfinalized rounds).
    @param task The task id.
    @param account The participant.
    @param round The round index.
    @return uint256 The amount.
    """
    return st._own(task, account, round)


@external
@view
def delegated_stake(task: uint256, account: address, round: uint256) -> uint256:
    """
    @notice Delegations to `account` counting in `round` (exact for unfinalized rounds).
    @param task The task id.
    @param account The participant.
    @param round The round index.
    @return uint256 The amount.
    """
    return st._eff(task, account, round) - st._own(task, account, round)


@external
@view
def effective_stake(task: uint256, account: address, round: uint256) -> uint256:
    """
    @notice Own plus delegated stake of `account` counting in `round`.
    @param task The task id.
    @param account The participant.
    @param round The round index.
    @return uint256 The amount.
    """
    return st._eff(task, account, round)


@external
@view
def delegation(task: uint256, participant: address, delegator: address) -> st.DelegationInfo:
    """
    @notice A delegation position as stored (not settled; see `claimable`).
    @param task The task id.
    @param participant The backed participant.
    @param delegator The delegator.
    @return st.DelegationInfo active, pending, pending_round, acc_checkpoint, earned, claimed.
    """
    return st._dels[task][participant][delegator]


@external
@view
def claimable(task: uint256, participant: address, account: address) -> uint256:
    """
    @notice What `account` could claim now from `participant` (as owner if equal).
    @param task The task id.
    @param participant The node or validator.
    @param account The owner or a delegator.
    @return uint256 The amount `claim` would transfer.
    """
    if account == participant:
        return self._vested(task, st._parts[task][participant].owner_earned) - st._parts[task][participant].owner_claimed
    earned: uint256 = 0
    amount: uint256 = 0
    earned, amount = self._position_view(task, participant, account)
    return self._vested(task, earned) - st._dels[task][participant][account].claimed


@external
@view
def delegation_value(task: uint256, participant: address, delegator: address) -> uint256:
    """
    @notice What the delegation of `delegator` to `participant` is worth now: its shares at
            the participant's current del_index (lowered by every slash) plus its amount not
            yet active, as if settled.
    @param task The task id.
    @param participant The backed node or validator.
    @param delegator The delegator.
    @return uint256 The amount in tokens.
    """
    earned: uint256 = 0
    amount: uint256 = 0
    earned, amount = self._position_view(task, participant, delegator)
    return amount


@external
@view
def withdrawable(task: uint256, participant: address, account: address) -> uint256:
    """
    @notice What `withdraw` would return to `account` now (0 while it would revert).
    @param task The task id.
    @param participant The node or validator.
    @param account The owner or a delegator.
    @return uint256 The amount.
    """
    status: uint256 = st._state[task].status
    if status != STATUS_ENDED and status != STATUS_CANCELLED:
        if status != STATUS_ACTIVE or account == participant or st._parts[task][participant].slash_round == 0:
            return 0
        if st._rounds[task][st._state[task].finalized_rounds].stage != STAGE_OPEN:
            return 0
    if account == participant:
        return st._parts[task][participant].own_active + st._parts[task][participant].own_pending
    earned: uint256 = 0
    amount: uint256 = 0
    earned, amount = self._position_view(task, participant, account)
    return amount


@external
@view
def validators(task: uint256, start: uint256, count: uint256) -> DynArray[address, MAX_PAGE]:
    """
    @notice A page of the task's validators in index (join) order; there is no cap on
            their number (`task_state().validator_count`).
    @param task The task id.
    @param start The first validator index.
    @param count The page length (at most MAX_PAGE); the page ends early at the last one.
    @return DynArray The addresses.
    """
    assert count <= MAX_PAGE, "arena: page too long"
    out: DynArray[address, MAX_PAGE] = []
    n: uint256 = st._state[task].validator_count
    for j: uint256 in range(start, start + MAX_PAGE, bound=MAX_PAGE):
        if j >= n or len(out) == count:
            break
        out.append(st._validators[task][j])
    return out


@external
@view
def validator_weight(task: uint256) -> uint256:
    """
    @notice W the next `draw` freezes: the validators' own and delegated stake active in the
            first unfinalized round.
    @param task The task id.
    @return uint256 The total stake (0 for an unknown task).
    """
    return st._weight(task, st._state[task].finalized_rounds)


@external
@view
def committee(task: uint256, round: uint256) -> st.CommitteeDraw:
    """
    @notice A round's committee draw: target block, seed (computed from the target block's
            hash while readable if not fixed yet; empty before), W, K, submissions, digest.
    @param task The task id.
    @param round The round index.
    @return st.CommitteeDraw The draw (all zero before `draw`).
    """
    d: st.CommitteeDraw = st._draws[task][round]
    d.seed = st._seed(task, round)
    return d


@internal
@view
def _member(task: uint256, round: uint256, validator: address) -> (bytes32, uint256, uint256, uint256, uint256):
    seed: bytes32 = st._seed(task, round)
    assert seed != empty(bytes32), "arena: no seed"
    eff: uint256 = 0
    if st._parts[task][validator].role == VALIDATOR:
        eff = st._eff(task, validator, round)
    return (
        seed,
        st._parts[task][validator].validator_index,
        eff,
        st._draws[task][round].weight,
        st._draws[task][round].committee_size,
    )


@external
@view
def is_assigned(task: uint256, round: uint256, k: uint256, validator: address) -> bool:
    """
    @notice Whether `validator` sits on the committee of submission slot `k` (DESIGN §3.4):
            keccak256(seed, k, j) < 2**256 * min(1, K * eff_j / W), in O(1).
    @dev Reverts "arena: no seed" until the seed is readable (PROTOCOL.md §5a).
    @param task The task id.
    @param round The round index.
    @param k The submission slot (< the draw's submissions).
    @param validator The validator.
    @return bool True when assigned.
    """
    seed: bytes32 = empty(bytes32)
    j: uint256 = 0
    eff: uint256 = 0
    w: uint256 = 0
    size: uint256 = 0
    seed, j, eff, w, size = self._member(task, round, validator)
    assert k < st._draws[task][round].submissions, "arena: no such slot"
    return sortition._is_assigned(seed, k, j, eff, w, size)


@external
@view
def assignments(
    task: uint256, round: uint256, validator: address, start: uint256, count: uint256
) -> DynArray[uint256, MAX_SUBMISSIONS]:
    """
    @notice The slots in [start, start + count) whose committee `validator` sits on, in
            slot order (page through a large round).
    @dev Reverts "arena: no seed" until the seed is readable.
    @param task The task id.
    @param round The round index.
    @param validator The validator.
    @param start The first slot of the page.
    @param count The page length (at most MAX_SUBMISSIONS).
    @return DynArray The assigned slots.
    """
    seed: bytes32 = empty(bytes32)
    j: uint256 = 0
    eff: uint256 = 0
    w: uint256 = 0
    size: uint256 = 0
    seed, j, eff, w, size = self._member(task, round, validator)
    assert count <= MAX_SUBMISSIONS, "arena: page too long"
    n: uint256 = st._draws[task][round].submissions
    out: DynArray[uint256, MAX_SUBMISSIONS] = []
    for i: uint256 in range(MAX_SUBMISSIONS):
        if i >= count or start + i >= n:
            break
        if sortition._is_assigned(seed, start + i, j, eff, w, size):
            out.append(start + i)
    return out


@external
@view
def votes(task: uint256, round: uint256, k: uint256) -> DynArray[Vote, MAX_VOTES]:
    """
    @notice The committee votes recorded for submission slot `k` in reveal order: each
            voter, its score, and its vote weight max(eff, W // K) once its reveal
            completed (0 and `counted` False while it is partial: CONSENSUS leaves it out).
    @param task The task id.
    @param round The round index.
    @param k The submission slot.
    @return DynArray The votes (at most MAX_VOTES).
    """
    out: DynArray[Vote, MAX_VOTES] = []
    count: uint256 = st._vote_count[task][round][k]
    w: uint256 = st._draws[task][round].weight
    size: uint256 = st._draws[task][round].committee_size
    for i: uint256 in range(MAX_VOTES):
        if i >= count:
            break
        v: uint256 = st._votes[task][round][k][i]
        j: uint256 = v >> 64
        done: bool = st._vrounds[task][round][j].revealed
        weight: uint256 = 0
        if done:
            weight = sortition._vote_weight(st._vrounds[task][round][j].stake, w, size)
        out.append(
            Vote(validator=st._validators[task][j], score=convert(v & _MASK64, uint64), weight=weight, counted=done)
        )
    return out


@external
@view
def round_info(task: uint256, round: uint256) -> st.RoundInfo:
    """
    @notice A round's record: eval reveal, counts, finalize stage and totals.
    @param task The task id.
    @param round The round index.
    @return st.RoundInfo See PROTOCOL.md §9.
    """
    return st._rounds[task][round]


@external
@view
def submission(task: uint256, round: uint256, k: uint256) -> st.SubmissionInfo:
    """
    @notice Submission in slot `k` of `round`, with its consensus, stake, weight g and
            reward once finalized.
    @param task The task id.
    @param round The round index.
    @param k The slot (< num_submissions).
    @return st.SubmissionInfo node, model_sha256, uri, commit_seq, consensus, stake, weight, reward.
    """
    return st._subs[task][round][k]


@external
@view
def model_commit(task: uint256, round: uint256, node: address) -> st.ModelCommit:
    """
    @notice A node's model commit in `round`.
    @param task The task id.
    @param round The round index.
    @param node The node.
    @return st.ModelCommit commitment, seq, committed, revealed, slot.
    """
    return st._mcommits[task][round][node]


@external
@view
def validator_round(task: uint256, round: uint256, validator: address) -> st.ValidatorRound:
    """
    @notice A validator's record in `round`: commitment, stake w, D, F, reward, slash,
            its CONSENSUS tally and how far its paged reveal got.
    @param task The task id.
    @param round The round index.
    @param validator The validator.
    @return st.ValidatorRound The record (empty if not a validator).
    """
    if st._parts[task][validator].role != VALIDATOR:
        return empty(st.ValidatorRound)
    j: uint256 = st._parts[task][validator].validator_index
    out: st.ValidatorRound = st._vrounds[task][round][j]
    out.deviation_sum, out.scored, out.covered, out.assigned_available = st._unpack_tally(st._tally[task][round][j])
    return out


@external
@view
def validator_scores(task: uint256, round: uint256, validator: address) -> DynArray[uint64, MAX_SUBMISSIONS]:
    """
    @notice The scores `validator` revealed so far in `round` (empty if none): one per
            slot it was assigned, in slot order (`assignments` lists those slots).
    @param task The task id.
    @param round The round index.
    @param validator The validator.
    @return DynArray The scores in slot order.
    """
    out: DynArray[uint64, MAX_SUBMISSIONS] = []
    if st._parts[task][validator].role != VALIDATOR:
        return out
    j: uint256 = st._parts[task][validator].validator_index
    n: uint256 = st._vrounds[task][round][j].assignments
    for i: uint256 in range(MAX_SUBMISSIONS):
        if i >= n:
            break
        out.append(convert((st._scores[task][round][j][i // 4] >> (64 * (i % 4))) & _MASK64, uint64))
    return out


@external
@view
def committer(task: uint256, round: uint256, i: uint256) -> address:
    """
    @notice The `i`-th node to commit a model in `round` (first-commit order, each node
            once; i < round_info(task, round).committer_count).
    @param task The task id.
    @param round The round index.
    @param i The index.
    @return address The node (zero if none).
    """
    return st._committers[task][round][i]


@external
@view
def model_owner(task: uint256, model_sha256: bytes32) -> address:
    """
    @notice The node that owns a revealed model hash in this task (zero if none).
    @param task The task id.
    @param model_sha256 The model hash.
    @return address The node.
    """
    return st._owners[task][model_sha256].node


# ---- internal: checks and clock -----------------------------------------------------------
@internal
@view
def _not_paused():
    assert not pausable.paused, "arena: paused"





@internal
@view
def _vested(task: uint256, earned: uint256) -> uint256:
    if st._state[task].status == STATUS_ENDED:
        return earned
    return earned * st._params[task].delta // WAD


@internal
def _forward():
    """
    @dev Run the called function of `ArenaRounds` on this contract's storage (the same
         selector and calldata; it reverts with the same message).
    """
    raw_call(rounds, msg.data, is_delegate_call=True)


# ---- internal: stake buckets and accumulators --------------------------------------------
@internal
@view
def _position_view(task: uint256, p: address, d: address) -> (uint256, uint256):
    """
    @dev (earned, amount) of position (p, d) as if settled now, including a merge of
         p's pending bucket up to the last finalized round.
    """
    acc: uint256 = st._parts[task][p].acc
    index: uint256 = st._parts[task][p].del_index
    shares: uint256 = st._dels[task][p][d].shares
    pending: uint256 = st._dels[task][p][d].pending
    ckpt: uint256 = st._dels[task][p][d].acc_checkpoint
    earned: uint256 = st._dels[task][p][d].earned
    if pending != 0:
        pr: uint256 = st._dels[task][p][d].pending_round
        snap_acc: uint256 = 0
        snap_index: uint256 = 0
        merged: bool = False
        if st._parts[task][p].pending_round != pr or st._parts[task][p].del_pending == 0:
            merged = True
            snap_acc = st._acc_snap[task][p][pr]
            snap_index = st._index_snap[task][p][pr]
        else:
            f: uint256 = st._state[task].finalized_rounds
            if f != 0 and pr <= f - 1:
                merged = True
                snap_acc = acc
                snap_index = index
        if merged:
            new: uint256 = pending * ACC // snap_index
            gain: uint256 = (shares * (acc - ckpt) + new * (acc - snap_acc)) // ACC
            return earned + gain, (shares + new) * index // ACC
    return earned + shares * (acc - ckpt) // ACC, shares * index // ACC + pending
