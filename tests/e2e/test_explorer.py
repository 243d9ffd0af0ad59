"""The explorer in a real browser: the demo's 2-round task, ``ape arena explorer`` as a real
subprocess, and Debian's headless chromium driven through Playwright's Python API (set up by
``make``; nothing is downloaded, and a missing browser fails the test).

Every page is visited with no console error; the leaderboards' and validators' cells equal
the chain's figures read through the client; each chart's data, read back through Chart.js's
own API (``Chart.getChart(id).data``: a canvas is opaque to DOM checks), equals the chain's
(consensus losses, every validator's revealed scores, each round's pot split, an account's
``Rewarded`` events). Screenshots of the task page go to ``.arena/test-output/explorer/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from ape_arena.protocol import INVALID_SCORE, UNAVAILABLE_SCORE, fmt_tokens

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / ".arena" / "test-output" / "explorer"


def chromium_path() -> str:
    path = os.environ.get("ARENA_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "no chromium on PATH: the explorer test needs Debian's chromium "
            "(make test installs it; or apt-get install chromium)"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loss_text(x: int) -> str:
    return "—" if x in (INVALID_SCORE, UNAVAILABLE_SCORE) else f"{x / 1e9:.6f}"


def loss_value(x: int):
    return None if x in (INVALID_SCORE, UNAVAILABLE_SCORE) else x / 1e9


@pytest.fixture(scope="module")
def played(chain, tmp_path_factory):
    """The demo's task (4 nodes, 5 validators of which one lies and one stays silent, 3
    delegators, 2 rounds, everyone paid out and withdrawn) on the session's anvil."""
    from ape.logging import logger
    from ape_arena.tools.demo import Demo

    demo = Demo(log=lambda _m: None, workdir=tmp_path_factory.mktemp("demo"))
    with logger.at_level("WARNING"):
        assert demo.run(), "the demo's own checks failed"
    return demo


@pytest.fixture(scope="module")
def explorer(played, chain):
    port = free_port()
    ape = Path(sys.executable).with_name("ape")
    log = OUTPUT / "explorer.log"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    fh = open(log, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(ape), "arena", "explorer", "--network", chain.provider.uri,
         "--arena", played.client.address, "--port", str(port)],
        stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/api/info", timeout=5) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            fh.close()
            pytest.fail(f"the explorer did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    fh.close()


@pytest.fixture(scope="module")
def browser(explorer):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Page:
    """A page with every console error and page error collected."""

    def __init__(self, browser, base: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, route: str, selector: str):
        """Go to ``route`` and wait until the page has drawn it (a fragment change keeps the
        previous page's DOM until then) and ``selector`` is there."""
        self.page.goto(f"{self.base}/{route}")
        self.page.wait_for_function(
            "r => document.getElementById('main').dataset.route === r", arg=route, timeout=60_000
        )
        self.page.wait_for_selector(selector, timeout=60_000)
        return self.page

    def cells(self, table_id: str) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            f"#{table_id} tbody tr",
            "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))",
        )

    def titles(self, table_id: str, column: int) -> list[str]:
        """The full address behind a shortened one (the link's title) in ``column``."""
        return self.page.eval_on_selector_all(
            f"#{table_id} tbody tr",
            f"rows => rows.map(r => r.cells[{column}].querySelector('a').title)",
        )

    def chart(self, canvas_id: str) -> dict:
        return self.page.evaluate(
            """id => { const c = Chart.getChart(id);
                       return c ? {labels: c.data.labels, datasets: c.data.datasets.map(d =>
                         ({label: d.label, node: d.node, validator: d.validator, key: d.key,
                           data: d.data}))} : null; }""",
            canvas_id,
        )


