"""Property tests of the `score_math` module (consensus median, deviation, agreement,
slash rounding) against plain-Python definitions from PROTOCOL.md §6/§8."""

from __future__ import annotations

import functools
import os

import boa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ROOT

WAD = 10**18
INVALID = 2**64 - 1
SCORE_FLOOR = 10**6

HARNESS = """
# pragma version ~=0.4.3
from contracts import score_math

@external
@pure
def median(xs: uint64[32], ws: uint256[32], n: uint256, total: uint256) -> uint64:
    return score_math._lower_median(xs, ws, n, total)

@external
@pure
def deviation(x: uint64, c: uint64) -> uint256:
    return score_math._deviation(x, c)

@external
@pure
def agreement(d: uint256, tol: uint256) -> uint256:
    return score_math._agreement(d, tol)

@external
@pure
def slash_amount(stake: uint256, fraction: uint256) -> uint256:
    return score_math._slash_amount(stake, fraction)
"""


@functools.cache
def _partial():
    cwd = os.getcwd()
    os.chdir(ROOT)  # `from contracts import score_math` resolves from the repo root
    try:
        return boa.loads_partial(HARNESS)
    finally:
        os.chdir(cwd)


_DEPLOYED: dict = {}


def harness():
    """Deployed once per test (each test runs in its own boa anchor, see conftest)."""
    c = _DEPLOYED.get("c")
    if c is None or len(boa.env.get_code(c.address)) == 0:
        c = _partial().deploy()
        _DEPLOYED["c"] = c
    return c


def ref_median(xs, ws):
    total = sum(ws)
    for x in sorted(set(xs)):
        if 2 * sum(w for y, w in zip(xs, ws, strict=True) if y <= x) >= total:
            return x
    raise AssertionError


def ref_deviation(x, c):
    if x == INVALID and c == INVALID:
        return 0
    if x == INVALID or c == INVALID:
        return WAD
    return abs(x - c) * WAD // max(c, SCORE_FLOOR)


scores = st.one_of(st.integers(0, 2_000_000_000), st.just(INVALID), st.integers(0, INVALID))
votes = st.lists(st.tuples(scores, st.integers(0, 10**27)), min_size=1, max_size=32)


@settings(max_examples=150, deadline=None)
@given(votes)
def test_lower_median_matches_definition(v):
    xs = [x for x, _ in v]
    ws = [w for _, w in v]
    pad = 32 - len(v)
    got = harness().median(xs + [0] * pad, ws + [0] * pad, len(v), sum(ws))
    assert got == ref_median(xs, ws)


def test_lower_median_examples():
    h = harness()
    z = [0] * 29
    # equal weights, 3 votes: the middle one
    assert h.median([5, 1, 9] + z, [1, 1, 1] + z, 3, 3) == 5
    # even split: the LOWER median
    assert h.median([5, 9] + [0] * 30, [1, 1] + [0] * 30, 2, 2) == 5
    # a heavy outlier wins when it holds half of the stake
    assert h.median([9, 1, 2] + z, [2, 1, 1] + z, 3, 4) == 2
    assert h.median([9, 1, 2] + z, [3, 1, 1] + z, 3, 5) == 9
    # INVALID is the largest score
    assert h.median([INVALID, INVALID, 4] + z, [1, 1, 1] + z, 3, 3) == INVALID


@settings(max_examples=150, deadline=None)
@given(scores, scores)
def test_deviation_matches_definition(x, c):
    assert harness().deviation(x, c) == ref_deviation(x, c)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**40), st.integers(1, 1000 * WAD))
def test_agreement(d, tol):
    t = d * WAD // tol
    assert harness().agreement(d, tol) == (0 if t >= WAD else WAD - t)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**30), st.integers(0, WAD))
def test_slash_rounds_up_and_never_exceeds_stake(stake, fraction):
    got = harness().slash_amount(stake, fraction)
    assert got == -(-stake * fraction // WAD)
    assert got <= stake
    assert got * WAD >= stake * fraction
