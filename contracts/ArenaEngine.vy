# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title AIArena finalize engine
@custom:contract-name ArenaEngine
@license MIT
@notice The paginated round finalization of `Arena` (PROTOCOL.md §6-§8): pot, stake-
        weighted lower-median consensus, deviations, ranking, payouts with the
        delegator accumulator, and slashing. Split out of Arena only to keep each
        deployable under the 24,576-byte code limit. It has no entry point of its own:
        `Arena.finalize` delegatecalls `run`, so it always works on Arena's storage
        (same `arena_state` layout) and emits its events from Arena's address.
        No `# pragma nonreentrancy on` here on purpose: `run` executes inside Arena's
        non-reentrant `finalize`, whose lock (transient slot 0) it shares; a second lock
        check in the engine would always see it taken.
@custom:kill Nothing to stop: calling `run` directly reverts.
"""

from . import arena_state as st
from . import score_math
from . import sortition

initializes: st


# @dev The token's burn (snekmate erc20): slashed delegated stake leaves circulation.
interface IBurnable:
    def burn(amount: uint256): nonpayable


# @dev This contract's own address: `run` must only execute inside Arena (delegatecall).
_SELF: immutable(address)


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

event KeeperTipped:
    task: indexed(uint256)
    round: indexed(uint256)
    keeper: indexed(address)
    # finalize units of the page (or 1 for a draw call)
    units: uint256
    amount: uint256

event TaskEnded:
    task: indexed(uint256)
    refund: uint256
    # emission that void rounds rolled on to the end: burned, never refunded (PROTOCOL.md §10)
    emission_burned: uint256


@deploy
def __init__():
    """
    @notice Deploy the engine; pass its address to `Arena`'s constructor.
    """
    _SELF = self


@external
def run(task: uint256, max_steps: uint256, order: DynArray[uint256, st.MAX_SUBMISSIONS]) -> bool:
    """
    @notice Do up to `max_steps` units of finalization of the next unfinalized round.
    @dev Only through Arena's delegatecall (Arena checked the task, the status, the
         time and max_steps >= 1). Units: PROTOCOL.md §6. RANK units take the slots of
         `order` one by one and stop the call when it runs out.
    @param task The task id.
    @param max_steps The maximum units of work.
    @param order The eligible slots sorted by (consensus, key), from the RANK cursor on.
    @return bool True when the round reached STAGE_DONE.
    """
    assert self != _SELF, "arena: delegatecall only"
    r: uint256 = st._state[task].finalized_rounds
    steps: uint256 = 0
    used: uint256 = 0
    tips: uint256 = 0
    done: bool = False
    for _: uint256 in range(st.MAX_FINALIZE_STEPS):
        if steps >= max_steps:
            break
        stage: uint256 = st._rounds[task][r].stage
        ranking: bool = stage == st.STAGE_RANK and st._rounds[task][r].eligible != 0
        if ranking and used >= len(order):
            break
        # the keeper tip of this unit, booked before the unit (whose close reads `paid`)
        tips += st._tip(task, r, 1)
        if stage == st.STAGE_OPEN:
            self._open(task, r)
        elif stage == st.STAGE_CONSENSUS:
            self._consensus(task, r)
        elif stage == st.STAGE_RANK:
            if not ranking:
                self._finish_rank(task, r)
            else:
                self._rank_step(task, r, order[used])
                used += 1
        elif stage == st.STAGE_AGREEMENT:
            self._agreement(task, r)
        elif stage == st.STAGE_PAY_NODES:
            self._pay_node(task, r)
        else:
            self._pay_validator(task, r)
        steps += 1
        if st._rounds[task][r].stage == st.STAGE_DONE:
            done = True
            break
    if tips != 0:
        log KeeperTipped(task=task, round=r, keeper=msg.sender, units=steps, amount=tips)
        assert extcall st.IERC20(st._token).transfer(msg.sender, tips, default_return_value=True)
    return done


@internal
def _credit(task: uint256, r: uint256, p: address, x: uint256) -> uint256:
    """
    @dev Split reward x between p's owner and delegators (PROTOCOL.md §7).
         The whole delegators' part counts as paid once the accumulator moved: positions
         settle floor(active * sum(inc) / ACC) over several rounds, which can exceed the
         per-round sum of floor(inc * del / ACC), so that floor dust must stay reserved
         (it is never claimable and stays in the contract) instead of rolling over.
    @return The amount credited (x, or the owner part alone if inc rounds to 0).
    """
    st._sync(task, p, r)
    own: uint256 = st._parts[task][p].own_active
    shares: uint256 = st._parts[task][p].del_shares
    dl: uint256 = st._del_value(task, p)
    if own + dl == 0:
        return 0
    s: uint256 = st._parts[task][p].commission
    owner_part: uint256 = x * (s + (st.WAD - s) * own // (own + dl)) // st.WAD
    dpart: uint256 = x - owner_part
    dpaid: uint256 = 0
    if shares != 0 and dpart != 0:
        inc: uint256 = dpart * st.ACC // shares
        if inc != 0:
            st._parts[task][p].acc += inc
            dpaid = dpart
    st._parts[task][p].owner_earned += owner_part
    log Rewarded(task=task, round=r, participant=p, amount=x, owner_part=owner_part, delegator_part=dpaid)
    return owner_part + dpaid


@internal
def _slash_own(task: uint256, r: uint256, p: address, fraction: uint256, reason: uint256) -> uint256:
    """
    @dev Take `fraction` of p's active own stake (rounded up, PROTOCOL.md §8); it joins
         the round's `slashed`, which rolls into the next round's pot.
    """
    st._sync(task, p, r)
    own: uint256 = st._parts[task][p].own_active
    amount: uint256 = score_math._slash_amount(own, fraction)
    if amount == 0:
        return 0
    st._parts[task][p].own_active = own - amount
    st._parts[task][p].slashed += amount
    st._state[task].total_own_stake -= amount
    log Slashed(task=task, round=r, participant=p, amount=amount, burned=0, reason=reason)
    return amount


@internal
def _slash(task: uint256, r: uint256, j: uint256, fraction: uint256, reason: uint256) -> uint256:
    """
    @dev A validator votes with its effective stake, so a slash takes `fraction` of its own
         stake (rounded up; to the round's `slashed`) and of its delegations: del_index falls
         by ceil(del_index * fraction / WAD) (at least to 1), and the value the delegations
         lose is burned, never paid to anyone (PROTOCOL.md §8).
    @return The own stake taken (what joins the pot).
    """
    p: address = st._validators[task][j]
    st._sync(task, p, r)
    own: uint256 = st._parts[task][p].own_active
    cut: uint256 = score_math._slash_amount(own, fraction)
    burned: uint256 = 0
    shares: uint256 = st._parts[task][p].del_shares
    if shares != 0 and fraction != 0:
        index: uint256 = st._parts[task][p].del_index
        lowered: uint256 = max(index - score_math._slash_amount(index, fraction), 1)
        burned = shares * index // st.ACC - shares * lowered // st.ACC
        st._parts[task][p].del_index = lowered
    if cut == 0 and burned == 0:
        return 0
    st._parts[task][p].own_active = own - cut
    st._parts[task][p].slashed += cut
    st._parts[task][p].del_burned += burned
    st._parts[task][p].slash_round = r + 1
    st._vrounds[task][r][j].slash = cut
    st._vrounds[task][r][j].burned = burned
    st._state[task].burned += burned
    st._state[task].total_own_stake -= cut
    st._vstake[task] -= cut + burned
    log Slashed(task=task, round=r, participant=p, amount=cut, burned=burned, reason=reason)
    if burned != 0:
        extcall IBurnable(st._token).burn(burned)
    return cut


@internal
@view
def _assigned(task: uint256, r: uint256, j: uint256) -> bool:
    """
    @dev Whether validator index j sat on at least one committee of round r (stops at the
         first assigned slot).
    """
    eff: uint256 = st._eff(task, st._validators[task][j], r)
    return st._next_assigned(task, r, j, eff, 0) < st._draws[task][r].submissions


@internal
def _open(task: uint256, r: uint256):
    nr: uint256 = st._params[task].num_rounds
    bounty: uint256 = st._params[task].bounty
    pot: uint256 = bounty // nr
    if r == nr - 1:
        pot += bounty % nr
    em: uint256 = 0
    if st.emission != empty(address):
        # Count what actually arrived; a failing Emission never blocks finalization.
        before: uint256 = staticcall st.IERC20(st._token).balanceOf(self)
        ok: bool = raw_call(
            st.emission, abi_encode(task, method_id=method_id("pull(uint256)")), revert_on_failure=False
        )
        em = staticcall st.IERC20(st._token).balanceOf(self) - before
    pot += st._state[task].carry + em
    st._state[task].carry = 0
    st._state[task].emission_carry += em
    void: uint256 = st.VOID_NONE
    if not st._rounds[task][r].eval_revealed:
        void = st.VOID_NO_EVAL
    elif st._rounds[task][r].num_submissions == 0:
        void = st.VOID_NO_SUBMISSIONS
    elif st._rounds[task][r].validator_reveal_count == 0:
        void = st.VOID_NO_QUORUM
    st._rounds[task][r].pot = pot
    st._rounds[task][r].emission_amount = em
    st._rounds[task][r].void_reason = void
    log RoundOpened(task=task, round=r, pot=pot, emission_amount=em, void_reason=void)
    if void == st.VOID_NONE:
        st._rounds[task][r].stage = st.STAGE_CONSENSUS
        return
    if void != st.VOID_NO_EVAL and st._rounds[task][r].committer_count != 0:
        # The shard was out: committed nodes that did not reveal still pay (node pass).
        st._rounds[task][r].stage = st.STAGE_PAY_NODES
        return
    self._void_validators(task, r)


@internal
def _void_validators(task: uint256, r: uint256):
    """
    @dev After a void round's node pass (or none): the validator pass slashes the assigned
         validators that did not reveal, when there were committees (a fixed seed and
         submissions: only VOID_NO_QUORUM), else the round closes.
    """
    if st._draws[task][r].seed != empty(bytes32) and st._draws[task][r].submissions != 0:
        st._rounds[task][r].stage = st.STAGE_PAY_VALIDATORS
        st._rounds[task][r].cursor = 0
        return
    self._close(task, r)


@internal
def _consensus(task: uint256, r: uint256):
    """
    @dev Submission k: its consensus and status over the votes its committee recorded at
         reveal (votes of validators whose reveal did not complete are left out); each
         voter's tally: deviation (scored, non-split submissions, its non-UNAVAILABLE
         reports) and coverage (its non-UNAVAILABLE reports on available submissions).
         O(committee size), at most MAX_VOTES.
    """
    k: uint256 = st._rounds[task][r].cursor
    count: uint256 = st._vote_count[task][r][k]
    xs: uint64[st.MAX_VOTES] = empty(uint64[st.MAX_VOTES])
    ws: uint256[st.MAX_VOTES] = empty(uint256[st.MAX_VOTES])
    js: uint256[st.MAX_VOTES] = empty(uint256[st.MAX_VOTES])
    m: uint256 = 0
    total: uint256 = st._draws[task][r].weight
    size: uint256 = st._draws[task][r].committee_size
    for i: uint256 in range(st.MAX_VOTES):
        if i >= count:
            break
        v: uint256 = st._votes[task][r][k][i]
        j: uint256 = v >> 64
        if not st._vrounds[task][r][j].revealed:
            continue
        xs[m] = convert(v & (2**64 - 1), uint64)
        # the committee vote weight eff / p = max(eff, W // K) (DESIGN §3.4)
        ws[m] = sortition._vote_weight(st._vrounds[task][r][j].stake, total, size)
        js[m] = j
        m += 1
    c: uint64 = 0
    status: uint256 = score_math.STATUS_UNSCORED
    # fewer than min_committee of its committee revealed: unscored, nobody slashed over it
    if m >= st._params[task].min_committee:
        c, status = score_math._consensus(xs, ws, m, st._params[task].tolerance)
    st._subs[task][r][k].consensus = c
    st._subs[task][r][k].status = status
    st._subs[task][r][k].stake = st._eff(task, st._subs[task][r][k].node, r)
    if status != score_math.STATUS_UNAVAILABLE:
        st._rounds[task][r].available += 1
        for i: uint256 in range(st.MAX_VOTES):
            if i >= m:
                break
            # tally: deviation_sum | scored << 128 | covered << 160 | assigned_available << 192
            add: uint256 = 1 << 192
            if xs[i] != st.UNAVAILABLE:
                add |= 1 << 160
                if status == score_math.STATUS_SCORED:
                    add += (1 << 128) + score_math._deviation(xs[i], c)
            st._tally[task][r][js[i]] += add
        if status <= score_math.STATUS_SPLIT and self._eligible(task, c):
            st._rounds[task][r].eligible += 1
    log ConsensusComputed(task=task, round=r, slot=k, consensus=c, status=status)
    k += 1
    if k == st._rounds[task][r].num_submissions:
        st._rounds[task][r].stage = st.STAGE_RANK
        k = 0
    st._rounds[task][r].cursor = k


@internal
@view
def _eligible(task: uint256, c: uint64) -> bool:
    baseline: uint64 = st._params[task].baseline_score
    return c != st.INVALID and (baseline == 0 or c <= baseline)


@internal
def _rank_step(task: uint256, r: uint256, k: uint256):
    """
    @dev One slot of the caller's order, checked in O(1): eligible and strictly after the
         previous one by (consensus, key); with the eligible count that makes the order a
         sorted permutation of the eligible set. Buckets: each starts at its first member
         and holds those within relative epsilon of it; in a bucket only the submission
         with the smallest key (the model hash revealed first in the task) earns.
    """
    assert k < st._rounds[task][r].num_submissions, "arena: bad order"
    c: uint64 = st._subs[task][r][k].consensus
    status: uint256 = st._subs[task][r][k].status
    assert status <= score_math.STATUS_SPLIT and self._eligible(task, c), "arena: bad order"
    key: uint256 = st._subs[task][r][k].key
    i: uint256 = st._rounds[task][r].cursor
    w: st.RankWalk = st._walks[task][r]
    st._rounds[task][r].node_stake += st._subs[task][r][k].stake
    if i == 0:
        # best: unset (INVALID is never eligible) until the first bucket closes
        w = st.RankWalk(best=st.INVALID, last_consensus=c, last_key=key, bucket_start=c, winner=k, winner_key=key)
    else:
        assert c > w.last_consensus or (c == w.last_consensus and key > w.last_key), "arena: bad order"
        eps: uint256 = st._params[task].rank_epsilon
        if convert(c - w.bucket_start, uint256) * score_math.WAD <= eps * max(convert(w.bucket_start, uint256), score_math.SCORE_FLOOR):
            if key < w.winner_key:
                w.winner = k
                w.winner_key = key
        else:
            w.best = self._close_bucket(task, r, w)
            w.bucket_start = c
            w.winner = k
            w.winner_key = key
        w.last_consensus = c
        w.last_key = key
    st._walks[task][r] = w
    i += 1
    st._rounds[task][r].cursor = i
    if i == st._rounds[task][r].eligible:
        self._close_bucket(task, r, w)
        self._finish_rank(task, r)


@internal
def _close_bucket(task: uint256, r: uint256, w: st.RankWalk) -> uint64:
    """
    @dev Weight the bucket's winner by its distance to the best, the first bucket's winner
         (a copy scoring a hair better than an older model it copies does not move it).
    @return uint64 The best consensus.
    """
    c: uint64 = st._subs[task][r][w.winner].consensus
    best: uint64 = w.best
    if best == st.INVALID:
        best = c
    g: uint256 = score_math._rank_weight(c, best, st._params[task].rank_ratio, st._params[task].rank_epsilon)
    st._subs[task][r][w.winner].weight = g
    st._rounds[task][r].sum_g_stake += g * st._subs[task][r][w.winner].stake
    return best


@internal
def _finish_rank(task: uint256, r: uint256):
    """
    @dev The pots (PROTOCOL.md §6); AGREEMENT follows.
    """
    # the keeper cap is reserved: tips (counted in `paid`) never take from what is split
    pot: uint256 = st._rounds[task][r].pot - st._keeper_cap(task)
    gamma: uint256 = st._params[task].gamma
    t_stake: uint256 = st._rounds[task][r].node_stake
    s_stake: uint256 = st._rounds[task][r].validator_stake
    nodes_pot: uint256 = pot * gamma // st.WAD
    if t_stake + s_stake != 0:
        nodes_pot += (pot * (st.WAD - 2 * gamma) // st.WAD) * t_stake // (t_stake + s_stake)
    st._rounds[task][r].nodes_pot = nodes_pot
    st._rounds[task][r].validators_pot = pot - nodes_pot
    st._rounds[task][r].stage = st.STAGE_AGREEMENT
    st._rounds[task][r].cursor = 0
    log RoundRanked(
        task=task, round=r, nodes_pot=nodes_pot, validators_pot=pot - nodes_pot, node_stake=t_stake, validator_stake=s_stake
    )


@internal
def _agreement(task: uint256, r: uint256):
    """
    @dev Validator index `cursor`: if its reveal completed, D_j and F_j from its tally,
         and F_j * w_j added to the round's sum (PROTOCOL.md §6 AGREEMENT).
    """
    j: uint256 = st._rounds[task][r].cursor
    if st._vrounds[task][r][j].revealed:
        dsum: uint256 = 0
        n: uint256 = 0
        covered: uint256 = 0
        available: uint256 = 0
        dsum, n, covered, available = st._unpack_tally(st._tally[task][r][j])
        dev: uint256 = 0
        f: uint256 = 0
        if n != 0:
            dev = dsum // n
            # agreement, scaled by the share of its available assignments it scored
            f = score_math._agreement(dev, st._params[task].tolerance) * covered // available
        st._vrounds[task][r][j].deviation = dev
        st._vrounds[task][r][j].agreement = f
        st._rounds[task][r].sum_f_stake += f * st._vrounds[task][r][j].stake
        log ValidatorScored(task=task, round=r, validator=st._validators[task][j], deviation=dev, agreement=f)
    j += 1
    st._rounds[task][r].cursor = j
    if j >= st._state[task].validator_count:
        st._rounds[task][r].stage = st.STAGE_PAY_NODES
        st._rounds[task][r].cursor = 0


@internal
def _pay_node(task: uint256, r: uint256):
    """
    @dev One committer (first-commit order): a revealed submission is paid by its weight
         (non-void rounds); a commit left unrevealed after the eval reveal (and not
         displaced by an earlier commit of the same model) pays `slash_node_miss`.
    """
    i: uint256 = st._rounds[task][r].cursor
    node: address = st._committers[task][r][i]
    mc: st.ModelCommit = st._mcommits[task][r][node]
    void: bool = st._rounds[task][r].void_reason != st.VOID_NONE
    unserved: bool = False
    if mc.revealed:
        k: uint256 = mc.slot
        g: uint256 = st._subs[task][r][k].weight
        sg: uint256 = st._rounds[task][r].sum_g_stake
        unserved = not void and st._subs[task][r][k].status == score_math.STATUS_UNAVAILABLE
        if not void and g != 0 and sg != 0:
            x: uint256 = st._rounds[task][r].nodes_pot * (g * st._subs[task][r][k].stake) // sg
            if x != 0:
                st._subs[task][r][k].reward = x
                credited: uint256 = self._credit(task, r, node, x)
                st._rounds[task][r].paid += credited
    if unserved or (not mc.revealed and not mc.displaced and st._rounds[task][r].eval_revealed):
        # committed and never revealed after the shard came out, or revealed a model most
        # of the validators' weight could not fetch: the same slash_node_miss
        cut: uint256 = self._slash_own(task, r, node, st._params[task].slash_node_miss, st.SLASH_NODE_MISS)
        st._mcommits[task][r][node].slash = cut
        st._rounds[task][r].slashed += cut
    i += 1
    st._rounds[task][r].cursor = i
    if i == st._rounds[task][r].committer_count:
        if void:
            self._void_validators(task, r)
        else:
            st._rounds[task][r].stage = st.STAGE_PAY_VALIDATORS
            st._rounds[task][r].cursor = 0


@internal
def _pay_validator(task: uint256, r: uint256):
    """
    @dev Validator index `cursor`: a completed reveal is paid by F_j * w_j and slashed
         `slash_dev` above `slash_tau`; an assigned validator without one pays
         `slash_miss` (PROTOCOL.md §6 PAY_VALIDATORS, §8).
    """
    j: uint256 = st._rounds[task][r].cursor
    if st._vrounds[task][r][j].revealed:
        sf: uint256 = st._rounds[task][r].sum_f_stake
        if sf != 0:
            y: uint256 = st._rounds[task][r].validators_pot * (
                st._vrounds[task][r][j].agreement * st._vrounds[task][r][j].stake
            ) // sf
            if y != 0:
                st._vrounds[task][r][j].reward = y
                credited: uint256 = self._credit(task, r, st._validators[task][j], y)
                st._rounds[task][r].paid += credited
        if st._vrounds[task][r][j].deviation > st._params[task].slash_tau:
            cut: uint256 = self._slash(task, r, j, st._params[task].slash_dev, st.SLASH_DEVIATION)
            st._rounds[task][r].slashed += cut
    elif self._assigned(task, r, j):
        miss: uint256 = self._slash(task, r, j, st._params[task].slash_miss, st.SLASH_MISS)
        st._rounds[task][r].slashed += miss
    j += 1
    st._rounds[task][r].cursor = j
    if j >= st._state[task].validator_count:
        self._close(task, r)


@internal
def _close(task: uint256, r: uint256):
    """
    @dev Roll the round over (PROTOCOL.md §6 step 7, §10): a paid round spends its pot's
         emission; a void round rolls it on with the carry. Emission then follows the stake
         that worked in the round (T + S), 0 after a void round or at the task's end; at the
         end, emission still in the carry is burned, never refunded to the creator.
    """
    pot: uint256 = st._rounds[task][r].pot
    paid: uint256 = st._rounds[task][r].paid
    slashed: uint256 = st._rounds[task][r].slashed
    carry: uint256 = pot - paid + slashed
    void: uint256 = st._rounds[task][r].void_reason
    ec: uint256 = 0
    working: uint256 = 0
    if void != st.VOID_NONE:
        ec = st._state[task].emission_carry
    else:
        working = st._rounds[task][r].node_stake + st._rounds[task][r].validator_stake
    st._rounds[task][r].stage = st.STAGE_DONE
    st._state[task].finalized_rounds = r + 1
    log RoundFinalized(task=task, round=r, pot=pot, paid=paid, slashed=slashed, carry=carry, void_reason=void)
    if r + 1 == st._params[task].num_rounds:
        st._state[task].status = st.STATUS_ENDED
        st._state[task].refund = carry - ec
        st._state[task].emission_carry = 0
        log TaskEnded(task=task, refund=carry - ec, emission_burned=ec)
        st._notify(task, 0)
        if ec != 0:
            extcall IBurnable(st._token).burn(ec)
    else:
        st._state[task].carry = carry
        st._state[task].emission_carry = ec
        st._notify(task, working)
