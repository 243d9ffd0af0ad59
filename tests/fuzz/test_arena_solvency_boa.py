"""Property: whatever the stakes, delegations, commissions, scores and parameters, after the
last round every owner, delegator and the creator can exit, the tokens that leave equal the
tokens that came in minus a few wei of reserved accumulator dust, and the contract never owes
more than it holds (checked after every round). ARENA_FUZZ_EXAMPLES=N runs N examples."""

from __future__ import annotations

import os

import boa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import (
    INVALID,
    UNAVAILABLE,
    WAD,
    finalize,
    model_commit,
    model_hash,
    score_commit,
    shard_hash,
)

NODE, VALIDATOR = 1, 2
SALT = b"\x55" * 32

score = st.one_of(st.integers(0, 3 * 10**9), st.just(INVALID), st.just(UNAVAILABLE))
scenario = st.fixed_dictionaries(
    dict(
        num_rounds=st.integers(1, 3),
        bounty=st.integers(1, 10**22),
        gamma=st.integers(0, WAD // 2),
        delta=st.integers(0, WAD),
        rank_ratio=st.integers(0, WAD),
        rank_epsilon=st.integers(1, 2 * WAD),
        tolerance=st.integers(1, 2 * WAD),
        slash_tau=st.integers(0, WAD),
        slash_miss=st.integers(0, WAD),
        slash_dev=st.integers(0, WAD),
        min_committee=st.integers(1, 3),
        baseline=st.one_of(st.just(0), st.integers(1, 3 * 10**9)),
        nodes=st.lists(
            st.tuples(st.integers(1, 10**21), st.integers(0, WAD)), min_size=1, max_size=3
        ),
        vals=st.lists(
            st.tuples(st.integers(1, 10**21), st.integers(0, WAD)), min_size=1, max_size=3
        ),
        dels=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 10**21)), max_size=4),
        behaviour=st.lists(
            st.sampled_from(["reveal", "reveal", "miss", "skip"]), min_size=3, max_size=3
        ),
        scores=st.lists(st.lists(score, min_size=3, max_size=3), min_size=3, max_size=3),
        eval_=st.lists(st.booleans(), min_size=3, max_size=3),
    )
)


def _position_earned(arena, task, p, d):
    """Unclaimed rewards of position (p, d) from its settled part and its active amount
    (a lower bound while a pending amount is not settled; exact after the exits)."""
    pos = arena.delegation(task, p, d)
    acc = arena.participant(task, p).acc
    return pos.earned - pos.claimed + pos.shares * (acc - pos.acc_checkpoint) // 10**36


