"""Gas report at the maximum sizes of DESIGN §3.6 (the logic behind ``ape run gas``).

One full round on a local anvil at ``MAX_SUBMISSIONS`` (1,024) nodes x 128 validators of equal
stake with committees of K = 64 (each validator sits on half of them: about 512 slots and 64
votes per slot), with a few delegators on every participant, plus one participant with 1
delegator and one with 200 (claim / withdraw / delegate must not depend on that number).
``--submissions`` / ``--validators`` measure other sizes.
Every state-changing Arena function is measured from transaction receipts (``gasUsed``);
``finalize`` is paged with the largest ``max_steps`` whose every page stays under the
15,000,000 gas rule. ``GasRun`` holds the run's steps in order; ``run`` plays them. The table
goes to stdout, ``gas-report.md`` and ``gas-report.json`` (``report.py``); any measured
transaction at or above 15,000,000 gas makes the run fail.

Speed: set-up and bulk transactions are unsigned ``eth_sendTransaction`` calls from
impersonated addresses (``net.py``), sent in JSON-RPC batches with automine off and then
mined together; only the first deployments go through Ape accounts. A full run takes a few
minutes on 2 cores.
"""

from __future__ import annotations

import time
from pathlib import Path

from ...protocol.commitments import score_commitment
from ...protocol.ranking import RankOrders
from ...protocol.types import REVEAL_PAGE, Stage
from .net import BLOCK_GAS, Chain, Rpc, Tx, keccak_abi, label_address, label_sha
from .report import TX_LIMIT, Report, machine, markdown, write

WAD = 10**18
E18 = 10**18
INVALID = 2**64 - 1
NODE, VALIDATOR = 1, 2
PHASE = 3_600  # seconds per phase of the measured task
STEP_CANDIDATES = (320, 256, 192, 160, 128, 112, 96, 80, 64, 56, 48, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4, 2, 1)  # fmt: skip
MAX_FINALIZE_STEPS = 320  # Arena.MAX_FINALIZE_STEPS


def _scores(n: int, j: int, liar: bool, validators: int = 32) -> list[int]:
    """Validator j's scores of all n slots (it reveals those of its committees): a common
    truth plus tiny per-validator noise that *decreases* with
    the validator index, so the consensus' insertion sort (validators in index order) meets
    its worst case, a reversed list; the liar reverses the ranking; the last submission is
    INVALID for everyone."""
    out = []
    for k in range(n):
        truth = 100_000_000 + k * 2_000_000
        if k == n - 1:
            out.append(INVALID)
        elif liar:
            out.append(100_000_000 + (n - k) * 2_000_000)
        else:
            out.append(truth + (validators - j) * 10 + k % 7)
    return out