def test_every_page_matches_the_chain(played, explorer, browser):
    client = played.client
    task = 1
    p = client.task_params(task)
    st = client.task_state(task)
    assert st.finalized_rounds == p.num_rounds == 2
    page = Page(browser, explorer)

    # ---- the tasks page
    page.open("#/", "#tasks tbody tr")
    rows = page.cells("tasks")
    assert len(rows) == client.task_count() == 1
    assert rows[0][:2] == ["1", "ended"]
    assert rows[0][5] == fmt_tokens(p.bounty)
    assert rows[0][6:8] == [str(st.participant_count), str(st.validator_count)]
    assert page.titles("tasks", 8) == [st.creator]
    chain_text = page.page.inner_text("#chain")
    assert f"chain {client.chain_id}" in chain_text and "block" in chain_text

    # ---- the task page: leaderboards and validators, round by round
    page.open(f"#/task/{task}", "#leaderboard-1 tbody tr")
    page.page.wait_for_function("() => Chart.getChart('scores-0') && Chart.getChart('pot-chart')")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(OUTPUT / "task-page.png"), full_page=True)
    page.page.screenshot(path=str(OUTPUT / "task-page-top.png"))
    assert page.page.inner_text("#bounty") == fmt_tokens(p.bounty)
    validators = client.validators(task)
    for r in range(p.num_rounds):
        subs = client.submissions(task, r)
        shown = page.cells(f"leaderboard-{r}")
        nodes = page.titles(f"leaderboard-{r}", 2)
        assert sorted(nodes) == sorted(s.node for s in subs)
        by_node = {s.node: s for s in subs}
        for row, node in zip(shown, nodes, strict=True):
            s = by_node[node]
            assert row[1] == str(s.slot)
            assert row[3] == loss_text(s.consensus)
            assert row[5] == f"{s.weight / 1e18:.4f}"
            assert row[6] == fmt_tokens(s.reward)
            assert row[7] == fmt_tokens(s.stake)
        # ranked rows first, best consensus first
        ranks = [int(x[0]) for x in shown if x[0] != "—"]
        assert ranks == list(range(len(ranks))) and ranks, shown
        vrows = page.cells(f"validators-{r}")
        vaddrs = page.titles(f"validators-{r}", 0)
        took_part = [v for v in validators if client.validator_round(task, r, v).committed]
        assert sorted(vaddrs) == sorted(took_part)
        for row, v in zip(vrows, vaddrs, strict=True):
            vr = client.validator_round(task, r, v)
            assert row[1] == fmt_tokens(vr.stake)
            assert row[2] == ("yes" if vr.revealed else "no")
            assert row[3] == f"{vr.deviation / 1e18:.4f}"
            assert row[4] == f"{vr.agreement / 1e18:.4f}"
            assert row[5] == fmt_tokens(vr.reward)
            assert row[6] == fmt_tokens(vr.slash)
            assert ("slashed" in row[0]) == (vr.slash > 0)
        assert any(client.validator_round(task, r, v).slash > 0 for v in vaddrs), "demo slashes"

        # scores against the consensus, per submission in slot order
        ch = page.chart(f"scores-{r}")
        ordered = sorted(subs, key=lambda s: s.slot)
        consensus = next(d for d in ch["datasets"] if d["label"] == "consensus")
        assert consensus["data"] == [loss_value(s.consensus) for s in ordered]
        revealed = [v for v in validators if client.validator_round(task, r, v).revealed]
        drawn = {d["validator"]: d for d in ch["datasets"] if d["validator"]}
        assert sorted(drawn) == sorted(revealed)
        for v in revealed:  # one score per slot of its committees; None (a gap) elsewhere
            per_slot = client.scores_by_slot(task, r, v, len(ordered))
            assert drawn[v]["data"] == [
                None if per_slot[s.slot] is None else loss_value(per_slot[s.slot]) for s in ordered
            ]
            assert ("slashed" in drawn[v]["label"]) == (
                client.validator_round(task, r, v).slash > 0
            )

    # consensus loss per node over rounds
    ch = page.chart("loss-chart")
    assert ch["labels"] == ["round 0", "round 1"]
    series = {d["node"]: d["data"] for d in ch["datasets"]}
    expect: dict[str, list] = {}
    for r in range(p.num_rounds):
        for s in client.submissions(task, r):
            expect.setdefault(s.node, [None, None])[r] = loss_value(s.consensus)
    assert series == expect

    # the pot split per round, against the chain's RoundFinalized events
    ch = page.chart("pot-chart")
    parts = {d["key"]: d["data"] for d in ch["datasets"]}
    events = {int(e.round): e for e in client.arena.RoundFinalized.range(0, chain_height() + 1,
                                                                         search_topics={"task": task})}  # fmt: skip
    for r in range(p.num_rounds):
        info = client.round_info(task, r)
        ev = events[r]
        nodes_paid = sum(s.reward for s in client.submissions(task, r))
        vals_paid = sum(client.validator_round(task, r, v).reward for v in validators)
        assert nodes_paid + vals_paid == info.paid == int(ev.paid)
        unpaid = int(ev.pot) - int(ev.paid)
        want = {
            "nodes": nodes_paid, "validators": vals_paid, "slashed": int(ev.slashed),
            "rolled_over": unpaid if r < p.num_rounds - 1 else 0,
            "refunded": unpaid if r == p.num_rounds - 1 else 0,
        }  # fmt: skip
        for key, wei in want.items():
            assert parts[key][r] == pytest.approx(wei / 1e18, rel=1e-12, abs=1e-18), key
        if r < p.num_rounds - 1:
            assert want["rolled_over"] + want["slashed"] == int(ev.carry)

    # ---- an account: a node's rewards over time, and a delegator's realised return
    node = next(s.node for s in client.submissions(task, 1) if s.reward > 0)
    page.open(f"#/address/{node}", "#rewards-chart")
    page.page.wait_for_function("() => Chart.getChart('rewards-chart')")
    rewarded = list(
        client.arena.Rewarded.range(0, chain_height() + 1, search_topics={"participant": node})
    )
    ch = page.chart("rewards-chart")
    assert ch["labels"] == [f"task {int(e.task)} round {int(e.round)}" for e in rewarded]
    owner = next(d for d in ch["datasets"] if d["key"] == "owner_part")["data"]
    assert owner == pytest.approx([int(e.owner_part) / 1e18 for e in rewarded], rel=1e-12)
    positions = page.cells("positions")
    assert [r[:3] for r in positions] == [["1", "node", "ended"]]
    part = client.participant(task, node)
    assert positions[0][7] == fmt_tokens(part.slashed)

    delegations = list(
        client.arena.Delegated.range(0, chain_height() + 1, search_topics={"task": task})
    )
    assert delegations, "the demo delegates"
    for d in delegations:
        who = d.delegator
        page.open(f"#/address/{who}", "#delegations tbody tr")
        rows = page.cells("delegations")
        backs = page.titles("delegations", 1)
        assert d.participant in backs
        row = rows[backs.index(d.participant)]
        put = sum(
            int(e.amount)
            for e in delegations
            if e.delegator == who and e.participant == d.participant
        )
        took = sum(
            int(e.amount)
            for name in ("Claimed", "Withdrawn")
            for e in getattr(client.arena, name).range(0, chain_height() + 1, search_topics={"account": who})
            if e.participant == d.participant
        )  # fmt: skip
        now = client.claimable(task, d.participant, who) + client.delegation_value(
            task, d.participant, who
        )
        assert row[2] == fmt_tokens(put)
        assert row[7] == f"{100 * (took + now - put) / put:.2f}%"

    assert page.errors == []


