"""Attack (review finding 2): the creator withholds every eval shard, hoping to collect the
submitted models and take the whole bounty back. Each side gives before it gets: nodes commit
blind, the shard must be revealed in EVAL before any model can be revealed, so a creator that
withholds it sees no model at all (no hash, no URI on-chain); its rounds are void, the
bounty comes back unspent, and no node is slashed for the reveal it could not make."""

import ape

from .arena_helpers import (
    BOUNTY,
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_EVAL,
    PHASE_REVEAL,
    VALIDATOR,
    VOID_NO_EVAL,
    WAD,
    exit_all,
    log,
    sha,
)


def test_a_creator_that_withholds_every_shard_sees_no_model(
    arena, arena_token, make_task, creator, node, node2, node3, validator
):
    t = make_task(num_rounds=3, slash_node_miss=WAD // 2)
    nodes = (node, node2, node3)
    for n in nodes:
        t.join(n, NODE, 20 * E18)
    t.join(validator, VALIDATOR)
    for r in range(3):
        t.warp(r, PHASE_COMMIT)
        if r > 0:
            t.finalize(creator)  # the previous round: void, nobody slashed
        for i, n in enumerate(nodes):
            t.commit_model(n, sha(f"model-{r}-{i}"), r)
        t.warp(r, PHASE_EVAL)  # the creator stays silent
        t.warp(r, PHASE_REVEAL)
        for i, n in enumerate(nodes):
            with ape.reverts("arena: eval not revealed"):
                t.reveal_model(n, sha(f"model-{r}-{i}"))
        info = t.round(r)
        assert (info.eval_revealed, info.num_submissions, info.committer_count) == (False, 0, 3)
        for i in range(3):
            assert arena.model_owner(t.id, sha(f"model-{r}-{i}")) == "0x" + "00" * 20
    t.warp(2, PHASE_ENDED)
    tx = t.finalize(creator)
    assert log(tx, arena.RoundOpened)[0].void_reason == VOID_NO_EVAL
    assert log(tx, arena.Slashed) == []  # nobody pays for a reveal it could not make

    def ours(event) -> list:
        rows = event.query("*", start_block=t.created.block_number).itertuples()
        return [e for e in rows if e.event_arguments["task"] == t.id]

    assert len(ours(arena.ModelCommitted)) == 9  # the query sees this task's events...
    assert ours(arena.ModelRevealed) == []  # ...and not one model was published

    # The bounty bought nothing and comes back; every node exits whole.
    positions = [(n, n) for n in (*nodes, validator)]
    got = exit_all(arena, t, positions)
    assert got[("refund", creator.address)] == BOUNTY
    for n in nodes:
        assert got[(n.address, n.address)] == 20 * E18
        assert t.part(n).slashed == 0
