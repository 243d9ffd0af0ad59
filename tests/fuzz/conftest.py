"""Titanoboa fixtures for the Arena contract tests (fast, in-process EVM).

Contracts are compiled once per session (``boa.load_partial``) and deployed once; every test
runs inside ``boa.env.anchor()`` so state changes never leak between tests. Named actors:
``owner`` (deployer), ``creator``, ``node``/``node2``/``node3``, ``validator``/``validator2``/
``validator3``/``validator4``, ``delegator``, ``delegator2``, ``attacker``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import boa
import pytest
from ape_arena.evaluation.merkle import (
    PositionalTree,
    leaf,  # noqa: F401
)

# Commitments and eval leaves: the plugin's own implementation (re-exported for the tests).
from ape_arena.protocol import model_commitment as model_commit  # noqa: F401
from ape_arena.protocol import score_commitment as score_commit  # noqa: F401
from ape_arena.protocol.ranking import rank_order
from ape_arena.tools.scale_chains import evm_version  # ape-config.yaml's vyper.evm_version
from boa.contracts.base_evm_contract import RawLogEntry
from boa.contracts.event_decoder import decode_log
from boa.util.abi import Address
from eth_utils import keccak

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
ZERO = "0x" + "00" * 20
WAD = 10**18
E18 = 10**18
INVALID = 2**64 - 1
UNAVAILABLE = 2**64 - 2
PHASE = 100  # seconds per phase in the default task
ROUND_LEN = 5 * PHASE
START_DELAY = 1_000
FUNDING = 1_000_000 * E18
ACTORS = (
    "creator",
    "node",
    "node2",
    "node3",
    "validator",
    "validator2",
    "validator3",
    "validator4",
    "delegator",
    "delegator2",
    "attacker",
)


@functools.cache
def partials():
    """Compile each contract once per process, for the project's pinned hardfork."""
    args = {"evm_version": evm_version()}
    return {
        name: boa.load_partial(str(CONTRACTS / f"{name}.vy"), compiler_args=args)
        for name in ("ArenaToken", "ArenaEngine", "ArenaRounds", "Arena", "Emission")
        if (CONTRACTS / f"{name}.vy").exists()
    }


