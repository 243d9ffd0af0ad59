"""What the explorer shows, read from the chain through the plugin's client (nothing written).

Every answer is a plain dict ready for JSON. Token amounts, stakes and raw scores are
integers that can pass 2**53, which JavaScript numbers cannot hold: ``to_json`` writes such
integers as decimal strings (the page reads them with ``BigInt``). Answers are cached per
block: a page that polls while no block arrives costs one ``eth_blockNumber`` per request.

* ``info()``: chain id, arena address, head block, the chain's time now, the network.
* ``tasks(limit, below)``: ``roles.creator.task_list`` (newest first, paged).
* ``task(id)``: ``roles.creator.task_report`` plus the series the charts draw: each node's
  consensus loss per finalized round, each round's scores against the consensus per
  submission (slot order), and each finalized round's pot split.
* ``address(addr)``: ``roles.account.account_status`` plus rewards over time (``Rewarded``
  events) and each delegation's realised return.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...protocol import ArenaClient, ArenaError, address_of
from ...roles.account import account_status
from ...roles.creator import task_list, task_report

SAFE_INT = 2**53 - 1
"""The largest integer a JavaScript number holds exactly; larger ones go out as strings."""


def to_json(data: Any) -> str:
    """JSON text with every integer beyond ``SAFE_INT`` written as a decimal string."""

    def fix(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return str(value) if abs(value) > SAFE_INT else value
        if isinstance(value, dict):
            return {str(k): fix(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [fix(v) for v in value]
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        return value

    return json.dumps(fix(data), sort_keys=True)


def pot_split(report: dict) -> list[dict]:
    """Where each finalized round's pot went (PROTOCOL.md §5, close): paid to nodes, paid to
    validators, slashed (added to what carries on), and the unpaid rest of the pot, which
    rolls over into the next round or, after the last round, into the creator's refund."""
    last = report["params"]["num_rounds"] - 1
    out = []
    for rr in report["rounds"]:
        if rr["round"] >= report["finalized_rounds"]:
            continue
        nodes = sum(int(s["reward"]) for s in rr["submissions"])
        validators = int(rr["paid"]) - nodes
        unpaid = int(rr["pot"]) - int(rr["paid"])
        final = rr["round"] == last
        out.append(
            {
                "round": rr["round"],
                "pot": int(rr["pot"]),
                "nodes": nodes,
                "validators": validators,
                "slashed": int(rr["slashed"]),
                "rolled_over": 0 if final else unpaid,
                "refunded": unpaid if final else 0,
                "void": rr["void"],
            }
        )
    return out


def loss_series(report: dict) -> dict:
    """Each node's consensus loss per finalized round (``None`` where it had no scored
    submission): ``{"rounds": [0, 1, …], "nodes": {address: [loss or None, …]}}``."""
    rounds = [rr for rr in report["rounds"] if rr["round"] < report["finalized_rounds"]]
    nodes: dict[str, list] = {}
    for i, rr in enumerate(rounds):
        for s in rr["submissions"]:
            series = nodes.setdefault(s["node"], [None] * len(rounds))
            if s["consensus"] is not None:
                series[i] = s["consensus"]
    return {"rounds": [rr["round"] for rr in rounds], "nodes": nodes}


def score_series(rr: dict) -> dict:
    """One round's scores against the consensus, per submission in slot order: the
    consensus loss and each revealing validator's score (``None`` for INVALID/UNAVAILABLE),
    with its deviation D, agreement F and slash."""
    subs = sorted(rr["submissions"], key=lambda s: s["slot"])
    return {
        "round": rr["round"],
        "slots": [s["slot"] for s in subs],
        "nodes": [s["node"] for s in subs],
        "consensus": [s["consensus"] for s in subs],
        "validators": [
            {
                "validator": v["validator"],
                "scores": [
                    v["scores"][s["slot"]] if s["slot"] < len(v["scores"]) else None for s in subs
                ],  # fmt: skip
                "deviation": v["deviation"],
                "agreement": v["agreement"],
                "slash": v["slash"],
            }
            for v in rr["validators"]
            if v["revealed"]
        ],
    }


