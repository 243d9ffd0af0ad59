"""Read-only calls of ``ArenaClient``: every number the CLI shows, as typed records.

``ArenaViews`` is mixed into ``client.ArenaClient``; it needs ``self.arena`` (the Arena
contract), ``self.token`` and ``self.now()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from eth_utils import to_checksum_address

from .types import (
    MAX_PAGE,
    MAX_SUBMISSIONS,
    ArenaError,
    CommitteeDraw,
    Delegation,
    ModelCommit,
    Participant,
    Phase,
    RoundInfo,
    Status,
    Submission,
    TaskParams,
    TaskState,
    ValidatorRound,
    Vote,
    address_of,
    from_struct,
    plain,
    scores_by_slot,
    to_bytes32,
)


class ArenaViews:
    """Typed views of the Arena contract (PROTOCOL.md §6)."""

    def task_count(self) -> int:
        return int(self.arena.task_count())

    def task_params(self, task: int) -> TaskParams:
        self._check_task(task)
        raw = self.arena.task_params(task)
        names = [f.name for f in dataclasses.fields(TaskParams)]
        values = {}
        for name in names:
            try:
                v = getattr(raw, name)
            except AttributeError:
                v = raw[TaskParams.ABI_ORDER.index(name)]
            values[name] = plain(v)
        return TaskParams(**values)

    def task_state(self, task: int) -> TaskState:
        self._check_task(task)
        return from_struct(TaskState, self.arena.task_state(task))

    def current_round(self, task: int) -> int:
        """Time-round: -1 before the start, may be >= num_rounds after the last round."""
        return int(self.arena.current_round(task))

    def round_at(self, task: int, timestamp: int) -> int:
        """The time-round at ``timestamp`` (-1 before the start), as the contract computes it;
        used with ``now()`` so a commitment is for the round of the block that includes it."""
        p = self.task_params(task)
        if timestamp < p.start_time:
            return -1
        return (timestamp - p.start_time) // p.round_length

    def current_phase(self, task: int) -> Phase:
        return Phase(int(self.arena.current_phase(task)))

    def round_start(self, task: int, round_: int) -> int:
        return int(self.arena.round_start(task, round_))

    def phase_end(self, task: int, round_: int, phase: Phase | int) -> int:
        return int(self.arena.phase_end(task, round_, int(phase)))

    def phase_window(self, task: int, round_: int, phase: Phase | int) -> tuple[int, int]:
        """``(start, end)`` of ``phase`` in ``round_``: the phase holds for start <= t < end."""
        phase = Phase(int(phase))
        if phase == Phase.COMMIT:
            start = self.round_start(task, round_)
        else:
            start = self.phase_end(task, round_, phase - 1)
        return start, self.phase_end(task, round_, phase)

    def round_end(self, task: int, round_: int) -> int:
        return self.phase_end(task, round_, Phase.SCORE_REVEAL)

    def schedule(self, task: int) -> dict[str, int]:
        """Where the task is now: ``{round, phase, phase_end, now}`` (phase_end 0 if none)."""
        r, ph, now = self.current_round(task), self.current_phase(task), self.head_time()
        end = self.phase_end(task, r, ph) if Phase.COMMIT <= ph <= Phase.SCORE_REVEAL else 0
        return {"round": r, "phase": int(ph), "phase_end": end, "now": now}

    def participant(self, task: int, account: Any) -> Participant:
        return from_struct(Participant, self.arena.participant(task, address_of(account)))

    def delegation(self, task: int, participant: Any, delegator: Any) -> Delegation:
        return from_struct(
            Delegation, self.arena.delegation(task, address_of(participant), address_of(delegator))
        )

    def delegation_value(self, task: int, participant: Any, delegator: Any) -> int:
        """What a delegation is worth now (after the participant's slashes), in wei."""
        return int(
            self.arena.delegation_value(task, address_of(participant), address_of(delegator))
        )

    def effective_stake(self, task: int, account: Any, round_: int) -> int:
        return int(self.arena.effective_stake(task, address_of(account), round_))

    def own_stake(self, task: int, account: Any, round_: int) -> int:
        return int(self.arena.own_stake(task, address_of(account), round_))

    def round_info(self, task: int, round_: int) -> RoundInfo:
        return from_struct(RoundInfo, self.arena.round_info(task, round_))

    def submission(self, task: int, round_: int, k: int) -> Submission:
        sub = from_struct(Submission, self.arena.submission(task, round_, k))
        return dataclasses.replace(sub, slot=k)

    def submissions(self, task: int, round_: int) -> list[Submission]:
        """Revealed submissions of a round in slot order (the order validators score in)."""
        n = self.round_info(task, round_).num_submissions
        return [self.submission(task, round_, k) for k in range(n)]

    def model_commit(self, task: int, round_: int, node: Any) -> ModelCommit:
        return from_struct(ModelCommit, self.arena.model_commit(task, round_, address_of(node)))

    def committers(self, task: int, round_: int) -> list[str]:
        """Nodes that committed a model in ``round_``, in first-commit order."""
        n = self.round_info(task, round_).committer_count
        return [to_checksum_address(str(self.arena.committer(task, round_, i))) for i in range(n)]

    def validators(self, task: int) -> list[str]:
        """All of the task's validators in index order, paging through the list view."""
        n = self.task_state(task).validator_count
        out: list[str] = []
        for start in range(0, n, MAX_PAGE):
            out += [
                to_checksum_address(str(v)) for v in self.arena.validators(task, start, MAX_PAGE)
            ]
        return out

    def votes(self, task: int, round_: int, k: int) -> list[Vote]:
        """The committee votes recorded for slot ``k`` (PROTOCOL.md §5a), in reveal order."""
        return [from_struct(Vote, v) for v in self.arena.votes(task, round_, k)]

    def scores_by_slot(self, task: int, round_: int, validator: Any, n: int) -> list[int | None]:
        """``validator``'s revealed scores of round ``round_`` spread over its ``n`` slots
        (None where it sat on no committee); all None before the round's seed."""
        if not self.committee(task, round_).seeded:
            return [None] * n
        slots = self.assignments(task, round_, validator)
        return scores_by_slot(slots, self.validator_scores(task, round_, validator), n)

    def validator_weight(self, task: int) -> int:
        """W the next ``draw`` freezes (PROTOCOL.md §5a)."""
        return int(self.arena.validator_weight(task))

    def committee(self, task: int, round_: int) -> CommitteeDraw:
        """The round's committee draw (all zero before ``draw``)."""
        return from_struct(CommitteeDraw, self.arena.committee(task, round_))

    def assignments(self, task: int, round_: int, validator: Any) -> list[int]:
        """The slots whose committee ``validator`` sits on, paging through the round; raises
        ``ArenaError`` while the round has no readable seed."""
        d = self.committee(task, round_)
        if not d.seeded:
            raise ArenaError(
                f"round {round_} of task {task} has no committee seed yet"
                + (" (call draw again after its target block)" if d.drawn else " (not drawn)")
            )
        who = address_of(validator)
        out: list[int] = []
        for start in range(0, d.submissions, MAX_SUBMISSIONS):
            out += [
                int(k) for k in self.arena.assignments(task, round_, who, start, MAX_SUBMISSIONS)
            ]
        return out

    def validator_round(self, task: int, round_: int, validator: Any) -> ValidatorRound:
        return from_struct(
            ValidatorRound, self.arena.validator_round(task, round_, address_of(validator))
        )

    def validator_scores(self, task: int, round_: int, validator: Any) -> list[int]:
        return [int(s) for s in self.arena.validator_scores(task, round_, address_of(validator))]

    def claimable(self, task: int, participant: Any, account: Any | None = None) -> int:
        """Owner part when ``account`` is the participant (default), else the delegation's."""
        acct = participant if account is None else account
        return int(self.arena.claimable(task, address_of(participant), address_of(acct)))

    def withdrawable(self, task: int, participant: Any, account: Any | None = None) -> int:
        acct = participant if account is None else account
        return int(self.arena.withdrawable(task, address_of(participant), address_of(acct)))

    def model_owner(self, task: int, model_sha256: bytes | str) -> str:
        return to_checksum_address(str(self.arena.model_owner(task, to_bytes32(model_sha256))))

    def balance(self, account: Any) -> int:
        return int(self.token.balanceOf(address_of(account)))

    def allowance(self, owner: Any) -> int:
        return int(self.token.allowance(address_of(owner), self.address))

    def can_finalize(self, task: int) -> bool:
        """True when the next unfinalized round is over (``finalize`` would not revert)."""
        st = self.task_state(task)
        if st.status != Status.ACTIVE:
            return False
        params = self.task_params(task)
        if st.finalized_rounds >= params.num_rounds:
            return False
        return self.now() >= self.round_end(task, st.finalized_rounds)

    def _check_task(self, task: int) -> None:
        count = self.task_count()
        if not 1 <= int(task) <= count:
            raise ArenaError(
                f"task {task} does not exist on chain {self.chain_id} "
                f"(tasks 1..{count}); check the id and --network",
                "arena: unknown task",
            )
