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
    delegated_events,
    finalize,
    model_commit,
    model_hash,
    score_commit,
    shard_hash,
)

NODE, VALIDATOR = 1, 2
ACC = 10**36
# phases of PROTOCOL.md §3 (world.goto: 6 = after the round)
COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL, AFTER = 1, 2, 3, 4, 5, 6
SALT = b"\x11" * 32


def ceil_div(a, b):
    return (a + b - 1) // b


_DELEGATED_ABIS: dict = {}


@pytest.fixture(autouse=True)
def _delegated_abis(world):
    """Finalize events come from ArenaEngine code and commit-reveal events from ArenaRounds
    code, both running in Arena (delegatecall); boa only decodes events Arena itself logs,
    so decode the rest with those contracts' ABIs."""
    _DELEGATED_ABIS.clear()
    _DELEGATED_ABIS.update({**world.engine.event_abi_for, **world.rounds.event_abi_for})


def events(contract, name):
    return delegated_events(contract, name, _DELEGATED_ABIS)


def join(arena, who, task, role, amount, commission=0):
    with boa.env.prank(who):
        arena.join(task, role, amount, commission)


def commit_reveal_model(world, task, r, who, name):
    arena = world.arena
    sha = model_hash(name)
    world.goto(task, r, COMMIT)
    with boa.env.prank(who):
        arena.commit_model(task, model_commit(sha, who, task, r))
    return sha


def reveal_eval(world, task, r):
    world.goto(task, r, EVAL)
    with boa.env.prank(world.actors["creator"]):
        world.arena.reveal_eval(task, r, shard_hash(r), f"file://shard{r}", world.proof(task, r))


def open_reveals(world, task, r):
    """The creator reveals round r's shard in EVAL (if not yet), then the clock moves to
    REVEAL, where nodes may open their commitments (PROTOCOL.md §5)."""
    if not world.arena.round_info(task, r).eval_revealed:
        reveal_eval(world, task, r)
    world.goto(task, r, REVEAL)


def finalize_all(arena, task, steps=1000):
    done = False
    for _ in range(1000):
        done = finalize(arena, task, steps)
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
    assert (
        ev[0].bounty == 3_000 * E18
        and ev[0].num_rounds == 3
        and ev[0].spec_uri == "file://spec.json"
    )
    assert token.balanceOf(creator) == before - 3_000 * E18
    assert token.balanceOf(arena.address) == 3_000 * E18
    st = arena.task_state(task)
    assert st.creator == creator and st.status == 1 and st.round_length == 5 * PHASE
    p = arena.task_params(task)
    assert (
        p.num_rounds == 3 and p.rank_ratio == WAD // 2 and p.start_time == world.now() + START_DELAY
    )


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
        dict(min_committee=0),
        dict(min_committee=257),
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
    task = world.make_task(
        num_rounds=64, gamma=WAD // 2, min_committee=32, tolerance=1000 * WAD, baseline_score=5
    )
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
    world.goto(task, 1, COMMIT)
    finalize(arena, task, 10)
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
            lambda: finalize(arena, 7, 1),
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
    assert (
        p.role == NODE and p.own_pending == 55 * E18 and p.own_active == 0 and p.pending_round == 0
    )
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


def test_join_has_no_validator_cap(world, arena):
    """v1 admitted 32 validators per task; 100 join now and the paged view lists them."""
    task = world.make_task()
    addrs = [boa.env.generate_address(f"v{i}") for i in range(100)]
    for a in addrs:
        world.token.mint(a, 100 * E18)
        with boa.env.prank(a):
            world.token.approve(arena.address, 2**256 - 1)
    for a in addrs:
        join(arena, a, task, VALIDATOR, 10 * E18)
    assert arena.task_state(task).validator_count == 100
    assert list(arena.validators(task, 0, 1024)) == addrs
    assert list(arena.validators(task, 90, 20)) == addrs[90:]
    assert arena.participant(task, addrs[99]).validator_index == 99
    with boa.reverts("arena: page too long"):
        arena.validators(task, 0, 1025)


def test_activation_next_round_and_finalize_gate(world, arena, node, validator):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    open_reveals(world, task, 0)  # time-round 0
    join(arena, node, task, NODE, 5 * E18)
    assert events(arena, "Staked")[0].activation_round == 1
    assert arena.own_stake(task, node, 0) == 10 * E18
    assert arena.own_stake(task, node, 1) == 15 * E18
    world.goto(task, 1, COMMIT)  # time-round 1: round 0 must be finalized first
    with boa.env.prank(validator), boa.reverts("arena: finalize round 0 first"):
        arena.join(task, VALIDATOR, 10 * E18, 0)
    finalize(arena, task, 100)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    assert events(arena, "Staked")[0].activation_round == 2
    world.goto(task, 2, COMMIT)  # activation would be round 3 == num_rounds
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
    assert d.pending == 7 * E18 and d.shares == 0
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
    world.goto(task, 0, COMMIT)
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
    open_reveals(world, task, 0)
    with boa.env.prank(node), boa.reverts("arena: wrong phase"):
        arena.commit_model(task, c)


def test_commit_needs_active_stake(world, arena, node2, validator2):
    task = world.make_task()
    world.goto(task, 0, COMMIT)
    join(arena, node2, task, NODE, 10 * E18)  # activates in round 1
    with boa.env.prank(node2), boa.reverts("arena: stake not active"):
        arena.commit_model(task, b"\x01" * 32)
    join(arena, validator2, task, VALIDATOR, 10 * E18)
    world.goto(task, 0, SCORE_COMMIT)
    with boa.env.prank(validator2), boa.reverts("arena: stake not active"):
        arena.commit_scores(task, b"\x01" * 32)


