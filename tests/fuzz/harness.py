"""Shared titanoboa helpers for the reference-model and stateful tests.

``Deployment`` deploys ArenaToken + Arena (emission off) next to an :class:`ArenaModel` and
runs every entry point on both sides through :meth:`Deployment.both`: the contract must revert
exactly when the model says so (with one of the model's reasons) and return the same value.
``check_task`` compares every observable of a task (task state, participants, positions,
rounds, submissions, validator rounds, claimable/withdrawable, token balances) to the model.
"""

from __future__ import annotations

import functools
from pathlib import Path

import boa
from boa.contracts.base_evm_contract import BoaError
from boa.contracts.event_decoder import RawLogEntry, decode_log
from vyper.compiler.output import build_abi_output

from tests.fuzz import reference as ref
from tests.fuzz.conftest import partials
from tests.fuzz.reference import ArenaModel, Revert

ROOT = Path(__file__).resolve().parents[2]
ZERO_ADDRESS = "0x" + "00" * 20
TOKEN_CAP = 2**120
EIP170_LIMIT = 24_576

PARTICIPANT_FIELDS = (
    "role",
    "commission",
    "own_active",
    "own_pending",
    "del_shares",
    "del_pending",
    "pending_round",
    "acc",
    "del_index",
    "owner_earned",
    "owner_claimed",
    "slashed",
    "del_burned",
    "slash_round",
    "validator_index",
)
ROUND_FIELDS = (
    "eval_revealed",
    "shard_sha256",
    "shard_uri",
    "num_submissions",
    "commit_count",
    "committer_count",
    "validator_commit_count",
    "validator_reveal_count",
    "stage",
    "cursor",
    "void_reason",
    "pot",
    "emission_amount",
    "nodes_pot",
    "validators_pot",
    "node_stake",
    "validator_stake",
    "sum_g_stake",
    "sum_f_stake",
    "paid",
    "slashed",
    "available",
    "eligible",
    "keeper_tips",
)


def deployers():
    """Arena, ArenaEngine and ArenaToken, compiled once per process (conftest.partials)."""
    p = partials()
    return p["Arena"], p["ArenaEngine"], p["ArenaToken"]


def event_names(deployer) -> set[str]:
    return {
        item["name"] for item in build_abi_output(deployer.compiler_data) if item["type"] == "event"
    }


def runtime_sizes() -> dict[str, int]:
    p = partials()
    return {
        name: len(p[name].compiler_data.bytecode_runtime)
        for name in ("Arena", "ArenaEngine", "ArenaRounds")
    }


def revert_reason(err: BoaError) -> str:
    frame = err.stack_trace.last_frame
    if isinstance(frame, str):
        return frame
    return frame.pretty_vm_reason or str(frame.error_detail)


def as_bytes(b) -> bytes:
    return bytes(b) if not isinstance(b, str) else bytes.fromhex(b.removeprefix("0x"))


@functools.cache
def _short_repr_class(cls):
    return type(
        cls.__name__, (cls,), {"__repr__": lambda self: f"<{cls.__name__} at {self.address}>"}
    )


_BLOCKS = """
@external
@view
def block_hash(n: uint256) -> bytes32:
    return blockhash(n)
"""


class Mismatch(AssertionError):
    pass


