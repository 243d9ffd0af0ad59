"""Committee draws on Arena (protocol v2 part 2, PROTOCOL.md §5a), on titanoboa.

`draw` freezes W (a running sum of the validators' stake), K, the submission count and
their digest, and commits to the next block's hash; a later call fixes the seed. The views
`committee`, `is_assigned` and `assignments` must give exactly what the client's rule
(ape_arena.protocol.sortition) derives from the seed read off the chain.
"""

from __future__ import annotations

import boa
import pytest
from ape_arena.protocol import sortition

from tests.fuzz.conftest import E18, WAD, model_hash
from tests.fuzz.test_arena_boa import (
    AFTER,
    COMMIT,
    NODE,
    REVEAL,
    SCORE_COMMIT,
    VALIDATOR,
    _delegated_abis,  # noqa: F401  (autouse: decodes the delegatecalled events)
    commit_reveal_model,
    events,
    finalize_all,
    join,
    open_reveals,
    play_round,
)

_BLOCKS = """
@external
@view
def block_hash(n: uint256) -> bytes32:
    return blockhash(n)
"""


@pytest.fixture
def chain():
    return boa.loads(_BLOCKS)


def mine(n: int = 1):
    """Move the chain `n` blocks on (boa runs every call in block `block_number`)."""
    boa.env.evm.patch.block_number += n


def validators_of(arena, task):
    return list(arena.validators(task, 0, 1024))


def expected_weight(arena, task, r):
    return sum(arena.effective_stake(task, v, r) for v in validators_of(arena, task))


def seed_from_chain(arena, chain, task, r):
    d = arena.committee(task, r)
    return sortition.round_seed(chain.block_hash(d.target_block), task, r, d.digest)


def reveal_models(world, task, r, nodes):
    """Nodes commit and reveal (no scores); the clock stops at SCORE_COMMIT."""
    for who, name in nodes:
        commit_reveal_model(world, task, r, who, name)
    open_reveals(world, task, r)
    for who, name in nodes:
        with boa.env.prank(who):
            world.arena.reveal_model(task, model_hash(name), f"file://{name}")
    world.goto(task, r, SCORE_COMMIT)


