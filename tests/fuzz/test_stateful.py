"""Stateful fuzzing of the whole Arena protocol against the reference model.

A hypothesis ``RuleBasedStateMachine`` creates tasks, joins, tops up, delegates, commits and
reveals models and scores, reveals eval shards, warps time, finalizes with random
``max_steps``, claims, withdraws, claims refunds, cancels and pauses. Every rule runs on the
contract and on the plain-Python shadow (tests/fuzz/reference.py) through
``Deployment.both``: both must accept or both must revert (with one of the reasons the model
allows), and return the same value. Invariants after every step: every tracked token balance
equals the shadow's (tokens conserved: minted = balances of all actors + arena), the arena
holds at least everything it owes, accumulators never decrease, paid <= pot in every round.
At the end of each run all tasks are driven to their end, everyone claims and withdraws,
the creators take their refunds, and what is left is dust (< 100 wei per task).
"""

from __future__ import annotations

import copy
import os

import boa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.fuzz import reference as ref
from tests.fuzz.harness import ROUND_FIELDS, Deployment

WAD = ref.WAD
N_CREATORS, N_NODES, N_VALIDATORS, N_DELEGATORS = 2, 3, 3, 2
FUNDS = 10**24
MAX_TASKS = 2
MAX_DUST_PER_TASK = 100
START_TIMESTAMP = 2_000_000_000
MODEL_HASHES = [bytes([i + 1]) * 32 for i in range(4)]  # few hashes: duplicates happen
SCORES = st.sampled_from(
    [0, 10**5, 10**6, 5 * 10**8, 5 * 10**8 + 10**6, 10**9, 2 * 10**9, ref.INVALID, ref.UNAVAILABLE]
)


_BASE: dict = {}
# runs of the machine, and those that finalized at least one round that paid someone
STATS = {"runs": 0, "paid": 0, "seeded": 0}


def paid_round_share() -> tuple[int, int]:
    """(runs with a paid-out round, runs) so far in this process."""
    return STATS["paid"], STATS["runs"]


def base():
    """One deployment with funded actors per boa environment, shared by every run (each run
    is anchored, so it starts from exactly this state)."""
    key = id(boa.env)
    if key in _BASE and not boa.env.get_code(_BASE[key][0].arena.address):
        del _BASE[key]  # deployed inside an anchor that has been reverted since
    if key not in _BASE:
        _BASE.clear()
        _BASE[key] = _make_base()
    return _BASE[key]


def _make_base():
    dep = Deployment()
    actors = {
        "creator": [dep.new_actor(f"sm-creator{i}", FUNDS) for i in range(N_CREATORS)],
        "node": [dep.new_actor(f"sm-node{i}", FUNDS) for i in range(N_NODES)],
        "validator": [dep.new_actor(f"sm-validator{i}", FUNDS) for i in range(N_VALIDATORS)],
        "delegator": [dep.new_actor(f"sm-delegator{i}", FUNDS) for i in range(N_DELEGATORS)],
    }
    return dep, actors, copy.deepcopy(dep.model)


