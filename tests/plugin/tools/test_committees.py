"""The committee-capture table of DESIGN §3.4 recomputed with the sortition rule
(``tools.committees``): the protocol's inverse weights leave a 10%-stake identity no
committee while stake weights hand it nearly all at K = 32, a third of the stake captures
a few percent of K = 16 committees and splitting it into sybils helps only a little, and
committee sizes centre on K with a tail far below 4·K."""

from __future__ import annotations

import numpy as np
import pytest
from ape_arena.tools.committees import capture_probability, capture_table, committee_sizes

COMMITTEES = 4_000  # resolution 2.5e-4, seconds on 2 cores


def test_inverse_weights_leave_a_10_percent_identity_no_committee():
    for k in (16, 32, 64):
        assert capture_probability(0.10, k, committees=COMMITTEES) == 0.0
    assert capture_probability(0.10, 32, committees=COMMITTEES, rule="stake") > 0.95
    assert capture_probability(0.10, 16, committees=COMMITTEES, rule="stake") > 0.99


def test_larger_committees_are_safer_and_sybils_do_not_change_the_order():
    one = [capture_probability(0.33, k, committees=COMMITTEES) for k in (16, 32, 64)]
    syb = [capture_probability(0.33, k, committees=COMMITTEES, sybils=200) for k in (16, 32, 64)]
    assert 0.02 < one[0] < 0.09 and one[0] > one[1] > one[2]
    assert syb[0] > syb[1] > syb[2] and syb[2] < 0.01


def test_committee_sizes_centre_on_k():
    sizes = committee_sizes(64, committees=COMMITTEES)
    assert 62 <= np.median(sizes) <= 66
    assert np.percentile(sizes, 99.9) < 4 * 64


def test_table_rows_and_bad_input():
    rows = capture_table(shares=(0.2,), sizes=(32,), committees=500, sybils=20)
    assert [(r["share"], r["K"], r["committees"]) for r in rows] == [(0.2, 32, 500)]
    assert set(rows[0]) >= {"one_identity", "sybils", "stake_weighted"}
    with pytest.raises(ValueError, match="share"):
        capture_probability(1.0, 32)
    with pytest.raises(ValueError, match="rule"):
        capture_probability(0.1, 32, rule="votes")
