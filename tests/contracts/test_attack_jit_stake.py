"""Attack: stake or delegate just before finalize to grab a bigger share of the round.

Activation rule (PROTOCOL §4): a deposit made during time-round t counts from round t+1, and
no deposit is accepted once a round is over but not finalized. So a top-up or delegation in
the last seconds of SCORE_REVEAL changes nothing for that round: consensus weights, node
stakes, pots and rewards are exactly those computed from the stakes active at the start.
"""

import ape

from .arena_helpers import (
    BOUNTY,
    E18,
    NODE,
    PHASE_ENDED,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    expected_round,
    log,
    sha,
    slash_amount,
)

WHALE = 100_000 * E18


def test_jit_top_up_and_delegation_do_not_count_this_round(
    arena, make_task, node, node2, validator, validator2, delegator, attacker, creator
):
    t = make_task(num_rounds=3)
    t.join(node, NODE, 10 * E18)
    t.join(attacker, NODE, 10 * E18)  # the JIT node
    t.join(validator, VALIDATOR, 20 * E18)
    t.join(validator2, VALIDATOR, 10 * E18)  # the JIT validator
    scores = {validator: [400_000_000, 500_000_000], validator2: [900_000_000, 100_000_000]}
    t.play_round(0, {node: sha("honest"), attacker: sha("jit")}, scores)
    # Last seconds of the round: whale-size deposits on the attackers' side.
    t.warp(0, PHASE_SCORE_REVEAL, offset=95)
    tx = t.join(attacker, NODE, WHALE)
    assert log(tx, arena.Staked)[0].activation_round == 1
    tx = t.delegate(delegator, attacker, WHALE)
    assert log(tx, arena.Delegated)[0].activation_round == 1
    t.join(validator2, VALIDATOR, WHALE)
    t.delegate(delegator, validator2, WHALE)
    assert arena.effective_stake(t.id, attacker, 0) == 10 * E18
    assert arena.effective_stake(t.id, validator2, 0) == 10 * E18

    t.warp(0, PHASE_ENDED)
    # Between the end of the round and its finalization nothing can be deposited at all.
    with ape.reverts("arena: finalize round 0 first"):
        t.join(attacker, NODE, WHALE)
    with ape.reverts("arena: finalize round 0 first"):
        t.delegate(delegator, attacker, WHALE)

    tx = t.finalize(creator)
    pot = BOUNTY // 3
    exp = expected_round(
        t.params,
        pot,
        [10 * E18, 10 * E18],
        [0, 1],
        [(20 * E18, scores[validator]), (10 * E18, scores[validator2])],
    )
    # validator (20) outweighs validator2 (10): consensus = validator's scores, not the JIT side's.
    assert exp["c"] == scores[validator]
    assert [e.consensus for e in log(tx, arena.ConsensusComputed)] == exp["c"]
    ranked = log(tx, arena.RoundRanked)[0]
    assert (ranked.node_stake, ranked.validator_stake) == (20 * E18, 30 * E18)
    assert [arena.submission(t.id, 0, k).stake for k in range(2)] == [10 * E18, 10 * E18]
    assert arena.validator_round(t.id, 0, validator2).stake == 10 * E18
    assert [arena.submission(t.id, 0, k).reward for k in range(2)] == exp["x"]
    assert [arena.validator_round(t.id, 0, v).reward for v in (validator, validator2)] == exp["y"]
    # validator2 deviated (D > slash_tau): slash_dev applies to its round-0 own stake only,
    # never to the pending top-up.
    cut = slash_amount(10 * E18, t.params["slash_dev"])
    assert [(e.participant, e.amount) for e in log(tx, arena.Slashed)] == [
        (validator2.address, cut)
    ]
    # The whale deposits count from round 1 on.
    assert arena.effective_stake(t.id, attacker, 1) == 10 * E18 + 2 * WHALE
    assert arena.effective_stake(t.id, validator2, 1) == 10 * E18 - cut + 2 * WHALE


def test_deposits_after_the_last_round_are_closed(arena, make_task, node, delegator, creator):
    t = make_task()
    t.join(node, NODE)
    t.warp(0, PHASE_SCORE_REVEAL, offset=95)  # round 0 is the last: activation 1 does not exist
    with ape.reverts("arena: deposits closed"):
        t.join(node, NODE, WHALE)
    with ape.reverts("arena: deposits closed"):
        t.delegate(delegator, node, WHALE)
