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


def score_commitment(
    task: int, round_: int, validator: str, scores: Sequence[int], salt: bytes | str
) -> bytes:
    """``keccak256(abi_encode(uint256 task, uint256 round, address validator, uint64[] scores,
    bytes32 salt))`` with the standard encoding of a dynamic ``uint64[]``."""
    return keccak(
        abi_encode(
            ["uint256", "uint256", "address", "uint64[]", "bytes32"],
            [
                int(task),
                int(round_),
                to_checksum_address(str(validator)),
                [int(s) for s in scores],
                to_bytes32(salt),
            ],
        )
    )


def new_salt() -> bytes:
    import secrets

    return secrets.token_bytes(32)
