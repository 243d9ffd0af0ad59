"""The validator's state machine and crash safety, against an in-memory arena.

``FakeArena`` implements the parts of ``ArenaClient`` the validator uses, with the contract's
rules for what matters here (phases, commit/reveal checks, one reveal, finalize order). A
"crash" is an exception derived from ``BaseException`` raised inside a transaction (before
or after it lands); the test then builds a *new* ``Validator`` on the same state folder, as
a restarted process would.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ape_arena.evaluation.spec import example
from ape_arena.fsutil import atomic_write_json
from ape_arena.protocol import (
    ArenaError,
    CommitteeDraw,
    Phase,
    RoundInfo,
    Status,
    Submission,
    TaskParams,
    ValidatorRound,
    score_commitment,
)
from ape_arena.roles.validator import (
    COMMITTED,
    REVEALED,
    SCORED,
    Scored,
    StateStore,
    Validator,
    ValidatorError,
    chain_key,
)

ME = "0x1111111111111111111111111111111111111111"
ARENA = "0x2222222222222222222222222222222222222222"
START, PHASE = 1_000, 100
ROUND = 5 * PHASE  # COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL
SHARD = "ab" * 32
MODELS = ["01" * 32, "02" * 32, "03" * 32]


class Crash(BaseException):
    """Stands for the process being killed (not an Exception: nothing may swallow it)."""


@dataclass
class Acct:
    address: str = ME


@dataclass
class VRound:
    commitment: bytes = b"\0" * 32
    committed: bool = False
    revealed: bool = False
    scores: list[int] = field(default_factory=list)


class FakeArena:
    """In-memory arena: one task, one validator, ``num_rounds`` rounds of 5 x 100 s."""

    address = ARENA
    chain_id = 31337

    def __init__(self, num_rounds: int = 2, submissions: int = 3):
        self.params = TaskParams(
            bounty=10**21,
            spec_hash=b"\x01" * 32,
            eval_root=b"\x02" * 32,
            spec_uri="file:///spec.json",
            num_rounds=num_rounds,
            start_time=START,
            commit_duration=PHASE,
            eval_duration=PHASE,
            reveal_duration=PHASE,
            score_commit_duration=PHASE,
            score_reveal_duration=PHASE,
        )
        self.time = START
        self.n = submissions
        self.rounds: dict[int, VRound] = {}
        self.finalized = 0
        self.claimable_amount = 0
        self.withdrawable_amount = 0
        self.sent: list[str] = []
        self.hooks: dict[str, list] = {}
        self.role, self.stake, self.pending = 2, 100, 0
        self.block = 1000
        # round -> the draw's target block: another validator drew every round long ago
        self.targets: dict[int, int] = {r: 10 for r in range(num_rounds)}
        self.draws: list[int] = []  # rounds drawn by this validator
        self.mined = 0
        self.slots: list[int] | None = None  # its committees' slots (None: all)

    is_local = True

    def mine_block(self) -> None:
        self.block += 1
        self.mined += 1

    # -- committees (PROTOCOL.md §5a): the draw's seed is readable once its block is past
    def committee(self, task, r):
        t = self.targets.get(r, 0)
        seed = bytes([r + 1]) * 32 if t and self.block > t else b"\0" * 32
        return CommitteeDraw(t, seed, 100, 64, self.n, b"\3" * 32)

    def assignments(self, task, r, who):
        return list(range(self.n)) if self.slots is None else list(self.slots)

    def head_block(self) -> int:
        return self.block

    def draw(self, task, r, sender=None):
        self.draws.append(r)
        self.targets[r] = self.block + 1
        self.block += 1

    # -- clock
    def now(self) -> int:
        return self.time

    def at(self, r: int, phase: Phase, offset: int = 1) -> None:
        self.time = START + r * ROUND + (int(phase) - 1) * PHASE + offset

    # -- views
    def task_params(self, task):
        return self.params

    def task_state(self, task):
        ended = self.finalized >= self.params.num_rounds
        return type(
            "S",
            (),
            {
                "status": Status.ENDED if ended else Status.ACTIVE,
                "finalized_rounds": self.finalized,
            },
        )()

    def participant(self, task, who):
        return type(
            "P",
            (),
            {
                "role": self.role,
                "pending_round": 1,
                "own_pending": self.pending,
                "validator_index": 0,
            },
        )()

    def own_stake(self, task, who, r):
        return self.stake

    def vr(self, r) -> VRound:
        return self.rounds.setdefault(r, VRound())

    def validator_round(self, task, r, who):
        v = self.vr(r)
        return ValidatorRound(v.commitment, v.committed, v.revealed, 100, 0, 0, 0, 0, 0)

    def round_info(self, task, r):
        sha = bytes.fromhex(SHARD)
        return RoundInfo(True, sha, "file:///shard", self.n, self.n, self.n, 0, 0, 0, 0, *[0] * 13)

    def submissions(self, task, r):
        return [
            Submission(
                f"0x{k + 3:040x}",
                bytes.fromhex(MODELS[k]),
                f"file:///m{k}",
                k,
                k,
                0,
                0,
                0,
                0,
                0,
                slot=k,
            )
            for k in range(self.n)
        ]

    def can_finalize(self, task):
        r = self.finalized
        return r < self.params.num_rounds and self.time >= START + (r + 1) * ROUND

    def claimable(self, task, who, account=None):
        return self.claimable_amount

    def withdrawable(self, task, who, account=None):
        return self.withdrawable_amount if self.finalized >= self.params.num_rounds else 0

    # -- transactions
    def _hook(self, name: str, when: str) -> None:
        queue = self.hooks.get(f"{name}:{when}")
        if queue:
            exc = queue.pop(0)
            if exc is not None:
                raise exc

    def phase(self) -> tuple[int, Phase]:
        off = self.time - START
        return off // (ROUND), Phase(off % (ROUND) // PHASE + 1)

    def commit_scores(self, task, scores, salt, sender=None):
        self._hook("commit", "before")
        r, ph = self.phase()
        if ph != Phase.SCORE_COMMIT:
            raise ArenaError("commit_scores failed: wrong phase", "arena: wrong phase")
        c = score_commitment(task, r, sender.address, scores, salt)
        v = self.vr(r)
        v.commitment, v.committed = c, True
        self.sent.append(f"commit {r}")
        self._hook("commit", "after")
        return c

    def reveal_scores(self, task, scores, salt, sender=None):
        self._hook("reveal", "before")
        r, ph = self.phase()
        v = self.vr(r)
        if ph != Phase.SCORE_REVEAL:
            raise ArenaError("reveal_scores failed: wrong phase", "arena: wrong phase")
        if v.revealed:
            raise ArenaError("reveal_scores failed: already revealed", "arena: already revealed")
        if score_commitment(task, r, sender.address, scores, salt) != v.commitment:
            raise ArenaError("reveal_scores failed: bad reveal", "arena: bad reveal")
        v.revealed, v.scores = True, list(scores)
        self.sent.append(f"reveal {r}")
        self._hook("reveal", "after")

    def finalize(self, task, *, max_steps, all_rounds, sender=None):
        if not self.can_finalize(task):
            raise ArenaError("finalize failed: round not over", "arena: round not over")
        self.sent.append(f"finalize {self.finalized}")
        self.finalized += 1
        self.claimable_amount += 5

    def claim(self, task, participant=None, sender=None):
        amount, self.claimable_amount = self.claimable_amount, 0
        self.sent.append("claim")
        return amount

    def withdraw(self, task, participant=None, sender=None):
        amount, self.withdrawable_amount = self.withdrawable_amount, 0
        self.sent.append("withdraw")
        return amount


class FakeStore:
    """Every URI resolves to a local file; the spec URI to the digits example spec."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "spec.json").write_bytes(example("digits").to_json())
        self.fail: set[str] = set()
        self.too_large: set[str] = set()

    def get(self, uri, sha, **kw):
        from ape_arena.evaluation.store import FetchError, TooLargeError

        if uri in self.fail:
            raise FetchError(f"cannot fetch {uri}: HTTP 404")
        if uri in self.too_large:
            raise TooLargeError(f"{uri} is larger than the limit of 10 bytes")
        if uri.endswith("spec.json"):
            return self.root / "spec.json"
        path = self.root / uri.rsplit("/", 1)[-1]
        path.write_bytes(b"x")
        return path


