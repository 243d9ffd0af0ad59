"""Attack: one dishonest validator among honest ones reports made-up scores.

The consensus is the stake-weighted lower median, so a validator holding less than half the
revealed stake cannot move it: the honest scores stand, the liar's deviation D exceeds
slash_tau (slashed slash_dev) and its agreement F is 0 (no validator reward).
"""

from .arena_helpers import (
    E18,
    NODE,
    SLASH_DEVIATION,
    VALIDATOR,
    WAD,
    expected_round,
    log,
    sha,
    slash_amount,
)

TRUE = [300_000_000, 500_000_000, 800_000_000]
LIES = [900_000_000, 100_000_000, 2**64 - 1]  # rank the worst first and call the best INVALID


def test_lone_liar_is_slashed_and_consensus_unchanged(
    arena, make_task, node, node2, node3, validator, validator2, validator3, attacker, creator
):
    t = make_task(rank_epsilon=WAD // 2)  # every true score earns a weight
    nodes = (node, node2, node3)
    for n in nodes:
        t.join(n, NODE)
    honest = (validator, validator2, validator3)
    for v in honest:
        t.join(v, VALIDATOR, 20 * E18)
    t.join(attacker, VALIDATOR, 50 * E18)  # the largest single stake, still < half of 110
    scores = {validator: TRUE, validator2: TRUE, validator3: TRUE, attacker: LIES}
    tx = t.play_round(
        0, {n: sha(f"m{i}") for i, n in enumerate(nodes)}, scores, finalize_by=creator
    )

    assert [e.consensus for e in log(tx, arena.ConsensusComputed)] == TRUE
    exp = expected_round(
        t.params,
        t.params["bounty"],
        [10 * E18] * 3,
        [0, 1, 2],
        [(20 * E18, TRUE)] * 3 + [(50 * E18, LIES)],
    )
    assert exp["c"] == TRUE
    scored = {e.validator: (e.deviation, e.agreement) for e in log(tx, arena.ValidatorScored)}
    assert scored[attacker.address] == (exp["D"][3], 0)
    assert exp["D"][3] > t.params["slash_tau"]
    assert all(scored[v.address] == (0, WAD) for v in honest)

    cut = slash_amount(50 * E18, t.params["slash_dev"])
    assert log(tx, arena.Slashed) == [
        arena.Slashed(task=t.id, round=0, participant=attacker, amount=cut, reason=SLASH_DEVIATION)
    ]
    rewards = {e.participant: e.amount for e in log(tx, arena.Rewarded)}
    assert attacker.address not in rewards
    vpot = log(tx, arena.RoundRanked)[0].validators_pot
    assert [rewards[v.address] for v in honest] == [vpot // 3] * 3  # the honest split it all
    # Node weights follow the truth: node (0.3) > node2 (0.5) > node3 (0.8).
    weights = [arena.submission(t.id, 0, k).weight for k in range(3)]
    assert weights == exp["g"]
    assert WAD == weights[0] > weights[1] > weights[2] > 0
    assert t.part(attacker).own_active == 50 * E18 - cut


def test_small_deviation_below_slash_tau_is_not_slashed(
    arena, make_task, node, validator, validator2, creator
):
    t = make_task(tolerance=WAD // 2, slash_tau=WAD // 5)
    t.join(node, NODE)
    t.join(validator, VALIDATOR, 20 * E18)
    t.join(validator2, VALIDATOR, 10 * E18)
    # 10% off the consensus: D = 0.1 < slash_tau, F = 1 - 0.1/0.5 = 0.8
    tx = t.play_round(
        0,
        {node: sha("m")},
        {validator: [500_000_000], validator2: [550_000_000]},
        finalize_by=creator,
    )
    assert log(tx, arena.Slashed) == []
    scored = {e.validator: (e.deviation, e.agreement) for e in log(tx, arena.ValidatorScored)}
    assert scored[validator2.address] == (WAD // 10, WAD * 8 // 10)
