"""`task show`'s report: submission statuses, bucket winners ranked, validators' stake at
risk (PROTOCOL.md §6, §8), read through a fake client."""

from __future__ import annotations

from types import SimpleNamespace as NS

from ape_arena.cli.task import _consensus_text
from ape_arena.protocol import (
    INVALID_SCORE,
    UNAVAILABLE_SCORE,
    CommitteeDraw,
    Participant,
    Stage,
)
from ape_arena.roles.creator import committee_report, round_report, stake_at_risk

WAD, ACC = 10**18, 10**36


def sub(slot, c, status, key, weight):
    return NS(
        slot=slot, node=f"0x{slot + 1:040x}", model_sha256=bytes([slot]) * 32, uri="u",
        commit_seq=slot, key=key, consensus=c, status=status, stake=10, weight=weight, reward=0,
    )  # fmt: skip


NO_DRAW = CommitteeDraw(0, b"\0" * 32, 0, 0, 0, b"\0" * 32)


class FakeClient:
    def __init__(self, subs, parts=None, draw=NO_DRAW, assigned=None):
        self.subs, self.parts = subs, parts or {}
        self.draw, self.assigned = draw, assigned or {}

    def committee(self, task, r):
        return self.draw

    def assignments(self, task, r, v):
        return self.assigned[v]

    def round_info(self, task, r):
        return NS(stage=Stage.DONE, done=True, void_reason=0, eval_revealed=True,
                  shard_sha256=b"\0" * 32, shard_uri="s", pot=0, emission_amount=0, nodes_pot=0,
                  validators_pot=0, node_stake=0, validator_stake=0, paid=0, slashed=0,
                  commit_count=len(self.subs))  # fmt: skip

    def submissions(self, task, r):
        return self.subs

    def validators(self, task):
        return list(self.parts)

    def validator_round(self, task, r, v):
        return NS(committed=False, revealed=False)

    def participant(self, task, v):
        return self.parts[v]

    def task_params(self, task):
        return NS(slash_miss=WAD // 10, slash_dev=WAD // 2)


def test_round_report_ranks_bucket_winners_and_names_every_status():
    subs = [
        sub(0, 500_000_000, 0, key=5, weight=WAD // 2),  # scored, second bucket's winner
        sub(1, 300_000_000, 1, key=7, weight=WAD),  # split, the best
        sub(2, 301_000_000, 0, key=9, weight=0),  # same bucket as slot 1, later key: no rank
        sub(3, 0, 2, key=1, weight=0),  # unscored half split
        sub(4, 0, 3, key=2, weight=0),  # unavailable
        sub(5, INVALID_SCORE, 0, key=3, weight=0),
    ]
    rep = round_report(FakeClient(subs), 1, 0)
    rows = {s["slot"]: s for s in rep["submissions"]}
    assert [s["slot"] for s in rep["submissions"][:2]] == [1, 0]
    assert (rows[1]["rank"], rows[0]["rank"]) == (0, 1)
    assert all("rank" not in rows[k] for k in (2, 3, 4, 5))
    cells = {k: _consensus_text(rows[k]) for k in rows}
    assert cells == {
        0: "0.500000",
        1: "0.300000 (split)",
        2: "0.301000",
        3: "unscored",
        4: "unavailable",
        5: "INVALID",
    }
    assert _consensus_text({"status": None, "consensus": None}) == "-"
    assert UNAVAILABLE_SCORE == 2**64 - 2


def test_stake_at_risk_shows_what_a_delegated_token_is_worth_after_a_slash():
    def validator(**kw):
        fields = dict(role=2, commission=0, own_pending=0, del_pending=0, pending_round=0,
                      acc=0, owner_earned=0, owner_claimed=0, validator_index=0)  # fmt: skip
        return Participant(**fields, **kw)

    fresh = validator(own_active=100 * WAD, del_shares=50 * WAD, del_index=ACC,
                      slashed=0, del_burned=0, slash_round=0)  # fmt: skip
    hit = validator(own_active=90 * WAD, del_shares=200 * WAD, del_index=ACC * 9 // 10,
                    slashed=10 * WAD, del_burned=20 * WAD, slash_round=2)  # fmt: skip
    risk = stake_at_risk(FakeClient([], {"0xA": fresh, "0xB": hit}), 1)
    assert (risk["slash_miss"], risk["slash_dev"]) == (0.1, 0.5)
    a, b = risk["validators"]
    assert (a["own"], a["delegated"], a["kept"], a["delegators_may_leave"]) == (
        100 * WAD, 50 * WAD, 1.0, False,
    )  # fmt: skip
    assert (b["delegated"], b["delegations_burned"], b["kept"], b["delegators_may_leave"]) == (
        180 * WAD, 20 * WAD, 0.9, True,
    )  # fmt: skip


def test_committee_report_counts_members_per_submission():
    parts = {"0xA": None, "0xB": None, "0xC": None}
    assert committee_report(FakeClient([], parts), 1, 0) is None  # not drawn
    drawn = CommitteeDraw(41, b"\0" * 32, 300, 2, 3, b"\1" * 32)
    rep = committee_report(FakeClient([], parts, draw=drawn), 1, 0)
    assert rep["seed"] is None and rep["members"] == [] and rep["target_block"] == 41
    seeded = CommitteeDraw(41, b"\7" * 32, 300, 2, 3, b"\1" * 32)
    assigned = {"0xA": [0, 2], "0xB": [2], "0xC": []}
    fake = FakeClient([], parts, draw=seeded, assigned=assigned)
    fake.validator_round = lambda task, r, v: NS(revealed=v == "0xB")
    rep = committee_report(fake, 1, 0)
    assert rep["seed"] == "0x" + "07" * 32
    assert rep["members"] == [1, 0, 2]  # slot 1 has nobody on its committee
    assert rep["revealed"] == [0, 0, 1]  # only 0xB revealed
    assert rep["assignments"] == assigned and (rep["weight"], rep["committee_size"]) == (300, 2)