def test_draw_freezes_weight_digest_and_seed(
    world, arena, chain, node, node2, node3, validator, validator2, validator3, delegator
):
    task = world.make_task(num_rounds=2, committee_size=2, min_committee=1)
    for who in (node, node2, node3):
        join(arena, who, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    join(arena, validator2, task, VALIDATOR, 30 * E18)
    join(arena, validator3, task, VALIDATOR, 60 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, validator, 5 * E18)
    world.goto(task, 0, COMMIT)
    with boa.env.prank(delegator):  # activates in round 1: not in round 0's W
        arena.delegate(task, validator2, 7 * E18)
    nodes = [(node, "a"), (node2, "b"), (node3, "c")]
    reveal_models(world, task, 0, nodes)

    w = expected_weight(arena, task, 0)
    assert w == 105 * E18 and arena.validator_weight(task) == w
    with boa.env.prank(node):
        arena.draw(task, 0)
    (ev,) = events(arena, "CommitteeDrawn")
    digest = sortition.submissions_digest([model_hash(n) for _, n in nodes])
    target = boa.env.evm.patch.block_number + 1
    assert (ev.task, ev.round, ev.target_block) == (task, 0, target)
    assert (ev.weight, ev.committee_size, ev.submissions, ev.digest) == (w, 2, 3, digest)
    d = arena.committee(task, 0)
    assert d.seed == b"\0" * 32 and d.weight == w  # the target block is not mined yet
    with pytest.raises(boa.BoaError, match="arena: no seed"):
        arena.is_assigned(task, 0, 0, validator)
    with boa.reverts("arena: seed block not mined"):
        arena.draw(task, 0)
    mine()  # the target block itself: its hash is not readable inside it
    assert arena.committee(task, 0).seed == b"\0" * 32
    with boa.reverts("arena: seed block not mined"):
        arena.draw(task, 0)

    mine()
    seed = seed_from_chain(arena, chain, task, 0)
    assert arena.committee(task, 0).seed == seed  # readable before anyone fixes it
    arena.draw(task, 0)
    (ev,) = events(arena, "RoundSeeded")
    assert (ev.task, ev.round, ev.seed) == (task, 0, seed)
    with boa.reverts("arena: already drawn"):
        arena.draw(task, 0)

    for j, v in enumerate(validators_of(arena, task)):
        eff = arena.effective_stake(task, v, 0)
        assert arena.participant(task, v).validator_index == j
        mine_ = [k for k in range(3) if sortition.is_assigned(seed, k, j, eff, w, 2)]
        assert [arena.is_assigned(task, 0, k, v) for k in range(3)] == [
            k in mine_ for k in range(3)
        ]
        assert list(arena.assignments(task, 0, v, 0, 128)) == mine_
        assert list(arena.assignments(task, 0, v, 1, 1)) == [k for k in mine_ if k == 1]
    # validator3: K * eff = 120 >= W = 105, so it sits on every committee
    assert list(arena.assignments(task, 0, validator3, 0, 3)) == [0, 1, 2]
    assert not arena.is_assigned(task, 0, 0, node)  # not a validator: no stake to draw
    with pytest.raises(boa.BoaError, match="arena: no such slot"):
        arena.is_assigned(task, 0, 3, validator)
    with pytest.raises(boa.BoaError, match="arena: page too long"):
        arena.assignments(task, 0, validator, 0, 1025)


def test_draw_reverts(world, arena, chain, node, validator, creator, delegator):
    with boa.reverts("arena: unknown task"):
        arena.draw(1, 0)
    task = world.make_task(num_rounds=2, min_committee=1)
    join(arena, node, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    for phase in (COMMIT, REVEAL):
        world.goto(task, 0, phase)
        with boa.reverts("arena: reveals not closed"):
            arena.draw(task, 0)
    with boa.reverts("arena: finalize earlier rounds first"):
        arena.draw(task, 1)
    play_round(world, task, 0, [(node, "a")], {})  # nobody scores, nobody draws
    arena.draw(task, 0)  # late (in round 1) but before finalize: allowed
    with boa.reverts("arena: finalize earlier rounds first"):
        arena.draw(task, 1)
    finalize_all(arena, task)
    with boa.reverts("arena: round finalized"):
        arena.draw(task, 0)
    with boa.reverts("arena: reveals not closed"):
        arena.draw(task, 1)  # round 1 is in its COMMIT phase now
    other = world.make_task(num_rounds=1)
    with boa.env.prank(creator):
        arena.cancel_task(other)
    with boa.reverts("arena: task not active"):
        arena.draw(other, 0)


def test_weight_follows_slashes_merges_and_leaving_delegators(
    world, arena, chain, node, validator, validator2, validator3, delegator, delegator2
):
    """W of round 1 after a round 0 with a slash, a delegation made in round 0, a bucket
    merged after the slash and a delegator leaving the slashed validator."""
    task = world.make_task(num_rounds=3, slash_miss=WAD // 3, min_committee=1)
    join(arena, node, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 100 * E18)
    join(arena, validator2, task, VALIDATOR, 101 * E18)
    with boa.env.prank(delegator):
        arena.delegate(task, validator2, 33 * E18 + 7)
    world.goto(task, 0, COMMIT)
    with boa.env.prank(delegator2):
        arena.delegate(task, validator2, 10 * E18 + 1)  # round 1
    join(arena, validator3, task, VALIDATOR, 10 * E18)  # round 1
    play_round(world, task, 0, [(node, "a")], {validator: [5]}, no_reveal=[validator2])
    finalize_all(arena, task)
    assert arena.participant(task, validator2).slashed > 0
    assert arena.validator_weight(task) == expected_weight(arena, task, 1)
    with boa.env.prank(delegator):
        arena.withdraw(task, validator2)  # leaves the slashed validator
    assert arena.validator_weight(task) == expected_weight(arena, task, 1)
    world.goto(task, 1, COMMIT)
    with boa.env.prank(delegator):
        arena.delegate(task, validator, 3 * E18)  # round 2; merges nothing of round 1
    join(arena, validator2, task, VALIDATOR, 1)  # tops up: merges its round-1 bucket
    w1 = expected_weight(arena, task, 1)
    assert arena.validator_weight(task) == w1
    reveal_models(world, task, 1, [(node, "b")])
    arena.draw(task, 1)
    assert arena.committee(task, 1).weight == w1
    with boa.env.prank(delegator2), boa.reverts("arena: committees drawn"):
        arena.withdraw(task, validator2)  # no leaving while a drawn round is open


def test_redraw_after_the_seed_window(world, arena, chain, node, validator, validator2):
    task = world.make_task(num_rounds=1, min_committee=1)
    join(arena, node, task, NODE, 10 * E18)
    join(arena, validator, task, VALIDATOR, 10 * E18)
    join(arena, validator2, task, VALIDATOR, 10 * E18)
    reveal_models(world, task, 0, [(node, "a")])
    arena.draw(task, 0)
    first = arena.committee(task, 0).target_block
    mine(arena.SEED_WINDOW() + 1)  # the last block that can still read the target's hash
    assert arena.committee(task, 0).seed == seed_from_chain(arena, chain, task, 0)
    mine()  # the target block's hash is readable no more
    assert arena.committee(task, 0).seed == b"\0" * 32
    with pytest.raises(boa.BoaError, match="arena: no seed"):
        arena.assignments(task, 0, validator, 0, 1)
    arena.draw(task, 0)
    (ev,) = events(arena, "CommitteeDrawn")
    assert ev.target_block == boa.env.evm.patch.block_number + 1 > first
    assert ev.weight == 20 * E18 and ev.submissions == 1
    mine(2)
    arena.draw(task, 0)
    assert arena.committee(task, 0).seed == seed_from_chain(arena, chain, task, 0)
    world.goto(task, 0, AFTER)
    finalize_all(arena, task)


def test_committee_size_is_checked_at_create(world, arena):
    for bad in (0, 65):
        with boa.reverts("arena: parameter out of range"):
            world.make_task(committee_size=bad)
    assert arena.task_params(world.make_task(committee_size=1)).committee_size == 1
