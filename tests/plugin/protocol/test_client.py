"""ArenaClient against the real Arena on anvil: views, commitments, a whole task, reverts."""

from __future__ import annotations

import json

import pytest
from ape_arena.protocol import (
    INVALID_SCORE,
    TOKEN,
    ArenaClient,
    ArenaError,
    Phase,
    Role,
    Stage,
    Status,
    model_commitment,
    score_commitment,
)

from tests.plugin.protocol.test_chain_fixtures import *  # noqa: F403 - fixtures

pytestmark = pytest.mark.anvil

MODEL = bytes.fromhex("ab" * 32)
SALT = b"\x07" * 32


# --------------------------------------------------------------------------- commitments
@pytest.mark.parametrize("task,round_", [(1, 0), (7, 3), (2**40, 63)])
def test_model_commitment_matches_contract(arena, actors, task, round_):
    local = model_commitment(MODEL, actors.node.address, task, round_)
    onchain = arena.arena.model_commitment(MODEL, actors.node.address, task, round_)
    assert local == bytes(onchain)


@pytest.mark.parametrize("scores", [[], [1], [0, INVALID_SCORE, 123_456_789], list(range(1, 129))])
def test_score_commitment_matches_contract(arena, actors, scores):
    local = score_commitment(5, 2, actors.validator.address, scores, SALT)
    onchain = arena.arena.score_commitment(5, 2, actors.validator.address, scores, SALT)
    assert local == bytes(onchain)


def test_commitment_depends_on_every_field(actors):
    base = model_commitment(MODEL, actors.node.address, 1, 0)
    assert base != model_commitment(MODEL, actors.node2.address, 1, 0)
    assert base != model_commitment(MODEL, actors.node.address, 2, 0)
    assert base != model_commitment(MODEL, actors.node.address, 1, 1)
    assert model_commitment("0x" + MODEL.hex(), actors.node.address, 1, 0) == base


# --------------------------------------------------------------------------- construction
def test_from_deployment_reads_the_record(deployment_root, actors):
    client = ArenaClient.from_deployment(actors.node, root=deployment_root.root)
    assert client.address == deployment_root.contracts["Arena"]
    assert str(client.token.address) == deployment_root.contracts["ArenaToken"]


def test_from_deployment_without_record_says_what_to_do(tmp_path):
    with pytest.raises(ArenaError, match="run `ape run deploy` first"):
        ArenaClient.from_deployment(root=tmp_path)


def test_from_deployment_without_arena(tmp_path, arena):
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / f"{arena.chain_id}.json").write_text(
        json.dumps({"contracts": {"ArenaToken": str(arena.token.address)}})
    )
    with pytest.raises(ArenaError, match="has no Arena"):
        ArenaClient.from_deployment(root=tmp_path)


# --------------------------------------------------------------------------- views
def test_create_task_views(arena, actors, make_task, shards):
    before = arena.balance(actors.creator)
    task = make_task(start_in=1000)
    assert arena.task_count() == task
    assert arena.balance(actors.creator) == before - 3000 * TOKEN
    p = arena.task_params(task)
    assert p.bounty == 3000 * TOKEN and p.num_rounds == 3 and p.eval_root == shards.root
    assert p.spec_uri == "file:///spec.json" and p.spec_hash == b"\x11" * 32
    st = arena.task_state(task)
    assert st.creator == actors.creator.address and st.status == Status.ACTIVE
    assert st.round_length == 500
    assert arena.current_round(task) == -1
    assert arena.current_phase(task) == Phase.NOT_STARTED
    start = p.start_time
    assert arena.round_start(task, 1) == start + 500
    assert arena.phase_window(task, 0, Phase.EVAL) == (start + 100, start + 200)
    assert arena.phase_window(task, 0, Phase.REVEAL) == (start + 200, start + 300)
    assert arena.phase_window(task, 2, Phase.SCORE_REVEAL) == (start + 1400, start + 1500)


