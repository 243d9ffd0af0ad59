"""Emission on titanoboa: access control, rate cap, stake-proportional accrual, token-cap
clamp, and the Arena integration (emission pulled into the round pot at finalize)."""

from __future__ import annotations

import boa
import pytest

from tests.fuzz.conftest import (
    E18,
    ZERO,
    delegated_events,
    finalize,
    model_commit,
    model_hash,
    partials,
    score_commit,
    shard_hash,
)

ACC = 10**36
RATE = 10**18  # 1 token per second
SALT = b"\x44" * 32


@pytest.fixture
def em_world(world, owner):
    """A second deployment with emission on: token, emission, engine, arena."""
    p = partials()
    with boa.env.prank(owner):
        token = p["ArenaToken"].deploy(10**30, 0)
        emission = p["Emission"].deploy(token.address, 10 * RATE)
        arena = p["Arena"].deploy(
            token.address, emission.address, world.engine.address, world.rounds.address
        )
        emission.set_arena(arena.address)
        token.set_minter(emission.address, True)
        emission.set_rate(RATE)
    for addr in world.actors.values():
        with boa.env.prank(owner):
            token.mint(addr, 100_000 * E18)
        with boa.env.prank(addr):
            token.approve(arena.address, 2**256 - 1)
    return token, emission, arena


def test_emission_access_and_cap(world, owner, attacker, em_world):
    token, emission, arena = em_world
    with boa.env.prank(attacker):
        with boa.reverts("ownable: caller is not the owner"):
            emission.set_rate(1)
        with boa.reverts("ownable: caller is not the owner"):
            emission.set_arena(attacker)
        with boa.reverts("emission: caller is not the arena"):
            emission.notify_stake(1, 5)
        with boa.reverts("emission: caller is not the arena"):
            emission.pull(1)
    with boa.env.prank(owner):
        with boa.reverts("emission: arena already set"):
            emission.set_arena(attacker)
        with boa.reverts("emission: rate above max"):
            emission.set_rate(10 * RATE + 1)
        emission.set_rate(2 * RATE)
        ev = emission.get_logs()[0]
        assert (ev.old_rate, ev.new_rate) == (RATE, 2 * RATE)
    assert emission.rate() == 2 * RATE and emission.max_rate() == 10 * RATE
    with boa.reverts("emission: zero address"):
        partials()["Emission"].deploy(ZERO, 1)


