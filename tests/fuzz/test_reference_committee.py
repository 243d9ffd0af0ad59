"""The committee-round reference (``reference_committee.py``, DESIGN §3.4–§3.5) and the
properties the committee contracts must keep: honest committees agree and validators are
paid by stake; an identity with 10% of the stake captures no committee (it would capture
most of them if votes weighed by stake); splitting a stake over identities gains no pay;
an assigned validator that reveals nothing is slashed, an unassigned one is not; a
committee under ``min_committee`` leaves its submission unscored."""

from __future__ import annotations

import numpy as np
import pytest
from ape_arena.protocol import sortition

from tests.fuzz.reference import SCORED, UNAVAILABLE, UNSCORED, WAD, ArenaModel
from tests.fuzz.reference_committee import committee_round

PARAMS = {"validators_pot": 10**21, "tolerance": WAD // 10, "slash_tau": WAD // 20,
          "slash_miss": WAD // 4, "slash_dev": WAD // 5}  # fmt: skip


def stakes(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(x * 1e20) for x in rng.lognormal(0, 1, n)]


def truth(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(x) for x in rng.integers(10**8, 3 * 10**9, n)]


def honest(seed: bytes, n: int, effs, size: int, scores) -> dict[int, list[int]]:
    total = sum(effs)
    return {j: [scores[k] for k in sortition.assignments(seed, n, j, e, total, size)]
            for j, e in enumerate(effs)}  # fmt: skip


def test_committees_are_the_sortition_rule_and_honest_ones_agree():
    effs, n, size = stakes(60, 1), 40, 8
    scores = truth(n, 2)
    seed = b"\x07" * 32
    reports = honest(seed, n, effs, size, scores)
    reports[3] = [UNAVAILABLE] * len(reports[3])  # one cannot fetch anything: no effect
    out = committee_round(seed, n, effs, size, reports, **PARAMS)
    for k in range(n):
        assert out.committees[k] == sortition.committee(seed, k, effs, size)
    assert out.consensus == scores and all(s == SCORED for s in out.status)
    assert not out.slash
    assert sum(out.reward.values()) <= PARAMS["validators_pot"]
    paid = [j for j in out.reward if j != 3]
    # agreement WAD for everyone who voted: paid by stake among those with an assignment
    denom = sum(effs[j] for j in out.reward)
    for j in paid:
        assert out.reward[j] == PARAMS["validators_pot"] * WAD * effs[j] // (WAD * denom)


def test_a_ten_percent_identity_captures_no_committee():
    """One liar holding 10% of W reports 1 for every slot it is assigned (K = 32, the
    paper's 1,051 validators, 60 submissions): no consensus moves, and it is slashed for
    deviation. Weighting votes by stake instead (the rule DESIGN §3.4 rejects) hands it a
    majority of most of its committees."""
    others = stakes(1050, 3)
    liar_eff = sum(others) // 9  # 10% of W
    effs = [liar_eff, *others]
    n, size = 60, 32
    scores = truth(n, 4)
    seed = b"\x11" * 32
    reports = honest(seed, n, effs, size, scores)
    reports[0] = [1] * len(reports[0])
    out = committee_round(seed, n, effs, size, reports, **PARAMS)
    assert len(reports[0]) == n  # K * 10% >= 1: it sits on every committee (p = 1)
    assert out.consensus == scores
    assert out.slash[0] == -(-liar_eff * PARAMS["slash_dev"] // WAD) and out.reward[0] == 0
    captured = 0
    for k in range(n):  # the same votes weighted by stake
        pairs = [(1 if j == 0 else scores[k], effs[j]) for j in out.committees[k]]
        captured += ArenaModel.consensus(pairs, PARAMS["tolerance"])[0] == 1
    assert captured > n // 2, captured


def test_splitting_a_stake_gains_no_pay():
    """Validator A whole, or split over 10 identities of a tenth each: over 12 seeds its
    pay is never higher split than whole (an identity without an assignment is not paid),
    and not much lower on average (K = 16, 80 validators, 60 submissions)."""
    others = stakes(79, 5)
    a = sum(others) // 50
    n, size = 60, 16
    scores = truth(n, 6)
    whole_pay, split_pay = [], []
    for s in range(12):
        seed = s.to_bytes(32, "big")
        effs = [a, *others]
        out = committee_round(seed, n, effs, size, honest(seed, n, effs, size, scores), **PARAMS)
        whole_pay.append(out.reward.get(0, 0))
        parts = [a // 10] * 9 + [a - 9 * (a // 10)]
        effs2 = [*parts, *others]
        out2 = committee_round(seed, n, effs2, size, honest(seed, n, effs2, size, scores),
                               **PARAMS)  # fmt: skip
        split_pay.append(sum(out2.reward.get(j, 0) for j in range(10)))
    assert all(sp <= wp + 10 for sp, wp in zip(split_pay, whole_pay, strict=True))
    assert sum(split_pay) >= 0.9 * sum(whole_pay)


def test_reveals_misses_and_small_committees():
    effs, n, size = stakes(40, 7), 30, 4
    scores = truth(n, 8)
    seed = b"\x21" * 32
    total = sum(effs)
    reports = honest(seed, n, effs, size, scores)
    assigned = [
        j for j in range(len(effs)) if sortition.assignments(seed, n, j, effs[j], total, size)
    ]
    idle = [j for j in range(len(effs)) if j not in assigned]
    silent = assigned[0]
    reports[silent] = None
    for j in idle:
        reports[j] = None  # nothing to reveal: neither paid nor slashed
    out = committee_round(seed, n, effs, size, reports, **PARAMS)
    assert out.slash == {silent: -(-effs[silent] * PARAMS["slash_miss"] // WAD)}
    assert silent not in out.reward and all(j not in out.reward for j in idle)
    # a committee below min_committee leaves its submission unscored
    small = min(range(n), key=lambda k: len(out.committees[k]))
    m = len([j for j in out.committees[small] if j != silent]) + 1
    out2 = committee_round(seed, n, effs, size, reports, min_committee=m, **PARAMS)
    assert out2.status[small] == UNSCORED
    with pytest.raises(ValueError, match="revealed 1 scores"):
        committee_round(seed, n, effs, size, {**reports, assigned[1]: [5]}, **PARAMS)
