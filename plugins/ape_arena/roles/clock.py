"""A task's phase schedule computed locally from its immutable parameters (PROTOCOL.md §3:
COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL):
which round and phase a chain time falls in, when a phase opens, when the next boundary
worth waking up for comes. No chain call: the parameters never change once a task exists.
"""

from __future__ import annotations

from ..protocol import Phase, TaskParams


class RoundClock:
    """The schedule of one task: rounds of COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL
    back to back from ``start_time``."""

    def __init__(self, params: TaskParams):
        self.params = params

    def at(self, now: int) -> tuple[int, Phase]:
        """(time-round, phase) at chain time ``now``; round -1 before the start."""
        p = self.params
        length = p.round_length
        if now < p.start_time:
            return -1, Phase.NOT_STARTED
        r = (now - p.start_time) // length
        if r >= p.num_rounds:
            return r, Phase.ENDED
        off = (now - p.start_time) % length
        phase = Phase.COMMIT
        for width in p.phase_durations[:-1]:
            if off < width:
                break
            off -= width
            phase = Phase(phase + 1)
        return r, phase

    def phase_start(self, round_: int, phase: Phase) -> int:
        """Chain time at which ``phase`` of ``round_`` opens."""
        p = self.params
        start = p.start_time + round_ * p.round_length
        return start + sum(p.phase_durations[: int(phase) - 1])

    def round_end(self, round_: int) -> int:
        """Chain time at which ``round_``'s score-reveal window closes."""
        return self.params.start_time + (round_ + 1) * self.params.round_length

    def next_boundary(self, now: int) -> int | None:
        """The next phase boundary after ``now`` (None once the last round is over)."""
        r, phase = self.at(now)
        if phase == Phase.NOT_STARTED:
            return self.params.start_time
        if phase == Phase.ENDED:
            return None
        if phase == Phase.SCORE_REVEAL:
            return self.round_end(r)
        return self.phase_start(r, Phase(phase + 1))