def test_emission_splits_by_stake(world, em_world):
    """Driving Emission directly as the arena: two tasks with stakes 100 and 300."""
    token, emission, arena = em_world
    fake = boa.env.generate_address("fake_arena")
    p = partials()
    owner = world.owner
    with boa.env.prank(owner):
        em2 = p["Emission"].deploy(token.address, RATE)
        em2.set_arena(fake)
        em2.set_rate(RATE)
        token.set_minter(em2.address, True)
    t0 = world.now()
    with boa.env.prank(fake):
        em2.notify_stake(1, 100 * E18)
        em2.notify_stake(2, 300 * E18)
        assert em2.get_logs()[0].total_stake == 400 * E18
    world.warp(t0 + 1_000)
    assert em2.pending(1) == 100 * E18 * (RATE * 1_000 * ACC // (400 * E18)) // ACC
    assert em2.pending(1) == 250 * E18
    assert em2.pending(2) == 750 * E18
    with boa.env.prank(fake):
        assert em2.pull(1) == 250 * E18
        em2.notify_stake(2, 0)  # task 2 ended
    assert token.balanceOf(fake) == 250 * E18
    world.warp(t0 + 2_000)
    assert em2.pending(1) == 1_000 * E18  # pulled before; alone now: the whole rate
    assert em2.pending(2) == 750 * E18
    with boa.env.prank(fake):
        assert em2.pull(2) == 750 * E18
        assert em2.pull(2) == 0


def test_emission_clamped_by_token_cap(world):
    p = partials()
    owner = world.owner
    fake = boa.env.generate_address("fake_arena2")
    with boa.env.prank(owner):
        token = p["ArenaToken"].deploy(1_000 * E18, 900 * E18)
        em = p["Emission"].deploy(token.address, RATE)
        em.set_arena(fake)
        em.set_rate(RATE)
        token.set_minter(em.address, True)
    with boa.env.prank(fake):
        em.notify_stake(1, E18)
    world.warp(world.now() + 500)
    with boa.env.prank(fake):
        assert em.pull(1) == 100 * E18
        ev = [e for e in em.get_logs() if type(e).__name__ == "Pulled"][0]
        assert (ev.amount, ev.dropped) == (100 * E18, 400 * E18)
    assert token.totalSupply() == 1_000 * E18


def _play(world, arena, task, r, node, validator, creator, reveal_eval=True):
    """Round r with one node and one validator (min_committee 1); warps to the round's end."""
    start = arena.round_start(task, r)
    world.warp(start)
    sha = model_hash(f"e{r}")
    with boa.env.prank(node):
        arena.commit_model(task, model_commit(sha, node, task, r))
    if reveal_eval:
        world.warp(start + 100)
        with boa.env.prank(creator):
            arena.reveal_eval(task, r, shard_hash(r), "s", world.proof(task, r))
        world.warp(start + 200)
        with boa.env.prank(node):
            arena.reveal_model(task, sha, "u")
        world.warp(start + 300)
        arena.draw(task, r)  # committees: the only validator sits on the only one
        boa.env.evm.patch.block_number += 2
        with boa.env.prank(validator):
            arena.commit_scores(task, score_commit(task, r, validator, [5], SALT))
        world.warp(start + 400)
        with boa.env.prank(validator):
            arena.reveal_scores(task, [5], SALT)
    world.warp(start + 500)


def test_arena_pulls_emission_into_pot(world, em_world):
    """Emission follows the stake that worked in a round that paid out (T + S), reported when
    the round closes: joining alone earns nothing; the next round's pot holds what accrued
    since; the task's end reports 0."""
    token, emission, arena = em_world
    a = world.actors
    d = world.params(num_rounds=2, min_committee=1, slash_node_miss=0)
    with boa.env.prank(a["creator"]):
        task = arena.create_task(tuple(d.values()))
    world.roots[task] = 2
    with boa.env.prank(a["node"]):
        arena.join(task, 1, 100 * E18, 0)
    with boa.env.prank(a["validator"]):
        arena.join(task, 2, 100 * E18, 0)
    assert emission.task_emission(task).stake == 0  # parked stake draws nothing
    _play(world, arena, task, 0, a["node"], a["validator"], a["creator"])
    assert finalize(arena, task, 100)
    t0 = world.now()
    ri = arena.round_info(task, 0)
    half = d["bounty"] // 2
    assert ri.emission_amount == 0 and ri.pot == half
    assert emission.task_emission(task).stake == ri.node_stake + ri.validator_stake == 200 * E18
    _play(world, arena, task, 1, a["node"], a["validator"], a["creator"])
    t1 = world.now()
    supply = token.totalSupply()
    assert finalize(arena, task, 100)
    expected = RATE * (t1 - t0)  # the only task with working stake gets the whole rate
    ri = arena.round_info(task, 1)
    assert ri.emission_amount == expected
    r0 = arena.round_info(task, 0)
    assert ri.pot == d["bounty"] - half + (r0.pot - r0.paid + r0.slashed) + expected
    assert token.totalSupply() == supply + expected
    assert emission.task_emission(task).stake == 0  # task ended
    assert emission.total_stake() == 0
    assert arena.task_state(task).emission_carry == 0


def test_void_round_emission_rolls_on_and_is_never_refunded(world, em_world):
    """A void round's emission rolls to the next round with the carry and the task draws
    nothing while it is void; emission still carried at the end is burned, not refunded."""
    token, emission, arena = em_world
    a = world.actors
    d = world.params(num_rounds=3, min_committee=1, slash_node_miss=0)
    with boa.env.prank(a["creator"]):
        task = arena.create_task(tuple(d.values()))
    world.roots[task] = 3
    for who, role in ((a["node"], 1), (a["validator"], 2)):
        with boa.env.prank(who):
            arena.join(task, role, 100 * E18, 0)
    _play(world, arena, task, 0, a["node"], a["validator"], a["creator"])
    assert finalize(arena, task, 100)
    t0 = world.now()
    _play(world, arena, task, 1, a["node"], a["validator"], a["creator"], reveal_eval=False)
    t1 = world.now()
    assert finalize(arena, task, 100)
    r1 = arena.round_info(task, 1)
    em1 = RATE * (t1 - t0)
    assert (r1.void_reason, r1.emission_amount) == (1, em1)
    st = arena.task_state(task)
    assert st.emission_carry == em1 and st.carry == r1.pot  # rolls on, whole
    assert emission.task_emission(task).stake == 0  # void: no working stake to follow
    _play(world, arena, task, 2, a["node"], a["validator"], a["creator"], reveal_eval=False)
    supply = token.totalSupply()
    assert finalize(arena, task, 100)
    abis = {**world.engine.event_abi_for, **world.rounds.event_abi_for}
    (end,) = delegated_events(arena, "TaskEnded", abis)
    r2 = arena.round_info(task, 2)
    assert r2.emission_amount == 0  # nothing accrued while void
    st = arena.task_state(task)
    assert st.refund == r2.pot - em1  # the creator gets the bounty's part, not the emission
    assert end.emission_burned == em1 and end.refund == st.refund
    assert token.totalSupply() == supply - em1  # burned


def test_broken_emission_never_blocks_arena(world, owner):
    """An Emission that is not a minter (pull reverts) or has no arena set (notify reverts)
    must not block joins or finalization."""
    p = partials()
    with boa.env.prank(owner):
        token = p["ArenaToken"].deploy(10**30, 0)
        emission = p["Emission"].deploy(token.address, RATE)  # arena never set
        arena = p["Arena"].deploy(
            token.address, emission.address, world.engine.address, world.rounds.address
        )
    node = world.actors["node"]
    creator = world.actors["creator"]
    for who in (node, creator):
        with boa.env.prank(owner):
            token.mint(who, 10_000 * E18)
        with boa.env.prank(who):
            token.approve(arena.address, 2**256 - 1)
    d = world.params(num_rounds=1)
    with boa.env.prank(creator):
        task = arena.create_task(tuple(d.values()))
    with boa.env.prank(node):
        arena.join(task, 1, 100 * E18, 0)
    world.warp(arena.round_start(task, 1))
    assert finalize(arena, task, 10)
    assert arena.round_info(task, 0).emission_amount == 0
