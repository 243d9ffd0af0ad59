"""Fixtures for contract tests that run through Ape on a local anvil node."""

import pytest

CAP = 1_000_000_000 * 10**18
INITIAL = 100_000_000 * 10**18


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def minter(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def holder(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def non_owner(accounts):
    return accounts[3]


@pytest.fixture
def token(project, owner):
    return owner.deploy(project.ArenaToken, CAP, INITIAL)
