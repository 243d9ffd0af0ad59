"""The caller's part of finalize's RANK stage (PROTOCOL.md §6): the eligible submissions of
the round sorted by (consensus, key), which the contract checks in O(n) instead of sorting.

Everything needed is public: before CONSENSUS has run the consensus of every submission is
computed here from the revealed scores and the validators' effective stakes, by the same rule
as the contract (``consensus``), so one ``finalize`` call can go from OPEN through RANK; once
the round is in RANK the contract's own consensus values are used. ``rank_order`` works on
any contract object with the Arena's view methods (an Ape contract instance or a titanoboa
one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .types import INVALID_SCORE, WAD, Stage
from .types import UNAVAILABLE_SCORE as UNAVAILABLE

SCORE_FLOOR = 10**6
SCORED, SPLIT, UNSCORED, UNAVAILABLE_STATUS = 0, 1, 2, 3
STATUS_NAMES = {
    SCORED: "scored",
    SPLIT: "split",
    UNSCORED: "unscored",
    UNAVAILABLE_STATUS: "unavailable",
}


def consensus(reports: Iterable[tuple[int, int]], tolerance: int) -> tuple[int, int]:
    """``(consensus, status)`` of one submission from its ``(score, weight)`` reports.

    UNAVAILABLE reports are left out, and make the submission UNAVAILABLE when they hold
    strictly more than half of the weight. The consensus is the weighted lower median of the
    rest; an exact half split takes the midpoint of the two middle scores when they are within
    ``tolerance`` of each other (SPLIT), else the submission is UNSCORED.
    """
    reports = list(reports)
    gone = sum(w for x, w in reports if x == UNAVAILABLE)
    available = [(int(x), int(w)) for x, w in reports if x != UNAVAILABLE]
    total = sum(w for _, w in available)
    if not available or 2 * gone > total + gone:
        return 0, UNAVAILABLE_STATUS
    if total == 0:
        return min(x for x, _ in available), SCORED
    weight: dict[int, int] = {}
    for x, w in available:
        weight[x] = weight.get(x, 0) + w
    scores = sorted(weight)
    cum = 0
    for i, x in enumerate(scores):
        cum += weight[x]
        if 2 * cum > total or i == len(scores) - 1:
            return x, SCORED
        if 2 * cum == total:
            hi = scores[i + 1]
            if (hi - x) * WAD <= tolerance * max(x, SCORE_FLOOR):
                return x + (hi - x) // 2, SPLIT
            return 0, UNSCORED
    raise AssertionError("unreachable")


def eligible(c: int, status: int, baseline: int) -> bool:
    """Whether a submission competes for rank weight."""
    return status <= SPLIT and c != INVALID_SCORE and (baseline == 0 or c <= baseline)


def sorted_eligible(entries: list[tuple[int, int, int]], baseline: int) -> list[int]:
    """Slots of the eligible ``(consensus, status, key)`` entries sorted by (consensus, key)."""
    slots = [k for k, (c, status, _) in enumerate(entries) if eligible(c, status, baseline)]
    return sorted(slots, key=lambda k: (entries[k][0], entries[k][2]))


def rank_order(arena: Any, task: int, max_steps: int | None = None) -> list[int]:
    """The ``order`` argument for the next ``finalize(task, max_steps, order)`` call: the
    sorted eligible slots from the RANK cursor on ([] when the round has no RANK left, or
    when a call of ``max_steps`` units cannot reach RANK: then nothing needs computing).
    One-shot; a caller that pages a round should keep one ``RankOrders``."""
    return RankOrders(arena)(task, max_steps)


class RankOrders:
    """``rank_order`` for a caller that pages finalize: each round's whole sorted order is
    computed once (the revealed scores and the voting stakes are fixed once the round is
    over) and every later call only reads the round's stage and cursor to slice it."""

    def __init__(self, arena: Any):
        self.arena = arena
        self._full: dict[tuple[int, int], list[int]] = {}

    def __call__(self, task: int, max_steps: int | None = None) -> list[int]:
        arena = self.arena
        r = int(arena.task_state(task).finalized_rounds)
        info = arena.round_info(task, r)
        stage, n = int(info.stage), int(info.num_submissions)
        if stage not in (Stage.OPEN, Stage.CONSENSUS, Stage.RANK) or n == 0:
            return []
        if max_steps is not None and stage != Stage.RANK:
            before_rank = 1 + n if stage == Stage.OPEN else n - int(info.cursor)
            if max_steps <= before_rank:
                return []
        if (task, r) not in self._full:
            self._full[(task, r)] = self._sorted(task, r, info, stage, n)
        full = self._full[(task, r)]
        return full[int(info.cursor) :] if stage == Stage.RANK else full

    def _sorted(self, task: int, r: int, info: Any, stage: int, n: int) -> list[int]:
        """Every eligible slot of round ``r`` sorted by (consensus, key): the contract's own
        consensus values once in RANK, else computed from the reports by ``consensus``."""
        arena = self.arena
        params = arena.task_params(task)
        subs = [arena.submission(task, r, k) for k in range(n)]
        if stage == Stage.RANK:
            entries = [(int(s.consensus), int(s.status), int(s.key)) for s in subs]
            return sorted_eligible(entries, int(params.baseline_score))
        # each slot's committee votes, as CONSENSUS reads them (completed reveals only)
        entries = []
        for k, sub in enumerate(subs):
            reports = [(int(v.score), int(v.weight)) for v in arena.votes(task, r, k) if v.counted]
            # fewer completed reveals than min_committee: unscored (PROTOCOL.md §6)
            if len(reports) >= int(params.min_committee):
                c, status = consensus(reports, int(params.tolerance))
            else:
                c, status = 0, UNSCORED
            entries.append((c, status, int(sub.key)))
        return sorted_eligible(entries, int(params.baseline_score))