class CountingValidator(Validator):
    """Scores deterministically without the engine and counts how often it scored."""

    scored_rounds: list[int]

    def compute_scores(self, round_, spec, shard_path, shard_sha256, models):
        self.scored_rounds.append(round_)
        return Scored([10**9 + 7 * i + round_ for i in range(len(models))], [""] * len(models))


@pytest.fixture
def arena():
    return FakeArena()


@pytest.fixture
def make_validator(arena, tmp_path):
    lines: list[str] = []
    naps: list[float] = []

    def make(cls=CountingValidator, **kw) -> Validator:
        v = cls(
            arena,
            1,
            Acct(),
            state_dir=tmp_path / "state",
            store=FakeStore(tmp_path / "store"),
            log=lines.append,
            sleep=naps.append,
            retry_delay=0.5,
            **kw,
        )
        v.scored_rounds = []
        v.lines, v.naps = lines, naps
        return v

    return make


def saved(v: Validator, r: int) -> dict:
    return json.loads(v.states.path(r).read_text())


# ----------------------------------------------------------------------------- happy path
def test_full_round_commits_reveals_finalizes_and_claims(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.COMMIT)
    assert v.step().actions == []
    arena.at(0, Phase.SCORE_COMMIT)
    assert v.step().actions == ["commit"]
    state = saved(v, 0)
    assert state["status"] == COMMITTED
    assert "0x" + arena.vr(0).commitment.hex() == state["commitment"]
    assert state["models"] == MODELS and len(state["scores"]) == 3
    arena.at(0, Phase.SCORE_REVEAL)
    assert v.step().actions == ["reveal"]
    assert arena.vr(0).scores == state["scores"]
    assert saved(v, 0)["status"] == REVEALED
    arena.at(1, Phase.COMMIT)
    res = v.step()
    assert res.actions == ["finalize 0", "claim"]
    assert arena.sent == ["commit 0", "reveal 0", "finalize 0", "claim"]