def merkle(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Positional eval tree (ape_arena.evaluation.merkle): (root, proof of each position)."""
    tree = PositionalTree(leaves)
    return tree.root, [tree.proof(i) for i in range(len(leaves))]


def finalize(arena, task: int, max_steps: int, order: list[int] | None = None):
    """arena.finalize with the caller's RANK order (PROTOCOL.md §6) computed from the views
    by the client's ``rank_order`` unless given."""
    if order is None:
        order = rank_order(arena, task, max_steps)
    return arena.finalize(task, max_steps, order)


def delegated_events(contract, name: str, abis: dict) -> list:
    """The last call's ``name`` events of ``contract``. Events that ArenaEngine and
    ArenaRounds code logs inside Arena (delegatecall) carry Arena's address but boa only
    decodes what Arena's own code logs: those raw logs are decoded with ``abis`` (the
    engine's and the rounds' event ABIs); raw logs of other addresses are left out."""
    out = []
    for e in contract.get_logs(strict=False):
        if isinstance(e, RawLogEntry):
            if Address(e.address) != Address(contract.address):
                continue
            e = decode_log(Address(e.address), abis, e)
        if type(e).__name__ == name:
            out.append(e)
    return out


def shard_hash(round_: int) -> bytes:
    return keccak(b"shard-%d" % round_)


def model_hash(name: str) -> bytes:
    return keccak(b"model-" + name.encode())


class World:
    """Deployed token + engine + arena and funded actors."""

    def __init__(self):
        p = partials()
        self.owner = boa.env.generate_address("owner")
        boa.env.eoa = self.owner
        self.token = p["ArenaToken"].deploy(2**120, 0)
        self.engine = p["ArenaEngine"].deploy()
        self.rounds = p["ArenaRounds"].deploy()
        self.arena = p["Arena"].deploy(
            self.token.address, ZERO, self.engine.address, self.rounds.address
        )
        self.actors = {name: boa.env.generate_address(name) for name in ACTORS}
        for addr in self.actors.values():
            self.token.mint(addr, FUNDING)
            with boa.env.prank(addr):
                self.token.approve(self.arena.address, 2**256 - 1)
        self.roots = {}

    def params(self, **kw):
        """Default task parameters (a dict in TaskParams order); keyword overrides."""
        num_rounds = kw.get("num_rounds", 3)
        leaves = [leaf(r, shard_hash(r)) for r in range(max(num_rounds, 1))]
        root, _ = merkle(leaves)
        d = dict(
            bounty=3_000 * E18,
            spec_hash=keccak(b"spec"),
            spec_uri="file://spec.json",
            eval_root=root,
            num_rounds=num_rounds,
            start_time=boa.env.evm.patch.timestamp + START_DELAY,
            commit_duration=PHASE,
            eval_duration=PHASE,
            reveal_duration=PHASE,
            score_commit_duration=PHASE,
            score_reveal_duration=PHASE,
            min_node_stake=10 * E18,
            min_validator_stake=10 * E18,
            gamma=WAD // 5,
            delta=WAD // 4,
            rank_ratio=WAD // 2,
            rank_epsilon=WAD // 100,
            tolerance=WAD // 2,
            slash_tau=WAD // 5,
            slash_miss=WAD // 10,
            slash_dev=WAD // 20,
            slash_node_miss=WAD // 10,
            min_committee=2,
            baseline_score=0,
            committee_size=64,
            keeper_tip=0,
        )
        d.update(kw)
        return d

    def funded(self, name: str) -> str:
        """A fresh account holding 1e6 tokens, the Arena approved to pull them."""
        a = boa.env.generate_address(name)
        self.token.mint(a, 10**24)
        with boa.env.prank(a):
            self.token.approve(self.arena.address, 2**256 - 1)
        return a

    def make_task(self, creator=None, **kw) -> int:
        d = self.params(**kw)
        with boa.env.prank(creator or self.actors["creator"]):
            task = self.arena.create_task(tuple(d.values()))
        self.roots[task] = d["num_rounds"]
        return task

    def proof(self, task: int, round_: int) -> list[bytes]:
        leaves = [leaf(r, shard_hash(r)) for r in range(self.roots[task])]
        return merkle(leaves)[1][round_]

    # ---- time
    def now(self) -> int:
        return boa.env.evm.patch.timestamp

    def warp(self, t: int):
        boa.env.evm.patch.timestamp = t

    def goto(self, task: int, round_: int, phase: int):
        """Warp to the start of `phase` (1..5, 6 = after the round) of `round_`."""
        start = self.arena.round_start(task, round_)
        self.warp(start + (phase - 1) * PHASE)


@pytest.fixture(scope="session")
def world():
    return World()


@pytest.fixture(autouse=True)
def _isolate(world):
    with boa.env.anchor():
        yield


@pytest.fixture
def arena(world):
    return world.arena


@pytest.fixture
def token(world):
    return world.token


@pytest.fixture
def engine(world):
    return world.engine


@pytest.fixture
def owner(world):
    return world.owner


@pytest.fixture
def make_task(world):
    return world.make_task


def _actor(name):
    @pytest.fixture
    def f(world):
        return world.actors[name]

    f.__name__ = name
    return f


for _name in ACTORS:
    globals()[_name] = _actor(_name)


def pytest_terminal_summary(terminalreporter):
    """Print how many runs of the stateful machine finalized a paid-out round (it is steered
    to play whole rounds; test_most_runs_finalize_a_paid_round asserts at least half)."""
    import sys

    machine = sys.modules.get("tests.fuzz.test_stateful")
    if machine is None:
        return
    paid, runs = machine.paid_round_share()
    if runs:
        seeded = machine.STATS["seeded"]
        terminalreporter.write_line(
            f"stateful machine: {paid}/{runs} runs finalized a paid-out round ({paid / runs:.0%}); "
            f"{seeded} fixed a committee seed"
        )


class ModuleHarness:
    """A harness contract (Vyper source exposing a stateless module's internal functions,
    ``from contracts import <module>``), compiled once and deployed once per test: each
    test runs in its own boa anchor, which drops the previous deployment."""

    def __init__(self, source: str):
        self.source = source
        self._contract = None

    @functools.cached_property
    def partial(self):
        import os

        cwd = os.getcwd()
        os.chdir(ROOT)  # `from contracts import <module>` resolves from the repo root
        try:
            return boa.loads_partial(self.source)
        finally:
            os.chdir(cwd)

    def __call__(self):
        c = self._contract
        if c is None or len(boa.env.get_code(c.address)) == 0:
            c = self._contract = self.partial.deploy()
        return c