def test_join_delegate_views(arena, actors, joined_task):
    task = joined_task
    node = arena.participant(task, actors.node)
    assert node.role == Role.NODE and node.joined
    assert node.own == 100 * TOKEN and node.delegated == 50 * TOKEN
    assert node.commission == TOKEN // 10 and node.pending_round == 0
    assert arena.participant(task, actors.attacker).joined is False
    d = arena.delegation(task, actors.node, actors.delegator)
    assert d.pending == 50 * TOKEN and d.pending_round == 0
    assert arena.effective_stake(task, actors.node, 0) == 150 * TOKEN
    assert arena.validators(task) == [actors.validator.address]
    assert arena.task_state(task).participant_count == 2


# --------------------------------------------------------------------------- a whole task
def test_whole_task_with_warp(arena, actors, joined_task, shards):
    task = joined_task
    r = 0
    arena.wait_for_phase(task, r, Phase.COMMIT)
    assert arena.current_phase(task) == Phase.COMMIT
    c = arena.commit_model(task, MODEL, sender=actors.node)
    mc = arena.model_commit(task, r, actors.node)
    assert mc.committed and mc.commitment == c

    arena.wait_for_phase(task, r, Phase.EVAL)
    arena.reveal_eval(task, r, shards.shard(r), "file:///shard0.npz", shards.proof(r))
    arena.wait_for_phase(task, r, Phase.REVEAL)
    arena.reveal_model(task, MODEL, "file:///model.onnx", sender=actors.node)
    assert arena.committers(task, r) == [actors.node.address]
    subs = arena.submissions(task, r)
    assert [(s.node, s.model_sha256, s.slot) for s in subs] == [(actors.node.address, MODEL, 0)]
    assert arena.model_owner(task, MODEL) == actors.node.address

    arena.wait_for_phase(task, r, Phase.SCORE_COMMIT)
    with pytest.raises(ArenaError, match="committees are not drawn yet"):
        arena.commit_scores(task, [250_000_000], SALT, sender=actors.validator)
    d = arena.ensure_committees(task, r, sender=actors.node)  # anyone may draw
    assert d.seeded and d.submissions == 1 and d.committee_size == 64
    assert arena.assignments(task, r, actors.validator) == [0]
    scores = [250_000_000]
    arena.commit_scores(task, scores, SALT, sender=actors.validator)
    arena.wait_for_phase(task, r, Phase.SCORE_REVEAL)
    arena.reveal_scores(task, scores, SALT, sender=actors.validator)
    assert arena.validator_scores(task, r, actors.validator) == scores

    assert not arena.can_finalize(task)
    arena.wait_until(arena.round_end(task, r))
    assert arena.can_finalize(task)
    seen = []
    res = arena.finalize(task, max_steps=1, progress=lambda rr, info: seen.append(info.stage))
    assert res.rounds == [0] and res.transactions >= 5 and not res.task_ended
    assert seen[-1] == Stage.DONE
    info = arena.round_info(task, r)
    assert info.done and info.pot == 1000 * TOKEN and info.void_reason == 0
    sub = arena.submissions(task, r)[0]
    assert sub.consensus == 250_000_000 and sub.reward > 0
    vr = arena.validator_round(task, r, actors.validator)
    assert vr.revealed and vr.deviation == 0 and vr.agreement == 10**18 and vr.reward > 0

    # claims: owner part, delegator part (delta = 0.5 vests at once)
    got = arena.claim(task, sender=actors.node)
    assert got > 0 and arena.claimable(task, actors.node) == 0
    assert arena.claimable(task, actors.node, actors.delegator) > 0
    got_d = arena.claim(task, actors.node, sender=actors.delegator)
    assert got_d > 0

    # skip the remaining rounds (void: no eval), finalize to the end, withdraw, refund
    arena.wait_until(arena.round_end(task, 2))
    res = arena.finalize(task)
    assert res.rounds == [1, 2] and res.task_ended
    assert arena.task_state(task).status == Status.ENDED
    assert abs(arena.claim(task, sender=actors.node) - got) <= 1  # the unvested half, at the end
    with pytest.raises(ArenaError, match="nothing left to claim in task .* every vested"):
        arena.claim(task, sender=actors.node)
    bal = arena.balance(actors.node)
    assert arena.withdraw(task, sender=actors.node) == 100 * TOKEN
    assert arena.balance(actors.node) == bal + 100 * TOKEN
    assert arena.withdraw(task, actors.node, sender=actors.delegator) == 50 * TOKEN
    assert arena.claim_refund(task) > 0


