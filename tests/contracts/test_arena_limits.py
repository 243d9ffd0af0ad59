"""Arena on anvil: the compile-time bounds MAX_SUBMISSIONS (128 revealed submissions per round)
and MAX_VALIDATORS (32 validators per task), the EIP-170 code size of the deployables."""

import ape
import pytest

from .arena_helpers import (
    MIN_STAKE,
    NODE,
    PHASE_COMMIT,
    PHASE_ENDED,
    VALIDATOR,
    Bulk,
    model_commitment,
    sha,
)
from .conftest import EIP170_LIMIT


@pytest.mark.parametrize("name", ["Arena", "ArenaEngine", "ArenaRounds", "ArenaToken"])
def test_deployables_fit_eip170(project, name):
    runtime = getattr(project, name).contract_type.runtime_bytecode.bytecode
    size = (len(runtime) - 2) // 2
    assert size <= EIP170_LIMIT, (
        f"{name} runtime is {size} bytes > {EIP170_LIMIT}: cannot deploy on Ethereum/Base"
    )


@pytest.fixture
def bulk(chain):
    b = Bulk(chain)
    yield b
    b.close()


def _fund(bulk, arena, arena_token, owner, who: str, amount: int):
    bulk.fund_eth(who)
    bulk.send(owner.address, arena_token, "transfer", who, amount)
    bulk.send(who, arena_token, "approve", arena.address, 2**256 - 1)


def test_round_full_at_max_submissions(arena, arena_token, make_task, bulk, owner, node, creator):
    t = make_task()
    nodes = [bulk.address(f"limits-node-{i}") for i in range(128)]
    for n in nodes:
        _fund(bulk, arena, arena_token, owner, n, MIN_STAKE)
        bulk.send(n, arena, "join", t.id, NODE, MIN_STAKE, 0)
    t.join(node, NODE)
    t.warp(0, PHASE_COMMIT)
    for i, n in enumerate(nodes):
        bulk.send(n, arena, "commit_model", t.id, model_commitment(sha(f"m{i}"), n, t.id, 0))
    t.commit_model(node, sha("one too many"), 0)
    t.open_reveals(0)
    for i, n in enumerate(nodes):
        bulk.send(n, arena, "reveal_model", t.id, sha(f"m{i}"), f"file://m{i}")
    assert t.round(0).num_submissions == 128
    with ape.reverts("arena: round full"):
        t.reveal_model(node, sha("one too many"))


def test_too_many_validators(arena, arena_token, make_task, bulk, owner, validator, node, creator):
    t = make_task()
    vals = [bulk.address(f"limits-validator-{i}") for i in range(32)]
    for v in vals:
        _fund(bulk, arena, arena_token, owner, v, MIN_STAKE)
        bulk.send(v, arena, "join", t.id, VALIDATOR, MIN_STAKE, 0)
    assert len(arena.validators(t.id)) == 32
    with ape.reverts("arena: too many validators"):
        t.join(validator, VALIDATOR)
    t.join(node, NODE)  # nodes are not bounded per task
    # Finalizing a round with 32 validators and no submissions stays cheap and works.
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    assert tx.return_value is True
    assert tx.gas_used < 15_000_000
