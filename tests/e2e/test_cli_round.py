"""A whole task on anvil through the ``ape arena`` commands themselves.

Creator, nodes, a delegator and one validator run in-process through click's ``CliRunner``.
Every command gets the session anvil's URL as ``--network`` (``ethereum:local:foundry``
would make each command start an anvil of its own). A second validator runs ``ape arena
validator run`` as a real subprocess against the same anvil: it is SIGKILLed right after its
commit transaction lands, restarted in the score-reveal phase, and must reveal the saved
scores (no re-scoring, same salt), finalize the round, then carry on by itself through
round 1 (score, commit, reveal, finalize) and be paid. At the end everybody claims and
withdraws and token totals must balance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ape_arena._cli import cli
from ape_arena.protocol import TOKEN, ArenaClient, Phase, Status
from click.testing import CliRunner

from tests.plugin.conftest import build_digits_onnx

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DEPLOYER, CREATOR, NODE_A, NODE_B, VAL_IN, VAL_SUB, DELEGATOR = range(7)
FUND = 5_000 * TOKEN
DUST = 10**6
PROC_TIMEOUT = 240


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A scratch project folder: deployment record, artifact store, creator/node state."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def arena(workdir, accounts, chain):
    from ape_arena.tools.demo import deploy_local

    _NET[:] = ["--network", chain.provider.uri]
    dep = deploy_local(accounts[DEPLOYER], log=lambda _m: None)
    client = ArenaClient.at(dep.contracts["Arena"], dep.contracts["ArenaToken"], accounts[DEPLOYER])
    client.enable_warp()
    for i in (CREATOR, NODE_A, NODE_B, VAL_IN, VAL_SUB, DELEGATOR):
        client.token.transfer(accounts[i].address, FUND, sender=accounts[DEPLOYER])
    return client


_NET: list[str] = []


def ape_arena(*args, as_: int | None = None, ok: bool = True) -> str:
    """Invoke ``ape arena ARGS`` in-process against the session's anvil; return its output."""
    argv = [str(a) for a in args] + _NET
    if as_ is not None:
        argv += ["--account", f"TEST::{as_}"]
    res = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert (res.exit_code == 0) == ok, f"ape arena {' '.join(argv)}\n{res.output}"
    return res.output


