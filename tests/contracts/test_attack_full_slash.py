"""Attack / edge: 100% slash (slash_dev = slash_miss = WAD).

A validator that deviates (or withholds) loses its whole own stake: the books still balance,
its withdrawable own stake is 0 (withdraw says "nothing to withdraw"), rewards it earned in an
earlier round stay claimable, and its delegators get back their full delegation plus their
share of those earlier rewards. The slashed stake goes to the next pot / the creator.
"""

import ape

from .arena_helpers import (
    E18,
    NODE,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    SLASH_DEVIATION,
    SLASH_MISS,
    VALIDATOR,
    WAD,
    exit_all,
    log,
    owed,
    sha,
)

TRUE = [400_000_000, 600_000_000]


def test_full_deviation_slash_keeps_books_balanced_and_delegators_whole(
    arena, arena_token, make_task, node, node2, validator, validator2, attacker, delegator, creator
):
    t = make_task(num_rounds=2, slash_dev=WAD, slash_miss=WAD, delta=WAD // 2)
    t.join(node, NODE)
    t.join(node2, NODE)
    t.join(validator, VALIDATOR, 60 * E18)  # outweighs the liar's 20 own + 25 delegated
    t.join(attacker, VALIDATOR, 20 * E18, WAD // 10)
    t.delegate(delegator, attacker, 25 * E18)
    models0 = {node: sha("a0"), node2: sha("b0")}
    # Round 0: the future liar is honest and earns a validator reward.
    t.play_round(0, models0, {validator: TRUE, attacker: TRUE}, finalize_by=creator)
    earned0 = t.part(attacker).owner_earned
    assert earned0 > 0
    d_claim0 = arena.claimable(t.id, attacker, delegator)
    assert d_claim0 > 0
    # Round 1: it lies and is slashed 100%.
    models1 = {node: sha("a1"), node2: sha("b1")}
    tx = t.play_round(
        1, models1, {validator: TRUE, attacker: [TRUE[1] * 10, 1]}, finalize_by=creator
    )
    assert log(tx, arena.Slashed) == [
        arena.Slashed(
            task=t.id, round=1, participant=attacker, amount=20 * E18, reason=SLASH_DEVIATION
        )
    ]
    p = t.part(attacker)
    assert (p.own_active, p.own_pending, p.slashed, p.del_active) == (0, 0, 20 * E18, 25 * E18)
    # It was slashed after the last round: the 20 tokens end in the creator's refund.
    fin = log(tx, arena.RoundFinalized)[0]
    assert fin.slashed == 20 * E18 and t.state().refund == fin.carry

    positions = [(n, n) for n in (node, node2, validator, attacker)] + [(attacker, delegator)]
    assert 0 <= arena_token.balanceOf(arena) - owed(arena, t, positions) < 100
    assert arena.withdrawable(t.id, attacker, attacker) == 0
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, attacker, sender=attacker)
    assert arena.claimable(t.id, attacker, attacker) == earned0  # earlier rewards are kept
    assert arena.withdrawable(t.id, attacker, delegator) == 25 * E18
    got = exit_all(arena, t, positions)
    assert got[(attacker.address, attacker.address)] == earned0
    assert got[(attacker.address, delegator.address)] >= 25 * E18 + d_claim0
    assert arena_token.balanceOf(arena) < 100


def test_full_miss_slash_then_validator_cannot_commit_again(
    arena, arena_token, make_task, node, validator, attacker, delegator, creator
):
    t = make_task(num_rounds=2, slash_miss=WAD)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.join(attacker, VALIDATOR, 20 * E18)
    t.delegate(delegator, attacker, 5 * E18)
    tx = t.play_round(
        0,
        {node: sha("m")},
        {validator: [5], attacker: [5]},
        no_reveal=(attacker,),
        finalize_by=creator,
    )
    assert [(e.participant, e.amount, e.reason) for e in log(tx, arena.Slashed)] == [
        (attacker.address, 20 * E18, SLASH_MISS)
    ]
    fin = log(tx, arena.RoundFinalized)[0]
    assert t.state().carry == fin.carry and fin.slashed == 20 * E18
    # With no own stake left it cannot commit scores in round 1 (delegations are not own stake).
    t.warp(1, PHASE_SCORE_COMMIT)
    assert arena.own_stake(t.id, attacker, 1) == 0
    assert arena.effective_stake(t.id, attacker, 1) == 5 * E18
    with ape.reverts("arena: stake not active"):
        t.commit_scores(attacker, [], 1)
    t.warp(1, PHASE_ENDED)
    t.finalize(creator)
    positions = [(node, node), (validator, validator), (attacker, attacker), (attacker, delegator)]
    got = exit_all(arena, t, positions)
    assert got[(attacker.address, delegator.address)] == 5 * E18
    assert got[(attacker.address, attacker.address)] == 0
    assert arena_token.balanceOf(arena) < 100
