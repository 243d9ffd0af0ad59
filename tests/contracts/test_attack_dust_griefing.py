"""Attack: dust / zero-amount griefing of a victim's rewards.

Zero amounts revert everywhere money comes in. 1-wei delegations (many of them, from several
accounts, to a node and to a validator) cannot eat into the victim's rewards beyond the WAD
rounding of the owner/delegator split: the same round is played twice side by side, once
clean and once with dust, and the victim's earnings compared wei for wei. Dust positions stay
claimable/withdrawable and the books still balance.
"""

import ape

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
    as_tuple,
    default_params,
    exit_all,
    owed,
    sha,
)


def test_zero_amounts_revert(arena, make_task, chain, node, attacker, creator):
    params = default_params(bounty=0, eval_root=sha("r"), start_time=chain.pending_timestamp + 100)
    with ape.reverts("arena: zero amount"):
        arena.create_task(as_tuple(params), sender=attacker)
    t = make_task()
    t.join(node, NODE)
    with ape.reverts("arena: zero amount"):
        t.delegate(attacker, node, 0)
    with ape.reverts("arena: zero amount"):
        t.join(node, NODE, 0)  # zero top-up
    with ape.reverts("arena: zero amount"):
        t.join(attacker, NODE, 0)


def _join(t, node, node2, validator, validator2):
    t.join(node, NODE, 10 * E18, WAD // 10)
    t.join(node2, NODE, 10 * E18)
    t.join(validator, VALIDATOR, 10 * E18)
    t.join(validator2, VALIDATOR, 10 * E18)


def _play_side_by_side(tasks, node, node2, validator, validator2, creator):
    a = tasks[0]
    a.warp(0, PHASE_COMMIT)
    for t in tasks:
        t.commit_model(node, sha(f"victim-{t.id}"), 0)
        t.commit_model(node2, sha(f"other-{t.id}"), 0)
    a.warp(0, PHASE_EVAL)
    for t in tasks:
        t.reveal_eval(0)
    a.warp(0, PHASE_REVEAL)
    for t in tasks:
        t.reveal_model(node, sha(f"victim-{t.id}"))
        t.reveal_model(node2, sha(f"other-{t.id}"))
    a.warp(0, PHASE_SCORE_COMMIT)
    for t in tasks:
        t.draw(0)  # each task's committees (PROTOCOL.md §5a)
    for t in tasks:
        t.commit_scores(validator, [300_000_000, 600_000_000], 0)
        t.commit_scores(validator2, [310_000_000, 600_000_000], 0)
    a.warp(0, PHASE_SCORE_REVEAL)
    for t in tasks:
        t.reveal_scores(validator, 0)
        t.reveal_scores(validator2, 0)
    a.warp(0, PHASE_ENDED)
    for t in tasks:
        t.finalize(creator)


def test_one_wei_delegations_do_not_reduce_victim_rewards(
    arena,
    arena_token,
    make_task,
    node,
    node2,
    validator,
    validator2,
    delegator,
    delegator2,
    attacker,
    creator,
):
    clean = make_task()
    dusty = make_task(start_time=clean.start)
    for t in (clean, dusty):
        _join(t, node, node2, validator, validator2)
    # Dust on the victims: 1-wei delegations from three accounts, one of them repeated.
    for who in (attacker, delegator2, delegator):
        dusty.delegate(who, node, 1)
        dusty.delegate(who, validator, 1)
    for _ in range(5):
        dusty.delegate(attacker, node, 1)
    _play_side_by_side([clean, dusty], node, node2, validator, validator2, creator)

    for victim in (node, validator):
        x_clean = clean.part(victim).owner_earned
        x_dusty = dusty.part(victim).owner_earned
        assert x_clean > 0
        reward = (
            arena.submission(dusty.id, 0, 0).reward
            if victim == node
            else arena.validator_round(dusty.id, 0, victim).reward
        )
        # owner part = x * (sigma + (1 - sigma) * own // (own + del)) // WAD: the WAD floor of
        # own // (own + dust) costs at most x / WAD + 1 wei; the dust's fair share is less.
        loss = x_clean - x_dusty
        assert loss <= reward // WAD + 2, f"{victim}: dust cost the victim {loss} wei of {x_clean}"
    # The attacker's dust earned dust.
    assert arena.claimable(dusty.id, node, attacker) < 10**4

    positions = [(p, p) for p in (node, node2, validator, validator2)]
    positions += [(p, d) for p in (node, validator) for d in (attacker, delegator2, delegator)]
    assert arena_token.balanceOf(arena) >= owed(arena, clean, positions) + owed(
        arena, dusty, positions
    )
    got = exit_all(arena, dusty, positions)
    assert got[(node.address, attacker.address)] >= 6  # dust positions can still exit
    exit_all(arena, clean, positions)
    assert arena_token.balanceOf(arena) < 200, "more than rounding dust left after everyone exited"


def test_many_dust_delegators_do_not_change_the_node_pot_split(
    arena, make_task, node, validator, delegator, delegator2, attacker, creator
):
    """1-wei delegations count as stake (T grows by a few wei) but cannot move pots by more than
    rounding: the node's reward in a 1-node round is the whole node pot either way."""
    t = make_task()
    t.join(node, NODE, MIN_STAKE)
    t.join(validator, VALIDATOR, MIN_STAKE)
    for who in (attacker, delegator, delegator2):
        t.delegate(who, node, 1)
    tx = t.play_round(0, {node: sha("m")}, {validator: [500_000_000]}, finalize_by=creator)
    ranked = tx.events.filter(arena.RoundRanked)[0]
    assert ranked.node_stake == MIN_STAKE + 3
    pot = t.params["bounty"]
    even = pot * t.params["gamma"] // WAD + (pot * (WAD - 2 * t.params["gamma"]) // WAD) // 2
    # 3 wei of stake move the T/(T+S) split by ~ pot * 3 / (T + S) wei, i.e. proportionally.
    assert 0 <= ranked.nodes_pot - even <= pot * 3 // (2 * MIN_STAKE) + 1
