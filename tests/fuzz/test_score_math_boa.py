"""Property tests of the `score_math` module (consensus with its statuses, rank weight,
deviation, agreement, slash rounding) against plain-Python definitions from PROTOCOL.md
§6/§8."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ModuleHarness

WAD = 10**18
INVALID = 2**64 - 1
UNAVAILABLE = 2**64 - 2
SCORE_FLOOR = 10**6
SCORED, SPLIT, UNSCORED, GONE = 0, 1, 2, 3

HARNESS = """
# pragma version ~=0.4.3
from contracts import score_math

@external
@pure
def consensus(xs: uint64[256], ws: uint256[256], n: uint256, tol: uint256) -> (uint64, uint256):
    return score_math._consensus(xs, ws, n, tol)

@external
@pure
def rank_weight(c: uint64, best: uint64, q: uint256, eps: uint256) -> uint256:
    return score_math._rank_weight(c, best, q, eps)

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


harness = ModuleHarness(HARNESS)


def ref_consensus(xs, ws, tol):
    """The definition read literally: drop UNAVAILABLE (more than half of all weight:
    UNAVAILABLE); the lower median is the smallest reported x holding at least half of the
    weight at or below it; exactly half with a higher report is a split."""
    total_all = sum(ws)
    kept = [(x, w) for x, w in zip(xs, ws, strict=True) if x != UNAVAILABLE]
    if not kept or 2 * (total_all - sum(w for _, w in kept)) > total_all:
        return 0, GONE
    total = sum(w for _, w in kept)
    if total == 0:
        return min(x for x, _ in kept), SCORED
    for x in sorted({x for x, _ in kept}):
        below = sum(w for y, w in kept if y <= x)
        if 2 * below > total:
            return x, SCORED
        if 2 * below == total:
            above = [y for y, _ in kept if y > x]
            if not above:
                return x, SCORED
            hi = min(above)
            if (hi - x) * WAD <= tol * max(x, SCORE_FLOOR):
                return (x + hi) // 2, SPLIT
            return 0, UNSCORED
    raise AssertionError


def ref_rank_weight(c, best, q, eps):
    """q ** t for t = (c - best) / (eps * best) at WAD precision, in exact rationals."""
    from fractions import Fraction

    t = Fraction((c - best) * WAD, eps * max(best, SCORE_FLOOR))
    i = t.numerator // t.denominator
    qf = Fraction(q, WAD)
    lo, hi = qf**i, qf ** (i + 1)
    return (lo - (lo - hi) * (t - i)) * WAD


def ref_deviation(x, c):
    if x == INVALID and c == INVALID:
        return 0
    if x == INVALID or c == INVALID:
        return WAD
    return abs(x - c) * WAD // max(c, SCORE_FLOOR)


