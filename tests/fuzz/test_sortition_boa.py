"""The contracts' committee rule (``contracts/sortition.vy``) against the Python rule the
client and ``make scale`` use (``protocol/sortition.py``): the same seed, the same committee
membership bit for bit, the same vote weight, over random seeds, slots, stakes and K; and
the rule's statistics: a validator's assignment count over many slots within a stated bound
of n·p_j (the min(1, ·) cap included), and its expected total vote weight n·eff_j however
its stake is split."""

from __future__ import annotations

import math

from ape_arena.protocol import sortition as py
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ModuleHarness

HARNESS = """
# pragma version ~=0.4.3
from contracts import sortition

@external
@pure
def round_seed(block_hash: bytes32, task: uint256, round: uint256, digest: bytes32) -> bytes32:
    return sortition._round_seed(block_hash, task, round, digest)

@external
@pure
def next_digest(digest: bytes32, model_sha256: bytes32) -> bytes32:
    return sortition._next_digest(digest, model_sha256)

@external
@pure
def is_assigned(seed: bytes32, k: uint256, j: uint256, eff: uint256, total: uint256, size: uint256) -> bool:
    return sortition._is_assigned(seed, k, j, eff, total, size)

@external
@pure
def vote_weight(eff: uint256, total: uint256, size: uint256) -> uint256:
    return sortition._vote_weight(eff, total, size)

@external
@view
def count(seed: bytes32, n: uint256, j: uint256, eff: uint256, total: uint256, size: uint256) -> uint256:
    c: uint256 = 0
    for k: uint256 in range(n, bound=1024):
        if sortition._is_assigned(seed, k, j, eff, total, size):
            c += 1
    return c
"""


harness = ModuleHarness(HARNESS)


stakes = st.integers(min_value=1, max_value=10**30)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    k=st.integers(0, 2**32),
    j=st.integers(0, 2**32),
    eff=st.integers(0, 10**30),
    rest=stakes,
    size=st.integers(1, py.MAX_COMMITTEE_SIZE),
)
def test_membership_and_weight_match_the_python_rule(seed, k, j, eff, rest, size):
    total = eff + rest
    h = harness()
    assert h.is_assigned(seed, k, j, eff, total, size) == py.is_assigned(
        seed, k, j, eff, total, size
    )
    assert h.vote_weight(eff, total, size) == py.vote_weight(eff, total, size)


@settings(max_examples=100, deadline=None)
@given(
    block=st.binary(min_size=32, max_size=32),
    task=st.integers(0, 2**64),
    rnd=st.integers(0, 64),
    hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=5),
)
def test_seed_and_digest_match(block, task, rnd, hashes):
    h = harness()
    d = b"\0" * 32
    for m in hashes:
        d = h.next_digest(d, m)
    assert d == py.submissions_digest(hashes)
    assert h.round_seed(block, task, rnd, d) == py.round_seed(block, task, rnd, d)


def test_assignment_counts_follow_p_and_splitting_gains_no_weight():
    """Over 1,024 slots and 10 seeds, each validator's assignment count stays within 5
    standard deviations of n·p_j (binomial; p_j = 1 exactly n), and the expected total vote
    weight n·p_j·w_j equals n·eff_j up to W/K rounding, whole or split in 10 identities."""
    h = harness()
    n, size = 1024, 16
    effs = [5_000, 1_000, 1_000, 300, 50, 20_000, 2_650]  # W = 30,000; 20,000·16 >= W
    total = sum(effs)
    for s in range(10):
        seed = s.to_bytes(32, "big")
        for j, eff in enumerate(effs):
            p = min(1.0, size * eff / total)
            got = h.count(seed, n, j, eff, total, size)
            if p == 1.0:
                assert got == n
            else:
                sd = math.sqrt(n * p * (1 - p))
                assert abs(got - n * p) <= 5 * sd, (s, j, got, n * p)
    # expected total weight: p·w = eff (up to the floor of W // K), whole or split
    for eff in effs:
        whole = min(1.0, size * eff / total) * py.vote_weight(eff, total, size)
        parts = [eff // 10] * 9 + [eff - 9 * (eff // 10)]
        split = sum(min(1.0, size * e / total) * py.vote_weight(e, total, size) for e in parts)
        assert abs(whole - eff) <= eff * size / total and abs(split - eff) <= eff * size / total


def test_enumerating_1024_slots_fits_a_transaction():
    """A validator's whole assignment list over 1,024 submissions (what a reveal enumerates)
    costs far below one transaction's 15M gas: about 1,000 gas a slot."""
    h = harness()
    h.count(b"\x01" * 32, 1024, 3, 1, 1_000_000, 64)
    gas = h._computation.get_gas_used()
    assert 200_000 < gas < 3_000_000, gas
