"""Fixtures for the chain-client and CLI tests (imported by test_chain*.py / test_cli_*.py).

Everything runs on the anvil that ``ape test --network ethereum:local:foundry`` starts. The
contracts are deployed once per module with ``ape_arena.protocol.deploy.deploy_all`` (its deployment
record goes to a temporary folder, never to the repo's ``deployments/``); Ape's isolation
reverts each test's transactions, and every task is created relative to the current chain
time, so tests are independent.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from ape_arena.evaluation.merkle import EvalTree
from ape_arena.protocol import TOKEN, ArenaClient, Role, TaskParams

FUND = 1_000_000 * TOKEN
PHASE = 100  # seconds per phase in test tasks


@contextlib.contextmanager
def chdir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def actors(accounts):
    """Named actors (never ``accounts[i]`` in a test body)."""
    return SimpleNamespace(
        deployer=accounts[0],
        creator=accounts[1],
        node=accounts[2],
        node2=accounts[3],
        validator=accounts[4],
        validator2=accounts[5],
        delegator=accounts[6],
        attacker=accounts[7],
    )


@pytest.fixture(scope="module")
def deployment_root(tmp_path_factory, actors):
    """Deploy ArenaToken + Arena once; the record is written under a temp project root."""
    from ape_arena.protocol.deploy import deploy_all

    root = tmp_path_factory.mktemp("arena-project")
    with chdir(root):
        dep = deploy_all(actors.deployer, log=lambda _m: None)
    assert "Arena" in dep.contracts, "Arena did not compile/deploy"
    return SimpleNamespace(root=root, contracts=dep.contracts)


@pytest.fixture(scope="module")
def arena(deployment_root, actors) -> ArenaClient:
    """An ``ArenaClient`` (default sender: the creator) with time warp on; actors funded."""
    client = ArenaClient.at(
        deployment_root.contracts["Arena"],
        deployment_root.contracts["ArenaToken"],
        actors.creator,
    ).enable_warp()
    for name in ("creator", "node", "node2", "validator", "validator2", "delegator", "attacker"):
        client.token.transfer(getattr(actors, name), FUND, sender=actors.deployer)
    return client


@pytest.fixture
def shards():
    """Three fake per-round shard hashes and their eval tree."""
    hashes = [bytes([i + 1]) * 32 for i in range(3)]
    return EvalTree(hashes)


@pytest.fixture
def make_task(arena, actors, shards) -> Callable[..., int]:
    """``make_task(**param_changes)`` -> task id; starts ``start_in`` s from now (default 600,
    generous so a loaded machine never starts the task early; tests warp),
    3 rounds of 4 x PHASE seconds, bounty 3000 ARENA."""

    def make(start_in: int = 600, **changes) -> int:
        params = TaskParams(
            bounty=3000 * TOKEN,
            spec_hash=b"\x11" * 32,
            eval_root=shards.root,
            spec_uri="file:///spec.json",
            num_rounds=3,
            start_time=arena.now() + start_in if start_in else 0,
            commit_duration=PHASE,
            eval_duration=PHASE,
            reveal_duration=PHASE,
            score_commit_duration=PHASE,
            score_reveal_duration=PHASE,
            min_node_stake=10 * TOKEN,
            min_validator_stake=100 * TOKEN,
            **changes,
        )
        return arena.create_task(params, sender=actors.creator)

    return make


@pytest.fixture
def joined_task(arena, actors, make_task) -> int:
    """A task (not started) with one node, one validator, and a delegator backing the node."""
    task = make_task()
    arena.join(task, Role.NODE, 100 * TOKEN, commission=TOKEN // 10, sender=actors.node)
    arena.join(task, Role.VALIDATOR, 500 * TOKEN, sender=actors.validator)
    arena.delegate(task, actors.node, 50 * TOKEN, sender=actors.delegator)
    return task