class ExplorerData:
    """The explorer's reads, one lock around the chain (Ape's provider is shared by the
    server's threads) and a small cache keyed by the head block."""

    def __init__(self, client: ArenaClient, *, network: str = "", from_block: int = 0,
                 cache_size: int = 256):  # fmt: skip
        self.client = client
        self.network = network
        self.from_block = int(from_block)
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_size = cache_size

    # ------------------------------------------------------------------ cache
    def head(self) -> int:
        from ape import chain

        return int(chain.blocks.height)

    def _cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        with self._lock:
            full = (self.head(), *key)
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
            value = build()
            self._cache[full] = value
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return value

    # ------------------------------------------------------------------ answers
    def info(self) -> dict:
        from ape import chain

        with self._lock:
            return {
                "chain_id": self.client.chain_id,
                "arena": self.client.address,
                "network": self.network,
                "block": int(chain.blocks.height),
                # what the next block will carry (a dev chain without blocks keeps time)
                "time": self.client.now(),
            }

    def tasks(self, limit: int = 50, below: int | None = None) -> dict:
        return self._cached(("tasks", limit, below), lambda: task_list(self.client, limit, below))

    def task(self, task: int) -> dict:
        def build() -> dict:
            if not 1 <= task <= self.client.task_count():
                raise ArenaError(f"no task {task} on arena {self.client.address}")
            report = task_report(self.client, task)
            report["charts"] = {
                "loss": loss_series(report),
                "pot": pot_split(report),
                "scores": [score_series(rr) for rr in report["rounds"]],
            }
            return report

        return self._cached(("task", task), build)

    def address(self, account: str) -> dict:
        def build() -> dict:
            who = address_of(account)
            report = account_status(self.client, who, limit=1000, from_block=self.from_block)
            report["rewards"] = self._rewards(who)
            report["delegations"] = self._delegations(who)
            return report

        return self._cached(("address", account.lower()), build)

    # ------------------------------------------------------------------ events
    def _events(self, name: str, **topics: Any) -> list:
        event = getattr(self.client.arena, name)
        return list(event.range(self.from_block, self.head() + 1, search_topics=topics))

    def _rewards(self, who: str) -> list[dict]:
        """Every reward credited to ``who`` as a node or validator, oldest first: the
        amount, the owner's part (after commission) and the delegators' part."""
        return [
            {
                "task": int(log.task),
                "round": int(log.round),
                "amount": int(log.amount),
                "owner_part": int(log.owner_part),
                "delegator_part": int(log.delegator_part),
                "block": int(log.block_number),
            }
            for log in self._events("Rewarded", participant=who)
        ]

    def _delegations(self, who: str) -> list[dict]:
        """Each (task, participant) ``who`` delegated to: what it put in, what it took out
        (claimed rewards and withdrawn stake), what it holds now (claimable rewards and the
        delegation's value), and the realised return ``(out + now - in) / in``."""
        rows: dict[tuple[int, str], dict] = {}

        def row(task: int, participant: str) -> dict:
            return rows.setdefault(
                (task, participant),
                {"task": task, "participant": participant, "delegated": 0, "claimed": 0,
                 "withdrawn": 0},
            )  # fmt: skip

        for log in self._events("Delegated", delegator=who):
            row(int(log.task), address_of(log.participant))["delegated"] += int(log.amount)
        for name, field in (("Claimed", "claimed"), ("Withdrawn", "withdrawn")):
            for log in self._events(name, account=who):
                key = (int(log.task), address_of(log.participant))
                if key in rows:  # the account's own claims as a participant are not delegations
                    rows[key][field] += int(log.amount)
        out = []
        for (task, participant), r in sorted(rows.items()):
            r["claimable"] = self.client.claimable(task, participant, who)
            r["value"] = self.client.delegation_value(task, participant, who)
            back = r["claimed"] + r["withdrawn"] + r["claimable"] + r["value"]
            r["return"] = (back - r["delegated"]) / r["delegated"] if r["delegated"] else None
            out.append(r)
        return out