def test_the_api_answers_bad_input_with_a_message(explorer):
    for path, status, text in (
        ("/api/task/99", 404, "no task 99"),
        ("/api/task/x", 400, "is not a task id"),
        ("/api/address/0x12", 400, "is not an address"),
        ("/api/tasks?limit=0", 400, "limit must be 1..1000"),
    ):
        try:
            urllib.request.urlopen(explorer + path, timeout=30)
        except urllib.error.HTTPError as err:
            assert err.code == status, path
            assert text in json.loads(err.read())["error"], path
        else:
            pytest.fail(f"{path} answered 200")


def chain_height() -> int:
    from ape import chain

    return int(chain.blocks.height)


def test_the_page_refreshes_as_blocks_arrive(played, explorer, browser, accounts):
    """A new block redraws the page: the header's block number follows the chain."""
    page = Page(browser, explorer)
    page.open("#/", "#tasks tbody tr")
    before = chain_height()
    page.page.wait_for_function(f"() => document.getElementById('main').dataset.block == {before}")
    accounts[9].transfer(accounts[8], 1)
    after = chain_height()
    assert after > before
    page.page.wait_for_function(
        f"() => document.getElementById('main').dataset.block == {after}", timeout=30_000
    )
    assert f"block {after}" in page.page.inner_text("#chain")
    assert page.errors == []
