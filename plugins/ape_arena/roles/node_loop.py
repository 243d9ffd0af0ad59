"""``node run``: a training node's whole task, hands-free (DESIGN §4.4).

Each round, in the COMMIT phase, the loop takes a model (the newest ``*.onnx`` in
``models_dir``, or the path a ``command`` prints on its last line after training), checks it
against the task's spec, stores it and commits its hash (saved locally first, see
``node.submit``); in the REVEAL phase it checks that the model's URI answers and reveals
it; after each round it finalizes what is due, claims what vested, and at the task's end
claims the rest and withdraws its stake.

Everything it does is decided from the chain and the node's state file, so a loop killed at
any moment carries on when started again: a commitment saved but not sent is sent, one
on-chain is not sent twice, a reveal on-chain is not sent again. One loop per node, task and
chain (``RoleLoop.run_loop`` holds the lock).

Example::

    NodeLoop(client, 1, account, models_dir="models/", store=store, state_dir=".arena/state").run()
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from ..protocol import ArenaClient, Phase, Role, Status, fmt_time, hex32
from .loop import LoopError, RoleLoop, StepResult
from .node import load_state, reveal, state_file, submit

#: seconds a ``--command`` may run to produce a round's model
COMMAND_TIMEOUT = 6 * 3600


class NodeLoop(RoleLoop):
    """One node account working one task, round after round."""

    role = "node"

    def __init__(
        self,
        client: ArenaClient,
        task: int,
        account: Any,
        *,
        store: Any,
        state_dir: str | os.PathLike[str],
        models_dir: str | os.PathLike[str] | None = None,
        command: str | None = None,
        uri_base: str | None = None,
        **options: Any,
    ):
        super().__init__(client, task, account, **options)
        if (models_dir is None) == (command is None):
            raise LoopError("give exactly one of --models DIR and --command CMD")
        self.models_dir = Path(models_dir) if models_dir is not None else None
        if self.models_dir is not None and not self.models_dir.is_dir():
            raise LoopError(f"--models {self.models_dir} is not a folder")
        self.command = command
        self.store = store
        self.state_dir = Path(state_dir)
        self.uri_base = uri_base

    def lock_path(self) -> Path:
        path = state_file(self.state_dir, self.client.scope, self.task, self.address)
        return path.with_name(path.stem + ".run.lock")

    def _finalized_note(self, r: int) -> str:
        from ..protocol import fmt_tokens

        ours = [s for s in self.client.submissions(self.task, r) if s.node == self.address]
        return f"; our model's reward {fmt_tokens(ours[0].reward)} ARENA" if ours else ""

    # ------------------------------------------------------------------ one step
    def step(self) -> StepResult:
        """Do what is due at the chain's current time; never blocks on the clock."""
        now = self.client.now()
        r, phase = self.clock.at(now)
        result = StepResult(round=r, phase=phase, next_time=self.clock.next_boundary(now))
        if self.client.task_state(self.task).status == Status.CANCELLED:
            self.log(f"task {self.task} was cancelled; nothing to do")
            result.finished = True
            return result
        if self.client.participant(self.task, self.address).role != Role.NODE:
            raise LoopError(
                f"{self.address} has not joined task {self.task} as a node; run "
                f"`ape arena node join {self.task} --amount N` first"
            )
        if 0 <= r < self.params.num_rounds:
            if phase == Phase.COMMIT:
                self._ensure_committed(r, result)
            elif phase == Phase.REVEAL:
                self._ensure_revealed(r, result)
            elif phase == Phase.EVAL:
                self._once(r, "eval", f"round {r}: the creator reveals the eval shard now")
        elif phase == Phase.NOT_STARTED:
            self._once(-1, "wait", f"task {self.task} starts {fmt_time(self.params.start_time)}")
        return self._settle(result, now)

    # ------------------------------------------------------------------ commit
    def _entry(self, r: int) -> dict | None:
        state = load_state(self.state_dir, self.client.scope, self.task, self.address)
        return state["rounds"].get(str(r))

    def _ensure_committed(self, r: int, result: StepResult) -> None:
        onchain = self.client.model_commit(self.task, r, self.address)
        entry = self._entry(r)
        if entry is not None and onchain.committed:
            if hex32(onchain.commitment) == entry["commitment"]:
                return  # done (this process or an earlier one)
        if entry is not None and not onchain.committed:
            # saved before a commit transaction that never landed: send it again
            self._once(
                r,
                "resume",
                f"round {r}: resuming the saved commitment of {entry['model_sha256'][:12]}",
            )
            self._send(
                f"round {r}: commit",
                lambda: self.client.commit_model(
                    self.task, entry["model_sha256"], sender=self.account, round_=r
                ),
                done=lambda: self.client.model_commit(self.task, r, self.address).committed,
            )
            result.actions.append(f"commit {r}")
            return
        model = self._next_model(r)
        if model is None:
            return
        from ..evaluation.checks import CheckError
        from ..evaluation.store import StoreError
        from .node import check_for_task

        try:  # an adapter on its merge into the task's base; external data verified
            check_for_task(self.client, self.task, self.store, model)
        except CheckError as err:
            self._once(
                r, "check", f"round {r}: {model} fails the task's checks ({err}); not submitting it"
            )
            return
        except StoreError as err:
            self._once(r, "fetch", f"round {r}: cannot fetch the task's spec or base ({err}); "
                       "not submitting yet")  # fmt: skip
            return
        sub = self._send(
            f"round {r}: commit",
            lambda: submit(
                self.client,
                self.task,
                model,
                store=self.store,
                state_dir=self.state_dir,
                uri_base=self.uri_base,
                check_spec=False,
                sender=self.account,
            ),  # fmt: skip
            done=lambda: self.client.model_commit(self.task, r, self.address).committed,
        )
        result.actions.append(f"commit {r}")
        if sub is not None:
            self.log(
                f"round {r}: committed {model} ({sub.model_sha256[:12]}), to reveal at {sub.uri}"
            )
        else:
            self.log(f"round {r}: committed {model} (seen on-chain)")

    def _next_model(self, r: int) -> Path | None:
        """This round's model: the newest ``*.onnx`` (or LoRA adapter ``*.safetensors``) in
        the models folder, or the path the command prints on its last line
        (``ARENA_TASK``/``ARENA_ROUND`` in its environment)."""
        if self.models_dir is not None:
            found = sorted(
                [*self.models_dir.glob("*.onnx"), *self.models_dir.glob("*.safetensors")],
                key=lambda p: (p.stat().st_mtime, p.name),
            )
            if not found:
                self._once(
                    r, "nomodel",
                    f"round {r}: no *.onnx or *.safetensors in {self.models_dir}; not submitting",
                )  # fmt: skip
                return None
            return found[-1]
        env = {**os.environ, "ARENA_TASK": str(self.task), "ARENA_ROUND": str(r)}
        self.log(f"round {r}: running {self.command!r} for this round's model")
        try:
            done = subprocess.run(
                shlex.split(self.command or ""), capture_output=True, text=True, env=env,
                timeout=COMMAND_TIMEOUT, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            self._once(r, "cmd", f"round {r}: the command failed ({err}); not submitting")
            return None
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        path = Path(lines[-1]) if lines else None
        if done.returncode != 0 or path is None or not path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            self._once(
                r, "cmd",
                f"round {r}: the command exited {done.returncode} without printing a model "
                f"path on its last line ({tail[0]}); not submitting",
            )  # fmt: skip
            return None
        return path

    # ------------------------------------------------------------------ reveal
    def _ensure_revealed(self, r: int, result: StepResult) -> None:
        entry = self._entry(r)
        onchain = self.client.model_commit(self.task, r, self.address)
        if entry is None or not onchain.committed or onchain.revealed:
            return
        if not self.client.round_info(self.task, r).eval_revealed:
            self._once(
                r, "void", f"round {r}: the creator revealed no eval shard; the round is void"
            )
            return
        problem = uri_problem(entry["uri"])
        if problem:
            self._once(
                r, "uri",
                f"round {r}: WARNING: {entry['uri']} does not answer ({problem}); validators "
                "will report the model UNAVAILABLE unless it is served before they fetch it",
            )  # fmt: skip
        self._send(
            f"round {r}: reveal",
            lambda: reveal(
                self.client, self.task, r, state_dir=self.state_dir, sender=self.account
            ),
            done=lambda: self.client.model_commit(self.task, r, self.address).revealed,
        )
        self.log(f"round {r}: revealed {entry['model_sha256'][:12]} at {entry['uri']}")
        result.actions.append(f"reveal {r}")


def uri_problem(uri: str, timeout: float = 5.0) -> str:
    """Why ``uri`` cannot be fetched right now ('' when it answers)."""
    from urllib.parse import urlparse

    from ..evaluation.store import FetchError, _file_uri_path

    parsed = urlparse(uri)
    if parsed.scheme == "file":  # read as the store will read it (a remote host: refused)
        try:
            return "" if _file_uri_path(uri).is_file() else "no such file"
        except FetchError as err:
            return str(err)
    if parsed.scheme in ("http", "https"):
        import urllib.request

        try:
            req = urllib.request.Request(uri, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the node's own URI
                return "" if resp.status < 400 else f"HTTP {resp.status}"
        except Exception as err:  # noqa: BLE001 - any failure means validators fail too
            return str(err) or type(err).__name__
    return ""  # ipfs:// and others: the store's gateways decide; not checked here
