"""Commitments computed locally with eth_abi exactly as PROTOCOL.md §5 builds them (tests
compare them with the contract's pure ``model_commitment`` / ``score_commitment``)."""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from .types import to_bytes32


def model_commitment(model_sha256: bytes | str, node: str, task: int, round_: int) -> bytes:
    """``keccak256(abi_encode(bytes32 model_sha256, address node, uint256 task, uint256 round))``."""
    return keccak(
        abi_encode(
            ["bytes32", "address", "uint256", "uint256"],
            [to_bytes32(model_sha256), to_checksum_address(str(node)), int(task), int(round_)],
        )
    )


def score_chain(scores: Sequence[int], start: bytes = b"\0" * 32) -> bytes:
    """The running hash over scores that ``reveal_scores`` checks page by page:
    ``h_0 = bytes32(0)``, ``h_(i+1) = keccak256(abi_encode(bytes32 h_i, uint64 score_i))``."""
    h = start
    for s in scores:
        h = keccak(abi_encode(["bytes32", "uint64"], [h, int(s)]))
    return h


def score_commitment(
    task: int, round_: int, validator: str, scores: Sequence[int], salt: bytes | str
) -> bytes:
    """``keccak256(abi_encode(uint256 task, uint256 round, address validator, bytes32 h,
    bytes32 salt))`` with ``h = score_chain(scores)`` (PROTOCOL.md §5)."""
    return keccak(
        abi_encode(
            ["uint256", "uint256", "address", "bytes32", "bytes32"],
            [
                int(task),
                int(round_),
                to_checksum_address(str(validator)),
                score_chain(scores),
                to_bytes32(salt),
            ],
        )
    )


def new_salt() -> bytes:
    import secrets

    return secrets.token_bytes(32)