scores = st.one_of(
    st.integers(0, 2_000_000_000), st.just(INVALID), st.just(UNAVAILABLE), st.integers(0, INVALID)
)
weights = st.one_of(st.integers(0, 10**27), st.sampled_from([10**18, 2 * 10**18]))
votes = st.lists(st.tuples(scores, weights), min_size=1, max_size=32)
tolerances = st.one_of(st.integers(1, 2 * WAD), st.just(WAD // 2))


def _consensus(xs, ws, tol):
    pad = 256 - len(xs)
    return tuple(harness().consensus(list(xs) + [0] * pad, list(ws) + [0] * pad, len(xs), tol))


@settings(max_examples=200, deadline=None)
@given(votes, tolerances)
def test_consensus_matches_definition(v, tol):
    xs = [x for x, _ in v]
    ws = [w for _, w in v]
    assert _consensus(xs, ws, tol) == ref_consensus(xs, ws, tol)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 3_000_000_000), min_size=2, max_size=16, unique=True),
    tolerances,
)
def test_equal_weights_split_exactly_in_half(xs, tol):
    """An even number of equal votes always splits: midpoint or unscored, never a side."""
    xs = sorted(xs)[: len(xs) // 2 * 2]
    c, status = _consensus(xs, [WAD] * len(xs), tol)
    lo, hi = xs[len(xs) // 2 - 1], xs[len(xs) // 2]
    if (hi - lo) * WAD <= tol * max(lo, SCORE_FLOOR):
        assert (c, status) == ((lo + hi) // 2, SPLIT)
    else:
        assert (c, status) == (0, UNSCORED)


def test_consensus_examples():
    tol = WAD // 10  # 10 %
    # equal weights, 3 votes: the middle one
    assert _consensus([5, 1, 9], [1, 1, 1], tol) == (5, SCORED)
    # a heavy outlier wins only with MORE than half of the stake
    assert _consensus([9, 1, 2], [3, 1, 1], tol) == (9, SCORED)
    # exactly half, far apart: unscored (v1 took the liar's lower score here)
    assert _consensus([100_000_000, 900_000_000], [1, 1], tol) == (0, UNSCORED)
    assert _consensus([9 * 10**8, 10**8, 2 * 10**8], [2, 1, 1], tol) == (0, UNSCORED)
    # below SCORE_FLOOR every gap is relative to the floor: tiny scores are close
    assert _consensus([9, 1, 2], [2, 1, 1], tol) == (5, SPLIT)
    # exactly half, close: the midpoint
    assert _consensus([100_000_000, 105_000_000], [1, 1], tol) == (102_500_000, SPLIT)
    # INVALID is the largest score
    assert _consensus([INVALID, INVALID, 4], [1, 1, 1], tol) == (INVALID, SCORED)
    # UNAVAILABLE is left out; more than half of the weight: the submission is UNAVAILABLE
    assert _consensus([UNAVAILABLE, 7, 9, 7], [1, 1, 1, 1], tol) == (7, SCORED)
    assert _consensus([UNAVAILABLE, UNAVAILABLE, 7], [1, 1, 1], tol) == (0, GONE)
    assert _consensus([UNAVAILABLE, 7], [1, 1], tol) == (7, SCORED)  # exactly half: kept
    assert _consensus([UNAVAILABLE], [1], tol) == (0, GONE)


@st.composite
def distances(draw):
    """(best, c, q, eps) with c at most 200 epsilons behind best (beyond that g is ~0 for
    any q a task would use, and the exact reference power would take forever)."""
    best = draw(st.integers(0, 2**62))
    eps = draw(st.one_of(st.integers(1, 2 * WAD), st.just(WAD // 100)))
    q = draw(st.one_of(st.integers(0, WAD), st.just(WAD // 2)))
    t = draw(st.integers(0, 200 * WAD))  # the distance in epsilons, WAD fixed point
    gap = t * eps * max(best, SCORE_FLOOR) // WAD // WAD
    return best, min(best + gap, 2**64 - 3), q, eps


@settings(max_examples=200, deadline=None)
@given(distances())
def test_rank_weight_is_q_to_the_distance_in_epsilons(case):
    best, c, q, eps = case
    got = harness().rank_weight(c, best, q, eps)
    exact = ref_rank_weight(c, best, q, eps)
    assert 0 <= got <= WAD
    # <= 10 squarings and 10 products, each rounded down by < 1 wei: the error at most
    # doubles per squaring, so stays well under 4096 wei below the exact value
    assert exact - 4096 <= got <= exact + 2  # t and the last product round down: g up < 2 wei


def test_rank_weight_is_defined_far_behind():
    """Huge distances neither revert nor leave [0, WAD]."""
    h = harness()
    assert h.rank_weight(2**64 - 3, 0, WAD // 2, 1) == 0
    assert h.rank_weight(2**64 - 3, 0, WAD, 1) == WAD
    assert 0 <= h.rank_weight(2**64 - 3, 10**6, WAD - 1, 1) <= WAD


def test_rank_weight_examples():
    h = harness()
    q, eps = WAD // 2, WAD // 100
    assert h.rank_weight(10**9, 10**9, q, eps) == WAD  # the best
    assert h.rank_weight(1_010_000_000, 10**9, q, eps) == WAD // 2  # one epsilon behind
    assert h.rank_weight(1_020_000_000, 10**9, q, eps) == WAD // 4
    assert h.rank_weight(1_005_000_000, 10**9, q, eps) == 3 * WAD // 4  # half way: linear
    assert h.rank_weight(10**9, 10**9, 0, eps) == WAD  # q = 0: winner takes all
    assert h.rank_weight(1_000_000_001, 10**9, 0, eps) < WAD
    assert h.rank_weight(2 * 10**9, 10**9, WAD, eps) == WAD  # q = 1: flat


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
