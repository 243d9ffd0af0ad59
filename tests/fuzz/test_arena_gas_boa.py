"""Gas at the maximum sizes (128 submissions x 32 validators): every transaction of a round,
including each paginated finalize step, must stay under 15M gas (DESIGN §3.6)."""

from __future__ import annotations

import boa
import pytest

from tests.fuzz.conftest import E18, finalize, model_commit, model_hash, score_commit, shard_hash

NODE, VALIDATOR = 1, 2
SALT = b"\x33" * 32
LIMIT = 15_000_000

pytestmark = pytest.mark.slow


def _gas(contract) -> int:
    """Execution gas of the last call plus a generous intrinsic allowance."""
    c = contract._computation
    return c.get_gas_used() + 21_000 + 16 * len(c.msg.data)


def _funded(world, prefix, n):
    out = []
    for i in range(n):
        a = boa.env.generate_address(f"{prefix}{i}")
        world.token.mint(a, 1_000 * E18)
        with boa.env.prank(a):
            world.token.approve(world.arena.address, 2**256 - 1)
        out.append(a)
    return out


def test_max_round_gas(world, arena):
    task = world.make_task(num_rounds=2, min_committee=32)
    nodes = _funded(world, "gn", 128)
    vals = _funded(world, "gv", 32)
    dels = _funded(world, "gd", 2)
    for n in nodes:
        with boa.env.prank(n):
            arena.join(task, NODE, 10 * E18, 10**17)
    for v in vals:
        with boa.env.prank(v):
            arena.join(task, VALIDATOR, 10 * E18 + 1, 10**17)
    for d in dels:  # a delegated node and validator exercise the accumulator path
        with boa.env.prank(d):
            arena.delegate(task, nodes[0], 5 * E18)
            arena.delegate(task, vals[0], 5 * E18)
    worst = {}
    world.goto(task, 0, 1)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(f"g{i}"), n, task, 0))
    worst["commit_model"] = _gas(arena)
    world.goto(task, 0, 2)  # EVAL
    with boa.env.prank(world.actors["creator"]):
        arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 0))
    world.goto(task, 0, 3)  # REVEAL
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(f"g{i}"), "ipfs://" + "x" * 200)
            worst["reveal_model"] = max(worst.get("reveal_model", 0), _gas(arena))
    # Reverse-sorted scores per submission: worst case for the insertion sort.
    scores = {v: [(32 - j) * 1_000_000 + 7 * k for k in range(128)] for j, v in enumerate(vals)}
    world.goto(task, 0, 4)  # SCORE_COMMIT
    arena.draw(task, 0)  # committees (PROTOCOL.md §5a): equal stakes, K = 64 -> everyone on all
    boa.env.evm.patch.block_number += 2  # the seed block's hash becomes readable
    for v in vals:
        with boa.env.prank(v):
            arena.commit_scores(task, score_commit(task, 0, v, scores[v], SALT))
    worst["commit_scores"] = _gas(arena)
    world.goto(task, 0, 5)  # SCORE_REVEAL
    for v in vals:
        with boa.env.prank(v):
            arena.reveal_scores(task, scores[v], SALT)
            worst["reveal_scores"] = max(worst.get("reveal_scores", 0), _gas(arena))
    world.goto(task, 1, 1)
    steps = 0
    step_gas = []
    while True:
        done = finalize(arena, task, 1)
        step_gas.append(_gas(arena))
        steps += 1
        if done:
            break
    # OPEN, CONSENSUS x 128, RANK x 128 (every submission eligible), AGREEMENT x 32,
    # PAY_NODES x 128, PAY_VAL x 32
    assert steps == 1 + 128 + 128 + 32 + 128 + 32
    worst["finalize(1 step)"] = max(step_gas)
    print(
        "gas:",
        worst,
        "open",
        step_gas[0],
        "consensus",
        step_gas[1],
        "rank",
        step_gas[129],
        "last rank",
        step_gas[256],
        "agreement",
        step_gas[257],
        "pay node",
        step_gas[289],
        "pay validator",
        step_gas[-1],
    )
    for name, g in worst.items():
        assert g < LIMIT, (name, g)
    ri = arena.round_info(task, 0)
    assert ri.stage == 6 and ri.void_reason == 0 and ri.paid > 0
    # Lower weighted median: validator j scores (32 - j) * 1e6 + 7k, so ascending order is
    # j = 31, 30, ...; each weighs 10e18 + 1 except vals[0] (30e18 + 1 with delegations);
    # total 340e18 + 32 needs 17 validators from the bottom: j = 15.
    assert arena.submission(task, 0, 5).consensus == scores[vals[15]][5]


def test_batched_finalize_fits(world, arena):
    """finalize(task, 32) over 128x32 stays under the limit for every batch."""
    task = world.make_task(num_rounds=1, min_committee=1)
    nodes = _funded(world, "bn", 128)
    vals = _funded(world, "bv", 32)
    for n in nodes:
        with boa.env.prank(n):
            arena.join(task, NODE, 10 * E18, 0)
    for v in vals:
        with boa.env.prank(v):
            arena.join(task, VALIDATOR, 10 * E18, 0)
    world.goto(task, 0, 1)
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.commit_model(task, model_commit(model_hash(f"b{i}"), n, task, 0))
    world.goto(task, 0, 2)  # EVAL
    with boa.env.prank(world.actors["creator"]):
        arena.reveal_eval(task, 0, shard_hash(0), "s", world.proof(task, 0))
    world.goto(task, 0, 3)  # REVEAL
    for i, n in enumerate(nodes):
        with boa.env.prank(n):
            arena.reveal_model(task, model_hash(f"b{i}"), "u")
    scores = {
        v: [(j * 7919 + k * 104729) % 1_000_000_007 for k in range(128)] for j, v in enumerate(vals)
    }
    world.goto(task, 0, 4)  # SCORE_COMMIT
    arena.draw(task, 0)  # committees (PROTOCOL.md §5a): equal stakes, K = 64 -> everyone on all
    boa.env.evm.patch.block_number += 2  # the seed block's hash becomes readable
    for v in vals:
        with boa.env.prank(v):
            arena.commit_scores(task, score_commit(task, 0, v, scores[v], SALT))
    world.goto(task, 0, 5)  # SCORE_REVEAL
    for v in vals:
        with boa.env.prank(v):
            arena.reveal_scores(task, scores[v], SALT)
    world.goto(task, 1, 1)
    gas = []
    for _ in range(20):
        done = finalize(arena, task, 32)
        gas.append(_gas(arena))
        if done:
            break
    assert done
    print("finalize(32) gas per call:", gas)
    assert max(gas) < LIMIT