def _play_round(
    net, arena, creator, task, start, shard, nodes, vals, *, tag: str, record: bool
) -> None:
    """Round 0 of `task`: every node commits a distinct model, the eval shard is revealed,
    every node reveals, every validator commits and reveals one score per submission (the
    last validator lies, the last submission is INVALID for everyone)."""
    n = len(nodes)
    lab = (lambda name: name) if record else (lambda name: None)  # noqa: E731
    models = [label_sha(f"model-{tag}-{i}") for i in range(n)]
    net.warp(start + 1)
    net.send(
        [
            Tx(
                x,
                arena,
                "commit_model",
                (task, keccak_abi(["bytes32", "address", "uint256", "uint256"], [m, x, task, 0])),
                lab("commit_model"),
            )
            for x, m in zip(nodes, models, strict=True)
        ]
    )
    net.warp(start + PHASE + 1)
    net.send_one(
        Tx(
            creator,
            arena,
            "reveal_eval",
            (task, 0, shard, "ipfs://shard-0", []),
            lab("reveal_eval"),
        )
    )
    net.warp(start + 2 * PHASE + 1)
    uri = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/model.onnx"
    net.send(
        [
            Tx(x, arena, "reveal_model", (task, m, uri), lab("reveal_model"))
            for x, m in zip(nodes, models, strict=True)
        ]
    )
    net.warp(start + 3 * PHASE + 1)
    # the committee draw (PROTOCOL.md §5a): freeze W and the digest of the n submissions ...
    net.send_one(Tx(creator, arena, "draw", (task, 0), lab(f"draw ({n} submissions)")))
    for _ in range(2):  # past the target block: its hash seeds the committees
        net.rpc.call("evm_mine")
    full = {v: _scores(n, j, j == len(vals) - 1, len(vals)) for j, v in enumerate(vals)}
    # each validator scores the slots of its committees only (PROTOCOL.md §5a)
    scores = {v: [full[v][int(k)] for k in arena.assignments(task, 0, v, 0, n)] for v in vals}
    salts = {v: label_sha(f"salt-{tag}-{v}") for v in vals}
    commits = []
    for v in vals:
        c = score_commitment(task, 0, v, scores[v], salts[v])
        commits.append(Tx(v, arena, "commit_scores", (task, c), lab("commit_scores")))
    net.send(commits)  # the first one fixes the seed
    net.warp(start + 4 * PHASE + 1)
    # paged reveals (REVEAL_PAGE scores per transaction), one validator's pages in order
    reveals = []
    for v in vals:
        mine = scores[v]
        for i in range(0, max(len(mine), 1), REVEAL_PAGE):
            page = mine[i : i + REVEAL_PAGE]
            reveals.append(
                Tx(
                    v,
                    arena,
                    "reveal_scores",
                    (task, page, salts[v]),
                    lab(
                        f"reveal_scores ({len(page)} scores)"
                        if len(page) == REVEAL_PAGE
                        else "reveal_scores (last page)"
                    ),
                )
            )
    net.send(reveals, chunk=20)  # each carries up to REVEAL_PAGE scores: small batches
    net.warp(start + 5 * PHASE + 1)


def _page(
    net, arena, creator, task, steps: int, units: int, label: str | None = None, orders=None
) -> tuple[list[int], bool]:
    """finalize(task, steps, order) until the round is done; (gas of each page, all
    succeeded). ``order`` is the RANK units' sorted eligible slots, from ``orders``."""
    orders = orders or RankOrders(arena)
    pages: list[int] = []
    done = arena.task_state(task).finalized_rounds + 1
    for _ in range(units + 1):
        order = orders(task, steps)
        r = net.send_one(
            Tx(creator, arena, "finalize", (task, steps, order), label, BLOCK_GAS), check=False
        )
        pages.append(int(r["gasUsed"], 16))
        if int(r["status"], 16) != 1:
            return pages, False
        if arena.task_state(task).finalized_rounds == done:
            break
    return pages, True


def _units(submissions: int, validators: int) -> int:
    """Finalize units of a round where every node revealed and every submission is eligible:
    OPEN, CONSENSUS and RANK per submission, AGREEMENT per validator, PAY_NODES per committer,
    PAY_VALIDATORS per validator."""
    return 1 + 3 * submissions + 2 * validators


