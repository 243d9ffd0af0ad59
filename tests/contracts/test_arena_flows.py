"""Arena on anvil: the happy path of every external function, each state change with its event.

Amounts are checked against the exact arithmetic of contracts/PROTOCOL.md (arena_helpers'
reference functions), not against numbers read back from the contract.
"""

import ape
import pytest

from .arena_helpers import (
    BOUNTY,
    E18,
    INVALID,
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_EVAL,
    PHASE_NOT_STARTED,
    PHASE_REVEAL,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    SCORED,
    STAGE_DONE,
    STAGE_OPEN,
    STATUS_ACTIVE,
    STATUS_CANCELLED,
    STATUS_ENDED,
    UNSCORED,
    VALIDATOR,
    VOID_NO_EVAL,
    VOID_NO_QUORUM,
    VOID_NO_SUBMISSIONS,
    VOID_NONE,
    WAD,
    ZERO_ADDRESS,
    expected_round,
    log,
    model_commitment,
    rank_weight,
    score_commitment,
    sha,
    slash_amount,
    split,
)

MODEL_A, MODEL_B = sha("model-a"), sha("model-b")


# ---- deployment ------------------------------------------------------------------------------
def test_deployment_state(arena, arena_token, owner):
    assert arena.token() == arena_token.address
    assert arena.emission() == ZERO_ADDRESS
    assert arena.owner() == owner.address
    assert arena.pending_owner() == ZERO_ADDRESS
    assert not arena.paused()
    assert arena.task_count() == 0
    assert (arena.MAX_SUBMISSIONS(), arena.MAX_VOTES(), arena.MAX_ROUNDS()) == (1024, 256, 64)
    assert arena.INVALID() == INVALID
    assert arena.MAX_FINALIZE_STEPS() == 320
    assert arena.PROTOCOL_VERSION() == 2  # what clients check (contracts/PROTOCOL.md)


# ---- create_task / cancel_task / claim_refund -------------------------------------------------
def test_create_task_pulls_bounty_stores_params_and_emits(
    arena, arena_token, creator, make_task, chain
):
    before = arena_token.balanceOf(creator)
    t = make_task(num_rounds=3, spec_uri="ipfs://spec")
    assert t.id == 1 and arena.task_count() == 1
    assert arena_token.balanceOf(creator) == before - BOUNTY
    assert arena_token.balanceOf(arena) == BOUNTY
    stored = arena.task_params(t.id)
    for name, value in t.params.items():
        assert getattr(stored, name) == value, name
    st = t.state()
    assert (st.creator, st.status, st.finalized_rounds, st.carry, st.participant_count) == (
        creator.address,
        STATUS_ACTIVE,
        0,
        0,
        0,
    )
    assert st.round_length == 500
    assert arena.current_round(t.id) == -1
    assert arena.current_phase(t.id) == PHASE_NOT_STARTED
    assert arena.round_start(t.id, 2) == t.start + 1000
    assert [arena.phase_end(t.id, 1, p) for p in (1, 2, 3, 4, 5)] == [
        t.start + 500 + 100 * i for i in (1, 2, 3, 4, 5)
    ]


def test_create_task_event_fields(arena, creator, make_task):
    first = make_task()
    t = make_task(num_rounds=2, spec_uri="ipfs://x")
    assert t.id == first.id + 1 and t.created.return_value == t.id
    p = t.params
    assert log(t.created, arena.TaskCreated) == [
        arena.TaskCreated(
            task=t.id,
            creator=creator,
            bounty=BOUNTY,
            num_rounds=2,
            start_time=p["start_time"],
            spec_hash=p["spec_hash"],
            eval_root=p["eval_root"],
            spec_uri="ipfs://x",
        )
    ]


def test_create_task_start_zero_means_now(arena, make_task, chain):
    t = make_task(start_time=0)
    assert arena.task_params(t.id).start_time == chain.blocks.head.timestamp
    assert arena.current_round(t.id) == 0
    assert arena.current_phase(t.id) == PHASE_COMMIT


