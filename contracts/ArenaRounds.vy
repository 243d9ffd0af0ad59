# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title AIArena rounds
@custom:contract-name ArenaRounds
@license MIT
@notice The commit-reveal entry points of `Arena` (PROTOCOL.md §5): model commits and
        reveals, the creator's eval reveal, score commits and reveals. Split out of Arena
        only to keep each deployable under the 24,576-byte code limit with Vyper's default
        code generator. It has no entry point of its own: Arena's functions of the same
        name delegatecall it with their calldata, so it always works on Arena's storage
        (same `arena_state` layout) and emits its events from Arena's address. Arena
        checks the pause and holds the reentrancy lock (transient slot 0) before it
        forwards, which is why this contract has no `nonreentrancy` pragma.
@custom:kill Nothing to stop: calling it directly reverts.
"""

from . import arena_state as st

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
    scores: DynArray[uint64, st.MAX_SUBMISSIONS]


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
    @notice Commit to this round's scores in the SCORE_COMMIT phase.
    @dev c = score_commitment(task, round, msg.sender, scores, salt); re-commit overwrites.
         Emits `ScoresCommitted`.
    @param task The task id.
    @param c The commitment.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_SCORE_COMMIT)
    assert st._parts[task][msg.sender].role == st.VALIDATOR, "arena: not a validator"
    assert c != empty(bytes32), "arena: empty commitment"
    assert st._own(task, msg.sender, r) != 0, "arena: stake not active"
    j: uint256 = st._parts[task][msg.sender].validator_index
    st._vrounds[task][r][j].commitment = c
    st._vrounds[task][r][j].committed = True
    st._rounds[task][r].validator_commits |= 1 << j
    log ScoresCommitted(task=task, round=r, validator=msg.sender, commitment=c)


@external
def reveal_scores(task: uint256, scores: DynArray[uint64, st.MAX_SUBMISSIONS], salt: bytes32):
    """
    @notice Reveal the committed scores in the SCORE_REVEAL phase.
    @dev One score per revealed submission, in slot order; INVALID = 2**64-1.
         Stored packed, 4 per storage slot. Emits `ScoresRevealed`.
    @param task The task id.
    @param scores The scores (lower is better, scale 1e9).
    @param salt The salt used in the commitment.
    """
    self._delegated()
    st._exists(task)
    r: uint256 = st._in_phase(task, st.PHASE_SCORE_REVEAL)
    assert st._parts[task][msg.sender].role == st.VALIDATOR, "arena: not a validator"
    j: uint256 = st._parts[task][msg.sender].validator_index
    assert st._vrounds[task][r][j].committed, "arena: no commitment"
    assert not st._vrounds[task][r][j].revealed, "arena: already revealed"
    n: uint256 = len(scores)
    assert n == st._rounds[task][r].num_submissions, "arena: wrong number of scores"
    assert keccak256(abi_encode(task, r, msg.sender, scores, salt)) == st._vrounds[task][r][j].commitment, "arena: bad reveal"
    for s: uint256 in range(st._SCORE_SLOTS):
        if s * 4 >= n:
            break
        word: uint256 = 0
        for i: uint256 in range(4):
            k: uint256 = s * 4 + i
            if k >= n:
                break
            word |= convert(scores[k], uint256) << (64 * i)
        st._scores[task][r][j][s] = word
    st._vrounds[task][r][j].revealed = True
    st._rounds[task][r].validator_reveals |= 1 << j
    log ScoresRevealed(task=task, round=r, validator=msg.sender, scores=scores)
