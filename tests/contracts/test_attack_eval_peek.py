"""Attack (review finding 7): five sybil nodes commit blind; once the eval shard is public the
attacker reveals only the variant that looks best on it and withholds the other four. Under
version 1 that cost nothing. Now every commit left unrevealed after the shard came out pays
`slash_node_miss` of that node's own stake (rounded up), which joins the next round's pot."""

import pytest

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    SLASH_NODE_MISS,
    VALIDATOR,
    WAD,
    log,
    sha,
    slash_amount,
)


@pytest.fixture
def sybils(accounts, arena, arena_token, owner):
    """Five attacker-controlled node accounts, funded and approved."""
    out = [accounts[i] for i in range(14, 19)]
    for a in out:
        arena_token.transfer(a, 1_000 * E18, sender=owner)
        arena_token.approve(arena, 2**256 - 1, sender=a)
    return out


def test_cherry_picking_after_the_shard_is_out_costs_the_withheld_stake(
    arena, make_task, creator, validator, sybils
):
    stake = 33 * E18 + 7  # an odd amount: the slash rounds up
    t = make_task(num_rounds=2, slash_node_miss=WAD // 10)
    for s in sybils:
        t.join(s, NODE, stake)
    t.join(validator, VALIDATOR)
    t.warp(0, PHASE_COMMIT)
    for i, s in enumerate(sybils):
        t.commit_model(s, sha(f"variant-{i}"), 0)
    t.open_reveals(0)  # the shard is public now
    picked = sybils[2]
    t.reveal_model(picked, sha("variant-2"))  # the other four withhold
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [300_000_000], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    cut = slash_amount(stake, WAD // 10)
    assert cut == stake // 10 + 1
    withheld = [s for s in sybils if s != picked]
    assert [(e.participant, e.amount, e.reason) for e in log(tx, arena.Slashed)] == [
        (s.address, cut, SLASH_NODE_MISS) for s in withheld
    ]
    for s in withheld:
        assert arena.model_commit(t.id, 0, s).slash == cut
        assert t.part(s).own_active == stake - cut
    assert t.part(picked).slashed == 0
    fin = log(tx, arena.RoundFinalized)[0]
    assert fin.slashed == 4 * cut  # joins the next round's pot
    t.warp(1, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].pot == t.params["bounty"] // 2 + fin.carry


def test_no_slash_when_the_creator_never_revealed_the_shard(
    arena, make_task, creator, validator, sybils
):
    t = make_task(slash_node_miss=WAD // 10)
    for s in sybils[:2]:
        t.join(s, NODE)
    t.warp(0, PHASE_COMMIT)
    for i, s in enumerate(sybils[:2]):
        t.commit_model(s, sha(f"v{i}"), 0)
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.Slashed) == []
