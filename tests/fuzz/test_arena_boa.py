"""Arena on titanoboa: every entry point's effects, events and revert reasons, a full
three-round task with payouts checked against numbers computed by hand from PROTOCOL.md,
and the pause and role matrices.

Run: ``pytest tests/fuzz/test_arena_boa.py -q -p no:cacheprovider``.
"""

from __future__ import annotations

import boa
import pytest

from tests.fuzz.conftest import (
    E18,
    INVALID,
    PHASE,
    START_DELAY,
    WAD,
    ZERO,
    model_commit,
    model_hash,
    score_commit,
    shard_hash,
)

NODE, VALIDATOR = 1, 2
ACC = 10**36
SALT = b"\x11" * 32


def ceil_div(a, b):
    return (a + b - 1) // b


def events(contract, name):
    return [e for e in contract.get_logs() if type(e).__name__ == name]


def join(arena, who, task, role, amount, commission=0):
    with boa.env.prank(who):
        arena.join(task, role, amount, commission)


def commit_reveal_model(world, task, r, who, name):
    arena = world.arena
    sha = model_hash(name)
    world.goto(task, r, 1)
    with boa.env.prank(who):
        arena.commit_model(task, model_commit(sha, who, task, r))
    return sha


def reveal_eval(world, task, r):
    world.goto(task, r, 2)
    with boa.env.prank(world.actors["creator"]):
        world.arena.reveal_eval(task, r, shard_hash(r), f"file://shard{r}", world.proof(task, r))


def finalize_all(arena, task, steps=1000):
    done = False
    for _ in range(1000):
        done = arena.finalize(task, steps)
        if done:
            return
    raise AssertionError("finalize did not finish")


# ---------------------------------------------------------------------------------------
# create_task / cancel_task
# ---------------------------------------------------------------------------------------


def test_create_task_stores_params_pulls_bounty_and_emits(world, arena, token, creator):
    before = token.balanceOf(creator)
    task = world.make_task()
    ev = events(arena, "TaskCreated")
    assert task == 1 and arena.task_count() == 1
    assert len(ev) == 1 and ev[0].task == 1 and ev[0].creator == creator
    assert ev[0].bounty == 3_000 * E18 and ev[0].num_rounds == 3 and ev[0].spec_uri == "file://spec.json"
    assert token.balanceOf(creator) == before - 3_000 * E18
    assert token.balanceOf(arena.address) == 3_000 * E18
    st = arena.task_state(task)
    assert st.creator == creator and st.status == 1 and st.round_length == 4 * PHASE
    p = arena.task_params(task)
    assert p.num_rounds == 3 and p.rank_ratio == WAD // 2 and p.start_time == world.now() + START_DELAY


def test_create_task_start_zero_means_now(world, arena):
    task = world.make_task(start_time=0)
    assert arena.task_params(task).start_time == world.now()
    assert arena.current_round(task) == 0 and arena.current_phase(task) == 1


