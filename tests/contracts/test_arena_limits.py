"""Arena on anvil: no cap on validators (the paged ``validators`` view; the one bound left,
MAX_SUBMISSIONS = 1,024 revealed submissions per round, is tested on titanoboa in
tests/fuzz/test_arena_boa.py::test_round_full); the EIP-170 code size of the deployables."""

import ape
import pytest

from .arena_helpers import (
    MIN_STAKE,
    NODE,
    PHASE_ENDED,
    VALIDATOR,
    fund_bulk,
)
from .conftest import EIP170_LIMIT


@pytest.mark.parametrize("name", ["Arena", "ArenaEngine", "ArenaRounds", "ArenaToken"])
def test_deployables_fit_eip170(project, name):
    runtime = getattr(project, name).contract_type.runtime_bytecode.bytecode
    size = (len(runtime) - 2) // 2
    assert size <= EIP170_LIMIT, (
        f"{name} runtime is {size} bytes > {EIP170_LIMIT}: cannot deploy on Ethereum/Base"
    )


def test_no_validator_cap(arena, arena_token, make_task, bulk, owner, validator, node, creator):
    """v1 admitted 32 validators per task, first come first served: 32 minimum-stake joins
    locked every later validator out. Now 40 join and one more still can; the paged view
    lists them all."""
    t = make_task()
    vals = [bulk.address(f"limits-validator-{i}") for i in range(40)]
    for v in vals:
        fund_bulk(bulk, arena, arena_token, owner, v, MIN_STAKE)
        bulk.send(v, arena, "join", t.id, VALIDATOR, MIN_STAKE, 0)
    t.join(validator, VALIDATOR)
    assert arena.task_state(t.id).validator_count == 41
    assert [str(a) for a in arena.validators(t.id, 0, 1024)] == [*vals, validator.address]
    assert [str(a) for a in arena.validators(t.id, 38, 2)] == vals[38:]
    assert [str(a) for a in arena.validators(t.id, 40, 5)] == [validator.address]
    assert list(arena.validators(t.id, 41, 5)) == []
    with ape.reverts("arena: page too long"):
        arena.validators(t.id, 0, 1025)
    t.join(node, NODE)
    # Finalizing a round with 41 validators and no submissions stays cheap and works.
    t.warp(0, PHASE_ENDED)
    tx = t.finalize(creator)
    assert tx.return_value is True
    assert tx.gas_used < 15_000_000
