"""Attack / edge: 100% slash (slash_dev = slash_miss = WAD).

A validator that deviates (or withholds) loses its whole effective stake, since it votes
with it: its own stake goes to the next pot / the creator, its delegations are burned (the
delegators chose it and share its risk, DESIGN §3.2). The books still balance, nothing is
withdrawable (withdraw says "nothing to withdraw"), and the rewards earned in an earlier
round stay claimable by the validator and by its delegators.
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


def test_full_deviation_slash_keeps_books_balanced_and_burns_the_delegations(
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
            task=t.id,
            round=1,
            participant=attacker,
            amount=20 * E18,
            burned=25 * E18,
            reason=SLASH_DEVIATION,
        )
    ]
    p = t.part(attacker)
    assert (p.own_active, p.own_pending, p.slashed) == (0, 0, 20 * E18)
    assert (p.del_index, p.del_burned, p.slash_round) == (1, 25 * E18, 2)
    assert arena.delegation_value(t.id, attacker, delegator) == 0
    assert t.state().burned == 25 * E18
    # It was slashed after the last round: the 20 tokens end in the creator's refund.
    fin = log(tx, arena.RoundFinalized)[0]
    assert fin.slashed == 20 * E18 and t.state().refund == fin.carry

    positions = [(n, n) for n in (node, node2, validator, attacker)] + [(attacker, delegator)]
    assert 0 <= arena_token.balanceOf(arena) - owed(arena, t, positions) < 100
    assert arena.withdrawable(t.id, attacker, attacker) == 0
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, attacker, sender=attacker)
    assert arena.claimable(t.id, attacker, attacker) == earned0  # earlier rewards are kept
    assert arena.withdrawable(t.id, attacker, delegator) == 0
    rewards = arena.claimable(t.id, attacker, delegator)
    assert rewards >= d_claim0  # the rewards it earned are kept
    got = exit_all(arena, t, positions)
    assert got[(attacker.address, attacker.address)] == earned0
    assert got[(attacker.address, delegator.address)] == rewards  # its 25 were burned
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
    assert [(e.participant, e.amount, e.burned, e.reason) for e in log(tx, arena.Slashed)] == [
        (attacker.address, 20 * E18, 5 * E18, SLASH_MISS)
    ]
    fin = log(tx, arena.RoundFinalized)[0]
    assert t.state().carry == fin.carry and fin.slashed == 20 * E18
    # With no own stake left it cannot commit scores in round 1 (and its delegation is gone).
    t.warp(1, PHASE_SCORE_COMMIT)
    assert arena.own_stake(t.id, attacker, 1) == 0
    assert arena.effective_stake(t.id, attacker, 1) == 0
    with ape.reverts("arena: stake not active"):
        t.commit_scores(attacker, [], 1)
    t.warp(1, PHASE_ENDED)
    t.finalize(creator)
    positions = [(node, node), (validator, validator), (attacker, attacker), (attacker, delegator)]
    got = exit_all(arena, t, positions)
    assert got[(attacker.address, delegator.address)] == 0
    assert got[(attacker.address, attacker.address)] == 0
    assert arena_token.balanceOf(arena) < 100
