"""Attack: fill the validator seats with minimum-stake sybils (DESIGN §3.7).

Version 1 admitted 32 validators per task, first come first served: 32 sybils at the minimum
stake joined before the start, every honest join reverted "too many validators", and the
sybils' scores crowned the attacker's junk model. Now there is no seat to fill: 100 sybils
join, the honest validators still join after them, and committee sortition gives a sybil a
seat with probability p = K * eff / W and a vote of weight W / K there, so the sybils' expected
weight on a committee is their stake, not their head count. Expectations are derived from the
round's seed as read from the chain (anvil's block hashes differ per run).
"""

from .arena_helpers import (
    E18,
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    fund_bulk,
    score_commitment,
    sha,
)

SYBILS = 100
HONEST_STAKE = 3_000 * E18  # three honest validators: 9,000 against the sybils' 1,000 (10%)
K = 16


def test_sybil_validators_lock_nobody_out_and_weigh_their_stake(
    arena, arena_token, make_task, bulk, owner, creator, node, node2, node3, attacker,
    validator, validator2, validator3,
):  # fmt: skip
    t = make_task(committee_size=K)
    sybils = [bulk.address(f"seat-sybil-{i}") for i in range(SYBILS)]
    for s in sybils:
        fund_bulk(bulk, arena, arena_token, owner, s, MIN_STAKE)
        bulk.send(s, arena, "join", t.id, VALIDATOR, MIN_STAKE, 0)
    honest = [validator, validator2, validator3]
    for v in honest:  # v1: "arena: too many validators" from the 33rd join on
        t.join(v, VALIDATOR, HONEST_STAKE)
    assert arena.task_state(t.id).validator_count == SYBILS + 3

    nodes = [node, node2, node3, attacker]  # the attacker's node submits junk
    models = [sha("good"), sha("fair"), sha("poor"), sha("junk")]
    truth = [200_000_000, 400_000_000, 800_000_000, 2_000_000_000]
    lie = [2_000_000_000, 2_000_000_000, 100_000_000, 100_000_000]  # junk scored best
    for n in nodes:
        t.join(n, NODE)
    t.warp(0, PHASE_COMMIT)
    for n, m in zip(nodes, models, strict=True):
        t.commit_model(n, m, 0)
    t.open_reveals(0)
    for n, m in zip(nodes, models, strict=True):
        t.reveal_model(n, m)

    t.warp(0, PHASE_SCORE_COMMIT)  # draws the committees; the seed is read from the chain
    draw = arena.committee(t.id, 0)
    w, size = draw.weight, draw.committee_size
    assert (w, size) == (SYBILS * MIN_STAKE + 3 * HONEST_STAKE, K)
    for v in honest:  # K * eff >= W: p = 1, on every committee, weight eff
        assert arena.is_assigned(t.id, 0, 0, v)
        assert t.slots(v, 0) == [0, 1, 2, 3]
        t.commit_scores(v, truth, 0)
    seated = {}
    for s in sybils:
        slots = list(arena.assignments(t.id, 0, s, 0, 1024))
        if slots:
            seated[s] = slots
            salt = sha(f"salt-{s}")
            c = score_commitment(t.id, 0, s, [lie[k] for k in slots], salt)
            bulk.send(s, arena, "commit_scores", t.id, c)
    t.warp(0, PHASE_SCORE_REVEAL)
    for v in honest:
        t.reveal_scores(v, 0)
    for s, slots in seated.items():
        bulk.send(s, arena, "reveal_scores", t.id, [lie[k] for k in slots], sha(f"salt-{s}"))

    # Every vote weighs max(eff, W // K): a sybil's seat weighs W // K = its stake / p (625
    # tokens at p = 0.016), the honest validators' their eff (3,000); the sybils would hold a
    # majority of a committee only with more than 14 of them on it (1.6 expected).
    sybil_weight = [0] * 4
    for k in range(4):
        for vote in arena.votes(t.id, 0, k):
            assert vote.counted
            if vote.validator in seated:
                assert vote.weight == w // K
                sybil_weight[k] += vote.weight
            else:
                assert vote.weight == HONEST_STAKE
    # expected sybil weight per committee = sum of p_j * W / K = their stake (1,000 tokens)
    expected = sum(min(1, K * MIN_STAKE / w) * (w // K) for _ in sybils)
    assert abs(expected - SYBILS * MIN_STAKE) < E18

    t.warp(0, PHASE_ENDED)
    t.finalize(creator)
    for k in range(4):
        c = arena.submission(t.id, 0, k).consensus
        if 2 * sybil_weight[k] < 3 * HONEST_STAKE:
            assert c == truth[k], f"slot {k}: {sybil_weight[k] // E18} sybil tokens set it"
    rewards = [arena.submission(t.id, 0, k).reward for k in range(4)]
    if 2 * sybil_weight[3] < 3 * HONEST_STAKE:  # the junk model's committee was not captured
        assert rewards[3] == 0
        assert rewards[0] == max(rewards) > 0
    for s in seated:  # their lies cost them the agreement that pays validators
        assert arena.validator_round(t.id, 0, s).agreement == 0
        assert arena.validator_round(t.id, 0, s).reward == 0
    for v in honest:
        assert arena.validator_round(t.id, 0, v).reward > 0
