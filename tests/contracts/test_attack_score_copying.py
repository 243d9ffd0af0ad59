"""Attack: a lazy validator copies another validator's scores instead of evaluating.

Scores are committed (keccak256(abi_encode(task, round, validator, scores, salt))) before any
are revealed. Once an honest validator reveals, its scores and salt are public, but the
copier's reveal must open the copier's *own* earlier commitment, which binds its address: a
copied commitment or copied scores do not open, the copier is left without a reveal and is
slashed slash_miss.
"""

import ape

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    SLASH_MISS,
    VALIDATOR,
    WAD,
    log,
    score_commitment,
    sha,
    slash_amount,
)

HONEST = [400_000_000, 700_000_000]


def _round_with_two_models(t, node, node2):
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node, sha("a"), 0)
    t.commit_model(node2, sha("b"), 0)
    t.open_reveals(0)
    t.reveal_model(node, sha("a"))
    t.reveal_model(node2, sha("b"))


def test_copier_cannot_open_a_copied_commitment_or_copied_scores(
    arena, make_task, node, node2, validator, attacker, creator
):
    t = make_task(rank_epsilon=WAD // 4)  # 0.7 is 3 epsilons behind 0.4: paid
    t.join(node, NODE)
    t.join(node2, NODE)
    t.join(validator, VALIDATOR, 20 * E18)
    t.join(attacker, VALIDATOR, 20 * E18)
    _round_with_two_models(t, node, node2)

    t.warp(0, PHASE_SCORE_COMMIT)
    tx = t.commit_scores(validator, HONEST, 0)
    honest_c = log(tx, arena.ScoresCommitted)[0].commitment
    arena.commit_scores(t.id, honest_c, sender=attacker)  # replays the honest commitment

    t.warp(0, PHASE_SCORE_REVEAL)
    tx = t.reveal_scores(validator, 0)
    public_scores = list(log(tx, arena.ScoresRevealed)[0].scores)
    public_salt = t.salts[(validator.address, 0)][1]  # in the reveal's calldata
    assert public_scores == HONEST
    with ape.reverts("arena: bad reveal"):
        arena.reveal_scores(t.id, public_scores, public_salt, sender=attacker)
    with ape.reverts("arena: bad reveal"):
        arena.reveal_scores(t.id, public_scores, sha("attacker salt"), sender=attacker)
    # Too late to commit anything new.
    with ape.reverts("arena: wrong phase"):
        arena.commit_scores(
            t.id, score_commitment(t.id, 0, attacker.address, HONEST, sha("x")), sender=attacker
        )

    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    cut = slash_amount(20 * E18, t.params["slash_miss"])
    assert log(tx, arena.Slashed) == [
        arena.Slashed(task=t.id, round=0, participant=attacker, amount=cut, reason=SLASH_MISS)
    ]
    assert [e.participant for e in log(tx, arena.Rewarded)] == [
        node.address,
        node2.address,
        validator.address,
    ]
    assert t.round(0).validator_reveal_count == 1  # only the honest validator counted
    assert arena.validator_round(t.id, 0, attacker).reward == 0


def test_guess_committed_early_cannot_be_swapped_for_public_scores(
    arena, make_task, node, node2, validator, attacker, creator
):
    """A copier that committed a guess and then sees the honest reveal is bound to its guess."""
    t = make_task()
    t.join(node, NODE)
    t.join(node2, NODE)
    t.join(validator, VALIDATOR, 20 * E18)
    t.join(attacker, VALIDATOR, 20 * E18)
    _round_with_two_models(t, node, node2)
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, HONEST, 0)
    guess_salt = sha("guess-salt")
    t.commit_scores(attacker, [1, 1], 0, salt=guess_salt)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    with ape.reverts("arena: bad reveal"):
        t.reveal_scores(attacker, 0, scores=HONEST, salt=guess_salt)
