"""Attack: reentrancy through a malicious token.

Arena is deployed with contracts/test/MockReentrantToken.vy, whose transfer/transferFrom call
back into the Arena after moving balances. Every Arena entry point is non-reentrant
(`# pragma nonreentrancy on`): each reentry must revert with the lock's empty revert data
(a business-rule revert would carry an "arena: ..." message), the outer call must go through
exactly once, and at the end everyone leaves with exactly what they are owed.
"""

import ape
import pytest

from .arena_helpers import (
    E18,
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    PHASE_SCORE_COMMIT,
    PHASE_SCORE_REVEAL,
    VALIDATOR,
    WAD,
    as_tuple,
    default_params,
    model_commitment,
    new_task,
    sha,
)
from .conftest import deploy_arena

MINT = 1_000_000 * E18
MODEL = sha("model-of-the-token-contract")


@pytest.fixture(scope="module")
def evil(project, owner, creator, node, validator, delegator, attacker):
    """(mock token, arena on it); actors hold MINT each and approved the arena."""
    token = owner.deploy(project.MockReentrantToken)
    arena = deploy_arena(project, owner, token)
    for who in (creator, node, validator, delegator, attacker):
        token.mint(who, MINT, sender=owner)
        token.approve(arena, 2**256 - 1, sender=who)
    token.mint(token, MINT, sender=owner)  # the token contract itself will play a node
    return token, arena


def _call(arena, name, *args) -> bytes:
    method = arena._mutable_methods_[name]
    return bytes(method.encode_input(*args))


def _assert_reentry_blocked(token, attempts: int):
    assert token.attempts() == attempts, (
        f"expected {attempts} reentry attempts, saw {token.attempts()}"
    )
    assert token.successes() == 0, "a reentrant call into Arena succeeded"
    assert bytes(token.last_returndata()) == b"", (
        "reentry reverted with data "
        f"{bytes(token.last_returndata())!r}: not the non-reentrancy lock but a business check"
    )