def test_reveal_model_effects_and_reverts(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = commit_reveal_model(world, task, 0, node, "a")
    open_reveals(world, task, 0)
    with boa.env.prank(node2), boa.reverts("arena: no commitment"):
        arena.reveal_model(task, sha, "u")
    with boa.env.prank(node):
        with boa.reverts("arena: bad reveal"):
            arena.reveal_model(task, model_hash("b"), "u")
        arena.reveal_model(task, sha, "file://a.onnx")
        ev = events(arena, "ModelRevealed")[0]
        assert (ev.round, ev.node, ev.slot, ev.model_sha256, ev.uri) == (
            0,
            node,
            0,
            sha,
            "file://a.onnx",
        )
        with boa.reverts("arena: already revealed"):
            arena.reveal_model(task, sha, "file://a.onnx")
    s = arena.submission(task, 0, 0)
    assert s.node == node and s.model_sha256 == sha and s.uri == "file://a.onnx"
    assert arena.round_info(task, 0).num_submissions == 1
    assert arena.model_owner(task, sha) == node
    world.goto(task, 0, SCORE_COMMIT)
    with boa.env.prank(node), boa.reverts("arena: wrong phase"):
        arena.reveal_model(task, sha, "u")


def test_copied_commitment_cannot_be_revealed(world, arena, node, attacker):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, attacker, task, NODE, 10 * E18)
    sha = model_hash("a")
    world.goto(task, 0, COMMIT)
    c = model_commit(sha, node, task, 0)
    with boa.env.prank(node):
        arena.commit_model(task, c)
    with boa.env.prank(attacker):
        arena.commit_model(task, c)  # copies the victim's commitment
    open_reveals(world, task, 0)
    with boa.env.prank(attacker), boa.reverts("arena: bad reveal"):
        arena.reveal_model(task, sha, "u")


def test_duplicate_model_later_commit_reverts(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = model_hash("same")
    world.goto(task, 0, COMMIT)
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 0))  # seq 0
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 0))  # seq 1
    open_reveals(world, task, 0)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u1")
    with boa.env.prank(node2), boa.reverts("arena: duplicate model"):
        arena.reveal_model(task, sha, "u2")


def test_duplicate_model_earlier_commit_takes_slot(world, arena, node, node2):
    task = world.make_task()
    join(arena, node, task, NODE, 10 * E18)
    join(arena, node2, task, NODE, 10 * E18)
    sha = model_hash("same")
    world.goto(task, 0, COMMIT)
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 0))  # seq 0 (earlier)
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 0))  # seq 1
    open_reveals(world, task, 0)
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
    open_reveals(world, task, 0)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u")
    world.goto(task, 1, COMMIT)
    finalize(arena, task, 100)  # void round 0
    with boa.env.prank(node2):
        arena.commit_model(task, model_commit(sha, node2, task, 1))
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 1))
    open_reveals(world, task, 1)
    with boa.env.prank(node2), boa.reverts("arena: duplicate model"):
        arena.reveal_model(task, sha, "copy")
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "again")  # own hash again in a later round
    assert arena.submission(task, 1, 0).node == node


def test_round_full(world, arena):
    task = world.make_task()
    cap = arena.MAX_SUBMISSIONS()
    assert cap == 1024  # DESIGN §3.3: the one per-round bound, what finalize pages through
    nodes = [boa.env.generate_address(f"n{i}") for i in range(cap + 1)]
    for n in nodes:
        world.token.mint(n, 100 * E18)
        with boa.env.prank(n):
            world.token.approve(arena.address, 2**256 - 1)
            arena.join(task, NODE, 10 * E18, 0)
    world.goto(task, 0, COMMIT)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(str(i)), n, task, 0))
    open_reveals(world, task, 0)
    for i, n in enumerate(nodes[:cap]):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(str(i)), "u")
    assert arena.round_info(task, 0).num_submissions == cap
    with boa.env.prank(nodes[cap]), boa.reverts("arena: round full"):
        arena.reveal_model(task, model_hash(str(cap)), "u")


def test_reveal_eval(world, arena, creator, attacker):
    task = world.make_task()
    proof = world.proof(task, 0)
    with boa.env.prank(creator), boa.reverts("arena: wrong phase"):
        arena.reveal_eval(task, 0, shard_hash(0), "s", proof)
    world.goto(task, 0, EVAL)
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
    open_reveals(world, task, 0)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u")
    scores = [123_456_789]
    c = score_commit(task, 0, validator, scores, SALT)
    assert arena.score_commitment(task, 0, validator, scores, SALT) == c
    assert arena.model_commitment(sha, node, task, 0) == model_commit(sha, node, task, 0)
    with boa.env.prank(validator), boa.reverts("arena: wrong phase"):
        arena.commit_scores(task, c)
    world.goto(task, 0, SCORE_COMMIT)
    with boa.env.prank(node), boa.reverts("arena: not a validator"):
        arena.commit_scores(task, c)
    with boa.env.prank(validator), boa.reverts("arena: committees not drawn"):
        arena.commit_scores(task, c)
    arena.draw(task, 0)
    with boa.env.prank(validator), boa.reverts("arena: committees not drawn"):
        arena.commit_scores(task, c)  # the target block's hash is not readable yet
    draw(world, task, 0)
    with boa.env.prank(validator):
        with boa.reverts("arena: empty commitment"):
            arena.commit_scores(task, b"\x00" * 32)
        arena.commit_scores(task, c)
        ev = events(arena, "ScoresCommitted")[0]
        assert (ev.round, ev.validator, ev.commitment) == (0, validator, c)
    assert arena.round_info(task, 0).validator_commit_count == 1
    world.goto(task, 0, SCORE_REVEAL)
    with boa.env.prank(attacker), boa.reverts("arena: not a validator"):
        arena.reveal_scores(task, scores, SALT)
    with boa.env.prank(validator):
        with boa.reverts("arena: too many scores"):
            arena.reveal_scores(task, [1, 2], SALT)
        with boa.reverts("arena: bad reveal"):
            arena.reveal_scores(task, [123_456_788], SALT)
        with boa.reverts("arena: bad reveal"):
            arena.reveal_scores(task, scores, b"\x22" * 32)
        arena.reveal_scores(task, scores, SALT)
        ev = events(arena, "ScoresRevealed")[0]
        assert list(ev.scores) == scores and ev.validator == validator
        assert ev.first == 0 and ev.complete
        with boa.reverts("arena: already revealed"):
            arena.reveal_scores(task, scores, SALT)
    assert list(arena.validator_scores(task, 0, validator)) == scores
    vr = arena.validator_round(task, 0, validator)
    assert vr.committed and vr.revealed and vr.commitment == c
    assert arena.round_info(task, 0).validator_reveal_count == 1