@settings(
    max_examples=int(os.environ.get("ARENA_FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sc=scenario)
def test_everyone_can_exit_and_nothing_is_created(world, sc):
    arena, token = world.arena, world.token
    with boa.env.anchor():
        held0 = token.balanceOf(arena.address)
        creator = world.actors["creator"]
        task = world.make_task(
            num_rounds=sc["num_rounds"],
            bounty=sc["bounty"],
            gamma=sc["gamma"],
            delta=sc["delta"],
            rank_ratio=sc["rank_ratio"],
            rank_epsilon=sc["rank_epsilon"],
            tolerance=sc["tolerance"],
            slash_tau=sc["slash_tau"],
            slash_miss=sc["slash_miss"],
            slash_dev=sc["slash_dev"],
            min_committee=sc["min_committee"],
            baseline_score=sc["baseline"],
            min_node_stake=1,
            min_validator_stake=1,
        )
        nodes = [world.funded(f"sn{i}") for i in range(len(sc["nodes"]))]
        vals = [world.funded(f"sv{i}") for i in range(len(sc["vals"]))]
        for who, (amt, sigma) in zip(nodes, sc["nodes"], strict=True):
            with boa.env.prank(who):
                arena.join(task, NODE, amt, sigma)
        for who, (amt, sigma) in zip(vals, sc["vals"], strict=True):
            with boa.env.prank(who):
                arena.join(task, VALIDATOR, amt, sigma)
        parts = nodes + vals
        positions = []
        for i, (target, amt) in enumerate(sc["dels"]):
            d = world.funded(f"sd{i}")
            p = parts[target % len(parts)]
            with boa.env.prank(d):
                arena.delegate(task, p, amt)
            positions.append((d, p))
        paid_in = token.balanceOf(arena.address) - held0

        for r in range(sc["num_rounds"]):
            world.goto(task, r, 1)
            # a node whose own stake a slash took to 0 (slash_node_miss) can no longer commit
            nodes_in = [(i, n) for i, n in enumerate(nodes) if arena.own_stake(task, n, r) > 0]
            for i, n in nodes_in:
                with boa.env.prank(n):
                    arena.commit_model(task, model_commit(model_hash(f"s{r}{i}"), n, task, r))
            world.goto(task, r, 2)  # EVAL
            if sc["eval_"][r]:
                with boa.env.prank(creator):
                    arena.reveal_eval(task, r, shard_hash(r), "s", world.proof(task, r))
                world.goto(task, r, 3)  # REVEAL: only once the shard is out
                for i, n in nodes_in:
                    with boa.env.prank(n):
                        arena.reveal_model(task, model_hash(f"s{r}{i}"), "u")
            world.goto(task, r, 4)  # SCORE_COMMIT
            active = {v for v in vals if arena.own_stake(task, v, r) > 0}  # slashed to 0: out
            arena.draw(task, r)  # committees (PROTOCOL.md §5a), seed readable two blocks on
            boa.env.evm.patch.block_number += 2
            for j, v in enumerate(vals):
                if sc["behaviour"][j] != "skip" and v in active:
                    mine = arena.assignments(task, r, v, 0, 128)
                    s = [sc["scores"][j][k] for k in mine]
                    with boa.env.prank(v):
                        arena.commit_scores(task, score_commit(task, r, v, s, SALT))
            world.goto(task, r, 5)  # SCORE_REVEAL
            for j, v in enumerate(vals):
                if sc["behaviour"][j] == "reveal" and v in active:
                    mine = arena.assignments(task, r, v, 0, 128)
                    with boa.env.prank(v):
                        arena.reveal_scores(task, [sc["scores"][j][k] for k in mine], SALT)
            world.warp(arena.round_start(task, r + 1))
            while not finalize(arena, task, 7):
                pass
            # Solvency after every round: everything owed is covered.
            ts = arena.task_state(task)
            owed = ts.carry + ts.refund
            for p in parts:
                info = arena.participant(task, p)
                owed += info.own_active + info.own_pending + info.owner_earned - info.owner_claimed
            for d, p in positions:
                owed += arena.delegation_value(task, p, d)
                # Settled plus not-yet-settled accumulator gains, minus what was claimed.
                owed += _position_earned(arena, task, p, d)
            assert token.balanceOf(arena.address) - held0 >= owed

        assert arena.task_state(task).status == 3
        out = 0
        for who in [creator]:
            with boa.env.prank(who):
                out += arena.claim_refund(task)
        for p in parts:
            with boa.env.prank(p):
                if arena.claimable(task, p, p):
                    out += arena.claim(task, p)
                if arena.withdrawable(task, p, p):
                    out += arena.withdraw(task, p)
        for d, p in positions:
            with boa.env.prank(d):
                if arena.claimable(task, p, d):
                    out += arena.claim(task, p)
                if arena.withdrawable(task, p, d):
                    out += arena.withdraw(task, p)
        left = token.balanceOf(arena.address) - held0
        assert left >= 0 and left <= 4 * sc["num_rounds"] * (len(parts) + 1)
        burned = arena.task_state(task).burned  # slashed delegations leave circulation
        assert out + left + burned == paid_in + sum(
            arena.round_info(task, r).emission_amount for r in range(sc["num_rounds"])
        )
        assert arena.task_state(task).refund_claimed
