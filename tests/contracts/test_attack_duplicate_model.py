"""Attack: submitting a duplicate of another node's model.

Rule (PROTOCOL §5): for a model hash revealed by two nodes, the earlier *commit* keeps the
submission, whoever reveals first; a hash revealed in an earlier round stays its owner's.
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
    sha,
)

MODEL = sha("the-good-model")


def _two_nodes_commit_same_hash(t, victim, copier):
    t.warp(0, PHASE_COMMIT)
    t.commit_model(victim, MODEL, 0)  # seq 0: the earlier commit
    t.commit_model(copier, MODEL, 0)  # seq 1
    t.open_reveals(0)


def test_front_running_reveal_is_undone_by_the_earlier_commit(
    arena, make_task, node, attacker, validator, creator
):
    t = make_task()
    t.join(node, NODE)
    t.join(attacker, NODE)
    t.join(validator, VALIDATOR)
    _two_nodes_commit_same_hash(t, node, attacker)
    t.reveal_model(attacker, MODEL, "file://stolen")  # the copier reveals first
    assert arena.model_owner(t.id, MODEL) == attacker.address

    tx = t.reveal_model(node, MODEL, "file://original")
    assert log(tx, arena.SubmissionReplaced) == [
        arena.SubmissionReplaced(task=t.id, round=0, slot=0, displaced=attacker, node=node)
    ]
    assert log(tx, arena.ModelRevealed) == [
        arena.ModelRevealed(
            task=t.id, round=0, node=node, slot=0, model_sha256=MODEL, uri="file://original"
        )
    ]
    sub = arena.submission(t.id, 0, 0)
    assert (sub.node, sub.uri, sub.commit_seq) == (node.address, "file://original", 0)
    assert t.round(0).num_submissions == 1
    assert arena.model_owner(t.id, MODEL) == node.address
    assert not arena.model_commit(t.id, 0, attacker).revealed
    # The displaced copier cannot reveal again.
    with ape.reverts("arena: duplicate model"):
        t.reveal_model(attacker, MODEL)

    # Scoring sees one submission, the victim's; the copier earns nothing.
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [300_000_000], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    assert [e.participant for e in log(tx, arena.Rewarded)] == [node.address, validator.address]
    assert t.part(attacker).owner_earned == 0


def test_later_commit_revealing_later_is_rejected(arena, make_task, node, attacker):
    t = make_task()
    t.join(node, NODE)
    t.join(attacker, NODE)
    _two_nodes_commit_same_hash(t, node, attacker)
    t.reveal_model(node, MODEL)
    with ape.reverts("arena: duplicate model"):
        t.reveal_model(attacker, MODEL)
    assert t.round(0).num_submissions == 1


def test_hash_from_an_earlier_round_stays_with_its_owner(
    arena, make_task, node, attacker, validator, creator
):
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(attacker, NODE)
    t.join(validator, VALIDATOR)
    t.play_round(0, {node: MODEL}, {validator: [300_000_000]}, finalize_by=creator)
    # Round 1: the copier commits first (seq 0) to the public hash; the owner re-submits (seq 1).
    t.warp(1, PHASE_COMMIT)
    t.commit_model(attacker, MODEL, 1)
    t.commit_model(node, MODEL, 1)
    t.open_reveals(1)
    with ape.reverts("arena: duplicate model"):
        t.reveal_model(attacker, MODEL)
    t.reveal_model(node, MODEL)  # the owner may reuse its own model in later rounds
    assert arena.submission(t.id, 1, 0).node == node.address
    assert arena.model_owner(t.id, MODEL) == node.address