def test_reveal_scores_without_commit(world, arena, validator):
    task = world.make_task()
    join(arena, validator, task, VALIDATOR, 10 * E18)
    world.goto(task, 0, SCORE_REVEAL)
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
    world.goto(task, 0, COMMIT)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(str(i)), n, task, 0))
    open_reveals(world, task, 0)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(str(i)), "u")
    scores = [0, INVALID, 1, 2**63, 999_999_999, INVALID - 1, 7]
    world.goto(task, 0, SCORE_COMMIT)
    draw(world, task, 0)  # the only validator: on every committee
    with boa.env.prank(v):
        arena.commit_scores(task, score_commit(task, 0, v, scores, SALT))
    world.goto(task, 0, SCORE_REVEAL)
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
        (start, 0, COMMIT),
        (start + PHASE - 1, 0, COMMIT),
        (start + PHASE, 0, EVAL),
        (start + 2 * PHASE, 0, REVEAL),
        (start + 3 * PHASE, 0, SCORE_COMMIT),
        (start + 4 * PHASE, 0, SCORE_REVEAL),
        (start + 5 * PHASE, 1, COMMIT),
        (start + 15 * PHASE - 1, 2, SCORE_REVEAL),
        (start + 15 * PHASE, 3, 6),
    ]:
        world.warp(t)
        assert (arena.current_round(task), arena.current_phase(task)) == (r, ph), t
    assert arena.round_start(task, 2) == start + 10 * PHASE
    assert arena.phase_end(task, 1, COMMIT) == start + 6 * PHASE
    assert arena.phase_end(task, 1, EVAL) == start + 7 * PHASE
    assert arena.phase_end(task, 1, SCORE_REVEAL) == start + 10 * PHASE
    with boa.reverts("arena: parameter out of range"):
        arena.phase_end(task, 1, 6)


# ---------------------------------------------------------------------------------------
# full rounds, payouts by hand
# ---------------------------------------------------------------------------------------


def play_round(world, task, r, nodes, scores, no_reveal=(), eval_=True):
    """Commit `nodes` (list of (address, model name)) in order, reveal the eval shard (unless
    `eval_` is False: then no model can be revealed either), reveal the models, commit+reveal
    `scores` (validator -> list), commit without reveal for `no_reveal`, then warp to the end
    of the round."""
    arena = world.arena
    world.goto(task, r, COMMIT)
    for who, name in nodes:
        with boa.env.prank(who):
            arena.commit_model(task, model_commit(model_hash(name), who, task, r))
    if eval_:
        open_reveals(world, task, r)
        for who, name in nodes:
            with boa.env.prank(who):
                arena.reveal_model(task, model_hash(name), f"file://{name}")
    world.goto(task, r, SCORE_COMMIT)
    if scores or no_reveal:  # nobody scoring: nobody draws, no committee, nobody slashed
        draw(world, task, r)
    for v, sc in scores.items():
        with boa.env.prank(v):
            arena.commit_scores(task, score_commit(task, r, v, sc, SALT))
    for v in no_reveal:
        with boa.env.prank(v):
            arena.commit_scores(task, score_commit(task, r, v, [1] * len(nodes), SALT))
    world.goto(task, r, SCORE_REVEAL)
    for v, sc in scores.items():
        with boa.env.prank(v):
            arena.reveal_scores(task, sc, SALT)
    world.goto(task, r + 1, COMMIT)


def draw(world, task, r):
    """Draw round r's committees and move two blocks on, so that the seed is readable (the
    target block's hash) when the validators commit (PROTOCOL.md §5a)."""
    if world.arena.committee(task, r).target_block == 0:
        world.arena.draw(task, r)
    boa.env.evm.patch.block_number += 2


