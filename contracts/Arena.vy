# pragma version ~=0.4.3
# pragma nonreentrancy on
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
from snekmate.utils import merkle_proof_verification as merkle
from . import score_math

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
)


interface IEmission:
    def notify_stake(task: uint256, stake: uint256): nonpayable
    def pull(task: uint256) -> uint256: nonpayable


# ---- constants ----------------------------------------------------------------------------
NODE: public(constant(uint256)) = 1
VALIDATOR: public(constant(uint256)) = 2

MAX_SUBMISSIONS: public(constant(uint256)) = 128
MAX_VALIDATORS: public(constant(uint256)) = 32
MAX_ROUNDS: public(constant(uint256)) = 64
MAX_PROOF_LENGTH: public(constant(uint256)) = 16
MAX_URI_LENGTH: public(constant(uint256)) = 256
SCORE_SCALE: public(constant(uint256)) = 10**9
INVALID: public(constant(uint64)) = max_value(uint64)
SCORE_FLOOR: public(constant(uint256)) = score_math.SCORE_FLOOR
WAD: public(constant(uint256)) = 10**18
ACC: public(constant(uint256)) = 10**36
MIN_PHASE_DURATION: public(constant(uint256)) = 1
MAX_PHASE_DURATION: public(constant(uint256)) = 30 * 86400
MAX_START_DELAY: public(constant(uint256)) = 365 * 86400
MAX_TOLERANCE: public(constant(uint256)) = 1000 * 10**18
MAX_FINALIZE_STEPS: public(constant(uint256)) = 320
_SCORE_SLOTS: constant(uint256) = 32  # MAX_SUBMISSIONS // 4 packed uint64 per slot
_MASK64: constant(uint256) = 2**64 - 1

PHASE_NOT_STARTED: public(constant(uint256)) = 0
PHASE_COMMIT: public(constant(uint256)) = 1
PHASE_REVEAL: public(constant(uint256)) = 2
PHASE_SCORE_COMMIT: public(constant(uint256)) = 3
PHASE_SCORE_REVEAL: public(constant(uint256)) = 4
PHASE_ENDED: public(constant(uint256)) = 5

STATUS_ACTIVE: public(constant(uint256)) = 1
STATUS_CANCELLED: public(constant(uint256)) = 2
STATUS_ENDED: public(constant(uint256)) = 3

STAGE_OPEN: public(constant(uint256)) = 0
STAGE_CONSENSUS: public(constant(uint256)) = 1
STAGE_RANK: public(constant(uint256)) = 2
STAGE_PAY_NODES: public(constant(uint256)) = 3
STAGE_PAY_VALIDATORS: public(constant(uint256)) = 4
STAGE_DONE: public(constant(uint256)) = 5

VOID_NONE: public(constant(uint256)) = 0
VOID_NO_EVAL: public(constant(uint256)) = 1
VOID_NO_SUBMISSIONS: public(constant(uint256)) = 2
VOID_NO_QUORUM: public(constant(uint256)) = 3

SLASH_MISS: public(constant(uint256)) = 1
SLASH_DEVIATION: public(constant(uint256)) = 2


# ---- structs ------------------------------------------------------------------------------
struct TaskParams:
    bounty: uint256
    spec_hash: bytes32
    spec_uri: String[256]
    eval_root: bytes32
    num_rounds: uint256
    start_time: uint256
    commit_duration: uint256
    reveal_duration: uint256
    score_commit_duration: uint256
    score_reveal_duration: uint256
    min_node_stake: uint256
    min_validator_stake: uint256
    gamma: uint256
    delta: uint256
    rank_ratio: uint256
    tolerance: uint256
    slash_tau: uint256
    slash_miss: uint256
    slash_dev: uint256
    min_quorum: uint256
    baseline_score: uint64


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


struct ParticipantInfo:
    role: uint256
    commission: uint256
    own_active: uint256
    own_pending: uint256
    del_active: uint256
    del_pending: uint256
    pending_round: uint256
    acc: uint256
    owner_earned: uint256
    owner_claimed: uint256
    slashed: uint256
    validator_index: uint256


struct DelegationInfo:
    active: uint256
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
    validator_commits: uint256
    validator_reveals: uint256
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


struct SubmissionInfo:
    node: address
    model_sha256: bytes32
    uri: String[256]
    commit_seq: uint256
    consensus: uint64
    stake: uint256
    weight: uint256
    reward: uint256


struct ModelCommit:
    commitment: bytes32
    seq: uint256
    committed: bool
    revealed: bool
    slot: uint256


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


struct ModelOwner:
    node: address
    round: uint256
    seq: uint256
    slot: uint256


# ---- immutables and storage ---------------------------------------------------------------
token: public(immutable(IERC20))
emission: public(immutable(address))

task_count: public(uint256)

_params: HashMap[uint256, TaskParams]
_state: HashMap[uint256, TaskState]
_parts: HashMap[uint256, HashMap[address, ParticipantInfo]]
_dels: HashMap[uint256, HashMap[address, HashMap[address, DelegationInfo]]]
# task -> participant -> pending_round -> participant accumulator when that bucket merged
_acc_snap: HashMap[uint256, HashMap[address, HashMap[uint256, uint256]]]
_validators: HashMap[uint256, address[MAX_VALIDATORS]]
_rounds: HashMap[uint256, HashMap[uint256, RoundInfo]]
_subs: HashMap[uint256, HashMap[uint256, HashMap[uint256, SubmissionInfo]]]
_mcommits: HashMap[uint256, HashMap[uint256, HashMap[address, ModelCommit]]]
# task -> round -> validator index -> record
_vrounds: HashMap[uint256, HashMap[uint256, HashMap[uint256, ValidatorRound]]]
# task -> round -> validator index -> slot -> 4 packed uint64 scores
_scores: HashMap[uint256, HashMap[uint256, HashMap[uint256, HashMap[uint256, uint256]]]]
_owners: HashMap[uint256, HashMap[bytes32, ModelOwner]]


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
    scores: DynArray[uint64, MAX_SUBMISSIONS]

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
    validator: indexed(address)
    amount: uint256
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


