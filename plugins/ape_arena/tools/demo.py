"""The local demo (``make demo``): a whole arena on anvil, every role, two scored rounds.

What happens
------------
1. Deploy ArenaToken + Arena (+ Emission when the contract exists) to the local anvil.
2. The creator publishes the digits task: the spec (``data/digits.json``), one eval shard per
   round cut from a held-out split of scikit-learn's ``load_digits`` (Merkle root on-chain),
   all served read-only over HTTP on loopback from the creator's artifact store.
3. Four training nodes, each holding a different non-IID slice of the training split (a
   Dirichlet mix of classes), train small torch models, export them to ONNX, commit and
   reveal; between rounds they keep training, so their scores improve.
4. Five validators run the real validator code (``ape_arena.roles.validator.Validator``, as
   ``ape arena validator run`` does): three honest ones, one that reveals random scores
   (slashed for deviation, earns nothing) and one that commits but never reveals (slashed
   for the missed reveal). Committees of expected size K = 4 are drawn each round: each
   validator fetches (over HTTP, hash verified) and scores only its committees' models.
5. Three delegators back a node, an honest validator and the random-scoring one: the first
   two share their rewards; the third shares the liar's slash, losing the same fraction of
   its delegation as the liar of its own stake (that part is burned), and leaves early.
6. Chain time jumps from phase to phase (anvil); after every round tables show the
   leaderboard, the consensus, the validators' agreement, rewards and slashes.
7. At the end everyone claims and withdraws, the creator takes the refund, and the demo
   checks that no token was created or lost (sum of all balances + the arena's balance +
   the burned slashed delegations is conserved, plus any emission minted) and the arena
   keeps only dust. Any failed check makes ``make demo`` exit non-zero.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..roles.validator import Scored, Validator

TOKEN = 10**18
WAD = 10**18
NUM_ROUNDS = 2
PHASE_SECONDS = 3600
DUST = 10**6
"""Most wei the arena may keep after everyone exits (rounding remainders)."""

NODE_MODELS = ["digits-mlp-64", "digits-mlp-32", "digits-cnn-8", "digits-mlp-128x2"]
TRAIN_STEPS = [25, 150]
"""Adam steps per round: round 0 is a quick first model, later rounds keep training."""


@dataclass
class Node:
    name: str
    account: Any
    preset: str
    x: Any
    y: Any
    model: Any = None
    history: list[str] = field(default_factory=list)


def run_demo(network, log=click.echo, explore_port: int | None = None) -> bool:
    """Run the demo on the connected local network; True when every check passed. With
    ``explore_port``, serve the explorer of the demo's arena on that port at the end, until
    Ctrl-C (the local chain lives as long as this process)."""
    if not network.is_local:
        raise click.UsageError("the demo warps chain time; run it on a local network")
    from ape.logging import logger

    # Ape logs every confirmed transaction at INFO; the demo prints its own story.
    demo = Demo(log=log)
    with logger.at_level("WARNING"):
        ok = demo.run()
    if explore_port is not None and getattr(demo, "client", None) is not None:
        from .explorer import ExplorerData, serve

        log(
            f"explorer of the demo's arena: http://127.0.0.1:{explore_port}/#/task/1 "
            "(Ctrl-C stops it and the chain)"
        )
        try:
            serve(ExplorerData(demo.client, network=network.choice), port=explore_port)
        except KeyboardInterrupt:
            pass
    return ok


class Demo:
    def __init__(self, log=click.echo, workdir: str | Path | None = None, seed: int = 7):
        from rich.console import Console

        self.log = log
        self.console = Console(highlight=False, width=120)
        self.seed = seed
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = Path(workdir) if workdir else Path.cwd() / ".arena" / "demo" / stamp
        self.t0 = time.monotonic()

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.log(f"[{time.monotonic() - self.t0:6.1f}s] {text}")

    def header(self, text: str) -> None:
        self.console.rule(f"[bold]{text}")

    # ------------------------------------------------------------------ the run
    def run(self) -> bool:
        from ape import accounts, project

        from ..evaluation.store import ArtifactStore, serve
        from ..protocol import ArenaClient

        acc = accounts.test_accounts
        self.deployer = acc[0]
        self.header("AIArena demo: deploy")
        with_emission = "Emission" in project.contracts.keys()
        dep = deploy_local(self.deployer, emission=with_emission, log=self.say)
        client = ArenaClient.at(dep.contracts["Arena"], dep.contracts["ArenaToken"], self.deployer)
        client.warp = warp
        self.client = client
        if with_emission:
            self._start_emission(dep)

        # ---------------------------------------------------------- artifacts
        self.workdir.mkdir(parents=True, exist_ok=True)
        public = ArtifactStore(self.workdir / "public-store")
        served = serve(public.root)
        self.say(f"artifact store served read-only at {served.url} (work folder {self.workdir})")
        try:
            return self._play(acc, client, public, served)
        finally:
            served.stop()

    def _play(self, acc, client, public, served) -> bool:
        """Task, actors, rounds, exits and checks (the creator is the deployer)."""
        from ..evaluation.shards import build_shards, digits_split
        from ..evaluation.spec import TaskSpec, data_dir
        from ..evaluation.store import ArtifactStore
        from ..protocol import ArenaError, Phase, Role, Status, TaskParams, fmt_tokens

        creator = acc[0]

        spec = TaskSpec.load(data_dir() / "digits.json")
        spec_sha, _ = public.put(spec.to_json())
        spec_uri = served.uri_for(spec_sha)
        (x_train, y_train), (x_eval, y_eval) = digits_split(eval_fraction=0.3, seed=self.seed)
        manifest = build_shards(
            {"features": x_eval, "target": y_eval},
            NUM_ROUNDS,
            self.workdir / "shards",
            spec=spec,
            seed=self.seed,
        )
        for s in manifest.shards:
            public.put(manifest.path(s.round))
        self.say(
            f"digits task: {len(x_train)} training rows for the nodes, {len(x_eval)} held-out "
            f"rows cut into {NUM_ROUNDS} eval shards; eval_root 0x{manifest.tree.root.hex()[:16]}…"
        )

        # ---------------------------------------------------------- actors
        names = {creator.address: "creator"}
        nodes = []
        for i, (idx, preset) in enumerate(zip(self._non_iid(y_train, 4), NODE_MODELS, strict=True)):
            n = Node(f"node-{i}", acc[1 + i], preset, x_train[idx], y_train[idx])
            nodes.append(n)
            names[n.account.address] = n.name
        honest = [acc[5], acc[6], acc[7]]
        liar, silent = acc[8], acc[9]
        delegators = [acc[10], acc[11], acc[12]]
        vnames = ["val-honest-0", "val-honest-1", "val-honest-2", "val-random", "val-silent"]
        for a, nm in zip([*honest, liar, silent], vnames, strict=True):
            names[a.address] = nm
        for i, d in enumerate(delegators):
            names[d.address] = f"delegator-{i}"
        self.names = names
        self.sat_rounds: dict[str, set[int]] = {}  # validator -> rounds it sat on a committee
        everyone = [creator, *[n.account for n in nodes], *honest, liar, silent, *delegators]

        for a in everyone[1:]:
            client.token.transfer(a.address, 10_000 * TOKEN, sender=creator)
        start_balances = {a.address: client.balance(a) for a in everyone}
        supply0 = sum(start_balances.values()) + client.balance(client.address)

        # ---------------------------------------------------------- task
        now = client.now()
        params = TaskParams(
            bounty=20_000 * TOKEN,
            spec_hash=bytes.fromhex(spec_sha),
            spec_uri=spec_uri,
            eval_root=manifest.tree.root,
            num_rounds=NUM_ROUNDS,
            start_time=now + 600,
            commit_duration=PHASE_SECONDS,
            eval_duration=PHASE_SECONDS,
            reveal_duration=PHASE_SECONDS,
            score_commit_duration=PHASE_SECONDS,
            score_reveal_duration=PHASE_SECONDS,
            min_node_stake=10 * TOKEN,
            min_validator_stake=100 * TOKEN,
            gamma=WAD // 10,
            delta=WAD // 2,
            rank_ratio=6 * WAD // 10,
            rank_epsilon=WAD // 100,
            tolerance=WAD // 10,
            slash_tau=WAD // 20,
            slash_miss=WAD // 4,
            slash_dev=WAD // 5,
            slash_node_miss=WAD // 10,
            min_committee=2,  # with K 4 of 5 a committee rarely has fewer than 2 members
            baseline_score=int(math.log(10) * 10**9),  # chance level: worse earns nothing
            committee_size=4,  # fewer than the 5 validators: committees differ (PROTOCOL.md §5a)
        )
        self.header("create the task, join, delegate")
        task = client.create_task(params, sender=creator)
        self.task = task
        self.say(
            f"task {task}: bounty {fmt_tokens(params.bounty)} ARENA over {NUM_ROUNDS} rounds, "
            f"spec {spec_sha[:12]}… at {spec_uri}"
        )
        for n in nodes:
            client.join(task, Role.NODE, 200 * TOKEN, WAD // 10, sender=n.account)
        stakes = [600, 500, 400, 300, 300]
        for a, s in zip([*honest, liar, silent], stakes, strict=True):
            client.join(task, Role.VALIDATOR, s * TOKEN, WAD // 10, sender=a)
        client.delegate(task, nodes[0].account, 200 * TOKEN, sender=delegators[0])
        client.delegate(task, honest[0], 300 * TOKEN, sender=delegators[1])
        client.delegate(task, liar, 100 * TOKEN, sender=delegators[2])
        self.say(
            "4 nodes staked 200 each; validators staked "
            + ", ".join(
                f"{names[a.address]} {s}"
                for a, s in zip([*honest, liar, silent], stakes, strict=True)
            )
            + f"; {names[delegators[0].address]} backs node-0 (200), "
            f"{names[delegators[1].address]} backs val-honest-0 (300), "
            f"{names[delegators[2].address]} backs val-random (100)"
        )

        # ---------------------------------------------------------- validators (real code)
        state_dir = self.workdir / "validator-state"
        vlog = self.say
        validators = [
            Validator(client, task, a, state_dir=state_dir, store=ArtifactStore(self.workdir / f"store-{nm}"),
                      log=vlog, name=nm, engine_options={"threads": 1, "progress": False})
            for a, nm in zip(honest, vnames, strict=False)
        ]  # fmt: skip
        validators.append(
            RandomScoresValidator(
                client, task, liar, state_dir=state_dir, store=ArtifactStore(self.workdir / "store-liar"),
                log=vlog, name="val-random", seed=self.seed,
            )
        )  # fmt: skip
        validators.append(
            SilentValidator(
                client, task, silent, state_dir=state_dir, store=ArtifactStore(self.workdir / "store-silent"),
                log=vlog, name="val-silent", engine_options={"threads": 1, "progress": False},
            )
        )  # fmt: skip

        # ---------------------------------------------------------- rounds
        for r in range(NUM_ROUNDS):
            self.header(f"round {r}")
            client.wait_for_phase(task, r, Phase.COMMIT)
            shas = {}
            for n in nodes:
                shas[n.name] = self._train_and_commit(n, r, spec, public, task)
            client.wait_for_phase(task, r, Phase.EVAL)
            shard = manifest.shards[r]
            client.reveal_eval(
                task,
                r,
                shard.sha256,
                served.uri_for(shard.sha256),
                manifest.tree.proof(r),
                sender=creator,
            )
            self.say(
                f"models committed blind; creator revealed eval shard {r} ({shard.rows} rows, "
                "its position in the eval tree checked on-chain)"
            )
            client.wait_for_phase(task, r, Phase.REVEAL)
            for n in nodes:
                client.reveal_model(
                    task, shas[n.name], served.uri_for(shas[n.name]), sender=n.account
                )
            self.say("4 models revealed, now that the shard is out")
            client.wait_for_phase(task, r, Phase.SCORE_COMMIT)
            d = client.ensure_committees(task, r, sender=creator)
            self.say(
                f"committees drawn (anyone may; here the creator): K {d.committee_size} of 5 "
                f"validators, seed = hash of block {d.target_block}"
            )
            self.say(
                "score-commit phase: every validator fetches and scores the models of its "
                "committees and commits (in parallel)"
            )
            self._step_all(validators, parallel=True)
            client.wait_for_phase(task, r, Phase.SCORE_REVEAL)
            self.say("score-reveal phase")
            for v in validators:
                v.step()
            client.wait_until(client.round_end(task, r))
            self.say("round over: validators finalize and claim")
            for v in validators:
                v.step()
            self._round_tables(r, nodes, validators)
            if r == 0:
                self._delegator_leaves(delegators[2], liar, 100 * TOKEN, 300 * TOKEN)

        # ---------------------------------------------------------- exit
        self.header("the task ended: everyone claims and withdraws")
        st = client.task_state(task)
        if st.status != Status.ENDED:
            self.console.print(
                f"[bold red]CHECK FAILED[/]: task {task} did not end (status {st.status})"
            )
            return False
        for v in validators:
            v.step()  # validators: claim the rest and withdraw the stake
        for n in nodes:
            self._exit(n.account, n.account)
        self._exit(delegators[0], nodes[0].account)
        self._exit(delegators[1], honest[0])
        self._exit(delegators[2], liar)
        refund = client.task_state(task).refund
        if refund > 0:
            try:
                got = client.claim_refund(task, sender=creator)
                self.say(f"creator took back the refund (carry + slashes): {fmt_tokens(got)} ARENA")
            except ArenaError as err:
                self.say(f"creator refund of {fmt_tokens(refund)} ARENA FAILED: {err}")
        return self._final_check(everyone, start_balances, supply0, nodes, validators, delegators)

    def _step_all(self, validators, parallel: bool = False) -> None:
        """One ``step`` of every validator; scoring runs in parallel threads (separate
        accounts, separate worker processes), as independent validators would."""
        if not parallel:
            for v in validators:
                v.step()
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(validators), thread_name_prefix="validator") as pool:
            for fut in [pool.submit(v.step) for v in validators]:
                fut.result()

    # ------------------------------------------------------------------ nodes
    def _non_iid(self, y, count: int):
        """Dirichlet(0.5) class mixes (plus a 20% even share): each node sees a few classes a
        lot and the others barely."""
        import numpy as np

        rng = np.random.default_rng(self.seed)
        per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
        shares = rng.dirichlet([0.5] * count, size=10)  # [class, node]
        shares = 0.8 * shares + 0.2 / count  # every node sees a few rows of every class
        parts: list[list[int]] = [[] for _ in range(count)]
        for c, idx in enumerate(per_class):
            cuts = (np.cumsum(shares[c])[:-1] * len(idx)).astype(int)
            for node, chunk in enumerate(np.split(idx, cuts)):
                parts[node].extend(chunk.tolist())
        return [np.sort(np.array(p, dtype=np.int64)) for p in parts]

    def _train_and_commit(self, n: Node, r: int, spec, public, task) -> str:
        import torch

        from ..evaluation.export import export_model
        from .models import make_model, train

        torch.set_num_threads(1)  # tiny models: one thread is fastest on a busy machine
        if n.model is None:
            n.model = make_model(n.preset, seed=self.seed + int(n.name[-1]))
        t0 = time.monotonic()
        train(
            n.model,
            n.x,
            n.y,
            steps=TRAIN_STEPS[min(r, len(TRAIN_STEPS) - 1)],
            seed=100 * r + int(n.name[-1]),
        )
        path = self.workdir / "models" / f"{n.name}-round{r}.onnx"
        export_model(n.model, spec, path)
        sha, _ = public.put(path)
        self.client.commit_model(task, sha, sender=n.account)
        counts = ", ".join(f"{c}:{int((n.y == c).sum())}" for c in range(10))
        if r == 0:
            self.say(f"{n.name} ({n.preset}) holds {len(n.y)} rows, class counts {counts}")
        self.say(
            f"{n.name} trained {TRAIN_STEPS[min(r, 1)]} steps in {time.monotonic() - t0:.1f} s, exported ONNX {sha[:12]}…, committed"
        )
        return sha

    # ------------------------------------------------------------------ tables
    def _committees(self, r: int, subs) -> None:
        """Who sits on which submission's committee (drawn on-chain, PROTOCOL.md §5a)."""
        from ..roles.creator import committee_report

        com = committee_report(self.client, self.task, r)
        if com is None or com["seed"] is None:
            self.say(f"round {r}: no committee seed readable (nobody drew it in time)")
            return
        models = {s.slot: self.names.get(s.node, s.node[:10]) for s in subs}
        per_slot = {k: [] for k in range(com["submissions"])}
        for v, slots in com["assignments"].items():
            if slots:  # kept for the final check: after the exits the view reads no stake
                self.sat_rounds.setdefault(str(v).lower(), set()).add(r)
            for k in slots:
                per_slot[k].append(self.names.get(v, v[:10]))
        self.say(
            f"round {r}: committees (K {com['committee_size']} of "
            f"{len(com['assignments'])} validators; each scored only its own): "
            + "; ".join(
                f"{models.get(k, k)}: {', '.join(m) or 'nobody'}" for k, m in per_slot.items()
            )
        )

    def _round_tables(self, r: int, nodes, validators) -> None:
        from rich.table import Table

        from ..protocol import INVALID_SCORE, fmt_score, fmt_tokens, fmt_wad

        c, task = self.client, self.task
        info = c.round_info(task, r)
        subs = c.submissions(task, r)
        order = sorted(subs, key=lambda s: (s.consensus, s.key))
        lb = Table(
            title=f"round {r}: leaderboard (consensus = stake-weighted median; loss, lower is "
            "better; g by distance to the best; within epsilon of a better-placed model only the "
            "model revealed first earns)"
        )
        for col in (
            "node",
            "model",
            "first revealed",
            "consensus loss",
            "accuracy",
            "weight g",
            "reward ARENA",
        ):
            lb.add_column(col, justify="right" if col not in ("node", "model") else "left")
        for s in order:
            acc = self._accuracy(s) if s.consensus != INVALID_SCORE else None
            lb.add_row(
                self.names.get(s.node, s.node[:10]), bytes(s.model_sha256).hex()[:12],
                f"round {s.key >> 128}", fmt_score(s.consensus),
                "-" if acc is None else f"{acc:.1%}", fmt_wad(s.weight), fmt_tokens(s.reward),
            )  # fmt: skip
        self.console.print(lb)
        self._committees(r, subs)

        vt = Table(
            title=f"round {r}: validators (scores per slot, deviation D from consensus, agreement F)"
        )
        for col in (
            "validator",
            "stake w",
            "revealed",
            "scores",
            "D",
            "F",
            "reward ARENA",
            "slashed ARENA",
        ):
            vt.add_column(col, justify="left" if col in ("validator", "scores") else "right")
        for v in validators:
            vr = c.validator_round(task, r, v.address)
            scores = c.validator_scores(task, r, v.address) if vr.revealed else []
            per_slot = c.scores_by_slot(task, r, v.address, len(subs)) if vr.revealed else []
            shown = (  # "-": a slot whose committee it did not sit on
                " ".join("  -  " if x is None else fmt_score(x)[:5] for x in per_slot)
                if scores
                else ("committed, no reveal" if vr.committed else "-")
            )
            vt.add_row(
                v.name, fmt_tokens(vr.stake), "yes" if vr.revealed else "NO", shown,
                fmt_wad(vr.deviation) if vr.revealed else "-", fmt_wad(vr.agreement) if vr.revealed else "-",
                fmt_tokens(vr.reward), fmt_tokens(vr.slash) if vr.slash else "",
            )  # fmt: skip
        self.console.print(vt)

        pot = Table(title=f"round {r}: pot")
        for col in ("pot", "emission", "nodes pot", "validators pot", "paid", "slashed", "void"):
            pot.add_column(col, justify="right")
        pot.add_row(
            fmt_tokens(info.pot), fmt_tokens(info.emission_amount), fmt_tokens(info.nodes_pot),
            fmt_tokens(info.validators_pot), fmt_tokens(info.paid), fmt_tokens(info.slashed),
            str(info.void_reason or "no"),
        )  # fmt: skip
        self.console.print(pot)

    def _accuracy(self, sub) -> float | None:
        """Accuracy of a submission on the whole held-out split (for the table only)."""
        try:
            import numpy as np
            import onnxruntime as ort

            from ..evaluation.shards import digits_split

            if not hasattr(self, "_xe"):
                (_, _), (self._xe, self._ye) = digits_split(eval_fraction=0.3, seed=self.seed)
            path = self.workdir / "public-store" / bytes(sub.model_sha256).hex()
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            (logits,) = sess.run(None, {"features": self._xe})
            return float((np.argmax(logits, axis=1) == self._ye).mean())
        except Exception:  # noqa: BLE001 - a display nicety only
            return None

    # ------------------------------------------------------------------ exit + checks
    def _delegator_leaves(self, who, participant, deposited: int, own0: int) -> None:
        """The liar's delegator: its delegation lost the fraction the liar lost of its own
        stake; being slashed, the liar's delegators may leave before the task ends."""
        from ..protocol import fmt_tokens

        c, task = self.client, self.task
        p = c.participant(task, participant)
        who_name, p_name = self.names[who.address], self.names[participant.address]
        if not p.slash_round:
            self.say(f"{p_name} was not slashed: {who_name} stays")
            return
        value = c.delegation_value(task, participant, who)
        got = c.withdraw(task, participant, sender=who)
        self.early_exit = {
            "deposited": deposited,
            "withdrawn": got,
            "own_fraction": p.slashed / own0,
            "burned": p.del_burned,
        }
        self.say(
            f"{p_name} was slashed {p.slashed / own0:.0%} of its own stake and its delegations "
            f"lost the same share ({fmt_tokens(p.del_burned)} ARENA burned): {who_name}'s "
            f"{fmt_tokens(deposited)} is worth {fmt_tokens(value)}; it leaves early and "
            f"withdraws {fmt_tokens(got)}"
        )

    def _exit(self, who, participant) -> None:
        from ..protocol import fmt_tokens

        c, task = self.client, self.task
        got = 0
        if c.claimable(task, participant, who) > 0:
            got += c.claim(task, participant, sender=who)
        w = c.withdrawable(task, participant, who)
        if w > 0:
            w = c.withdraw(task, participant, sender=who)
        role = (
            "own stake"
            if who.address == participant.address
            else f"delegation to {self.names[participant.address]}"
        )
        self.say(
            f"{self.names[who.address]}: claimed {fmt_tokens(got)} ARENA, withdrew {fmt_tokens(w)} ({role})"
        )

    def _final_check(self, everyone, start, supply0, nodes, validators, delegators) -> bool:
        from rich.table import Table

        from ..protocol import fmt_tokens

        c, task = self.client, self.task
        minted = sum(c.round_info(task, r).emission_amount for r in range(NUM_ROUNDS))
        end = {a.address: c.balance(a) for a in everyone}
        arena_left = c.balance(c.address)
        t = Table(title="final balances (ARENA)")
        for col in ("account", "start", "end", "change"):
            t.add_column(col, justify="left" if col == "account" else "right")
        for a in everyone:
            delta = end[a.address] - start[a.address]
            sign = "+" if delta >= 0 else "-"
            t.add_row(
                self.names[a.address],
                fmt_tokens(start[a.address]),
                fmt_tokens(end[a.address]),
                f"{sign}{fmt_tokens(abs(delta))}",
            )
        t.add_row("arena contract", "0", f"{arena_left} wei", "")
        self.console.print(t)

        failures = []
        burned = c.task_state(task).burned  # slashed delegations leave circulation
        total_end = sum(end.values()) + arena_left + burned
        if total_end != supply0 + minted:
            failures.append(
                f"token totals do not balance: {total_end} != {supply0} + minted {minted} "
                f"(burned {burned})"
            )
        by_name = {v.name: v for v in validators}

        def sat(nm: str) -> list[int]:
            """Rounds in which validator `nm` sat on at least one committee (recorded as each
            round was drawn: `assignments` reads the current stake, 0 once it withdrew)."""
            return sorted(self.sat_rounds.get(str(by_name[nm].address).lower(), ()))

        exit_ = getattr(self, "early_exit", None)
        if exit_ is None:
            if 0 in sat("val-random"):  # slashed in round 0, so its delegators may leave
                failures.append("the liar's delegator did not get to leave early")
        else:
            lost = 1 - exit_["withdrawn"] / exit_["deposited"]
            if exit_["burned"] != burned or abs(lost - exit_["own_fraction"]) > 1e-9:
                failures.append(
                    f"the liar's delegator lost {lost:.6%}, not the liar's {exit_['own_fraction']:.6%}"
                )
        if arena_left > DUST:
            failures.append(f"the arena still holds {arena_left} wei (> dust {DUST})")
        for v in validators:
            if c.claimable(task, v.address) or c.withdrawable(task, v.address):
                failures.append(f"{v.name} left tokens in the arena")
        # committees (K < validators): a validator is paid or slashed only for rounds in which
        # it sat on a committee; with K = 4 each sits on one in almost every run
        for nm in ("val-random", "val-silent"):
            for r in sat(nm):
                if c.validator_round(task, r, by_name[nm].address).slash == 0:
                    failures.append(f"{nm} sat on a committee of round {r} and was not slashed")
        for nm in ("val-honest-0", "val-honest-1", "val-honest-2"):
            v = by_name[nm]
            if not sat(nm):
                self.say(f"{nm} sat on no committee in any round: nothing to pay it")
                continue
            paid = sum(c.validator_round(task, r, v.address).reward for r in range(NUM_ROUNDS))
            slashed = sum(c.validator_round(task, r, v.address).slash for r in range(NUM_ROUNDS))
            if paid == 0 or slashed:
                failures.append(f"{nm} was not paid cleanly (reward {paid}, slashed {slashed})")
            if end[v.address] <= start[v.address]:
                failures.append(f"{nm} did not gain tokens")
        for d in delegators[:2]:  # the third backed the liar
            if end[d.address] <= start[d.address]:
                failures.append(f"{self.names[d.address]} did not gain tokens")
        improved = self._improvement(nodes)
        if not improved:
            failures.append("no node improved its consensus score between rounds")
        minutes = (time.monotonic() - self.t0) / 60
        if failures:
            for f in failures:
                self.console.print(f"[bold red]CHECK FAILED[/]: {f}")
            return False
        self.console.print(
            f"[bold green]all checks passed[/]: totals balance ({fmt_tokens(supply0 + minted)} ARENA, "
            f"minted {fmt_tokens(minted)}, burned {fmt_tokens(burned)}), arena left with "
            f"{arena_left} wei, dishonest and silent validators slashed, the liar's delegator lost "
            f"the liar's {exit_['own_fraction']:.0%}, honest ones and delegators paid, "
            f"{improved} node(s) improved; {minutes:.1f} min"
        )
        return True

    def _improvement(self, nodes) -> int:
        c, task = self.client, self.task
        best: dict[str, list[int]] = {}
        for r in range(NUM_ROUNDS):
            for s in c.submissions(task, r):
                best.setdefault(s.node, []).append(s.consensus)
        return sum(1 for v in best.values() if len(v) == NUM_ROUNDS and v[-1] < v[0])

    def _start_emission(self, dep) -> None:
        """Turn the emission on at a small rate when the Emission contract has a setter."""
        from ape import project

        em = project.Emission.at(dep.contracts["Emission"])
        for setter in ("set_rate",):
            if hasattr(em, setter):
                getattr(em, setter)(10**16, sender=self.deployer)
                self.say("emission on: 0.01 ARENA/s split across tasks by stake")
                return


