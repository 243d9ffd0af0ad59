"""Build-level guarantees of the contracts: every deployable fits the EIP-170 runtime limit
(Base Sepolia enforces it) and ArenaEngine sees exactly Arena's storage layout for the
shared `arena_state` module (it runs on Arena's storage through delegatecall)."""

from __future__ import annotations

import pytest

from tests.fuzz.conftest import partials

EIP170 = 24_576


@pytest.mark.parametrize("name", ["Arena", "ArenaEngine", "ArenaRounds", "Emission", "ArenaToken"])
def test_runtime_size_under_eip170(name):
    size = len(partials()[name].compiler_data.bytecode_runtime)
    print(name, size)
    assert 0 < size < EIP170


def test_engine_shares_arena_storage_layout():
    arena = partials()["Arena"].compiler_data.storage_layout["storage_layout"]
    engine = partials()["ArenaEngine"].compiler_data.storage_layout["storage_layout"]
    rounds = partials()["ArenaRounds"].compiler_data.storage_layout["storage_layout"]
    assert "st" in arena and arena["st"] == engine["st"] == rounds["st"]
    # The shared module comes first, so nothing of Arena's own modules overlaps it.
    last_shared = max(v["slot"] + v["n_slots"] for v in arena["st"].values())
    for mod, vars_ in arena.items():
        if mod == "st":
            continue
        for v in vars_.values():
            assert v["slot"] >= last_shared, (mod, v)
    assert set(engine) == {"st"}
    assert set(rounds) == {"st"}
