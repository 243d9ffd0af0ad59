# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title AIArena rounds
@custom:contract-name ArenaRounds
@license MIT
@notice The entry points of `Arena` that need no finalize logic (PROTOCOL.md §4, §5,
        §5a): stake, delegation and exits (`join`, `delegate`, `withdraw`), the task's
        `cancel_task` and `claim_refund`, model commits and reveals, the creator's eval
        reveal, score commits and reveals, and the committee `draw`. Split out of Arena
        only to keep each deployable under the 24,576-byte code limit with Vyper's default
        code generator. It has no entry point of its own: Arena's functions of the same
        name delegatecall it with their calldata, so it always works on Arena's storage
        (same `arena_state` layout) and emits its events from Arena's address. Arena
        checks the pause and holds the reentrancy lock (transient slot 0) before it
        forwards, which is why this contract has no `nonreentrancy` pragma.
@custom:kill Nothing to stop: calling it directly reverts.
"""

from ethereum.ercs import IERC20
from . import arena_state as st
from . import sortition

initializes: st


# @dev This contract's own address: its functions only run inside Arena (delegatecall).
_SELF: immutable(address)


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
    # index of the first score of this page among the validator's assignments
    first: uint256
    scores: DynArray[uint64, st.MAX_SUBMISSIONS]
    # True on the page that completed the reveal (commitment checked)
    complete: bool


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

event Withdrawn:
    task: indexed(uint256)
    participant: indexed(address)
    account: indexed(address)
    amount: uint256

event TaskCancelled:
    task: indexed(uint256)
    creator: indexed(address)
    refund: uint256

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

event KeeperTipped:
    task: indexed(uint256)
    round: indexed(uint256)
    keeper: indexed(address)
    units: uint256
    amount: uint256

event RoundSeeded:
    task: indexed(uint256)
    round: indexed(uint256)
    seed: bytes32


@deploy
def __init__():
    """
    @notice Deploy the rounds logic; pass its address to `Arena`'s constructor.
    """
    _SELF = self


@internal
@view
def _delegated():
    assert self != _SELF, "arena: delegatecall only"


@external
def commit_model(task: uint256, c: bytes32):
    """
    @notice Commit to a model in the COMMIT phase of the current round.
    @dev c = model_commitment(model_sha256, msg.sender, task, round). A re-commit
         overwrites and takes a new (later) commit sequence number. A node that commits
         and does not reveal once the round's eval shard is out pays `slash_node_miss` of
         its own stake at finalize. Emits `ModelCommitted`.
    @param task The task id.
    @param c The commitment.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_COMMIT)
    assert st._parts[task][msg.sender].role == st.NODE, "arena: not a node"
    assert c != empty(bytes32), "arena: empty commitment"
    assert st._own(task, msg.sender, r) != 0, "arena: stake not active"
    seq: uint256 = st._rounds[task][r].commit_count
    st._rounds[task][r].commit_count = seq + 1
    if not st._mcommits[task][r][msg.sender].committed:
        i: uint256 = st._rounds[task][r].committer_count
        st._committers[task][r][i] = msg.sender
        st._rounds[task][r].committer_count = i + 1
    st._mcommits[task][r][msg.sender].commitment = c
    st._mcommits[task][r][msg.sender].seq = seq
    st._mcommits[task][r][msg.sender].committed = True
    log ModelCommitted(task=task, round=r, node=msg.sender, commitment=c, seq=seq)


