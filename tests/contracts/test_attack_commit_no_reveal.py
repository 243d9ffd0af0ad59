"""Attack: a validator commits scores and withholds the reveal (e.g. to see how the round goes
or to stall quorum). It is slashed slash_miss of its effective stake: that fraction of its
own stake joins the next round's pot, the same fraction of its delegations is burned (its
delegators share the risk of whom they back); it earns nothing."""

from .arena_helpers import (
    BOUNTY,
    E18,
    NODE,
    PHASE_ENDED,
    SLASH_MISS,
    VALIDATOR,
    WAD,
    exit_all,
    log,
    owed,
    sha,
    slash_amount,
)


def test_withheld_reveal_is_slashed_and_rolls_into_next_pot(
    arena, arena_token, make_task, node, validator, validator2, delegator, creator
):
    t = make_task(num_rounds=2, slash_miss=WAD // 4)
    t.join(node, NODE)
    t.join(validator, VALIDATOR, 20 * E18)
    t.join(validator2, VALIDATOR, 30 * E18)
    t.delegate(delegator, validator2, 15 * E18)
    scores = {validator: [400_000_000], validator2: [400_000_000]}
    tx = t.play_round(0, {node: sha("m")}, scores, no_reveal=(validator2,), finalize_by=creator)

    cut = slash_amount(30 * E18, WAD // 4)
    burned = 15 * E18 // 4  # the same quarter of its delegation
    assert log(tx, arena.Slashed) == [
        arena.Slashed(
            task=t.id, round=0, participant=validator2, amount=cut, burned=burned, reason=SLASH_MISS
        )
    ]
    assert validator2.address not in [e.participant for e in log(tx, arena.Rewarded)]
    vr = arena.validator_round(t.id, 0, validator2)
    assert (vr.committed, vr.revealed, vr.reward, vr.slash) == (True, False, 0, cut)
    p = t.part(validator2)
    assert (p.own_active, p.slashed, p.del_burned) == (30 * E18 - cut, cut, burned)
    assert arena.delegation_value(t.id, validator2, delegator) == 15 * E18 - burned
    fin = log(tx, arena.RoundFinalized)[0]
    assert fin.slashed == cut and fin.carry == BOUNTY // 2 - fin.paid + cut
    assert t.state().total_own_stake == 10 * E18 + 20 * E18 + 30 * E18 - cut

    # Round 1 (void: nobody plays) opens with the slash in its pot, and ends in the refund.
    t.warp(1, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].pot == BOUNTY // 2 + fin.carry
    positions = [
        (node, node),
        (validator, validator),
        (validator2, validator2),
        (validator2, delegator),
    ]
    assert arena_token.balanceOf(arena) - owed(arena, t, positions) < 100
    got = exit_all(arena, t, positions)
    assert got[(validator2.address, validator2.address)] == 30 * E18 - cut
    assert got[(validator2.address, delegator.address)] == 15 * E18 - burned  # a quarter burned
    assert arena_token.balanceOf(arena) < 100


def test_miss_slash_rounds_up(arena, make_task, node, validator, validator2, creator):
    t = make_task(slash_miss=1)  # 1e-18 of 10e18 + 1 wei = 10.000000000000000001 wei -> 11
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.join(validator2, VALIDATOR, 10 * E18 + 1)
    tx = t.play_round(
        0,
        {node: sha("m")},
        {validator: [5], validator2: [5]},
        no_reveal=(validator2,),
        finalize_by=creator,
    )
    assert [(e.participant, e.amount) for e in log(tx, arena.Slashed)] == [(validator2.address, 11)]
