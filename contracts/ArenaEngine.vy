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


@deploy
def __init__():
    """
    @notice Deploy the engine; pass its address to `Arena`'s constructor.
    """
    _SELF = self


@external
def run(task: uint256, max_steps: uint256) -> bool:
    """
    @notice Do up to `max_steps` units of finalization of the next unfinalized round.
    @dev Only through Arena's delegatecall (Arena checked the task, the status, the
         time and max_steps >= 1). Units: PROTOCOL.md §6.
    @param task The task id.
    @param max_steps The maximum units of work.
    @return bool True when the round reached STAGE_DONE.
    """
    assert self != _SELF, "arena: delegatecall only"
    r: uint256 = st._state[task].finalized_rounds
    steps: uint256 = 0
    for _: uint256 in range(st.MAX_FINALIZE_STEPS):
        if steps >= max_steps:
            break
        stage: uint256 = st._rounds[task][r].stage
        if stage == st.STAGE_OPEN:
            self._open(task, r)
        elif stage == st.STAGE_CONSENSUS:
            self._consensus(task, r)
        elif stage == st.STAGE_RANK:
            self._rank(task, r)
        elif stage == st.STAGE_PAY_NODES:
            self._pay_node(task, r)
        else:
            self._pay_validator(task, r)
        steps += 1
        if st._rounds[task][r].stage == st.STAGE_DONE:
            return True
    return False

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
    total: uint256 = st._state[task].total_own_stake - amount
    st._state[task].total_own_stake = total
    log Slashed(task=task, round=r, participant=p, amount=amount, burned=0, reason=reason)
    st._notify(task, total)
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
    total: uint256 = st._state[task].total_own_stake - cut
    st._state[task].total_own_stake = total
    log Slashed(task=task, round=r, participant=p, amount=cut, burned=burned, reason=reason)
    st._notify(task, total)
    if burned != 0:
        extcall IBurnable(st._token).burn(burned)
    return cut


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
    vcount: uint256 = st._state[task].validator_count
    reveals: uint256 = st._rounds[task][r].validator_reveals
    s_total: uint256 = 0
    nrev: uint256 = 0
    for j: uint256 in range(st.MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            w: uint256 = st._eff(task, st._validators[task][j], r)
            st._vrounds[task][r][j].stake = w
            s_total += w
            nrev += 1
    void: uint256 = st.VOID_NONE
    if not st._rounds[task][r].eval_revealed:
        void = st.VOID_NO_EVAL
    elif st._rounds[task][r].num_submissions == 0:
        void = st.VOID_NO_SUBMISSIONS
    elif nrev < st._params[task].min_quorum:
        void = st.VOID_NO_QUORUM
    st._rounds[task][r].pot = pot
    st._rounds[task][r].emission_amount = em
    st._rounds[task][r].validator_stake = s_total
    st._rounds[task][r].void_reason = void
    log RoundOpened(task=task, round=r, pot=pot, emission_amount=em, void_reason=void)
    if void == st.VOID_NONE:
        st._rounds[task][r].stage = st.STAGE_CONSENSUS
        return
    commits: uint256 = st._rounds[task][r].validator_commits
    slashed: uint256 = 0
    frac: uint256 = st._params[task].slash_miss
    for j: uint256 in range(st.MAX_VALIDATORS):
        if j >= vcount:
            break
        if commits & (1 << j) != 0 and reveals & (1 << j) == 0:
            slashed += self._slash(task, r, j, frac, st.SLASH_MISS)
    st._rounds[task][r].slashed = slashed
    if void != st.VOID_NO_EVAL and st._rounds[task][r].committer_count != 0:
        # The shard was out: committed nodes that did not reveal still pay (node pass).
        st._rounds[task][r].stage = st.STAGE_PAY_NODES
        return
    self._close(task, r)


@internal
def _consensus(task: uint256, r: uint256):
    k: uint256 = st._rounds[task][r].cursor
    vcount: uint256 = st._state[task].validator_count
    reveals: uint256 = st._rounds[task][r].validator_reveals
    xs: uint64[st.MAX_VALIDATORS] = empty(uint64[st.MAX_VALIDATORS])
    ws: uint256[st.MAX_VALIDATORS] = empty(uint256[st.MAX_VALIDATORS])
    m: uint256 = 0
    for j: uint256 in range(st.MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            xs[m] = st._score(task, r, j, k)
            ws[m] = st._vrounds[task][r][j].stake
            m += 1
    c: uint64 = score_math._lower_median(xs, ws, m, st._rounds[task][r].validator_stake)
    st._subs[task][r][k].consensus = c
    st._subs[task][r][k].stake = st._eff(task, st._subs[task][r][k].node, r)
    i: uint256 = 0
    for j: uint256 in range(st.MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            st._vrounds[task][r][j].deviation_sum += score_math._deviation(xs[i], c)
            i += 1
    log ConsensusComputed(task=task, round=r, slot=k, consensus=c)
    k += 1
    if k == st._rounds[task][r].num_submissions:
        st._rounds[task][r].stage = st.STAGE_RANK
        k = 0
    st._rounds[task][r].cursor = k


@internal
def _rank(task: uint256, r: uint256):
    n: uint256 = st._rounds[task][r].num_submissions
    baseline: uint64 = st._params[task].baseline_score
    q: uint256 = st._params[task].rank_ratio
    cs: uint64[st.MAX_SUBMISSIONS] = empty(uint64[st.MAX_SUBMISSIONS])
    seqs: uint256[st.MAX_SUBMISSIONS] = empty(uint256[st.MAX_SUBMISSIONS])
    ok: bool[st.MAX_SUBMISSIONS] = empty(bool[st.MAX_SUBMISSIONS])
    g: uint256[st.MAX_SUBMISSIONS] = empty(uint256[st.MAX_SUBMISSIONS])
    for k: uint256 in range(st.MAX_SUBMISSIONS):
        if k >= n:
            break
        c: uint64 = st._subs[task][r][k].consensus
        cs[k] = c
        seqs[k] = st._subs[task][r][k].commit_seq
        ok[k] = c != st.INVALID and (baseline == 0 or c <= baseline)
        if k == 0:
            g[0] = st.WAD
        else:
            g[k] = g[k - 1] * q // st.WAD
    t_stake: uint256 = 0
    sg: uint256 = 0
    for k: uint256 in range(st.MAX_SUBMISSIONS):
        if k >= n:
            break
        if not ok[k]:
            continue
        rank: uint256 = 0
        for m: uint256 in range(st.MAX_SUBMISSIONS):
            if m >= n:
                break
            if ok[m] and (cs[m] < cs[k] or (cs[m] == cs[k] and seqs[m] < seqs[k])):
                rank += 1
        eff: uint256 = st._subs[task][r][k].stake
        st._subs[task][r][k].weight = g[rank]
        t_stake += eff
        sg += g[rank] * eff
    pot: uint256 = st._rounds[task][r].pot
    gamma: uint256 = st._params[task].gamma
    s_stake: uint256 = st._rounds[task][r].validator_stake
    nodes_pot: uint256 = pot * gamma // st.WAD
    if t_stake + s_stake != 0:
        nodes_pot += (pot * (st.WAD - 2 * gamma) // st.WAD) * t_stake // (t_stake + s_stake)
    st._rounds[task][r].nodes_pot = nodes_pot
    st._rounds[task][r].validators_pot = pot - nodes_pot
    st._rounds[task][r].node_stake = t_stake
    st._rounds[task][r].sum_g_stake = sg
    # Validators: D_j, F_j and the agreement-weighted stake.
    vcount: uint256 = st._state[task].validator_count
    reveals: uint256 = st._rounds[task][r].validator_reveals
    tolerance: uint256 = st._params[task].tolerance
    sf: uint256 = 0
    for j: uint256 in range(st.MAX_VALIDATORS):
        if j >= vcount:
            break
        if reveals & (1 << j) != 0:
            dev: uint256 = st._vrounds[task][r][j].deviation_sum // n
            f: uint256 = score_math._agreement(dev, tolerance)
            st._vrounds[task][r][j].deviation = dev
            st._vrounds[task][r][j].agreement = f
            sf += f * st._vrounds[task][r][j].stake
            log ValidatorScored(task=task, round=r, validator=st._validators[task][j], deviation=dev, agreement=f)
    st._rounds[task][r].sum_f_stake = sf
    st._rounds[task][r].stage = st.STAGE_PAY_NODES
    log RoundRanked(
        task=task, round=r, nodes_pot=nodes_pot, validators_pot=pot - nodes_pot, node_stake=t_stake, validator_stake=s_stake
    )


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
    if mc.revealed:
        k: uint256 = mc.slot
        g: uint256 = st._subs[task][r][k].weight
        sg: uint256 = st._rounds[task][r].sum_g_stake
        if not void and g != 0 and sg != 0:
            x: uint256 = st._rounds[task][r].nodes_pot * (g * st._subs[task][r][k].stake) // sg
            if x != 0:
                st._subs[task][r][k].reward = x
                credited: uint256 = self._credit(task, r, node, x)
                st._rounds[task][r].paid += credited
    elif not mc.displaced and st._rounds[task][r].eval_revealed:
        cut: uint256 = self._slash_own(task, r, node, st._params[task].slash_node_miss, st.SLASH_NODE_MISS)
        st._mcommits[task][r][node].slash = cut
        st._rounds[task][r].slashed += cut
    i += 1
    st._rounds[task][r].cursor = i
    if i == st._rounds[task][r].committer_count:
        if void:
            self._close(task, r)
        else:
            st._rounds[task][r].stage = st.STAGE_PAY_VALIDATORS
            st._rounds[task][r].cursor = 0


@internal
def _pay_validator(task: uint256, r: uint256):
    j: uint256 = st._rounds[task][r].cursor
    bit: uint256 = 1 << j
    if st._rounds[task][r].validator_reveals & bit != 0:
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
    elif st._rounds[task][r].validator_commits & bit != 0:
        miss: uint256 = self._slash(task, r, j, st._params[task].slash_miss, st.SLASH_MISS)
        st._rounds[task][r].slashed += miss
    j += 1
    st._rounds[task][r].cursor = j
    if j >= st._state[task].validator_count:
        self._close(task, r)


@internal
def _close(task: uint256, r: uint256):
    pot: uint256 = st._rounds[task][r].pot
    paid: uint256 = st._rounds[task][r].paid
    slashed: uint256 = st._rounds[task][r].slashed
    carry: uint256 = pot - paid + slashed
    st._rounds[task][r].stage = st.STAGE_DONE
    st._state[task].finalized_rounds = r + 1
    log RoundFinalized(
        task=task, round=r, pot=pot, paid=paid, slashed=slashed, carry=carry, void_reason=st._rounds[task][r].void_reason
    )
    if r + 1 == st._params[task].num_rounds:
        st._state[task].status = st.STATUS_ENDED
        st._state[task].refund = carry
        log TaskEnded(task=task, refund=carry)
        st._notify(task, 0)
    else:
        st._state[task].carry = carry