@external
def reveal_model(task: uint256, model_sha256: bytes32, uri: String[256]):
    """
    @notice Reveal the committed model in the REVEAL phase, once the round's eval shard
            is revealed.
    @dev Duplicate hashes: the earlier commit keeps the slot (PROTOCOL.md §5). Emits
         `ModelRevealed` (and `SubmissionReplaced` when taking over a later commit's slot).
    @param task The task id.
    @param model_sha256 The sha256 of the model file.
    @param uri Where validators fetch the model.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_REVEAL)
    assert st._rounds[task][r].eval_revealed, "arena: eval not revealed"
    mc: st.ModelCommit = st._mcommits[task][r][msg.sender]
    assert mc.committed, "arena: no commitment"
    assert not mc.revealed, "arena: already revealed"
    assert keccak256(abi_encode(model_sha256, msg.sender, task, r)) == mc.commitment, "arena: bad reveal"
    owner: st.ModelOwner = st._owners[task][model_sha256]
    slot: uint256 = 0
    if owner.node != empty(address) and owner.node != msg.sender:
        assert owner.round == r and owner.seq > mc.seq, "arena: duplicate model"
        # The caller committed earlier in this round: take over the slot in place.
        slot = owner.slot
        st._subs[task][r][slot].node = msg.sender
        st._subs[task][r][slot].uri = uri
        st._subs[task][r][slot].commit_seq = mc.seq
        st._subs[task][r][slot].key = (r << 128) | mc.seq
        st._mcommits[task][r][owner.node].revealed = False
        st._mcommits[task][r][owner.node].displaced = True
        st._owners[task][model_sha256] = st.ModelOwner(node=msg.sender, round=r, seq=mc.seq, slot=slot)
        log SubmissionReplaced(task=task, round=r, slot=slot, displaced=owner.node, node=msg.sender)
    else:
        slot = st._rounds[task][r].num_submissions
        assert slot < st.MAX_SUBMISSIONS, "arena: round full"
        st._rounds[task][r].num_submissions = slot + 1
        # the near-duplicate rule ranks a model hash by its first reveal in the task
        key: uint256 = (r << 128) | mc.seq
        if owner.node != empty(address):
            key = (owner.round << 128) | owner.seq
        st._subs[task][r][slot] = st.SubmissionInfo(
            node=msg.sender,
            model_sha256=model_sha256,
            uri=uri,
            commit_seq=mc.seq,
            key=key,
            consensus=0,
            status=0,
            stake=0,
            weight=0,
            reward=0,
        )
        if owner.node == empty(address):
            st._owners[task][model_sha256] = st.ModelOwner(node=msg.sender, round=r, seq=mc.seq, slot=slot)
    st._mcommits[task][r][msg.sender].revealed = True
    st._mcommits[task][r][msg.sender].slot = slot
    log ModelRevealed(task=task, round=r, node=msg.sender, slot=slot, model_sha256=model_sha256, uri=uri)


@external
def reveal_eval(
    task: uint256,
    round: uint256,
    shard_sha256: bytes32,
    shard_uri: String[256],
    proof: DynArray[bytes32, st.MAX_PROOF_LENGTH],
):
    """
    @notice Creator reveals the round's eval shard in the EVAL phase (after the model
            commits, before any model reveal).
    @dev Leaf = keccak256(abi_encode(round, shard_sha256)) at position `round` of the
         positional Merkle tree of `num_rounds` leaves committed as `eval_root`: the proof
         has exactly ceil(log2(num_rounds)) hashes and bit i of `round` puts the running
         hash on the right (1) or left (0) at level i (PROTOCOL.md §5). Without it no model
         can be revealed and the round is void. Emits `EvalRevealed`.
    @param task The task id.
    @param round The current round index.
    @param shard_sha256 The sha256 of the eval shard file.
    @param shard_uri Where validators fetch the shard.
    @param proof The Merkle proof (exactly ceil(log2(num_rounds)) hashes).
    """
    self._delegated()
    st._exists(task)
    assert msg.sender == st._state[task].creator, "arena: not creator"
    r: uint256 = st._in_phase(task, st.PHASE_EVAL)
    assert round == r, "arena: wrong round"
    assert not st._rounds[task][r].eval_revealed, "arena: eval already revealed"
    assert len(proof) == st._eval_depth(st._params[task].num_rounds), "arena: bad proof"
    h: bytes32 = keccak256(abi_encode(round, shard_sha256))
    for i: uint256 in range(st.MAX_PROOF_LENGTH):
        if i >= len(proof):
            break
        if (round >> i) & 1 == 1:
            h = keccak256(concat(proof[i], h))
        else:
            h = keccak256(concat(h, proof[i]))
    assert h == st._params[task].eval_root, "arena: bad proof"
    st._rounds[task][r].eval_revealed = True
    st._rounds[task][r].shard_sha256 = shard_sha256
    st._rounds[task][r].shard_uri = shard_uri
    log EvalRevealed(task=task, round=r, shard_sha256=shard_sha256, shard_uri=shard_uri)


@external
def commit_scores(task: uint256, c: bytes32):
    """
    @notice Commit to this round's scores of the caller's committee assignments in the
            SCORE_COMMIT phase (PROTOCOL.md §5, §5a).
    @dev c = score_commitment(task, round, msg.sender, scores, salt), `scores` one per
         assigned slot in slot order; re-commit overwrites. Needs the round's committee
         seed (`draw`, then a later block); the first commit after the seed became readable
         fixes it (`RoundSeeded`). Emits `ScoresCommitted`.
    @param task The task id.
    @param c The commitment.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_SCORE_COMMIT)
    assert st._parts[task][msg.sender].role == st.VALIDATOR, "arena: not a validator"
    assert c != empty(bytes32), "arena: empty commitment"
    assert st._own(task, msg.sender, r) != 0, "arena: stake not active"
    seed: bytes32 = st._seed(task, r)
    assert seed != empty(bytes32), "arena: committees not drawn"
    if st._draws[task][r].seed == empty(bytes32):
        st._draws[task][r].seed = seed
        log RoundSeeded(task=task, round=r, seed=seed)
    j: uint256 = st._parts[task][msg.sender].validator_index
    if not st._vrounds[task][r][j].committed:
        st._rounds[task][r].validator_commit_count += 1
    st._vrounds[task][r][j].commitment = c
    st._vrounds[task][r][j].committed = True
    log ScoresCommitted(task=task, round=r, validator=msg.sender, commitment=c)