def test_draws_the_committees_then_scores_only_its_assignments(arena, make_validator):
    """PROTOCOL.md §5a: nobody drew round 0, so the validator does (once); on a local chain
    it mines the blocks that make the seed readable and goes on in the same step: it
    fetches, scores, commits and reveals only the submissions of its committees."""
    arena.targets = {}
    arena.slots = [0, 2]
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    assert v.step().actions == ["commit"]
    assert arena.draws == [0] and arena.targets[0] == 1001 and arena.mined == 1
    assert any("drew the committees" in line and "block 1001" in line for line in v.lines)
    state = saved(v, 0)
    assert state["slots"] == [0, 2] and len(state["scores"]) == 2
    assert any("on 2 of 3 committees" in line for line in v.lines)
    assert v.scored_rounds == [0]
    v.step()
    assert arena.draws == [0] and arena.mined == 1  # nothing more to draw or mine
    arena.at(0, Phase.SCORE_REVEAL)
    assert v.step().actions == ["reveal"]
    assert arena.vr(0).scores == state["scores"]


def test_on_a_live_chain_it_waits_for_the_seed_block(arena, make_validator):
    arena.is_local = False
    arena.targets = {0: 1000}  # drawn in the head block: its hash is not readable yet
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    res = v.step()
    assert res.actions == [] and arena.mined == 0 and arena.draws == []
    assert res.next_time == arena.now() + 2  # looks again soon, not at the next phase
    arena.block += 1  # the chain moved on
    assert v.step().actions == ["commit"]


def test_on_no_committee_scores_nothing(arena, make_validator):
    arena.slots = []
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    assert v.step().actions == [] and v.step().actions == []
    assert arena.sent == [] and v.scored_rounds == []
    assert sum("on no committee; nothing to score" in line for line in v.lines) == 1