def test_cancel_before_anyone_joins(arena, actors, make_task):
    before = arena.balance(actors.creator)
    task = make_task()
    arena.cancel_task(task)
    assert arena.task_state(task).status == Status.CANCELLED
    assert arena.balance(actors.creator) == before


# --------------------------------------------------------------------------- explained reverts
def test_commit_after_window_says_wait_for_next_round(arena, actors, joined_task):
    task = joined_task
    arena.wait_for_phase(task, 0, Phase.REVEAL)
    with pytest.raises(ArenaError) as err:
        arena.commit_model(task, MODEL, sender=actors.node)
    msg = str(err.value)
    assert err.value.reason == "arena: wrong phase"
    assert "commit window of round 0 closed at" in msg and "wait for round 1" in msg
    assert "\n" not in msg


def test_commit_before_start_says_when_it_opens(arena, actors, joined_task):
    with pytest.raises(ArenaError, match="not-started; the commit phase of round 0 opens at"):
        arena.commit_model(joined_task, MODEL, sender=actors.node)


def test_wait_for_closed_phase_raises(arena, joined_task):
    arena.wait_for_phase(joined_task, 0, Phase.SCORE_COMMIT)
    with pytest.raises(ArenaError, match="round 0 commit closed at .* wait for round 1"):
        arena.wait_for_phase(joined_task, 0, Phase.COMMIT)


def test_bad_reveal_and_not_a_node(arena, actors, joined_task, shards):
    task = joined_task
    arena.wait_for_phase(task, 0, Phase.COMMIT)
    arena.commit_model(task, MODEL, sender=actors.node)
    with pytest.raises(ArenaError, match="has not joined task .* as a node"):
        arena.commit_model(task, MODEL, sender=actors.attacker)
    arena.wait_for_phase(task, 0, Phase.REVEAL)
    with pytest.raises(ArenaError, match="revealed no eval shard this round"):
        arena.reveal_model(task, MODEL, "file:///x", sender=actors.node)
    arena.wait_for_phase(task, 1, Phase.COMMIT)
    arena.commit_model(task, MODEL, sender=actors.node)
    arena.wait_for_phase(task, 1, Phase.EVAL)
    arena.reveal_eval(task, 1, shards.shard(1), "file:///shard1.npz", shards.proof(1))
    arena.wait_for_phase(task, 1, Phase.REVEAL)
    with pytest.raises(ArenaError, match="does not match .* commitment for round 1"):
        arena.reveal_model(task, b"\x01" * 32, "file:///x", sender=actors.node)


def test_stake_not_active_names_the_round(arena, actors, joined_task):
    task = joined_task
    arena.wait_for_phase(task, 0, Phase.COMMIT)
    arena.join(task, Role.NODE, 10 * TOKEN, sender=actors.node2)  # activates in round 1
    with pytest.raises(ArenaError, match="activates in round 1"):
        arena.commit_model(task, MODEL, sender=actors.node2)


def test_finalize_too_early_and_withdraw_locked(arena, actors, joined_task):
    task = joined_task
    with pytest.raises(ArenaError, match="round 0 ends at .* finalize after that"):
        arena.finalize(task)
    with pytest.raises(ArenaError, match="stake stays locked until task .* ends"):
        arena.withdraw(task, sender=actors.node)
    with pytest.raises(ArenaError, match="nothing claimable now"):
        arena.claim(task, sender=actors.node)


