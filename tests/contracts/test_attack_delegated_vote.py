"""Attack (review finding 1): a validator joins with the 10-token minimum and votes with 1,000
delegated from its own sybil addresses. Under version 1 delegated stake voted but could not be
slashed, so against an honest majority the attacker risked only its 10 tokens. Now a
validator's slash takes the same fraction of its own stake and of its delegations (the
delegated part is burned): the vote weight the sybils lend is stake they lose."""

import ape

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    SLASH_DEVIATION,
    VALIDATOR,
    WAD,
    exit_all,
    log,
    sha,
    slash_amount,
)

TRUE = [400_000_000, 600_000_000]
LIE = [900_000_000, 100_000_000]


def test_the_delegated_weight_of_a_liar_is_slashed_with_it(
    arena, arena_token, make_task, creator, node, node2, validator, validator2, attacker,
    delegator, delegator2,
):  # fmt: skip
    t = make_task(num_rounds=2, slash_dev=WAD // 2, slash_tau=WAD // 10, tolerance=WAD // 2)
    t.join(node, NODE)
    t.join(node2, NODE)
    t.join(validator, VALIDATOR, 600 * E18)  # the honest majority: 1,200 against 1,010
    t.join(validator2, VALIDATOR, 600 * E18)
    sybils = (delegator, delegator2)  # the attacker's own addresses
    spent = {a.address: arena_token.balanceOf(a) for a in (attacker, *sybils)}
    t.join(attacker, VALIDATOR, 10 * E18)
    for s in sybils:
        t.delegate(s, attacker, 500 * E18)
    assert arena.effective_stake(t.id, attacker, 0) == 1_010 * E18

    t.warp(0, PHASE_COMMIT)
    with ape.reverts("arena: task not ended"):  # no way out before the vote is judged
        arena.withdraw(t.id, attacker, sender=delegator)
    tx = t.play_round(
        0,
        {node: sha("a"), node2: sha("b")},
        {validator: TRUE, validator2: TRUE, attacker: LIE},
        finalize_by=creator,
    )
    assert [arena.submission(t.id, 0, k).consensus for k in range(2)] == TRUE  # not moved
    own_cut = slash_amount(10 * E18, WAD // 2)
    assert [(e.participant, e.amount, e.burned, e.reason) for e in log(tx, arena.Slashed)] == [
        (attacker.address, own_cut, 500 * E18, SLASH_DEVIATION)  # half of 1,000 burned
    ]
    for s in sybils:
        assert arena.delegation_value(t.id, attacker, s) == 250 * E18
    assert t.state().burned == 500 * E18

    # The attacker and its sybils end with less than they put in (version 1: +3,300).
    positions = [(p, p) for p in (node, node2, validator, validator2, attacker)]
    positions += [(attacker, s) for s in sybils]
    t.warp(1, PHASE_ENDED)
    t.finalize(creator)
    exit_all(arena, t, positions)
    net = sum(arena_token.balanceOf(a) - spent[a.address] for a in (attacker, *sybils))
    assert net <= -(own_cut + 500 * E18) + 10**18  # lost about what it staked on the lie
    for v in (validator, validator2):
        assert t.part(v).slashed == 0
