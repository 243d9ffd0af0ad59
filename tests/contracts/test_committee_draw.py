"""Committee draw on anvil (PROTOCOL.md §5a): the seed is read from the chain (anvil's block
hashes differ per run) and every expectation is derived from it with the client's rule,
so no assertion depends on a lucky draw."""

from ape_arena.protocol import sortition

from .arena_helpers import E18, NODE, PHASE_COMMIT, PHASE_SCORE_COMMIT, VALIDATOR, log, sha


def test_draw_seed_and_assignments_follow_the_chain(
    arena, chain, make_task, node, node2, node3, validator, validator2, validator3, delegator
):
    t = make_task(num_rounds=1, committee_size=2)
    for who in (node, node2, node3):
        t.join(who, NODE)
    t.join(validator, VALIDATOR, 10 * E18)
    t.join(validator2, VALIDATOR, 30 * E18)
    t.join(validator3, VALIDATOR, 60 * E18)
    t.delegate(delegator, validator, 5 * E18)
    models = {node: sha("a"), node2: sha("b"), node3: sha("c")}
    t.warp(0, PHASE_COMMIT)
    for who, m in models.items():
        t.commit_model(who, m, 0)
    t.open_reveals(0)
    for who, m in models.items():
        t.reveal_model(who, m)
    t.warp_to(t.phase_start(0, PHASE_SCORE_COMMIT) + 1)  # (t.warp would draw too)

    vals = [validator, validator2, validator3]
    w = sum(arena.effective_stake(t.id, v, 0) for v in vals)
    assert w == 105 * E18 and arena.validator_weight(t.id) == w
    tx = arena.draw(t.id, 0, sender=node)
    (ev,) = log(tx, arena.CommitteeDrawn)
    digest = sortition.submissions_digest(list(models.values()))
    assert ev.target_block == tx.block_number + 1
    assert (ev.weight, ev.committee_size, ev.submissions) == (w, 2, 3)
    assert bytes(ev.digest) == digest

    chain.mine(2)  # past the target block: its hash is readable
    target = arena.committee(t.id, 0).target_block
    seed = sortition.round_seed(chain.provider.get_block(target).hash, t.id, 0, digest)
    tx = arena.draw(t.id, 0, sender=node2)
    (ev,) = log(tx, arena.RoundSeeded)
    assert bytes(ev.seed) == seed == bytes(arena.committee(t.id, 0).seed)

    for j, v in enumerate(vals):
        eff = arena.effective_stake(t.id, v, 0)
        want = [k for k in range(3) if sortition.is_assigned(seed, k, j, eff, w, 2)]
        assert list(arena.assignments(t.id, 0, v, 0, 128)) == want
        assert [arena.is_assigned(t.id, 0, k, v) for k in range(3)] == [k in want for k in range(3)]
    assert list(arena.assignments(t.id, 0, validator3, 0, 128)) == [0, 1, 2]  # K*eff >= W
