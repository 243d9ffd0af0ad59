"""The per-round validator (DESIGN §4.4): wait, fetch, score, commit, reveal, finalize, claim.

``Validator.step()`` does whatever is due at the chain's current time and returns; ``run()``
loops ``step()`` and waits for the next phase boundary in between. In each round ``r``:

* SCORE_COMMIT: learn the round's committees (PROTOCOL.md §5a: draw them if nobody did, then
  wait for the seed block; on a local dev chain mine it), then fetch the task spec, the
  round's eval shard and the revealed models **of its committees** through
  the artifact store (each verified against its on-chain sha256; a model whose committed
  bytes cannot be fetched is reported UNAVAILABLE, one over the task's size limit INVALID,
  a bad shard skips the round), score them with the
  ``Engine``, draw a fresh random salt, **write scores + salt to the state folder** and only
  then send ``commit_scores``;
* SCORE_REVEAL: reveal exactly the saved scores and salt;
* after the round: ``finalize`` it (anyone may; the first validator to get there does it),
  ``claim`` the vested rewards; when the task has ended, claim the rest and ``withdraw``.

Crash safety
------------
One JSON file per chain/arena/task/validator/round (``validator_state.StateStore``)::

    <state_dir>/<chain>/<arena>/task-<id>/<validator>/round-<r>.json

(``<chain>`` is the chain id, plus the genesis hash on local dev chains, whose ids repeat.)
It is written atomically (temp file in the same folder, ``fsync``, ``os.replace``, ``fsync``
of the folder) *before* the commit transaction and updated after each transaction
(``status``: ``scored`` -> ``committed`` -> ``revealed``). Whatever moment the process dies,
a restart reads the file and reconciles it with the chain:

* killed after saving but before/while committing: the saved commitment is (re)sent;
* killed after committing: the saved scores and salt are revealed in SCORE_REVEAL;
* a round with saved state is never scored again and never gets a new salt;
* the only case that re-scores is a round with *no* saved state while SCORE_COMMIT is still
  open (a re-commit overwrites, so a fresh salt is safe there).

A transaction that fails for a non-revert reason (RPC down, timeout, nonce race) is retried
with a log line per attempt; before each retry the chain is checked, so a transaction that
landed after all is not sent twice. Reverts are deterministic: they become one-line
``ArenaError`` messages (from ``protocol.ArenaClient``) and are not retried.

Example::

    client = ArenaClient.from_deployment(account=acct)
    Validator(client, task=1, account=acct).run(max_rounds=3)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import (
    DEFAULT_FINALIZE_STEPS,
    INVALID_SCORE,
    SEED_WINDOW,
    UNAVAILABLE_SCORE,
    ArenaClient,
    ArenaError,
    Phase,
    Role,
    Status,
    fmt_score,
    fmt_time,
    fmt_tokens,
    hex32,
    new_salt,
    score_commitment,
    to_bytes32,
)
from .loop import RoleLoop, StepResult
from .loop import one_line as _one_line
from .validator_state import (
    COMMITTED,
    REVEALED,
    SCORED,
    STATUS_ORDER,
    RoundState,
    StateStore,
    ValidatorError,
    chain_key,
    state_dir_from_config,
)

__all__ = [
    "COMMITTED",
    "MAX_SCORE_ATTEMPTS",
    "REVEALED",
    "SCORED",
    "RoundState",
    "Scored",
    "StateStore",
    "StepResult",
    "Validator",
    "ValidatorError",
    "chain_key",
]

MAX_SCORE_ATTEMPTS = 3
"""Scoring attempts per round before a validator gives the round up (nothing committed)."""


# ----------------------------------------------------------------------------- results
@dataclass
class Scored:
    scores: list[int]
    reasons: list[str]
    paths: list[str] = field(default_factory=list)
    """The engine's path per model (``cpu``, ``cpu-fused``, ``cuda``; ``""`` unscored)."""


# ----------------------------------------------------------------------------- validator

UNAVAILABLE_CODE = "unavailable"


def _fetch_failure(exc: Exception) -> str:
    """The reason code of a model the store could not hand over: ``too_large`` (over the
    task's size limit, a rule about the model: INVALID), ``unavailable`` (the committed bytes
    cannot be had: reported UNAVAILABLE, never INVALID) or ``bad_sha256`` (a malformed hash)."""
    from ..evaluation.store import StoreError, TooLargeError

    if isinstance(exc, TooLargeError):
        return "too_large"
    if isinstance(exc, StoreError):
        return UNAVAILABLE_CODE
    return "bad_sha256"


