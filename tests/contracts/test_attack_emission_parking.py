"""Attack (review finding 6): with Emission on, version 1 split the emission by each task's
total own stake. A task with a 1-wei bounty and parked sybil stake drew 1,386 of the emission
against 13.9 for a real task, and because its rounds were void, their emission rolled into
the refund: the creator took it home.

Now Emission follows the stake that worked in a round that paid out (node stake of the
eligible submissions plus the revealing validators' stake, reported when the round closes;
0 after a void round), and a void round's emission rolls on to the next round with the carry;
what is still carried at the task's end is burned, never refunded (PROTOCOL.md §10)."""

import pytest

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_EVAL,
    PHASE_REVEAL,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    log,
    new_task,
    sha,
)

RATE = 10**18  # one token per second
PARKED = 1_000 * E18
WORKING = 10 * E18


@pytest.fixture(scope="module")
def em(project, owner, actors):
    """A deployment with Emission: (token, emission, arena); every actor funded."""
    token = owner.deploy(project.ArenaToken, 10**30, 10**27)
    emission = owner.deploy(project.Emission, token, 10 * RATE)
    engine = owner.deploy(project.ArenaEngine)
    rounds = owner.deploy(project.ArenaRounds)
    arena = owner.deploy(project.Arena, token, emission, engine, rounds)
    emission.set_arena(arena, sender=owner)
    token.set_minter(emission, True, sender=owner)
    emission.set_rate(RATE, sender=owner)
    for who in actors:
        token.transfer(who, 100_000 * E18, sender=owner)
        token.approve(arena, 2**256 - 1, sender=who)
    return token, emission, arena


def lockstep(tasks, rnd, plays):
    """Drive round `rnd` of tasks sharing one clock, phase by phase. plays: task ->
    (node, validator, reveal_eval) or None (nobody acts: the round is void)."""
    t0 = tasks[0]
    t0.warp(rnd, PHASE_COMMIT)
    for t in tasks:
        if plays[t.id]:
            node, _, _ = plays[t.id]
            t.commit_model(node, sha(f"m-{t.id}-{rnd}"), rnd)
    t0.warp(rnd, PHASE_EVAL)
    for t in tasks:
        if plays[t.id] and plays[t.id][2]:
            t.reveal_eval(rnd)
    t0.warp(rnd, PHASE_REVEAL)
    for t in tasks:
        if plays[t.id] and plays[t.id][2]:
            t.reveal_model(plays[t.id][0], sha(f"m-{t.id}-{rnd}"))
    t0.warp(rnd, PHASE_SCORE_COMMIT)
    for t in tasks:
        if plays[t.id] and plays[t.id][2]:
            t.draw(rnd)  # each task's committees (PROTOCOL.md §5a)
    for t in tasks:
        if plays[t.id] and plays[t.id][2]:
            t.commit_scores(plays[t.id][1], [400_000_000], rnd)
    t0.warp(rnd, PHASE_SCORE_REVEAL)
    for t in tasks:
        if plays[t.id] and plays[t.id][2]:
            t.reveal_scores(plays[t.id][1], rnd)
    t0.warp(rnd, PHASE_ENDED)


def test_parked_stake_draws_no_emission_and_void_rounds_refund_none(
    em, chain, creator, node, validator, attacker, delegator, delegator2
):
    token, emission, arena = em
    real = new_task(arena, chain, creator, num_rounds=2, slash_node_miss=0)
    sybil_creator = delegator  # another of the attacker's addresses (a creator cannot join)
    parked = new_task(
        arena, chain, sybil_creator, num_rounds=2, bounty=1, start_time=real.start,
        slash_node_miss=0,
    )  # fmt: skip
    real.join(node, NODE, WORKING)
    real.join(validator, VALIDATOR, WORKING)
    parked.join(attacker, NODE, PARKED)  # a hundred times the real task's stake, parked
    parked.join(delegator2, VALIDATOR, PARKED)
    assert emission.task_emission(parked.id).stake == 0  # joining earns nothing

    plays = {real.id: (node, validator, True), parked.id: None}
    pulled = []
    for rnd in (0, 1):
        lockstep([real, parked], rnd, plays)
        for t in (real, parked):
            pulled += log(t.finalize(creator), emission.Pulled)
        assert emission.task_emission(parked.id).stake == 0

    p0, p1 = parked.round(0), parked.round(1)
    assert (p0.void_reason, p1.void_reason) == (1, 1)
    assert p0.emission_amount == p1.emission_amount == 0
    # round 0 paid out: its working stake (T + S) drew the whole rate during round 1
    r0, r1 = real.round(0), real.round(1)
    assert r0.node_stake + r0.validator_stake == 2 * WORKING
    assert r1.emission_amount > 0
    assert {e.task for e in pulled if e.amount > 0} == {real.id}
    # the parked task's creator gets its 1 wei back and nothing more
    assert parked.state().refund == 1
    before = token.balanceOf(sybil_creator)
    arena.claim_refund(parked.id, sender=sybil_creator)
    assert token.balanceOf(sybil_creator) == before + 1


def test_emission_of_a_void_round_rolls_on_and_is_burned_at_the_end(
    em, chain, creator, node, validator, node2, validator2, attacker, delegator2
):
    """The attacker runs a round that pays out with its own sybils (its stake worked and
    risked slashing, so it draws emission during the next round), then withholds the last
    shard: that round is void, its emission rolls on with the carry and, the task being
    over, is burned; the creator's refund holds none of it."""
    token, emission, arena = em
    real = new_task(arena, chain, creator, num_rounds=2, slash_node_miss=0)
    own = new_task(
        arena, chain, attacker, num_rounds=2, bounty=1, start_time=real.start, slash_node_miss=0
    )
    real.join(node, NODE, WORKING)
    real.join(validator, VALIDATOR, WORKING)
    own.join(node2, NODE, WORKING)
    own.join(validator2, VALIDATOR, WORKING)
    lockstep([real, own], 0, {real.id: (node, validator, True), own.id: (node2, validator2, True)})
    for t in (real, own):
        t.finalize(creator)
    assert emission.task_emission(own.id).stake == 2 * WORKING  # worked, so it earns
    lockstep([real, own], 1, {real.id: (node, validator, True), own.id: (node2, validator2, False)})
    real.finalize(creator)
    supply = token.totalSupply()
    tx = own.finalize(creator)
    r1 = own.round(1)
    em1 = r1.emission_amount
    assert r1.void_reason == 1 and em1 > 0
    (end,) = log(tx, arena.TaskEnded)
    assert end.emission_burned == em1
    assert own.state().refund == end.refund == r1.pot - em1
    assert own.state().emission_carry == 0
    assert token.totalSupply() == supply  # em1 minted at OPEN and burned at the close
    before = token.balanceOf(attacker)
    arena.claim_refund(own.id, sender=attacker)
    assert token.balanceOf(attacker) - before == r1.pot - em1
