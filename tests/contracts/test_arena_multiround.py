"""Arena on anvil: a 3-round task with deposits arriving over time, claims in between, a
slash and a void round, checking after every round that the contract holds at least what
it owes (and at most dust more), and that everyone can exit at the end."""

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    STATUS_ENDED,
    VALIDATOR,
    WAD,
    exit_all,
    log,
    owed,
    sha,
)


def test_three_rounds_with_deposits_claims_slash_and_void(
    arena,
    arena_token,
    make_task,
    node,
    node2,
    validator,
    validator2,
    delegator,
    delegator2,
    creator,
):
    # delta = 1: every reward is claimable at once, so "owed" is exact in the middle of the task.
    t = make_task(num_rounds=3, delta=WAD, slash_dev=WAD // 2, bounty=999 * E18 + 2)
    t.join(node, NODE, 10 * E18, WAD // 10)
    t.join(validator, VALIDATOR, 50 * E18, WAD // 20)  # outweighs validator2 + its delegation
    t.join(validator2, VALIDATOR, 10 * E18)
    t.delegate(delegator, node, 5 * E18 + 1)
    positions = [
        (node, node),
        (node2, node2),
        (validator, validator),
        (validator2, validator2),
        (node, delegator),
        (node, delegator2),
        (validator2, delegator2),
    ]

    def books(label):
        """Held >= stakes (delegations at their value after slashes) + claimable rewards + future
        base pots + carry, with < 100 wei dust."""
        held = arena_token.balanceOf(arena)
        st = t.state()
        if st.status == STATUS_ENDED:
            due = owed(arena, t, positions)
        else:
            due = sum(arena.claimable(t.id, p, a) for p, a in positions)
            for p, a in positions:
                if p == a:
                    info = t.part(p)
                    due += info.own_active + info.own_pending
                else:
                    due += arena.delegation_value(t.id, p, a)
            n, bounty = t.params["num_rounds"], t.params["bounty"]
            due += sum(bounty // n for _ in range(st.finalized_rounds, n)) + bounty % n + st.carry
        assert due <= held, f"{label}: owes {due} > holds {held}"
        assert held - due < 100, f"{label}: {held - due} wei unaccounted"

    # Round 0: one node; node2 joins and delegator2 backs validator2 mid-round (count from round 1).
    t.warp(0, PHASE_COMMIT)
    t.join(node2, NODE, 20 * E18, 0)
    t.delegate(delegator2, validator2, 30 * E18)
    t.play_round(
        0,
        {node: sha("n0")},
        {validator: [500_000_000], validator2: [510_000_000]},
        finalize_by=creator,
    )
    assert arena.effective_stake(t.id, validator2, 1) == 40 * E18
    books("after round 0")
    c0 = arena.claimable(t.id, node, delegator)
    assert c0 > 0
    assert arena.claim(t.id, node, sender=delegator).return_value == c0
    arena.claim(t.id, node, sender=node)
    books("after claims")

    # Round 1: two nodes; validator2 (now 10 own + 30 delegated) lies and is slashed on own stake only.
    t.warp(1, PHASE_COMMIT)
    t.delegate(delegator2, node, 7 * E18)  # counts from round 2
    t.join(node, NODE, 3 * E18, WAD // 10)  # top-up, counts from round 2
    tx = t.play_round(
        1,
        {node: sha("n1"), node2: sha("m1")},
        {validator: [400_000_000, 600_000_000], validator2: [900_000_000, 100_000_000]},
        finalize_by=creator,
    )
    slashed = [(e.participant, e.amount, e.burned) for e in log(tx, arena.Slashed)]
    # validator2 votes with 10 own + 30 delegated: the slash takes the same fraction of both
    assert slashed == [(validator2.address, 5 * E18, 15 * E18)]
    assert arena.delegation_value(t.id, validator2, delegator2) == 15 * E18
    books("after round 1")

    # Round 2: void (no eval): its pot and round 1's slash go back to the creator.
    t.warp(2, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].void_reason == 1
    assert t.state().status == STATUS_ENDED
    books("after the end")
    got = exit_all(arena, t, positions)
    assert (
        got[(validator2.address, validator2.address)] >= 5 * E18
    )  # 10 own - 5 slashed (+ rewards)
    # half of its 30 delegated was burned with validator2's slash (+ its share of rewards)
    assert 15 * E18 <= got[(validator2.address, delegator2.address)] < 30 * E18
    assert (
        got[(node.address, delegator2.address)] == 7 * E18
    )  # joined for round 2 only: void, no reward
    assert arena_token.balanceOf(arena) < 100
