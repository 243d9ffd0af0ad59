"""What every hands-free role loop shares (``validator run``, ``node run``, ``task run``).

A loop is a ``step()`` that does whatever is due at the chain's current time and returns a
``StepResult`` (never blocking on the clock), and ``run()``, which repeats it and sleeps to
the next phase boundary in between. Each step decides from the chain (and the role's local
state files) what is left to do, so a loop killed at any moment picks up where it was when
started again. ``RoleLoop`` holds the parts that are the same for every role:

* one loop per role, account, task and chain: ``run`` holds an ``fsutil.run_lock`` and
  refuses a second loop with a message naming the first;
* transactions through ``_send``: a revert is explained and not retried, any other failure
  (RPC down, timeout, nonce race) is retried with a log line, after checking that it did
  not land after all;
* finalizing what is due (anyone may), claiming vested rewards, withdrawing at the end;
* logging: ``log`` with the loop's name, ``_once`` for what a waiting loop would repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import (
    DEFAULT_FINALIZE_STEPS,
    ArenaClient,
    ArenaError,
    Phase,
    Status,
    TransientTxError,
    fmt_time,
    fmt_tokens,
)
from .clock import RoundClock


class LoopError(RuntimeError):
    """A role loop cannot go on (bad configuration, lost state, repeated tx failure)."""


@dataclass
class StepResult:
    """What one ``step`` saw and did."""

    round: int
    phase: Phase
    actions: list[str] = field(default_factory=list)
    next_time: int | None = None
    """Chain time of the next phase boundary worth waking up for (None: nothing left)."""
    finished: bool = False
    """The task ended (or was cancelled) and everything was claimed and withdrawn."""


class RoleLoop:
    """Base of the role loops; subclasses implement ``step`` and name their lock."""

    error_class: type[Exception] = LoopError
    role = "loop"

    def __init__(
        self,
        client: ArenaClient,
        task: int,
        account: Any,
        *,
        log: Callable[[str], None] = print,
        finalize: bool = True,
        claim: bool = True,
        withdraw: bool = True,
        retries: int = 5,
        retry_delay: float = 2.0,
        max_steps: int = DEFAULT_FINALIZE_STEPS,
        sleep: Callable[[float], None] = time.sleep,
        name: str | None = None,
    ):
        self.client = client
        self.task = int(task)
        self.account = account
        self.address = str(account.address)
        self.name = name or self.address[:10]
        self._log = log
        self.do_finalize, self.do_claim, self.do_withdraw = finalize, claim, withdraw
        self.retries = max(1, int(retries))
        self.retry_delay = float(retry_delay)
        self.max_steps = int(max_steps)
        self.sleep = sleep
        self.params = client.task_params(self.task)
        self.clock = RoundClock(self.params)
        self._said: set[tuple[int, str]] = set()

    # ------------------------------------------------------------------ logging
    def log(self, text: str) -> None:
        self._log(f"[{self.name}] {text}")

    def _once(self, round_: int, key: str, text: str) -> None:
        """Log ``text`` once per round and key (waiting loops call ``step`` repeatedly)."""
        if (round_, key) not in self._said:
            self._said.add((round_, key))
            self.log(text)

    # ------------------------------------------------------------------ one step
    def step(self) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def lock_path(self) -> Path:  # pragma: no cover - abstract
        """The lock file of this loop (role, account, task, chain)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ finalize / claim
    def _settle(self, result: StepResult, now: int) -> StepResult:
        """The end of every step: finalize what is over, claim what vested; at the task's
        end ``_finish`` (claim the rest, withdraw) and stop."""
        if self.do_finalize:
            self._finalize_due(result)
        if self.do_claim:
            self._claim(result)
        if self.client.task_state(self.task).status == Status.ENDED:
            self._finish(result)
            result.finished = True
            result.next_time = None
        elif result.next_time is None:
            # clock past the last round but not finalized yet: come back to finalize
            result.next_time = now + 1
        return result

    def _finalized_note(self, r: int) -> str:
        """What this role adds to the 'round r: finalized' line."""
        return ""

    def _finalize_due(self, result: StepResult) -> None:
        """Finalize every round that is over, one transaction per round."""
        for _ in range(self.params.num_rounds + 1):
            # the round first, then whether it can be finalized: another loop may finalize
            # it in between, and ``done`` below must name the round this one was meant for
            r = self.client.task_state(self.task).finalized_rounds
            if not self.client.can_finalize(self.task):
                return
            if self.client.task_state(self.task).finalized_rounds != r:
                continue  # someone else just finalized round r: look again

            def finalized(r=r) -> bool:
                return self.client.task_state(self.task).finalized_rounds > r

            self._send(
                f"round {r}: finalize",
                lambda: self.client.finalize(
                    self.task, max_steps=self.max_steps, all_rounds=False, sender=self.account
                ),
                done=finalized,
            )
            info = self.client.round_info(self.task, r)
            extra = f", void ({info.void_reason})" if info.void_reason else ""
            self.log(f"round {r}: finalized{extra}{self._finalized_note(r)}")
            result.actions.append(f"finalize {r}")

    def _claim(self, result: StepResult) -> None:
        amount = self.client.claimable(self.task, self.address)
        if amount <= 0:
            return
        self._send(
            "claim",
            lambda: self.client.claim(self.task, sender=self.account),
            done=lambda: self.client.claimable(self.task, self.address) < amount,
        )
        self.log(f"claimed {fmt_tokens(amount)} ARENA")
        result.actions.append("claim")

    def _finish(self, result: StepResult) -> None:
        """At the task's end: claim the rest, withdraw the stake."""
        if self.do_claim:
            self._claim(result)
        if self.do_withdraw:
            amount = self.client.withdrawable(self.task, self.address)
            if amount > 0:
                self._send(
                    "withdraw",
                    lambda: self.client.withdraw(self.task, sender=self.account),
                    done=lambda: self.client.withdrawable(self.task, self.address) == 0,
                )
                self.log(f"task {self.task} ended: withdrew stake {fmt_tokens(amount)} ARENA")
                result.actions.append("withdraw")
        self._once(10**9, "ended", f"task {self.task} ended; {self.role} done")

    # ------------------------------------------------------------------ transactions
    def _send(
        self, what: str, fn: Callable[[], Any], done: Callable[[], bool] | None = None
    ) -> Any:
        """Send a transaction; retry non-revert failures (checking ``done`` first)."""
        delay = self.retry_delay
        for attempt in range(1, self.retries + 1):
            try:
                return fn()
            except ArenaError as err:
                if done is not None and self._done_soon(done):
                    return None  # another loop's transaction did it (seen a block later)
                early = _phase_or_reasonless(err.reason) and self._just_opened()
                if not (isinstance(err, TransientTxError) or early) or attempt == self.retries:
                    raise
                if early:  # the next block's clock has not reached the boundary yet
                    self.log(
                        f"{what}: the chain's clock is not past the phase boundary yet; trying again"
                    )
                    self.sleep(min(delay, 2.0))
                    continue
                self.log(f"{what}: {err}; sending it again (attempt {attempt + 1}/{self.retries})")
                self.sleep(min(delay, 1.0))
                continue
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - RPC/timeouts/nonce races: retried
                if done is not None and _safe(done):
                    self.log(f"{what}: landed after all ({one_line(err)})")
                    return None
                if attempt == self.retries:
                    raise self.error_class(
                        f"{what} failed after {attempt} attempts: {one_line(err)}"
                    ) from err
                self.log(
                    f"{what} failed: {one_line(err)}; retrying in {delay:g} s (attempt {attempt + 1}/{self.retries})"
                )
                self.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def _done_soon(self, done: Callable[[], bool], blocks: int = 3) -> bool:
        """``done()`` now or within a few seconds: on a live chain a competing transaction
        (another loop finalizing the same round) shows in the state a block after it made
        ours revert."""
        for attempt in range(blocks + 1):
            if _safe(done):
                return True
            if attempt < blocks:
                self.sleep(1.0)
        return False

    def _just_opened(self, within: int = 30) -> bool:
        """Whether the phase the clock puts ``now`` in opened less than ``within`` seconds
        ago: a "wrong phase" revert then only means the block the call ran in still had a
        time before the boundary (a live chain's pending time runs ahead of its blocks)."""
        now = self.client.now()
        r, phase = self.clock.at(now)
        if phase == Phase.NOT_STARTED:
            return False
        if phase == Phase.ENDED:  # the last round's end (finalize opens there)
            opened = self.clock.round_end(self.params.num_rounds - 1)
        else:
            opened = self.clock.phase_start(r, phase)
        return now - opened < within

    # ------------------------------------------------------------------ loop
    def run_loop(
        self,
        *,
        once: bool = False,
        poll_seconds: float = 5.0,
        on_wait: Callable[[int, int], None] | None = None,
        stop: Callable[[StepResult], bool] | None = None,
    ) -> list[StepResult]:
        """Loop ``step`` until the task is done for this role (or ``once``, or ``stop``
        says so), under this loop's lock: a second loop for the same role, account, task
        and chain is refused with ``error_class`` naming the first."""
        from ..fsutil import LockHeld, run_lock

        lock = run_lock(
            self.lock_path(),
            f"`{self.role} run` for {self.address} on task {self.task} of this chain",
        )
        try:
            lock.acquire()
        except LockHeld as exc:
            raise self.error_class(str(exc)) from None
        try:
            steps = []
            while True:
                res = self.step()
                steps.append(res)
                if res.finished or once or (stop is not None and stop(res)):
                    return steps
                if res.next_time is not None:
                    self._wait_until(res.next_time, poll_seconds, on_wait)
        finally:
            lock.release()

    def _wait_until(self, ts: int, poll: float, on_wait: Callable[[int, int], None] | None) -> None:
        r, phase = self.clock.at(ts)
        what = (
            f"round {r} {phase.label}"
            if phase not in (Phase.ENDED, Phase.NOT_STARTED)
            else phase.label
        )
        self._once(r, f"sleep-{int(phase)}", f"waiting for {what} ({fmt_time(ts)})")
        while (now := self.client.now()) < ts:
            if on_wait is not None:
                on_wait(now, ts)
            self.sleep(max(0.2, min(poll, ts - now)))


def _phase_or_reasonless(reason: str | None) -> bool:
    """A revert that may only mean "too early by a block": the wrong-phase or round-not-over
    revert, or one without a reason (what a node may report for a revert inside a delegate
    call)."""
    text = (reason or "").strip().lower()
    return text in (
        "arena: wrong phase", "arena: round not over", "", "transaction failed.",
        "transaction reverted",
        "reverted without message",
    )  # fmt: skip


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a failing view must not mask the original error
        return False


def one_line(err: BaseException) -> str:
    """``Type: message`` on one line (at most 300 characters of message)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__