class Deployment:
    """Arena + token on titanoboa with a reference model kept in lock step."""

    def __init__(self):
        arena_d, engine_d, token_d = deployers()
        self.owner = boa.env.generate_address("arena-owner")
        with boa.env.prank(self.owner):
            self.token = token_d.deploy(TOKEN_CAP, 0)
            self.engine = engine_d.deploy()
            self.rounds = partials()["ArenaRounds"].deploy()
            self.arena = arena_d.deploy(
                self.token.address, ZERO_ADDRESS, self.engine.address, self.rounds.address
            )
        # boa renders the whole storage of a contract into every revert's stack trace, which
        # costs ~1 s per revert here; give these two instances a short repr instead.
        for c in (self.token, self.arena, self.engine, self.rounds):
            c.__class__ = _short_repr_class(type(c))
        self.model = ArenaModel(self.owner, self.arena.address)
        self.actors: set[str] = set()
        self._blocks = boa.loads(_BLOCKS)  # reads block hashes for the model's draw seeds

    # -- accounts --
    def new_actor(self, name: str, funds: int) -> str:
        addr = boa.env.generate_address(name)
        with boa.env.prank(self.owner):
            self.token.mint(addr, funds)
        with boa.env.prank(addr):
            self.token.approve(self.arena.address, 2**256 - 1)
        self.model.fund(addr, funds)
        self.actors.add(addr)
        return addr

    # -- time --
    @staticmethod
    def now() -> int:
        return boa.env.timestamp

    @staticmethod
    def warp_to(ts: int):
        now = boa.env.timestamp
        if ts > now:
            boa.env.time_travel(seconds=ts - now)

    # -- lock-step execution --
    def both(self, label: str, sender: str, model_call, contract_call, compare_result=True):
        """Run ``model_call()`` and ``contract_call()`` (as ``sender``); they must agree.

        Returns ``(ok, result)``: ``ok`` False when both reverted."""
        try:
            expected = model_call()
            m_err = None
        except Revert as exc:
            m_err = exc.reasons
        try:
            with boa.env.prank(sender):
                got = contract_call()
            c_err = None
        except BoaError as exc:
            c_err = revert_reason(exc)
        if m_err is None and c_err is not None:
            raise Mismatch(f"{label}: contract reverted ({c_err!r}) but the model accepts it")
        if m_err is not None and c_err is None:
            raise Mismatch(f"{label}: model expects revert {m_err} but the contract accepted it")
        if m_err is not None:
            if c_err not in m_err:
                raise Mismatch(f"{label}: revert reason {c_err!r} not among {m_err}")
            return False, None
        if compare_result and expected is not None and got != expected:
            raise Mismatch(f"{label}: returned {got!r}, model {expected!r}")
        return True, got

    # -- entry points --
    def create_task(self, sender: str, params: ref.Params):
        now = self.now()
        return self.both(
            "create_task",
            sender,
            lambda: self.model.create_task(sender, params, now),
            lambda: self.arena.create_task(params.as_tuple()),
        )

    def join(self, sender, tid, role, amount, commission):
        now = self.now()
        return self.both(
            f"join({role},{amount})",
            sender,
            lambda: self.model.join(sender, tid, role, amount, commission, now),
            lambda: self.arena.join(tid, role, amount, commission),
        )

    def delegate(self, sender, tid, participant, amount):
        now = self.now()
        return self.both(
            f"delegate({amount})",
            sender,
            lambda: self.model.delegate(sender, tid, participant, amount, now),
            lambda: self.arena.delegate(tid, participant, amount),
        )

    def commit_model(self, sender, tid, c: bytes):
        now = self.now()
        return self.both(
            "commit_model",
            sender,
            lambda: self.model.commit_model(sender, tid, c, now),
            lambda: self.arena.commit_model(tid, c),
        )

    def reveal_model(self, sender, tid, model: bytes, uri: str):
        now = self.now()
        return self.both(
            "reveal_model",
            sender,
            lambda: self.model.reveal_model(sender, tid, model, uri, now),
            lambda: self.arena.reveal_model(tid, model, uri),
            compare_result=False,
        )

    def reveal_eval(self, sender, tid, rnd, shard: bytes, proof):
        now = self.now()
        return self.both(
            "reveal_eval",
            sender,
            lambda: self.model.reveal_eval(sender, tid, rnd, shard, proof, now),
            lambda: self.arena.reveal_eval(tid, rnd, shard, "file://shard", list(proof)),
        )

    def commit_scores(self, sender, tid, c: bytes):
        now, block = self.now(), boa.env.evm.patch.block_number
        return self.both(
            "commit_scores",
            sender,
            lambda: self.model.commit_scores(sender, tid, c, now, block, self.block_hash),
            lambda: self.arena.commit_scores(tid, c),
        )

    def reveal_scores(self, sender, tid, scores, salt: bytes):
        now = self.now()
        return self.both(
            "reveal_scores",
            sender,
            lambda: self.model.reveal_scores(sender, tid, scores, salt, now),
            lambda: self.arena.reveal_scores(tid, list(scores), salt),
        )

    def finalize(self, sender, tid, max_steps, order=None):
        """finalize on both; `order` defaults to the model's sorted eligible slots."""
        now = self.now()
        if order is None:
            order = self.model.rank_order(tid) if tid in self.model.tasks else []
        return self.both(
            f"finalize(max_steps={max_steps}, order={order})",
            sender,
            lambda: self.model.finalize(sender, tid, max_steps, now, order),
            lambda: self.arena.finalize(tid, max_steps, list(order)),
        )

    def claim(self, sender, tid, participant):
        return self.both(
            "claim",
            sender,
            lambda: self.model.claim(sender, tid, participant),
            lambda: self.arena.claim(tid, participant),
        )

    def withdraw(self, sender, tid, participant):
        return self.both(
            "withdraw",
            sender,
            lambda: self.model.withdraw(sender, tid, participant),
            lambda: self.arena.withdraw(tid, participant),
        )

    def claim_refund(self, sender, tid):
        return self.both(
            "claim_refund",
            sender,
            lambda: self.model.claim_refund(sender, tid),
            lambda: self.arena.claim_refund(tid),
        )

    def draw(self, sender, tid, rnd):
        """draw on both (§5a); the model reads block hashes off the same chain."""
        now, block = self.now(), boa.env.evm.patch.block_number
        ok, got = self.both(
            f"draw({rnd})",
            sender,
            lambda: self.model.draw(sender, tid, rnd, now, block, self.block_hash),
            lambda: self.arena.draw(tid, rnd),
        )
        if ok:
            self.check_committee(tid, rnd)
        return ok, got

    def prepare_committees(self, sender, tid, rnd):
        """What a validator's client does before it commits, unless the seed is readable
        already: draw the round (if nobody did, or its target block's hash is gone) and let
        two blocks pass, so that the seed is readable (§5a)."""
        rd = self.model.tasks[tid].round(rnd)
        block = boa.env.evm.patch.block_number
        if self.model._readable_seed(tid, rnd, rd, block, self.block_hash) is not None:
            return
        if rd.draw is None or block - rd.draw["target_block"] > ref.SEED_WINDOW:
            self.draw(sender, tid, rnd)
        boa.env.evm.patch.block_number += 2

    def slots_for(self, tid, rnd, v) -> list[int]:
        """The slots validator v would commit scores for now (its committees by the seed a
        commit now reads or fixes); [] without a readable seed."""
        task = self.model.tasks[tid]
        rd = task.round(rnd)
        seed = self.model._readable_seed(
            tid, rnd, rd, boa.env.evm.patch.block_number, self.block_hash
        )
        pt = task.participants.get(v)
        if seed is None or pt is None or pt.role != ref.VALIDATOR:
            return []
        bits = self.model.assignment_with(task, rnd, v, seed)
        return [k for k in range(len(rd.subs)) if bits >> k & 1]

    def block_hash(self, n: int) -> bytes:
        return bytes(self._blocks.block_hash(n))

    def check_committee(self, tid: int, rnd: int):
        """The stored draw equals the model's (the seed once the model fixed it)."""
        d = self.model.tasks[tid].round(rnd).draw
        got = self.arena.committee(tid, rnd)
        names = ("target_block", "seed", "weight", "committee_size", "submissions", "digest")
        for i, name in enumerate(names):
            want = d[name]
            have = bytes(got[i]) if isinstance(want, bytes) else got[i]
            if name == "seed" and want == b"\0" * 32:
                continue  # the view computes a readable seed the model has not fixed yet
            if have != want:
                raise Mismatch(
                    f"task {tid} round {rnd} committee {name}: contract {have!r}, model {want!r}"
                )

    def pause(self, sender):
        return self.both("pause", sender, lambda: self.model.pause(sender), self.arena.pause)

    def unpause(self, sender):
        return self.both("unpause", sender, lambda: self.model.unpause(sender), self.arena.unpause)

    # -- comparisons --
    def check_balances(self, accounts=None):
        accounts = self.actors if accounts is None else accounts
        for addr in sorted(set(accounts) | {self.arena.address}):
            got = self.token.balanceOf(addr)
            want = self.model.balances.get(addr, 0)
            if got != want:
                raise Mismatch(f"token balance of {addr}: contract {got}, model {want}")

    def check_task(self, tid: int, rounds=None):
        """Compare every observable of task ``tid`` with the model."""
        a, m = self.arena, self.model
        task = m.tasks[tid]

        def eq(what, got, want):
            if got != want:
                raise Mismatch(f"task {tid} {what}: contract {got!r}, model {want!r}")

        st = a.task_state(tid)
        eq("creator", st[0], task.creator)
        eq("status", st[1], task.status)
        eq("finalized_rounds", st[2], task.finalized_rounds)
        eq("carry", st[3], task.carry)
        eq("refund", st[4], task.refund)
        eq("refund_claimed", st[5], task.refund_claimed)
        eq("participant_count", st[6], len(task.participants))
        eq("validator_count", st[7], len(task.validators))
        if task.status == ref.STATUS_ACTIVE:
            eq("total_own_stake", st[8], task.total_own_stake)
        eq("round_length", st[9], task.round_length)
        eq("burned", st[10], task.burned)
        eq("emission_carry", st[11], 0)  # emission off in these deployments
        eq("validators()", list(a.validators(tid, 0, 1024)), task.validators)
        fr = task.finalized_rounds
        for addr, pt in task.participants.items():
            info = dict(zip(PARTICIPANT_FIELDS, a.participant(tid, addr), strict=True))
            who = f"participant {addr}"
            eq(f"{who} role", info["role"], pt.role)
            eq(f"{who} commission", info["commission"], pt.commission)
            eq(
                f"{who} own total",
                info["own_active"] + info["own_pending"],
                pt.own_active + pt.own_pending,
            )
            eq(
                f"{who} delegated value + pending",
                info["del_shares"] * info["del_index"] // ref.ACC + info["del_pending"],
                pt.del_value + pt.del_pending,
            )
            eq(f"{who} del_index", info["del_index"], pt.del_index)
            eq(f"{who} del_burned", info["del_burned"], pt.del_burned)
            eq(f"{who} slash_round", info["slash_round"], pt.slash_round)
            eq(f"{who} acc", info["acc"], pt.acc)
            eq(f"{who} owner_earned", info["owner_earned"], pt.owner_earned)
            eq(f"{who} owner_claimed", info["owner_claimed"], pt.owner_claimed)
            eq(f"{who} slashed", info["slashed"], pt.slashed)
            if pt.role == ref.VALIDATOR:
                eq(f"{who} validator_index", info["validator_index"], pt.validator_index)
            if task.status == ref.STATUS_ACTIVE:
                for r in (fr, fr + 1):
                    if r < task.params.num_rounds:
                        eq(f"{who} own_stake({r})", a.own_stake(tid, addr, r), m.own(pt, r))
                        eq(
                            f"{who} delegated_stake({r})",
                            a.delegated_stake(tid, addr, r),
                            m.dele(pt, r),
                        )
            eq(f"{who} claimable", a.claimable(tid, addr, addr), m.claimable(tid, addr, addr))
            eq(
                f"{who} withdrawable",
                a.withdrawable(tid, addr, addr),
                m.withdrawable(tid, addr, addr),
            )
        for (p, d), pos in task.positions.items():
            who = f"position {p}<-{d}"
            info = a.delegation(tid, p, d)
            eq(f"{who} claimed", info[5], pos.claimed)
            eq(f"{who} claimable", a.claimable(tid, p, d), m.claimable(tid, p, d))
            eq(f"{who} withdrawable", a.withdrawable(tid, p, d), m.withdrawable(tid, p, d))
        for r in range(fr) if rounds is None else rounds:
            self.check_round(tid, r)

    def check_round(self, tid: int, r: int):
        a, m = self.arena, self.model
        task = m.tasks[tid]
        rd = task.round(r)

        def eq(what, got, want):
            if got != want:
                raise Mismatch(f"task {tid} round {r} {what}: contract {got!r}, model {want!r}")

        info = dict(zip(ROUND_FIELDS, a.round_info(tid, r), strict=True))
        eq("eval_revealed", info["eval_revealed"], rd.eval_revealed)
        eq("num_submissions", info["num_submissions"], len(rd.subs))
        eq("commit_count", info["commit_count"], rd.commit_count)
        eq("committer_count", info["committer_count"], len(rd.committers))
        for i, node in enumerate(rd.committers):
            eq(f"committer {i}", a.committer(tid, r, i), node)
            mc, got = rd.commits[node], a.model_commit(tid, r, node)
            eq(f"{node} commit revealed", got[3], mc.revealed)
            eq(f"{node} commit displaced", got[5], mc.displaced)
            eq(f"{node} node-miss slash", got[6], mc.slash)
        eq("stage", info["stage"], rd.stage)
        eq("void_reason", info["void_reason"], rd.void_reason)
        eq("pot", info["pot"], rd.pot)
        eq("emission_amount", info["emission_amount"], 0)
        eq("slashed", info["slashed"], rd.slashed)
        eq("keeper_tips", info["keeper_tips"], rd.keeper_tips)
        commits = sum(1 for vr in rd.vals.values() if vr.committed)
        eq("validator_commit_count", info["validator_commit_count"], commits)
        eq("validator_reveal_count", info["validator_reveal_count"], rd.validator_reveals)
        if rd.void_reason == ref.VOID_NONE:
            eq("nodes_pot", info["nodes_pot"], rd.nodes_pot)
            eq("validators_pot", info["validators_pot"], rd.validators_pot)
            eq("node_stake (T)", info["node_stake"], rd.node_stake)
            eq("validator_stake (S)", info["validator_stake"], rd.validator_stake)
            eq("sum_g_stake (SG)", info["sum_g_stake"], rd.sum_g_stake)
            eq("sum_f_stake (SF)", info["sum_f_stake"], rd.sum_f_stake)
            eq("paid", info["paid"], rd.paid)
            for k, sub in enumerate(rd.subs):
                s = a.submission(tid, r, k)
                eq(f"submission {k} node", s[0], sub.node)
                eq(f"submission {k} model", as_bytes(s[1]), sub.model)
                eq(f"submission {k} seq", s.commit_seq, sub.seq)
                eq(f"submission {k} key", s.key, sub.key)
                eq(f"submission {k} consensus", s.consensus, sub.consensus)
                eq(f"submission {k} status", s.status, sub.status)
                eq(f"submission {k} stake", s.stake, sub.stake)
                eq(f"submission {k} weight", s.weight, sub.weight)
                eq(f"submission {k} reward", s.reward, sub.reward)
            eq("available", info["available"], rd.available)
            eq("eligible", info["eligible"], rd.eligible)
            for v, vr in rd.vals.items():
                got = a.validator_round(tid, r, v)
                who = f"validator {v}"
                eq(f"{who} committed", got[1], vr.committed)
                eq(f"{who} revealed", got[2], vr.revealed)
                if vr.revealed:
                    eq(f"{who} stake w_j", got[3], vr.stake)
                    eq(f"{who} deviation_sum", got[4], vr.dsum)
                    eq(f"{who} deviation D_j", got[5], vr.deviation)
                    eq(f"{who} agreement F_j", got[6], vr.agreement)
                eq(f"{who} reward", got[7], vr.reward)
                eq(f"{who} slash", got[8], vr.slash)
                eq(f"{who} burned", got[9], vr.burned)
                eq(f"{who} scored", got[10], vr.scored)
                eq(f"{who} covered", got[11], vr.covered)
                eq(f"{who} assigned_available", got[12], vr.assigned_available)
                eq(f"{who} assignments", got[13], vr.assignments)
        else:
            eq("paid", info["paid"], rd.paid)  # keeper tips only
            for v, vr in rd.vals.items():
                eq(f"validator {v} slash", self.arena.validator_round(tid, r, v)[8], vr.slash)

    def check_events_of_last_call(self, tid: int, r: int, credits_before: int, slashes_before: int):
        """Rewarded/Slashed events of the last finalize call against the model's records."""
        rd = self.model.tasks[tid].round(r)
        # finalize events are emitted by ArenaEngine code (delegatecall) at Arena's address;
        # decode them with both ABIs (Arena's ABI alone lacks them, see FINDINGS.md)
        abis = {
            **self.engine.event_abi_for,
            **self.rounds.event_abi_for,
            **self.arena.event_abi_for,
        }
        logs = [
            e if not isinstance(e, RawLogEntry) else decode_log(self.arena._address, abis, e)
            for e in self.arena.get_logs(strict=False)
        ]
        rewarded = [e for e in logs if type(e).__name__ == "Rewarded"]
        slashed = [e for e in logs if type(e).__name__ == "Slashed"]
        want_r = rd.credits[credits_before:]
        want_s = rd.slashes[slashes_before:]
        got_r = [
            (e.participant, e.amount, e.owner_part, e.delegator_part)
            for e in rewarded
            if e.amount > 0
        ]
        exp_r = [(c.participant, c.x, c.owner, c.dpaid) for c in want_r if c.x > 0]
        if got_r != exp_r:
            raise Mismatch(f"task {tid} round {r} Rewarded events {got_r} != model {exp_r}")
        got_s = [(e.participant, e.amount, e.burned, e.reason) for e in slashed]
        exp_s = [s for s in want_s if s[1] > 0 or s[2] > 0]
        if got_s != exp_s:
            raise Mismatch(f"task {tid} round {r} Slashed events {got_s} != model {exp_s}")
