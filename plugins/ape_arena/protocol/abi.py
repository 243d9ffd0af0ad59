"""The ABIs this client was written for, shipped with it (``protocol/abi/*.json``).

The client types every contract it talks to from these files, never from Ape's address
cache, which keeps the contract type of an address across runs: after a redeployment with
another version of the contracts at the same address (a local chain restarted), a cached
type would encode calls the new code cannot decode. ``write_abis`` refreshes the files from
the compiled build (``make compile`` does it); tests check they equal the build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).with_name("abi")
CONTRACTS = ("Arena", "ArenaToken", "Emission")


def abi_path(name: str) -> Path:
    return FOLDER / f"{name}.json"


def load_abi(name: str) -> list[dict[str, Any]]:
    """The shipped ABI of ``name`` (one of ``CONTRACTS``)."""
    if name not in CONTRACTS:
        raise ValueError(f"no shipped ABI for {name!r} (have {', '.join(CONTRACTS)})")
    return json.loads(abi_path(name).read_text())


def contract_type(name: str):
    """An ``ethpm_types.ContractType`` with the shipped ABI of ``name``."""
    from ethpm_types import ContractType

    return ContractType.model_validate({"contractName": name, "abi": load_abi(name)})


def write_abis(build_file: str | Path = ".build/__local__.json") -> list[Path]:
    """Copy the ABIs of ``CONTRACTS`` from Ape's compiled build into ``protocol/abi/``."""
    types = json.loads(Path(build_file).read_text())["contractTypes"]
    FOLDER.mkdir(parents=True, exist_ok=True)
    out = []
    for name in CONTRACTS:
        path = abi_path(name)
        path.write_text(json.dumps(types[name]["abi"], indent=1, sort_keys=True) + "\n")
        out.append(path)
    return out


if __name__ == "__main__":  # python -m ape_arena.protocol.abi [BUILD_FILE]
    import sys

    for p in write_abis(*sys.argv[1:]):
        print(f"wrote {p}")
