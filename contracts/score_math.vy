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
# @dev Denominator floor of the relative deviation (0.001 in 1e9 score units).
SCORE_FLOOR: constant(uint256) = 10**6
# @dev Bound of the per-submission validator arrays (= Arena's MAX_VALIDATORS).
MAX_VOTES: constant(uint256) = 32


@internal
@pure
def _lower_median(xs: uint64[MAX_VOTES], ws: uint256[MAX_VOTES], n: uint256, total: uint256) -> uint64:
    """
    @dev Stake-weighted lower median: the smallest x such that
         2 * (sum of weights of scores <= x) >= total. `n` >= 1 entries are used.
    @param xs The scores (first `n` entries used), any order.
    @param ws The weights matching `xs`.
    @param n The number of entries.
    @param total The sum of the first `n` weights.
    @return uint64 The lower weighted median.
    """
    a: uint64[MAX_VOTES] = xs
    w: uint256[MAX_VOTES] = ws
    # Insertion sort by score (ascending); equal scores keep their order.
    for i: uint256 in range(1, MAX_VOTES):
        if i >= n:
            break
        x: uint64 = a[i]
        wx: uint256 = w[i]
        j: uint256 = i
        for _: uint256 in range(MAX_VOTES):
            if j == 0:
                break
            if a[j - 1] <= x:
                break
            a[j] = a[j - 1]
            w[j] = w[j - 1]
            j -= 1
        a[j] = x
        w[j] = wx
    cum: uint256 = 0
    for i: uint256 in range(MAX_VOTES):
        if i >= n:
            break
        cum += w[i]
        if 2 * cum >= total:
            return a[i]
    return a[n - 1]


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