def test_step_is_idempotent_within_a_phase(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    salt = saved(v, 0)["salt"]
    v.step()
    v.step()
    assert arena.sent == ["commit 0"]
    assert v.scored_rounds == [0]
    assert saved(v, 0)["salt"] == salt


def test_run_to_the_end_withdraws(arena, make_validator):
    arena.withdrawable_amount = 100
    v = make_validator()
    clock = iter(range(START, START + 10 * ROUND, 50))

    def tick(_seconds):
        arena.time = next(clock)

    v.sleep = tick
    arena.time = START - 10
    steps = v.run(poll_seconds=1)
    assert steps[-1].finished
    assert arena.sent.count("withdraw") == 1
    assert [s for s in arena.sent if s.startswith(("commit", "reveal", "finalize"))] == [
        "commit 0", "reveal 0", "finalize 0", "commit 1", "reveal 1", "finalize 1",
    ]  # fmt: skip


def test_max_rounds_stops_after_the_round_is_finalized(arena, make_validator):
    v = make_validator()
    clock = iter(range(START, START + 10 * ROUND, 50))
    v.sleep = lambda _s: setattr(arena, "time", next(clock))
    arena.time = START
    v.run(max_rounds=1, poll_seconds=1)
    assert arena.finalized == 1
    assert "commit 1" not in arena.sent


def test_clock_matches_protocol_formula(make_validator):
    v = make_validator()
    assert v.clock.at(START - 1) == (-1, Phase.NOT_STARTED)
    assert v.clock.at(START) == (0, Phase.COMMIT)
    assert v.clock.at(START + 99) == (0, Phase.COMMIT)
    assert v.clock.at(START + 100) == (0, Phase.EVAL)
    assert v.clock.at(START + 200) == (0, Phase.REVEAL)
    assert v.clock.at(START + 350) == (0, Phase.SCORE_COMMIT)
    assert v.clock.at(START + 499) == (0, Phase.SCORE_REVEAL)
    assert v.clock.at(START + 500) == (1, Phase.COMMIT)
    assert v.clock.at(START + 1000) == (2, Phase.ENDED)
    assert v.clock.phase_start(1, Phase.SCORE_REVEAL) == START + 900
    assert v.clock.round_end(0) == START + 500


# ----------------------------------------------------------------------------- crash safety
def test_state_is_saved_before_the_commit_transaction(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:before"] = [Crash()]
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(Crash):
        v.step()
    assert not arena.vr(0).committed
    state = saved(v, 0)
    assert state["status"] == SCORED and state["salt"].startswith("0x")
    assert v.states.path(0).stat().st_mode & 0o777 == 0o600  # the salt is secret until reveal


def test_crash_before_commit_resumes_with_the_same_scores_and_salt(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:before"] = [Crash()]
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(Crash):
        v.step()
    before = saved(v, 0)
    first_run = len(v.lines)  # (the validators of this test share one log)
    restarted = make_validator()
    restarted.step()
    after = saved(restarted, 0)
    assert restarted.scored_rounds == []  # never re-scored
    assert (after["salt"], after["scores"], after["commitment"]) == (
        before["salt"], before["scores"], before["commitment"],
    )  # fmt: skip
    assert after["status"] == COMMITTED and arena.vr(0).committed
    assert not any("resuming" in line for line in v.lines[:first_run])  # it wrote the state
    assert any("round 0: resuming from saved state" in x for x in restarted.lines[first_run:])


def test_second_loop_for_the_same_validator_and_task_is_refused(arena, make_validator):
    """Two `validator run` loops for one account would overwrite each other's salt and
    commitment (a failed reveal, a slash): the second is refused, naming the first."""
    from ape_arena.fsutil import run_lock

    first = make_validator()
    held = run_lock(first.states.folder / "run.lock", "test loop").acquire()
    try:
        second = make_validator()
        arena.at(0, Phase.SCORE_COMMIT)
        with pytest.raises(ValidatorError, match=r"already running \(pid \d+, started") as info:
            second.run(once=True)
        assert "validator run" in str(info.value) and arena.sent == []
    finally:
        held.release()
    assert second.run(once=True)  # free again: it runs
    assert arena.vr(0).committed


def test_run_lock_is_dropped_when_its_process_dies(tmp_path):
    """The kernel drops a flock with its process, even on SIGKILL: no stale lock."""
    import signal
    import subprocess
    import sys

    from ape_arena.fsutil import LockHeld, run_lock

    path = tmp_path / "run.lock"
    code = (
        "import sys, time; from ape_arena.fsutil import run_lock; "
        f"run_lock({str(path)!r}, 'x').acquire(); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"pid {proc.pid}"):
            run_lock(path, "validator run").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_lock(path, "validator run").acquire().release()


def test_crash_after_commit_landed_does_not_commit_again(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:after"] = [Crash()]
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(Crash):
        v.step()
    assert saved(v, 0)["status"] == SCORED  # died before recording the commit
    restarted = make_validator()
    restarted.step()
    assert arena.sent == ["commit 0"]
    assert saved(restarted, 0)["status"] == COMMITTED
    assert any("already on-chain" in line for line in restarted.lines)


def test_killed_between_commit_and_reveal_then_restarted_in_reveal_phase(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    scores = saved(v, 0)["scores"]
    del v  # the process is gone; only the state folder remains
    arena.at(0, Phase.SCORE_REVEAL, offset=50)
    restarted = make_validator()
    assert restarted.step().actions == ["reveal"]
    assert restarted.scored_rounds == []
    assert arena.vr(0).revealed and arena.vr(0).scores == scores


def test_crash_during_reveal_then_restart_reveals_once(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    arena.hooks["reveal:after"] = [Crash()]
    arena.at(0, Phase.SCORE_REVEAL)
    with pytest.raises(Crash):
        v.step()
    assert saved(v, 0)["status"] == COMMITTED
    restarted = make_validator()
    assert restarted.step().actions == []
    assert arena.sent.count("reveal 0") == 1
    assert saved(restarted, 0)["status"] == REVEALED


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "round-0.json"
    atomic_write_json(path, {"salt": "old"})

    def boom(*_a):
        raise Crash()

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(Crash):
        atomic_write_json(path, {"salt": "new"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"salt": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["round-0.json"]  # no temp file left


def test_state_of_another_chain_round_is_set_aside(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    stale = saved(v, 0)
    # a fresh chain where the same round has other submissions and nothing committed
    arena.rounds.clear()
    arena.n = 2
    arena.sent.clear()
    restarted = make_validator()
    restarted.step()
    assert restarted.scored_rounds == [0]
    assert saved(restarted, 0)["models"] == MODELS[:2]
    assert saved(restarted, 0)["salt"] != stale["salt"]
    assert list(restarted.states.folder.glob("round-0.json.stale-*"))


def test_lost_state_in_reveal_phase_is_reported_not_fatal(arena, make_validator):
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    v.states.path(0).unlink()
    arena.at(0, Phase.SCORE_REVEAL)
    restarted = make_validator()
    assert restarted.step().actions == []
    assert not arena.vr(0).revealed
    assert any("no saved state" in line for line in restarted.lines)


def test_missed_commit_phase_does_not_commit_late(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:before"] = [Crash()]
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(Crash):
        v.step()
    arena.at(0, Phase.SCORE_REVEAL)
    restarted = make_validator()
    assert restarted.step().actions == []
    assert any("never committed" in line for line in restarted.lines)


def test_unreadable_state_file_stops_with_a_clear_error(arena, make_validator):
    v = make_validator()
    v.states.path(0).parent.mkdir(parents=True)
    v.states.path(0).write_text("{not json")
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(ValidatorError, match="unreadable"):
        v.step()


# ----------------------------------------------------------------------------- retries
def test_transient_failures_are_retried_with_a_log_line(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:before"] = [ConnectionError("RPC down"), TimeoutError("slow"), None]
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    assert arena.vr(0).committed
    retries = [line for line in v.lines if "retrying" in line]
    assert len(retries) == 2 and "RPC down" in retries[0] and "attempt 2/5" in retries[0]
    assert v.naps == [0.5, 1.0]


def test_failed_tx_that_landed_is_not_sent_again(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:after"] = [ConnectionError("receipt timed out")]
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    assert arena.sent == ["commit 0"]
    assert saved(v, 0)["status"] == COMMITTED
    assert any("landed after all" in line for line in v.lines)


def test_retries_give_up_with_a_one_line_error(arena, make_validator):
    v = make_validator(retries=3)
    arena.hooks["commit:before"] = [ConnectionError("RPC down")] * 3
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(ValidatorError, match="failed after 3 attempts: ConnectionError: RPC down"):
        v.step()
    assert saved(v, 0)["status"] == SCORED  # the next run sends the saved commitment
    make_validator().step()
    assert arena.vr(0).committed


def test_reverts_are_not_retried(arena, make_validator):
    v = make_validator()
    arena.hooks["commit:before"] = [ArenaError("commit_scores failed: the arena is paused", "x")]
    arena.at(0, Phase.SCORE_COMMIT)
    with pytest.raises(ArenaError, match="paused"):
        v.step()
    # not sent again: only a few one-second looks at whether a competing transaction did it
    assert v.naps == [1.0, 1.0, 1.0] and arena.sent == []


# ----------------------------------------------------------------------------- scoring inputs
def test_unfetchable_model_is_left_out_and_the_rest_scored(arena, make_validator, tmp_path):
    class Recording(CountingValidator):
        def compute_scores(self, round_, spec, shard_path, shard_sha256, models):
            self.seen = models
            return super().compute_scores(round_, spec, shard_path, shard_sha256, models)

    v = make_validator(Recording)
    v.store.fail.add("file:///m1")
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    assert [m[0] is None for m in v.seen] == [False, True, False]
    assert "HTTP 404" in v.seen[1][2]


def test_unusable_shard_skips_the_round(arena, make_validator):
    v = make_validator()
    v.store.fail.add("file:///shard")
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    assert arena.sent == [] and not v.states.path(0).exists()


def test_silent_validator_commits_but_never_reveals(arena, make_validator):
    class Silent(CountingValidator):
        def should_reveal(self, round_, state):
            return False

    v = make_validator(Silent)
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    arena.at(0, Phase.SCORE_REVEAL)
    v.step()
    assert arena.vr(0).committed and not arena.vr(0).revealed


def test_state_folder_is_per_chain_task_validator_and_round(tmp_path):
    store = StateStore(tmp_path, chain_key(31337, "0xABCDEF0123456789ff"), ARENA, 7, ME)
    assert (
        store.path(3)
        == tmp_path / "31337-abcdef0123456789" / ARENA / "task-7" / ME / "round-3.json"
    )
    assert chain_key(8453, "0xabc") == "8453"


def test_default_scorer_uses_the_engine(arena, make_validator, monkeypatch):
    """The plain ``Validator`` hands fetched models to ``Engine.score_round`` and keeps
    models it cannot have out of the engine: UNAVAILABLE when the committed bytes cannot be
    fetched (the validator cannot judge them), INVALID when they are over the size limit."""
    import ape_arena.evaluation.engine as engine_mod
    from ape_arena.protocol import INVALID_SCORE, UNAVAILABLE_SCORE

    calls = []

    class FakeEngine:
        def __init__(self, spec, shard_path, shard_sha256, **kw):
            calls.append(("init", shard_sha256, kw))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            calls.append(("close",))

        def score_round(self, models):
            calls.append(("score", [sha for _, sha in models]))
            return [
                engine_mod.ScoreResult(sha, 2 * 10**9, "ok", path="cpu-fused") for _, sha in models
            ]

    monkeypatch.setattr(engine_mod, "Engine", FakeEngine)
    v = make_validator(Validator, engine_options={"threads": 1})
    v.store.fail.add("file:///m0")
    v.store.too_large.add("file:///m2")
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    # no more workers than the one fetched model
    workers = engine_mod.default_workers("auto", 1, 1)
    assert workers == 1
    assert calls[0] == ("init", SHARD, {"progress": None, "threads": 1, "workers": workers})
    assert calls[1] == ("score", MODELS[1:2])
    assert saved(v, 0)["scores"] == [UNAVAILABLE_SCORE, 2 * 10**9, INVALID_SCORE]
    assert saved(v, 0)["reasons"][0].startswith("unavailable: cannot fetch")
    assert saved(v, 0)["reasons"][2].startswith("too_large:")
    # what scored the round is kept with its scores: each model's path, library versions
    machine = saved(v, 0)["machine"]
    assert machine["paths"] == ["", "cpu-fused", ""]
    from importlib.metadata import version

    assert machine["versions"]["onnxruntime"] == version("onnxruntime")
    assert machine["versions"]["torch"] == version("torch") and "python" in machine["versions"]
    assert machine["gpus"] == []  # this machine shows no GPU


def test_replace_is_used_for_state_updates(arena, make_validator, monkeypatch):
    """Every save goes through os.replace (atomic), never an in-place write."""
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (seen.append(Path(b).name), real(a, b)))
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    arena.at(0, Phase.SCORE_REVEAL)
    v.step()
    assert seen == ["round-0.json"] * 3  # scored, committed, revealed


def test_scoring_failure_skips_the_round_after_a_few_attempts(arena, make_validator):
    class Broken(CountingValidator):
        def compute_scores(self, round_, spec, shard_path, shard_sha256, models):
            self.scored_rounds.append(round_)
            raise RuntimeError("worker did not start")

    v = make_validator(Broken)
    arena.at(0, Phase.SCORE_COMMIT)
    for _ in range(5):
        assert v.step().actions == []
    assert v.scored_rounds == [0, 0, 0]
    assert arena.sent == [] and not v.states.path(0).exists()
    assert sum("worker did not start" in line for line in v.lines) == 3


def test_engine_validator_fault_skips_the_round_without_invalid(arena, make_validator, monkeypatch):
    """A time-out or dead worker in the real engine (``ValidatorFault``) is this machine's
    fault: nothing is saved or committed (no model becomes INVALID) and the log says why."""
    import ape_arena.evaluation.engine as engine_mod
    from ape_arena.evaluation.pool import ValidatorFault

    class SlowMachineEngine:
        def __init__(self, *args, **kw):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def score_round(self, models):
            raise ValidatorFault("model abc ran past this validator's time limit of 600 s")

    monkeypatch.setattr(engine_mod, "Engine", SlowMachineEngine)
    v = make_validator(Validator)
    arena.at(0, Phase.SCORE_COMMIT)
    assert v.step().actions == []
    assert arena.sent == [] and not v.states.path(0).exists()
    assert any("time limit of 600 s" in line and "try again" in line for line in v.lines)


@pytest.mark.parametrize(("pending", "why"), [(50, "activates in round 1"), (0, "none left")])
def test_no_active_stake_means_no_scoring(arena, make_validator, pending, why):
    arena.stake, arena.pending = 0, pending
    v = make_validator()
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    assert arena.sent == [] and v.scored_rounds == []
    assert any(why in line for line in v.lines)


def test_an_account_that_is_not_a_validator_is_told_to_join(arena, make_validator):
    arena.role = 1
    v = make_validator()
    with pytest.raises(ValidatorError, match="ape arena validator join 1"):
        v.step()


def test_the_tasks_base_model_goes_to_the_engine(arena, make_validator, monkeypatch, tmp_path):
    """A task with a base model (LoRA adapters): the fetched, verified base is handed to the
    engine, whose workers merge each adapter into it."""
    import ape_arena.evaluation.engine as engine_mod

    seen = {}

    class FakeEngine:
        def __init__(self, spec, shard_path, shard_sha256, **kw):
            seen.update(kw)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def score_round(self, models):
            return [engine_mod.ScoreResult(sha, 10**9, "ok") for _, sha in models]

    monkeypatch.setattr(engine_mod, "Engine", FakeEngine)
    v = make_validator(Validator, engine_options={"threads": 1})
    v.base_model = tmp_path / "base.onnx"
    scored = v.compute_scores(
        0, None, tmp_path / "s.npz", "ab" * 32, [(tmp_path / "m", "cd" * 32, "")]
    )
    assert scored.scores == [10**9] and seen["base_model"] == tmp_path / "base.onnx"
