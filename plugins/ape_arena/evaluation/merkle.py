"""Merkle commitment to a task's per-round eval shards (DESIGN §3.1 ``eval_root``).

Leaf of round ``r``::

    leaf_r = keccak256(abi.encode(uint256 r, bytes32 shard_sha256))

Tree: OpenZeppelin's construction (``@openzeppelin/merkle-tree``'s ``makeMerkleTree``),
verifiable on-chain with OZ ``MerkleProof.verify`` or snekmate's
``merkle_proof_verification._verify``:

* internal node = ``keccak256(min(a, b) ++ max(a, b))`` (commutative / sorted-pair hashing);
* the leaves are sorted by value (ascending bytes), then laid out as a *complete* binary tree
  in one array: ``n`` leaves occupy the last ``n`` slots in reverse order, node ``i`` has
  children ``2i+1`` and ``2i+2``, the root is slot 0. Every internal node has two children,
  so there is no "odd node" rule to agree on: a proof is simply the siblings from the leaf up
  (proofs are ``ceil(log2 n)`` or ``floor(log2 n)`` long);
* one leaf: the root is the leaf and its proof is empty.

Leaves are single-hashed 64-byte preimages (unlike OZ's ``StandardMerkleTree``, which
double-hashes). snekmate warns that a 64-byte preimage can be confused with an internal
node's ``a ++ b``; here that is harmless: passing an internal node off as a leaf would need
``r = uint256(a) < num_rounds`` for a keccak output ``a``, and only the creator (who chose the
root anyway) reveals shards. The contract must check ``round < num_rounds``.

Example::

    tree = EvalTree([sha_round0, sha_round1, sha_round2])
    tree.root, tree.proof(1), verify(tree.proof(1), tree.root, leaf(1, sha_round1))
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from eth_utils import keccak

FORMAT = "arena-eval-merkle-v1"


def _b32(value: bytes | str, what: str = "value") -> bytes:
    if isinstance(value, str):
        text = value.lower().removeprefix("0x")
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{what} must be 32 bytes or 64 hex digits, got {value!r}") from None
    if len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(value)}")
    return bytes(value)


def leaf(round_: int, shard_sha256: bytes | str) -> bytes:
    """``keccak256(abi.encode(uint256 round, bytes32 shard_sha256))``."""
    if not 0 <= round_ < 2**256:
        raise ValueError(f"round must fit uint256, got {round_}")
    return keccak(round_.to_bytes(32, "big") + _b32(shard_sha256, "shard_sha256"))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OZ ``Hashes.commutativeKeccak256``: keccak256 of the sorted concatenation."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(proof: Sequence[bytes], leaf_: bytes) -> bytes:
    computed = _b32(leaf_, "leaf")
    for sibling in proof:
        computed = hash_pair(computed, _b32(sibling, "proof element"))
    return computed


def verify(proof: Sequence[bytes], root: bytes, leaf_: bytes) -> bool:
    """OZ ``MerkleProof.verify``: True if ``leaf_`` with ``proof`` hashes up to ``root``."""
    return process_proof(proof, leaf_) == _b32(root, "root")


class MerkleTree:
    """OZ-layout Merkle tree over 32-byte leaves (see module docstring)."""

    def __init__(self, leaves: Sequence[bytes]):
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        values = [_b32(x, "leaf") for x in leaves]
        if len(set(values)) != len(values):
            raise ValueError("duplicate leaves")
        self.leaves = sorted(values)
        n = len(self.leaves)
        tree: list[bytes] = [b""] * (2 * n - 1)
        for i, value in enumerate(self.leaves):
            tree[len(tree) - 1 - i] = value
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self._tree = tree
        self._slot = {value: len(tree) - 1 - i for i, value in enumerate(self.leaves)}

    @property
    def root(self) -> bytes:
        return self._tree[0]

    def proof_for_leaf(self, value: bytes) -> list[bytes]:
        """Sibling hashes from ``value``'s slot up to (not including) the root."""
        try:
            index = self._slot[_b32(value, "leaf")]
        except KeyError:
            raise KeyError("leaf is not in the tree") from None
        proof = []
        while index > 0:
            proof.append(self._tree[index + 1 if index % 2 else index - 1])
            index = (index - 1) // 2
        return proof


class EvalTree:
    """The eval commitment of a task: round ``first_round + i`` -> ``shard_hashes[i]``."""

    def __init__(self, shard_hashes: Sequence[bytes | str], first_round: int = 0):
        if first_round < 0:
            raise ValueError("first_round must be >= 0")
        self.first_round = first_round
        self.shards = [_b32(h, f"shard_sha256 #{i}") for i, h in enumerate(shard_hashes)]
        self.leaves = [leaf(first_round + i, h) for i, h in enumerate(self.shards)]
        self._tree = MerkleTree(self.leaves)

    @property
    def rounds(self) -> range:
        return range(self.first_round, self.first_round + len(self.shards))

    @property
    def root(self) -> bytes:
        return self._tree.root

    def _index(self, round_: int) -> int:
        if round_ not in self.rounds:
            raise KeyError(f"round {round_} is not in this tree (rounds {self.rounds})")
        return round_ - self.first_round

    def shard(self, round_: int) -> bytes:
        return self.shards[self._index(round_)]

    def leaf(self, round_: int) -> bytes:
        return self.leaves[self._index(round_)]

    def proof(self, round_: int) -> list[bytes]:
        """The ``bytes32[]`` proof the creator passes to ``reveal_eval`` for ``round_``."""
        return self._tree.proof_for_leaf(self.leaf(round_))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "leaf": "keccak256(abi.encode(uint256 round, bytes32 shard_sha256))",
            "first_round": self.first_round,
            "root": "0x" + self.root.hex(),
            "rounds": {
                str(r): {
                    "shard_sha256": "0x" + self.shard(r).hex(),
                    "proof": ["0x" + p.hex() for p in self.proof(r)],
                }
                for r in self.rounds
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> EvalTree:
        """Rebuild from ``to_dict()`` output; the stored root must match the rebuilt one."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not an eval Merkle file (format {data.get('format')!r})")
        first = int(data["first_round"])
        rounds = sorted(int(r) for r in data["rounds"])
        if rounds != list(range(first, first + len(rounds))):
            raise ValueError(f"rounds must be consecutive from {first}, got {rounds}")
        tree = cls([data["rounds"][str(r)]["shard_sha256"] for r in rounds], first)
        if "0x" + tree.root.hex() != data["root"]:
            raise ValueError("stored root does not match the shard hashes")
        return tree

    def write(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EvalTree:
        return cls.from_dict(json.loads(Path(path).read_text()))
