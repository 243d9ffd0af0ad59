"""Attack (review finding 5): version 1 weighted nodes by rank (q^rank), so eight near-copies
of the best model (one weight changed each) pushed the honest runner-up from 33.3% of the
node pot to 1.5% at equal total stake.

Now a node's weight depends only on its distance to the best (g = q^((c - best) /
(epsilon * best)), PROTOCOL.md §6 RANK), and within a bucket of relative epsilon only the
model revealed first in the task earns. Each scenario plays the same round twice, once with
the attacker's one submission holding all its stake and once split over nine; in each every
honest node's weight g is unchanged, and the attacker's submissions together earn no more
than its one submission did.
"""

import pytest

from .arena_helpers import E18, NODE, PHASE_ENDED, VALIDATOR, WAD, sha

BEST = 300_000_000  # the attacker's own model is the best of the round
HONEST = {"runner-up": 330_000_000, "third": 450_000_000}
STAKE = 10 * E18  # per attacker submission
COPIES = 8


@pytest.fixture
def attackers(accounts, arena, arena_token, owner, attacker):
    """Nine attacker-controlled node accounts (the original and eight copies), funded."""
    out = [attacker, accounts[1], accounts[2], *(accounts[i] for i in range(14, 20))]
    for a in out:
        if arena_token.allowance(a, arena) == 0:
            arena_token.transfer(a, 1_000 * E18, sender=owner)
            arena_token.approve(arena, 2**256 - 1, sender=a)
    return out


def play(make_task, creator, validator, honest_nodes, entries, rounds=1, before=None):
    """One task; `entries` = [(account, stake, model label, consensus)] in commit order, the
    attacker's first. A single validator's scores are the consensus. Returns (task, slot of
    each label) after finalizing the last round; `before` plays earlier rounds first."""
    t = make_task(num_rounds=rounds, rank_ratio=9 * WAD // 10, rank_epsilon=WAD // 100)
    joined = set()
    for who, stake, _, _ in entries:
        if who.address not in joined:
            t.join(who, NODE, stake)
            joined.add(who.address)
    for who in honest_nodes:
        if who.address not in joined:
            t.join(who, NODE, STAKE)
            joined.add(who.address)
    t.join(validator, VALIDATOR, 100 * E18)
    if before is not None:
        before(t)
    r = rounds - 1
    t.play_round(
        r,
        {who: sha(label) for who, _, label, _ in entries},
        {validator: [c for _, _, _, c in entries]},
    )
    t.warp(r, PHASE_ENDED)
    t.finalize(creator)
    return t, {label: k for k, (_, _, label, _) in enumerate(entries)}


def outcome(arena, t, slots, r=0):
    """label -> (weight g, reward) of the round's submissions."""
    out = {}
    for label, k in slots.items():
        s = arena.submission(t.id, r, k)
        out[label] = (s.weight, s.reward)
    return out


def honest_entries(node, node2):
    return [
        (node, STAKE, "runner-up", HONEST["runner-up"]),
        (node2, STAKE, "third", HONEST["third"]),
    ]


def compare(arena, make_task, creator, validator, node, node2, attackers, copies):
    """Play the baseline (one submission, all the stake) and the attack (`copies` =
    [consensus] of the eight extra submissions); check the honest weights and the
    attacker's total; return both outcomes."""
    honest = honest_entries(node, node2)
    base_t, base_slots = play(
        make_task, creator, validator, [node, node2],
        [(attackers[0], (1 + COPIES) * STAKE, "best", BEST), *honest],
    )  # fmt: skip
    base = outcome(arena, base_t, base_slots)
    attack = [(attackers[0], STAKE, "best", BEST)]
    attack += [(attackers[1 + i], STAKE, f"copy-{i}", c) for i, c in enumerate(copies)]
    att_t, att_slots = play(make_task, creator, validator, [node, node2], [*attack, *honest])
    got = outcome(arena, att_t, att_slots)
    for label in HONEST:
        assert got[label][0] == base[label][0] > 0, label  # g unchanged
    attacker_total = sum(reward for label, (_, reward) in got.items() if label not in HONEST)
    assert attacker_total <= base["best"][1]
    return base, got


def test_eight_copies_exactly_epsilon_away_earn_once(
    arena, make_task, creator, validator, node, node2, attackers
):
    # (c - best) * WAD == epsilon * best exactly: the bucket's edge, inclusive
    copies = [BEST + BEST // 100] * COPIES
    base, got = compare(arena, make_task, creator, validator, node, node2, attackers, copies)
    earning = [label for label, (g, _) in got.items() if g > 0 and label not in HONEST]
    assert earning == ["best"]  # one bucket, one winner: the model revealed first
    assert got["best"][0] == WAD


def test_eight_graded_variants_just_over_epsilon_each_earn_only_their_distance(
    arena, make_task, creator, validator, node, node2, attackers
):
    copies, c = [], BEST
    for _ in range(COPIES):
        c = c + c // 100 + 1  # just over epsilon from the previous: a bucket of its own
        copies.append(c)
    assert copies[-1] < HONEST["runner-up"]  # all of them between the best and the runner-up
    base, got = compare(arena, make_task, creator, validator, node, node2, attackers, copies)
    weights = [got[f"copy-{i}"][0] for i in range(COPIES)]
    assert all(0 < w < WAD for w in weights) and weights == sorted(weights, reverse=True)


def test_a_perturbed_copy_of_last_rounds_winner_committed_first_earns_nothing(
    arena, make_task, creator, validator, node, node2, attackers
):
    """Round 0: node wins with model "winner". Round 1: the attacker commits a copy of it with
    one weight changed (scoring a hair better) before node submits "winner" again; node's
    hash was revealed a round earlier, so node keeps the bucket and the best weight."""

    def round0(t):
        t.play_round(
            0, {node: sha("winner"), node2: sha("third-0")}, {validator: [BEST, HONEST["third"]]}
        )
        t.warp(0, PHASE_ENDED)
        t.finalize(creator)

    honest = [(node, STAKE, "winner", BEST), (node2, STAKE, "third", HONEST["third"])]
    base_t, base_slots = play(
        make_task, creator, validator, [node, node2], honest, rounds=2, before=round0
    )
    base = outcome(arena, base_t, base_slots, r=1)
    perturbed = (attackers[0], STAKE, "perturbed", BEST - 100_000)  # within epsilon, better
    att_t, att_slots = play(
        make_task, creator, validator, [node, node2], [perturbed, *honest], rounds=2,
        before=round0,
    )  # fmt: skip
    got = outcome(arena, att_t, att_slots, r=1)
    assert got["perturbed"] == (0, 0)
    assert got["winner"][0] == base["winner"][0] == WAD
    assert got["third"][0] == base["third"][0] > 0
    sub = arena.submission(att_t.id, 1, att_slots["winner"])
    assert sub.key >> 128 == 0  # the key of its first reveal, in round 0
