"""Attack (review finding 3): a creator commits to an eval root that holds two shards for
round 0 and picks one after seeing the models. The eval commitment is a positional Merkle
tree of exactly num_rounds leaves, checked with a proof of exactly ceil(log2(num_rounds))
hashes whose path is the round's index: whatever tree the creator builds, at most one shard
opens each round."""

import ape
from ape_arena.evaluation.merkle import PositionalTree, leaf
from eth_utils import keccak

from .arena_helpers import PHASE_EVAL, sha


def sorted_pair_root(a: bytes, b: bytes) -> bytes:
    """Version 1's OpenZeppelin-style root over two leaves (sorted pair)."""
    return keccak(min(a, b) + max(a, b))


def test_a_second_leaf_for_round_0_does_not_open_round_0(arena, make_task, creator):
    honest, picked = sha("shard-easy"), sha("shard-hard")
    # Positional tree of 2 rounds whose position 1 holds another round-0 leaf.
    tree = PositionalTree([leaf(0, honest), leaf(0, picked)])
    t = make_task(num_rounds=2, eval_root=tree.root)
    t.warp(0, PHASE_EVAL)
    with ape.reverts("arena: bad proof"):  # the proof of position 1 does not open round 0
        arena.reveal_eval(t.id, 0, picked, "u", tree.proof(1), sender=creator)
    with ape.reverts("arena: bad proof"):
        arena.reveal_eval(t.id, 0, picked, "u", tree.proof(0), sender=creator)
    arena.reveal_eval(t.id, 0, honest, "u", tree.proof(0), sender=creator)  # the only one
    assert t.round(0).shard_sha256 == honest


def test_version_1_trees_with_two_round_0_leaves_open_nothing_twice(arena, make_task, creator):
    """The exploit's own tree (two round-0 leaves, sorted pairs): under v1 both opened; now
    the positional check accepts at most one of them."""
    a, b = sha("shard-a"), sha("shard-b")
    la, lb = leaf(0, a), leaf(0, b)
    t = make_task(num_rounds=2, eval_root=sorted_pair_root(la, lb))
    t.warp(0, PHASE_EVAL)
    opened = []
    for shard, sibling in ((a, lb), (b, la)):
        try:
            arena.reveal_eval(t.id, 0, shard, "u", [sibling], sender=creator)
            opened.append(shard)
        except ape.exceptions.ContractLogicError as err:
            assert "bad proof" in str(err) or "eval already revealed" in str(err)
    assert len(opened) <= 1


def test_a_shard_cannot_be_moved_to_another_round(arena, make_task, creator):
    shards = [sha(f"s{r}") for r in range(4)]
    tree = PositionalTree([leaf(r, s) for r, s in enumerate(shards)])
    t = make_task(num_rounds=4, eval_root=tree.root, shards=shards)
    t.warp(0, PHASE_EVAL)
    for r in (1, 2, 3):  # round 0 is open now: only round 0's own shard verifies
        with ape.reverts("arena: bad proof"):
            arena.reveal_eval(t.id, 0, shards[r], "u", tree.proof(r), sender=creator)
    arena.reveal_eval(t.id, 0, shards[0], "u", tree.proof(0), sender=creator)
