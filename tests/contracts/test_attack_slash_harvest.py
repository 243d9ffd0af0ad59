"""Attack: a validator backed by other people's delegations misses its reveal on purpose,
hoping the slashed delegations land in the pot and flow back to it through its own node in
the same task. Slashed delegated stake is burned, never paid into a pot: the next pot grows
only by the validator's own slashed stake, which it loses itself."""

from .arena_helpers import (
    BOUNTY,
    E18,
    NODE,
    PHASE_ENDED,
    VALIDATOR,
    WAD,
    exit_all,
    log,
    sha,
    slash_amount,
)


def test_a_deliberate_miss_harvests_nothing_from_the_delegations(
    arena, arena_token, make_task, creator, node, node2, validator, attacker, delegator,
    delegator2,
):  # fmt: skip
    t = make_task(num_rounds=2, slash_miss=WAD // 2, gamma=WAD // 2)
    t.join(node, NODE)  # the attacker's own node
    t.join(node2, NODE)
    t.join(validator, VALIDATOR, 100 * E18)
    t.join(attacker, VALIDATOR, 10 * E18)
    t.delegate(delegator, attacker, 400 * E18)  # victims who backed the attacker
    t.delegate(delegator2, attacker, 600 * E18)
    supply = arena_token.totalSupply()
    tx = t.play_round(
        0,
        {node: sha("a"), node2: sha("b")},
        {validator: [300_000_000, 500_000_000], attacker: [300_000_000, 500_000_000]},
        no_reveal=(attacker,),
        finalize_by=creator,
    )
    own_cut = slash_amount(10 * E18, WAD // 2)
    (slash,) = log(tx, arena.Slashed)
    assert (slash.participant, slash.amount, slash.burned) == (attacker.address, own_cut, 500 * E18)
    fin = log(tx, arena.RoundFinalized)[0]
    assert fin.slashed == own_cut  # only the attacker's own stake joins the pot
    assert arena_token.totalSupply() == supply - 500 * E18  # the rest is burned

    t.warp(1, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].pot == BOUNTY // 2 + fin.carry  # no 500 in it
    positions = [(p, p) for p in (node, node2, validator, attacker)]
    positions += [(attacker, d) for d in (delegator, delegator2)]
    got = exit_all(arena, t, positions)
    paid_out = sum(got.values())
    deposits = BOUNTY + (10 + 10 + 100 + 10 + 400 + 600) * E18
    assert paid_out + 500 * E18 + arena_token.balanceOf(arena) == deposits
