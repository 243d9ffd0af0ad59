"""A whole 2-round task run by the hands-free loops alone, each role its own process.

``ape arena task run`` (the creator), ``ape arena node run`` (two nodes, each with a folder
of models) and ``ape arena validator run`` (two validators) start as real subprocesses
against the session's anvil before the task starts; after the joins nobody types a
per-round command. The test only moves the chain's clock to the next phase once the loops
have done what the current one needs (every commit, shard, reveal and score on-chain), and
checks at the end that the rounds were scored and paid, the loops withdrew and exited 0.
A second ``validator run`` for an account whose loop is running exits non-zero with the
lock message naming the first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ape_arena.protocol import INVALID_SCORE, UNAVAILABLE_SCORE, Phase, Status

from tests.e2e.test_cli_round import (
    CREATOR,
    NODE_A,
    NODE_B,
    PROC_TIMEOUT,
    VAL_IN,
    VAL_SUB,
    ape_arena,
    arena,  # noqa: F401 - fixture
    workdir,  # noqa: F401 - fixture
)
from tests.plugin.conftest import build_digits_onnx

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


class Loop:
    """One ``ape arena … run`` process, output to a log file."""

    def __init__(self, name: str, argv: list[str], uri: str, account: int, folder: Path):
        self.name = name
        self.log = folder / f"{name}.log"
        ape = Path(sys.executable).with_name("ape")
        cmd = [
            str(ape), "arena", *argv, "--network", uri, "--account", f"TEST::{account}",
            "--poll", "0.3",
        ]  # fmt: skip
        self.fh = open(self.log, "ab")  # noqa: SIM115 - closed in wait()/kill()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, cwd=folder, stdout=self.fh, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = PROC_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not finish:\n{self.output()}")
        finally:
            self.fh.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=30)


def test_two_rounds_run_by_the_loops_alone(arena, accounts, workdir, chain):  # noqa: F811
    from ape_arena.evaluation.shards import build_shards, digits_eval_arrays
    from ape_arena.evaluation.spec import example

    addr = {i: accounts[i].address for i in range(7)}
    spec = example("digits")
    spec_path = spec.write(workdir / "digits.json")
    build_shards(digits_eval_arrays(rows=96, seed=5), 2, workdir / "shards", spec=spec)
    out = ape_arena(
        "task", "create", spec_path, workdir / "shards", "--bounty", "1000", "--rounds", "2",
        "--start-in", "10m", "--phase-seconds", "10m", "--min-committee", "2",
        "--arena", arena.address, as_=CREATOR,
    )  # fmt: skip
    assert "created task 1" in out
    task = 1
    folders = {}
    for node, seed in ((NODE_A, 41), (NODE_B, 42)):
        ape_arena("node", "join", task, "--amount", "50", "--arena", arena.address, as_=node)
        folders[node] = workdir / f"models-{node}"
        folders[node].mkdir()
        model = build_digits_onnx(seed=seed).SerializeToString()
        (folders[node] / "model.onnx").write_bytes(model)
    for val in (VAL_IN, VAL_SUB):
        ape_arena("validator", "join", task, "--amount", "200", "--arena", arena.address, as_=val)

    uri = chain.provider.uri
    at = ["--arena", arena.address]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # node A publishes file:// URIs of the shared store; node B serves it over HTTP itself
    serving = {NODE_A: [], NODE_B: ["--serve", str(port)]}
    loops = [
        Loop("creator", ["task", "run", str(task), *at], uri, CREATOR, workdir),
        *(
            Loop(f"node-{n}",
                 ["node", "run", str(task), "--models", str(folders[n]), *serving[n], *at],
                 uri, n, workdir)
            for n in (NODE_A, NODE_B)
        ),
        *(
            Loop(f"validator-{v}", ["validator", "run", str(task), "--threads", "1", *at],
                 uri, v, workdir)
            for v in (VAL_IN, VAL_SUB)
        ),
    ]  # fmt: skip
    try:
        # an operator starting the same validator loop twice
        deadline = time.monotonic() + PROC_TIMEOUT
        while "validating task" not in loops[3].output():
            assert time.monotonic() < deadline and loops[3].proc.poll() is None, loops[3].output()
            time.sleep(0.3)
        dup = Loop("validator-dup", ["validator", "run", str(task), *at], uri, VAL_IN, workdir)
        assert dup.wait() != 0
        assert f"already running (pid {loops[3].proc.pid}" in dup.output(), dup.output()

        def until(what: str, check) -> None:
            deadline = time.monotonic() + PROC_TIMEOUT
            while not check():
                dead = [lp for lp in loops if lp.proc.poll() is not None]
                if dead or time.monotonic() > deadline:
                    logs = "\n".join(f"--- {lp.name}\n{lp.output()[-3000:]}" for lp in loops)
                    pytest.fail(
                        f"waiting for {what}: {'a loop exited' if dead else 'timeout'}\n{logs}"
                    )
                time.sleep(0.3)

        for r in range(2):
            arena.wait_for_phase(task, r, Phase.COMMIT)
            until(
                f"round {r} commits",
                lambda r=r: all(
                    arena.model_commit(task, r, addr[n]).committed for n in (NODE_A, NODE_B)
                ),
            )
            arena.wait_for_phase(task, r, Phase.EVAL)
            until(f"round {r} shard", lambda r=r: arena.round_info(task, r).eval_revealed)
            arena.wait_for_phase(task, r, Phase.REVEAL)
            until(f"round {r} reveals", lambda r=r: arena.round_info(task, r).num_submissions == 2)
            arena.wait_for_phase(task, r, Phase.SCORE_COMMIT)
            until(
                f"round {r} score commits",
                lambda r=r: all(
                    arena.validator_round(task, r, addr[v]).committed for v in (VAL_IN, VAL_SUB)
                ),
            )
            arena.wait_for_phase(task, r, Phase.SCORE_REVEAL)
            until(
                f"round {r} score reveals",
                lambda r=r: all(
                    arena.validator_round(task, r, addr[v]).revealed for v in (VAL_IN, VAL_SUB)
                ),
            )
        arena.wait_until(arena.round_end(task, 1))
        for lp in loops:
            assert lp.wait() == 0, f"{lp.name}:\n{lp.output()}"
    finally:
        for lp in loops:
            lp.kill()

    assert arena.task_state(task).status == Status.ENDED
    for r in range(2):
        assert arena.round_info(task, r).void_reason == 0
        assert sum(s.reward for s in arena.submissions(task, r)) > 0
        for v in (VAL_IN, VAL_SUB):
            vr = arena.validator_round(task, r, addr[v])
            assert vr.reward > 0 and vr.slash == 0
    for who in (NODE_A, NODE_B, VAL_IN, VAL_SUB):
        assert arena.withdrawable(task, addr[who]) == 0
        assert arena.claimable(task, addr[who]) == 0
    st = arena.task_state(task)
    assert st.refund == 0 or st.refund_claimed
    assert "withdrew stake 50 ARENA" in loops[1].output()
    # node B's own server kept its models fetchable until every validator had scored them
    for r in range(2):
        sub = next(s for s in arena.submissions(task, r) if s.node == addr[NODE_B])
        assert sub.uri.startswith(f"http://127.0.0.1:{port}/"), sub.uri
        assert sub.consensus not in (INVALID_SCORE, UNAVAILABLE_SCORE)
    assert "serving the artifact store" in loops[2].output()
    assert "round 1: revealed the eval shard" in loops[0].output()