def deploy_local(account, *, emission: bool = False, log=print):
    """``deploy.deploy_all`` on the local anvil (the record is written, so every
    ``ape arena`` command finds the contracts)."""
    from ..protocol.deploy import deploy_all

    return deploy_all(account, emission=emission, emission_rate=10**16, log=log)


def warp(timestamp: int) -> None:
    """Jump a local chain's clock to ``timestamp`` and mine a block there.

    Ape's ``chain.mine(timestamp=...)`` where the provider supports it (ape-foundry), raw
    anvil RPC otherwise (a local anvil reached through a plain URI).
    """
    from ape import chain
    from ape.exceptions import APINotImplementedError

    if timestamp <= int(chain.blocks.head.timestamp):
        return
    try:
        chain.mine(timestamp=int(timestamp))
    except APINotImplementedError:
        chain.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])
        chain.provider.make_request("evm_mine", [])


# ----------------------------------------------------------------------------- dishonest
class RandomScoresValidator(Validator):
    """Commits and reveals random scores instead of scoring (gets slashed for deviation)."""

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = random.Random(seed)

    def compute_scores(self, round_, spec, shard_path, shard_sha256, models):
        scores = [self.rng.randrange(50_000_000, 5_000_000_000) for _ in models]
        return Scored(scores, ["random"] * len(models))


class SilentValidator(Validator):
    """Scores and commits honestly, then never reveals (gets slashed for the missed reveal)."""

    def should_reveal(self, round_, state) -> bool:
        return False
