"""Scores follow committees (PROTOCOL.md §5, §5a, §6), on titanoboa: every expectation is
derived from the round's seed as the chain gives it, so no assertion depends on a lucky
draw. The reference model (test_reference_model.py) checks the same rules wei-exactly over
random rounds; these tests show them one by one."""

from __future__ import annotations

import boa
from ape_arena.protocol import sortition

from tests.fuzz.conftest import E18, WAD, score_commit
from tests.fuzz.test_arena_boa import (
    AFTER,
    NODE,
    SALT,
    SCORE_REVEAL,
    VALIDATOR,
    _delegated_abis,  # noqa: F401  (autouse: decodes the delegatecalled events)
    draw,
    finalize_all,
    join,
)
from tests.fuzz.test_committee_draw_boa import reveal_models

UNSCORED = 2


def _round_with_committees(world, task, nodes):
    """Nodes commit and reveal; the round is drawn and its seed made readable."""
    reveal_models(world, task, 0, [(n, f"c{i}") for i, n in enumerate(nodes)])
    draw(world, task, 0)


def test_each_submission_is_scored_by_its_committee_only(world, arena):
    task = world.make_task(num_rounds=1, committee_size=1, min_committee=1, slash_miss=WAD // 10)
    nodes = [world.funded(f"cn{i}") for i in range(6)]
    vals = [world.funded(f"cv{i}") for i in range(4)]
    for n in nodes:
        join(arena, n, task, NODE, 10 * E18)
    for j, v in enumerate(vals):
        join(arena, v, task, VALIDATOR, (j + 1) * 10 * E18)  # W = 100: p_j = 0.1 .. 0.4
    truth = [(k + 1) * 100_000_000 for k in range(len(nodes))]
    _round_with_committees(world, task, nodes)
    d = arena.committee(task, 0)
    assert d.weight == 100 * E18 and d.committee_size == 1 and d.seed != b"\0" * 32
    mine = {v: list(arena.assignments(task, 0, v, 0, 128)) for v in vals}
    for j, v in enumerate(vals):  # the view follows the client's rule for this seed
        want = sortition.assignments(d.seed, 6, j, (j + 1) * 10 * E18, d.weight, 1)
        assert mine[v] == want
    honest, absent = vals[:3], vals[3]  # the last one never commits
    for v in honest:
        with boa.env.prank(v):
            arena.commit_scores(task, score_commit(task, 0, v, [truth[k] for k in mine[v]], SALT))
    world.goto(task, 0, SCORE_REVEAL)
    for v in honest:
        scores = [truth[k] for k in mine[v]]
        with boa.env.prank(v):
            with boa.reverts("arena: too many scores"):  # one slot more than its own
                arena.reveal_scores(task, [*scores, 1], SALT)
            if len(scores) >= 2:
                # a shorter list is a page: nothing counts until the last slot is revealed,
                # and no page can go past it
                arena.reveal_scores(task, scores[:-1], SALT)
                assert not arena.validator_round(task, 0, v).revealed
                with boa.reverts("arena: too many scores"):
                    arena.reveal_scores(task, [scores[-1], 1], SALT)
                arena.reveal_scores(task, scores[-1:], SALT)
            else:
                arena.reveal_scores(task, scores, SALT)
        assert list(arena.validator_scores(task, 0, v)) == scores
        vr = arena.validator_round(task, 0, v)
        assert vr.revealed and vr.assignments == len(mine[v])
    world.goto(task, 0, AFTER)
    finalize_all(arena, task)

    for k, n in enumerate(nodes):
        s = arena.submission(task, 0, k)
        members = [v for v in honest if k in mine[v]]
        if members:  # honest members agree: the consensus is the truth
            assert (s.consensus, s.status) == (truth[k], 0)
        else:  # nobody of its committee revealed: unscored, its node not slashed
            assert (s.consensus, s.status, s.weight, s.reward) == (0, UNSCORED, 0, 0)
            assert arena.model_commit(task, 0, n).slash == 0
    for v in honest:
        vr = arena.validator_round(task, 0, v)
        assert vr.slash == 0 and vr.assigned_available == len(mine[v])
        assert (vr.agreement == WAD) == bool(mine[v])  # F over its own slots only
    # the absent validator is slashed iff it sat on a committee
    slash = arena.validator_round(task, 0, absent).slash
    assert (slash > 0) == bool(mine[absent])
    assert slash == (-(-40 * E18 // 10) if mine[absent] else 0)


def test_vote_weight_is_stake_over_probability(world, arena):
    """A 60% validator sits on every committee (K * eff >= W) and lies; four 10% validators
    each sit on a committee with probability 0.2 and weigh W / K = 50 there, not 10: two
    honest members outvote the liar, one does not. Weighing by stake (10 each) the liar
    would decide every committee."""
    task = world.make_task(num_rounds=1, committee_size=2, min_committee=1, slash_dev=0)
    nodes = [world.funded(f"wn{i}") for i in range(8)]
    liar = world.funded("whale")
    small = [world.funded(f"ws{i}") for i in range(4)]
    for n in nodes:
        join(arena, n, task, NODE, 10 * E18)
    join(arena, liar, task, VALIDATOR, 60 * E18)
    for v in small:
        join(arena, v, task, VALIDATOR, 10 * E18)
    truth = [(k + 1) * 100_000_000 for k in range(len(nodes))]
    lie = 5_000_000_000
    _round_with_committees(world, task, nodes)
    mine = {v: list(arena.assignments(task, 0, v, 0, 128)) for v in [liar, *small]}
    assert mine[liar] == list(range(8))  # p = 1
    plans = {liar: [lie] * 8, **{v: [truth[k] for k in mine[v]] for v in small}}
    for v, scores in plans.items():
        if scores:
            with boa.env.prank(v):
                arena.commit_scores(task, score_commit(task, 0, v, scores, SALT))
    world.goto(task, 0, SCORE_REVEAL)
    for v, scores in plans.items():
        if scores:
            with boa.env.prank(v):
                arena.reveal_scores(task, scores, SALT)
    world.goto(task, 0, AFTER)
    finalize_all(arena, task)
    for k in range(8):
        honest = sum(k in mine[v] for v in small)  # each weighs 50 against the liar's 60
        c = arena.submission(task, 0, k).consensus
        assert c == (truth[k] if 50 * honest > 60 else lie), (k, honest)