@external
def reveal_scores(task: uint256, scores: DynArray[uint64, st.MAX_SUBMISSIONS], salt: bytes32):
    """
    @notice Reveal the committed scores in the SCORE_REVEAL phase, in one call or in pages.
    @dev The scores of the caller's assigned slots in slot order, continuing where its last
         page stopped (the contract enumerates the assignment itself, so no slot can be
         skipped or added); INVALID = 2**64-1. The page that reveals the last assigned score
         checks the commitment over all of them (`salt` matters only there) and completes
         the reveal; only a completed reveal counts (PROTOCOL.md §5, §5a). Each score is
         recorded as a vote of its slot's committee (at most MAX_VOTES per slot) and kept
         packed, 4 per storage slot, in assignment order. Emits `ScoresRevealed`.
    @param task The task id.
    @param scores The next scores (lower is better, scale 1e9).
    @param salt The salt used in the commitment.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_SCORE_REVEAL)
    assert st._parts[task][msg.sender].role == st.VALIDATOR, "arena: not a validator"
    j: uint256 = st._parts[task][msg.sender].validator_index
    assert st._vrounds[task][r][j].committed, "arena: no commitment"
    assert not st._vrounds[task][r][j].revealed, "arena: already revealed"
    eff: uint256 = st._eff(task, msg.sender, r)
    first: uint256 = st._vrounds[task][r][j].assignments
    i: uint256 = first
    h: bytes32 = st._vrounds[task][r][j].reveal_hash
    word: uint256 = 0
    if i % 4 != 0:
        word = st._scores[task][r][j][i // 4]
    k: uint256 = st._vrounds[task][r][j].next_slot
    for x: uint64 in scores:
        k = st._next_assigned(task, r, j, eff, k)
        assert k < st._draws[task][r].submissions, "arena: too many scores"
        h = keccak256(abi_encode(h, x))
        m: uint256 = st._vote_count[task][r][k]
        if m < st.MAX_VOTES:
            st._votes[task][r][k][m] = (j << 64) | convert(x, uint256)
            st._vote_count[task][r][k] = m + 1
        word |= convert(x, uint256) << (64 * (i % 4))
        i += 1
        if i % 4 == 0:
            st._scores[task][r][j][i // 4 - 1] = word
            word = 0
        k += 1
    if i % 4 != 0:
        st._scores[task][r][j][i // 4] = word
    k = st._next_assigned(task, r, j, eff, k)
    complete: bool = k >= st._draws[task][r].submissions
    assert complete or len(scores) != 0, "arena: empty page"
    st._vrounds[task][r][j].assignments = i
    if complete:
        assert keccak256(abi_encode(task, r, msg.sender, h, salt)) == st._vrounds[task][r][j].commitment, "arena: bad reveal"
        st._vrounds[task][r][j].revealed = True
        st._vrounds[task][r][j].stake = eff
        st._rounds[task][r].validator_reveal_count += 1
        st._rounds[task][r].validator_stake += eff
    else:
        st._vrounds[task][r][j].next_slot = k
        st._vrounds[task][r][j].reveal_hash = h
    log ScoresRevealed(task=task, round=r, validator=msg.sender, first=first, scores=scores, complete=complete)


# ---- task lifecycle (Arena forwards these) -----------------------------------------------
@external
def cancel_task(task: uint256):
    """
    @notice Cancel a task nobody joined yet and take the bounty back (less the keeper tips
            that `draw` calls of round 0 were paid from it).
    @dev Creator only; no participant and no finalized round. Emits `TaskCancelled`.
    @param task The task id.
    """
    self._delegated()
    st._exists(task)
    assert msg.sender == st._state[task].creator, "arena: not creator"
    assert st._state[task].status == st.STATUS_ACTIVE, "arena: task not active"
    assert st._state[task].participant_count == 0, "arena: has participants"
    assert st._state[task].finalized_rounds == 0, "arena: rounds finalized"
    st._state[task].status = st.STATUS_CANCELLED
    # less the keeper tips a `draw` of round 0 already paid out of the bounty (PROTOCOL.md §6a)
    refund: uint256 = st._params[task].bounty - st._rounds[task][0].keeper_tips
    log TaskCancelled(task=task, creator=msg.sender, refund=refund)
    assert extcall IERC20(st._token).transfer(msg.sender, refund, default_return_value=True)


@external
def claim_refund(task: uint256) -> uint256:
    """
    @notice Creator takes what is left after the last round (rolled-over pots, slashes, dust).
    @dev Creator only, once, after the task ENDED. Emits `RefundClaimed`.
    @param task The task id.
    @return uint256 The amount transferred.
    """
    self._delegated()
    st._exists(task)
    assert msg.sender == st._state[task].creator, "arena: not creator"
    assert st._state[task].status == st.STATUS_ENDED, "arena: task not ended"
    assert not st._state[task].refund_claimed, "arena: refund already claimed"
    amount: uint256 = st._state[task].refund
    st._state[task].refund_claimed = True
    log RefundClaimed(task=task, creator=msg.sender, amount=amount)
    if amount != 0:
        assert extcall IERC20(st._token).transfer(msg.sender, amount, default_return_value=True)
    return amount


# ---- committees (PROTOCOL.md §5a) --------------------------------------------------------
@external
def draw(task: uint256, round: uint256):
    """
    @notice Draw the committees of `round`: anyone, once its model reveals closed and every
            earlier round is finalized.
    @dev First call freezes W, K, the submission count and digest and commits to the next
         block's hash; a later call fixes the seed from it, or picks a new target block
         when the old one's hash is no longer readable (more than SEED_WINDOW blocks).
         Each such call earns the task's keeper tip (if any, PROTOCOL.md §6a). Emits
         `CommitteeDrawn` or `RoundSeeded`, and `KeeperTipped` when a tip is paid.
    @param task The task id.
    @param round The first unfinalized round.
    """
    self._delegated()
    st._exists(task)
    assert st._state[task].status == st.STATUS_ACTIVE, "arena: task not active"
    f: uint256 = st._state[task].finalized_rounds
    assert round >= f, "arena: round finalized"
    assert round == f, "arena: finalize earlier rounds first"
    phase: uint256 = 0
    current: uint256 = 0
    phase, current = st._clock(task)
    assert current > round or (current == round and phase >= st.PHASE_SCORE_COMMIT), "arena: reveals not closed"
    target: uint256 = st._draws[task][round].target_block
    if target != 0:
        assert st._draws[task][round].seed == empty(bytes32), "arena: already drawn"
        assert block.number > target, "arena: seed block not mined"
        if block.number - target <= st.SEED_WINDOW:
            seed: bytes32 = sortition._round_seed(blockhash(target), task, round, st._draws[task][round].digest)
            st._draws[task][round].seed = seed
            log RoundSeeded(task=task, round=round, seed=seed)
            self._tip_keeper(task, round)
            return
        st._draws[task][round].target_block = block.number + 1
    else:
        n: uint256 = st._rounds[task][round].num_submissions
        digest: bytes32 = empty(bytes32)
        for k: uint256 in range(st.MAX_SUBMISSIONS):
            if k >= n:
                break
            digest = sortition._next_digest(digest, st._subs[task][round][k].model_sha256)
        st._draws[task][round] = st.CommitteeDraw(
            target_block=block.number + 1,
            seed=empty(bytes32),
            weight=st._weight(task, round),
            committee_size=st._params[task].committee_size,
            submissions=n,
            digest=digest,
        )
    d: st.CommitteeDraw = st._draws[task][round]
    log CommitteeDrawn(
        task=task,
        round=round,
        target_block=d.target_block,
        weight=d.weight,
        committee_size=d.committee_size,
        submissions=d.submissions,
        digest=d.digest,
    )
    self._tip_keeper(task, round)


@internal
def _tip_keeper(task: uint256, round: uint256):
    """
    @dev Pay the task's keeper tip (one unit, within the round's keeper cap) to the sender
         of a `draw` call that changed the draw.
    """
    amount: uint256 = st._tip(task, round, 1)
    if amount != 0:
        log KeeperTipped(task=task, round=round, keeper=msg.sender, units=1, amount=amount)
        assert extcall IERC20(st._token).transfer(msg.sender, amount, default_return_value=True)


# ---- stake, delegation and exits (Arena forwards these) --------------------------------
@external
def join(task: uint256, role: uint256, amount: uint256, commission: uint256):
    """
    @notice Join a task as st.NODE (1) or st.VALIDATOR (2) with own stake, or top up.
    @dev First call: amount >= the role minimum, commission <= st.WAD (fixed for the task).
         Later calls with the same role and commission add stake. Stake activates
         next round (PROTOCOL.md §4). Emits `Joined` (first call) and `Staked`.
    @param task The task id.
    @param role st.NODE = 1 or st.VALIDATOR = 2.
    @param amount Tokens to stake (pulled with transferFrom).
    @param commission The share sigma (st.WAD) of delegators' part kept by the owner.
    """
    self._delegated()
    st._exists(task)
    assert amount != 0, "arena: zero amount"
    assert role == st.NODE or role == st.VALIDATOR, "arena: bad role"
    a: uint256 = st._activation(task)
    current: uint256 = st._parts[task][msg.sender].role
    if current == 0:
        assert msg.sender != st._state[task].creator, "arena: creator cannot join"
        if role == st.NODE:
            assert amount >= st._params[task].min_node_stake, "arena: below minimum stake"
        else:
            assert amount >= st._params[task].min_validator_stake, "arena: below minimum stake"
        assert commission <= st.WAD, "arena: commission out of range"
        if role == st.VALIDATOR:
            n: uint256 = st._state[task].validator_count
            st._validators[task][n] = msg.sender
            st._parts[task][msg.sender].validator_index = n
            st._state[task].validator_count = n + 1
        st._parts[task][msg.sender].role = role
        st._parts[task][msg.sender].commission = commission
        st._parts[task][msg.sender].del_index = st.ACC
        st._state[task].participant_count += 1
        log Joined(task=task, participant=msg.sender, role=role, commission=commission)
    else:
        assert current == role, "arena: role mismatch"
        assert commission == st._parts[task][msg.sender].commission, "arena: commission is fixed"
    if a != 0:
        st._sync(task, msg.sender, a - 1)
    st._parts[task][msg.sender].own_pending += amount
    st._parts[task][msg.sender].pending_round = a
    if role == st.VALIDATOR:
        st._vstake[task] += amount
        st._vpend[task][a] += amount
    total: uint256 = st._state[task].total_own_stake + amount
    st._state[task].total_own_stake = total
    log Staked(
        task=task,
        participant=msg.sender,
        amount=amount,
        activation_round=a,
        own_total=st._parts[task][msg.sender].own_active + st._parts[task][msg.sender].own_pending,
    )
    assert extcall IERC20(st._token).transferFrom(msg.sender, self, amount, default_return_value=True)


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
    self._delegated()
    st._exists(task)
    assert amount != 0, "arena: zero amount"
    assert st._parts[task][participant].role != 0, "arena: not a participant"
    assert participant != msg.sender, "arena: cannot delegate to self"
    a: uint256 = st._activation(task)
    if a != 0:
        st._sync(task, participant, a - 1)
    st._settle(task, participant, msg.sender)
    st._dels[task][participant][msg.sender].pending += amount
    st._dels[task][participant][msg.sender].pending_round = a
    st._parts[task][participant].del_pending += amount
    st._parts[task][participant].pending_round = a
    if st._parts[task][participant].role == st.VALIDATOR:
        st._vstake[task] += amount
        st._vpend[task][a] += amount
    log Delegated(task=task, participant=participant, delegator=msg.sender, amount=amount, activation_round=a)
    assert extcall IERC20(st._token).transferFrom(msg.sender, self, amount, default_return_value=True)


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
    self._delegated()
    st._exists(task)
    status: uint256 = st._state[task].status
    ended: bool = status == st.STATUS_ENDED or status == st.STATUS_CANCELLED
    leaving: bool = (
        status == st.STATUS_ACTIVE and msg.sender != participant and st._parts[task][participant].slash_round != 0
    )
    assert ended or leaving, "arena: task not ended"
    assert st._parts[task][participant].role != 0, "arena: not a participant"
    amount: uint256 = 0
    if msg.sender == participant:
        amount = st._parts[task][participant].own_active + st._parts[task][participant].own_pending
        st._parts[task][participant].own_active = 0
        st._parts[task][participant].own_pending = 0
    else:
        f: uint256 = st._state[task].finalized_rounds
        if not ended:
            assert st._rounds[task][f].stage == st.STAGE_OPEN, "arena: round being finalized"
            assert st._draws[task][f].target_block == 0, "arena: committees drawn"
        st._sync_finalized(task, participant)
        st._settle(task, participant, msg.sender)
        shares: uint256 = st._dels[task][participant][msg.sender].shares
        pending: uint256 = st._dels[task][participant][msg.sender].pending
        index: uint256 = st._parts[task][participant].del_index
        total: uint256 = st._parts[task][participant].del_shares
        amount = shares * index // st.ACC + pending
        st._parts[task][participant].del_shares = total - shares
        if pending != 0:  # still in the participant's pending bucket
            st._parts[task][participant].del_pending -= pending
        if not ended and st._parts[task][participant].role == st.VALIDATOR:
            st._vstake[task] -= total * index // st.ACC - (total - shares) * index // st.ACC + pending
            st._vpend[task][st._dels[task][participant][msg.sender].pending_round] -= pending
        st._dels[task][participant][msg.sender].shares = 0
        st._dels[task][participant][msg.sender].pending = 0
    assert amount != 0, "arena: nothing to withdraw"
    log Withdrawn(task=task, participant=participant, account=msg.sender, amount=amount)
    assert extcall IERC20(st._token).transfer(msg.sender, amount, default_return_value=True)
    return amount
