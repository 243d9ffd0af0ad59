"""Arena on anvil: role matrix (each privileged or role-bound function x each non-holder
reverts) and pause matrix (pause blocks create/join/delegate/commit_model/commit_scores and
never reveals, finalize, claim, withdraw, claim_refund or cancel_task)."""

import ape
import pytest

from .arena_helpers import (
    E18,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_EVAL,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    WAD,
    as_tuple,
    default_params,
    model_commitment,
    score_commitment,
    sha,
)

MODEL = sha("model")
STRANGERS = ["creator", "node", "validator", "delegator", "attacker", "non_owner", "owner"]


def _holder_free(holders):
    return [a for a in STRANGERS if a not in holders]


# Each entry: function -> (who holds the right, revert message, action(ctx, who)).
def _owner_action(name):
    def act(ctx, who):
        arena = ctx["arena"]
        if name in ("pause", "renounce_ownership", "accept_ownership"):
            getattr(arena, name)(sender=who)
        elif name == "unpause":
            arena.pause(sender=ctx["owner"])
            arena.unpause(sender=who)
        else:
            getattr(arena, name)(ctx["attacker"], sender=who)

    return act


@pytest.fixture
def ctx(arena, make_task, owner, creator, node, validator, delegator, attacker, non_owner):
    """A 2-round task with one node (committed and revealed in round 0) and one validator."""
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.delegate(delegator, node)
    return dict(arena=arena, t=t, owner=owner, creator=creator, node=node, attacker=attacker)


ROLE_BOUND = {
    # owner (snekmate ownable)
    "pause": (["owner"], "ownable: caller is not the owner", _owner_action("pause")),
    "unpause": (["owner"], "ownable: caller is not the owner", _owner_action("unpause")),
    "transfer_ownership": (
        ["owner"],
        "ownable: caller is not the owner",
        _owner_action("transfer_ownership"),
    ),
    "renounce_ownership": (
        ["owner"],
        "ownable: caller is not the owner",
        _owner_action("renounce_ownership"),
    ),
    # nobody is pending owner yet
    "accept_ownership": (
        [],
        "ownable_2step: caller is not the new owner",
        _owner_action("accept_ownership"),
    ),
}


def _cancel(ctx, who):
    other = ctx["make"]()  # a fresh task nobody joined, so only the creator check can fail
    ctx["arena"].cancel_task(other.id, sender=who)


def _reveal_eval(ctx, who):
    t = ctx["t"]
    t.warp(0, PHASE_EVAL)
    t.reveal_eval(0, sender=who)


def _claim_refund(ctx, who):
    t = ctx["t"]
    t.warp(1, PHASE_ENDED)
    t.finalize(ctx["owner"])
    t.finalize(ctx["owner"])
    ctx["arena"].claim_refund(t.id, sender=who)


def _commit_model(ctx, who):
    t = ctx["t"]
    t.warp(0, PHASE_COMMIT)
    ctx["arena"].commit_model(t.id, model_commitment(MODEL, who.address, t.id, 0), sender=who)


def _commit_scores(ctx, who):
    t = ctx["t"]
    t.warp(0, PHASE_SCORE_COMMIT)
    ctx["arena"].commit_scores(
        t.id, score_commitment(t.id, 0, who.address, [], sha("s")), sender=who
    )


def _reveal_scores(ctx, who):
    t = ctx["t"]
    t.warp(0, PHASE_SCORE_REVEAL)
    ctx["arena"].reveal_scores(t.id, [], sha("s"), sender=who)


def _reveal_model(ctx, who):
    t = ctx["t"]
    t.warp(0, PHASE_COMMIT)
    t.commit_model(ctx["node"], MODEL, 0)
    t.open_reveals(0)
    ctx["arena"].reveal_model(t.id, MODEL, "file://m", sender=who)


ROLE_BOUND |= {
    "cancel_task": (["creator"], "arena: not creator", _cancel),
    "reveal_eval": (["creator"], "arena: not creator", _reveal_eval),
    "claim_refund": (["creator"], "arena: not creator", _claim_refund),
    "commit_model": (["node"], "arena: not a node", _commit_model),
    "commit_scores": (["validator"], "arena: not a validator", _commit_scores),
    "reveal_scores": (["validator"], "arena: not a validator", _reveal_scores),
    # Only the committing node can reveal: everyone else has no commitment.
    "reveal_model": (["node"], "arena: no commitment", _reveal_model),
}

MATRIX = [(fn, who) for fn, (holders, _, _) in ROLE_BOUND.items() for who in _holder_free(holders)]


@pytest.mark.parametrize("fn,who", MATRIX, ids=[f"{f}-by-{w}" for f, w in MATRIX])
def test_role_matrix(request, ctx, make_task, fn, who):
    holders, reason, action = ROLE_BOUND[fn]
    ctx["make"] = make_task
    account = request.getfixturevalue(who)
    with ape.reverts(reason):
        action(ctx, account)