def test_token_contract_as_node_cannot_double_claim_or_double_withdraw(
    evil, chain, owner, creator, validator, delegator, attacker
):
    token, arena = evil
    t = new_task(arena, chain, creator, delta=WAD // 2)
    evil_node = token.address
    token.execute(arena, _call(arena, "join", t.id, NODE, 20 * E18, WAD // 10), sender=attacker)
    t.join(validator, VALIDATOR, MIN_STAKE)
    t.delegate(delegator, evil_node, 10 * E18)
    t.warp(0, PHASE_COMMIT)
    c = model_commitment(MODEL, evil_node, t.id, 0)
    token.execute(arena, _call(arena, "commit_model", t.id, c), sender=attacker)
    t.open_reveals(0)
    token.execute(arena, _call(arena, "reveal_model", t.id, MODEL, "file://m"), sender=attacker)
    t.warp(0, PHASE_SCORE_COMMIT)
    t.commit_scores(validator, [400_000_000], 0)
    t.warp(0, PHASE_SCORE_REVEAL)
    t.reveal_scores(validator, 0)
    t.warp(0, PHASE_ENDED)
    t.finalize(creator)

    earned = arena.participant(t.id, evil_node).owner_earned
    assert earned > 0
    start = token.balanceOf(token)

    # Double claim: the hook re-enters claim(task, itself) while the first claim pays out.
    token.arm(arena, _call(arena, "claim", t.id, evil_node), sender=attacker)
    token.execute(arena, _call(arena, "claim", t.id, evil_node), sender=attacker)
    _assert_reentry_blocked(token, 1)
    assert token.balanceOf(token) == start + earned, "the owner part was paid more than once"

    # Double withdraw of its own stake.
    token.arm(arena, _call(arena, "withdraw", t.id, evil_node), sender=attacker)
    token.execute(arena, _call(arena, "withdraw", t.id, evil_node), sender=attacker)
    _assert_reentry_blocked(token, 2)
    assert token.balanceOf(token) == start + earned + 20 * E18, "the stake was paid more than once"

    # While honest users exit, the hook tries to claim again as the node: blocked each time.
    token.arm(arena, _call(arena, "claim", t.id, evil_node), sender=attacker)
    d_claim = arena.claimable(t.id, evil_node, delegator)
    before = token.balanceOf(delegator)
    arena.claim(t.id, evil_node, sender=delegator)
    arena.withdraw(t.id, evil_node, sender=delegator)
    assert token.balanceOf(delegator) == before + d_claim + 10 * E18
    arena.claim(t.id, validator, sender=validator)
    arena.withdraw(t.id, validator, sender=validator)
    refund = arena.task_state(t.id).refund
    arena.claim_refund(t.id, sender=creator)  # transfers (and re-enters) only if refund > 0
    _assert_reentry_blocked(token, 7 if refund else 6)

    # Outside the hook, a second claim is refused by accounting (with a message).
    token.disarm(sender=attacker)
    with ape.reverts("arena: nothing to claim"):
        token.execute(arena, _call(arena, "claim", t.id, evil_node), sender=attacker)
    assert token.balanceOf(arena) < 100, "more than rounding dust left in the arena"


@pytest.fixture
def finalizable(evil, chain, creator):
    """A separate 1-round task whose round is over: finalize(other, 1) would succeed, so a
    blocked reentry into it can only be the lock."""
    token, arena = evil
    other = new_task(
        arena,
        chain,
        creator,
        start_time=0,
        commit_duration=1,
        reveal_duration=1,
        score_commit_duration=1,
        score_reveal_duration=1,
    )
    other.warp_to(other.round_end(0) + 1)
    return other


OPS = ["create_task", "join", "delegate", "cancel_task", "claim", "withdraw", "claim_refund"]


@pytest.mark.parametrize("op", OPS)
def test_every_money_path_rejects_reentry(
    evil, finalizable, chain, creator, node, validator, delegator, attacker, op
):
    token, arena = evil
    other = finalizable
    payload = _call(arena, "finalize", other.id, 1, [])
    t = new_task(arena, chain, creator)
    if op in ("delegate", "claim", "withdraw", "claim_refund"):
        t.join(node, NODE)
        t.join(validator, VALIDATOR)
    if op in ("claim", "withdraw", "claim_refund"):
        t.delegate(delegator, node)
        # claim_refund needs something to refund: leave round 0 void (no eval reveal).
        void = op == "claim_refund"
        t.play_round(
            0,
            {node: sha("m")},
            {validator: [] if void else [300_000_000]},
            reveal_eval=not void,
            finalize_by=creator,
        )
    arena_before = token.balanceOf(arena)
    token.arm(arena, payload, sender=attacker)

    if op == "create_task":
        params = default_params(eval_root=sha("r"), start_time=chain.pending_timestamp + 500)
        arena.create_task(as_tuple(params), sender=creator)
        expected_delta = params["bounty"]
    elif op == "join":
        t.join(node, NODE, 12 * E18)
        expected_delta = 12 * E18
    elif op == "delegate":
        t.delegate(delegator, node, 3 * E18)
        expected_delta = 3 * E18
    elif op == "cancel_task":
        arena.cancel_task(t.id, sender=creator)
        expected_delta = -t.params["bounty"]
    elif op == "claim":
        amount = arena.claimable(t.id, node, delegator)
        assert arena.claim(t.id, node, sender=delegator).return_value == amount
        expected_delta = -amount
    elif op == "withdraw":
        arena.withdraw(t.id, node, sender=node)
        expected_delta = -MIN_STAKE
    else:
        refund = arena.task_state(t.id).refund
        assert refund == t.params["bounty"]
        arena.claim_refund(t.id, sender=creator)
        expected_delta = -refund

    _assert_reentry_blocked(token, 1)
    assert token.balanceOf(arena) - arena_before == expected_delta, f"{op} moved the wrong amount"
    assert arena.task_state(other.id).finalized_rounds == 0, "the reentrant finalize changed state"
    # Control: the same call made normally goes through, so only the lock stopped it.
    token.disarm(sender=attacker)
    arena.finalize(other.id, 1, [], sender=attacker)
    assert arena.task_state(other.id).finalized_rounds == 1
