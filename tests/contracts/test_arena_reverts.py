"""Arena on anvil: one test per external function x each revert reason of PROTOCOL.md §9.

Role-bound and pause reverts are in test_arena_roles.py; MAX_SUBMISSIONS / MAX_VALIDATORS
overflow in test_arena_limits.py.
"""

import ape
import pytest

from .arena_helpers import (
    E18,
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_EVAL,
    PHASE_REVEAL,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    WAD,
    ZERO32,
    as_tuple,
    default_params,
    model_commitment,
    score_commitment,
    sha,
)

MODEL = sha("model")
UNKNOWN = 999
MAX_TOLERANCE = 1000 * WAD
DAY30 = 30 * 86400


# ---- create_task ------------------------------------------------------------------------------
OUT_OF_RANGE = [
    ("eval_root", ZERO32),
    ("num_rounds", 0),
    ("num_rounds", 65),
    ("commit_duration", 0),
    ("reveal_duration", DAY30 + 1),
    ("score_commit_duration", 0),
    ("score_reveal_duration", DAY30 + 1),
    ("min_node_stake", 0),
    ("min_validator_stake", 0),
    ("gamma", WAD // 2 + 1),
    ("delta", WAD + 1),
    ("rank_ratio", WAD + 1),
    ("tolerance", 0),
    ("tolerance", MAX_TOLERANCE + 1),
    ("slash_tau", MAX_TOLERANCE + 1),
    ("slash_miss", WAD + 1),
    ("slash_dev", WAD + 1),
    ("min_committee", 0),
    ("min_committee", 257),
]


@pytest.mark.parametrize(
    "field,value", OUT_OF_RANGE, ids=[f"{f}={v!r}"[:40] for f, v in OUT_OF_RANGE]
)
def test_create_task_parameter_out_of_range(arena, creator, chain, field, value):
    params = default_params(eval_root=sha("root"), start_time=chain.pending_timestamp + 100)
    params[field] = value
    with ape.reverts("arena: parameter out of range"):
        arena.create_task(as_tuple(params), sender=creator)


@pytest.mark.parametrize("when", ["past", "beyond_max_delay"])
def test_create_task_start_time_out_of_range(arena, creator, chain, when):
    now = chain.pending_timestamp
    start = now - 10 if when == "past" else now + 365 * 86400 + 100
    params = default_params(eval_root=sha("root"), start_time=start)
    with ape.reverts("arena: parameter out of range"):
        arena.create_task(as_tuple(params), sender=creator)


def test_create_task_accepts_every_bound(arena, creator, chain):
    params = default_params(
        eval_root=sha("root"),
        start_time=chain.pending_timestamp + 365 * 86400 - 100,
        num_rounds=64,
        commit_duration=1,
        reveal_duration=DAY30,
        score_commit_duration=1,
        score_reveal_duration=DAY30,
        min_node_stake=1,
        min_validator_stake=1,
        gamma=WAD // 2,
        delta=WAD,
        rank_ratio=WAD,
        tolerance=MAX_TOLERANCE,
        slash_tau=MAX_TOLERANCE,
        slash_miss=WAD,
        slash_dev=WAD,
        min_committee=32,
        baseline_score=2**64 - 1,
    )
    arena.create_task(as_tuple(params), sender=creator)
    params.update(
        gamma=0,
        delta=0,
        rank_ratio=0,
        tolerance=1,
        slash_tau=0,
        slash_miss=0,
        slash_dev=0,
        min_committee=1,
    )
    arena.create_task(as_tuple(params), sender=creator)


def test_create_task_zero_bounty(arena, creator, chain):
    params = default_params(
        bounty=0, eval_root=sha("root"), start_time=chain.pending_timestamp + 100
    )
    with ape.reverts("arena: zero amount"):
        arena.create_task(as_tuple(params), sender=creator)


def test_create_task_without_allowance_or_balance(arena, arena_token, creator, chain):
    params = default_params(eval_root=sha("root"), start_time=chain.pending_timestamp + 100)
    arena_token.approve(arena, 0, sender=creator)
    with ape.reverts():
        arena.create_task(as_tuple(params), sender=creator)
    assert arena.task_count() == 0


# ---- cancel_task --------------------------------------------------------------------------------
def test_cancel_task_reverts(arena, make_task, creator, node, attacker):
    with ape.reverts("arena: unknown task"):
        arena.cancel_task(UNKNOWN, sender=creator)
    with ape.reverts("arena: unknown task"):
        arena.cancel_task(0, sender=creator)
    t = make_task(num_rounds=2)
    with ape.reverts("arena: not creator"):
        arena.cancel_task(t.id, sender=attacker)
    t2 = make_task()
    arena.cancel_task(t2.id, sender=creator)
    with ape.reverts("arena: task not active"):
        arena.cancel_task(t2.id, sender=creator)
    t.join(node, NODE)
    with ape.reverts("arena: has participants"):
        arena.cancel_task(t.id, sender=creator)


def test_cancel_task_after_a_finalized_round(arena, make_task, creator):
    """PROTOCOL §9: cancel only while no round is finalized (not in §9's revert list: the code
    says "arena: rounds finalized")."""
    t = make_task(num_rounds=2)
    t.warp(0, PHASE_ENDED)
    t.finalize(creator)
    with ape.reverts("arena: rounds finalized"):
        arena.cancel_task(t.id, sender=creator)


# ---- join ------------------------------------------------------------------------------------
def test_join_reverts_on_arguments(arena, make_task, creator, node, validator):
    with ape.reverts("arena: unknown task"):
        arena.join(UNKNOWN, NODE, MIN_STAKE, 0, sender=node)
    t = make_task()
    with ape.reverts("arena: zero amount"):
        t.join(node, NODE, 0)
    for role in (0, 3):
        with ape.reverts("arena: bad role"):
            t.join(node, role)
    with ape.reverts("arena: creator cannot join"):
        t.join(creator, NODE)
    with ape.reverts("arena: below minimum stake"):
        t.join(node, NODE, MIN_STAKE - 1)
    with ape.reverts("arena: below minimum stake"):
        t.join(validator, VALIDATOR, MIN_STAKE - 1)
    with ape.reverts("arena: commission out of range"):
        t.join(node, NODE, MIN_STAKE, WAD + 1)
    t.join(node, NODE, MIN_STAKE, WAD // 10)
    with ape.reverts("arena: role mismatch"):
        t.join(node, VALIDATOR, MIN_STAKE, WAD // 10)
    with ape.reverts("arena: commission is fixed"):
        t.join(node, NODE, 1, WAD // 5)
    t.join(node, NODE, 1, WAD // 10)  # a top-up may be below the minimum


def test_join_reverts_on_task_state(arena, make_task, creator, node):
    t = make_task(num_rounds=3)
    t.warp(1, PHASE_COMMIT)
    with ape.reverts("arena: finalize round 0 first"):
        t.join(node, NODE)
    t.warp(2, PHASE_COMMIT)
    with ape.reverts("arena: deposits closed"):
        t.join(node, NODE)
    cancelled = make_task()
    arena.cancel_task(cancelled.id, sender=creator)
    with ape.reverts("arena: task not active"):
        cancelled.join(node, NODE)


def test_join_needs_finalized_rounds_by_number(arena, make_task, creator, node):
    t = make_task(num_rounds=4)
    t.warp(1, PHASE_ENDED)  # time-round 2: rounds 0 and 1 must be finalized
    with ape.reverts("arena: finalize round 1 first"):
        t.join(node, NODE)
    t.finalize(creator)  # round 0
    with ape.reverts("arena: finalize round 1 first"):
        t.join(node, NODE)
    t.finalize(creator)  # round 1
    assert t.join(node, NODE).events.filter(arena.Staked)[0].activation_round == 3


def test_join_after_end_is_closed(arena, make_task, creator, node):
    t = make_task()
    t.warp(0, PHASE_ENDED)
    with ape.reverts("arena: deposits closed"):
        t.join(node, NODE)
    t.finalize(creator)
    with ape.reverts("arena: task not active"):
        t.join(node, NODE)


# ---- delegate --------------------------------------------------------------------------------
def test_delegate_reverts(arena, make_task, creator, node, delegator):
    with ape.reverts("arena: unknown task"):
        arena.invoke_transaction("delegate", UNKNOWN, node, E18, sender=delegator)
    t = make_task(num_rounds=3)
    with ape.reverts("arena: not a participant"):
        t.delegate(delegator, node)
    t.join(node, NODE)
    with ape.reverts("arena: zero amount"):
        t.delegate(delegator, node, 0)
    with ape.reverts("arena: cannot delegate to self"):
        t.delegate(node, node)
    with ape.reverts("arena: not a participant"):
        t.delegate(delegator, creator)
    t.warp(1, PHASE_COMMIT)
    with ape.reverts("arena: finalize round 0 first"):
        t.delegate(delegator, node)
    t.finalize(creator)  # round 0 was void, fine
    t.delegate(delegator, node)
    t.warp(2, PHASE_COMMIT)
    with ape.reverts("arena: deposits closed"):
        t.delegate(delegator, node)
    t.warp(2, PHASE_ENDED)
    t.finalize(creator)
    t.finalize(creator)
    with ape.reverts("arena: task not active"):
        t.delegate(delegator, node)


# ---- commit_model / reveal_model -------------------------------------------------------------
def test_commit_model_reverts(arena, make_task, creator, node, node2, validator):
    with ape.reverts("arena: unknown task"):
        arena.commit_model(UNKNOWN, sha("c"), sender=node)
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    c = model_commitment(MODEL, node.address, t.id, 0)
    with ape.reverts("arena: wrong phase"):  # before the start
        arena.commit_model(t.id, c, sender=node)
    t.warp(0, PHASE_COMMIT)
    t.join(node2, NODE)  # joined during round 0: active from round 1
    with ape.reverts("arena: not a node"):
        arena.commit_model(t.id, c, sender=validator)
    with ape.reverts("arena: not a node"):
        arena.commit_model(t.id, c, sender=creator)
    with ape.reverts("arena: empty commitment"):
        arena.commit_model(t.id, ZERO32, sender=node)
    with ape.reverts("arena: stake not active"):
        arena.commit_model(t.id, model_commitment(MODEL, node2.address, t.id, 0), sender=node2)
    for phase in (PHASE_EVAL, PHASE_REVEAL, PHASE_SCORE_COMMIT, PHASE_SCORE_REVEAL):
        t.warp(0, phase)
        with ape.reverts("arena: wrong phase"):
            arena.commit_model(t.id, c, sender=node)
    t.warp(1, PHASE_ENDED)
    with ape.reverts("arena: wrong phase"):
        arena.commit_model(t.id, c, sender=node)
    t.finalize(creator)
    t.finalize(creator)
    with ape.reverts("arena: task not active"):
        arena.commit_model(t.id, c, sender=node)


def test_reveal_model_reverts(arena, make_task, node, node2):
    with ape.reverts("arena: unknown task"):
        arena.reveal_model(UNKNOWN, MODEL, "u", sender=node)
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(node2, NODE)
    # Round 0: the creator withholds the shard, so no model can ever be revealed.
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node, MODEL, 0)
    with ape.reverts("arena: wrong phase"):
        t.reveal_model(node, MODEL)
    t.warp(0, PHASE_EVAL)
    with ape.reverts("arena: wrong phase"):  # not before the eval phase is over
        t.reveal_model(node, MODEL)
    t.warp(0, PHASE_REVEAL)
    with ape.reverts("arena: eval not revealed"):
        t.reveal_model(node, MODEL)
    # Round 1: the shard is out.
    t.warp(1, PHASE_COMMIT)
    t.commit_model(node, MODEL, 1)
    t.open_reveals(1)
    with ape.reverts("arena: no commitment"):
        t.reveal_model(node2, MODEL)
    with ape.reverts("arena: bad reveal"):
        t.reveal_model(node, sha("another model"))
    t.reveal_model(node, MODEL)
    with ape.reverts("arena: already revealed"):
        t.reveal_model(node, MODEL)
    t.warp(1, PHASE_SCORE_COMMIT)
    with ape.reverts("arena: wrong phase"):
        t.reveal_model(node, MODEL)


def test_reveal_model_commitment_binds_round(arena, make_task, creator, node):
    """A commitment made for round 0 cannot be revealed with round 1's preimage and vice versa."""
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.warp(0, PHASE_COMMIT)
    arena.commit_model(t.id, model_commitment(MODEL, node.address, t.id, 1), sender=node)
    t.open_reveals(0)
    with ape.reverts("arena: bad reveal"):
        t.reveal_model(node, MODEL)


def test_reveal_model_duplicate_reverts(arena, make_task, creator, node, node2):
    t = make_task()
    t.join(node, NODE)
    t.join(node2, NODE)
    t.warp(0, PHASE_COMMIT)
    t.commit_model(node, MODEL, 0)  # earlier commit
    t.commit_model(node2, MODEL, 0)
    t.open_reveals(0)
    t.reveal_model(node, MODEL)
    with ape.reverts("arena: duplicate model"):
        t.reveal_model(node2, MODEL)


# ---- reveal_eval --------------------------------------------------------------------------------
def test_reveal_eval_reverts(arena, make_task, creator, attacker):
    with ape.reverts("arena: unknown task"):
        arena.reveal_eval(UNKNOWN, 0, ZERO32, "u", [], sender=creator)
    t = make_task(num_rounds=3)
    t.warp(0, PHASE_COMMIT)
    with ape.reverts("arena: wrong phase"):
        t.reveal_eval(0)
    t.warp(0, PHASE_EVAL)
    with ape.reverts("arena: not creator"):
        t.reveal_eval(0, sender=attacker)
    with ape.reverts("arena: wrong round"):
        arena.reveal_eval(t.id, 1, t.shards[1], "u", t.proofs[1], sender=creator)
    with ape.reverts("arena: bad proof"):  # right round, wrong shard
        arena.reveal_eval(t.id, 0, t.shards[1], "u", t.proofs[0], sender=creator)
    with ape.reverts("arena: bad proof"):  # right shard, wrong proof
        arena.reveal_eval(t.id, 0, t.shards[0], "u", t.proofs[1], sender=creator)
    with ape.reverts("arena: bad proof"):  # a proof one level short (an inner node as leaf)
        arena.reveal_eval(t.id, 0, t.shards[0], "u", t.proofs[0][:-1], sender=creator)
    with ape.reverts("arena: bad proof"):  # a proof one level too long
        arena.reveal_eval(t.id, 0, t.shards[0], "u", [*t.proofs[0], ZERO32], sender=creator)
    t.reveal_eval(0)
    with ape.reverts("arena: eval already revealed"):
        t.reveal_eval(0)
    for phase in (PHASE_REVEAL, PHASE_SCORE_COMMIT):
        t.warp(0, phase)
        with ape.reverts("arena: wrong phase"):
            t.reveal_eval(0)


# ---- commit_scores / reveal_scores -----------------------------------------------------------
@pytest.fixture
def revealed(make_task, node, node2, validator, validator2):
    """A task in round 0 with two revealed models; validator2 joined late (inactive)."""
    t = make_task(num_rounds=2)
    t.join(node, NODE)
    t.join(node2, NODE)
    t.join(validator, VALIDATOR)
    t.warp(0, PHASE_COMMIT)
    t.join(validator2, VALIDATOR)
    t.commit_model(node, sha("a"), 0)
    t.commit_model(node2, sha("b"), 0)
    t.open_reveals(0)
    t.reveal_model(node, sha("a"))
    t.reveal_model(node2, sha("b"))
    return t


def test_commit_scores_reverts(arena, revealed, node, validator, validator2, creator):
    t = revealed
    with ape.reverts("arena: unknown task"):
        arena.commit_scores(UNKNOWN, sha("c"), sender=validator)
    with ape.reverts("arena: wrong phase"):
        t.commit_scores(validator, [1, 2], 0)
    t.warp(0, PHASE_SCORE_COMMIT)
    with ape.reverts("arena: not a validator"):
        t.commit_scores(node, [1, 2], 0)
    with ape.reverts("arena: not a validator"):
        t.commit_scores(creator, [1, 2], 0)
    with ape.reverts("arena: empty commitment"):
        arena.commit_scores(t.id, ZERO32, sender=validator)
    with ape.reverts("arena: stake not active"):
        t.commit_scores(validator2, [1, 2], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    with ape.reverts("arena: wrong phase"):
        t.commit_scores(validator, [1, 2], 0)


def test_reveal_scores_reverts(arena, revealed, node, validator, validator2):
    t = revealed
    with ape.reverts("arena: unknown task"):
        arena.reveal_scores(UNKNOWN, [1, 2], ZERO32, sender=validator)
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [1, 2], 0)
    with ape.reverts("arena: wrong phase"):
        t.reveal_scores(validator, 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    with ape.reverts("arena: not a validator"):
        arena.reveal_scores(t.id, [1, 2], ZERO32, sender=node)
    with ape.reverts("arena: no commitment"):
        arena.reveal_scores(t.id, [1, 2], ZERO32, sender=validator2)
    # it sits on both committees (p = 1): a third score has no slot, an empty page reveals nothing
    with ape.reverts("arena: too many scores"):
        t.reveal_scores(validator, 0, scores=[1, 2, 3])
    with ape.reverts("arena: empty page"):
        t.reveal_scores(validator, 0, scores=[])
    with ape.reverts("arena: bad reveal"):
        t.reveal_scores(validator, 0, scores=[2, 1])
    with ape.reverts("arena: bad reveal"):
        t.reveal_scores(validator, 0, salt=sha("wrong salt"))
    # paged: the first page is kept, the commitment is checked on the page that completes it
    t.reveal_scores(validator, 0, scores=[1])
    assert not arena.validator_round(t.id, 0, validator).revealed
    assert arena.validator_round(t.id, 0, validator).assignments == 1
    with ape.reverts("arena: too many scores"):
        t.reveal_scores(validator, 0, scores=[2, 3])
    with ape.reverts("arena: bad reveal"):
        t.reveal_scores(validator, 0, scores=[3])
    with ape.reverts("arena: bad reveal"):
        t.reveal_scores(validator, 0, scores=[2], salt=sha("wrong salt"))
    t.reveal_scores(validator, 0, scores=[2])
    assert arena.validator_round(t.id, 0, validator).revealed
    assert list(arena.validator_scores(t.id, 0, validator)) == [1, 2]
    with ape.reverts("arena: already revealed"):
        t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    with ape.reverts("arena: wrong phase"):
        t.reveal_scores(validator, 0)


def test_score_commitment_binds_round_and_validator(arena, revealed, validator):
    t = revealed
    t.warp(0, PHASE_SCORE_COMMIT)
    salt = sha("s")
    arena.commit_scores(
        t.id, score_commitment(t.id, 1, validator.address, [1, 2], salt), sender=validator
    )
    t.warp(0, PHASE_SCORE_REVEAL)
    with ape.reverts("arena: bad reveal"):
        arena.reveal_scores(t.id, [1, 2], salt, sender=validator)


# ---- finalize ----------------------------------------------------------------------------------
def test_finalize_reverts(arena, make_task, creator, attacker):
    with ape.reverts("arena: unknown task"):
        arena.finalize(UNKNOWN, 10, [], sender=attacker)
    t = make_task(num_rounds=2)
    with ape.reverts("arena: round not over"):
        t.finalize(attacker)
    t.warp(0, PHASE_SCORE_REVEAL, offset=90)  # last seconds of round 0
    with ape.reverts("arena: round not over"):
        t.finalize(attacker)
    t.warp(0, PHASE_ENDED)
    with ape.reverts("arena: zero steps"):
        t.finalize(attacker, 0)
    t.finalize(attacker)
    with ape.reverts("arena: round not over"):  # round 1 is still running
        t.finalize(attacker)
    t.warp(1, PHASE_ENDED)
    t.finalize(attacker)
    with ape.reverts("arena: task not active"):
        t.finalize(attacker)
    cancelled = make_task()
    arena.cancel_task(cancelled.id, sender=creator)
    cancelled.warp(0, PHASE_ENDED)
    with ape.reverts("arena: task not active"):
        cancelled.finalize(attacker)


# ---- claim / withdraw / claim_refund -----------------------------------------------------------
@pytest.fixture
def ended(make_task, node, validator, delegator, creator):
    """A 1-round task played and finalized; node has delegator, everyone earned something."""
    t = make_task(delta=WAD // 2)
    t.join(node, NODE)
    t.join(validator, VALIDATOR)
    t.delegate(delegator, node)
    t.play_round(0, {node: MODEL}, {validator: [500_000_000]}, finalize_by=creator)
    return t


def test_claim_reverts(arena, make_task, ended, node, node2, delegator, delegator2, attacker):
    t = ended
    with ape.reverts("arena: unknown task"):
        arena.claim(UNKNOWN, node, sender=node)
    with ape.reverts("arena: not a participant"):
        arena.claim(t.id, attacker, sender=attacker)
    with ape.reverts("arena: nothing to claim"):  # never delegated
        arena.claim(t.id, node, sender=delegator2)
    arena.claim(t.id, node, sender=node)
    with ape.reverts("arena: nothing to claim"):
        arena.claim(t.id, node, sender=node)
    arena.claim(t.id, node, sender=delegator)
    with ape.reverts("arena: nothing to claim"):
        arena.claim(t.id, node, sender=delegator)
    fresh = make_task()
    fresh.join(node2, NODE)
    with ape.reverts("arena: nothing to claim"):
        arena.claim(fresh.id, node2, sender=node2)


def test_withdraw_reverts(arena, make_task, ended, node, node2, delegator, delegator2, attacker):
    t = ended
    with ape.reverts("arena: unknown task"):
        arena.withdraw(UNKNOWN, node, sender=node)
    active = make_task()
    active.join(node2, NODE)
    with ape.reverts("arena: task not ended"):
        arena.withdraw(active.id, node2, sender=node2)
    with ape.reverts("arena: not a participant"):
        arena.withdraw(t.id, attacker, sender=attacker)
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, node, sender=delegator2)
    arena.withdraw(t.id, node, sender=node)
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, node, sender=node)
    arena.withdraw(t.id, node, sender=delegator)
    with ape.reverts("arena: nothing to withdraw"):
        arena.withdraw(t.id, node, sender=delegator)


def test_claim_refund_reverts(arena, make_task, ended, creator, attacker):
    t = ended
    with ape.reverts("arena: unknown task"):
        arena.claim_refund(UNKNOWN, sender=creator)
    with ape.reverts("arena: not creator"):
        arena.claim_refund(t.id, sender=attacker)
    active = make_task()
    with ape.reverts("arena: task not ended"):
        arena.claim_refund(active.id, sender=creator)
    arena.cancel_task(active.id, sender=creator)
    with ape.reverts("arena: task not ended"):  # cancelled: the bounty was already refunded
        arena.claim_refund(active.id, sender=creator)
    arena.claim_refund(t.id, sender=creator)
    with ape.reverts("arena: refund already claimed"):
        arena.claim_refund(t.id, sender=creator)


# ---- views -------------------------------------------------------------------------------------
def test_views_reject_unknown_task_and_bad_phase(arena, make_task):
    with ape.reverts("arena: unknown task"):
        arena.task_params(UNKNOWN)
    with ape.reverts("arena: unknown task"):
        arena.task_state(UNKNOWN)
    t = make_task()
    for phase in (0, 6):
        with ape.reverts("arena: parameter out of range"):
            arena.phase_end(t.id, 0, phase)


# ---- pause / ownership (owner-side reverts; the role matrix is in test_arena_roles.py) --------
def test_pause_twice_and_unpause_unpaused(arena, owner):
    with ape.reverts("pausable: contract is not paused"):
        arena.unpause(sender=owner)
    arena.pause(sender=owner)
    with ape.reverts("pausable: contract is paused"):
        arena.pause(sender=owner)


def test_accept_ownership_only_by_pending_owner(arena, owner, non_owner, attacker):
    with ape.reverts("ownable_2step: caller is not the new owner"):
        arena.accept_ownership(sender=attacker)
    arena.transfer_ownership(non_owner, sender=owner)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        arena.accept_ownership(sender=attacker)
