"""Deployment hygiene (review finding 8): after `deploy_all` only Emission can mint; every
deployable is built by Vyper's default code generator for the pinned hardfork, fits EIP-170,
and is byte for byte what `ape` deploys."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import EIP170_LIMIT

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
DEPLOYABLES = ["ArenaToken", "ArenaEngine", "ArenaRounds", "Arena", "Emission"]
ZERO = "0x0000000000000000000000000000000000000000"


def pinned_evm_version() -> str:
    return yaml.safe_load((ROOT / "ape-config.yaml").read_text())["vyper"]["evm_version"]


@contextlib.contextmanager
def chdir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _deploy_all(account, tmp: Path, emission: bool):
    """`deploy_all` as `ape run deploy` runs it (its record under a temp folder)."""
    from ape_arena.protocol.deploy import deploy_all

    with chdir(tmp):
        return deploy_all(account, emission=emission, emission_rate=10**15, log=print)


@pytest.fixture(scope="module", params=[False, True], ids=["no-emission", "emission"])
def deployed(request, accounts, tmp_path_factory):
    return accounts[0], _deploy_all(accounts[0], tmp_path_factory.mktemp("d"), request.param)


@pytest.fixture(scope="module")
def everything(accounts, tmp_path_factory):
    """A deployment with every deployable (emission on)."""
    dep = _deploy_all(accounts[0], tmp_path_factory.mktemp("e"), True)
    assert set(dep.contracts) == set(DEPLOYABLES)
    return dep


def test_the_deployer_cannot_mint_after_deploy(project, deployed):
    deployer, dep = deployed
    token = project.ArenaToken.at(dep.contracts["ArenaToken"])
    assert not token.is_minter(deployer)
    assert token.owner() == ZERO  # nobody can grant a minter role any more
    if "Emission" in dep.contracts:
        assert token.is_minter(dep.contracts["Emission"])
        assert project.Emission.at(dep.contracts["Emission"]).arena() == dep.contracts["Arena"]


def test_the_arena_is_wired_to_its_delegatecalled_parts(project, deployed):
    _, dep = deployed
    arena = project.Arena.at(dep.contracts["Arena"])
    assert arena.engine() == dep.contracts["ArenaEngine"]
    assert arena.rounds() == dep.contracts["ArenaRounds"]
    assert arena.token() == dep.contracts["ArenaToken"]


def test_no_experimental_code_generator_anywhere():
    for path in CONTRACTS.rglob("*.vy"):
        assert "experimental-codegen" not in path.read_text(), path
    vyper = yaml.safe_load((ROOT / "ape-config.yaml").read_text())["vyper"]
    assert not any("experimental" in key or "venom" in key for key in vyper), vyper
    assert pinned_evm_version() == "cancun"  # Base Sepolia / Base


def vyper_runtime(name: str) -> bytes:
    """Runtime bytecode from the plain `vyper` CLI: default settings + the pinned hardfork."""
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("vyper")),
            "--evm-version",
            pinned_evm_version(),
            "-f",
            "bytecode_runtime",
            f"{name}.vy",
        ],
        cwd=CONTRACTS,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return bytes.fromhex(out.stdout.strip().splitlines()[-1].removeprefix("0x"))


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_default_codegen_build_fits_eip170_and_is_what_ape_deploys(
    project, chain, everything, name
):
    runtime = vyper_runtime(name)
    assert 0 < len(runtime) <= EIP170_LIMIT, f"{name}: {len(runtime)} bytes"
    ape_runtime = bytes.fromhex(
        re.sub(r"^0x", "", getattr(project, name).contract_type.runtime_bytecode.bytecode)
    )
    assert ape_runtime == runtime, f"{name}: ape's build differs from vyper's defaults"
    code = bytes(chain.provider.get_code(everything.contracts[name]))
    # Vyper appends the immutables' values after the runtime code: the build, then data.
    assert len(code) >= len(runtime) and code[: len(runtime)] == runtime
