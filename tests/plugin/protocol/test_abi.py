"""The client ships the ABIs it was written for (protocol/abi) and types every contract with
them, so a stale contract type that Ape cached for an address cannot encode its calls."""

from __future__ import annotations

import json

import pytest
from ape_arena.protocol.abi import CONTRACTS, abi_path, contract_type, load_abi


@pytest.mark.parametrize("name", CONTRACTS)
def test_shipped_abi_is_the_compiled_one(project, name):
    compiled = [
        json.loads(a.model_dump_json(by_alias=True))
        for a in getattr(project, name).contract_type.abi
    ]
    shipped = load_abi(name)
    key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731
    assert sorted(map(key, shipped)) == sorted(map(key, compiled)), (
        f"{abi_path(name)} is not the ABI of contracts/{name}.vy: run `make compile`"
    )


def test_unknown_contract_is_refused():
    with pytest.raises(ValueError, match="no shipped ABI"):
        load_abi("Nope")


def test_client_ignores_a_stale_cached_type(accounts, project, chain):
    """Ape caches a contract type per address; the client's instance uses the shipped ABI
    even when the cache holds a different type for that address (an older deployment)."""
    from ape_arena.protocol.client import _contract

    token = accounts[0].deploy(project.ArenaToken, 10**24, 10**24)
    chain.contracts[token.address] = project.Emission.contract_type  # a wrong, stale entry
    instance = _contract(token.address, "ArenaToken")
    assert instance.contract_type.abi == contract_type("ArenaToken").abi
    assert instance.balanceOf(accounts[0]) == 10**24