@pytest.mark.parametrize(
    "override",
    [
        dict(eval_root=b"\x00" * 32),
        dict(num_rounds=0),
        dict(num_rounds=65),
        dict(commit_duration=0),
        dict(score_reveal_duration=30 * 86400 + 1),
        dict(min_node_stake=0),
        dict(min_validator_stake=0),
        dict(gamma=WAD // 2 + 1),
        dict(delta=WAD + 1),
        dict(rank_ratio=WAD + 1),
        dict(tolerance=0),
        dict(tolerance=1000 * WAD + 1),
        dict(slash_tau=1000 * WAD + 1),
        dict(slash_miss=WAD + 1),
        dict(slash_dev=WAD + 1),
        dict(min_quorum=0),
        dict(min_quorum=33),
        dict(start_time=1),
        dict(start_time=10**12),
    ],
)
def test_create_task_rejects_out_of_range(world, override):
    with boa.reverts("arena: parameter out of range"):
        world.make_task(**override)


def test_create_task_zero_bounty(world):
    with boa.reverts("arena: zero amount"):
        world.make_task(bounty=0)


def test_create_task_boundaries_accepted(world, arena):
    task = world.make_task(num_rounds=64, gamma=WAD // 2, min_quorum=32, tolerance=1000 * WAD, baseline_score=5)
    assert arena.task_params(task).num_rounds == 64


def test_cancel_task_refunds_bounty(world, arena, token, creator):
    task = world.make_task()
    before = token.balanceOf(creator)
    with boa.env.prank(creator):
        arena.cancel_task(task)
    ev = events(arena, "TaskCancelled")
    assert ev[0].task == task and ev[0].refund == 3_000 * E18
    assert token.balanceOf(creator) == before + 3_000 * E18
    assert arena.task_state(task).status == 2
    with boa.env.prank(creator), boa.reverts("arena: task not active"):
        arena.cancel_task(task)


def test_cancel_task_reverts(world, arena, creator, attacker, node):
    task = world.make_task()
    with boa.env.prank(attacker), boa.reverts("arena: not creator"):
        arena.cancel_task(task)
    with boa.env.prank(creator), boa.reverts("arena: unknown task"):
        arena.cancel_task(task + 1)
    join(arena, node, task, NODE, 10 * E18)
    with boa.env.prank(creator), boa.reverts("arena: has participants"):
        arena.cancel_task(task)


def test_cancel_after_finalized_round_reverts(world, arena, creator):
    task = world.make_task()
    world.goto(task, 1, 1)
    arena.finalize(task, 10)
    with boa.env.prank(creator), boa.reverts("arena: rounds finalized"):
        arena.cancel_task(task)


def test_unknown_task_everywhere(arena, node):
    with boa.env.prank(node):
        for call in (
            lambda: arena.join(7, NODE, E18, 0),
            lambda: arena.delegate(7, node, E18),
            lambda: arena.commit_model(7, b"\x01" * 32),
            lambda: arena.reveal_model(7, b"\x01" * 32, "u"),
            lambda: arena.reveal_eval(7, 0, b"\x01" * 32, "u", []),
            lambda: arena.commit_scores(7, b"\x01" * 32),
            lambda: arena.reveal_scores(7, [], SALT),
            lambda: arena.finalize(7, 1),
            lambda: arena.claim(7, node),
            lambda: arena.withdraw(7, node),
            lambda: arena.claim_refund(7),
            lambda: arena.task_params(7),
        ):
            with boa.reverts("arena: unknown task"):
                call()


# ---------------------------------------------------------------------------------------
# join / delegate
# ---------------------------------------------------------------------------------------


def test_join_first_and_topup(world, arena, token, node):
    task = world.make_task()
    before = token.balanceOf(node)
    with boa.env.prank(node):
        arena.join(task, NODE, 50 * E18, WAD // 10)
        j = events(arena, "Joined")
        s = events(arena, "Staked")
    assert j[0].participant == node and j[0].role == NODE and j[0].commission == WAD // 10
    assert s[0].amount == 50 * E18 and s[0].activation_round == 0 and s[0].own_total == 50 * E18
    with boa.env.prank(node):
        arena.join(task, NODE, 5 * E18, WAD // 10)  # top-up: below minimum is fine
        assert events(arena, "Joined") == []
        assert events(arena, "Staked")[0].own_total == 55 * E18
    p = arena.participant(task, node)
    assert p.role == NODE and p.own_pending == 55 * E18 and p.own_active == 0 and p.pending_round == 0
    assert arena.own_stake(task, node, 0) == 55 * E18
    assert arena.task_state(task).participant_count == 1
    assert arena.task_state(task).total_own_stake == 55 * E18
    assert token.balanceOf(node) == before - 55 * E18


def test_join_reverts(world, arena, node, creator, validator):
    task = world.make_task()
    with boa.env.prank(node):
        with boa.reverts("arena: zero amount"):
            arena.join(task, NODE, 0, 0)
        with boa.reverts("arena: bad role"):
            arena.join(task, 3, E18 * 10, 0)
        with boa.reverts("arena: bad role"):
            arena.join(task, 0, E18 * 10, 0)
        with boa.reverts("arena: below minimum stake"):
            arena.join(task, NODE, 10 * E18 - 1, 0)
        with boa.reverts("arena: commission out of range"):
            arena.join(task, NODE, 10 * E18, WAD + 1)
        arena.join(task, NODE, 10 * E18, 0)
        with boa.reverts("arena: role mismatch"):
            arena.join(task, VALIDATOR, 10 * E18, 0)
        with boa.reverts("arena: commission is fixed"):
            arena.join(task, NODE, 10 * E18, 1)
    with boa.env.prank(validator), boa.reverts("arena: below minimum stake"):
        arena.join(task, VALIDATOR, 10 * E18 - 1, 0)
    with boa.env.prank(creator), boa.reverts("arena: creator cannot join"):
        arena.join(task, NODE, 10 * E18, 0)


def test_join_too_many_validators(world, arena):
    task = world.make_task()
    addrs = [boa.env.generate_address(f"v{i}") for i in range(33)]
    for a in addrs:
        world.token.mint(a, 100 * E18)
        with boa.env.prank(a):
            world.token.approve(arena.address, 2**256 - 1)
    for a in addrs[:32]:
        join(arena, a, task, VALIDATOR, 10 * E18)
    assert list(arena.validators(task)) == addrs[:32]
    assert arena.participant(task, addrs[31]).validator_index == 31
    with boa.env.prank(addrs[32]), boa.reverts("arena: too many validators"):
        arena.join(task, VALIDATOR, 10 * E18, 0)


def test_activation_next_round_and_finalize_gate(world, arena, node, validator):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    world.goto(task, 0, 2)  # time-round 0
    join(arena, node, task, NODE, 5 * E18)
    assert events(arena, "Staked")[0].activation_round == 1
    assert arena.own_stake(task, node, 0) == 10 * E18
    assert arena.own_stake(task, node, 1) == 15 * E18
    world.goto(task, 1, 1)  # time-round 1: round 0 must be finalized first
    with boa.env.prank(validator), boa.reverts("arena: finalize round 0 first"):
        arena.join(task, VALIDATOR, 10 * E18, 0)
    arena.finalize(task, 100)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    assert events(arena, "Staked")[0].activation_round == 2
    world.goto(task, 2, 1)  # activation would be round 3 == num_rounds
    with boa.env.prank(validator), boa.reverts("arena: deposits closed"):
        arena.join(task, VALIDATOR, 10 * E18, 0)


def test_delegate_effects_and_reverts(world, arena, token, node, delegator, attacker):
    task = world.make_task()
    with boa.env.prank(delegator), boa.reverts("arena: not a participant"):
        arena.delegate(task, node, E18)
    join(arena, node, task, NODE, 10 * E18, WAD // 10)
    before = token.balanceOf(delegator)
    with boa.env.prank(delegator):
        with boa.reverts("arena: zero amount"):
            arena.delegate(task, node, 0)
        arena.delegate(task, node, 7 * E18)
        ev = events(arena, "Delegated")
    assert ev[0].participant == node and ev[0].delegator == delegator and ev[0].amount == 7 * E18
    assert ev[0].activation_round == 0
    with boa.env.prank(node), boa.reverts("arena: cannot delegate to self"):
        arena.delegate(task, node, E18)
    assert token.balanceOf(delegator) == before - 7 * E18
    d = arena.delegation(task, node, delegator)
    assert d.pending == 7 * E18 and d.active == 0
    assert arena.delegated_stake(task, node, 0) == 7 * E18
    assert arena.effective_stake(task, node, 0) == 17 * E18
    assert arena.withdrawable(task, node, delegator) == 0
    with boa.env.prank(delegator), boa.reverts("arena: task not ended"):
        arena.withdraw(task, node)


# ---------------------------------------------------------------------------------------
# commit / reveal
# ---------------------------------------------------------------------------------------


def test_commit_model_phase_role_stake(world, arena, node, validator, attacker):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    c = model_commit(model_hash("a"), node, task, 0)
    with boa.env.prank(node), boa.reverts("arena: wrong phase"):
        arena.commit_model(task, c)  # before start
    world.goto(task, 0, 1)
    with boa.env.prank(attacker), boa.reverts("arena: not a node"):
        arena.commit_model(task, c)
    with boa.env.prank(validator), boa.reverts("arena: not a node"):
        arena.commit_model(task, c)
    with boa.env.prank(node), boa.reverts("arena: empty commitment"):
        arena.commit_model(task, b"\x00" * 32)
    with boa.env.prank(node):
        arena.commit_model(task, c)
        ev = events(arena, "ModelCommitted")[0]
        assert (ev.round, ev.node, ev.commitment, ev.seq) == (0, node, c, 0)
        arena.commit_model(task, c)  # re-commit: new seq
        assert events(arena, "ModelCommitted")[0].seq == 1
    mc = arena.model_commit(task, 0, node)
    assert mc.committed and mc.seq == 1 and not mc.revealed
    world.goto(task, 0, 2)
    with boa.env.prank(node), boa.reverts("arena: wrong phase"):
        arena.commit_model(task, c)


def test_commit_needs_active_stake(world, arena, node2, validator2):
    task = world.make_task()
    world.goto(task, 0, 1)
    join(arena, node2, task, NODE, 10 * E18)  # activates in round 1
    with boa.env.prank(node2), boa.reverts("arena: stake not active"):
        arena.commit_model(task, b"\x01" * 32)
    join(arena, validator2, task, VALIDATOR, 10 * E18)
    world.goto(task, 0, 3)
    with boa.env.prank(validator2), boa.reverts("arena: stake not active"):
        arena.commit_scores(task, b"\x01" * 32)


def test_reveal_model_effects_and_reverts(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = commit_reveal_model(world, task, 0, node, "a")
    world.goto(task, 0, 2)
    with boa.env.prank(node2), boa.reverts("arena: no commitment"):
        arena.reveal_model(task, sha, "u")
    with boa.env.prank(node):
        with boa.reverts("arena: bad reveal"):
            arena.reveal_model(task, model_hash("b"), "u")
        arena.reveal_model(task, sha, "file://a.onnx")
        ev = events(arena, "ModelRevealed")[0]
        assert (ev.round, ev.node, ev.slot, ev.model_sha256, ev.uri) == (0, node, 0, sha, "file://a.onnx")
        with boa.reverts("arena: already revealed"):
            arena.reveal_model(task, sha, "file://a.onnx")
    s = arena.submission(task, 0, 0)
    assert s.node == node and s.model_sha256 == sha and s.uri == "file://a.onnx"
    assert arena.round_info(task, 0).num_submissions == 1
    assert arena.model_owner(task, sha) == node
    world.goto(task, 0, 3)
    with boa.env.prank(node), boa.reverts("arena: wrong phase"):
        arena.reveal_model(task, sha, "u")


def test_copied_commitment_cannot_be_revealed(world, arena, node, attacker):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, attacker, task, NODE, 10 * E18)
    sha = model_hash("a")
    world.goto(task, 0, 1)
    c = model_commit(sha, node, task, 0)
    with boa.env.prank(node):
        arena.commit_model(task, c)
    with boa.env.prank(attacker):
        arena.commit_model(task, c)  # copies the victim's commitment
    world.goto(task, 0, 2)
    with boa.env.prank(attacker), boa.reverts("arena: bad reveal"):
        arena.reveal_model(task, sha, "u")


def test_duplicate_model_later_commit_reverts(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = model_hash("same")
    world.goto(task, 0, 1)
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 0))  # seq 0
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 0))  # seq 1
    world.goto(task, 0, 2)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u1")
    with boa.env.prank(node2), boa.reverts("arena: duplicate model"):
        arena.reveal_model(task, sha, "u2")


def test_duplicate_model_earlier_commit_takes_slot(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = model_hash("same")
    world.goto(task, 0, 1)
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 0))  # seq 0 (earlier)
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 0))  # seq 1
    world.goto(task, 0, 2)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "late")
    with boa.env.prank(node2):
        arena.reveal_model(task, sha, "early")
        rep = events(arena, "SubmissionReplaced")[0]
    assert (rep.slot, rep.displaced, rep.node) == (0, node, node2)
    s = arena.submission(task, 0, 0)
    assert s.node == node2 and s.uri == "early" and s.commit_seq == 0
    assert arena.round_info(task, 0).num_submissions == 1
    assert not arena.model_commit(task, 0, node).revealed
    assert arena.model_owner(task, sha) == node2
    with boa.env.prank(node), boa.reverts("arena: duplicate model"):
        arena.reveal_model(task, sha, "late")


