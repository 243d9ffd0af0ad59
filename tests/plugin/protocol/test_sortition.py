"""Committee sortition (DESIGN §3.4) with the keccak rule of ``protocol.sortition``: the
encodings, the p = 1 cap, unbiased assignment counts and vote weight over many seeds (each
bound stated, 5 standard deviations of the binomial), and that splitting a stake over many
identities gains neither weight nor pay."""

from __future__ import annotations

import math

import pytest
from ape_arena.protocol.sortition import (
    MAX_UINT256,
    assignments,
    committee,
    is_assigned,
    round_seed,
    slot_hash,
    submissions_digest,
    threshold,
    vote_weight,
)
from eth_utils import keccak

SEEDS = [keccak(b"seed %d" % i) for i in range(40)]
N = 64  # submissions per round


def word(x: int) -> bytes:
    return int(x).to_bytes(32, "big")


def test_encodings_are_abi_words_hashed_with_keccak():
    bh, digest = keccak(b"block"), keccak(b"subs")
    assert round_seed(bh, 3, 7, digest) == keccak(bh + word(3) + word(7) + digest)
    seed = round_seed(bh, 3, 7, digest)
    assert slot_hash(seed, 5, 9) == int.from_bytes(keccak(seed + word(5) + word(9)), "big")
    h1, h2 = keccak(b"m1"), keccak(b"m2")
    assert submissions_digest([]) == b"\0" * 32
    assert submissions_digest([h1, h2]) == keccak(keccak(b"\0" * 32 + h1) + h2)
    assert submissions_digest([h2, h1]) != submissions_digest([h1, h2])  # order matters


def test_full_probability_cap_zero_stake_and_bad_parameters():
    seed = SEEDS[0]
    # K·eff >= W: on every committee, weight = own stake
    assert threshold(25, 100, 4) is None and threshold(24, 100, 4) is not None
    assert all(is_assigned(seed, k, 0, 25, 100, 4) for k in range(N))
    assert vote_weight(25, 100, 4) == 25 and vote_weight(10, 100, 4) == 25  # W // K
    assert vote_weight(10, 101, 4) == 25  # rounds down
    assert not any(is_assigned(seed, k, 0, 0, 100, 4) for k in range(N))
    assert vote_weight(0, 100, 4) == 0
    # the bound never overflows and scales with the stake
    assert threshold(24, 100, 4) == MAX_UINT256 // 100 * 96 < MAX_UINT256
    for bad in ((1, 100, 0), (1, 100, 65), (101, 100, 4), (1, 0, 4), (-1, 100, 4)):
        with pytest.raises(ValueError):
            threshold(*bad)


def binomial_bound(n: int, p: float, sigmas: float = 5.0) -> float:
    return sigmas * math.sqrt(max(n * p * (1 - p), 1e-12)) + 1e-9


def test_assignment_counts_and_vote_weight_follow_stake_over_many_seeds():
    """Validators from tiny to capped stake: over 40 seeds × 64 slots each one's assignment
    count is within 5 sd of n·p_j, and its total vote weight within 5 sd of n·eff_j."""
    effs = [1, 3, 10, 30, 60, 100, 200, 500, 1000, 3000]
    total, size = sum(effs), 8
    n = len(SEEDS) * N
    for j, eff in enumerate(effs):
        p = min(1.0, size * eff / total)
        count = sum(len(assignments(seed, N, j, eff, total, size)) for seed in SEEDS)
        assert abs(count - n * p) <= binomial_bound(n, p), (j, eff, count, n * p)
        weight = count * vote_weight(eff, total, size)
        sd_weight = binomial_bound(n, p) * vote_weight(eff, total, size)
        assert abs(weight - n * eff) <= sd_weight + n * (total % size), (j, weight, n * eff)
    # the largest validator (3000 of 4904, K = 8) is capped at p = 1 and scores everything
    assert len(assignments(SEEDS[0], N, 9, 3000, total, size)) == N


def test_committees_differ_per_slot_and_per_seed_and_average_k_members():
    effs = [100] * 40  # every p = K/40
    size = 8
    sizes, distinct = [], set()
    for seed in SEEDS[:10]:
        for k in range(N):
            members = committee(seed, k, effs, size)
            sizes.append(len(members))
            distinct.add(tuple(members))
    mean = sum(sizes) / len(sizes)
    assert abs(mean - size) <= 5 * math.sqrt(size * (1 - size / 40) / len(sizes))
    assert len(distinct) > 0.95 * len(sizes)


def test_splitting_one_stake_over_many_identities_gains_neither_weight_nor_pay():
    """One identity with stake S against the same S split over 10 identities (honest rest
    unchanged): the expected vote weight per submission is S either way (p·w = eff), the
    measured totals agree within their bounds, and pay (by effective stake) sums the same."""
    honest = [50 + 7 * i for i in range(30)]
    stake, size, parts = 200, 16, 10
    one = honest + [stake]
    split = honest + [stake // parts] * parts
    t1, t2 = sum(one), sum(split)
    assert t1 == t2
    exp_one = min(1, size * stake / t1) * vote_weight(stake, t1, size)
    exp_split = parts * min(1, size * (stake // parts) / t2) * vote_weight(stake // parts, t2, size)
    assert abs(exp_one - stake) <= t1 / size * min(1, size * stake / t1) and exp_one <= stake
    assert abs(exp_split - stake) <= parts * (t2 % size + 1)
    n = len(SEEDS) * N
    w1 = sum(len(assignments(s, N, len(honest), stake, t1, size)) for s in SEEDS) * vote_weight(
        stake, t1, size
    )
    w2 = sum(
        len(assignments(s, N, len(honest) + i, stake // parts, t2, size))
        for s in SEEDS
        for i in range(parts)
    ) * vote_weight(stake // parts, t2, size)
    p1, p2 = min(1, size * stake / t1), size * (stake // parts) / t2
    assert abs(w1 - n * stake) <= binomial_bound(n, p1) * vote_weight(stake, t1, size) + n
    assert (
        abs(w2 - n * stake)
        <= binomial_bound(n * parts, p2) * vote_weight(stake // parts, t2, size) + n * parts
    )
    # pay follows effective stake, not assignments: the same total either way
    assert stake == parts * (stake // parts)


def test_a_10_percent_identity_captures_no_committee_under_inverse_weights():
    """400 honest validators and one identity with 10% of all stake, K = 32: with the
    protocol's weights the identity never holds a majority of a committee; weighting by
    stake instead would hand it most of them (the rule DESIGN §3.4 rejects)."""
    honest = [100 + (i * 37) % 90 for i in range(400)]
    attacker = sum(honest) // 9  # 10% of the total
    effs = honest + [attacker]
    total, size = sum(effs), 32
    a = len(effs) - 1
    inverse = stake_rule = 0
    seeds, slots = SEEDS[:16], 32
    for seed in seeds:
        for k in range(slots):
            members = committee(seed, k, effs, size)
            w_inv = {j: vote_weight(effs[j], total, size) for j in members}
            if a in members and 2 * w_inv[a] > sum(w_inv.values()):
                inverse += 1
            if a in members and 2 * effs[a] > sum(effs[j] for j in members):
                stake_rule += 1
    n = len(seeds) * slots
    assert inverse == 0
    assert stake_rule > 0.9 * n
