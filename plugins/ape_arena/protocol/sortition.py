"""Committee sortition of protocol v2 (DESIGN §3.4), in exact integer arithmetic: the rule
the contracts are to compute, so the client, the reference model and ``make scale`` can
derive every committee from a round's seed.

* ``round_seed(block_hash, task, round, digest)`` =
  ``keccak256(abi_encode(bytes32 block_hash, uint256 task, uint256 round, bytes32 digest))``:
  the hash of a block fixed *after* the round's submissions are known (``digest`` commits
  to them), never ``prevrandao`` (public before the block on Base).
* Validator index ``j`` sits on the committee of submission slot ``k`` iff
  ``K·eff_j >= W`` (``p_j = 1``) or ``h < (2**256 - 1) // W · (K·eff_j)``, with
  ``h = uint256(keccak256(abi_encode(bytes32 seed, uint256 k, uint256 j)))``: probability
  ``p_j = min(1, K·eff_j / W)`` up to ``K·eff_j / 2**256``; anyone checks it in O(1).
* Its vote weight there is ``eff_j / p_j``: ``eff_j`` when ``p_j = 1``, else ``W // K``.
  Selection already follows stake; weighting by stake again would count it twice (one
  identity with 10% of the stake would then hold a majority of nearly every committee at
  K = 32). Over ``n`` submissions a validator's expected total weight is ``n·eff_j``
  whatever ``K`` and however its stake is split over identities.

Example::

    seed = round_seed(block_hash, task=1, round_=0, digest=submissions_digest(hashes))
    mine = assignments(seed, n_submissions, j, eff[j], W, K)    # slots j scores
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode as abi_encode
from eth_utils import keccak

from .types import to_bytes32

MAX_UINT256 = 2**256 - 1
DEFAULT_COMMITTEE_SIZE = 64
MAX_COMMITTEE_SIZE = 64


def round_seed(block_hash: bytes | str, task: int, round_: int, digest: bytes | str) -> bytes:
    """``keccak256(abi_encode(bytes32 block_hash, uint256 task, uint256 round, bytes32
    digest))``."""
    return keccak(
        abi_encode(
            ["bytes32", "uint256", "uint256", "bytes32"],
            [to_bytes32(block_hash), int(task), int(round_), to_bytes32(digest)],
        )
    )


def submissions_digest(model_hashes: Sequence[bytes | str]) -> bytes:
    """The running digest of a round's revealed submissions in slot order:
    ``d_0 = 0``, ``d_{k+1} = keccak256(abi_encode(bytes32 d_k, bytes32 model_sha256_k))``."""
    d = b"\0" * 32
    for h in model_hashes:
        d = keccak(abi_encode(["bytes32", "bytes32"], [d, to_bytes32(h)]))
    return d


def slot_hash(seed: bytes | str, k: int, j: int) -> int:
    """``uint256(keccak256(abi_encode(bytes32 seed, uint256 k, uint256 j)))``."""
    return int.from_bytes(
        keccak(abi_encode(["bytes32", "uint256", "uint256"], [to_bytes32(seed), int(k), int(j)])),
        "big",
    )


def _check(eff: int, total: int, size: int) -> None:
    if not 1 <= size <= MAX_COMMITTEE_SIZE:
        raise ValueError(f"committee size K is {size}; allowed 1..{MAX_COMMITTEE_SIZE}")
    if total <= 0 or not 0 <= eff <= total:
        raise ValueError(f"effective stake {eff} must lie in 0..W (W = {total} > 0)")


def threshold(eff: int, total: int, size: int) -> int | None:
    """The bound ``h`` must stay below, or ``None`` when ``p_j = 1`` (every committee)."""
    _check(eff, total, size)
    if size * eff >= total:
        return None
    return MAX_UINT256 // total * (size * eff)


def is_assigned(seed: bytes | str, k: int, j: int, eff: int, total: int, size: int) -> bool:
    """Whether validator index ``j`` (frozen effective stake ``eff``, of ``total`` = W) is
    on the committee of slot ``k`` at committee size ``size`` = K."""
    bound = threshold(eff, total, size)
    if eff == 0:
        return False
    return bound is None or slot_hash(seed, k, j) < bound


def vote_weight(eff: int, total: int, size: int) -> int:
    """``eff / p``: ``eff`` when ``K·eff >= W``, else ``W // K`` (0 for no stake)."""
    _check(eff, total, size)
    if eff == 0:
        return 0
    return eff if size * eff >= total else total // size


def assignments(
    seed: bytes | str, n_submissions: int, j: int, eff: int, total: int, size: int
) -> list[int]:
    """The slots validator ``j`` scores this round, ascending (the order its scores are
    committed and revealed in)."""
    return [k for k in range(n_submissions) if is_assigned(seed, k, j, eff, total, size)]


def committee(seed: bytes | str, k: int, effs: Sequence[int], size: int) -> list[int]:
    """The validator indices on slot ``k``'s committee (``effs[j]`` = frozen effective
    stake of index ``j``; W is their sum)."""
    total = sum(effs)
    return [j for j, e in enumerate(effs) if is_assigned(seed, k, j, e, total, size)]