def test_duplicate_across_rounds_and_own_resubmission(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = commit_reveal_model(world, task, 0, node, "m")
    world.goto(task, 0, 2)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u")
    world.goto(task, 1, 1)
    arena.finalize(task, 100)  # void round 0
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 1))
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 1))
    world.goto(task, 1, 2)
    with boa.env.prank(node2), boa.reverts("arena: duplicate model"):
        arena.reveal_model(task, sha, "copy")
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "again")  # own hash again in a later round
    assert arena.submission(task, 1, 0).node == node


def test_round_full(world, arena):
    task = world.make_task()
    nodes = [boa.env.generate_address(f"n{i}") for i in range(129)]
    for n in nodes:
        world.token.mint(n, 100 * E18)
        with boa.env.prank(n):
            world.token.approve(arena.address, 2**256 - 1)
            arena.join(task, NODE, 10 * E18, 0)
    world.goto(task, 0, 1)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(str(i)), n, task, 0))
    world.goto(task, 0, 2)
    for i, n in enumerate(nodes[:128]):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(str(i)), "u")
    with boa.env.prank(nodes[128]), boa.reverts("arena: round full"):
        arena.reveal_model(task, model_hash("128"), "u")


def test_reveal_eval(world, arena, creator, attacker):
    task = world.make_task()
    proof = world.proof(task, 0)
    with boa.env.prank(creator), boa.reverts("arena: wrong phase"):
        arena.reveal_eval(task, 0, shard_hash(0), "s", proof)
    world.goto(task, 0, 2)
    with boa.env.prank(attacker), boa.reverts("arena: not creator"):
        arena.reveal_eval(task, 0, shard_hash(0), "s", proof)
    with boa.env.prank(creator):
        with boa.reverts("arena: wrong round"):
            arena.reveal_eval(task, 1, shard_hash(1), "s", world.proof(task, 1))
        with boa.reverts("arena: bad proof"):
            arena.reveal_eval(task, 0, shard_hash(1), "s", proof)
        with boa.reverts("arena: bad proof"):
            arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 1))
        arena.reveal_eval(task, 0, shard_hash(0), "file://s0", proof)
        ev = events(arena, "EvalRevealed")[0]
        assert (ev.round, ev.shard_sha256, ev.shard_uri) == (0, shard_hash(0), "file://s0")
        with boa.reverts("arena: eval already revealed"):
            arena.reveal_eval(task, 0, shard_hash(0), "s", proof)
    ri = arena.round_info(task, 0)
    assert ri.eval_revealed and ri.shard_sha256 == shard_hash(0) and ri.shard_uri == "file://s0"


