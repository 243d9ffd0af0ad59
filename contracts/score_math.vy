# pragma version ~=0.4.3
"""
@title AIArena score math
@custom:contract-name score_math
@license MIT
@notice Pure helpers for `Arena.finalize`: the stake-weighted lower median of
        validator scores, the relative deviation of one score from the consensus,
        a validator's agreement factor and round-up slashing. Stateless module:
        import it and call its internal functions; it needs no `initializes:`.
        Exact arithmetic: contracts/PROTOCOL.md §6 and §8.
"""


# @dev Fixed-point 1.0 of every WAD parameter.
WAD: constant(uint256) = 10**18
# @dev The score of a model that could not be scored.
INVALID: constant(uint64) = max_value(uint64)
# @dev The report of a validator that could not fetch (or verify) a model.
UNAVAILABLE: constant(uint64) = max_value(uint64) - 1
# @dev Status of a submission after CONSENSUS.
STATUS_SCORED: constant(uint256) = 0
STATUS_SPLIT: constant(uint256) = 1
STATUS_UNSCORED: constant(uint256) = 2
STATUS_UNAVAILABLE: constant(uint256) = 3
# @dev Denominator floor of the relative deviation (0.001 in 1e9 score units).
SCORE_FLOOR: constant(uint256) = 10**6
# @dev Bound of the per-submission vote arrays (= arena_state.MAX_VOTES).
MAX_VOTES: constant(uint256) = 256


@internal
@pure
def _consensus(xs: uint64[MAX_VOTES], ws: uint256[MAX_VOTES], n: uint256, tolerance: uint256) -> (uint64, uint256):
    """
    @dev The consensus of one submission and its status (PROTOCOL.md §6 CONSENSUS).
         UNAVAILABLE reports are left out; if they hold strictly more than half of the
         weight the submission is UNAVAILABLE. Otherwise `c` is the weighted lower median of
         the other reports: the smallest score x with 2 * (weight of scores <= x) >= W
         (W = their weight). An exact half (2 * weight <= x == W) with a higher score x'
         reported: the midpoint x + (x' - x) // 2 if (x' - x) * WAD <= tolerance *
         max(x, SCORE_FLOOR) (status SPLIT), else unscored (status UNSCORED, c = 0).
    @param xs The scores (first `n` entries used), any order.
    @param ws The weights matching `xs`.
    @param n The number of entries.
    @param tolerance The task's tau (WAD).
    @return (uint64, uint256) The consensus and the status.
    """
    a: uint64[MAX_VOTES] = empty(uint64[MAX_VOTES])
    w: uint256[MAX_VOTES] = empty(uint256[MAX_VOTES])
    m: uint256 = 0
    total: uint256 = 0
    gone: uint256 = 0
    for i: uint256 in range(MAX_VOTES):
        if i >= n:
            break
        if xs[i] == UNAVAILABLE:
            gone += ws[i]
            continue
        # insertion sort by score (ascending); equal scores keep their order
        x: uint64 = xs[i]
        j: uint256 = m
        for _: uint256 in range(MAX_VOTES):
            if j == 0:
                break
            if a[j - 1] <= x:
                break
            a[j] = a[j - 1]
            w[j] = w[j - 1]
            j -= 1
        a[j] = x
        w[j] = ws[i]
        m += 1
        total += ws[i]
    if 2 * gone > total + gone or m == 0:
        return 0, STATUS_UNAVAILABLE
    if total == 0:
        return a[0], STATUS_SCORED  # weightless reports: the smallest score
    cum: uint256 = 0
    for i: uint256 in range(MAX_VOTES):
        if i >= m:
            break
        cum += w[i]
        if i + 1 < m and a[i + 1] == a[i]:
            continue  # the whole group of equal scores counts together
        if 2 * cum > total or i + 1 == m:
            return a[i], STATUS_SCORED
        if 2 * cum == total:
            lo: uint64 = a[i]
            hi: uint64 = a[i + 1]
            if convert(hi - lo, uint256) * WAD <= tolerance * max(convert(lo, uint256), SCORE_FLOOR):
                return lo + (hi - lo) // 2, STATUS_SPLIT
            return 0, STATUS_UNSCORED
    return a[m - 1], STATUS_SCORED


@internal
@pure
def _pow_wad(q: uint256, k: uint256) -> uint256:
    """
    @dev q^k in WAD by square-and-multiply, each product rounded down.
    """
    result: uint256 = WAD
    base: uint256 = q
    e: uint256 = k
    for _: uint256 in range(256):
        if e == 0:
            break
        if e & 1 == 1:
            result = result * base // WAD
        base = base * base // WAD
        e >>= 1
    return result


@internal
@pure
def _rank_weight(c: uint64, best: uint64, q: uint256, eps: uint256) -> uint256:
    """
    @dev g = q^t with t = (c - best) / (epsilon * max(best, SCORE_FLOOR)): a gap of one
         epsilon * best costs one factor q. t = i + f (WAD): g = q^i - (q^i - q^(i+1)) * f //
         WAD, linear between integer powers (PROTOCOL.md §6 RANK).
    @param c The submission's consensus.
    @param best The lowest eligible consensus.
    @param q The rank ratio (WAD).
    @param eps The rank epsilon (WAD, > 0).
    @return uint256 The weight g (WAD).
    """
    t: uint256 = convert(c - best, uint256) * WAD * WAD // (eps * max(convert(best, uint256), SCORE_FLOOR))
    g: uint256 = self._pow_wad(q, t // WAD)
    return g - (g - g * q // WAD) * (t % WAD) // WAD


@internal
@pure
def _deviation(x: uint64, c: uint64) -> uint256:
    """
    @dev Relative deviation of score `x` from consensus `c`, in WAD:
         0 if both are INVALID, WAD if exactly one is, else
         |x - c| * WAD // max(c, SCORE_FLOOR).
    @param x A validator's score.
    @param c The consensus score.
    @return uint256 The deviation in WAD.
    """
    if x == INVALID and c == INVALID:
        return 0
    if x == INVALID or c == INVALID:
        return WAD
    diff: uint256 = 0
    if x >= c:
        diff = convert(x - c, uint256)
    else:
        diff = convert(c - x, uint256)
    return diff * WAD // max(convert(c, uint256), SCORE_FLOOR)


@internal
@pure
def _agreement(deviation: uint256, tolerance: uint256) -> uint256:
    """
    @dev F = max(0, WAD - deviation * WAD // tolerance).
    @param deviation The validator's mean relative deviation D (WAD).
    @param tolerance The task's tolerance tau (WAD, non-zero).
    @return uint256 The agreement factor F (WAD).
    """
    t: uint256 = deviation * WAD // tolerance
    if t >= WAD:
        return 0
    return WAD - t


@internal
@pure
def _slash_amount(stake: uint256, fraction: uint256) -> uint256:
    """
    @dev ceil(stake * fraction / WAD); never above `stake` for fraction <= WAD.
    @param stake The own stake at risk.
    @param fraction The slash fraction (WAD).
    @return uint256 The amount to slash.
    """
    return (stake * fraction + WAD - 1) // WAD