params_strategy = st.fixed_dictionaries(
    {
        "bounty": st.one_of(st.integers(1, 1000), st.integers(10**18, 10**21)),
        "num_rounds": st.integers(1, 3),
        "start_delay": st.integers(0, 20),
        "durations": st.tuples(*[st.integers(1, 8)] * 5),
        "min_node_stake": st.sampled_from([1, 10**18]),
        "min_validator_stake": st.sampled_from([1, 10**18]),
        "gamma": st.sampled_from([0, WAD // 10, WAD // 2]),
        "delta": st.sampled_from([0, WAD // 3, WAD]),
        "rank_ratio": st.sampled_from([0, WAD // 2, WAD]),
        "rank_epsilon": st.sampled_from([1, WAD // 100, WAD // 5]),
        "tolerance": st.sampled_from([1, WAD // 10, WAD]),
        "slash_tau": st.sampled_from([0, WAD // 10, WAD]),
        "slash_miss": st.sampled_from([0, WAD // 4, WAD]),
        "slash_dev": st.sampled_from([0, WAD // 4, WAD]),
        "slash_node_miss": st.sampled_from([0, WAD // 10, WAD]),
        "min_committee": st.sampled_from([1, 1, 2, 3]),
        "baseline_score": st.sampled_from([0, 10**9]),
        "bad": st.sampled_from([None] * 9 + ["gamma", "num_rounds", "tolerance"]),
    }
)
amounts = st.one_of(st.integers(1, 10**6), st.integers(10**18, 10**21), st.just(0))


class ArenaMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dep, self.actors, model0 = base()
        assert self.dep.arena.task_count() == 0, "the shared deployment is not clean"
        # explicit snapshot (not a context manager kept open across calls): teardown reverts
        # to it, and a run that never reaches teardown cannot unbalance anyone's anchors
        self._snapshot = boa.env.evm.snapshot()
        self._clock = (boa.env.evm.patch.timestamp, boa.env.evm.patch.block_number)
        # a fixed clock: runs replay identically in any process
        boa.env.evm.patch.timestamp = START_TIMESTAMP
        self.dep.model = copy.deepcopy(model0)
        self.m = self.dep.model
        self.arena_start = self.dep.token.balanceOf(self.dep.arena.address)
        self.minted = sum(self.m.balances.values())
        self.model_plans = {}  # (task, round, node) -> model hash committed
        self.score_plans = {}  # (task, round, validator) -> (scores, salt)
        self.acc_seen = {}  # (task, participant) -> last accumulator read from the contract
        self.truth = {}  # (task, round) -> the honest validators' scores
        self.rounds_checked = set()
        self.dropout = 6  # in next_phase one participant in `dropout` skips its action

    def teardown(self):
        try:
            if not getattr(self, "_failed", False):
                self.wind_down()
                STATS["runs"] += 1
                STATS["paid"] += any(
                    rd.void_reason == ref.VOID_NONE and rd.paid > 0
                    for task in self.m.tasks.values()
                    for rd in task.rounds.values()
                )
                STATS["seeded"] += any(
                    rd.draw is not None and rd.draw["seed"] != b"\0" * 32
                    for task in self.m.tasks.values()
                    for rd in task.rounds.values()
                )
        finally:
            boa.env.evm.revert(self._snapshot)
            boa.env.evm.patch.timestamp, boa.env.evm.patch.block_number = self._clock

    # -- helpers --
    def pick(self, kind, i):
        group = self.actors[kind]
        return group[i % len(group)]

    @property
    def tids(self):
        return sorted(self.m.tasks)

    def task_of(self, i):
        return self.tids[i % len(self.tids)]

    def run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AssertionError:
            self._failed = True
            raise

    def finalize_round_checks(self, tid: int):
        task = self.m.tasks[tid]
        for r in range(task.finalized_rounds):
            if (tid, r) in self.rounds_checked:
                continue
            rd = task.round(r)
            info = dict(zip(ROUND_FIELDS, self.dep.arena.round_info(tid, r), strict=True))
            pot, paid = info["pot"], info["paid"]
            assert paid <= pot, f"task {tid} round {r}: paid {paid} > pot {pot}"
            assert rd.paid <= rd.pot
            self.dep.check_round(tid, r)  # every pot, consensus, reward, slash vs the model
            self.rounds_checked.add((tid, r))
        for addr, pt in task.participants.items():
            acc = self.dep.arena.participant(tid, addr)[7]
            assert acc == pt.acc, f"acc of {addr}: contract {acc}, model {pt.acc}"
            assert acc >= self.acc_seen.get((tid, addr), 0), "accumulator decreased"
            self.acc_seen[(tid, addr)] = acc

    def check_clock(self, tid: int):
        """current_round / current_phase / round_start / phase_end against PROTOCOL.md §3."""
        task, a, now = self.m.tasks[tid], self.dep.arena, self.dep.now()
        assert a.current_round(tid) == self.m.time_round(task, now), "current_round"
        assert a.current_phase(tid) == self.m.phase(task, now), "current_phase"
        p = task.params
        r = min(max(self.m.time_round(task, now), 0), p.num_rounds - 1)
        s = self.m.round_start(task, r)
        assert a.round_start(tid, r) == s, "round_start"
        ends = [
            p.commit_duration,
            p.eval_duration,
            p.reveal_duration,
            p.score_commit_duration,
            p.score_reveal_duration,
        ]
        for phase in range(1, 6):
            assert a.phase_end(tid, r, phase) == s + sum(ends[:phase]), f"phase_end({r}, {phase})"

    # -- rules --
    @initialize(p=params_strategy, delay=st.integers(5, 30), data=st.data())
    def first_task(self, p, delay, data):
        """A task starting in the future, joined by most actors before it starts; usually
        its first round is then played through its five phases (with random dropouts), so
        that most runs finalize a round that pays out instead of only void ones."""
        self.create_task(0, {**p, "start_delay": delay, "bad": None})
        tid = self.tids[0]
        params = self.m.tasks[tid].params
        for kind, role, minimum in (
            ("node", ref.NODE, params.min_node_stake),
            ("validator", ref.VALIDATOR, params.min_validator_stake),
        ):
            for who in self.actors[kind]:
                if data.draw(st.sampled_from([True] * 4 + [False]), label="joins"):
                    amount = minimum + data.draw(st.integers(0, 10**21), label="stake")
                    commission = data.draw(
                        st.sampled_from([0, WAD // 10, WAD // 2, WAD]), label="commission"
                    )
                    self.run(self.dep.join, who, tid, role, amount, commission)
        targets = list(self.m.tasks[tid].participants)
        for d in self.actors["delegator"]:
            if targets and data.draw(st.booleans(), label="delegates"):
                target = data.draw(st.sampled_from(targets), label="target")
                self.run(
                    self.dep.delegate, d, tid, target, data.draw(amounts, label="delegation") or 1
                )
        if data.draw(st.sampled_from([True] * 9 + [False]), label="play round 0"):
            self.dropout = 20  # one participant in 20 drops out of each step
            for _ in range(5):  # COMMIT, EVAL, REVEAL, SCORE_COMMIT, SCORE_REVEAL
                self.next_phase(0, data)
            self.dropout = 6

    @precondition(lambda self: len(self.m.tasks) < MAX_TASKS)
    @rule(who=st.integers(0, N_CREATORS - 1), p=params_strategy)
    def create_task(self, who, p):
        creator = self.pick("creator", who)
        now = self.dep.now()
        cd, ed, rd, scd, srd = p["durations"]
        params = ref.Params(
            bounty=p["bounty"],
            spec_hash=b"\x11" * 32,
            spec_uri="file://spec",
            eval_root=b"\x00" * 32,
            num_rounds=p["num_rounds"],
            start_time=0 if p["start_delay"] == 0 else now + p["start_delay"],
            commit_duration=cd,
            eval_duration=ed,
            reveal_duration=rd,
            score_commit_duration=scd,
            score_reveal_duration=srd,
            min_node_stake=p["min_node_stake"],
            min_validator_stake=p["min_validator_stake"],
            gamma=p["gamma"],
            delta=p["delta"],
            rank_ratio=p["rank_ratio"],
            rank_epsilon=p["rank_epsilon"],
            tolerance=p["tolerance"],
            slash_tau=p["slash_tau"],
            slash_miss=p["slash_miss"],
            slash_dev=p["slash_dev"],
            slash_node_miss=p["slash_node_miss"],
            min_committee=p["min_committee"],
            baseline_score=p["baseline_score"],
        )
        tid_next = len(self.m.tasks) + 1
        shards = [bytes([0x40 + tid_next, r]) * 16 for r in range(params.num_rounds)]
        params.eval_root, proofs = ref.merkle_root_and_proofs(
            [ref.eval_leaf(r, s) for r, s in enumerate(shards)]
        )
        if p["bad"] == "gamma":
            params.gamma = WAD // 2 + 1
        elif p["bad"] == "num_rounds":
            params.num_rounds = ref.MAX_ROUNDS + 1
        elif p["bad"] == "tolerance":
            params.tolerance = 0
        ok, tid = self.run(self.dep.create_task, creator, params)
        if ok:
            self.m.tasks[tid].shards = shards
            self.m.tasks[tid].proofs = proofs

    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        kind=st.sampled_from(["node", "validator"]),
        i=st.integers(0, 2),
        amount=amounts,
        commission=st.sampled_from([0, WAD // 10, WAD, WAD + 1]),
        role_swap=st.booleans(),
    )
    def join(self, t, kind, i, amount, commission, role_swap):
        tid = self.task_of(t)
        who = self.pick(kind, i)
        role = ref.NODE if kind == "node" else ref.VALIDATOR
        pt = self.m.tasks[tid].participants.get(who)
        if pt is not None and commission != WAD + 1:
            commission = pt.commission  # a top-up (commission is fixed)
        if role_swap and amount % 7 == 0:
            role = ref.VALIDATOR + ref.NODE - role
        self.run(self.dep.join, who, tid, role, amount, commission)

    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        d=st.integers(0, 4),
        target_kind=st.sampled_from(["node", "validator"]),
        i=st.integers(0, 2),
        amount=amounts,
    )
    def delegate(self, t, d, target_kind, i, amount):
        tid = self.task_of(t)
        # delegators, but also a node backing someone else and a creator backing a participant
        delegator = (
            self.pick("delegator", d)
            if d < N_DELEGATORS
            else self.pick("node" if d < 4 else "creator", d)
        )
        self.run(self.dep.delegate, delegator, tid, self.pick(target_kind, i), amount)

    # single actions, at any time (often in the wrong phase: both sides must refuse alike)
    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        action=st.sampled_from(
            ["commit_model", "reveal_model", "reveal_eval", "commit_scores", "reveal_scores"]
        ),
        i=st.integers(0, 2),
        data=st.data(),
    )
    def stray_action(self, t, action, i, data):
        if action == "commit_model":
            h = data.draw(st.integers(0, len(MODEL_HASHES) - 1), label="hash")
            self.commit_model(t, i, h, data.draw(st.booleans(), label="garbage"))
        elif action == "reveal_eval":
            self.reveal_eval(t, data.draw(st.booleans(), label="bad proof"))
        elif action == "commit_scores":
            self.commit_scores(t, i, data)
        else:
            getattr(self, action)(t, i)

    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        rnd=st.integers(-1, 1),
        blocks=st.sampled_from([0, 1, 2, 2, 5, 300]),
        who=st.integers(0, 2),
        again=st.booleans(),
    )
    def draw(self, t, rnd, blocks, who, again):
        """Anyone draws a round's committees (§5a), after `blocks` more blocks: the first
        unfinalized round (rnd 0), the one before (-1) or after it (1); `again`: two blocks
        later once more (fixes the seed after a first draw)."""
        tid = self.task_of(t)
        boa.env.evm.patch.block_number += blocks
        r = max(self.m.tasks[tid].finalized_rounds + rnd, 0)
        self.run(self.dep.draw, self.pick("validator", who), tid, r)
        if again:
            boa.env.evm.patch.block_number += 2
            self.run(self.dep.draw, self.pick("validator", who + 1), tid, r)

    # owner and creator actions
    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        action=st.sampled_from(["claim_refund", "cancel_task", "pause", "unpause"]),
        who=st.integers(0, N_CREATORS),
    )
    def admin(self, t, action, who):
        if action == "claim_refund":
            self.claim_refund(t, who)
        elif action == "cancel_task":
            self.cancel_task(t, who)
        else:
            self.pause(who != N_CREATORS - 1, action == "pause")

    def commit_model(self, t, i, h, garbage):
        self._commit_model(self.task_of(t), self.pick("node", i), h, garbage)

    def _commit_model(self, tid, node, h, garbage=False):
        task = self.m.tasks[tid]
        r = max(self.m.time_round(task, self.dep.now()), 0)
        c = (
            ref.model_commitment(MODEL_HASHES[h], node, tid, r)
            if not garbage
            else bytes([h + 1]) * 32
        )
        ok, _ = self.run(self.dep.commit_model, node, tid, c)
        if ok:
            self.model_plans[(tid, r, node)] = MODEL_HASHES[h]

    def reveal_model(self, t, i):
        self._reveal_model(self.task_of(t), self.pick("node", i))

    def _reveal_model(self, tid, node):
        r = max(self.m.time_round(self.m.tasks[tid], self.dep.now()), 0)
        h = self.model_plans.get((tid, r, node), MODEL_HASHES[0])
        self.run(self.dep.reveal_model, node, tid, h, "file://model")

    def reveal_eval(self, t, bad):
        self._reveal_eval(self.task_of(t), bad)

    def _reveal_eval(self, tid, bad=False):
        task = self.m.tasks[tid]
        r = self.m.time_round(task, self.dep.now())
        rr = min(max(r, 0), task.params.num_rounds - 1)
        shard = task.shards[rr] if not bad else b"\x99" * 32
        self.run(self.dep.reveal_eval, task.creator, tid, rr, shard, task.proofs[rr])

    def commit_scores(self, t, i, data):
        self._commit_scores(self.task_of(t), self.pick("validator", i), data)

    def _seed_for_commit(self, tid, r, v):
        """Draw round r if nobody did and move blocks on until its seed is readable, as a
        validator's client does (§5a); the seed a commit now would fix, or None."""
        task = self.m.tasks[tid]
        if (
            task.finalized_rounds != r
            or self.m.phase(task, self.dep.now()) != ref.PHASE_SCORE_COMMIT
        ):
            return None
        rd = task.round(r)
        for _ in range(2):
            block = boa.env.evm.patch.block_number
            seed = self.m._readable_seed(tid, r, rd, block, self.dep.block_hash)
            if seed is not None:
                return seed
            if rd.draw is None or block - rd.draw["target_block"] > ref.SEED_WINDOW:
                self.run(self.dep.draw, v, tid, r)
            boa.env.evm.patch.block_number += 2
        return self.m._readable_seed(
            tid, r, rd, boa.env.evm.patch.block_number, self.dep.block_hash
        )

    def _commit_scores(self, tid, v, data):
        task = self.m.tasks[tid]
        r = max(self.m.time_round(task, self.dep.now()), 0)
        n = len(task.rounds[r].subs) if r in task.rounds else 0
        if (tid, r) not in self.truth:
            self.truth[(tid, r)] = data.draw(
                st.lists(SCORES, min_size=n, max_size=n), label="truth"
            )
        truth = self.truth[(tid, r)]
        seed = self._seed_for_commit(tid, r, v)
        mine = []
        if (
            seed is not None
            and v in task.participants
            and task.participants[v].role == ref.VALIDATOR
        ):
            bits = self.m.assignment_with(task, r, v, seed)
            mine = [k for k in range(n) if bits >> k & 1]
        kind = data.draw(
            st.sampled_from(["honest"] * 6 + ["random"] * 3 + ["wrong_length"]), label="kind"
        )
        if kind == "honest" and len(truth) == n:
            scores = [truth[k] for k in mine]
        else:
            m = len(mine) + (kind == "wrong_length")
            scores = data.draw(st.lists(SCORES, min_size=m, max_size=m), label="scores")
        salt = data.draw(st.binary(min_size=32, max_size=32), label="salt")
        ok, _ = self.run(
            self.dep.commit_scores, v, tid, ref.score_commitment(tid, r, v, scores, salt)
        )
        if ok:
            self.score_plans[(tid, r, v)] = (scores, salt)

    def reveal_scores(self, t, i):
        self._reveal_scores(self.task_of(t), self.pick("validator", i))

    def _reveal_scores(self, tid, v):
        r = max(self.m.time_round(self.m.tasks[tid], self.dep.now()), 0)
        scores, salt = self.score_plans.get((tid, r, v), ([], b"\x00" * 32))
        self.run(self.dep.reveal_scores, v, tid, scores, salt)

    # one phase of a round: warp to the next phase start of the task, then act like the
    # participants would (with random dropouts), so that whole rounds actually get played
    @precondition(lambda self: self.m.tasks)
    @rule(t=st.integers(0, 1), data=st.data())
    def next_phase(self, t, data):
        tid = self.task_of(t)
        task, m, dep = self.m.tasks[tid], self.m, self.dep
        now = dep.now()
        p, L = task.params, task.round_length
        bounds = [
            0,
            p.commit_duration,
            p.commit_duration + p.eval_duration,
            p.commit_duration + p.eval_duration + p.reveal_duration,
            L - p.score_reveal_duration,
            L,
        ]
        r = m.time_round(task, now)
        if r < 0:
            dep.warp_to(p.start_time)
        elif r < p.num_rounds:
            off = (now - p.start_time) % L
            dep.warp_to(p.start_time + r * L + min(b for b in bounds if b > off))
        phase = m.phase(task, dep.now())
        self.run(self.check_clock, tid)
        act = st.sampled_from([True] * (self.dropout - 1) + [False])
        if phase == ref.PHASE_COMMIT:
            for node in self.actors["node"]:
                if data.draw(act, label="commit"):
                    self._commit_model(
                        tid, node, data.draw(st.integers(0, len(MODEL_HASHES) - 1), label="hash")
                    )
        elif phase == ref.PHASE_EVAL:
            if data.draw(act, label="eval"):
                self._reveal_eval(tid)
        elif phase == ref.PHASE_REVEAL:
            for node in data.draw(st.permutations(self.actors["node"]), label="order"):
                if data.draw(act, label="reveal"):
                    self._reveal_model(tid, node)
        elif phase == ref.PHASE_SCORE_COMMIT:
            for v in self.actors["validator"]:
                if data.draw(act, label="score"):
                    self._commit_scores(tid, v, data)
        elif phase == ref.PHASE_SCORE_REVEAL:
            for v in self.actors["validator"]:
                if data.draw(act, label="reveal scores"):
                    self._reveal_scores(tid, v)

    @precondition(lambda self: self.m.tasks)
    @rule(t=st.integers(0, 1), phases=st.integers(2, 6), data=st.data())
    def play_phases(self, t, phases, data):
        """Several phases in a row: usually a whole round (commit, eval, reveal, scores)."""
        for _ in range(phases):
            self.next_phase(t, data)

    @rule(seconds=st.one_of(st.integers(1, 12), st.integers(13, 40)))
    def warp(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @precondition(lambda self: self.m.tasks)
    @rule(t=st.integers(0, 1), steps=st.one_of(st.integers(0, 4), st.just(ref.MAX_FINALIZE_STEPS)))
    def finalize(self, t, steps):
        tid = self.task_of(t)
        self.run(self.dep.finalize, self.pick("delegator", 0), tid, steps)
        self.run(self.finalize_round_checks, tid)

    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        kind=st.sampled_from(["node", "validator", "delegator"]),
        i=st.integers(0, 2),
        pk=st.sampled_from(["node", "validator"]),
        j=st.integers(0, 2),
    )
    def claim(self, t, kind, i, pk, j):
        tid = self.task_of(t)
        who = self.pick(kind, i)
        participant = who if kind != "delegator" and pk == kind else self.pick(pk, j)
        self.run(self.dep.claim, who, tid, participant)

    @precondition(lambda self: self.m.tasks)
    @rule(
        t=st.integers(0, 1),
        kind=st.sampled_from(["node", "validator", "delegator"]),
        i=st.integers(0, 2),
        pk=st.sampled_from(["node", "validator"]),
        j=st.integers(0, 2),
    )
    def withdraw(self, t, kind, i, pk, j):
        tid = self.task_of(t)
        who = self.pick(kind, i)
        participant = who if kind != "delegator" and pk == kind else self.pick(pk, j)
        self.run(self.dep.withdraw, who, tid, participant)

    def claim_refund(self, t, who):
        tid = self.task_of(t)
        sender = self.m.tasks[tid].creator if who == N_CREATORS else self.pick("creator", who)
        self.run(self.dep.claim_refund, sender, tid)

    def cancel_task(self, t, who):
        tid = self.task_of(t)
        sender = self.m.tasks[tid].creator if who == N_CREATORS else self.pick("creator", who)
        self.run(
            self.dep.both,
            "cancel_task",
            sender,
            lambda: self.m.cancel_task(sender, tid),
            lambda: self.dep.arena.cancel_task(tid),
        )

    def pause(self, by_owner, on):
        sender = self.dep.owner if by_owner else self.pick("delegator", 1)
        self.run(self.dep.pause if on else self.dep.unpause, sender)

    # -- invariants --
    @invariant()
    def tokens_conserved_and_solvent(self):
        self.run(self._tokens_conserved_and_solvent)

    def _tokens_conserved_and_solvent(self):
        dep, m = self.dep, self.m
        arena_bal = dep.token.balanceOf(dep.arena.address)
        assert arena_bal == m.balances.get(dep.arena.address, 0), (
            "arena balance differs from the model"
        )
        assert sum(m.balances.values()) == self.minted, "tokens not conserved"
        owed = sum(m.owed(tid) for tid in m.tasks)
        assert arena_bal - self.arena_start >= owed, (
            f"INSOLVENT: arena holds {arena_bal - self.arena_start}, owes {owed} (FINDINGS.md F2)"
        )

    @invariant()
    def committee_weight_is_the_validators_stake(self):
        self.run(self._committee_weight_is_the_validators_stake)

    def _committee_weight_is_the_validators_stake(self):
        """W that `draw` would freeze (a running sum, PROTOCOL.md §5a) equals the sum of the
        validators' effective stake in the first unfinalized round, through joins,
        delegations, bucket merges, slashes and delegators leaving."""
        a = self.dep.arena
        for tid, task in self.m.tasks.items():
            if task.status != ref.STATUS_ACTIVE:
                continue
            f = task.finalized_rounds
            want = sum(
                a.effective_stake(tid, addr, f)
                for addr, pt in task.participants.items()
                if pt.role == ref.VALIDATOR
            )
            assert a.validator_weight(tid) == want, f"task {tid}: W drifted from the stakes"

    # -- the end --
    def wind_down(self):
        dep, m = self.dep, self.m
        if m.paused:
            dep.unpause(dep.owner)
        if not m.tasks:
            return
        end = max(m.round_start(t, t.params.num_rounds) for t in m.tasks.values())
        dep.warp_to(end)
        for tid in self.tids:
            task = m.tasks[tid]
            while task.status == ref.STATUS_ACTIVE:
                ok, _ = dep.finalize(dep.owner, tid, ref.MAX_FINALIZE_STEPS)
                assert ok, "finalize must succeed once the clock is past every round"
            self.finalize_round_checks(tid)
            dep.check_task(tid)
            if task.status == ref.STATUS_ENDED and not task.refund_claimed:
                assert dep.claim_refund(task.creator, tid)[0] or task.refund == 0
            for addr in list(task.participants):
                if m.claimable(tid, addr, addr):
                    assert dep.claim(addr, tid, addr)[0]
                if m.withdrawable(tid, addr, addr):
                    assert dep.withdraw(addr, tid, addr)[0]
            for p, d in list(task.positions):
                if m.claimable(tid, p, d):
                    assert dep.claim(d, tid, p)[0]
                if m.withdrawable(tid, p, d):
                    assert dep.withdraw(d, tid, p)[0]
            dep.check_task(tid)
            assert m.owed(tid) == 0, (
                f"task {tid}: the model still owes {m.owed(tid)} after all exits"
            )
        dep.check_balances()
        dust = dep.token.balanceOf(dep.arena.address) - self.arena_start
        assert 0 <= dust < MAX_DUST_PER_TASK * len(m.tasks), (
            f"{dust} wei left for {len(m.tasks)} tasks"
        )


# make test: 200 runs x 20 steps; make fuzz-long: snekmate's depth, 375 x 500 (FUZZ_EXAMPLES,
# FUZZ_STEPS), about 20 minutes on 2 cores.
ArenaMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    stateful_step_count=int(os.environ.get("FUZZ_STEPS", "20")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
TestArenaStateful = ArenaMachine.TestCase


def test_most_runs_finalize_a_paid_round():
    """The machine is steered to play whole rounds: at least two in five of its runs (above,
    same process) must finalize a round that paid out, or it mostly tests void rounds.

    The share is random (hypothesis draws new runs each session): 200-run sessions gave 69%,
    61%, 56%, 66% and 49% (mean 60%; their spread is wider than a binomial's 3.5 points), so
    the bound of 40% sits 20 points below the mean and 9 below the lowest session seen,
    where a failure means the steering broke rather than an unlucky draw (half, the bound
    before, failed on the 49% session)."""
    paid, runs = paid_round_share()
    if runs < 50:
        import pytest

        pytest.skip(f"{runs} runs of the stateful machine in this process: too few to judge")
    line = f"stateful machine: {paid}/{runs} runs finalized a paid-out round ({paid / runs:.0%})"
    assert 5 * paid >= 2 * runs, line  # the share is printed at the end of the session (conftest)


def test_some_runs_fix_a_committee_seed():
    """The `draw` rule must reach a fixed seed in some runs (a draw, blocks, a second draw
    in the same round), or the model's seed and the withdraw block after a draw go
    untested. Asserted loosely: at least one run in twenty."""
    seeded, runs = STATS["seeded"], STATS["runs"]
    if runs < 50:
        import pytest

        pytest.skip(f"{runs} runs of the stateful machine in this process: too few to judge")
    assert 20 * seeded >= runs, f"{seeded}/{runs} runs fixed a committee seed"