def split(x, sigma, own, dl):
    """(owner part, acc increment, delegators' credited part) per PROTOCOL.md §7."""
    owner = x * (sigma + (WAD - sigma) * own // (own + dl)) // WAD
    dpart = x - owner
    if dl == 0 or dpart == 0:
        return owner, 0, 0
    inc = dpart * ACC // dl
    return owner, inc, dpart if inc else 0


def test_full_task_three_rounds_by_hand(
    world,
    arena,
    token,
    creator,
    node,
    node2,
    node3,
    validator,
    validator2,
    validator3,
    validator4,
    delegator,
):
    # validator3 holds 250 of the 450 revealing stake: its scores are the consensus (no half
    # split). epsilon = 1/2: consensus 0.2 is the best; 0.6 is 4 epsilons behind, 1.0 is 8;
    # each is its own bucket (1.0 - 0.6 > 0.6 / 2), so with q = 1/2 the weights are 1, 1/16
    # and 1/256
    task = world.make_task(rank_epsilon=WAD // 2)
    join(arena, node, task, NODE, 100 * E18, WAD // 10)
    join(arena, node2, task, NODE, 100 * E18)
    join(arena, node3, task, NODE, 200 * E18)
    for v, amt in ((validator, 100), (validator2, 100), (validator3, 250), (validator4, 100)):
        join(arena, v, task, VALIDATOR, amt * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, node, 100 * E18)

    s1 = [500_000_000, 1_000_000_000, 240_000_000]
    s3 = [600_000_000, 1_000_000_000, 200_000_000]
    play_round(
        world,
        task,
        0,
        [(node, "a"), (node2, "b"), (node3, "c")],
        {validator: s1, validator2: s1, validator3: s3},
        no_reveal=[validator4],
    )

    # Paginated: 1 open + 3 consensus + 3 rank (one per eligible slot) + 4 validator
    # agreements + 3 node payouts + 4 validator slots.
    results = [finalize(arena, task, 1) for _ in range(18)]
    assert results == [False] * 17 + [True]
    with boa.reverts("arena: round not over"):
        finalize(arena, task, 1)

    pot = 1_000 * E18
    c = [600_000_000, 1_000_000_000, 200_000_000]
    for k in range(3):
        assert arena.submission(task, 0, k).consensus == c[k]
    # validator, validator2: 0.5 vs 0.6, 1.0 vs 1.0, 0.24 vs 0.2 (D below slash_tau = 0.2);
    # validator3 agrees exactly
    d1 = (100_000_000 * WAD // 600_000_000 + 40_000_000 * WAD // 200_000_000) // 3
    f1 = WAD - d1 * WAD // (WAD // 2)
    d3, f3 = 0, WAD
    assert (d1, f1) == (122222222222222222, 755555555555555556)
    assert arena.validator_round(task, 0, validator3).deviation == d3
    assert arena.validator_round(task, 0, validator).deviation == d1
    assert arena.validator_round(task, 0, validator2).agreement == f1
    assert arena.validator_round(task, 0, validator3).agreement == f3

    t_stake, s_stake = 500 * E18, 450 * E18
    r_nodes = pot * (WAD // 5) // WAD + (pot * (WAD - 2 * (WAD // 5)) // WAD) * t_stake // (
        t_stake + s_stake
    )
    assert r_nodes == 515789473684210526315
    r_val = pot - r_nodes
    sg = WAD * 200 * E18 + WAD // 16 * 200 * E18 + WAD // 256 * 100 * E18
    x1 = r_nodes * (WAD // 16 * 200 * E18) // sg  # node: stake 100 own + 100 delegated
    x2 = r_nodes * (WAD // 256 * 100 * E18) // sg  # node2
    x3 = r_nodes * (WAD * 200 * E18) // sg  # node3: the best
    assert [arena.submission(task, 0, k).weight for k in range(3)] == [WAD // 16, WAD // 256, WAD]
    assert [arena.submission(task, 0, k).reward for k in range(3)] == [x1, x2, x3]
    sf = f1 * 100 * E18 * 2 + f3 * 250 * E18
    y1 = r_val * (f1 * 100 * E18) // sf
    y3 = r_val * (f3 * 250 * E18) // sf
    owner1, inc1, dpaid1 = split(x1, WAD // 10, 100 * E18, 100 * E18)
    slash4 = ceil_div(100 * E18 * (WAD // 10), WAD)
    paid = owner1 + dpaid1 + x2 + x3 + 2 * y1 + y3
    carry0 = pot - paid + slash4

    ri = arena.round_info(task, 0)
    assert (ri.stage, ri.void_reason, ri.pot) == (6, 0, pot)
    assert (ri.nodes_pot, ri.validators_pot, ri.node_stake, ri.validator_stake) == (
        r_nodes,
        r_val,
        t_stake,
        s_stake,
    )
    assert (ri.sum_g_stake, ri.sum_f_stake, ri.paid, ri.slashed) == (sg, sf, paid, slash4)
    st = arena.task_state(task)
    assert st.finalized_rounds == 1 and st.carry == carry0
    assert st.total_own_stake == 950 * E18 - slash4

    p1 = arena.participant(task, node)
    assert p1.owner_earned == owner1 and p1.acc == inc1
    assert arena.participant(task, node3).owner_earned == x3
    assert arena.participant(task, validator).owner_earned == y1
    assert arena.participant(task, validator3).owner_earned == y3
    p4 = arena.participant(task, validator4)
    assert p4.own_active == 100 * E18 - slash4 and p4.slashed == slash4 and p4.owner_earned == 0
    assert arena.validator_round(task, 0, validator4).slash == slash4

    # Vesting: delta = 1/4 claimable now.
    deleg_earned = 100 * E18 * inc1 // ACC
    assert arena.claimable(task, node, node) == owner1 // 4
    assert arena.claimable(task, node, delegator) == deleg_earned // 4
    bal = token.balanceOf(delegator)
    with boa.env.prank(delegator):
        assert arena.claim(task, node) == deleg_earned // 4
        ev = events(arena, "Claimed")[0]
        assert (ev.participant, ev.account, ev.amount) == (node, delegator, deleg_earned // 4)
        with boa.reverts("arena: nothing to claim"):
            arena.claim(task, node)
    assert token.balanceOf(delegator) == bal + deleg_earned // 4
    with boa.env.prank(node):
        assert arena.claim(task, node) == owner1 // 4
    with boa.env.prank(validator4), boa.reverts("arena: nothing to claim"):
        arena.claim(task, validator4)

    # Round 1: no eval reveal -> void; validator4 commits without reveal again, but with no
    # submission it sat on no committee: not slashed (an unassigned validator owes nothing).
    play_round(world, task, 1, [(node, "a1")], {}, no_reveal=[validator4], eval_=False)
    assert finalize(arena, task, 1) is True
    slash4b = 0
    ri = arena.round_info(task, 1)
    assert (ri.void_reason, ri.pot, ri.paid, ri.slashed) == (1, 1_000 * E18 + carry0, 0, slash4b)
    carry1 = 1_000 * E18 + carry0 + slash4b
    assert arena.task_state(task).carry == carry1

    # Round 2 (last): eval revealed but nobody scores -> no quorum -> void.
    play_round(world, task, 2, [(node2, "b2")], {})
    assert finalize(arena, task, 5) is True
    ri = arena.round_info(task, 2)
    assert ri.void_reason == 3 and ri.pot == 1_000 * E18 + carry1
    st = arena.task_state(task)
    assert st.status == 3 and st.refund == 1_000 * E18 + carry1 and st.carry == 0
    with boa.reverts("arena: task not active"):
        finalize(arena, task, 1)

    # Everyone exits.
    with boa.env.prank(creator):
        assert arena.claim_refund(task) == 1_000 * E18 + carry1
        with boa.reverts("arena: refund already claimed"):
            arena.claim_refund(task)
    for who, p in (
        (node, node),
        (delegator, node),
        (node3, node3),
        (validator, validator),
        (validator2, validator2),
        (validator3, validator3),
    ):
        with boa.env.prank(who):
            arena.claim(task, p)
    assert arena.claimable(task, node, delegator) == 0
    with boa.env.prank(delegator):
        assert arena.withdraw(task, node) == 100 * E18
        with boa.reverts("arena: nothing to withdraw"):
            arena.withdraw(task, node)
    with boa.env.prank(validator4):
        assert arena.withdrawable(task, validator4, validator4) == 100 * E18 - slash4 - slash4b
        assert arena.withdraw(task, validator4) == 100 * E18 - slash4 - slash4b
    for who, amt in (
        (node, 100),
        (node2, 100),
        (node3, 200),
        (validator, 100),
        (validator2, 100),
        (validator3, 250),
    ):
        with boa.env.prank(who):
            assert arena.withdraw(task, who) == amt * E18
    with boa.env.prank(node2):
        arena.claim(task, node2)
    # Only the delegator accumulator's floor dust may remain (reserved, never owed).
    assert token.balanceOf(arena.address) < 100


def test_late_delegation_earns_only_after_activation(
    world, arena, node, validator, validator2, delegator, delegator2
):
    task = world.make_task(num_rounds=2, min_committee=1, gamma=WAD // 2)
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, node, 100 * E18)  # active from round 0
    open_reveals(world, task, 0)
    with boa.env.prank(delegator2):
        arena.delegate(task, node, 300 * E18)  # during round 0 -> active from round 1
    play_round(world, task, 0, [(node, "a")], {validator: [100_000_000]})
    finalize(arena, task, 100)
    x0 = arena.submission(task, 0, 0).reward
    _, inc0, _ = split(x0, 0, 100 * E18, 100 * E18)
    assert arena.participant(task, node).acc == inc0
    assert arena.claimable(task, node, delegator2) == 0
    assert arena.claimable(task, node, delegator) == (100 * E18 * inc0 // ACC) // 4
    play_round(world, task, 1, [(node, "b")], {validator: [100_000_000]})
    finalize(arena, task, 100)
    x1 = arena.submission(task, 1, 0).reward
    _, inc1, _ = split(x1, 0, 100 * E18, 400 * E18)
    assert arena.participant(task, node).acc == inc0 + inc1
    # Task ended: everything vested.
    assert arena.claimable(task, node, delegator2) == 300 * E18 * inc1 // ACC
    assert arena.claimable(task, node, delegator) == 100 * E18 * (inc0 + inc1) // ACC
    with boa.env.prank(delegator2):
        assert arena.claim(task, node) == 300 * E18 * inc1 // ACC
        assert arena.withdraw(task, node) == 300 * E18


def test_invalid_and_baseline_get_no_rank(world, arena, node, node2, node3, validator, validator2):
    task = world.make_task(num_rounds=1, baseline_score=700_000_000, rank_ratio=WAD // 2)
    for n in (node, node2, node3):
        join(arena, n, task, NODE, 100 * E18)
    for v in (validator, validator2):
        join(arena, v, task, VALIDATOR, 100 * E18)
    sc = [INVALID, 800_000_000, 400_000_000]
    play_round(
        world, task, 0, [(node, "a"), (node2, "b"), (node3, "c")], {validator: sc, validator2: sc}
    )
    assert finalize(arena, task, 100)
    subs = [arena.submission(task, 0, k) for k in range(3)]
    assert [s.consensus for s in subs] == sc
    assert [s.weight for s in subs] == [0, 0, WAD]
    ri = arena.round_info(task, 0)
    assert ri.node_stake == 100 * E18  # only the eligible node counts in T
    assert subs[2].reward == ri.nodes_pot and subs[0].reward == 0 and subs[1].reward == 0
    # Both validators agree exactly (INVALID on both sides counts 0) -> F = 1, equal split.
    assert arena.validator_round(task, 0, validator).deviation == 0
    assert arena.validator_round(task, 0, validator).reward == ri.validators_pot // 2


def test_ties_earn_once_by_commit_order_and_dev_slash(
    world, arena, node, node2, validator, validator2, validator3
):
    task = world.make_task(num_rounds=1, slash_tau=WAD // 10, slash_dev=WAD // 20)
    join(arena, node, task, NODE, 100 * E18)
    join(arena, node2, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    join(arena, validator2, task, VALIDATOR, 100 * E18)
    join(arena, validator3, task, VALIDATOR, 50 * E18)
    world.goto(task, 0, COMMIT)
    # An exact tie is one epsilon bucket: node2 commits first -> its earlier key earns,
    # node's copy nothing, although node reveals first.
    good = [300_000_000, 300_000_000]
    bad = [900_000_000, 900_000_000]
    play_round(
        world,
        task,
        0,
        [(node2, "b"), (node, "a")],
        {validator: good, validator2: good, validator3: bad},
    )
    assert finalize(arena, task, 100)
    s0, s1 = arena.submission(task, 0, 0), arena.submission(task, 0, 1)
    assert s0.node == node2 and s0.weight == WAD and s1.weight == 0
    assert s0.key < s1.key and s1.reward == 0 and s0.reward == arena.round_info(task, 0).nodes_pot
    vr3 = arena.validator_round(task, 0, validator3)
    assert vr3.deviation == 2 * WAD and vr3.agreement == 0 and vr3.reward == 0
    assert vr3.slash == ceil_div(50 * E18 * (WAD // 20), WAD)
    assert arena.participant(task, validator3).own_active == 50 * E18 - vr3.slash


# ---------------------------------------------------------------------------------------
# pause and role matrices
# ---------------------------------------------------------------------------------------


def test_pause_matrix(world, arena, owner, node, validator, delegator, creator):
    """Pause blocks create/join/delegate/commit_model/commit_scores and nothing else."""
    task = world.make_task(num_rounds=1, min_committee=1)
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    with boa.env.prank(owner):
        arena.pause()
        ev = events(arena, "Paused")
        assert ev[0].account == owner
    assert arena.paused()
    with boa.reverts("arena: paused"):
        world.make_task()
    with boa.env.prank(node), boa.reverts("arena: paused"):
        arena.join(task, NODE, E18, 0)
    with boa.env.prank(delegator), boa.reverts("arena: paused"):
        arena.delegate(task, node, E18)
    world.goto(task, 0, COMMIT)
    sha = model_hash("a")
    with boa.env.prank(node), boa.reverts("arena: paused"):
        arena.commit_model(task, model_commit(sha, node, task, 0))
    with boa.env.prank(owner):
        arena.unpause()
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, 0))
    with boa.env.prank(owner):
        arena.pause()
    world.goto(task, 0, EVAL)
    with boa.env.prank(creator):
        arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 0))  # never paused
    world.goto(task, 0, REVEAL)
    with boa.env.prank(node):
        arena.reveal_model(task, sha, "u")  # reveals are never paused
    world.goto(task, 0, SCORE_COMMIT)
    draw(world, task, 0)  # never paused
    with boa.env.prank(validator), boa.reverts("arena: paused"):
        arena.commit_scores(task, score_commit(task, 0, validator, [5], SALT))
    with boa.env.prank(owner):
        arena.unpause()
    with boa.env.prank(validator):
        arena.commit_scores(task, score_commit(task, 0, validator, [5], SALT))
    with boa.env.prank(owner):
        arena.pause()
    world.goto(task, 0, SCORE_REVEAL)
    with boa.env.prank(validator):
        arena.reveal_scores(task, [5], SALT)
    world.goto(task, 1, COMMIT)
    assert finalize(arena, task, 100)  # finalize works while paused
    with boa.env.prank(node):
        assert arena.claim(task, node) > 0
        assert arena.withdraw(task, node) == 100 * E18
    with boa.env.prank(creator):
        arena.claim_refund(task)
    assert arena.paused()


def test_owner_role_matrix(arena, owner, attacker, creator):
    for who in (attacker, creator):
        with boa.env.prank(who):
            with boa.reverts("ownable: caller is not the owner"):
                arena.pause()
            with boa.reverts("ownable: caller is not the owner"):
                arena.unpause()
            with boa.reverts("ownable: caller is not the owner"):
                arena.transfer_ownership(who)
            with boa.reverts("ownable: caller is not the owner"):
                arena.renounce_ownership()
    with boa.env.prank(owner):
        with boa.reverts("pausable: contract is not paused"):
            arena.unpause()
        arena.transfer_ownership(attacker)
    assert arena.owner() == owner and arena.pending_owner() == attacker
    with boa.env.prank(creator), boa.reverts("ownable_2step: caller is not the new owner"):
        arena.accept_ownership()
    with boa.env.prank(attacker):
        arena.accept_ownership()
        arena.pause()
    assert arena.owner() == attacker and arena.paused()


def test_creator_role_matrix(world, arena, node, attacker, creator):
    task = world.make_task(num_rounds=1)
    open_reveals(world, task, 0)
    for who in (node, attacker):
        with boa.env.prank(who):
            with boa.reverts("arena: not creator"):
                arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 0))
            with boa.reverts("arena: not creator"):
                arena.cancel_task(task)
            with boa.reverts("arena: not creator"):
                arena.claim_refund(task)
    with boa.env.prank(creator), boa.reverts("arena: task not ended"):
        arena.claim_refund(task)


def test_participant_role_matrix(world, arena, node, validator, attacker, delegator):
    """Node-only and validator-only entry points reject every other role."""
    task = world.make_task()
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    world.goto(task, 0, COMMIT)
    for who in (validator, attacker, delegator):
        with boa.env.prank(who), boa.reverts("arena: not a node"):
            arena.commit_model(task, b"\x01" * 32)
    world.goto(task, 0, SCORE_COMMIT)
    for who in (node, attacker, delegator):
        with boa.env.prank(who), boa.reverts("arena: not a validator"):
            arena.commit_scores(task, b"\x01" * 32)
    world.goto(task, 0, SCORE_REVEAL)
    for who in (node, attacker):
        with boa.env.prank(who), boa.reverts("arena: not a validator"):
            arena.reveal_scores(task, [], SALT)
    with boa.env.prank(attacker), boa.reverts("arena: not a participant"):
        arena.claim(task, attacker)


def test_engine_cannot_be_called_directly(engine, world):
    with boa.reverts("arena: delegatecall only"):
        engine.run(1, 1, [])


def test_finalize_reverts(world, arena):
    task = world.make_task()
    with boa.reverts("arena: round not over"):
        finalize(arena, task, 1)
    world.goto(task, 1, COMMIT)
    with boa.reverts("arena: zero steps"):
        finalize(arena, task, 0)
    assert finalize(arena, task, 1)
    ev = events(arena, "RoundFinalized")
    assert ev[0].round == 0 and ev[0].void_reason == 1 and ev[0].carry == 1_000 * E18
    with boa.reverts("arena: round not over"):
        finalize(arena, task, 1)


def test_withdraw_after_cancel_is_empty_and_claim_refund_needs_end(world, arena, creator, node):
    task = world.make_task()
    with boa.env.prank(creator):
        arena.cancel_task(task)
    with boa.env.prank(node), boa.reverts("arena: task not active"):
        arena.join(task, NODE, 10 * E18, 0)
    with boa.env.prank(creator), boa.reverts("arena: task not ended"):
        arena.claim_refund(task)


def test_finalize_events(world, arena, node, node2, validator, validator2, validator3, delegator):
    """Every finalize unit emits its event with the stored numbers."""
    task = world.make_task(num_rounds=1, slash_tau=WAD // 10)
    join(arena, node, task, NODE, 100 * E18, WAD // 10)
    join(arena, node2, task, NODE, 100 * E18)
    for v in (validator, validator2, validator3):
        join(arena, v, task, VALIDATOR, 100 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, node, 50 * E18)
    sc, far = [200_000_000, 300_000_000], [900_000_000, 300_000_000]
    play_round(
        world,
        task,
        0,
        [(node, "a"), (node2, "b")],
        {validator: sc, validator2: sc, validator3: far},
    )
    finalize(arena, task, 1)
    (op,) = events(arena, "RoundOpened")
    assert (op.task, op.round, op.pot, op.emission_amount, op.void_reason) == (
        task,
        0,
        3_000 * E18,
        0,
        0,
    )
    finalize(arena, task, 2)
    assert [(e.slot, e.consensus, e.status) for e in events(arena, "ConsensusComputed")] == [
        (0, 200_000_000, 0),
        (1, 300_000_000, 0),
    ]
    finalize(arena, task, 1)  # rank: one unit per eligible slot, the event after the last
    assert events(arena, "RoundRanked") == []
    finalize(arena, task, 1)
    (rk,) = events(arena, "RoundRanked")
    assert events(arena, "ValidatorScored") == []
    finalize(arena, task, 3)  # AGREEMENT: one unit per validator index
    scored = {e.validator: (e.deviation, e.agreement) for e in events(arena, "ValidatorScored")}
    ri = arena.round_info(task, 0)
    assert (rk.nodes_pot, rk.validators_pot, rk.node_stake, rk.validator_stake) == (
        ri.nodes_pot,
        ri.validators_pot,
        250 * E18,
        300 * E18,
    )
    for v in (validator, validator2, validator3):
        vr = arena.validator_round(task, 0, v)
        assert scored[v] == (vr.deviation, vr.agreement)
    finalize(arena, task, 1)  # pay node (slot 0)
    (rw,) = events(arena, "Rewarded")
    x = arena.submission(task, 0, 0).reward
    assert x > 0
    owner, _, dpaid = split(x, WAD // 10, 100 * E18, 50 * E18)
    assert (rw.participant, rw.amount, rw.owner_part, rw.delegator_part) == (node, x, owner, dpaid)
    finalize(arena, task, 10)
    (sl,) = events(arena, "Slashed")
    (fin,) = events(arena, "RoundFinalized")
    (end,) = events(arena, "TaskEnded")
    assert (sl.participant, sl.reason, sl.amount) == (
        validator3,
        2,
        ceil_div(100 * E18 * (WAD // 20), WAD),
    )
    ri = arena.round_info(task, 0)
    assert ri.stage == 6
    assert (fin.pot, fin.paid, fin.slashed, fin.carry) == (
        ri.pot,
        ri.paid,
        ri.slashed,
        ri.pot - ri.paid + ri.slashed,
    )
    assert end.refund == fin.carry == arena.task_state(task).refund
    with boa.env.prank(validator3):
        arena.withdraw(task, validator3)
        (wd,) = events(arena, "Withdrawn")
        assert (wd.participant, wd.account, wd.amount) == (
            validator3,
            validator3,
            100 * E18 - sl.amount,
        )
    with boa.env.prank(world.actors["creator"]):
        arena.claim_refund(task)
        (rc,) = events(arena, "RefundClaimed")
        assert rc.amount == fin.carry


def test_full_slash_takes_the_delegations_too_and_burns_them(
    world, arena, token, node, validator, validator2, delegator
):
    """A 100% slash of a validator takes its whole effective stake: its own stake goes to
    the pot (here the creator's refund), its delegations are burned, not paid to anyone."""
    task = world.make_task(num_rounds=1, slash_miss=WAD, min_committee=1)
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    join(arena, validator2, task, VALIDATOR, 100 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, validator2, 40 * E18)
    supply = token.totalSupply()
    play_round(world, task, 0, [(node, "a")], {validator: [1]}, no_reveal=[validator2])
    assert finalize(arena, task, 100)
    p = arena.participant(task, validator2)
    assert p.own_active == 0 and p.slashed == 100 * E18
    assert p.del_index == 1 and p.del_burned == 40 * E18 and p.slash_round == 1
    assert arena.task_state(task).burned == 40 * E18
    assert token.totalSupply() == supply - 40 * E18  # burned, not kept or paid out
    with boa.env.prank(validator2), boa.reverts("arena: nothing to withdraw"):
        arena.withdraw(task, validator2)
    with boa.env.prank(delegator), boa.reverts("arena: nothing to withdraw"):
        arena.withdraw(task, validator2)
    st = arena.task_state(task)
    assert 100 * E18 <= st.refund < 140 * E18  # the own slash, never the burned delegations


def test_tasks_are_isolated(world, arena, node, validator, validator2):
    """Two tasks at once: stake, rounds and finalization of one never touch the other."""
    t1 = world.make_task(num_rounds=1, min_committee=1)
    t2 = world.make_task(num_rounds=2, min_committee=1)
    join(arena, node, t1, NODE, 100 * E18)
    join(arena, node, t2, VALIDATOR, 30 * E18)  # another role in another task
    join(arena, validator, t1, VALIDATOR, 100 * E18)
    assert (
        arena.participant(t1, node).role == NODE and arena.participant(t2, node).role == VALIDATOR
    )
    play_round(world, t1, 0, [(node, "iso")], {validator: [42]})
    assert finalize(arena, t1, 100)
    assert arena.task_state(t1).status == 3
    st2 = arena.task_state(t2)
    assert st2.status == 1 and st2.finalized_rounds == 0 and st2.total_own_stake == 30 * E18
    assert arena.round_info(t2, 0).num_submissions == 0
    assert arena.participant(t2, node).owner_earned == 0


def test_claim_cost_independent_of_delegator_count(world, arena, node, validator):
    """claim/withdraw/delegate are O(1): the 1st and the 60th delegator pay the same gas."""
    task = world.make_task(num_rounds=1, min_committee=1)
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    dels = []
    for i in range(60):
        d = boa.env.generate_address(f"many{i}")
        world.token.mint(d, 10 * E18)
        with boa.env.prank(d):
            world.token.approve(arena.address, 2**256 - 1)
            arena.delegate(task, node, E18)
        dels.append(d)
    play_round(world, task, 0, [(node, "many")], {validator: [42]})
    assert finalize(arena, task, 100)
    gas = []
    for d in (dels[0], dels[-1]):
        with boa.env.prank(d):
            arena.claim(task, node)
            g1 = arena._computation.get_gas_used()
            arena.withdraw(task, node)
            gas.append((g1, arena._computation.get_gas_used()))
    assert gas[0] == gas[1]


def test_bucket_merged_by_a_later_deposit(world, arena, node, validator, delegator, delegator2):
    """A pending bucket merged by another deposit (not by finalize) snapshots the right
    accumulator: each delegator earns exactly the rounds its stake was active in."""
    task = world.make_task(num_rounds=3, min_committee=1, gamma=WAD // 2)
    third = world.actors["attacker"]  # any funded address works as a third delegator
    join(arena, node, task, NODE, 100 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, node, 100 * E18)  # active from round 0
    world.goto(task, 0, COMMIT)
    with boa.env.prank(delegator2):
        arena.delegate(task, node, 100 * E18)  # active from round 1
    play_round(world, task, 0, [(node, "r0")], {validator: [7]})
    assert finalize(arena, task, 100)
    with boa.env.prank(third):
        arena.delegate(
            task, node, 200 * E18
        )  # time-round 1 -> active from round 2; merges bucket 1
    p = arena.participant(task, node)
    # no slash yet: one share is one token (del_index = ACC)
    assert (p.del_shares, p.del_pending, p.pending_round, p.del_index) == (
        200 * E18,
        200 * E18,
        2,
        ACC,
    )
    for r in (1, 2):
        play_round(world, task, r, [(node, f"r{r}")], {validator: [7]})
        assert finalize(arena, task, 100)
    acc = arena.participant(task, node).acc
    x = [arena.submission(task, r, 0).reward for r in range(3)]
    incs = [split(x[0], 0, 100 * E18, 100 * E18)[1]]
    incs.append(split(x[1], 0, 100 * E18, 200 * E18)[1])
    incs.append(split(x[2], 0, 100 * E18, 400 * E18)[1])
    assert acc == sum(incs)
    assert arena.claimable(task, node, delegator) == 100 * E18 * sum(incs) // ACC
    assert arena.claimable(task, node, delegator2) == 100 * E18 * (incs[1] + incs[2]) // ACC
    assert arena.claimable(task, node, third) == 200 * E18 * incs[2] // ACC
    for d, amt in ((delegator, 100), (delegator2, 100), (third, 200)):
        with boa.env.prank(d):
            arena.claim(task, node)
            assert arena.withdraw(task, node) == amt * E18


def test_keeper_tip_pays_draw_and_finalize_senders_within_the_cap(
    world, arena, node, node2, validator, validator2
):
    """DESIGN §3.5: the keeper tip pays whoever sends `draw` (per call that changes the draw)
    and finalize (per unit of work) from the round's pot, at most bounty // num_rounds // 10
    per round, which finalize reserves before it splits the pot."""
    cap = 3_000 * E18 // 10  # the World's bounty, one round
    with boa.reverts("arena: parameter out of range"):
        world.make_task(num_rounds=1, keeper_tip=cap + 1)
    for tip in (7 * E18, cap // 5):  # well under the cap; the cap binds after 5 units
        task = world.make_task(num_rounds=1, keeper_tip=tip)
        for n in (node, node2):
            join(arena, n, task, NODE, 10 * E18)
        for v in (validator, validator2):
            join(arena, v, task, VALIDATOR, 10 * E18)
        drawer, keeper = boa.env.generate_address("drawer"), boa.env.generate_address("keeper")
        world.goto(task, 0, COMMIT)
        for who, name in ((node, "a"), (node2, "b")):
            with boa.env.prank(who):
                arena.commit_model(task, model_commit(model_hash(name), who, task, 0))
        open_reveals(world, task, 0)
        for who, name in ((node, "a"), (node2, "b")):
            with boa.env.prank(who):
                arena.reveal_model(task, model_hash(name), f"file://{name}")
        world.goto(task, 0, SCORE_COMMIT)
        with boa.env.prank(drawer):
            arena.draw(task, 0)
        (tipped,) = events(arena, "KeeperTipped")
        assert (tipped.keeper, tipped.units, tipped.amount) == (drawer, 1, tip)
        assert world.token.balanceOf(drawer) == tip
        boa.env.evm.patch.block_number += 2
        scores = [200_000_000, 300_000_000]
        for v in (validator, validator2):
            with boa.env.prank(v):
                arena.commit_scores(task, score_commit(task, 0, v, scores, SALT))
        world.goto(task, 0, SCORE_REVEAL)
        for v in (validator, validator2):
            with boa.env.prank(v):
                arena.reveal_scores(task, scores, SALT)
        world.goto(task, 1, COMMIT)
        units = 0
        while True:  # pages of 3 units: each pays its sender 3 tips while the cap lasts
            before = world.token.balanceOf(keeper)
            paid_before = arena.round_info(task, 0).keeper_tips
            with boa.env.prank(keeper):
                done = finalize(arena, task, 3)
            step = arena.round_info(task, 0).keeper_tips - paid_before
            assert world.token.balanceOf(keeper) - before == step
            assert step == min(3 * tip, cap - paid_before) or done
            units += 3
            if done:
                break
        ri = arena.round_info(task, 0)
        # 1 OPEN + 2 CONSENSUS + 2 RANK + 2 AGREEMENT + 2 PAY_NODES + 2 PAY_VALIDATORS
        assert ri.keeper_tips == min(tip * (1 + 11), cap)
        assert world.token.balanceOf(drawer) + world.token.balanceOf(keeper) == ri.keeper_tips
        assert ri.nodes_pot + ri.validators_pot == ri.pot - cap  # the reserve is not split
        rewards = sum(arena.submission(task, 0, k).reward for k in range(2))
        rewards += sum(arena.validator_round(task, 0, v).reward for v in (validator, validator2))
        assert ri.paid == ri.keeper_tips + rewards and ri.paid <= ri.pot


def test_cancel_refunds_the_bounty_less_draw_tips(world, arena, creator):
    """A creator cannot draw its own empty task for tips and cancel it for the whole bounty:
    the refund leaves out what `draw` paid (the tips came out of the task's bounty)."""
    tip = 3_000 * E18 // 10 // 2
    task = world.make_task(num_rounds=1, keeper_tip=tip)
    world.goto(task, 0, SCORE_COMMIT)
    before = world.token.balanceOf(creator)
    with boa.env.prank(creator):
        arena.draw(task, 0)  # freezes: one tip
        boa.env.evm.patch.block_number += 2
        arena.draw(task, 0)  # fixes the seed: one more
        assert world.token.balanceOf(creator) - before == 2 * tip
        arena.cancel_task(task)
    (ev,) = events(arena, "TaskCancelled")
    assert ev.refund == 3_000 * E18 - 2 * tip
    assert world.token.balanceOf(creator) - before == 3_000 * E18
