"""Positional Merkle commitment to a task's per-round eval shards (DESIGN §3.1 ``eval_root``).

It binds **exactly one shard per round, in order**: the creator cannot keep two shards for a
round and pick one after seeing the models (review finding 3). Leaf of round ``r``, hashed
once (unlike OpenZeppelin's ``StandardMerkleTree``, which hashes twice)::

    leaf_r = keccak256(abi.encode(uint256 r, bytes32 shard_sha256))

Tree over exactly ``num_rounds`` positions: position ``r`` holds ``leaf_r``; the positions up
to the next power of two, ``2**depth`` with ``depth = ceil(log2(num_rounds))`` (0 for one
round, whose root is its leaf), hold ``bytes32(0)``. An internal node is
``keccak256(left ++ right)`` with the left child first: the pair is *not* sorted, so a
node's value says which side each child is on. The proof of round ``r`` is its ``depth``
sibling hashes from the bottom up; bit ``i`` of ``r`` says whether the running hash is the
right (1) or left (0) child at level ``i``. The contract requires exactly ``depth`` hashes,
so a proof always starts at a leaf position (an internal node cannot pose as a leaf), and a
root holds exactly one value at each position: one shard per round.

Example::

    tree = EvalTree([sha_round0, sha_round1, sha_round2])
    tree.root, tree.proof(1), verify(tree.proof(1), tree.root, leaf(1, sha_round1), 1, 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from eth_utils import keccak

FORMAT = "arena-eval-merkle-v2"
ZERO = bytes(32)


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


def depth(size: int) -> int:
    """Proof length of a tree of ``size`` positions: ``ceil(log2(size))`` (0 for 1)."""
    if size < 1:
        raise ValueError(f"a tree needs at least one position, got {size}")
    return (size - 1).bit_length()


def process_proof(proof: Sequence[bytes], leaf_: bytes, index: int) -> bytes:
    """The root that ``leaf_`` at position ``index`` hashes up to with ``proof``."""
    h = _b32(leaf_, "leaf")
    for i, sibling in enumerate(proof):
        s = _b32(sibling, "proof element")
        h = keccak(s + h) if (index >> i) & 1 else keccak(h + s)
    return h


def verify(proof: Sequence[bytes], root: bytes, leaf_: bytes, index: int, size: int) -> bool:
    """What ``reveal_eval`` checks: exactly ``depth(size)`` hashes, ``index < size``, and
    ``leaf_`` at position ``index`` hashing up to ``root``."""
    if not 0 <= index < size or len(proof) != depth(size):
        return False
    return process_proof(proof, leaf_, index) == _b32(root, "root")


class PositionalTree:
    """A complete binary tree over ``values`` padded with zero leaves to a power of two."""

    def __init__(self, values: Sequence[bytes]):
        if not values:
            raise ValueError("a Merkle tree needs at least one position")
        self.size = len(values)
        width = 1 << depth(self.size)
        level = [_b32(v, "leaf") for v in values] + [ZERO] * (width - self.size)
        self.levels = [level]
        while len(level) > 1:
            level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes of position ``index`` from the bottom up (``depth`` of them)."""
        if not 0 <= index < self.size:
            raise IndexError(f"position {index} is not in a tree of {self.size}")
        out = []
        for level in self.levels[:-1]:
            out.append(level[index ^ 1])
            index >>= 1
        return out


class EvalTree:
    """The eval commitment of a task: round ``first_round + i`` -> ``shard_hashes[i]``.

    The tree has ``first_round + len(shard_hashes)`` positions, one per round of the task
    (``num_rounds``); rounds before ``first_round`` hold a zero leaf, which no shard can
    match, so those rounds can never have an eval reveal (they go void).
    """

    def __init__(self, shard_hashes: Sequence[bytes | str], first_round: int = 0):
        if first_round < 0:
            raise ValueError("first_round must be >= 0")
        if not shard_hashes:
            raise ValueError("an eval tree needs at least one shard")
        self.first_round = first_round
        self.shards = [_b32(h, f"shard_sha256 #{i}") for i, h in enumerate(shard_hashes)]
        self.leaves = [leaf(first_round + i, h) for i, h in enumerate(self.shards)]
        self._tree = PositionalTree([ZERO] * first_round + self.leaves)

    @property
    def rounds(self) -> range:
        return range(self.first_round, self.first_round + len(self.shards))

    @property
    def num_rounds(self) -> int:
        """Positions of the tree: the ``num_rounds`` of the task it commits to."""
        return self._tree.size

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
        self._index(round_)
        return self._tree.proof(round_)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "leaf": "keccak256(abi.encode(uint256 round, bytes32 shard_sha256))",
            "node": "keccak256(left ++ right), positional, zero-padded to a power of two",
            "first_round": self.first_round,
            "num_rounds": self.num_rounds,
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
            raise ValueError(
                f"not an eval Merkle file of format {FORMAT} (format {data.get('format')!r}); "
                "rebuild the shards with this version"
            )
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