def test_scores_commit_reveal(world, arena, node, validator, node2, attacker):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    sha = commit_reveal_model(world, task, 0, node, "a")
    world.goto(task, 0, 2)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u")
    scores = [123_456_789]
    c = score_commit(task, 0, validator, scores, SALT)
    assert arena.score_commitment(task, 0, validator, scores, SALT) == c
    assert arena.model_commitment(sha, node, task, 0) == model_commit(sha, node, task, 0)
    with boa.env.prank(validator), boa.reverts("arena: wrong phase"):
        arena.commit_scores(task, c)
    world.goto(task, 0, 3)
    with boa.env.prank(node), boa.reverts("arena: not a validator"):
        arena.commit_scores(task, c)
    with boa.env.prank(validator):
        with boa.reverts("arena: empty commitment"):
            arena.commit_scores(task, b"\x00" * 32)
        arena.commit_scores(task, c)
        ev = events(arena, "ScoresCommitted")[0]
        assert (ev.round, ev.validator, ev.commitment) == (0, validator, c)
    assert arena.round_info(task, 0).validator_commits == 1
    world.goto(task, 0, 4)
    with boa.env.prank(attacker), boa.reverts("arena: not a validator"):
        arena.reveal_scores(task, scores, SALT)
    with boa.env.prank(validator):
        with boa.reverts("arena: wrong number of scores"):
            arena.reveal_scores(task, [1, 2], SALT)
        with boa.reverts("arena: bad reveal"):
            arena.reveal_scores(task, [123_456_788], SALT)
        with boa.reverts("arena: bad reveal"):
            arena.reveal_scores(task, scores, b"\x22" * 32)
        arena.reveal_scores(task, scores, SALT)
        ev = events(arena, "ScoresRevealed")[0]
        assert list(ev.scores) == scores and ev.validator == validator
        with boa.reverts("arena: already revealed"):
            arena.reveal_scores(task, scores, SALT)
    assert list(arena.validator_scores(task, 0, validator)) == scores
    vr = arena.validator_round(task, 0, validator)
    assert vr.committed and vr.revealed and vr.commitment == c
    assert arena.round_info(task, 0).validator_reveals == 1


