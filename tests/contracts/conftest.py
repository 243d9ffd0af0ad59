"""Fixtures for contract tests that run through Ape on a local anvil node."""

import functools

import ape.utils.testing
import pytest
from ape_foundry.provider import FoundryProvider

# Speed: on every revert ape-foundry prints a call trace, whose enrichment asks "is this address
# a test account?" and re-derives all test accounts from the mnemonic in pure Python (~2 s per
# revert on this machine). The derivation is a pure function: cache it for the session.
ape.utils.testing._generate_dev_account = functools.lru_cache(maxsize=None)(
    ape.utils.testing._generate_dev_account
)


def _quiet_revert(original):
    """ape-foundry also prints a call trace and builds a source traceback for every revert
    (~0.8 s each here); revert tests only need the message, so drop the transaction context."""

    @functools.wraps(original)
    def wrapper(self, exception, revert_message=None, **kwargs):
        kwargs.pop("trace", None)
        kwargs.pop("txn", None)
        return original(self, exception, revert_message=revert_message, **kwargs)

    return wrapper


FoundryProvider._handle_execution_reverted = _quiet_revert(
    FoundryProvider._handle_execution_reverted
)

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


# ---- Arena: named actors, a funded deployment, the make_task(...) factory -----------------
# Accounts 0-3 are the token tests' owner/minter/holder/non_owner; the Arena actors follow.

from .arena_helpers import new_task  # noqa: E402

FUNDING = 1_000_000 * 10**18


@pytest.fixture(scope="session")
def creator(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def node(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def node2(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def node3(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def validator(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def validator2(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def validator3(accounts):
    return accounts[10]


@pytest.fixture(scope="session")
def delegator(accounts):
    return accounts[11]


@pytest.fixture(scope="session")
def delegator2(accounts):
    return accounts[12]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[13]


@pytest.fixture(scope="session")
def actors(
    creator,
    node,
    node2,
    node3,
    validator,
    validator2,
    validator3,
    delegator,
    delegator2,
    attacker,
    non_owner,
):
    return [
        creator,
        node,
        node2,
        node3,
        validator,
        validator2,
        validator3,
        delegator,
        delegator2,
        attacker,
        non_owner,
    ]


@pytest.fixture(scope="session")
def arena_token(project, owner):
    return owner.deploy(project.ArenaToken, CAP, INITIAL)


EIP170_LIMIT = 24_576  # bytes of runtime code a contract may have on Ethereum, Base, ...
ZERO = "0x0000000000000000000000000000000000000000"


def deploy_arena(project, owner, token, emission=ZERO):
    """ArenaEngine (finalize) and ArenaRounds (commits and reveals), both delegatecalled,
    then Arena(token, emission, engine, rounds)."""
    engine = owner.deploy(project.ArenaEngine)
    rounds = owner.deploy(project.ArenaRounds)
    return owner.deploy(project.Arena, token, emission, engine, rounds)


@pytest.fixture(scope="session")
def arena(project, owner, arena_token, actors):
    """Arena without emission; every actor holds FUNDING tokens and approved the Arena."""
    contract = deploy_arena(project, owner, arena_token)
    for who in actors:
        arena_token.transfer(who, FUNDING, sender=owner)
        arena_token.approve(contract, 2**256 - 1, sender=who)
    return contract


@pytest.fixture
def make_task(arena, chain, creator):
    """Factory: make_task(sender=creator, shards=None, **params) -> Task (a created task).

    Defaults (arena_helpers.default_params): 1 round of 4 x 100 s phases starting
    START_DELAY s from now (joins before the start count in round 0), bounty 1000 tokens,
    eval root over one shard per round.
    """

    def factory(sender=None, shards=None, **overrides):
        return new_task(arena, chain, sender or creator, shards, **overrides)

    return factory


@pytest.fixture
def bulk(chain):
    """Many set-up transactions from impersonated addresses (arena_helpers.Bulk)."""
    from .arena_helpers import Bulk

    b = Bulk(chain)
    yield b
    b.close()
