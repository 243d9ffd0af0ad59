"""``make scale``: one task at the paper's size (603 nodes, 1,051 validators, 63,265
delegators) played for one full round at K = 16, 32 and 64 on titanoboa, with a sample
replayed on anvil to show that the two measure the same gas.

Each K is its own task (K is a task parameter) on the same accounts: every node and
validator joins it, and every delegator backs one participant of it through a real
``delegate`` call. Among the validators: one liar (reports 3x every loss), one silent
(commits, never reveals), one holding 10% of all validator stake; the others are honest and
agree. The round runs as the clients run it: commits, the eval shard, reveals, ``draw`` and
the seed, the assignments of each validator (``sortition``, the contract's rule, checked
against ``assignments`` for a sample), paged score reveals (REVEAL_PAGE), and finalize pages
sized as ``Arena.finalize`` in the client does (twice the last page, halved while the gas
exceeds PAGE_GAS). Writes scale-report.md.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ..evaluation.merkle import PositionalTree, leaf
from ..protocol import model_commitment, score_commitment, sortition
from ..protocol.ranking import RankOrders
from ..protocol.types import (
    DEFAULT_FINALIZE_STEPS,
    MAX_FINALIZE_STEPS,
    PAGE_GAS,
    REVEAL_PAGE,
    Stage,
)
from .scale_chains import AnvilChain, BoaChain, Chain, address

E18 = 10**18
WAD = 10**18
NODE, VALIDATOR = 1, 2
TX_LIMIT = 15_000_000
PHASE = 100_000  # seconds per phase: anvil's clock moves on between warps
PAPER = {"nodes": 603, "validators": 1051, "delegators": 63_265}
SAMPLE = {"nodes": 24, "validators": 60, "delegators": 240}
SIZES = (16, 32, 64)
WHALE_SHARE = 10  # percent of all validator stake on one identity


def loss(k: int) -> int:
    """Node k's model's true eval loss (scaled 1e9), distinct per node."""
    return 1_000_000_000 + 7_919_000 * k


@dataclass
class People:
    nodes: list[str]
    validators: list[str]  # honest ones, then liar, silent, whale
    delegators: list[str]
    node_stake: list[int]
    val_stake: list[int]  # own stake of every validator but the whale (set per task)
    backs: list[int]  # delegator i backs participant backs[i] (index into nodes + validators)
    amounts: list[int]
    creator: str = field(default_factory=lambda: address("creator"))
    keeper: str = field(default_factory=lambda: address("keeper"))

    @property
    def liar(self) -> str:
        return self.validators[-3]

    @property
    def silent(self) -> str:
        return self.validators[-2]

    @property
    def whale(self) -> str:
        return self.validators[-1]


def people(nodes: int, validators: int, delegators: int, seed: int = 7) -> People:
    """The accounts and their stakes: lognormal validator stakes (median 100 tokens),
    delegations of 1-20 tokens spread at random over every participant but the whale."""
    rng = random.Random(seed)
    ns = [address(f"node-{i}") for i in range(nodes)]
    vs = [address(f"validator-{i}") for i in range(validators)]
    ds = [address(f"delegator-{i}") for i in range(delegators)]
    node_stake = [rng.randint(10, 100) * E18 for _ in ns]
    val_stake = [int(100 * E18 * rng.lognormvariate(0, 1)) + 10 * E18 for _ in vs]
    backs = [rng.randrange(nodes + validators - 1) for _ in ds]  # never the whale (last)
    amounts = [rng.randint(1, 20) * E18 for _ in ds]
    return People(ns, vs, ds, node_stake, val_stake, backs, amounts)


class Progress:
    """One line every ``every`` items and at the end, with the elapsed time."""

    def __init__(self, log: Callable[[str], None], what: str, total: int, every: int):
        self.log, self.what, self.total, self.every = log, what, total, every
        self.t0 = time.monotonic()

    def __call__(self, i: int) -> None:
        if (i + 1) % self.every == 0 or i + 1 == self.total:
            dt = time.monotonic() - self.t0
            self.log(f"  {self.what}: {i + 1:,}/{self.total:,} ({dt:.0f}s)")


def fund(chain: Chain, ppl: People, log: Callable[[str], None]) -> None:
    """Tokens and approvals for everyone (the whale's stake is a tenth of all the others')."""
    token, arena = chain.token, chain.arena
    everyone = [ppl.creator, ppl.keeper, *ppl.nodes, *ppl.validators, *ppl.delegators]
    if isinstance(chain, AnvilChain):
        chain.fund_eth(everyone)
    prog = Progress(log, "fund", len(everyone), 20_000)
    for i, a in enumerate(everyone):
        chain.tx(chain.owner, token, "mint", a, 10**30 if a == ppl.whale else 10**27)
        chain.tx(a, token, "approve", arena.address, 2**256 - 1)
        prog(i)


def params(
    chain: Chain, size: int, rounds: int = 1, keeper_tip: int = E18
) -> tuple[tuple, PositionalTree]:
    tree = PositionalTree([leaf(r, _shard(r)) for r in range(rounds)])
    bounty = 1_000_000 * E18
    p = (
        bounty,
        b"\x01" * 32,  # spec_hash
        "file://spec.json",
        tree.root,
        rounds,
        chain.now() + 10 * PHASE,  # start_time: after the joins
        PHASE, PHASE, PHASE, PHASE, PHASE,
        10 * E18,  # min_node_stake
        10 * E18,  # min_validator_stake
        WAD // 10,  # gamma
        WAD // 2,  # delta
        WAD * 9 // 10,  # rank_ratio
        WAD // 1000,  # rank_epsilon
        WAD // 10,  # tolerance
        WAD // 5,  # slash_tau
        WAD // 10,  # slash_miss
        WAD // 2,  # slash_dev
        WAD // 10,  # slash_node_miss
        3,  # min_committee
        0,  # baseline_score
        size,  # committee_size K
        keeper_tip,  # 1 token per draw call and finalize unit by default
    )  # fmt: skip
    return p, tree


def _shard(r: int) -> bytes:
    from eth_utils import keccak

    return keccak(b"scale-shard-%d" % r)


def _model(k: int) -> bytes:
    from eth_utils import keccak

    return keccak(b"scale-model-%d" % k)


@dataclass
class RoundResult:
    size: int
    task: int
    setup_s: float = 0.0
    round_s: float = 0.0
    pages: list[int] = field(default_factory=list)  # gas of each finalize page
    page_units: list[int] = field(default_factory=list)
    assignments: dict[str, int] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    capture: int = 0  # committees where the whale held a strict majority of the vote weight
    committees: int = 0
    committee_sizes: list[int] = field(default_factory=list)
    liar_slash: int = 0
    silent_slash: int = 0
    keeper_tips: int = 0
    round_gas: int = 0
    whale_p: float = 0.0
    target_hash: bytes = b""
    finalize_units: int = 0  # units of work the finalize pages did (MAX_FINALIZE_STEPS caps a page)


def play(
    chain: Chain,
    ppl: People,
    size: int,
    log: Callable[[str], None],
    check_views: int = 3,
    pin_hash: bytes | None = None,
    keeper_tip: int = E18,
) -> RoundResult:
    """Create a task of committee size ``size``, join and delegate everyone, play round 0
    (``pin_hash``: the seed's block hash, to replay another chain's draw)."""
    arena = chain.arena
    t0 = time.monotonic()
    p, tree = params(chain, size, keeper_tip=keeper_tip)
    chain.tx(ppl.creator, arena, "create_task", p, label="create_task")
    task = int(chain.view(arena, "task_count"))  # ids count from 1: the last one created
    res = RoundResult(size=size, task=task)
    # ---- join and delegate
    for i, n in enumerate(ppl.nodes):
        chain.tx(n, arena, "join", task, NODE, ppl.node_stake[i], WAD // 10, label="join (node)")
    honest = ppl.validators[:-1]
    for i, v in enumerate(honest):
        chain.tx(v, arena, "join", task, VALIDATOR, ppl.val_stake[i], WAD // 10, label="join (validator)")  # fmt: skip
    parts = ppl.nodes + honest
    eff = {a: 0 for a in parts}
    for i, a in enumerate(ppl.nodes):
        eff[a] = ppl.node_stake[i]
    for i, a in enumerate(honest):
        eff[a] = ppl.val_stake[i]
    prog = Progress(log, f"K={size} delegate", len(ppl.delegators), 20_000)
    for i, d in enumerate(ppl.delegators):
        to = parts[ppl.backs[i]]
        chain.tx(d, arena, "delegate", task, to, ppl.amounts[i], label="delegate")
        eff[to] += ppl.amounts[i]
        prog(i)
    others = sum(eff[v] for v in honest)
    whale_stake = others * WHALE_SHARE // (100 - WHALE_SHARE)
    chain.tx(ppl.whale, arena, "join", task, VALIDATOR, whale_stake, 0, label="join (validator)")
    eff[ppl.whale] = whale_stake
    res.setup_s = time.monotonic() - t0
    log(f"K={size}: task {task} set up in {res.setup_s:.0f}s")
    t1 = time.monotonic()
    gas_before = sum(sum(v) for v in chain.gas.values())  # the round's own transactions from here
    # ---- COMMIT, EVAL, REVEAL
    start = chain.view(arena, "round_start", task, 0)
    chain.warp(start)
    for k, n in enumerate(ppl.nodes):
        c = model_commitment(_model(k), n, task, 0)
        chain.tx(n, arena, "commit_model", task, c, label="commit_model")
    chain.warp(start + PHASE)
    chain.tx(ppl.creator, arena, "reveal_eval", task, 0, _shard(0), "file://shard-0", tree.proof(0), label="reveal_eval")  # fmt: skip
    chain.warp(start + 2 * PHASE)
    for k, n in enumerate(ppl.nodes):
        chain.tx(n, arena, "reveal_model", task, _model(k), f"file://model-{k}", label="reveal_model")  # fmt: skip
    log(
        f"  K={size}: {len(ppl.nodes)} models committed and revealed ({time.monotonic() - t1:.0f}s)"
    )
    # ---- draw, seed, assignments
    chain.warp(start + 3 * PHASE)
    if pin_hash is not None:
        chain.pin_block_hash(pin_hash)  # the caller unpins it
    chain.tx(ppl.keeper, arena, "draw", task, 0, label="draw (commit to a block)")
    chain.mine(2)
    chain.tx(ppl.keeper, arena, "draw", task, 0, label="draw (fix the seed)")
    d = chain.view(arena, "committee", task, 0)
    seed, total, n = bytes(d.seed), int(d.weight), int(d.submissions)
    res.target_hash = chain.block_hash(int(d.target_block))
    vals = ppl.validators
    expect_total = sum(eff[v] for v in vals)
    if total != expect_total:
        raise AssertionError(f"frozen W {total} != the stakes joined {expect_total}")
    mine: dict[str, list[int]] = {}
    for v in vals:
        j = int(chain.view(arena, "participant", task, v).validator_index)
        slots = sortition.assignments(seed, n, j, eff[v], total, size)
        mine[v] = slots
        res.assignments[v] = len(slots)
        res.expected[v] = n * min(1.0, size * eff[v] / total)
    res.whale_p = min(1.0, size * eff[ppl.whale] / total)
    rng = random.Random(size)
    for v in [ppl.whale, ppl.liar, *rng.sample(vals, check_views)]:  # the contract agrees
        got = list(chain.view(arena, "assignments", task, 0, v, 0, n))
        if got != mine[v]:
            raise AssertionError(
                f"assignments of {v}: contract {got[:5]}… != sortition {mine[v][:5]}…"
            )
    log(
        f"  K={size}: committees drawn, {sum(res.assignments.values()):,} assignments ({time.monotonic() - t1:.0f}s)"
    )
    # ---- SCORE_COMMIT, SCORE_REVEAL (paged)
    scores: dict[str, list[int]] = {}
    for v in vals:
        if not mine[v]:
            continue  # no committee this round: nothing to commit
        xs = [loss(k) * (3 if v == ppl.liar else 1) for k in mine[v]]
        scores[v] = xs
        c = score_commitment(task, 0, v, xs, _salt(v))
        chain.tx(v, arena, "commit_scores", task, c, label="commit_scores")
    chain.warp(start + 4 * PHASE)
    for v, xs in scores.items():
        if v == ppl.silent:
            continue
        for i in range(0, max(len(xs), 1), REVEAL_PAGE):
            page = xs[i : i + REVEAL_PAGE]
            label = "reveal_scores (page)" if len(xs) > REVEAL_PAGE else "reveal_scores"
            chain.tx(v, arena, "reveal_scores", task, page, _salt(v), label=label)
    log(
        f"  K={size}: {len(scores):,} validators committed, all but the silent one revealed ({time.monotonic() - t1:.0f}s)"
    )
    # ---- committees as CONSENSUS will read them: capture by the whale
    weight = {v: sortition.vote_weight(eff[v], total, size) for v in vals}
    sets = {v: set(slots) for v, slots in mine.items()}
    revealed = [v for v in vals if v in scores and v != ppl.silent]
    for k in range(n):
        members = [v for v in revealed if k in sets[v]]
        # the votes the contract recorded for slot k, with the weights CONSENSUS uses
        votes = [x for x in chain.view(arena, "votes", task, 0, k) if x.counted]
        got = sorted((str(x.validator), int(x.weight)) for x in votes)
        if got != sorted((v, weight[v]) for v in members):
            raise AssertionError(
                f"slot {k}: the contract's votes differ from the sortition's committee"
            )
        res.committee_sizes.append(len(votes))
        w_all = sum(int(x.weight) for x in votes)
        w_whale = sum(int(x.weight) for x in votes if str(x.validator) == ppl.whale)
        res.committees += 1
        if 2 * w_whale > w_all:
            res.capture += 1
    # ---- finalize in pages, sized as the client sizes them
    chain.warp(start + 5 * PHASE)
    orders = RankOrders(_Views(chain))
    last = None
    while True:
        info = chain.view(arena, "round_info", task, 0)
        if int(info.stage) == Stage.DONE:
            break
        # as the client pages with max_steps = MAX_FINALIZE_STEPS (what one call can do)
        steps = DEFAULT_FINALIZE_STEPS if last is None else min(MAX_FINALIZE_STEPS, 2 * last)
        while True:
            order = orders(task, steps)
            if steps == 1:  # the smallest page goes out as it is (its revert is reported)
                g = chain.tx(ppl.keeper, arena, "finalize", task, 1, order, label="finalize (page)")
                break
            g = chain.tx_within(PAGE_GAS, ppl.keeper, arena, "finalize", task, steps, order, label="finalize (page)")  # fmt: skip
            if g is not None:
                break
            steps //= 2
        res.pages.append(g)
        res.page_units.append(steps)
        last = steps
        if len(res.pages) % 50 == 0:
            log(f"  K={size} finalize: {len(res.pages)} pages")
    info = chain.view(arena, "round_info", task, 0)
    res.keeper_tips = int(info.keeper_tips)
    if keeper_tip:  # 1 tip per draw call (2) and per finalize unit, below the cap here
        if res.keeper_tips >= p[0] // 10:
            raise AssertionError("the keeper cap was reached: the tips no longer count units")
        res.finalize_units = res.keeper_tips // keeper_tip - 2
    res.liar_slash = int(chain.view(arena, "validator_round", task, 0, ppl.liar).slash)
    res.silent_slash = int(chain.view(arena, "validator_round", task, 0, ppl.silent).slash)
    res.round_s = time.monotonic() - t1
    res.round_gas = sum(sum(v) for v in chain.gas.values()) - gas_before
    log(
        f"K={size}: round played in {res.round_s:.0f}s, {len(res.pages)} finalize pages "
        f"(largest {max(res.pages):,} gas)"
    )
    return res


def _salt(v: str) -> bytes:
    from eth_utils import keccak

    return keccak(text="salt:" + v)


class _Views:
    """``arena.view(...)`` calls for RankOrders, on either chain."""

    def __init__(self, chain: Chain):
        self._chain = chain

    def __getattr__(self, fn: str) -> Any:
        return lambda *args: self._chain.view(self._chain.arena, fn, *args)


def _prob(p: float) -> str:
    """A Monte Carlo probability at the 10,000-committee resolution."""
    return "<1e-4" if p == 0 else f"{p:.4g}"


def _stats(xs: list[float]) -> tuple[float, float, float]:
    return min(xs), statistics.median(xs), max(xs)


def replay_on_anvil(log: Callable[[str], None]) -> tuple[list[dict], bytes]:
    """The sample round (SAMPLE sizes, K = 16) on anvil, then on titanoboa with the same
    seed: per function, the median gas on each chain."""
    ppl = people(**SAMPLE)
    anvil = AnvilChain()
    try:
        fund(anvil, ppl, log)
        ra = play(anvil, ppl, 16, log)
    finally:
        anvil.close()
    boa_chain = BoaChain()
    fund(boa_chain, ppl, log)
    try:
        play(boa_chain, ppl, 16, log, pin_hash=ra.target_hash)
    finally:
        boa_chain.unpin_block_hash()
    rows = []
    for label in sorted(anvil.gas):
        a, b = anvil.gas[label], boa_chain.gas[label]
        ma, mb = statistics.median(a), statistics.median(b)
        rows.append(
            {"function": label, "calls": len(a), "anvil": ma, "boa": mb, "diff": (mb - ma) / ma}
        )
    return rows, ra.target_hash


def keeper_tip_cost(log: Callable[[str], None], pin_hash: bytes) -> dict:
    """The keeper tip's gas: the sample round twice on titanoboa with the same seed, with a
    tip of 1 token and without; the extra gas of each keeper transaction (the two draw
    calls, each finalize page: the tip is counted per unit of work, then paid once)."""
    ppl = people(**SAMPLE)
    labels = ("draw (commit to a block)", "draw (fix the seed)", "finalize (page)")
    runs = {}
    for tip in (E18, 0):
        chain = BoaChain()
        fund(chain, ppl, log)
        try:
            res = play(chain, ppl, 16, log, pin_hash=pin_hash, keeper_tip=tip)
        finally:
            chain.unpin_block_hash()
        runs[tip] = ([g for k in labels for g in chain.gas[k]], res.page_units)
    (with_tip, units), (without, units0) = runs[E18], runs[0]
    if units != units0:
        raise AssertionError(f"the tip changed the finalize pages: {units} != {units0}")
    extra = [a - b for a, b in zip(with_tip, without, strict=True)]
    # slope over the full pages (the last page stops where the round ends)
    pages = extra[2:-1]
    per_unit = (pages[-1] - pages[0]) / (units[-2] - units[0]) if len(pages) > 1 else 0.0
    return {"txs": len(extra), "extra": extra, "units": units, "per_unit": per_unit}


def capture_rows() -> list[dict]:
    from .committees import capture_table

    return capture_table(validators=PAPER["validators"], sizes=SIZES, committees=10_000)


WORKERS = 2  # processes playing the sizes side by side (the machine has 2 cores)


def _one_size(job: tuple[int, dict]) -> tuple[RoundResult, dict, float]:
    """A worker process: a fresh titanoboa chain, everyone funded, one task of size K."""
    size, sizes_of = job

    def log(line: str) -> None:
        print(line, flush=True)

    t0 = time.monotonic()
    chain = BoaChain()
    ppl = people(**sizes_of)
    fund(chain, ppl, log)
    fund_s = time.monotonic() - t0
    log(
        f"K={size}: funded {len(ppl.delegators) + len(ppl.nodes) + len(ppl.validators) + 2:,} accounts in {fund_s:.0f}s"
    )
    chain.gas.clear()
    res = play(chain, ppl, size, log)
    return res, {k: list(v) for k, v in chain.gas.items()}, fund_s


def main(out: str = ".", log: Callable[[str], None] = print, sizes=SIZES, sizes_of=PAPER) -> int:
    """Run everything and write ``out``/scale-report.md (and the raw figures to
    scale-report.json); 0 when every transaction stayed
    below 15,000,000 gas and both chains agree within 2% per function."""
    from pathlib import Path

    t_all = time.monotonic()
    log(
        f"{sizes_of['nodes']} nodes, {sizes_of['validators']} validators, {sizes_of['delegators']} delegators"
    )
    log("replaying a sample round on anvil and on titanoboa (same seed) ...")
    replay, pinned = replay_on_anvil(log)
    worst_diff = max(abs(r["diff"]) for r in replay)
    log(f"anvil vs titanoboa: largest difference of a function's median gas {worst_diff:.2%}")
    # one process per K (each its own chain, funded alike), two at a time: both cores work;
    # the largest K first, so the other two share the second core meanwhile
    order = sorted(sizes, reverse=True)
    with ProcessPoolExecutor(max_workers=min(WORKERS, len(order))) as pool:
        done = dict(zip(order, pool.map(_one_size, [(k, sizes_of) for k in order]), strict=True))
    results = [done[k][0] for k in sizes]
    tables = [done[k][1] for k in sizes]
    fund_s = max(done[k][2] for k in sizes)
    log("keeper tip: the sample round with and without it ...")
    tip = keeper_tip_cost(log, pinned)
    log(f"keeper tip: {min(tip['extra']):,}-{max(tip['extra']):,} gas per keeper transaction")
    log("capture table (Monte Carlo, the contract's rule) ...")
    capture = capture_rows()
    gas = [{k: [*_stats(v), len(v)] for k, v in t.items()} for t in tables]
    raw = {
        "sizes": sizes_of,
        "results": [{**asdict(r), "target_hash": r.target_hash.hex()} for r in results],
        "gas": gas,
        "replay": replay,
        "capture": capture,
        "keeper_tip": tip,
        "fund_s": fund_s,
    }
    Path(out, "scale-report.json").write_text(json.dumps(raw))
    text, biggest = render(raw)
    Path(out, "scale-report.md").write_text(text)
    ok = biggest[0] < TX_LIMIT and worst_diff <= 0.02
    log(text)
    if biggest[0] < TX_LIMIT:
        log(
            f"every transaction stayed below 15,000,000 gas (largest: {biggest[1]} at K = {biggest[2]}, {biggest[0]:,})"
        )
    else:
        log(f"FAIL: {biggest[1]} at K = {biggest[2]} used {biggest[0]:,} gas (limit 15,000,000)")
    if worst_diff > 0.02:
        log(f"FAIL: anvil and titanoboa differ by {worst_diff:.2%} on a function")
    log(f"wrote {Path(out, 'scale-report.md')} ({time.monotonic() - t_all:.0f}s in all)")
    return 0 if ok else 1


def render(raw: dict) -> tuple[str, tuple[int, str, int]]:
    """scale-report.md's text from the figures of scale-report.json, and the largest
    transaction (gas, function, K)."""
    results = []
    for d in raw["results"]:
        d = dict(d)
        d["target_hash"] = bytes.fromhex(d["target_hash"])
        results.append(RoundResult(**d))
    gas = raw["gas"]
    biggest = max(
        (int(st[2]), k, r.size) for r, t in zip(results, gas, strict=True) for k, st in t.items()
    )
    text = report(
        raw["sizes"], results, gas, raw["replay"], raw["capture"], raw["fund_s"], biggest,
        raw["keeper_tip"],
    )  # fmt: skip
    return text, biggest


def report(sizes_of, results, tables, replay, capture, fund_s, biggest, tip) -> str:
    n, v, d = sizes_of["nodes"], sizes_of["validators"], sizes_of["delegators"]
    L = [
        "# Scale report (`make scale`)",
        "",
        f"One task per committee size K at the paper's size: **{n} nodes, {v} validators, {d} "
        "delegators** (every delegation a real `delegate` call), one full round each, played "
        "on titanoboa. Among the validators one liar (reports 3x every loss), one silent "
        "(commits, never reveals) and one holding 10% of all validator stake. Finalize pages "
        "are sized as the client sizes them (gas estimate <= 14M). Gas as a receipt states it.",
        "",
        f"Largest transaction: {biggest[1]} at K = {biggest[2]}, {biggest[0]:,} gas "
        f"({'below' if biggest[0] < TX_LIMIT else 'ABOVE'} 15,000,000).",
        "",
        "## Rounds",
        "",
        "| K | set-up (s) | round (s) | round gas | finalize pages | largest page | keeper tips (tokens) | liar slashed | silent slashed | whale captured |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        L.append(
            f"| {r.size} | {r.setup_s:.0f} | {r.round_s:.0f} | {r.round_gas:,} | {len(r.pages)} | "
            f"{max(r.pages):,} | {r.keeper_tips // E18:,} | {r.liar_slash / E18:,.1f} | "
            f"{r.silent_slash / E18:,.1f} | {r.capture} of {r.committees} committees |"
        )
    L += [
        "",
        f"Funding {n + v + d + 2:,} accounts (mint and approve): {fund_s:.0f}s in each K's process, apart from the set-up above (the three K run in two processes side by side).",
        "",
    ]
    L += [
        "## Gas per function (min / median / max)",
        "",
        "| function | " + " | ".join(f"K = {r.size}" for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    labels = sorted({k for t in tables for k in t})
    for label in labels:
        cells = []
        for t in tables:
            st = t.get(label)
            cells.append(
                "–" if not st else "{:,} / {:,} / {:,} ({:,} calls)".format(*(int(x) for x in st))
            )
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    ex = tip["extra"]
    L += [
        "",
        "## Keeper tip",
        "",
        f"The sample round ({SAMPLE['nodes']} nodes, {SAMPLE['validators']} validators, K = 16) on titanoboa with a tip of 1 token and with none, same seed. Extra gas of each keeper transaction: `draw` {ex[0]:,} (first call) and {ex[1]:,} (fixing the seed); finalize pages of "
        + ", ".join(f"{u} units +{e:,}" for u, e in zip(tip["units"], ex[2:], strict=True))
        + " (the last page did what was left)"
        + f": about {tip['per_unit']:,.0f} gas per unit of work on top of one token transfer. At the paper's size, with the pages above (estimate: the two draws, the smallest page's extra per page, the per-unit extra for the other units; a round's finalize units counted from its tips):",
        "",
        "| K | keeper transactions | finalize units | tip gas (estimate) | share of the round's gas | tips paid (tokens) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        units = r.finalize_units
        extra = (
            ex[0]
            + ex[1]
            + len(r.pages) * ex[2]
            + (units - len(r.pages) * tip["units"][0]) * tip["per_unit"]
        )
        L.append(
            f"| {r.size} | {2 + len(r.pages)} | {units:,} | {extra:,.0f} | {extra / r.round_gas:.3%} | {r.keeper_tips // E18:,} |"
        )
    L += [
        "",
        "## Assignments and committees",
        "",
        "| K | assignments min / median / max | whale (p = min(1, K·eff/W)) | sum / expected sum | χ²/dof | largest \\|z\\| | committee size min / median / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a = list(r.assignments.values())
        chi2, dof, zs = 0.0, 0, []
        for who, got in r.assignments.items():
            e = r.expected[who]
            var = e * (1 - e / r.committees)
            if var > 0:
                chi2 += (got - e) ** 2 / var
                dof += 1
                if var >= 10:  # where the normal approximation holds
                    zs.append(abs(got - e) / var**0.5)
        whale = r.assignments[list(r.assignments)[-1]]
        lo, med, hi = _stats(a)
        cs = _stats(r.committee_sizes)
        zmax = f"{max(zs):.2f}" if zs else "–"
        L.append(
            f"| {r.size} | {lo:.0f} / {med:.0f} / {hi:.0f} | {whale} of {r.committees} (p = {r.whale_p:.2f}) | "
            f"{sum(a):,} / {sum(r.expected.values()):,.0f} | {chi2 / dof:.2f} ({dof:,}) | "
            f"{zmax} ({len(zs):,}) | {cs[0]:.0f} / {cs[1]:.0f} / {cs[2]:.0f} |"
        )
    L += [
        "",
        "Expected assignments of validator j: e_j = n·p_j, variance n·p_j·(1 − p_j). χ²/dof = the mean of (a_j − e_j)² / variance over the validators with p_j < 1 (about 1 when the draw is unbiased; dof in brackets); largest |z| over the validators whose variance is at least 10 (count in brackets; about 3.5 is the largest of ~1,000 normal draws). Committee sizes count the members whose reveal completed.",
        "",
    ]
    L += [
        "## Committee capture (the contract's rule, Monte Carlo)",
        "",
        f"Probability that an attacker with stake share f holds a strict majority of one committee's vote weight ({v} validators, lognormal stakes, 10,000 committees per cell): as one identity / split over 200 sybils / one identity under the rejected weight = stake rule.",
        "",
        "| f | " + " | ".join(f"K = {k}" for k in sorted({c["K"] for c in capture})) + " |",
        "|---|" + "---|" * len({c["K"] for c in capture}),
    ]
    for f in sorted({c["share"] for c in capture}):
        cells = [
            " / ".join(_prob(c[x]) for x in ("one_identity", "sybils", "stake_weighted"))
            for c in capture
            if c["share"] == f
        ]
        L.append(f"| {f:.2f} | " + " | ".join(cells) + " |")
    L += [
        "",
        "## titanoboa against anvil",
        "",
        f"The sample round ({SAMPLE['nodes']} nodes, {SAMPLE['validators']} validators, {SAMPLE['delegators']} delegators, K = 16) on anvil (hardfork of ape-config.yaml), then on titanoboa with the same seed block hash: median gas per function.",
        "",
        "| function | calls | anvil | titanoboa | difference |",
        "|---|---|---|---|---|",
    ]
    for r in replay:
        L.append(
            f"| {r['function']} | {r['calls']} | {int(r['anvil']):,} | {int(r['boa']):,} | {r['diff']:+.2%} |"
        )
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    import sys

    import click

    @click.command()
    @click.option("--out", default=".", show_default=True, help="Folder for scale-report.md.")
    @click.option("--sample", is_flag=True, help="Run at the sample size only (a quick check).")
    @click.option(
        "--from-json",
        type=click.Path(exists=True, dir_okay=False),
        help="Only write scale-report.md again from a run's scale-report.json.",
    )
    def cli(out: str, sample: bool, from_json: str | None) -> None:
        """One round at the paper's size (603 nodes, 1,051 validators, 63,265 delegators)
        for K = 16, 32 and 64 on titanoboa, a sample replayed on anvil; writes scale-report.md."""
        if from_json:
            from pathlib import Path

            text, _ = render(json.loads(Path(from_json).read_text()))
            Path(out, "scale-report.md").write_text(text)
            click.echo(f"wrote {Path(out, 'scale-report.md')}")
            return
        sys.exit(main(out, click.echo, sizes_of=SAMPLE if sample else PAPER))

    cli()
