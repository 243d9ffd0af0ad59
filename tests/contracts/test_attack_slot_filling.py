"""Attack: fill a round's submission slots with sybil models (DESIGN §3.7).

Version 1 took 128 revealed submissions per round, first come first served: 128 sybil reveals
made an honest node's reveal revert "round full". Now a round takes 1,024 (what finalize pages
through, every page under 15M gas), and each submission costs its node the minimum stake:
128 sybils keep nobody out, and the honest model, the best, still earns the most.
"""

from .arena_helpers import (
    E18,
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    fund_bulk,
    model_commitment,
    sha,
)

SYBILS = 128


def test_sybil_submissions_keep_no_honest_node_out(
    arena, arena_token, make_task, bulk, owner, creator, node, validator, validator2
):
    t = make_task(committee_size=8)
    sybils = [bulk.address(f"slot-sybil-{i}") for i in range(SYBILS)]
    for s in sybils:
        fund_bulk(bulk, arena, arena_token, owner, s, MIN_STAKE)
        bulk.send(s, arena, "join", t.id, NODE, MIN_STAKE, 0)
    t.join(node, NODE)
    for v in (validator, validator2):
        t.join(v, VALIDATOR, 100 * E18)
    t.warp(0, PHASE_COMMIT)
    for i, s in enumerate(sybils):
        bulk.send(s, arena, "commit_model", t.id, model_commitment(sha(f"sybil-{i}"), s, t.id, 0))
    t.commit_model(node, sha("honest"), 0)
    t.open_reveals(0)
    for i, s in enumerate(sybils):  # the sybils reveal first
        bulk.send(s, arena, "reveal_model", t.id, sha(f"sybil-{i}"), f"file://sybil-{i}")
    t.reveal_model(node, sha("honest"))  # v1: "arena: round full"
    honest_slot = arena.model_commit(t.id, 0, node).slot
    assert honest_slot == SYBILS and t.round(0).num_submissions == SYBILS + 1

    # Both validators hold half of W, K = 8: p = 1, each sits on every committee.
    t.warp(0, PHASE_SCORE_COMMIT)
    scores = [900_000_000] * (SYBILS + 1)
    scores[honest_slot] = 100_000_000  # the honest model is the best
    for v in (validator, validator2):
        assert t.slots(v, 0) == list(range(SYBILS + 1))
        t.commit_scores(v, scores, 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    for v in (validator, validator2):
        t.reveal_scores(v, 0)
    t.warp(0, PHASE_ENDED)
    done = False
    for _ in range(20):  # paged: 1 + 129 + 129 + 2 + 129 + 2 units, 64 per call
        done = t.finalize(creator, 64).return_value
        if done:
            break
    assert done
    rewards = [arena.submission(t.id, 0, k).reward for k in range(SYBILS + 1)]
    assert rewards[honest_slot] == max(rewards) > 0
    # the sybil copies of one score share a bucket: only the first revealed earns
    assert sum(1 for x in rewards[:SYBILS] if x) <= 1
