"""Attack: a node serves its model file to some validators and not to others, hoping the
honest validators that could not fetch it (version 1 scored such a model INVALID) end up far
from the consensus and are slashed.

Now a validator that cannot fetch or verify a model reports UNAVAILABLE (2**64 - 2): the
report is left out of the consensus and of every deviation, and only lowers the share of
available submissions the validator covered (its agreement F, hence its pay, never a slash).
A submission most of whose validators' weight reports it UNAVAILABLE is unscored and its node
pays `slash_node_miss` (PROTOCOL.md §6)."""

from .arena_helpers import (
    E18,
    NODE,
    PHASE_ENDED,
    SCORED,
    SLASH_NODE_MISS,
    UNAVAILABLE,
    UNAVAILABLE_STATUS,
    VALIDATOR,
    WAD,
    log,
    sha,
    slash_amount,
)

TRUE = 500_000_000  # the griefer's model, for those who got it
OTHER = 300_000_000  # an honest node's model, served to everyone


def play(make_task, creator, griefer, node2, vals, served: int):
    """Four validators of equal stake; the griefer's file reaches only the first `served`."""
    t = make_task(slash_tau=WAD // 20, slash_dev=WAD // 2, slash_node_miss=WAD // 10)
    t.join(griefer, NODE, 100 * E18)
    t.join(node2, NODE, 100 * E18)
    for v in vals:
        t.join(v, VALIDATOR, 100 * E18)
    scores = {v: [TRUE if j < served else UNAVAILABLE, OTHER] for j, v in enumerate(vals)}
    t.play_round(0, {griefer: sha("griefer"), node2: sha("honest")}, scores)
    t.warp(0, PHASE_ENDED)
    return t, t.finalize(creator)


def test_served_to_half_the_validators_slashes_none_of_the_others(
    arena, make_task, creator, node, node2, validator, validator2, validator3, attacker
):
    vals = [validator, validator2, validator3, attacker]
    t, tx = play(make_task, creator, node, node2, vals, served=2)
    sub = arena.submission(t.id, 0, 0)
    assert (sub.status, sub.consensus) == (SCORED, TRUE)  # half is not "most"
    assert log(tx, arena.Slashed) == []  # nobody: not the griefer, no validator
    got, missed = (
        [arena.validator_round(t.id, 0, v) for v in vals[:2]],
        [arena.validator_round(t.id, 0, v) for v in vals[2:]],
    )
    assert t.round(0).available == 2
    for vr in got + missed:
        assert vr.deviation == 0 and vr.slash == 0
    assert [vr.covered for vr in got + missed] == [2, 2, 1, 1]
    assert [vr.agreement for vr in got + missed] == [WAD, WAD, WAD // 2, WAD // 2]
    assert missed[0].reward * 2 <= got[0].reward  # covering less pays less; it never slashes


def test_served_to_a_minority_leaves_the_model_unscored_and_slashes_its_node(
    arena, make_task, creator, node, node2, validator, validator2, validator3, attacker
):
    vals = [validator, validator2, validator3, attacker]
    t, tx = play(make_task, creator, node, node2, vals, served=1)
    sub = arena.submission(t.id, 0, 0)
    assert (sub.status, sub.weight, sub.reward) == (UNAVAILABLE_STATUS, 0, 0)
    cut = slash_amount(100 * E18, WAD // 10)
    assert [(e.participant, e.amount, e.reason) for e in log(tx, arena.Slashed)] == [
        (node.address, cut, SLASH_NODE_MISS)
    ]
    assert t.round(0).available == 1
    for v in vals:  # only the honest node's submission counts, where all four agree
        vr = arena.validator_round(t.id, 0, v)
        assert (vr.deviation, vr.agreement, vr.slash) == (0, WAD, 0)
    # the one validator that got the file is not paid more for it, nor slashed
    assert len({arena.validator_round(t.id, 0, v).reward for v in vals}) == 1
