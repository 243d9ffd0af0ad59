"""Attack (review finding 4): with exactly half of the revealing stake behind each of two
scores, version 1's lower median took the lower one, so a liar holding half the stake set the
consensus: the honest validator was slashed for deviation and the liar paid.

Now an exact half split settles at the midpoint of the two middle scores when they are within
`tolerance` of each other (status SPLIT), else the submission is unscored (UNSCORED); either
way the split submission is left out of every validator's deviation D (PROTOCOL.md §6), so
nobody is slashed over it and the liar earns nothing the honest validator does not.
"""

from .arena_helpers import (
    E18,
    NODE,
    PHASE_ENDED,
    SLASH_DEVIATION,
    SPLIT,
    UNSCORED,
    VALIDATOR,
    WAD,
    log,
    sha,
)

HONEST_A = 500_000_000  # the true loss of node's model
OTHER = 300_000_000  # node2's model, scored alike by both validators


def play(make_task, creator, node, node2, validator, validator2, lie: int):
    """Two validators of equal stake; `validator2` lies about node's model only."""
    t = make_task(tolerance=WAD // 10, slash_tau=WAD // 20, slash_dev=WAD // 2, rank_epsilon=WAD)
    t.join(node, NODE, 100 * E18)
    t.join(node2, NODE, 100 * E18)
    t.join(validator, VALIDATOR, 100 * E18)
    t.join(validator2, VALIDATOR, 100 * E18)
    t.play_round(
        0,
        {node: sha("honest"), node2: sha("other")},
        {validator: [HONEST_A, OTHER], validator2: [lie, OTHER]},
    )
    t.warp(0, PHASE_ENDED)
    return t, t.finalize(creator)


def test_close_split_settles_at_the_midpoint_and_slashes_nobody(
    arena, make_task, creator, node, node2, validator, validator2
):
    lie = 520_000_000  # 4% above the truth: within tolerance (10%)
    t, tx = play(make_task, creator, node, node2, validator, validator2, lie)
    sub = arena.submission(t.id, 0, 0)
    assert (sub.status, sub.consensus) == (SPLIT, HONEST_A + (lie - HONEST_A) // 2)
    # version 1 would have taken the lower score and slashed whoever reported the other
    assert [e for e in log(tx, arena.Slashed) if e.reason == SLASH_DEVIATION] == []
    honest, liar = (arena.validator_round(t.id, 0, v) for v in (validator, validator2))
    assert honest.slash == liar.slash == 0
    # D counts only the scored submission both agree on: equal pay, the lie bought nothing
    assert honest.scored == liar.scored == 1
    assert honest.deviation == liar.deviation == 0
    assert honest.reward == liar.reward > 0
    assert sub.weight > 0  # the node is still ranked, at the midpoint


def test_far_split_leaves_the_submission_unscored_and_slashes_nobody(
    arena, make_task, creator, node, node2, validator, validator2
):
    lie = 100_000_000  # the liar claims node's model is five times better than it is
    t, tx = play(make_task, creator, node, node2, validator, validator2, lie)
    sub = arena.submission(t.id, 0, 0)
    assert (sub.status, sub.consensus, sub.weight, sub.reward) == (UNSCORED, 0, 0, 0)
    assert [e for e in log(tx, arena.Slashed) if e.reason == SLASH_DEVIATION] == []
    honest, liar = (arena.validator_round(t.id, 0, v) for v in (validator, validator2))
    assert honest.slash == liar.slash == 0
    assert honest.reward == liar.reward > 0
    # the node the lie was meant to lift earns nothing; the other takes the whole nodes pot
    ri = t.round(0)
    assert ri.eligible == 1
    assert arena.submission(t.id, 0, 1).reward == ri.nodes_pot


def test_more_than_half_still_decides_and_slashes_the_minority(
    arena, make_task, creator, node, node2, validator, validator2, validator3
):
    """The rule only touches exact halves: a strict majority of stake decides as before."""
    t = make_task(tolerance=WAD // 10, slash_tau=WAD // 20, slash_dev=WAD // 2)
    t.join(node, NODE, 100 * E18)
    t.join(validator, VALIDATOR, 100 * E18)
    t.join(validator2, VALIDATOR, 100 * E18)
    t.join(validator3, VALIDATOR, 100 * E18)
    lie = 100_000_000
    t.play_round(
        0,
        {node: sha("honest")},
        {validator: [HONEST_A], validator2: [HONEST_A], validator3: [lie]},
    )
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    assert arena.submission(t.id, 0, 0).consensus == HONEST_A
    assert [(e.participant, e.reason) for e in log(tx, arena.Slashed)] == [
        (validator3.address, SLASH_DEVIATION)
    ]