def test_reveal_scores_without_commit(world, arena, validator):
    task = world.make_task()
    join(arena, validator, task, VALIDATOR, 10 * E18)
    world.goto(task, 0, 4)
    with boa.env.prank(validator), boa.reverts("arena: no commitment"):
        arena.reveal_scores(task, [], SALT)


def test_scores_pack_roundtrip(world, arena):
    """Up to 128 scores (incl. 0 and INVALID) survive the 4-per-slot packing."""
    task = world.make_task()
    v = boa.env.generate_address("v")
    world.token.mint(v, 100 * E18)
    with boa.env.prank(v):
        world.token.approve(arena.address, 2**256 - 1)
        arena.join(task, VALIDATOR, 10 * E18, 0)
    nodes = [boa.env.generate_address(f"n{i}") for i in range(7)]
    for n in nodes:
        world.token.mint(n, 100 * E18)
        with boa.env.prank(n):
            world.token.approve(arena.address, 2**256 - 1)
            arena.join(task, NODE, 10 * E18, 0)
    world.goto(task, 0, 1)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(str(i)), n, task, 0))
    world.goto(task, 0, 2)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(str(i)), "u")
    scores = [0, INVALID, 1, 2**63, 999_999_999, INVALID - 1, 7]
    world.goto(task, 0, 3)
    with boa.env.prank(v):
        arena.commit_scores(task, score_commit(task, 0, v, scores, SALT))
    world.goto(task, 0, 4)
    with boa.env.prank(v):
        arena.reveal_scores(task, scores, SALT)
    assert list(arena.validator_scores(task, 0, v)) == scores


# ---------------------------------------------------------------------------------------
# clock views
# ---------------------------------------------------------------------------------------


def test_clock_views(world, arena):
    task = world.make_task()
    start = arena.task_params(task).start_time
    assert arena.current_round(task) == -1 and arena.current_phase(task) == 0
    for t, r, ph in [
        (start, 0, 1),
        (start + PHASE - 1, 0, 1),
        (start + PHASE, 0, 2),
        (start + 2 * PHASE, 0, 3),
        (start + 3 * PHASE, 0, 4),
        (start + 4 * PHASE, 1, 1),
        (start + 12 * PHASE - 1, 2, 4),
        (start + 12 * PHASE, 3, 5),
    ]:
        world.warp(t)
        assert (arena.current_round(task), arena.current_phase(task)) == (r, ph), t
    assert arena.round_start(task, 2) == start + 8 * PHASE
    assert arena.phase_end(task, 1, 1) == start + 5 * PHASE
    assert arena.phase_end(task, 1, 4) == start + 8 * PHASE
    with boa.reverts("arena: parameter out of range"):
        arena.phase_end(task, 1, 5)