class ValidatorProcess:
    """``ape arena validator run`` in its own process group, output to a file."""

    def __init__(self, uri: str, arena_address: str, task: int, state_dir: Path, log: Path):
        self.log = log
        ape = Path(sys.executable).with_name("ape")
        cmd = [
            str(ape), "arena", "validator", "run", str(task), "--arena", arena_address,
            "--network", uri, "--account", f"TEST::{VAL_SUB}", "--state-dir", str(state_dir),
            "--poll", "0.3", "--threads", "1",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.fh = open(log, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=self.fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, check, timeout: float = PROC_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None:
                pytest.fail(
                    f"validator exited ({self.proc.returncode}) before {what}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"timed out waiting for {what}:\n{self.output()}")
            time.sleep(0.3)

    def kill(self) -> None:
        """SIGKILL the validator and its scoring worker (its whole process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.fh.close()

    def wait(self, timeout: float = PROC_TIMEOUT) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"validator did not finish:\n{self.output()}")
        self.fh.close()
        return code


def test_round_through_the_cli_with_a_validator_killed_between_commit_and_reveal(
    arena, accounts, workdir, chain
):
    from ape_arena.evaluation.shards import build_shards, digits_eval_arrays
    from ape_arena.evaluation.spec import example

    addr = {i: accounts[i].address for i in range(7)}
    people = [addr[i] for i in range(7)]
    supply_before = sum(arena.balance(a) for a in people) + arena.balance(arena.address)

    # ---------------------------------------------------------------- creator
    spec = example("digits")
    spec_path = spec.write(workdir / "digits.json")
    build_shards(digits_eval_arrays(rows=96, seed=3), 2, workdir / "shards", spec=spec, seed=3)
    out = ape_arena(
        "task", "create", spec_path, workdir / "shards", "--bounty", "1000", "--rounds", "2",
        "--start-in", "10m", "--phase-seconds", "10m", "--min-committee", "2", "--slash-tau", "0.05",
        "--arena", arena.address, as_=CREATOR,
    )  # fmt: skip
    assert "created task 1" in out
    task = 1

    # ---------------------------------------------------------------- stake
    for node in (NODE_A, NODE_B):
        ape_arena("node", "join", task, "--amount", "50", "--arena", arena.address, as_=node)
    for val in (VAL_IN, VAL_SUB):
        out = ape_arena(
            "validator", "join", task, "--amount", "200", "--commission", "10%",
            "--arena", arena.address, as_=val,
        )  # fmt: skip
        assert f"{addr[val]} is a validator in task {task}" in out
    ape_arena(
        "delegator", "delegate", task, addr[VAL_SUB], "--amount", "100", "--arena", arena.address,
        as_=DELEGATOR,
    )  # fmt: skip
    assert arena.participant(task, addr[VAL_SUB]).commission == TOKEN // 10

    # ---------------------------------------------------------------- commit + reveal models
    def nodes_submit_and_reveal(r: int) -> None:
        arena.wait_for_phase(task, r, Phase.COMMIT)
        for node, seed in ((NODE_A, 1 + 10 * r), (NODE_B, 2 + 10 * r)):
            model = workdir / f"model-{node}-{r}.onnx"
            model.write_bytes(build_digits_onnx(seed=seed).SerializeToString())
            ape_arena("node", "submit", task, model, "--arena", arena.address, as_=node)
        arena.wait_for_phase(task, r, Phase.EVAL)
        ape_arena("task", "reveal-eval", task, str(r), "--arena", arena.address, as_=CREATOR)
        arena.wait_for_phase(task, r, Phase.REVEAL)
        for node in (NODE_A, NODE_B):
            ape_arena("node", "reveal", task, "--arena", arena.address, as_=node)
        assert arena.round_info(task, r).num_submissions == 2

    def in_process_validator() -> str:
        return ape_arena(
            "validator", "run", task, "--once", "--state-dir", state_in, "--threads", "1",
            "--arena", arena.address, as_=VAL_IN,
        )  # fmt: skip

    nodes_submit_and_reveal(0)

    # ---------------------------------------------------------------- score-commit
    arena.wait_for_phase(task, 0, Phase.SCORE_COMMIT)
    state_in, state_sub = workdir / "state-in", workdir / "state-sub"
    assert "committed scores" in in_process_validator()

    uri = chain.provider.uri
    first = ValidatorProcess(uri, arena.address, task, state_sub, workdir / "validator-1.log")
    first.wait_for(
        "its commit transaction", lambda: arena.validator_round(task, 0, addr[VAL_SUB]).committed
    )
    first.kill()  # between commit and reveal
    log1 = first.output()
    assert "scores and salt saved to" in log1
    (state_file,) = state_sub.rglob("round-0.json")
    saved = json.loads(state_file.read_text())
    assert saved["status"] in ("scored", "committed")
    assert (
        "0x" + arena.validator_round(task, 0, addr[VAL_SUB]).commitment.hex() == saved["commitment"]
    )

    # ---------------------------------------------------------------- score-reveal: restart
    arena.wait_for_phase(task, 0, Phase.SCORE_REVEAL)
    assert "revealed 2 scores" in in_process_validator()
    second = ValidatorProcess(uri, arena.address, task, state_sub, workdir / "validator-2.log")
    second.wait_for("its reveal", lambda: arena.validator_round(task, 0, addr[VAL_SUB]).revealed)
    # an operator starting the same loop twice: the second is refused, naming the first
    dup = ValidatorProcess(uri, arena.address, task, state_sub, workdir / "validator-dup.log")
    assert dup.wait() != 0
    assert f"already running (pid {second.proc.pid}, started" in dup.output(), dup.output()
    assert arena.validator_scores(task, 0, addr[VAL_SUB]) == saved["scores"]
    # two processes, two engines, bit-identical scores
    assert arena.validator_scores(task, 0, addr[VAL_IN]) == saved["scores"]
    # the chain sees the reveal before the validator has written it down: wait for the file
    second.wait_for(
        "its state file to record the reveal",
        lambda: json.loads(state_file.read_text())["status"] == "revealed",
    )
    after = json.loads(state_file.read_text())
    assert (after["salt"], after["status"]) == (saved["salt"], "revealed")
    log2 = second.output()
    assert "round 0: fetching" not in log2 and "round 0: scored" not in log2  # not scored again
    assert "round 0: resuming from saved state" in log2

    # ---------------------------------------------------------------- round 1: it carries on
    arena.wait_until(arena.round_end(task, 0))  # the restarted validator finalizes round 0
    second.wait_for("round 0 finalized", lambda: arena.task_state(task).finalized_rounds == 1)
    nodes_submit_and_reveal(1)
    arena.wait_for_phase(task, 1, Phase.SCORE_COMMIT)
    assert "committed scores" in in_process_validator()
    second.wait_for(
        "its round-1 commit", lambda: arena.validator_round(task, 1, addr[VAL_SUB]).committed
    )
    arena.wait_for_phase(task, 1, Phase.SCORE_REVEAL)
    in_process_validator()
    second.wait_for(
        "its round-1 reveal", lambda: arena.validator_round(task, 1, addr[VAL_SUB]).revealed
    )
    arena.wait_until(arena.round_end(task, 1))  # it finalizes the last round and exits
    assert second.wait() == 0, second.output()
    log2 = second.output()
    assert "round 1: scored 2 models" in log2
    assert "round 1: finalized" in log2 and "withdrew stake" in log2

    # ---------------------------------------------------------------- paid, not slashed
    st = arena.task_state(task)
    assert st.status == Status.ENDED
    for r in (0, 1):
        for val in (VAL_IN, VAL_SUB):
            vr = arena.validator_round(task, r, addr[val])
            assert vr.revealed and vr.reward > 0 and vr.slash == 0
        assert arena.round_info(task, r).void_reason == 0

    # ---------------------------------------------------------------- everybody exits
    assert "withdrew stake" in in_process_validator()
    for node in (NODE_A, NODE_B):
        if arena.claimable(task, addr[node]):
            ape_arena("claim", task, "--arena", arena.address, as_=node)
        ape_arena("withdraw", task, "--arena", arena.address, as_=node)
    ape_arena("delegator", "claim", task, addr[VAL_SUB], "--arena", arena.address, as_=DELEGATOR)
    ape_arena("delegator", "withdraw", task, addr[VAL_SUB], "--arena", arena.address, as_=DELEGATOR)
    if arena.task_state(task).refund:
        ape_arena("task", "refund", task, "--arena", arena.address, as_=CREATOR)
    # a fresh process as a user would run it: stdout is pure JSON (Ape's INFO on stderr)
    ape = Path(sys.executable).with_name("ape")
    out = subprocess.run(
        [str(ape), "arena", "task", "show", str(task), "--json", "--arena", arena.address,
         "--network", uri],
        cwd=REPO, capture_output=True, text=True, timeout=PROC_TIMEOUT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "ended", out.stdout[:300]
    tool = subprocess.run(  # `… --json | python -m json.tool`, as the README shows it
        [sys.executable, "-m", "json.tool"], input=out.stdout, capture_output=True, text=True
    )
    assert tool.returncode == 0, tool.stderr
    show = ape_arena("task", "show", task, "--arena", arena.address)

    assert addr[NODE_A][:8].lower() in show.lower() or "node" in show.lower()

    for who in people:
        assert arena.claimable(task, who) == 0
    assert arena.withdrawable(task, addr[VAL_SUB], addr[DELEGATOR]) == 0
    left = arena.balance(arena.address)
    assert sum(arena.balance(a) for a in people) + left == supply_before
    assert left <= DUST
    assert arena.balance(addr[VAL_SUB]) > FUND  # the killed-and-restarted validator earned
    assert arena.balance(addr[DELEGATOR]) > FUND  # and shared with its delegator


def test_validator_commands_fail_with_one_line_messages(arena, accounts, workdir):
    from ape_arena.evaluation.shards import build_shards, digits_eval_arrays
    from ape_arena.evaluation.spec import example

    out = ape_arena(
        "validator", "run", "7", "--once", "--arena", arena.address, as_=VAL_IN, ok=False
    )
    (line,) = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert "task 7 does not exist" in line

    spec_path = example("digits").write(workdir / "digits.json")
    build_shards(digits_eval_arrays(rows=16, seed=1), 1, workdir / "shards", spec=example("digits"))
    ape_arena(
        "task", "create", spec_path, workdir / "shards", "--bounty", "10", "--arena",
        arena.address, as_=CREATOR,
    )  # fmt: skip
    out = ape_arena(
        "validator", "run", "1", "--once", "--arena", arena.address, as_=VAL_IN, ok=False
    )
    assert "has not joined task 1 as a validator; run `ape arena validator join 1" in out
    out = ape_arena(
        "validator", "join", "1", "--amount", "1", "--arena", arena.address, as_=VAL_IN, ok=False
    )
    assert "minimum stake" in out and "Traceback" not in out
    out = ape_arena(
        "validator", "join", "1", "--amount", "100", "--commission", "2", "--arena",
        arena.address, as_=VAL_IN, ok=False,
    )  # fmt: skip
    assert "between 0 and 1" in out
