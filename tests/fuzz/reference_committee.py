"""Reference of a committee round (protocol v2 part 2, DESIGN §3.4–§3.5), written from the
design, for the committee contracts still to come (issue #12): given a round's seed, the
validators' frozen effective stakes, K, each validator's revealed scores of its assigned
slots (or no reveal), it computes per submission the committee, the vote-weighted consensus
and its status, per validator the deviation D_j over its revealed assignments, the agreement
F_j, its share of the validators' pot and its slashes, in exact integers.

The per-submission consensus, the relative deviation and the agreement are v1's
(``reference.ArenaModel.consensus`` / ``deviation``, PROTOCOL.md §6) with two changes of
DESIGN §3.4–§3.5: a vote weighs ``max(eff_j, W // K)`` (``protocol/sortition.py``), never
``eff_j``; and only the committee votes (a submission with fewer than ``min_committee``
revealed members is unscored). Payouts: ``R_val · F_j · eff_j / Σ F·eff`` over the
validators with at least one assignment, all revealed (rounded down); ``slash_miss`` for an
assigned validator that revealed nothing, ``slash_dev`` for ``D_j > slash_tau`` (fractions
of the frozen effective stake, rounded up). Node rewards follow part 1's ranking on the
consensus computed here and are not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ape_arena.protocol import sortition

from tests.fuzz.reference import (
    INVALID,
    SCORED,
    SPLIT,
    UNAVAILABLE,
    UNSCORED,
    WAD,
    ArenaModel,
    ceil_div,
)


@dataclass
class CommitteeRound:
    """What a committee round's finalize decides (see the module docstring)."""

    committees: list[list[int]]
    consensus: list[int]
    status: list[int]
    deviation: dict[int, int] = field(default_factory=dict)
    agreement: dict[int, int] = field(default_factory=dict)
    reward: dict[int, int] = field(default_factory=dict)
    slash: dict[int, int] = field(default_factory=dict)


def committee_round(
    seed: bytes,
    n_submissions: int,
    effs: Sequence[int],
    size: int,
    reports: dict[int, list[int] | None],
    *,
    validators_pot: int,
    tolerance: int,
    slash_tau: int,
    slash_miss: int,
    slash_dev: int,
    min_committee: int = 1,
) -> CommitteeRound:
    """``reports[j]``: validator j's revealed scores of its assignments in slot order, or
    ``None`` (no reveal; a missing key: the same). Raises ``ValueError`` for a reveal of the
    wrong length (the contract reverts it)."""
    total = sum(effs)
    mine = {j: sortition.assignments(seed, n_submissions, j, e, total, size)
            for j, e in enumerate(effs)}  # fmt: skip
    committees: list[list[int]] = [[] for _ in range(n_submissions)]
    for j, slots in mine.items():
        for k in slots:
            committees[k].append(j)
    votes: list[dict[int, int]] = [{} for _ in range(n_submissions)]
    for j, scores in reports.items():
        if scores is None:
            continue
        if len(scores) != len(mine[j]):
            raise ValueError(
                f"validator {j} revealed {len(scores)} scores for {len(mine[j])} slots"
            )
        for k, x in zip(mine[j], scores, strict=True):
            votes[k][j] = x
    out = CommitteeRound(committees, [0] * n_submissions, [UNSCORED] * n_submissions)
    dsum = {j: 0 for j in mine}
    scored = {j: 0 for j in mine}
    for k in range(n_submissions):
        if len(votes[k]) < min_committee or not votes[k]:
            continue  # unscored: no rank weight, nobody slashed over it
        pairs = [(x, sortition.vote_weight(effs[j], total, size)) for j, x in votes[k].items()]
        c, status = ArenaModel.consensus(pairs, tolerance)
        out.consensus[k], out.status[k] = c, status
        if status != SCORED:
            continue
        for j, x in votes[k].items():
            if x == UNAVAILABLE:
                continue
            dsum[j] += ArenaModel.deviation(x, c)
            scored[j] += 1
    paid: dict[int, int] = {}
    for j, slots in mine.items():
        revealed = reports.get(j) is not None
        if slots and not revealed:
            out.slash[j] = ceil_div(effs[j] * slash_miss, WAD)
            continue
        if not slots:
            continue
        d = dsum[j] // scored[j] if scored[j] else 0
        ratio = d * WAD // tolerance
        out.deviation[j] = d
        out.agreement[j] = 0 if ratio >= WAD else WAD - ratio
        paid[j] = out.agreement[j] * effs[j]
        if d > slash_tau:
            out.slash[j] = ceil_div(effs[j] * slash_dev, WAD)
    denom = sum(paid.values())
    for j, fe in paid.items():
        out.reward[j] = validators_pot * fe // denom if denom else 0
    return out


__all__ = ["INVALID", "SCORED", "SPLIT", "UNSCORED", "CommitteeRound", "committee_round"]