SEED_POLL_SECONDS = 2  # chain seconds between looks while a round's committees are not known


class Validator(RoleLoop):
    """One validator account working one task.

    Args:
        client: an ``ArenaClient`` connected to the arena.
        task: the task id.
        account: the validator's Ape account (must have joined as VALIDATOR).
        state_dir: root of the state folder (default: ``arena.state_dir``).
        store: ``ArtifactStore`` used to fetch and verify spec, shard and models
            (default: ``arena.store_dir``).
        log: where progress lines go.
        engine_options: extra keyword arguments for ``Engine`` (threads, device, ...).
        finalize / claim / withdraw: whether to do those after rounds / at the end.
        retries, retry_delay: non-revert transaction failures are retried this often,
            waiting ``retry_delay`` seconds (doubling, at most 30 s) in between.
    """

    def __init__(
        self,
        client: ArenaClient,
        task: int,
        account: Any,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        store: Any = None,
        log: Callable[[str], None] = print,
        engine_options: dict[str, Any] | None = None,
        finalize: bool = True,
        claim: bool = True,
        withdraw: bool = True,
        retries: int = 5,
        retry_delay: float = 2.0,
        max_steps: int = DEFAULT_FINALIZE_STEPS,
        sleep: Callable[[float], None] = time.sleep,
        name: str | None = None,
    ):
        super().__init__(
            client, task, account, log=log, finalize=finalize, claim=claim,
            withdraw=withdraw, retries=retries, retry_delay=retry_delay, max_steps=max_steps,
            sleep=sleep, name=name,
        )  # fmt: skip
        self.engine_options = dict(engine_options or {})
        if store is None:
            from ..evaluation.store import ArtifactStore

            store = ArtifactStore.from_config()
        self.store = store
        self.base_model: Path | None = None  # the task's base (chat.base), fetched per round
        root = Path(state_dir) if state_dir is not None else state_dir_from_config()
        self.states = StateStore(
            root,
            chain_key(client.chain_id, _genesis_hash()),
            client.address,
            self.task,
            self.address,
        )
        self._spec = None
        self.rounds_seen: set[int] = set()
        self.rounds_closed: set[int] = set()
        self.score_failures: dict[int, int] = {}
        self._draw_waits: dict[int, int] = {}  # round -> checks waited before drawing

    # ------------------------------------------------------------------ one step
    def step(self) -> StepResult:
        """Do everything that is due at the current chain time; never blocks on the clock."""
        now = self.client.now()
        r, phase = self.clock.at(now)
        result = StepResult(round=r, phase=phase, next_time=self.clock.next_boundary(now))
        status = self.client.task_state(self.task).status
        if status == Status.CANCELLED:
            self.log(f"task {self.task} was cancelled; nothing to validate")
            result.finished = True
            return result
        me = self.client.participant(self.task, self.address)
        if me.role != Role.VALIDATOR:
            raise ValidatorError(
                f"{self.address} has not joined task {self.task} as a validator; run "
                f"`ape arena validator join {self.task} --amount N` first"
            )
        if 0 <= r < self.params.num_rounds:
            self.rounds_seen.add(r)
            if phase == Phase.SCORE_COMMIT:
                self._ensure_committed(r, result)
            elif phase == Phase.SCORE_REVEAL:
                self._ensure_revealed(r, result)
            elif phase in (Phase.COMMIT, Phase.EVAL, Phase.REVEAL):
                start = self.clock.phase_start(r, Phase.SCORE_COMMIT)
                self._once(
                    r, "wait", f"round {r}: {phase.label} phase; scoring opens {fmt_time(start)}"
                )
        elif phase == Phase.NOT_STARTED:
            self._once(-1, "wait", f"task {self.task} starts {fmt_time(self.params.start_time)}")
        # rounds whose score-reveal window closed since we started
        for seen in sorted(self.rounds_seen - self.rounds_closed):
            if now >= self.clock.round_end(seen):
                self._round_closed(seen)
                self.rounds_closed.add(seen)
        return self._settle(result, now)

    # ------------------------------------------------------------------ committees
    def _committee_slots(self, r: int) -> list[int] | None:
        """The slots of round ``r`` whose committees this validator sits on (PROTOCOL.md
        §5a), or None while they cannot be known yet: nobody drew the round (this call
        draws, validators taking turns by index), or the seed block is not past yet (on a
        local dev chain, where blocks only come with transactions, it mines one)."""
        d = self.client.committee(self.task, r)
        if d.seeded:
            mine = self.client.assignments(self.task, r, self.address)
            self._once(
                r,
                "committee",
                f"round {r}: on {len(mine)} of {d.submissions} committees (K "
                f"{d.committee_size}, seed {hex32(d.seed)[:12]}…)",
            )
            return mine
        if self.client.task_state(self.task).finalized_rounds != r:
            self._once(
                r,
                "draw-wait",
                f"round {r}: its committees are drawn once round {r - 1} is finalized",
            )
            return None
        redraw = d.drawn
        if redraw and self.client.head_block() - d.target_block <= SEED_WINDOW:
            return self._seed_slots(r)  # the seed is the target block's hash, readable after it
        # Validators take turns by index (one more check each) so that they do not all send
        # the same draw at once: the first draw makes the others' unnecessary.
        waited = self._draw_waits.get(r, 0)
        if waited < min(self.client.participant(self.task, self.address).validator_index, 8):
            self._draw_waits[r] = waited + 1
            return None
        try:
            self.client.draw(self.task, r, sender=self.account)
        except ArenaError as err:
            self._once(r, f"draw {err}", f"round {r}: {err}")
            return None
        d = self.client.committee(self.task, r)
        why = " again (the last target block's hash is gone)" if redraw else ""
        self.log(
            f"round {r}: drew the committees{why}; their seed is the hash of block {d.target_block}"
        )
        return self._seed_slots(r)

    def _seed_slots(self, r: int) -> list[int] | None:
        """Once drawn: on a local dev chain (blocks only come with transactions) mine the
        blocks that make the seed readable and go on; elsewhere wait for them (None)."""
        if not self.client.is_local:
            return None
        for _ in range(3):
            self.client.mine_block()
            if self.client.committee(self.task, r).seeded:
                return self._committee_slots(r)
        return None

    # ------------------------------------------------------------------ score + commit
    def _ensure_committed(self, r: int, result: StepResult) -> None:
        if self.client.own_stake(self.task, self.address, r) == 0:
            p = self.client.participant(self.task, self.address)
            why = (
                f"activates in round {p.pending_round}"
                if p.own_pending
                else "none left after slashing"
            )
            self._once(r, "inactive", f"round {r}: no active own stake ({why}); not scoring")
            return
        vr = self.client.validator_round(self.task, r, self.address)
        state = self.states.load(r)
        info = self.client.round_info(self.task, r)
        if state is not None and not self._matches(state, r, info):
            if vr.committed and vr.commitment == to_bytes32(state.commitment):
                raise ValidatorError(
                    f"round {r}: saved state {self.states.path(r)} does not match the chain's "
                    "submissions but matches the on-chain commitment; refusing to guess"
                )
            moved = self.states.set_aside(r, "stale")
            self.log(f"round {r}: saved state belongs to another chain/round; moved to {moved}")
            state = None
        if state is None:
            if not info.eval_revealed:
                self._once(
                    r,
                    "noeval",
                    f"round {r}: the creator revealed no eval shard; the round is void, nothing to score",
                )
                return
            if info.num_submissions == 0:
                self._once(r, "nosubs", f"round {r}: no revealed submissions; nothing to score")
                return
            if vr.committed:
                self.log(
                    f"round {r}: a commitment is on-chain but no saved state; scoring again and re-committing (a new commitment overwrites)"
                )
            slots = self._committee_slots(r)
            if slots is None:  # not known yet (draw, seed block): look again in a few seconds
                soon = self.client.now() + SEED_POLL_SECONDS
                result.next_time = soon if result.next_time is None else min(result.next_time, soon)
                return
            if not slots:
                self._once(r, "nocommittee", f"round {r}: on no committee; nothing to score")
                return
            scored = self._score_round(r, info, slots)
            if scored is None:
                return
            salt = new_salt()
            commitment = score_commitment(self.task, r, self.address, scored.scores, salt)
            subs = self.client.submissions(self.task, r)
            state = RoundState(
                chain=self.states.chain,
                arena=self.client.address,
                task=self.task,
                round=r,
                validator=self.address,
                shard_sha256=bytes(info.shard_sha256).hex(),
                models=[bytes(s.model_sha256).hex() for s in subs],
                slots=list(slots),
                scores=list(scored.scores),
                reasons=list(scored.reasons),
                salt=hex32(salt),
                commitment=hex32(commitment),
                machine=self._machine(scored),
            )
            state.note("scored")
            path = self.states.save(state)  # BEFORE the commit transaction
            self._said.add((r, "resume"))  # this process wrote it: nothing to resume
            self.log(f"round {r}: scores and salt saved to {_shown(path)}")
        else:
            self._once(
                r,
                "resume",
                f"round {r}: resuming from saved state {_shown(self.states.path(r))} "
                f"({state.status}); not scoring again",
            )
        if (
            STATUS_ORDER[state.status] >= STATUS_ORDER[COMMITTED]
            and vr.committed
            and vr.commitment == to_bytes32(state.commitment)
        ):
            return
        want = to_bytes32(state.commitment)
        if vr.committed and vr.commitment == want:
            self.log(
                f"round {r}: commitment already on-chain (the last run stopped before recording it)"
            )
        else:
            if state.status != SCORED:
                self.log(
                    f"round {r}: saved status {state.status} but the chain lacks our commitment; committing again"
                )
            scores, salt = list(state.scores), to_bytes32(state.salt)
            sent: list[bytes] = []
            self._send(
                f"round {r}: commit_scores",
                lambda: sent.append(
                    self.client.commit_scores(self.task, scores, salt, sender=self.account)
                ),
                done=lambda: self._on_chain_commitment(r) == want,
            )
            if sent and sent[-1] != want:
                raise ValidatorError(
                    f"round {r}: committed {hex32(sent[-1])} but the saved commitment is {state.commitment}"
                )
            self.log(f"round {r}: committed scores {_short(state.commitment)}")
            result.actions.append("commit")
        state.status = COMMITTED
        state.note("committed")
        self.states.save(state)

    def _matches(self, state: RoundState, r: int, info: Any) -> bool:
        if (
            state.task != self.task
            or state.round != r
            or state.validator.lower() != self.address.lower()
        ):
            return False
        if state.arena.lower() != self.client.address.lower():
            return False
        if state.shard_sha256 != bytes(info.shard_sha256).hex():
            return False
        if len(state.models) != info.num_submissions or len(state.scores) != len(state.slots):
            return False
        if any(not 0 <= k < info.num_submissions for k in state.slots):
            return False
        subs = self.client.submissions(self.task, r)
        return state.models == [bytes(s.model_sha256).hex() for s in subs]

    def _on_chain_commitment(self, r: int) -> bytes | None:
        vr = self.client.validator_round(self.task, r, self.address)
        return bytes(vr.commitment) if vr.committed else None

    # ------------------------------------------------------------------ reveal
    def _ensure_revealed(self, r: int, result: StepResult) -> None:
        vr = self.client.validator_round(self.task, r, self.address)
        state = self.states.load(r)
        if state is not None and state.status != REVEALED:
            self._once(
                r,
                "resume",
                f"round {r}: resuming from saved state {_shown(self.states.path(r))} "
                f"({state.status})",
            )
        if vr.revealed:
            if state is not None and state.status != REVEALED:
                state.status = REVEALED
                state.note("revealed (seen on-chain)")
                self.states.save(state)
            return
        if not vr.committed:
            if state is not None:
                self._once(
                    r,
                    "nocommit",
                    f"round {r}: scores were saved but never committed before the score-commit phase closed; nothing to reveal",
                )
            elif self.client.own_stake(self.task, self.address, r) > 0:
                self._once(
                    r,
                    "nocommit",
                    f"round {r}: no scores committed in this round; nothing to reveal",
                )
            return
        if state is None:
            self._once(
                r, "lost",
                f"round {r}: ERROR: committed on-chain but no saved state in {self.states.folder}; "
                "cannot reveal (the missed reveal will be slashed)",
            )  # fmt: skip
            return
        if vr.commitment != to_bytes32(state.commitment):
            self._once(
                r,
                "mismatch",
                f"round {r}: ERROR: the on-chain commitment differs from the saved one in {self.states.path(r)}; cannot reveal",
            )
            return
        if not self.should_reveal(r, state):
            self._once(r, "withhold", f"round {r}: withholding the reveal")
            return
        scores = list(state.scores)
        salt = to_bytes32(state.salt)
        self._send(
            f"round {r}: reveal_scores",
            lambda: self.client.reveal_scores(self.task, scores, salt, sender=self.account),
            done=lambda: self.client.validator_round(self.task, r, self.address).revealed,
        )
        state.status = REVEALED
        state.note("revealed")
        self.states.save(state)
        shown = ", ".join(fmt_score(s) for s in scores[:6]) + (" ..." if len(scores) > 6 else "")
        self.log(f"round {r}: revealed {len(scores)} scores [{shown}]")
        result.actions.append("reveal")

    def _round_closed(self, r: int) -> None:
        vr = self.client.validator_round(self.task, r, self.address)
        if vr.committed and not vr.revealed:
            self.log(f"round {r}: score-reveal window closed without our reveal")

    # ------------------------------------------------------------------ hooks
    def should_reveal(self, round_: int, state: RoundState) -> bool:
        """Whether to reveal (the demo's silent validator says no)."""
        return True

    def compute_scores(
        self,
        round_: int,
        spec: Any,
        shard_path: Path,
        shard_sha256: str,
        models: list[tuple[Path | None, str, str]],
    ) -> Scored:
        """Score ``models`` (``(local path or None, sha256, fetch error)``) with the Engine."""
        from ..evaluation.engine import score_models

        reasons: list[str] = [err for _, _, err in models]
        scores: list[int] = [
            UNAVAILABLE_SCORE if err.startswith(f"{UNAVAILABLE_CODE}:") else INVALID_SCORE
            for _, _, err in models
        ]
        todo = [(i, path, sha) for i, (path, sha, _) in enumerate(models) if path is not None]
        if todo:
            options = {"progress": None, **self.engine_options}
            if self.base_model is not None:
                options["base_model"] = self.base_model
            results = score_models(
                spec,
                shard_path,
                shard_sha256,
                [(str(path), sha) for _, path, sha in todo],
                **options,
            )
        paths = [""] * len(models)
        if todo:
            for (i, _, _), res in zip(todo, results, strict=True):
                scores[i] = int(res.score)
                reasons[i] = "" if res.ok else f"{res.code}: {res.reason}"
                paths[i] = res.path
        return Scored(scores, reasons, paths)

    @staticmethod
    def _machine(scored: Scored) -> dict[str, Any]:
        """The library versions and GPUs that scored the round, and each model's path."""
        from ..evaluation.pool import machine_info

        return {**machine_info(), "paths": list(scored.paths)}

    # ------------------------------------------------------------------ fetch + score
    def spec(self) -> Any:
        """The task spec, fetched from ``spec_uri`` and verified against ``spec_hash``."""
        if self._spec is None:
            from ..evaluation.spec import TaskSpec
            from ..evaluation.store import StoreError

            p = self.params
            try:
                path = self.store.get(p.spec_uri, bytes(p.spec_hash))
            except (StoreError, ValueError) as exc:
                raise ValidatorError(f"cannot fetch the task spec {p.spec_uri!r}: {exc}") from None
            self._spec = TaskSpec.from_json(Path(path).read_bytes())
        return self._spec

    def _score_round(self, r: int, info: Any, slots: list[int]) -> Scored | None:
        """Fetch and score the submissions of ``slots`` (its committees), in slot order."""
        from ..evaluation.external import ExternalDataError, fetch_beside
        from ..evaluation.store import StoreError

        if self.score_failures.get(r, 0) >= MAX_SCORE_ATTEMPTS:
            self._once(
                r,
                "givenup",
                f"round {r}: scoring failed {MAX_SCORE_ATTEMPTS} times; not committing this round",
            )
            return None
        spec = self.spec()
        shard_hex = bytes(info.shard_sha256).hex()
        try:
            shard_path = self.store.get(info.shard_uri, shard_hex)
        except (StoreError, ValueError) as exc:
            self._once(
                r, "shard", f"round {r}: cannot use the eval shard ({exc}); not scoring this round"
            )
            return None
        base = spec.chat.base if spec.chat is not None else None
        if base is not None:  # LoRA adapters merge into the task's committed base model
            try:
                self.base_model = Path(self.store.get(base.model_uri, base.model_sha256))
            except (StoreError, ValueError) as exc:
                self._once(
                    r, "base", f"round {r}: cannot fetch the task's base model ({exc}); "
                    "not scoring this round",
                )  # fmt: skip
                return None
        every = self.client.submissions(self.task, r)
        subs = [every[k] for k in slots]
        self.log(
            f"round {r}: fetching the {len(subs)} models of its committees (of {len(every)}; "
            f"shard {shard_hex[:12]} verified)"
        )
        models: list[tuple[Path | None, str, str]] = []
        for s in subs:
            sha = bytes(s.model_sha256).hex()
            try:
                path = self.store.get(s.uri, sha, max_bytes=spec.limits.max_bytes)
                if spec.chat is not None:  # weights in an external-data file, fetched beside
                    # (a store error: UNAVAILABLE as for the model; no place: INVALID)
                    room = max(spec.limits.max_bytes - Path(path).stat().st_size, 0)
                    fetch_beside(path, s.uri, sha,
                                 lambda u, h, room=room: self.store.get(u, h, max_bytes=room))  # fmt: skip
                models.append((Path(path), sha, ""))
            except ExternalDataError as exc:
                self.log(f"round {r}: model {sha[:12]} from {s.uri}: {exc} -> INVALID")
                models.append((None, sha, f"{exc.code}: {exc.reason}"))
            except (StoreError, ValueError) as exc:
                code = _fetch_failure(exc)
                verdict = "UNAVAILABLE" if code == UNAVAILABLE_CODE else "INVALID"
                self.log(f"round {r}: model {sha[:12]} from {s.uri}: {exc} -> {verdict}")
                models.append((None, sha, f"{code}: {exc}"))
        t0 = time.monotonic()
        try:
            scored = self.compute_scores(r, spec, Path(shard_path), shard_hex, models)
        except (ValidatorError, ArenaError):
            raise
        except Exception as exc:  # noqa: BLE001 - engine/shard problems: skip, retry a little
            n = self.score_failures[r] = self.score_failures.get(r, 0) + 1
            again = "" if n >= MAX_SCORE_ATTEMPTS else "; will try again"
            self.log(f"round {r}: scoring failed ({_one_line(exc)}){again}")
            return None
        if len(scored.scores) != len(subs):
            raise ValidatorError(
                f"round {r}: scorer returned {len(scored.scores)} scores for {len(subs)} models"
            )
        for s, score, why in zip(subs, scored.scores, scored.reasons, strict=True):
            tail = f" ({why})" if why else ""
            self.log(
                f"round {r}:   slot {s.slot} {bytes(s.model_sha256).hex()[:12]} -> {fmt_score(score)}{tail}"
            )
        self.log(f"round {r}: scored {len(subs)} models in {time.monotonic() - t0:.1f} s")
        return scored

    # ------------------------------------------------------------------ finalize / claim
    role = "validator"
    error_class = ValidatorError

    def _finalized_note(self, r: int) -> str:
        vr = self.client.validator_round(self.task, r, self.address)
        return f"; our reward {fmt_tokens(vr.reward)} ARENA" + (
            f", slashed {fmt_tokens(vr.slash)}" if vr.slash else ""
        )

    def lock_path(self) -> Path:
        return self.states.folder / "run.lock"

    # ------------------------------------------------------------------ loop
    def run(
        self,
        *,
        once: bool = False,
        max_rounds: int | None = None,
        poll_seconds: float = 5.0,
        on_wait: Callable[[int, int], None] | None = None,
    ) -> list[StepResult]:
        """Loop ``step`` until the task ends (or ``once``, or ``max_rounds`` rounds closed).

        Only one loop may run per chain/arena/task/validator: a lock in the state folder
        (``fsutil.run_lock``) refuses a second with ``ValidatorError`` naming the first
        (two would score twice and overwrite each other's salt and commitment)."""

        def stop(res: StepResult) -> bool:
            if max_rounds is not None and self._closed_and_settled() >= max_rounds:
                self.log(f"handled {max_rounds} round(s); stopping (--max-rounds)")
                return True
            return False

        return self.run_loop(once=once, poll_seconds=poll_seconds, on_wait=on_wait, stop=stop)

    def _closed_and_settled(self) -> int:
        finalized = self.client.task_state(self.task).finalized_rounds
        return sum(1 for r in self.rounds_closed if r < finalized or not self.do_finalize)


# ----------------------------------------------------------------------------- helpers
def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _short(text: str) -> str:
    return text[:10] + "…" if len(text) > 12 else text


def _genesis_hash() -> str | None:
    try:
        from ape import chain

        h = chain.blocks[0].hash
        return h if isinstance(h, str) else "0x" + bytes(h).hex()
    except Exception:  # noqa: BLE001 - only used to tell local chains apart
        return None