@pytest.mark.parametrize(
    "fn", ["commit_model", "commit_scores", "reveal_scores", "reveal_eval", "cancel_task"]
)
def test_role_matrix_holder_succeeds(request, ctx, make_task, fn, node, validator, creator):
    """The same actions succeed for the holder (so the matrix above fails for the role only)."""
    ctx["make"] = make_task
    holder = {"commit_model": node, "commit_scores": validator, "reveal_scores": validator}.get(
        fn, creator
    )
    if fn == "reveal_scores":
        t = ctx["t"]
        t.warp(0, PHASE_SCORE_COMMIT)
        ctx["arena"].commit_scores(
            t.id, score_commitment(t.id, 0, validator.address, [], sha("s")), sender=validator
        )
    ROLE_BOUND[fn][2](ctx, holder)


def test_engine_run_is_delegatecall_only(project, arena, owner, attacker, make_task):
    t = make_task()
    t.warp(0, PHASE_ENDED)
    engine = project.ArenaEngine.at(arena.engine())
    for who in (attacker, owner):
        with ape.reverts("arena: delegatecall only"):
            engine.run(t.id, 10, [], sender=who)


def test_rounds_logic_is_delegatecall_only(project, arena, owner, attacker, make_task):
    """ArenaRounds called directly (not through Arena's delegatecall) refuses every entry."""
    t = make_task()
    rounds = project.ArenaRounds.at(arena.rounds())
    calls = [
        ("commit_model", (t.id, sha("c"))),
        ("reveal_model", (t.id, sha("m"), "file://m")),
        ("reveal_eval", (t.id, 0, sha("s"), "file://s", [])),
        ("commit_scores", (t.id, sha("c"))),
        ("reveal_scores", (t.id, [], sha("salt"))),
    ]
    for name, args in calls:
        for who in (attacker, owner):
            with ape.reverts("arena: delegatecall only"):
                getattr(rounds, name)(*args, sender=who)


def test_stranger_cannot_claim_or_withdraw_someone_elses_money(
    arena, arena_token, make_task, node, validator, delegator, creator, attacker
):
    t = make_task()
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.delegate(delegator, node)
    t.play_round(0, {node: MODEL}, {validator: [500_000_000]}, finalize_by=creator)
    before = arena_token.balanceOf(attacker)
    for participant in (node, validator):
        assert arena.claimable(t.id, participant, attacker) == 0
        with ape.reverts("arena: nothing to claim"):
            arena.claim(t.id, participant, sender=attacker)
        with ape.reverts("arena: nothing to withdraw"):
            arena.withdraw(t.id, participant, sender=attacker)
    assert arena_token.balanceOf(attacker) == before
    assert arena.withdrawable(t.id, node, delegator) == 10 * E18


# ---- pause matrix ---------------------------------------------------------------------------
def _pausable_calls(arena, t, creator, node, validator, delegator, chain):
    params = default_params(eval_root=sha("root"), start_time=chain.pending_timestamp + 1000)
    return {
        "create_task": lambda: arena.create_task(as_tuple(params), sender=creator),
        "join": lambda: t.join(node, NODE, E18),
        "delegate": lambda: t.delegate(delegator, node, E18),
        "commit_model": lambda: t.commit_model(node, MODEL, 0),
        "commit_scores": lambda: t.commit_scores(validator, [5], 0),
    }


PAUSABLE = ["create_task", "join", "delegate", "commit_model", "commit_scores"]


@pytest.mark.parametrize("fn", PAUSABLE)
def test_pause_blocks_money_and_commitments_in(
    arena, make_task, chain, owner, creator, node, validator, delegator, fn
):
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    if fn in ("join", "delegate", "commit_model"):
        t.warp(0, PHASE_COMMIT)
    elif fn == "commit_scores":
        t.warp(0, PHASE_COMMIT)
        t.commit_model(node, MODEL, 0)
        t.open_reveals(0)
        t.reveal_model(node, MODEL)
        t.warp(0, PHASE_SCORE_COMMIT)
    call = _pausable_calls(arena, t, creator, node, validator, delegator, chain)[fn]
    arena.pause(sender=owner)
    with ape.reverts("arena: paused"):
        call()
    arena.unpause(sender=owner)
    call()  # works again once unpaused


def test_pause_never_blocks_reveals_finalize_claims_withdrawals(
    arena, arena_token, make_task, owner, creator, node, validator, delegator
):
    """Everything after the commitments goes through while paused, to the last wei."""
    t = make_task(delta=WAD)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.delegate(delegator, node)
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node, MODEL, 0)
    arena.pause(sender=owner)
    t.open_reveals(0)  # the eval reveal works while paused
    t.reveal_model(node, MODEL)
    arena.unpause(sender=owner)
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [500_000_000], 0)
    arena.pause(sender=owner)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    assert t.finalize(creator, 1).return_value is False  # paginated finalize too
    t.finalize(creator)
    for participant, who in ((node, node), (node, delegator), (validator, validator)):
        arena.claim(t.id, participant, sender=who)
        arena.withdraw(t.id, participant, sender=who)
    arena.claim_refund(t.id, sender=creator)
    assert arena.paused()
    assert arena_token.balanceOf(arena) < 100  # only rounding dust stays


def test_pause_never_blocks_cancel(arena, arena_token, make_task, owner, creator):
    t = make_task()
    arena.pause(sender=owner)
    before = arena_token.balanceOf(creator)
    arena.cancel_task(t.id, sender=creator)
    assert arena_token.balanceOf(creator) == before + t.params["bounty"]
