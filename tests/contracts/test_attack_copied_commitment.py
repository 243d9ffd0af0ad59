"""Attack: copying another node's model commitment.

Commitments bind the committing node's address, the task and the round
(keccak256(abi_encode(model_sha256, node, task, round))): a copier who replays a victim's
commitment bytes, or commits to the victim's model hash once it is public, gets nothing.
"""

import ape

from .arena_helpers import (
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    log,
    model_commitment,
    sha,
)

VICTIM_MODEL = sha("victim-model")


def test_replayed_commitment_cannot_be_revealed_by_the_copier(
    arena, make_task, node, attacker, validator, creator
):
    t = make_task()
    t.join(node, NODE)
    t.join(attacker, NODE)
    t.join(validator, VALIDATOR)
    t.warp(0, PHASE_COMMIT)
    tx = t.commit_model(node, VICTIM_MODEL, 0)
    seen = log(tx, arena.ModelCommitted)[0].commitment  # public in the mempool and in the log
    arena.commit_model(t.id, seen, sender=attacker)  # the copier replays the bytes
    assert arena.model_commit(t.id, 0, attacker).commitment == seen

    t.open_reveals(0)
    tx = t.reveal_model(node, VICTIM_MODEL)  # now the victim's model hash is public too
    # With the victim's preimage, the copier's own address makes the hash differ.
    with ape.reverts("arena: bad reveal"):
        t.reveal_model(attacker, VICTIM_MODEL)
    # Committing afresh to the now-public hash is too late: the COMMIT phase is over.
    with ape.reverts("arena: wrong phase"):
        t.commit_model(attacker, VICTIM_MODEL, 0)
    assert t.round(0).num_submissions == 1
    assert arena.submission(t.id, 0, 0).node == node.address

    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [400_000_000], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    rewarded = {e.participant for e in log(tx, arena.Rewarded)}
    assert node.address in rewarded and attacker.address not in rewarded
    assert t.part(attacker).owner_earned == 0


def test_commitment_of_a_past_round_cannot_be_replayed(
    arena, make_task, node, node2, attacker, validator, creator
):
    """A victim's round-0 commitment does not open in round 1 for a copier, and a copier's own
    commitment to the victim's (now public) round-0 hash reveals as a duplicate."""
    t = make_task(num_rounds=2)
    for n in (node, node2, attacker):
        t.join(n, NODE)
    t.join(validator, VALIDATOR)
    t.play_round(0, {node: VICTIM_MODEL}, {validator: [400_000_000]}, finalize_by=creator)

    old = model_commitment(VICTIM_MODEL, node.address, t.id, 0)
    t.warp(1, PHASE_COMMIT)
    arena.commit_model(t.id, old, sender=attacker)  # replay of the victim's old bytes
    t.commit_model(node2, VICTIM_MODEL, 1)  # an honest-looking commitment to a stolen hash
    t.open_reveals(1)
    with ape.reverts("arena: bad reveal"):
        t.reveal_model(attacker, VICTIM_MODEL)
    with ape.reverts("arena: duplicate model"):
        t.reveal_model(node2, VICTIM_MODEL)
    assert arena.model_owner(t.id, VICTIM_MODEL) == node.address
    assert t.round(1).num_submissions == 0


def test_commitment_is_bound_to_the_task(arena, make_task, node, attacker):
    """A commitment computed for another task does not open here."""
    a = make_task()
    b = make_task(start_time=a.start)
    a.join(node, NODE)
    b.join(attacker, NODE)
    b.warp(0, PHASE_COMMIT)
    arena.commit_model(
        b.id, model_commitment(VICTIM_MODEL, attacker.address, a.id, 0), sender=attacker
    )
    b.open_reveals(0)
    with ape.reverts("arena: bad reveal"):
        b.reveal_model(attacker, VICTIM_MODEL)
