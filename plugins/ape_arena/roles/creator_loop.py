"""``task run``: a task creator's side of a task, hands-free (DESIGN §4.4).

Each round, in the EVAL phase, the loop reveals that round's eval shard with its Merkle
proof (``creator.reveal_eval``: the shard folder and URI base recorded by ``task create``,
or given); after each round it finalizes what is due; at the task's end it takes the
refund (void rounds, slashes, rounding dust) when there is one. Every action is decided from
the chain, so a loop killed at any moment carries on when started again, and one loop per
task and chain runs at a time (``RoleLoop.run_loop`` holds the lock).

Example::

    CreatorLoop(client, 1, account, store=store, state_dir=".arena/state").run_loop()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..protocol import ArenaClient, Phase, Status, fmt_time, fmt_tokens
from .creator import reveal_eval, state_file
from .loop import LoopError, RoleLoop, StepResult


class CreatorLoop(RoleLoop):
    """The creator account of one task, round after round."""

    role = "task"

    def __init__(
        self,
        client: ArenaClient,
        task: int,
        account: Any,
        *,
        store: Any,
        state_dir: str | os.PathLike[str],
        shard_dir: str | os.PathLike[str] | None = None,
        uri_base: str | None = None,
        **options: Any,
    ):
        options.setdefault("claim", False)  # a creator has no rewards to claim
        super().__init__(client, task, account, **options)
        self.store = store
        self.state_dir = Path(state_dir)
        self.shard_dir = shard_dir
        self.uri_base = uri_base

    def lock_path(self) -> Path:
        path = state_file(self.state_dir, self.client.scope, self.task)
        return path.with_name(path.stem + ".run.lock")

    def step(self) -> StepResult:
        """Do what is due at the chain's current time; never blocks on the clock."""
        now = self.client.now()
        r, phase = self.clock.at(now)
        result = StepResult(round=r, phase=phase, next_time=self.clock.next_boundary(now))
        st = self.client.task_state(self.task)
        if st.status == Status.CANCELLED:
            self.log(f"task {self.task} was cancelled; nothing to do")
            result.finished = True
            return result
        if st.creator != self.address:
            raise LoopError(
                f"{self.address} is not the creator of task {self.task} ({st.creator} is); "
                "run `task run` with the creator's --account"
            )
        if 0 <= r < self.params.num_rounds:
            if phase == Phase.EVAL:
                self._ensure_eval_revealed(r, result)
            elif phase in (Phase.REVEAL, Phase.SCORE_COMMIT, Phase.SCORE_REVEAL):
                if not self.client.round_info(self.task, r).eval_revealed:
                    self._once(
                        r,
                        "missed",
                        f"round {r}: its eval shard was not revealed in time; the round is void",
                    )
        elif phase == Phase.NOT_STARTED:
            self._once(-1, "wait", f"task {self.task} starts {fmt_time(self.params.start_time)}")
        return self._settle(result, now)

    def _ensure_eval_revealed(self, r: int, result: StepResult) -> None:
        if self.client.round_info(self.task, r).eval_revealed:
            return
        out = self._send(
            f"round {r}: reveal the eval shard",
            lambda: reveal_eval(
                self.client,
                self.task,
                r,
                store=self.store,
                state_dir=self.state_dir,
                shard_dir=self.shard_dir,
                uri_base=self.uri_base,
                sender=self.account,
            ),  # fmt: skip
            done=lambda: self.client.round_info(self.task, r).eval_revealed,
        )
        where = f" at {out['shard_uri']}" if out else ""
        self.log(f"round {r}: revealed the eval shard{where}")
        result.actions.append(f"reveal-eval {r}")

    def _finish(self, result: StepResult) -> None:
        """At the task's end: take the refund when there is one."""
        st = self.client.task_state(self.task)
        if st.refund > 0 and not st.refund_claimed:
            amount = self._send(
                "refund",
                lambda: self.client.claim_refund(self.task, sender=self.account),
                done=lambda: self.client.task_state(self.task).refund_claimed,
            )
            self.log(f"task {self.task} ended: refunded {fmt_tokens(amount or st.refund)} ARENA")
            result.actions.append("refund")
        self._once(10**9, "ended", f"task {self.task} ended; creator done")