# ---- constructor --------------------------------------------------------------------------
@deploy
def __init__(token_: address, emission_: address):
    """
    @notice Deploy the arena; the deployer becomes the owner (pause only).
    @param token_ The ArenaToken (bounties, stake, rewards).
    @param emission_ The Emission contract, or the zero address for no emission.
    """
    assert token_ != empty(address), "arena: parameter out of range"
    token = IERC20(token_)
    emission = emission_
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
    @param task The task id.
    @param round The round index.
    @param validator The committing validator.
    @param scores One score per revealed submission, in slot order.
    @param salt A secret random salt.
    @return bytes32 keccak256(abi_encode(task, round, validator, scores, salt)).
    """
    return keccak256(abi_encode(task, round, validator, scores, salt))


# ---- task lifecycle -----------------------------------------------------------------------
@external
def create_task(params: TaskParams) -> uint256:
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
    for d: uint256 in [params.commit_duration, params.reveal_duration, params.score_commit_duration, params.score_reveal_duration]:
        assert d >= MIN_PHASE_DURATION and d <= MAX_PHASE_DURATION, "arena: parameter out of range"
    assert params.min_node_stake != 0 and params.min_validator_stake != 0, "arena: parameter out of range"
    assert params.gamma <= WAD // 2, "arena: parameter out of range"
    assert params.delta <= WAD and params.rank_ratio <= WAD, "arena: parameter out of range"
    assert params.tolerance != 0 and params.tolerance <= MAX_TOLERANCE, "arena: parameter out of range"
    assert params.slash_tau <= MAX_TOLERANCE, "arena: parameter out of range"
    assert params.slash_miss <= WAD and params.slash_dev <= WAD, "arena: parameter out of range"
    assert params.min_quorum >= 1 and params.min_quorum <= MAX_VALIDATORS, "arena: parameter out of range"

    task: uint256 = self.task_count + 1
    self.task_count = task
    self._params[task] = params
    self._params[task].start_time = start
    self._state[task].creator = msg.sender
    self._state[task].status = STATUS_ACTIVE
    self._state[task].round_length = (
        params.commit_duration + params.reveal_duration + params.score_commit_duration + params.score_reveal_duration
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
    self._exists(task)
    assert msg.sender == self._state[task].creator, "arena: not creator"
    assert self._state[task].status == STATUS_ACTIVE, "arena: task not active"
    assert self._state[task].participant_count == 0, "arena: has participants"
    assert self._state[task].finalized_rounds == 0, "arena: rounds finalized"
    self._state[task].status = STATUS_CANCELLED
    refund: uint256 = self._params[task].bounty
    log TaskCancelled(task=task, creator=msg.sender, refund=refund)
    assert extcall token.transfer(msg.sender, refund, default_return_value=True)


@external
def claim_refund(task: uint256) -> uint256:
    """
    @notice Creator takes what is left after the last round (rolled-over pots, slashes, dust).
    @dev Creator only, once, after the task ENDED. Emits `RefundClaimed`.
    @param task The task id.
    @return uint256 The amount transferred.
    """
    self._exists(task)
    assert msg.sender == self._state[task].creator, "arena: not creator"
    assert self._state[task].status == STATUS_ENDED, "arena: task not ended"
    assert not self._state[task].refund_claimed, "arena: refund already claimed"
    amount: uint256 = self._state[task].refund
    self._state[task].refund_claimed = True
    log RefundClaimed(task=task, creator=msg.sender, amount=amount)
    if amount != 0:
        assert extcall token.transfer(msg.sender, amount, default_return_value=True)
    return amount


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
    self._exists(task)
    assert amount != 0, "arena: zero amount"
    assert role == NODE or role == VALIDATOR, "arena: bad role"
    a: uint256 = self._activation(task)
    current: uint256 = self._parts[task][msg.sender].role
    if current == 0:
        assert msg.sender != self._state[task].creator, "arena: creator cannot join"
        if role == NODE:
            assert amount >= self._params[task].min_node_stake, "arena: below minimum stake"
        else:
            assert amount >= self._params[task].min_validator_stake, "arena: below minimum stake"
        assert commission <= WAD, "arena: commission out of range"
        if role == VALIDATOR:
            n: uint256 = self._state[task].validator_count
            assert n < MAX_VALIDATORS, "arena: too many validators"
            self._validators[task][n] = msg.sender
            self._parts[task][msg.sender].validator_index = n
            self._state[task].validator_count = n + 1
        self._parts[task][msg.sender].role = role
        self._parts[task][msg.sender].commission = commission
        self._state[task].participant_count += 1
        log Joined(task=task, participant=msg.sender, role=role, commission=commission)
    else:
        assert current == role, "arena: role mismatch"
        assert commission == self._parts[task][msg.sender].commission, "arena: commission is fixed"
    if a != 0:
        self._sync(task, msg.sender, a - 1)
    self._parts[task][msg.sender].own_pending += amount
    self._parts[task][msg.sender].pending_round = a
    total: uint256 = self._state[task].total_own_stake + amount
    self._state[task].total_own_stake = total
    log Staked(
        task=task,
        participant=msg.sender,
        amount=amount,
        activation_round=a,
        own_total=self._parts[task][msg.sender].own_active + self._parts[task][msg.sender].own_pending,
    )
    assert extcall token.transferFrom(msg.sender, self, amount, default_return_value=True)
    self._notify(task, total)


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
    self._exists(task)
    assert amount != 0, "arena: zero amount"
    assert self._parts[task][participant].role != 0, "arena: not a participant"
    assert participant != msg.sender, "arena: cannot delegate to self"
    a: uint256 = self._activation(task)
    if a != 0:
        self._sync(task, participant, a - 1)
    self._settle(task, participant, msg.sender)
    self._dels[task][participant][msg.sender].pending += amount
    self._dels[task][participant][msg.sender].pending_round = a
    self._parts[task][participant].del_pending += amount
    self._parts[task][participant].pending_round = a
    log Delegated(task=task, participant=participant, delegator=msg.sender, amount=amount, activation_round=a)
    assert extcall token.transferFrom(msg.sender, self, amount, default_return_value=True)


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
    self._exists(task)
    r: uint256 = self._in_phase(task, PHASE_COMMIT)
    assert self._parts[task][msg.sender].role == NODE, "arena: not a node"
    assert c != empty(bytes32), "arena: empty commitment"
    assert self._own(task, msg.sender, r) != 0, "arena: stake not active"
    seq: uint256 = self._rounds[task][r].commit_count
    self._rounds[task][r].commit_count = seq + 1
    self._mcommits[task][r][msg.sender].commitment = c
    self._mcommits[task][r][msg.sender].seq = seq
    self._mcommits[task][r][msg.sender].committed = True
    log ModelCommitted(task=task, round=r, node=msg.sender, commitment=c, seq=seq)


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
    self._exists(task)
    r: uint256 = self._in_phase(task, PHASE_REVEAL)
    mc: ModelCommit = self._mcommits[task][r][msg.sender]
    assert mc.committed, "arena: no commitment"
    assert not mc.revealed, "arena: already revealed"
    assert keccak256(abi_encode(model_sha256, msg.sender, task, r)) == mc.commitment, "arena: bad reveal"
    owner: ModelOwner = self._owners[task][model_sha256]
    slot: uint256 = 0
    if owner.node != empty(address) and owner.node != msg.sender:
        assert owner.round == r and owner.seq > mc.seq, "arena: duplicate model"
        # The caller committed earlier in this round: take over the slot in place.
        slot = owner.slot
        self._subs[task][r][slot].node = msg.sender
        self._subs[task][r][slot].uri = uri
        self._subs[task][r][slot].commit_seq = mc.seq
        self._mcommits[task][r][owner.node].revealed = False
        self._owners[task][model_sha256] = ModelOwner(node=msg.sender, round=r, seq=mc.seq, slot=slot)
        log SubmissionReplaced(task=task, round=r, slot=slot, displaced=owner.node, node=msg.sender)
    else:
        slot = self._rounds[task][r].num_submissions
        assert slot < MAX_SUBMISSIONS, "arena: round full"
        self._rounds[task][r].num_submissions = slot + 1
        self._subs[task][r][slot] = SubmissionInfo(
            node=msg.sender,
            model_sha256=model_sha256,
            uri=uri,
            commit_seq=mc.seq,
            consensus=0,
            stake=0,
            weight=0,
            reward=0,
        )
        if owner.node == empty(address):
            self._owners[task][model_sha256] = ModelOwner(node=msg.sender, round=r, seq=mc.seq, slot=slot)
    self._mcommits[task][r][msg.sender].revealed = True
    self._mcommits[task][r][msg.sender].slot = slot
    log ModelRevealed(task=task, round=r, node=msg.sender, slot=slot, model_sha256=model_sha256, uri=uri)


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
    self._exists(task)
    assert msg.sender == self._state[task].creator, "arena: not creator"
    r: uint256 = self._in_phase(task, PHASE_REVEAL)
    assert round == r, "arena: wrong round"
    assert not self._rounds[task][r].eval_revealed, "arena: eval already revealed"
    leaf: bytes32 = keccak256(abi_encode(round, shard_sha256))
    assert merkle._verify(proof, self._params[task].eval_root, leaf), "arena: bad proof"
    self._rounds[task][r].eval_revealed = True
    self._rounds[task][r].shard_sha256 = shard_sha256
    self._rounds[task][r].shard_uri = shard_uri
    log EvalRevealed(task=task, round=r, shard_sha256=shard_sha256, shard_uri=shard_uri)


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
    self._exists(task)
    r: uint256 = self._in_phase(task, PHASE_SCORE_COMMIT)
    assert self._parts[task][msg.sender].role == VALIDATOR, "arena: not a validator"
    assert c != empty(bytes32), "arena: empty commitment"
    assert self._own(task, msg.sender, r) != 0, "arena: stake not active"
    j: uint256 = self._parts[task][msg.sender].validator_index
    self._vrounds[task][r][j].commitment = c
    self._vrounds[task][r][j].committed = True
    self._rounds[task][r].validator_commits |= 1 << j
    log ScoresCommitted(task=task, round=r, validator=msg.sender, commitment=c)


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
    self._exists(task)
    r: uint256 = self._in_phase(task, PHASE_SCORE_REVEAL)
    assert self._parts[task][msg.sender].role == VALIDATOR, "arena: not a validator"
    j: uint256 = self._parts[task][msg.sender].validator_index
    assert self._vrounds[task][r][j].committed, "arena: no commitment"
    assert not self._vrounds[task][r][j].revealed, "arena: already revealed"
    n: uint256 = len(scores)
    assert n == self._rounds[task][r].num_submissions, "arena: wrong number of scores"
    assert keccak256(abi_encode(task, r, msg.sender, scores, salt)) == self._vrounds[task][r][j].commitment, "arena: bad reveal"
    for s: uint256 in range(_SCORE_SLOTS):
        if s * 4 >= n:
            break
        word: uint256 = 0
        for i: uint256 in range(4):
            k: uint256 = s * 4 + i
            if k >= n:
                break
            word |= convert(scores[k], uint256) << (64 * i)
        self._scores[task][r][j][s] = word
    self._vrounds[task][r][j].revealed = True
    self._rounds[task][r].validator_reveals |= 1 << j
    log ScoresRevealed(task=task, round=r, validator=msg.sender, scores=scores)


# ---- finalize -----------------------------------------------------------------------------
@external
def finalize(task: uint256, max_steps: uint256) -> bool:
    """
    @notice Advance the finalization of the next unfinalized round by at most `max_steps`
            units of work (PROTOCOL.md §6). Anyone may call.
    @dev Units: OPEN 1, CONSENSUS 1 per submission, RANK 1, PAY_NODES 1 per submission,
         PAY_VALIDATORS 1 per task validator. Emits the round's events.
    @param task The task id.
    @param max_steps Maximum units of work in this call (>= 1).
    @return bool True when the round reached STAGE_DONE in this call.
    """
    self._exists(task)
    assert self._state[task].status == STATUS_ACTIVE, "arena: task not active"
    assert max_steps != 0, "arena: zero steps"
    r: uint256 = self._state[task].finalized_rounds
    assert block.timestamp >= self._params[task].start_time + (r + 1) * self._state[task].round_length, "arena: round not over"
    steps: uint256 = 0
    for _: uint256 in range(MAX_FINALIZE_STEPS):
        if steps >= max_steps:
            break
        stage: uint256 = self._rounds[task][r].stage
        if stage == STAGE_OPEN:
            self._open(task, r)
        elif stage == STAGE_CONSENSUS:
            self._consensus(task, r)
        elif stage == STAGE_RANK:
            self._rank(task, r)
        elif stage == STAGE_PAY_NODES:
            self._pay_node(task, r)
        else:
            self._pay_validator(task, r)
        steps += 1
        if self._rounds[task][r].stage == STAGE_DONE:
            return True
    return False


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
    self._exists(task)
    assert self._parts[task][participant].role != 0, "arena: not a participant"
    amount: uint256 = 0
    if msg.sender == participant:
        amount = self._vested(task, self._parts[task][participant].owner_earned) - self._parts[task][participant].owner_claimed
        assert amount != 0, "arena: nothing to claim"
        self._parts[task][participant].owner_claimed += amount
    else:
        self._sync_finalized(task, participant)
        self._settle(task, participant, msg.sender)
        amount = self._vested(task, self._dels[task][participant][msg.sender].earned) - self._dels[task][participant][msg.sender].claimed
        assert amount != 0, "arena: nothing to claim"
        self._dels[task][participant][msg.sender].claimed += amount
    log Claimed(task=task, participant=participant, account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True)
    return amount


@external
def withdraw(task: uint256, participant: address) -> uint256:
    """
    @notice After the task ENDED (or was cancelled), take back own stake (msg.sender ==
            participant) or the delegation to `participant`, minus slashing.
    @dev Settles delegator rewards first (claim them with `claim`). Emits `Withdrawn`.
    @param task The task id.
    @param participant The node or validator the stake belongs to / backs.
    @return uint256 The amount transferred.
    """
    self._exists(task)
    status: uint256 = self._state[task].status
    assert status == STATUS_ENDED or status == STATUS_CANCELLED, "arena: task not ended"
    assert self._parts[task][participant].role != 0, "arena: not a participant"
    amount: uint256 = 0
    if msg.sender == participant:
        amount = self._parts[task][participant].own_active + self._parts[task][participant].own_pending
        self._parts[task][participant].own_active = 0
        self._parts[task][participant].own_pending = 0
    else:
        self._sync_finalized(task, participant)
        self._settle(task, participant, msg.sender)
        amount = self._dels[task][participant][msg.sender].active + self._dels[task][participant][msg.sender].pending
        self._dels[task][participant][msg.sender].active = 0
        self._dels[task][participant][msg.sender].pending = 0
    assert amount != 0, "arena: nothing to withdraw"
    log Withdrawn(task=task, participant=participant, account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True)
    return amount


# ---- views --------------------------------------------------------------------------------
@external
@view
def task_params(task: uint256) -> TaskParams:
    """
    @notice The task's parameters (start_time resolved).
    @param task The task id.
    @return TaskParams The parameters.
    """
    self._exists(task)
    return self._params[task]


@external
@view
def task_state(task: uint256) -> TaskState:
    """
    @notice The task's mutable state.
    @param task The task id.
    @return TaskState creator, status, finalized_rounds, carry, refund, refund_claimed,
            participant_count, validator_count, total_own_stake, round_length.
    """
    self._exists(task)
    return self._state[task]


@external
@view
def current_round(task: uint256) -> int256:
    """
    @notice The time-round: index of the round whose window contains now, -1 before start.
    @dev May be >= num_rounds after the last round's window.
    @param task The task id.
    @return int256 The round index.
    """
    self._exists(task)
    start: uint256 = self._params[task].start_time
    if block.timestamp < start:
        return -1
    return convert((block.timestamp - start) // self._state[task].round_length, int256)


@external
@view
def current_phase(task: uint256) -> uint256:
    """
    @notice The clock phase now (PHASE_* constants).
    @param task The task id.
    @return uint256 The phase id.
    """
    self._exists(task)
    phase: uint256 = 0
    r: uint256 = 0
    phase, r = self._clock(task)
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
    self._exists(task)
    return self._params[task].start_time + round * self._state[task].round_length


@external
@view
def phase_end(task: uint256, round: uint256, phase: uint256) -> uint256:
    """
    @notice End (exclusive) of `phase` (1..4) of `round`; SCORE_REVEAL's end is when the
            round can be finalized.
    @param task The task id.
    @param round The round index.
    @param phase PHASE_COMMIT .. PHASE_SCORE_REVEAL.
    @return uint256 The unix time.
    """
    self._exists(task)
    assert phase >= PHASE_COMMIT and phase <= PHASE_SCORE_REVEAL, "arena: parameter out of range"
    t: uint256 = self._params[task].start_time + round * self._state[task].round_length
    t += self._params[task].commit_duration
    if phase >= PHASE_REVEAL:
        t += self._params[task].reveal_duration
    if phase >= PHASE_SCORE_COMMIT:
        t += self._params[task].score_commit_duration
    if phase == PHASE_SCORE_REVEAL:
        t += self._params[task].score_reveal_duration
    return t


@external
@view
def participant(task: uint256, account: address) -> ParticipantInfo:
    """
    @notice A participant's stored record (role 0 = not joined).
    @param task The task id.
    @param account The participant.
    @return ParticipantInfo role, commission, own/delegated active and pending amounts,
            pending_round, acc, owner_earned, owner_claimed, slashed, validator_index.
    """
    return self._parts[task][account]


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
    return self._own(task, account, round)


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
    return self._eff(task, account, round) - self._own(task, account, round)


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
    return self._eff(task, account, round)


@external
@view
def delegation(task: uint256, participant: address, delegator: address) -> DelegationInfo:
    """
    @notice A delegation position as stored (not settled; see `claimable`).
    @param task The task id.
    @param participant The backed participant.
    @param delegator The delegator.
    @return DelegationInfo active, pending, pending_round, acc_checkpoint, earned, claimed.
    """
    return self._dels[task][participant][delegator]


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
        return self._vested(task, self._parts[task][participant].owner_earned) - self._parts[task][participant].owner_claimed
    earned: uint256 = 0
    amount: uint256 = 0
    earned, amount = self._position_view(task, participant, account)
    return self._vested(task, earned) - self._dels[task][participant][account].claimed


@external
@view
def withdrawable(task: uint256, participant: address, account: address) -> uint256:
    """
    @notice What `withdraw` would return to `account` (0 before the task ended).
    @param task The task id.
    @param participant The node or validator.
    @param account The owner or a delegator.
    @return uint256 The amount.
    """
    status: uint256 = self._state[task].status
    if status != STATUS_ENDED and status != STATUS_CANCELLED:
        return 0
    if account == participant:
        return self._parts[task][participant].own_active + self._parts[task][participant].own_pending
    earned: uint256 = 0
    amount: uint256 = 0
    earned, amount = self._position_view(task, participant, account)
    return amount


@external
@view
def validators(task: uint256) -> DynArray[address, MAX_VALIDATORS]:
    """
    @notice The task's validators in index order.
    @param task The task id.
    @return DynArray The addresses.
    """
    out: DynArray[address, MAX_VALIDATORS] = []
    n: uint256 = self._state[task].validator_count
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= n:
            break
        out.append(self._validators[task][j])
    return out


@external
@view
def round_info(task: uint256, round: uint256) -> RoundInfo:
    """
    @notice A round's record: eval reveal, counts, finalize stage and totals.
    @param task The task id.
    @param round The round index.
    @return RoundInfo See PROTOCOL.md §9.
    """
    return self._rounds[task][round]


@external
@view
def submission(task: uint256, round: uint256, k: uint256) -> SubmissionInfo:
    """
    @notice Submission in slot `k` of `round`, with its consensus, stake, weight g and
            reward once finalized.
    @param task The task id.
    @param round The round index.
    @param k The slot (< num_submissions).
    @return SubmissionInfo node, model_sha256, uri, commit_seq, consensus, stake, weight, reward.
    """
    return self._subs[task][round][k]


@external
@view
def model_commit(task: uint256, round: uint256, node: address) -> ModelCommit:
    """
    @notice A node's model commit in `round`.
    @param task The task id.
    @param round The round index.
    @param node The node.
    @return ModelCommit commitment, seq, committed, revealed, slot.
    """
    return self._mcommits[task][round][node]


@external
@view
def validator_round(task: uint256, round: uint256, validator: address) -> ValidatorRound:
    """
    @notice A validator's record in `round`: commitment, stake w, D, F, reward, slash.
    @param task The task id.
    @param round The round index.
    @param validator The validator.
    @return ValidatorRound The record (empty if not a validator).
    """
    if self._parts[task][validator].role != VALIDATOR:
        return empty(ValidatorRound)
    return self._vrounds[task][round][self._parts[task][validator].validator_index]


@external
@view
def validator_scores(task: uint256, round: uint256, validator: address) -> DynArray[uint64, MAX_SUBMISSIONS]:
    """
    @notice The scores `validator` revealed in `round` (empty if none).
    @param task The task id.
    @param round The round index.
    @param validator The validator.
    @return DynArray The scores in slot order.
    """
    out: DynArray[uint64, MAX_SUBMISSIONS] = []
    if self._parts[task][validator].role != VALIDATOR:
        return out
    j: uint256 = self._parts[task][validator].validator_index
    if not self._vrounds[task][round][j].revealed:
        return out
    n: uint256 = self._rounds[task][round].num_submissions
    for k: uint256 in range(MAX_SUBMISSIONS):
        if k >= n:
            break
        out.append(self._score(task, round, j, k))
    return out


@external
@view
def model_owner(task: uint256, model_sha256: bytes32) -> address:
    """
    @notice The node that owns a revealed model hash in this task (zero if none).
    @param task The task id.
    @param model_sha256 The model hash.
    @return address The node.
    """
    return self._owners[task][model_sha256].node


# ---- internal: checks and clock -----------------------------------------------------------
@internal
@view
def _not_paused():
    assert not pausable.paused, "arena: paused"


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
@view
def _own(task: uint256, p: address, r: uint256) -> uint256:
    own: uint256 = self._parts[task][p].own_active
    if self._parts[task][p].pending_round <= r:
        own += self._parts[task][p].own_pending
    return own


@internal
@view
def _eff(task: uint256, p: address, r: uint256) -> uint256:
    amount: uint256 = self._parts[task][p].own_active + self._parts[task][p].del_active
    if self._parts[task][p].pending_round <= r:
        amount += self._parts[task][p].own_pending + self._parts[task][p].del_pending
    return amount


@internal
@view
def _vested(task: uint256, earned: uint256) -> uint256:
    if self._state[task].status == STATUS_ENDED:
        return earned
    return earned * self._params[task].delta // WAD


@internal
@view
def _score(task: uint256, r: uint256, j: uint256, k: uint256) -> uint64:
    word: uint256 = self._scores[task][r][j][k // 4]
    return convert((word >> (64 * (k % 4))) & _MASK64, uint64)


# ---- internal: stake buckets and accumulators --------------------------------------------
@internal
def _sync(task: uint256, p: address, upto: uint256):
    """
    @dev Merge p's pending bucket into active if it activates at or before `upto`,
         snapshotting the accumulator for delegation positions of that bucket.
    """
    pr: uint256 = self._parts[task][p].pending_round
    if pr > upto:
        return
    op: uint256 = self._parts[task][p].own_pending
    dp: uint256 = self._parts[task][p].del_pending
    if op == 0 and dp == 0:
        return
    self._acc_snap[task][p][pr] = self._parts[task][p].acc
    self._parts[task][p].own_active += op
    self._parts[task][p].del_active += dp
    self._parts[task][p].own_pending = 0
    self._parts[task][p].del_pending = 0


@internal
def _sync_finalized(task: uint256, p: address):
    f: uint256 = self._state[task].finalized_rounds
    if f != 0:
        self._sync(task, p, f - 1)


@internal
@view
def _position_view(task: uint256, p: address, d: address) -> (uint256, uint256):
    """
    @dev (earned, amount) of position (p, d) as if settled now, including a merge of
         p's pending bucket up to the last finalized round.
    """
    acc: uint256 = self._parts[task][p].acc
    active: uint256 = self._dels[task][p][d].active
    pending: uint256 = self._dels[task][p][d].pending
    ckpt: uint256 = self._dels[task][p][d].acc_checkpoint
    earned: uint256 = self._dels[task][p][d].earned
    if pending == 0:
        return earned + active * (acc - ckpt) // ACC, active
    pr: uint256 = self._dels[task][p][d].pending_round
    snap: uint256 = 0
    merged: bool = False
    if self._parts[task][p].pending_round != pr or self._parts[task][p].del_pending == 0:
        merged = True
        snap = self._acc_snap[task][p][pr]
    else:
        f: uint256 = self._state[task].finalized_rounds
        if f != 0 and pr <= f - 1:
            merged = True
            snap = acc
    if merged:
        return earned + (active * (acc - ckpt) + pending * (acc - snap)) // ACC, active + pending
    return earned + active * (acc - ckpt) // ACC, active + pending


@internal
def _settle(task: uint256, p: address, d: address):
    """
    @dev Bring position (p, d) up to date with p's accumulator (caller synced p first).
    """
    acc: uint256 = self._parts[task][p].acc
    pending: uint256 = self._dels[task][p][d].pending
    active: uint256 = self._dels[task][p][d].active
    ckpt: uint256 = self._dels[task][p][d].acc_checkpoint
    gain: uint256 = 0
    pr: uint256 = self._dels[task][p][d].pending_round
    if pending != 0 and (self._parts[task][p].pending_round != pr or self._parts[task][p].del_pending == 0):
        gain = (active * (acc - ckpt) + pending * (acc - self._acc_snap[task][p][pr])) // ACC
        self._dels[task][p][d].active = active + pending
        self._dels[task][p][d].pending = 0
    else:
        gain = active * (acc - ckpt) // ACC
    self._dels[task][p][d].earned += gain
    self._dels[task][p][d].acc_checkpoint = acc


@internal
def _credit(task: uint256, r: uint256, p: address, x: uint256) -> uint256:
    """
    @dev Split reward x between p's owner and delegators (PROTOCOL.md §7).
    @return The amount actually credited (x minus accumulator dust).
    """
    self._sync(task, p, r)
    own: uint256 = self._parts[task][p].own_active
    dl: uint256 = self._parts[task][p].del_active
    if own + dl == 0:
        return 0
    s: uint256 = self._parts[task][p].commission
    owner_part: uint256 = x * (s + (WAD - s) * own // (own + dl)) // WAD
    dpart: uint256 = x - owner_part
    dpaid: uint256 = 0
    if dl != 0 and dpart != 0:
        inc: uint256 = dpart * ACC // dl
        self._parts[task][p].acc += inc
        dpaid = inc * dl // ACC
    self._parts[task][p].owner_earned += owner_part
    log Rewarded(task=task, round=r, participant=p, amount=x, owner_part=owner_part, delegator_part=dpaid)
    return owner_part + dpaid


@internal
def _slash(task: uint256, r: uint256, j: uint256, fraction: uint256, reason: uint256) -> uint256:
    p: address = self._validators[task][j]
    self._sync(task, p, r)
    own: uint256 = self._parts[task][p].own_active
    amount: uint256 = score_math._slash_amount(own, fraction)
    if amount == 0:
        return 0
    self._parts[task][p].own_active = own - amount
    self._parts[task][p].slashed += amount
    total: uint256 = self._state[task].total_own_stake - amount
    self._state[task].total_own_stake = total
    self._vrounds[task][r][j].slash = amount
    log Slashed(task=task, round=r, validator=p, amount=amount, reason=reason)
    self._notify(task, total)
    return amount


@internal
def _notify(task: uint256, total: uint256):
    if emission != empty(address):
        extcall IEmission(emission).notify_stake(task, total)


# ---- internal: finalize units -------------------------------------------------------------
@internal
def _open(task: uint256, r: uint256):
    nr: uint256 = self._params[task].num_rounds
    bounty: uint256 = self._params[task].bounty
    pot: uint256 = bounty // nr
    if r == nr - 1:
        pot += bounty % nr
    em: uint256 = 0
    if emission != empty(address):
        em = extcall IEmission(emission).pull(task)
    pot += self._state[task].carry + em
    self._state[task].carry = 0
    vcount: uint256 = self._state[task].validator_count
    reveals: uint256 = self._rounds[task][r].validator_reveals
    s_total: uint256 = 0
    nrev: uint256 = 0
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            w: uint256 = self._eff(task, self._validators[task][j], r)
            self._vrounds[task][r][j].stake = w
            s_total += w
            nrev += 1
    void: uint256 = VOID_NONE
    if not self._rounds[task][r].eval_revealed:
        void = VOID_NO_EVAL
    elif self._rounds[task][r].num_submissions == 0:
        void = VOID_NO_SUBMISSIONS
    elif nrev < self._params[task].min_quorum:
        void = VOID_NO_QUORUM
    self._rounds[task][r].pot = pot
    self._rounds[task][r].emission_amount = em
    self._rounds[task][r].validator_stake = s_total
    self._rounds[task][r].void_reason = void
    log RoundOpened(task=task, round=r, pot=pot, emission_amount=em, void_reason=void)
    if void == VOID_NONE:
        self._rounds[task][r].stage = STAGE_CONSENSUS
        return
    commits: uint256 = self._rounds[task][r].validator_commits
    slashed: uint256 = 0
    frac: uint256 = self._params[task].slash_miss
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= vcount:
            break
        if commits & (1 << j) != 0 and reveals & (1 << j) == 0:
            slashed += self._slash(task, r, j, frac, SLASH_MISS)
    self._rounds[task][r].slashed = slashed
    self._close(task, r)


@internal
def _consensus(task: uint256, r: uint256):
    k: uint256 = self._rounds[task][r].cursor
    vcount: uint256 = self._state[task].validator_count
    reveals: uint256 = self._rounds[task][r].validator_reveals
    xs: uint64[MAX_VALIDATORS] = empty(uint64[MAX_VALIDATORS])
    ws: uint256[MAX_VALIDATORS] = empty(uint256[MAX_VALIDATORS])
    m: uint256 = 0
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            xs[m] = self._score(task, r, j, k)
            ws[m] = self._vrounds[task][r][j].stake
            m += 1
    c: uint64 = score_math._lower_median(xs, ws, m, self._rounds[task][r].validator_stake)
    self._subs[task][r][k].consensus = c
    self._subs[task][r][k].stake = self._eff(task, self._subs[task][r][k].node, r)
    i: uint256 = 0
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            self._vrounds[task][r][j].deviation_sum += score_math._deviation(xs[i], c)
            i += 1
    log ConsensusComputed(task=task, round=r, slot=k, consensus=c)
    k += 1
    if k == self._rounds[task][r].num_submissions:
        self._rounds[task][r].stage = STAGE_RANK
        k = 0
    self._rounds[task][r].cursor = k


@internal
def _rank(task: uint256, r: uint256):
    n: uint256 = self._rounds[task][r].num_submissions
    baseline: uint64 = self._params[task].baseline_score
    q: uint256 = self._params[task].rank_ratio
    cs: uint64[MAX_SUBMISSIONS] = empty(uint64[MAX_SUBMISSIONS])
    seqs: uint256[MAX_SUBMISSIONS] = empty(uint256[MAX_SUBMISSIONS])
    ok: bool[MAX_SUBMISSIONS] = empty(bool[MAX_SUBMISSIONS])
    g: uint256[MAX_SUBMISSIONS] = empty(uint256[MAX_SUBMISSIONS])
    for k: uint256 in range(MAX_SUBMISSIONS):
        if k >= n:
            break
        c: uint64 = self._subs[task][r][k].consensus
        cs[k] = c
        seqs[k] = self._subs[task][r][k].commit_seq
        ok[k] = c != INVALID and (baseline == 0 or c <= baseline)
        if k == 0:
            g[0] = WAD
        else:
            g[k] = g[k - 1] * q // WAD
    t_stake: uint256 = 0
    sg: uint256 = 0
    for k: uint256 in range(MAX_SUBMISSIONS):
        if k >= n:
            break
        if not ok[k]:
            continue
        rank: uint256 = 0
        for m: uint256 in range(MAX_SUBMISSIONS):
            if m >= n:
                break
            if ok[m] and (cs[m] < cs[k] or (cs[m] == cs[k] and seqs[m] < seqs[k])):
                rank += 1
        eff: uint256 = self._subs[task][r][k].stake
        self._subs[task][r][k].weight = g[rank]
        t_stake += eff
        sg += g[rank] * eff
    pot: uint256 = self._rounds[task][r].pot
    gamma: uint256 = self._params[task].gamma
    s_stake: uint256 = self._rounds[task][r].validator_stake
    nodes_pot: uint256 = pot * gamma // WAD
    if t_stake + s_stake != 0:
        nodes_pot += (pot * (WAD - 2 * gamma) // WAD) * t_stake // (t_stake + s_stake)
    self._rounds[task][r].nodes_pot = nodes_pot
    self._rounds[task][r].validators_pot = pot - nodes_pot
    self._rounds[task][r].node_stake = t_stake
    self._rounds[task][r].sum_g_stake = sg
    # Validators: D_j, F_j and the agreement-weighted stake.
    vcount: uint256 = self._state[task].validator_count
    reveals: uint256 = self._rounds[task][r].validator_reveals
    tolerance: uint256 = self._params[task].tolerance
    sf: uint256 = 0
    for j: uint256 in range(MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            dev: uint256 = self._vrounds[task][r][j].deviation_sum // n
            f: uint256 = score_math._agreement(dev, tolerance)
            self._vrounds[task][r][j].deviation = dev
            self._vrounds[task][r][j].agreement = f
            sf += f * self._vrounds[task][r][j].stake
            log ValidatorScored(task=task, round=r, validator=self._validators[task][j], deviation=dev, agreement=f)
    self._rounds[task][r].sum_f_stake = sf
    self._rounds[task][r].stage = STAGE_PAY_NODES
    log RoundRanked(
        task=task, round=r, nodes_pot=nodes_pot, validators_pot=pot - nodes_pot, node_stake=t_stake, validator_stake=s_stake
    )


@internal
def _pay_node(task: uint256, r: uint256):
    k: uint256 = self._rounds[task][r].cursor
    g: uint256 = self._subs[task][r][k].weight
    sg: uint256 = self._rounds[task][r].sum_g_stake
    if g != 0 and sg != 0:
        x: uint256 = self._rounds[task][r].nodes_pot * (g * self._subs[task][r][k].stake) // sg
        if x != 0:
            self._subs[task][r][k].reward = x
            credited: uint256 = self._credit(task, r, self._subs[task][r][k].node, x)
            self._rounds[task][r].paid += credited
    k += 1
    if k == self._rounds[task][r].num_submissions:
        self._rounds[task][r].stage = STAGE_PAY_VALIDATORS
        k = 0
    self._rounds[task][r].cursor = k


@internal
def _pay_validator(task: uint256, r: uint256):
    j: uint256 = self._rounds[task][r].cursor
    bit: uint256 = 1 << j
    if self._rounds[task][r].validator_reveals & bit != 0:
        sf: uint256 = self._rounds[task][r].sum_f_stake
        if sf != 0:
            y: uint256 = self._rounds[task][r].validators_pot * (
                self._vrounds[task][r][j].agreement * self._vrounds[task][r][j].stake
            ) // sf
            if y != 0:
                self._vrounds[task][r][j].reward = y
                credited: uint256 = self._credit(task, r, self._validators[task][j], y)
                self._rounds[task][r].paid += credited
        if self._vrounds[task][r][j].deviation > self._params[task].slash_tau:
            cut: uint256 = self._slash(task, r, j, self._params[task].slash_dev, SLASH_DEVIATION)
            self._rounds[task][r].slashed += cut
    elif self._rounds[task][r].validator_commits & bit != 0:
        miss: uint256 = self._slash(task, r, j, self._params[task].slash_miss, SLASH_MISS)
        self._rounds[task][r].slashed += miss
    j += 1
    self._rounds[task][r].cursor = j
    if j >= self._state[task].validator_count:
        self._close(task, r)


@internal
def _close(task: uint256, r: uint256):
    pot: uint256 = self._rounds[task][r].pot
    paid: uint256 = self._rounds[task][r].paid
    slashed: uint256 = self._rounds[task][r].slashed
    carry: uint256 = pot - paid + slashed
    self._rounds[task][r].stage = STAGE_DONE
    self._state[task].finalized_rounds = r + 1
    log RoundFinalized(
        task=task, round=r, pot=pot, paid=paid, slashed=slashed, carry=carry, void_reason=self._rounds[task][r].void_reason
    )
    if r + 1 == self._params[task].num_rounds:
        self._state[task].status = STATUS_ENDED
        self._state[task].refund = carry
        log TaskEnded(task=task, refund=carry)
        self._notify(task, 0)
    else:
        self._state[task].carry = carry