def test_join_errors(arena, actors, make_task):
    task = make_task()
    with pytest.raises(ArenaError, match="minimum stake is 10 ARENA for nodes, 100 for"):
        arena.join(task, Role.NODE, TOKEN, sender=actors.node)
    with pytest.raises(ArenaError, match="creator cannot join"):
        arena.join(task, Role.NODE, 10 * TOKEN, sender=actors.creator)
    arena.join(task, Role.NODE, 10 * TOKEN, commission=TOKEN // 5, sender=actors.node)
    with pytest.raises(ArenaError, match="fixed at 0.2 .* --commission 0.2"):
        arena.join(task, Role.NODE, 10 * TOKEN, commission=0, sender=actors.node)
    with pytest.raises(ArenaError, match="joined task .* as a node; one role"):
        arena.join(task, Role.VALIDATOR, 100 * TOKEN, commission=TOKEN // 5, sender=actors.node)
    with pytest.raises(ArenaError, match="cannot delegate to yourself"):
        arena.delegate(task, actors.node, TOKEN, sender=actors.node)
    with pytest.raises(ArenaError, match="has not joined task"):
        arena.delegate(task, actors.attacker, TOKEN, sender=actors.delegator)
    with pytest.raises(ArenaError, match="only be cancelled before anyone joins"):
        arena.cancel_task(task)


def test_unknown_task_and_poor_sender(arena, actors, make_task):
    with pytest.raises(ArenaError, match="task 999 does not exist"):
        arena.join(999, Role.NODE, TOKEN, sender=actors.node)
    task = make_task()
    poor = arena.balance(actors.attacker)
    with pytest.raises(ArenaError, match="holds .* ARENA but .* is needed"):
        arena.join(task, Role.NODE, poor + TOKEN, sender=actors.attacker)


def test_stale_record_says_redeploy(tmp_path, arena, actors):
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / f"{arena.chain_id}.json").write_text(
        json.dumps({"contracts": {"Arena": actors.attacker.address}})
    )
    # here (as for a user who forgot --network) the provider is an anvil started for the run
    with pytest.raises(ArenaError, match="fresh, empty anvil .*--network ethereum:local:node"):
        ArenaClient.from_deployment(root=tmp_path)


def test_stale_record_on_a_kept_chain_says_redeploy(tmp_path, arena, actors, monkeypatch):
    import ape_arena.protocol.client as client_mod

    monkeypatch.setattr(client_mod, "_fresh_anvil_hint", lambda: "")  # a chain run by hand
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / f"{arena.chain_id}.json").write_text(
        json.dumps({"contracts": {"Arena": actors.attacker.address}})
    )
    with pytest.raises(ArenaError, match="from an earlier chain .* run `ape run deploy`"):
        ArenaClient.from_deployment(root=tmp_path)


