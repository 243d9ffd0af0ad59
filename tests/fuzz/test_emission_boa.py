"""Emission on titanoboa: access control, rate cap, stake-proportional accrual, token-cap
clamp, and the Arena integration (emission pulled into the round pot at finalize)."""

from __future__ import annotations

import boa
import pytest

from tests.fuzz.conftest import (
    E18,
    ZERO,
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


def test_arena_pulls_emission_into_pot(world, em_world):
    token, emission, arena = em_world
    a = world.actors
    d = world.params(num_rounds=1, min_quorum=1)
    with boa.env.prank(a["creator"]):
        task = arena.create_task(tuple(d.values()))
    world.roots[task] = 1
    with boa.env.prank(a["node"]):
        arena.join(task, 1, 100 * E18, 0)
    with boa.env.prank(a["validator"]):
        arena.join(task, 2, 100 * E18, 0)
    t_join = world.now()
    assert emission.task_emission(task).stake == 200 * E18
    start = arena.round_start(task, 0)
    world.warp(start)
    sha = model_hash("e")
    with boa.env.prank(a["node"]):
        arena.commit_model(task, model_commit(sha, a["node"], task, 0))
    world.warp(start + 100)
    with boa.env.prank(a["creator"]):
        arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 0))
    world.warp(start + 200)
    with boa.env.prank(a["node"]):
        arena.reveal_model(task, sha, "u")
    world.warp(start + 300)
    with boa.env.prank(a["validator"]):
        arena.commit_scores(task, score_commit(task, 0, a["validator"], [5], SALT))
    world.warp(start + 400)
    with boa.env.prank(a["validator"]):
        arena.reveal_scores(task, [5], SALT)
    t_fin = start + 500
    world.warp(t_fin)
    expected = RATE * (t_fin - t_join)  # the only staked task gets the whole rate
    supply = token.totalSupply()
    assert arena.finalize(task, 100)
    ri = arena.round_info(task, 0)
    assert ri.emission_amount == expected
    assert ri.pot == 3_000 * E18 + expected
    assert token.totalSupply() == supply + expected
    assert emission.task_emission(task).stake == 0  # task ended
    assert emission.total_stake() == 0


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
    assert arena.finalize(task, 10)
    assert arena.round_info(task, 0).emission_amount == 0