class GasRun:
    """One measured run, step by step (``run`` calls them in this order):

    ``deploy`` -> ``fund`` -> ``create_task`` -> ``join_and_delegate`` -> ``play_round`` ->
    ``profile_finalize`` -> ``search_step_size`` -> ``finalize`` -> ``exit_everyone`` ->
    ``check_worst_alignment`` -> ``delegator_independence``.
    """

    node_stake, val_stake, del_amount = 100 * E18, 1_000 * E18, 10 * E18

    def __init__(
        self,
        *,
        submissions: int,
        validators: int,
        delegators_per_participant: int,
        many_delegators: int,
        log=print,
    ):
        from ape import chain

        if chain.chain_id not in (31337, 1337):
            raise RuntimeError(
                "the gas report impersonates accounts and sets balances: local anvil only"
            )
        self.submissions, self.validators = submissions, validators
        self.log = log
        self.t_start = time.time()
        self.report = Report()
        self.report.meta = machine() | {
            "submissions": submissions,
            "validators": validators,
            "delegators_per_participant": delegators_per_participant,
            "many_delegators": many_delegators,
        }
        self.rpc = Rpc(chain.provider.http_uri)
        self.net = Chain(self.rpc, self.report, log)
        # the cast: labelled addresses, the same in every run
        self.creator = label_address("creator")
        self.nodes = [label_address(f"node-{i}") for i in range(submissions)]
        self.vals = [label_address(f"validator-{j}") for j in range(validators)]
        self.heavy, self.light = self.nodes[0], self.nodes[1]
        self.heavy_dels = [label_address(f"heavy-delegator-{i}") for i in range(many_delegators)]
        self.light_del = label_address("light-delegator")
        self.regular: list[tuple[str, str]] = []  # (participant, delegator)
        for p in self.nodes[2:] + self.vals:
            for i in range(delegators_per_participant):
                self.regular.append((p, label_address(f"delegator-{p}-{i}")))
        self.shard = label_sha("eval-shard-0")
        self.receipts: dict[str, dict] = {}  # the O(1) measurements, by name

    def elapsed(self) -> str:
        return f"{time.time() - self.t_start:.0f} s"

    # ------------------------------------------------------------------ set-up
    def deploy(self) -> None:
        """Token, engine and arena through Ape (their deployment gas is measured too)."""
        from ape import accounts, project

        self.deployer = accounts.test_accounts[0]
        d = self.deployer
        self.token = d.deploy(project.ArenaToken, 10**9 * E18, 10**9 * E18)
        engine = d.deploy(project.ArenaEngine)
        rounds = d.deploy(project.ArenaRounds)
        self.arena = d.deploy(project.Arena, self.token, "0x" + "00" * 20, engine, rounds)
        deployed = (
            ("ArenaToken", self.token),
            ("ArenaEngine", engine),
            ("ArenaRounds", rounds),
            ("Arena", self.arena),
        )
        for name, c in deployed:
            try:
                self.report.add(f"deploy {name}", c.receipt.gas_used)
            except Exception:  # noqa: BLE001  (no creation receipt known: skip the row)
                pass
        self.log(f"deployed Arena at {self.arena.address} ({self.elapsed()})")

    def fund(self) -> None:
        """ETH for gas, tokens for the bounty, the stakes and their top-ups, approvals."""
        everyone = [
            self.creator,
            *self.nodes,
            *self.vals,
            *self.heavy_dels,
            self.light_del,
            *(d for _, d in self.regular),
        ]
        self.net.set_eth(everyone)
        funding = {self.creator: 30_000_000 * E18}
        # Enough for the measured task, its top-ups and the worst-alignment tasks (stake
        # stays locked there).
        funding |= {n: 8 * self.node_stake for n in self.nodes}
        funding |= {v: 8 * self.val_stake for v in self.vals}
        delegators = [*self.heavy_dels, self.light_del, *(d for _, d in self.regular)]
        funding |= {d: self.del_amount for d in delegators}
        token, deployer = self.token, self.deployer.address
        self.net.send([Tx(deployer, token, "transfer", (a, amt)) for a, amt in funding.items()])
        self.net.send([Tx(a, token, "approve", (self.arena.address, 2**256 - 1)) for a in funding])
        self.log(f"funded {len(funding)} accounts ({self.elapsed()})")

    def create_task(self) -> None:
        """The measured one-round task; a second one only to measure ``cancel_task``;
        ``pause`` / ``unpause``."""
        from ape import chain

        arena, creator, net = self.arena, self.creator, self.net
        self.start = chain.blocks.head.timestamp + 10 * PHASE
        self.params = (
            1_000_000 * E18,  # bounty
            label_sha("spec.json"),
            "ipfs://spec",
            keccak_abi(["uint256", "bytes32"], [0, self.shard]),  # eval_root: a one-leaf tree
            1,  # num_rounds
            self.start,
            PHASE,
            PHASE,
            PHASE,
            PHASE,
            PHASE,
            self.node_stake,  # min_node_stake
            self.val_stake,  # min_validator_stake
            WAD // 10,  # gamma
            WAD // 2,  # delta
            WAD * 9 // 10,  # rank_ratio: every rank keeps a non-zero weight
            WAD // 1000,  # rank_epsilon: the scores 2e6 apart each start their own bucket
            WAD // 2,  # tolerance
            WAD // 5,  # slash_tau
            WAD // 10,  # slash_miss
            WAD // 2,  # slash_dev
            WAD // 10,  # slash_node_miss
            1,  # min_committee: every committee with a reveal scores its submission
            0,  # baseline_score
            64,  # committee_size
            E18,  # keeper_tip: 1 ARENA per finalize unit and draw call (the rows include it)
        )
        net.send_one(Tx(creator, arena, "create_task", (self.params,), "create_task"))
        self.task = arena.task_count()
        net.send_one(Tx(creator, arena, "create_task", (self.params,), "create_task"))
        net.send_one(Tx(creator, arena, "cancel_task", (self.task + 1,), "cancel_task"))
        deployer = self.deployer.address
        net.send_one(Tx(deployer, arena, "pause", (), "pause"))
        net.send_one(Tx(deployer, arena, "unpause", (), "unpause"))

    def join_and_delegate(self) -> None:
        """Every node and validator joins, a few top up; delegations: the light participant
        gets exactly one, the heavy one ``many_delegators`` (measured at #1, #2 and the last)."""
        arena, net, task = self.arena, self.net, self.task
        node_join = (task, NODE, self.node_stake, WAD // 10)
        joins = [Tx(n, arena, "join", node_join, "join (node)") for n in self.nodes]
        joins += [
            Tx(v, arena, "join", (task, VALIDATOR, self.val_stake, WAD // 20), "join (validator)")
            for v in self.vals
        ]
        net.send(joins)
        net.send([Tx(n, arena, "join", node_join, "join (top-up)") for n in self.nodes[2:10]])

        def delegate(who: str, to: str) -> Tx:
            return Tx(who, arena, "delegate", (task, to, self.del_amount), "delegate")

        heavy, dels = self.heavy, self.heavy_dels
        self.receipts["delegate light"] = net.send_one(delegate(self.light_del, self.light))
        self.receipts["delegate heavy #1"] = net.send_one(delegate(dels[0], heavy))
        self.receipts["delegate heavy #2"] = net.send_one(delegate(dels[1], heavy))
        net.send([delegate(d, heavy) for d in dels[2:-1]])
        self.receipts["delegate heavy last"] = net.send_one(delegate(dels[-1], heavy))
        net.send([delegate(d, p) for p, d in self.regular])
        self.log(
            f"{len(self.nodes)} nodes, {len(self.vals)} validators, "
            f"{len(self.regular) + len(dels) + 1} delegations ({self.elapsed()})"
        )

    # ------------------------------------------------------------------ the round
    def play_round(self) -> None:
        _play_round(
            self.net, self.arena, self.creator, self.task, self.start, self.shard, self.nodes,
            self.vals, tag="", record=True,
        )  # fmt: skip
        self.log(f"round played ({self.elapsed()}); paging finalize")

    # ------------------------------------------------------------------ finalize
    @property
    def units(self) -> int:
        """Finalize units of the round (known once ``profile_finalize`` has run): OPEN,
        CONSENSUS per submission, RANK per eligible submission, PAY_NODES per committer,
        PAY_VALIDATORS per validator."""
        return len(self.per_unit)

    def profile_finalize(self) -> None:
        """Gas of every finalize unit sent alone (``max_steps = 1``), then rolled back."""
        snap = self.rpc.call("evm_snapshot")
        self.per_unit = []
        self.orders = RankOrders(self.arena)  # the round's order, once (snapshots keep it)
        done = self.arena.task_state(self.task).finalized_rounds + 1
        bound = _units(self.submissions, self.validators)
        while len(self.per_unit) <= bound:
            info = self.arena.round_info(self.task, done - 1)
            order = self.orders(self.task, 1)
            tx = Tx(self.creator, self.arena, "finalize", (self.task, 1, order), None, BLOCK_GAS)
            g = int(self.net.send_one(tx)["gasUsed"], 16)
            self.per_unit.append(g)
            self.report.units.setdefault(Stage(int(info.stage)).name, []).append(g)
            if self.arena.task_state(self.task).finalized_rounds == done:
                break
        self.rpc.call("evm_revert", [snap])
        self.log(f"finalize unit profile done: {self.units} units ({self.elapsed()})")

    def search_step_size(self) -> None:
        """The largest ``max_steps`` whose every page stays under the limit.

        Each unit alone pays its cold storage reads again, so summing the profile over a page
        over-estimates it: the largest step size whose aligned pages all sum below the limit
        is a safe start; real pages are then tried from about twice that downwards.
        """
        report, units = self.report, self.units
        predicted = 1
        for steps in range(1, MAX_FINALIZE_STEPS + 1):
            sums = [sum(self.per_unit[i : i + steps]) for i in range(0, units, steps)]
            if max(sums) < TX_LIMIT:
                predicted = steps
        report.predicted_steps = predicted
        candidates = sorted(
            {c for c in STEP_CANDIDATES if predicted < c <= 2 * predicted}
            | {predicted, MAX_FINALIZE_STEPS},
            reverse=True,
        )
        for steps in candidates:
            snap = self.rpc.call("evm_snapshot")
            pages, ok = _page(
                self.net, self.arena, self.creator, self.task, steps, units, orders=self.orders
            )
            self.rpc.call("evm_revert", [snap])
            worst = max(pages)
            fits = ok and worst < TX_LIMIT
            report.steps.append(
                {"max_steps": steps, "pages": len(pages), "max_page_gas": worst, "ok": fits}
            )
            self.log(
                f"  finalize max_steps={steps}: {len(pages)} page(s), max {worst:,} gas"
                + ("" if ok else " (out of gas)")
            )
            if fits:
                break
        fitting = [s["max_steps"] for s in report.steps if s["ok"]]
        if not fitting:
            raise RuntimeError("no finalize step size keeps every page under 15M gas")
        report.chosen_steps = max(fitting)

    def finalize_client_paging(self) -> None:
        """Finalize as the client does at scale: each page starts at twice the last page's
        size (MAX_FINALIZE_STEPS at first) and is halved while the node's gas estimate
        exceeds PAGE_GAS (``_finalize_page``)."""
        from types import SimpleNamespace

        from ...protocol.transactions import ArenaTransactions

        net, arena, creator, task = self.net, self.arena, self.creator, self.task

        def estimate(task_, steps, order, sender=None):
            p = Tx(creator, arena, "finalize", (task_, steps, order)).as_rpc(net.gas_price)
            p.pop("gas", None)
            return int(net.rpc.call("eth_estimateGas", [p]), 16)

        chain = SimpleNamespace(
            arena=SimpleNamespace(finalize=SimpleNamespace(estimate_gas_cost=estimate))
        )
        orders = RankOrders(arena)
        done = arena.task_state(task).finalized_rounds + 1
        label = f"finalize (client paging, pages from {MAX_FINALIZE_STEPS} steps)"
        steps_used, gas = [], []
        while arena.task_state(task).finalized_rounds < done:
            # as the client: a page starts at twice the last one's size
            start = (
                min(MAX_FINALIZE_STEPS, 2 * steps_used[-1]) if steps_used else MAX_FINALIZE_STEPS
            )
            steps, order = ArenaTransactions._finalize_page(chain, task, start, orders, creator)
            r = net.send_one(Tx(creator, arena, "finalize", (task, steps, order), label, BLOCK_GAS))
            steps_used.append(steps)
            gas.append(int(r["gasUsed"], 16))
        self.report.meta["client_paging"] = {
            "pages": len(gas),
            "min_steps": min(steps_used),
            "max_steps": max(steps_used),
            "max_page_gas": max(gas),
        }
        self.log(f"finalized in {len(gas)} client pages, max {max(gas):,} gas ({self.elapsed()})")

    def finalize(self) -> None:
        steps = self.report.chosen_steps
        label = f"finalize (max_steps={steps})"
        _page(
            self.net, self.arena, self.creator, self.task, steps, self.units, label=label,
            orders=self.orders,
        )  # fmt: skip
        self.log(f"finalized with max_steps={steps} ({self.elapsed()})")

    # ------------------------------------------------------------------ after the task
    def exit_everyone(self) -> None:
        """Claims, withdrawals and the creator's refund; records the dust left behind."""
        arena, net, task = self.arena, self.net, self.task
        light, heavy, light_del, last_del = (
            self.light,
            self.heavy,
            self.light_del,
            self.heavy_dels[-1],
        )
        participants = [*self.nodes, *self.vals]
        self.receipts["claim light"] = net.send_one(
            Tx(light_del, arena, "claim", (task, light), "claim (delegator)")
        )
        self.receipts["claim heavy"] = net.send_one(
            Tx(last_del, arena, "claim", (task, heavy), "claim (delegator)")
        )
        net.send(
            [
                Tx(p, arena, "claim", (task, p), "claim (owner)")
                for p in participants
                if arena.claimable(task, p, p) > 0
            ]
        )
        dels = [(heavy, d) for d in self.heavy_dels[:-1]] + self.regular
        net.send(
            [
                Tx(d, arena, "claim", (task, p), "claim (delegator)")
                for p, d in dels
                if arena.claimable(task, p, d) > 0
            ]
        )
        self.receipts["withdraw light"] = net.send_one(
            Tx(light_del, arena, "withdraw", (task, light), "withdraw (delegator)")
        )
        self.receipts["withdraw heavy"] = net.send_one(
            Tx(last_del, arena, "withdraw", (task, heavy), "withdraw (delegator)")
        )
        net.send([Tx(d, arena, "withdraw", (task, p), "withdraw (delegator)") for p, d in dels])
        net.send(
            [
                Tx(p, arena, "withdraw", (task, p), "withdraw (owner)")
                for p in participants
                if arena.withdrawable(task, p, p) > 0
            ]
        )
        net.send_one(Tx(self.creator, arena, "claim_refund", (task,), "claim_refund"))
        left = self.token.balanceOf(arena)
        self.report.meta["dust_left_wei"] = int(left)
        self.log(f"everyone exited; {left} wei left in the arena ({self.elapsed()})")

    def check_worst_alignment(self, check_steps: int | None = None) -> None:
        """Pages cut the stages at other units for other round sizes: check the chosen step
        size again at n = S - 2 (mod S) submissions, where a page ends two units into a stage,
        and step down until it holds (and ``check_steps``, a client's step size, if given)."""
        report = self.report
        tried = [
            c
            for c in sorted(set(STEP_CANDIDATES) | {report.chosen_steps}, reverse=True)
            if c <= report.chosen_steps
        ]
        for steps in tried:
            if self._worst_alignment(steps)["ok"]:
                report.safe_steps = steps
                break
        if check_steps and all(w["max_steps"] != check_steps for w in report.worst_alignment):
            self._worst_alignment(check_steps)

    def _worst_alignment(self, steps: int) -> dict:
        from ape import chain

        arena, net, creator, vals = self.arena, self.net, self.creator, self.vals
        n = (
            max(k for k in range(1, self.submissions + 1) if k % steps == (steps - 2) % steps)
            if steps > 1
            else self.submissions
        )
        start = chain.blocks.head.timestamp + 10 * PHASE
        params = list(self.params)
        params[5] = start
        net.send_one(Tx(creator, arena, "create_task", (tuple(params),)))
        task = arena.task_count()
        net.send([Tx(x, arena, "join", (task, NODE, self.node_stake, 0)) for x in self.nodes[:n]])
        net.send([Tx(v, arena, "join", (task, VALIDATOR, self.val_stake, 0)) for v in vals])
        _play_round(
            net, arena, creator, task, start, self.shard, self.nodes[:n], vals,
            tag=f"w{steps}", record=False,
        )  # fmt: skip
        label = f"finalize (max_steps={steps}, {n} submissions)"
        pages, ok = _page(net, arena, creator, task, steps, _units(n, len(vals)), label=label)
        worst = max(pages)
        row = {
            "max_steps": steps,
            "submissions": n,
            "pages": len(pages),
            "max_page_gas": worst,
            "ok": ok and worst < TX_LIMIT,
        }
        self.report.worst_alignment.append(row)
        self.log(
            f"  worst alignment: max_steps={steps} at {n} submissions: max page {worst:,} gas "
            f"({self.elapsed()})"
        )
        if not row["ok"]:
            # An exploratory page above the limit is a finding about that step size, not a
            # failed run.
            self.report.rows.pop(label, None)
            self.report.over_limit = [o for o in self.report.over_limit if o[0] != label]
        return row

    def delegator_independence(self) -> None:
        """delegate / claim / withdraw gas with 1 delegator vs ``many_delegators``."""
        g = {name: int(r["gasUsed"], 16) for name, r in self.receipts.items()}
        self.report.o1 = [
            {
                "function": "delegate (new position)",
                "one": g["delegate light"],
                "many": g["delegate heavy last"],
                "extra": f"#1 {g['delegate heavy #1']:,} / #2 {g['delegate heavy #2']:,}",
            },
            {
                "function": "claim (delegator)",
                "one": g["claim light"],
                "many": g["claim heavy"],
                "extra": "",
            },
            {
                "function": "withdraw (delegator)",
                "one": g["withdraw light"],
                "many": g["withdraw heavy"],
                "extra": "",
            },
        ]


def run(
    *,
    submissions: int = 1024,
    validators: int = 128,
    delegators_per_participant: int = 2,
    many_delegators: int = 200,
    out_dir: str | Path = ".",
    log=print,
    check_steps: int | None = None,
    client_paging: bool = False,
) -> Report:
    """Deploy fresh contracts on the connected local chain, play one maximal round, measure.

    Returns the Report (also written to out_dir/gas-report.{md,json}).
    """
    g = GasRun(
        submissions=submissions,
        validators=validators,
        delegators_per_participant=delegators_per_participant,
        many_delegators=many_delegators,
        log=log,
    )
    g.deploy()
    g.fund()
    g.create_task()
    g.join_and_delegate()
    g.play_round()
    if client_paging:  # the client's own paging; no per-unit profile or step-size search
        g.finalize_client_paging()
        g.exit_everyone()
    else:
        g.profile_finalize()
        g.search_step_size()
        g.finalize()
        g.exit_everyone()
        g.check_worst_alignment(check_steps)
    g.delegator_independence()
    g.report.meta["seconds"] = round(time.time() - g.t_start)
    write(g.report, Path(out_dir))
    return g.report


def main(out_dir: str | Path = ".", log=print, check_steps: int | None = None, **sizes) -> int:
    """Run, print the table, return the process exit code: 1 if any measured transaction
    reaches 15M gas, 2 if `check_steps` (a client's finalize step size) has a page that does
    at its worst alignment."""
    report = run(out_dir=out_dir, log=log, check_steps=check_steps, **sizes)
    log("")
    log(markdown(report))
    if report.over_limit:
        log(f"FAIL: {len(report.over_limit)} transaction(s) at or above {TX_LIMIT:,} gas")
        return 1
    if check_steps:
        row = next(w for w in report.worst_alignment if w["max_steps"] == check_steps)
        if not row["ok"]:
            log(
                f"FAIL: finalize(task, {check_steps}) needs {row['max_page_gas']:,} gas in one page at "
                f"{row['submissions']} submissions x {sizes.get('validators', 32)} validators (limit {TX_LIMIT:,}); "
                f"use max_steps <= {report.safe_steps}"
            )
            return 2
    return 0