def test_console_extras_give_an_arena(
    deployment_root, monkeypatch, accounts, chain, networks, capsys
):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "ape_console_extras.py"
    spec = importlib.util.spec_from_file_location("ape_console_extras_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.chdir(deployment_root.root)
    ns = mod.ape_init_extras(accounts, chain, networks)
    assert ns["arena"].address == deployment_root.contracts["Arena"]
    assert {"Phase", "Role", "TaskParams", "model_commitment"} <= set(ns)
    assert "default sender" in capsys.readouterr().out
    monkeypatch.chdir(deployment_root.root.parent)
    assert mod.ape_init_extras(accounts, chain, networks) == {}
    assert "not available on this chain" in capsys.readouterr().out


def test_wait_for_phase_sleeps_without_warp(arena, make_task):
    """Real waiting (no warp): anvil's pending block follows the wall clock."""
    sleeper = ArenaClient(arena.arena, arena.token, arena.account, poll_seconds=0.5)
    later = make_task(start_in=600)
    seen = []
    with pytest.raises(ArenaError, match="timed out waiting for task .* commit"):
        sleeper.wait_for_phase(
            later, 0, Phase.COMMIT, timeout=0.1, on_wait=lambda n, s: seen.append(s)
        )
    assert set(seen) == {arena.task_params(later).start_time}
    soon = make_task(start_in=3)
    end = sleeper.wait_for_phase(soon, 0, Phase.COMMIT, timeout=60)
    assert end == arena.phase_window(soon, 0, Phase.COMMIT)[1]
    assert sleeper.now() >= arena.task_params(soon).start_time


def test_static_revert_hints_need_no_chain_state():
    """Reasons in the static table are explained without a single view call (``self`` is
    a bare object here), each with its own text."""
    from ape_arena.protocol.reverts import STATIC_HINTS

    for reason, text in STATIC_HINTS.items():
        assert ArenaClient._hint(object(), reason, "claim", 1, "0xabc") == text
    assert len(set(STATIC_HINTS.values())) == len(STATIC_HINTS)


def test_task_param_problems_name_each_field_and_its_range():
    """What the contract only calls "parameter out of range", named field by field."""
    from ape_arena.protocol import WAD, TaskParams, task_param_problems

    now = 1_000_000
    good = TaskParams(bounty=1, spec_hash=b"\x01" * 32, eval_root=b"\x02" * 32, start_time=0)
    assert task_param_problems(good, now) == []
    bad = TaskParams(
        bounty=0, spec_hash=b"\x01" * 32, eval_root=bytes(32), num_rounds=65,
        start_time=now - 1, commit_duration=0, min_node_stake=0, gamma=WAD,
        tolerance=0, slash_dev=2 * WAD, min_committee=0,
    )  # fmt: skip
    text = "\n".join(task_param_problems(bad, now))
    for needle in (
        "bounty (--bounty) is 0", "eval_root is zero", "num_rounds (--num-rounds) is 65; "
        "allowed 1..64", "start_time (--start-in)", "commit_duration (--commit-duration) is 0; "
        "allowed 1..2592000", "min_node_stake (--min-node-stake) is 0", "gamma (--gamma) is 1; "
        "allowed 0..0.5", "tolerance (--tolerance) is 0; allowed 1e-18..1000",
        "slash_dev (--slash-dev) is 2; allowed 0..1", "min_committee (--min-committee) is 0",
    ):  # fmt: skip
        assert needle in text, (needle, text)


def test_zero_refund_is_refused_without_a_transaction():
    """`task refund` of an ended task with nothing left says so and sends nothing."""
    from types import SimpleNamespace

    from ape_arena.protocol import ArenaError, Status
    from ape_arena.protocol.transactions import ArenaTransactions

    sent = []
    fake = SimpleNamespace(
        _check_task=lambda task: None,
        task_state=lambda task: SimpleNamespace(
            status=Status.ENDED, refund_claimed=False, refund=0
        ),
        _tx=lambda *a, **k: sent.append(a),
    )
    with pytest.raises(ArenaError, match="task 3 has nothing to refund"):
        ArenaTransactions.claim_refund(fake, 3)
    assert sent == []


def test_an_arena_of_another_protocol_version_is_refused(arena):
    """The deployed Arena reports PROTOCOL_VERSION 2 (this client's); one that reports
    another, or has no getter (v1), is refused with what to do."""
    from types import SimpleNamespace

    from ape_arena.protocol import PROTOCOL_VERSION
    from ape_arena.protocol.client import _check_version

    assert int(arena.arena.PROTOCOL_VERSION()) == PROTOCOL_VERSION == 2
    _check_version(arena.arena, arena.address)  # the same version: accepted
    with pytest.raises(ArenaError, match="speaks protocol v3 but this client speaks v2"):
        _check_version(SimpleNamespace(PROTOCOL_VERSION=lambda: 3), "0xabc")

    def no_getter():
        raise ValueError("execution reverted")

    with pytest.raises(ArenaError, match="speaks protocol v1 .*`ape run deploy`"):
        _check_version(SimpleNamespace(PROTOCOL_VERSION=no_getter), "0xabc")