def test_cancel_task_refunds_bounty(arena, arena_token, creator, make_task):
    t = make_task()
    before = arena_token.balanceOf(creator)
    tx = arena.cancel_task(t.id, sender=creator)
    assert log(tx, arena.TaskCancelled) == [
        arena.TaskCancelled(task=t.id, creator=creator, refund=BOUNTY)
    ]
    assert t.state().status == STATUS_CANCELLED
    assert arena_token.balanceOf(creator) == before + BOUNTY
    assert arena_token.balanceOf(arena) == 0


# ---- join / delegate --------------------------------------------------------------------------
def test_join_first_time_and_top_up(arena, arena_token, node, validator, make_task):
    t = make_task(num_rounds=3)
    before = arena_token.balanceOf(node)
    tx = t.join(node, NODE, 15 * E18, WAD // 10)
    assert log(tx, arena.Joined) == [
        arena.Joined(task=t.id, participant=node, role=NODE, commission=WAD // 10)
    ]
    assert log(tx, arena.Staked) == [
        arena.Staked(
            task=t.id, participant=node, amount=15 * E18, activation_round=0, own_total=15 * E18
        )
    ]
    assert arena_token.balanceOf(node) == before - 15 * E18
    p = t.part(node)
    assert (p.role, p.commission, p.own_pending, p.pending_round, p.own_active) == (
        NODE,
        WAD // 10,
        15 * E18,
        0,
        0,
    )
    assert arena.own_stake(t.id, node, 0) == 15 * E18

    tx = t.join(validator, VALIDATOR, MIN_STAKE)
    assert log(tx, arena.Joined)[0].role == VALIDATOR
    assert arena.validators(t.id, 0, 10) == [validator.address]
    assert t.part(validator).validator_index == 0

    # Top-up during round 0: no Joined, activates in round 1.
    t.warp(0, PHASE_COMMIT)
    tx = t.join(node, NODE, 5 * E18, WAD // 10)
    assert log(tx, arena.Joined) == []
    assert log(tx, arena.Staked) == [
        arena.Staked(
            task=t.id, participant=node, amount=5 * E18, activation_round=1, own_total=20 * E18
        )
    ]
    assert arena.own_stake(t.id, node, 0) == 15 * E18
    assert arena.own_stake(t.id, node, 1) == 20 * E18
    st = t.state()
    assert (st.participant_count, st.validator_count, st.total_own_stake) == (2, 1, 30 * E18)


def test_delegate_records_position_and_emits(arena, arena_token, node, delegator, make_task):
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    before = arena_token.balanceOf(delegator)
    tx = t.delegate(delegator, node, 7 * E18)
    assert log(tx, arena.Delegated) == [
        arena.Delegated(
            task=t.id, participant=node, delegator=delegator, amount=7 * E18, activation_round=0
        )
    ]
    assert arena_token.balanceOf(delegator) == before - 7 * E18
    d = arena.delegation(t.id, node, delegator)
    assert (d.pending, d.pending_round, d.shares, d.earned, d.claimed) == (7 * E18, 0, 0, 0, 0)
    assert arena.delegated_stake(t.id, node, 0) == 7 * E18
    assert arena.effective_stake(t.id, node, 0) == MIN_STAKE + 7 * E18
    t.warp(0, PHASE_REVEAL)
    tx = t.delegate(delegator, node, 3 * E18)
    assert log(tx, arena.Delegated)[0].activation_round == 1
    assert arena.effective_stake(t.id, node, 0) == MIN_STAKE + 7 * E18
    assert arena.effective_stake(t.id, node, 1) == MIN_STAKE + 10 * E18


# ---- commit / reveal ----------------------------------------------------------------------
def test_commit_model_and_recommit(arena, node, node2, make_task):
    t = make_task()
    t.join(node, NODE)
    t.join(node2, NODE)
    t.warp(0, PHASE_COMMIT)
    c = model_commitment(MODEL_A, node.address, t.id, 0)
    assert arena.model_commitment(MODEL_A, node, t.id, 0) == c
    tx = arena.commit_model(t.id, c, sender=node)
    assert log(tx, arena.ModelCommitted) == [
        arena.ModelCommitted(task=t.id, round=0, node=node, commitment=c, seq=0)
    ]
    t.commit_model(node2, MODEL_B, 0)
    c2 = model_commitment(MODEL_B, node.address, t.id, 0)
    tx = arena.commit_model(t.id, c2, sender=node)  # re-commit: overwrites, new larger seq
    assert log(tx, arena.ModelCommitted) == [
        arena.ModelCommitted(task=t.id, round=0, node=node, commitment=c2, seq=2)
    ]
    mc = arena.model_commit(t.id, 0, node)
    assert (mc.commitment, mc.seq, mc.committed, mc.revealed) == (c2, 2, True, False)
    assert t.round(0).commit_count == 3


def test_reveal_model_and_eval(arena, creator, node, make_task):
    t = make_task(num_rounds=3)
    t.join(node, NODE)
    t.warp(1, PHASE_COMMIT)  # round 0 was never finalized: commits do not need it
    t.commit_model(node, MODEL_A, 1)
    t.warp(1, PHASE_EVAL)
    tx = t.reveal_eval(1)
    assert log(tx, arena.EvalRevealed) == [
        arena.EvalRevealed(
            task=t.id, round=1, shard_sha256=t.shards[1], shard_uri="file://shard1.npz"
        )
    ]
    t.warp(1, PHASE_REVEAL)
    tx = t.reveal_model(node, MODEL_A, "ipfs://model-a")
    assert log(tx, arena.ModelRevealed) == [
        arena.ModelRevealed(
            task=t.id, round=1, node=node, slot=0, model_sha256=MODEL_A, uri="ipfs://model-a"
        )
    ]
    sub = arena.submission(t.id, 1, 0)
    assert (sub.node, sub.model_sha256, sub.uri, sub.commit_seq) == (
        node.address,
        MODEL_A,
        "ipfs://model-a",
        0,
    )
    assert arena.model_owner(t.id, MODEL_A) == node.address
    assert arena.model_commit(t.id, 1, node).revealed
    assert arena.committer(t.id, 1, 0) == node.address
    info = t.round(1)
    assert (info.eval_revealed, info.shard_sha256, info.num_submissions) == (True, t.shards[1], 1)
    assert info.committer_count == 1


def test_commit_and_reveal_scores(arena, node, validator, make_task):
    t = make_task()
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node, MODEL_A, 0)
    t.open_reveals(0)
    t.reveal_model(node, MODEL_A)
    t.warp(0, PHASE_SCORE_COMMIT)
    scores, salt = [123_456_789], sha("salt")
    c = score_commitment(t.id, 0, validator.address, scores, salt)
    assert arena.score_commitment(t.id, 0, validator, scores, salt) == c
    tx = arena.commit_scores(t.id, c, sender=validator)
    assert log(tx, arena.ScoresCommitted) == [
        arena.ScoresCommitted(task=t.id, round=0, validator=validator, commitment=c)
    ]
    vr = arena.validator_round(t.id, 0, validator)
    assert (vr.commitment, vr.committed, vr.revealed) == (c, True, False)
    assert t.round(0).validator_commit_count == 1
    t.warp(0, PHASE_SCORE_REVEAL)
    tx = arena.reveal_scores(t.id, scores, salt, sender=validator)
    assert log(tx, arena.ScoresRevealed) == [
        arena.ScoresRevealed(task=t.id, round=0, validator=validator, scores=scores)
    ]
    assert arena.validator_scores(t.id, 0, validator) == scores
    assert arena.validator_round(t.id, 0, validator).revealed
    assert t.round(0).validator_reveal_count == 1


def test_scores_pack_round_trip_with_invalid(arena, node, node2, node3, validator, make_task):
    t = make_task()
    for n in (node, node2, node3):
        t.join(n, NODE)
    t.join(validator, VALIDATOR)
    scores = [INVALID, 0, 2**63 + 5]
    t.play_round(0, {node: sha("a"), node2: sha("b"), node3: sha("c")}, {validator: scores})
    assert arena.validator_scores(t.id, 0, validator) == scores


def test_phases_follow_the_clock(arena, make_task):
    t = make_task(num_rounds=2)
    for phase in (PHASE_COMMIT, PHASE_EVAL, PHASE_REVEAL, PHASE_SCORE_COMMIT, PHASE_SCORE_REVEAL):
        t.warp(0, phase)
        assert arena.current_phase(t.id) == phase
    t.warp(1, PHASE_COMMIT)
    assert arena.current_round(t.id) == 1
    t.warp(1, PHASE_ENDED)
    assert arena.current_phase(t.id) == PHASE_ENDED
    assert arena.current_round(t.id) == 2


# ---- finalize: a full 2 nodes x 2 validators round with a delegator -------------------------
@pytest.fixture
def scored_round(arena, make_task, node, node2, validator, validator2, delegator):
    """Round 0 of a 1-round task played up to the end of SCORE_REVEAL (not finalized)."""
    t = make_task()
    t.join(node, NODE, 20 * E18, WAD // 10)
    t.join(node2, NODE, 10 * E18, 0)
    t.join(validator, VALIDATOR, 30 * E18, 0)
    t.join(validator2, VALIDATOR, 10 * E18, WAD // 5)
    t.delegate(delegator, node, 10 * E18)
    scores = {validator: [400_000_000, 600_000_000], validator2: [400_000_000, 700_000_000]}
    t.play_round(0, {node: MODEL_A, node2: MODEL_B}, scores)
    t.warp(0, PHASE_ENDED)
    exp = expected_round(
        t.params,
        BOUNTY,
        [30 * E18, 10 * E18],
        [0, 1],
        [(30 * E18, scores[validator]), (10 * E18, scores[validator2])],
    )
    return t, exp


def test_finalize_full_round_events_and_arithmetic(
    arena, scored_round, node, node2, validator, validator2, attacker
):
    t, exp = scored_round
    assert exp["c"] == [400_000_000, 600_000_000] and exp["D"][0] == 0 and exp["D"][1] > 0
    tx = t.finalize(attacker)  # anyone may finalize
    assert tx.return_value is True
    assert log(tx, arena.RoundOpened) == [
        arena.RoundOpened(task=t.id, round=0, pot=BOUNTY, emission_amount=0, void_reason=VOID_NONE)
    ]
    assert log(tx, arena.ConsensusComputed) == [
        arena.ConsensusComputed(task=t.id, round=0, slot=k, consensus=exp["c"][k]) for k in range(2)
    ]
    assert log(tx, arena.ValidatorScored) == [
        arena.ValidatorScored(
            task=t.id, round=0, validator=v, deviation=exp["D"][j], agreement=exp["F"][j]
        )
        for j, v in enumerate((validator, validator2))
    ]
    assert log(tx, arena.RoundRanked) == [
        arena.RoundRanked(
            task=t.id,
            round=0,
            nodes_pot=exp["nodes_pot"],
            validators_pot=exp["validators_pot"],
            node_stake=exp["T"],
            validator_stake=exp["S"],
        )
    ]
    own_del = {node: (20 * E18, 10 * E18, WAD // 10), node2: (10 * E18, 0, 0)}
    own_del |= {validator: (30 * E18, 0, 0), validator2: (10 * E18, 0, WAD // 5)}
    amounts = list(zip((node, node2), exp["x"], strict=True)) + list(
        zip((validator, validator2), exp["y"], strict=True)
    )
    expected_rewards = []
    paid = 0
    for who, x in amounts:
        owner_part, dpaid = split(x, *own_del[who])
        paid += owner_part + dpaid
        expected_rewards.append(
            arena.Rewarded(
                task=t.id,
                round=0,
                participant=who,
                amount=x,
                owner_part=owner_part,
                delegator_part=dpaid,
            )
        )
    assert log(tx, arena.Rewarded) == expected_rewards
    assert log(tx, arena.Slashed) == []  # D_2 = 1/12 < slash_tau = 0.2
    assert log(tx, arena.RoundFinalized) == [
        arena.RoundFinalized(
            task=t.id,
            round=0,
            pot=BOUNTY,
            paid=paid,
            slashed=0,
            carry=BOUNTY - paid,
            void_reason=VOID_NONE,
        )
    ]
    assert log(tx, arena.TaskEnded) == [
        arena.TaskEnded(task=t.id, refund=BOUNTY - paid, emission_burned=0)
    ]
    st = t.state()
    assert (st.status, st.finalized_rounds, st.refund) == (STATUS_ENDED, 1, BOUNTY - paid)
    info = t.round(0)
    assert (info.stage, info.paid, info.sum_g_stake, info.sum_f_stake) == (
        STAGE_DONE,
        paid,
        exp["SG"],
        exp["SF"],
    )
    sub = arena.submission(t.id, 0, 0)
    assert (sub.consensus, sub.stake, sub.weight, sub.reward) == (
        exp["c"][0],
        30 * E18,
        WAD,
        exp["x"][0],
    )
    vr = arena.validator_round(t.id, 0, validator2)
    assert (vr.stake, vr.deviation, vr.agreement, vr.reward, vr.slash) == (
        10 * E18,
        exp["D"][1],
        exp["F"][1],
        exp["y"][1],
        0,
    )


def test_finalize_paginated_gives_same_result(arena, scored_round, attacker):
    t, exp = scored_round
    results = []
    for _ in range(20):
        tx = t.finalize(attacker, 1)
        results.append(tx.return_value)
        if tx.return_value:
            break
    # OPEN 1 + CONSENSUS 2 + RANK 2 (one per eligible) + AGREEMENT 2 + PAY_NODES 2
    # + PAY_VALIDATORS 2 = 11.
    assert results == [False] * 10 + [True]
    assert t.state().status == STATUS_ENDED
    assert [arena.submission(t.id, 0, k).reward for k in range(2)] == exp["x"]
    assert t.round(0).cursor == 2 and t.round(0).stage == STAGE_DONE


# ---- claim / withdraw / claim_refund ----------------------------------------------------------
def test_claims_vest_delta_then_all_and_withdraw(
    arena,
    arena_token,
    scored_round,
    creator,
    node,
    node2,
    validator,
    validator2,
    delegator,
    attacker,
):
    t, exp = scored_round
    # A 2-round twin is needed to see vesting while ACTIVE; here check the ENDED path fully.
    t.finalize(attacker)
    owner_part, dpaid = split(exp["x"][0], 20 * E18, 10 * E18, WAD // 10)
    assert arena.claimable(t.id, node, node) == owner_part
    before = arena_token.balanceOf(node)
    tx = arena.claim(t.id, node, sender=node)
    assert tx.return_value == owner_part
    assert log(tx, arena.Claimed) == [
        arena.Claimed(task=t.id, participant=node, account=node, amount=owner_part)
    ]
    assert arena_token.balanceOf(node) == before + owner_part
    assert arena.claimable(t.id, node, delegator) == dpaid
    tx = arena.claim(t.id, node, sender=delegator)
    assert log(tx, arena.Claimed) == [
        arena.Claimed(task=t.id, participant=node, account=delegator, amount=dpaid)
    ]
    d = arena.delegation(t.id, node, delegator)
    # never slashed: one share is one token
    assert (d.shares, d.pending, d.earned, d.claimed) == (10 * E18, 0, dpaid, dpaid)

    assert arena.withdrawable(t.id, node, delegator) == 10 * E18
    tx = arena.withdraw(t.id, node, sender=delegator)
    assert tx.return_value == 10 * E18
    assert log(tx, arena.Withdrawn) == [
        arena.Withdrawn(task=t.id, participant=node, account=delegator, amount=10 * E18)
    ]
    assert arena.withdrawable(t.id, node, node) == 20 * E18
    tx = arena.withdraw(t.id, node, sender=node)
    assert log(tx, arena.Withdrawn) == [
        arena.Withdrawn(task=t.id, participant=node, account=node, amount=20 * E18)
    ]

    for who in (node2, validator, validator2):
        if arena.claimable(t.id, who, who):
            arena.claim(t.id, who, sender=who)
        arena.withdraw(t.id, who, sender=who)
    refund = t.state().refund
    tx = arena.claim_refund(t.id, sender=creator)
    assert tx.return_value == refund
    assert log(tx, arena.RefundClaimed) == [
        arena.RefundClaimed(task=t.id, creator=creator, amount=refund)
    ]
    assert t.state().refund_claimed
    # Everything went out: no rounding debt, dust (if any) < 100 wei.
    assert arena_token.balanceOf(arena) < 100


def test_rewards_vest_delta_while_active(
    arena, arena_token, make_task, node, validator, delegator, creator
):
    t = make_task(num_rounds=2, delta=WAD // 4)
    t.join(node, NODE, 10 * E18, 0)
    t.join(validator, VALIDATOR)
    t.delegate(delegator, node, 10 * E18)
    t.play_round(0, {node: MODEL_A}, {validator: [500_000_000]}, finalize_by=creator)
    earned = t.part(node).owner_earned
    assert earned > 0 and t.state().status == STATUS_ACTIVE
    assert arena.claimable(t.id, node, node) == earned // 4
    tx = arena.claim(t.id, node, sender=node)
    assert tx.return_value == earned // 4
    d_claimable = arena.claimable(t.id, node, delegator)
    assert d_claimable > 0
    assert arena.claim(t.id, node, sender=delegator).return_value == d_claimable
    assert arena.withdrawable(t.id, node, node) == 0  # locked until the task ends
    # Round 1 void (no eval): after it the rest vests.
    t.warp(1, PHASE_ENDED)
    t.finalize(creator)
    assert t.state().status == STATUS_ENDED
    assert arena.claimable(t.id, node, node) == earned - earned // 4


# ---- void rounds ----------------------------------------------------------------------------
@pytest.mark.parametrize("why", [VOID_NO_EVAL, VOID_NO_SUBMISSIONS, VOID_NO_QUORUM])
def test_void_round_rolls_pot_over(arena, make_task, node, validator, creator, why):
    t = make_task(num_rounds=2, min_committee=1)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    models = {} if why == VOID_NO_SUBMISSIONS else {node: MODEL_A}
    # without the eval shard no model can be revealed: the round has no submissions to score
    revealed = 0 if why == VOID_NO_EVAL else len(models)
    scores = {} if why == VOID_NO_QUORUM else {validator: [5] * revealed}
    t.play_round(0, models, scores, reveal_eval=why != VOID_NO_EVAL)
    # the node that committed without the shard being out is not slashed (slashed=0 below)
    t.warp(0, PHASE_ENDED)
    half = BOUNTY // 2
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened) == [
        arena.RoundOpened(task=t.id, round=0, pot=half, emission_amount=0, void_reason=why)
    ]
    assert log(tx, arena.RoundFinalized) == [
        arena.RoundFinalized(
            task=t.id, round=0, pot=half, paid=0, slashed=0, carry=half, void_reason=why
        )
    ]
    assert log(tx, arena.Rewarded) == []
    assert t.state().carry == half
    # Round 1 void as well: everything goes back to the creator.
    t.warp(1, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].pot == BOUNTY
    assert log(tx, arena.TaskEnded) == [
        arena.TaskEnded(task=t.id, refund=BOUNTY, emission_burned=0)
    ]


def test_void_round_still_slashes_missing_reveal(
    arena, make_task, node, validator, validator2, creator
):
    """No validator completed a score reveal: VOID_NO_QUORUM, and the assigned validators
    that committed and did not reveal still pay slash_miss."""
    t = make_task()
    t.join(node, NODE)
    t.join(validator, VALIDATOR, 40 * E18)
    t.join(validator2, VALIDATOR, 30 * E18)
    t.play_round(
        0, {node: MODEL_A}, {validator: [5], validator2: [5]}, no_reveal=(validator, validator2)
    )
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    cuts = [
        slash_amount(40 * E18, t.params["slash_miss"]),
        slash_amount(30 * E18, t.params["slash_miss"]),
    ]
    assert log(tx, arena.RoundOpened)[0].void_reason == VOID_NO_QUORUM
    assert log(tx, arena.Slashed) == [
        arena.Slashed(task=t.id, round=0, participant=validator, amount=cuts[0], reason=1),
        arena.Slashed(task=t.id, round=0, participant=validator2, amount=cuts[1], reason=1),
    ]
    assert log(tx, arena.TaskEnded) == [
        arena.TaskEnded(task=t.id, refund=BOUNTY + sum(cuts), emission_burned=0)
    ]
    assert t.part(validator2).slashed == cuts[1]
    assert arena.withdrawable(t.id, validator2, validator2) == 30 * E18 - cuts[1]


def test_short_committee_leaves_submission_unscored(
    arena, make_task, node, validator, validator2, creator
):
    """DESIGN §3.4: a submission whose committee has fewer than min_committee completed
    reveals is unscored (no rank weight, nobody slashed over it); the round itself counts
    and the validator that did not reveal still pays slash_miss."""

    def play(min_committee):
        """One node, two validators; validator2 commits and never reveals."""
        t = make_task(min_committee=min_committee)
        t.join(node, NODE)
        t.join(validator, VALIDATOR, 40 * E18)
        t.join(validator2, VALIDATOR, 30 * E18)
        scores = {validator: [5], validator2: [9]}
        t.play_round(0, {node: MODEL_A}, scores, no_reveal=(validator2,))
        t.warp(0, PHASE_ENDED)
        return t, t.finalize(creator)

    t, tx = play(2)
    cut = slash_amount(30 * E18, t.params["slash_miss"])
    assert log(tx, arena.RoundOpened)[0].void_reason == VOID_NONE
    assert log(tx, arena.ConsensusComputed) == [
        arena.ConsensusComputed(task=t.id, round=0, slot=0, consensus=0, status=UNSCORED)
    ]
    assert log(tx, arena.Slashed) == [
        arena.Slashed(task=t.id, round=0, participant=validator2, amount=cut, reason=1)
    ]
    sub = arena.submission(t.id, 0, 0)
    assert (sub.weight, sub.reward) == (0, 0)
    assert t.part(validator).slashed == 0
    assert arena.claimable(t.id, node, node) == 0
    # with min_committee = 1 the same reveals score the submission (control)
    t1, tx = play(1)
    assert log(tx, arena.ConsensusComputed)[0].status == SCORED
    assert arena.submission(t1.id, 0, 0).weight == WAD


def test_invalid_and_baseline_get_no_node_reward(
    arena, make_task, node, node2, node3, validator, creator
):
    t = make_task(baseline_score=600_000_000)
    for n in (node, node2, node3):
        t.join(n, NODE)
    t.join(validator, VALIDATOR)
    scores = [500_000_000, INVALID, 700_000_000]
    t.play_round(
        0,
        {node: sha("a"), node2: sha("b"), node3: sha("c")},
        {validator: scores},
        finalize_by=creator,
    )
    weights = [arena.submission(t.id, 0, k).weight for k in range(3)]
    rewards = [arena.submission(t.id, 0, k).reward for k in range(3)]
    assert weights == [WAD, 0, 0]
    assert rewards[0] > 0 and rewards[1:] == [0, 0]
    assert t.round(0).node_stake == MIN_STAKE  # T counts only eligible nodes


# ---- owner: pause, ownership ----------------------------------------------------------------
def test_pause_unpause_events(arena, owner):
    tx = arena.pause(sender=owner)
    assert [e.event_name for e in tx.events] == ["Paused"]
    assert tx.events[0].account == owner.address
    assert arena.paused()
    tx = arena.unpause(sender=owner)
    assert [e.event_name for e in tx.events] == ["Unpaused"]
    assert not arena.paused()


def test_two_step_ownership_transfer_and_renounce(arena, owner, non_owner):
    tx = arena.transfer_ownership(non_owner, sender=owner)
    assert tx.events[0].event_name == "OwnershipTransferStarted"
    assert arena.pending_owner() == non_owner.address and arena.owner() == owner.address
    tx = arena.accept_ownership(sender=non_owner)
    assert tx.events[-1].event_name == "OwnershipTransferred"
    assert arena.owner() == non_owner.address and arena.pending_owner() == ZERO_ADDRESS
    arena.pause(sender=non_owner)
    arena.unpause(sender=non_owner)
    with ape.reverts("ownable: caller is not the owner"):
        arena.pause(sender=owner)
    tx = arena.renounce_ownership(sender=non_owner)
    assert arena.owner() == ZERO_ADDRESS
    with ape.reverts("ownable: caller is not the owner"):
        arena.pause(sender=non_owner)


def test_exact_ties_earn_once_for_the_earlier_commit(
    arena, make_task, node, node2, node3, validator, creator
):
    """Equal consensus falls in one ε bucket: only the earlier commit (smaller key) earns,
    whatever the reveal order; the best earns g = 1 and the bucket's winner q^t."""
    t = make_task(rank_ratio=WAD // 2, rank_epsilon=WAD // 100)
    for n in (node, node2, node3):
        t.join(n, NODE)
    t.join(validator, VALIDATOR)
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node2, sha("b"), 0)  # seq 0
    t.commit_model(node, sha("a"), 0)  # seq 1
    t.commit_model(node3, sha("c"), 0)  # seq 2
    t.open_reveals(0)
    for n, m in ((node, "a"), (node3, "c"), (node2, "b")):  # slots 0, 1, 2
        t.reveal_model(n, sha(m))
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [500_000_000, 400_000_000, 500_000_000], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    t.finalize(creator)
    weights = {
        arena.submission(t.id, 0, k).node: arena.submission(t.id, 0, k).weight for k in range(3)
    }
    # node3 (0.4) is the best; node2 and node (0.5) tie, 25 epsilons behind: node2 committed
    # earlier and earns 0.5^25, node nothing.
    g = rank_weight(500_000_000, 400_000_000, WAD // 2, WAD // 100)
    assert abs(g - WAD // 2**25) <= 25
    assert weights == {node3.address: WAD, node2.address: g, node.address: 0}


# ---- delegators of a slashed participant may leave early ---------------------------------
def test_delegators_of_a_slashed_validator_may_leave_between_finalizations(
    arena, arena_token, make_task, creator, node, validator, validator2, delegator, delegator2
):
    t = make_task(num_rounds=3, slash_miss=WAD // 5, min_committee=1)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.join(validator2, VALIDATOR, 50 * E18)
    t.delegate(delegator, validator2, 40 * E18)  # backs the one that will miss
    t.delegate(delegator2, validator, 40 * E18)  # backs an honest one
    t.play_round(0, {node: MODEL_A}, {validator: [5], validator2: [5]}, no_reveal=(validator2,))
    t.warp(0, PHASE_ENDED)
    with ape.reverts("arena: task not ended"):  # nobody slashed yet: locked
        arena.withdraw(t.id, validator2, sender=delegator)
    tx = t.finalize(creator)
    assert log(tx, arena.Slashed)[0].burned == 8 * E18  # a fifth of 40
    assert t.part(validator2).slash_round == 1
    value = arena.delegation_value(t.id, validator2, delegator)
    assert value == 32 * E18 and arena.withdrawable(t.id, validator2, delegator) == value
    # the validator's own stake and the honest validator's delegators stay locked
    with ape.reverts("arena: task not ended"):
        arena.withdraw(t.id, validator2, sender=validator2)
    with ape.reverts("arena: task not ended"):
        arena.withdraw(t.id, validator, sender=delegator2)
    assert arena.withdrawable(t.id, validator, delegator2) == 0

    # Round 1 played (validator2 sits on the committee and misses again: slashed again);
    # while its finalize is paged, nobody leaves (weights are fixed at OPEN).
    t.play_round(1, {node: MODEL_B}, {validator: [5]})
    assert arena.is_assigned(t.id, 1, 0, validator2)
    t.warp(1, PHASE_ENDED)
    arena.finalize(t.id, 1, [], sender=creator)  # OPEN only: no order needed yet
    assert t.round(1).stage != STAGE_OPEN
    with ape.reverts("arena: round being finalized"):
        arena.withdraw(t.id, validator2, sender=delegator)
    assert arena.withdrawable(t.id, validator2, delegator) == 0
    t.finalize(creator)
    value = arena.delegation_value(t.id, validator2, delegator)
    assert value == 32 * E18 * 4 // 5  # the second miss took a fifth again
    before = arena_token.balanceOf(delegator)
    tx = arena.withdraw(t.id, validator2, sender=delegator)
    assert log(tx, arena.Withdrawn)[0].amount == value
    assert arena_token.balanceOf(delegator) == before + value
    assert arena.effective_stake(t.id, validator2, 2) == 32 * E18  # 50 - 10 - 8 own, 0 delegated
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, validator2, sender=delegator)
