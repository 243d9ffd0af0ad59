"""Arena.vy against the independent reference model (tests/fuzz/reference.py), to the wei.

A seeded generator builds multi-round tasks (1–3 rounds each) with random parameters, stakes,
delegations (some activating later), commissions, submissions (re-commits, duplicate hashes,
bad reveals), scores (ties, INVALID, noisy and deviating validators, commits without reveal),
missing eval reveals and quorum failures, and drives contract and model in lock step: every
call must succeed or revert on both sides, and after every finalize call the Rewarded/Slashed
events, and after every round every pot, consensus, weight, reward, owner/delegator split,
slash, carry, claimable and withdrawable amount must match exactly. At the end everyone claims
and withdraws, the creator takes the refund, and every token balance must match.
"""

from __future__ import annotations

import random

import boa
import pytest

from tests.fuzz import reference as ref
from tests.fuzz.harness import EIP170_LIMIT, Deployment, deployers, event_names, runtime_sizes

WAD = ref.WAD
CHUNKS = 8
PARTIAL: dict[int, int] = {}  # chunk -> rounds with a validator on only some committees
SHORT: dict[int, int] = {}  # chunk -> submissions unscored with 0 < reveals < min_committee
PAID: dict[int, tuple[int, int]] = {}  # chunk -> (rounds that paid out, rounds compared)
TIPPED: dict[int, int] = {}  # chunk -> rounds that paid keeper tips
PAGED: dict[int, tuple[int, int]] = {}  # chunk -> (paged score reveals, left incomplete)
ROUNDS_PER_CHUNK = 26  # 8 x 26 = 208 rounds compared in the default run
MAX_DUST_PER_TASK = 100


def test_deployables_fit_eip170():
    """Arena and ArenaEngine must fit the EIP-170 limit, or they cannot be deployed."""
    for name, size in runtime_sizes().items():
        assert size <= EIP170_LIMIT, f"{name} runtime bytecode is {size} bytes > {EIP170_LIMIT}"


FINALIZE_EVENTS = {
    "RoundOpened",
    "ConsensusComputed",
    "RoundRanked",
    "Rewarded",
    "ValidatorScored",
    "Slashed",
    "RoundFinalized",
    "TaskEnded",
}


def test_arena_abi_declares_finalize_events():
    """PROTOCOL.md §9: the engine's events come from Arena's address and "Arena's ABI declares
    them too" -- otherwise clients holding Arena's ABI (Ape, explorers) cannot decode them."""
    arena, engine, _ = deployers()
    assert FINALIZE_EVENTS <= event_names(engine), "ArenaEngine must emit the finalize events"
    missing = FINALIZE_EVENTS - event_names(arena)
    assert not missing, f"Arena's ABI lacks the finalize events {sorted(missing)} (PROTOCOL.md §9)"


# ---- scenario generation ------------------------------------------------------------------
def random_params(rng: random.Random, now: int) -> ref.Params:
    def pick(*choices):
        return rng.choice(choices)

    num_rounds = pick(1, 2, 2, 3, 3, 3)
    bounty = pick(rng.randint(1, 999), rng.randint(10**18, 10**22), 7 * 10**20 + 13)
    tip_cap = bounty // num_rounds // ref.KEEPER_SHARE_DIVISOR
    return ref.Params(
        bounty=bounty,
        spec_hash=rng.randbytes(32),
        spec_uri="file://spec.json",
        eval_root=b"\x00" * 32,  # set by the caller
        num_rounds=num_rounds,
        start_time=pick(*[now + rng.randint(5, 50)] * 5, 0),
        commit_duration=rng.randint(1, 40),
        eval_duration=rng.randint(1, 40),
        reveal_duration=rng.randint(1, 40),
        score_commit_duration=rng.randint(1, 40),
        score_reveal_duration=rng.randint(1, 40),
        min_node_stake=pick(1, 10**18),
        min_validator_stake=pick(1, 10**18),
        gamma=pick(0, WAD // 2, rng.randint(0, WAD // 2), WAD // 10),
        delta=pick(0, WAD, rng.randint(0, WAD), WAD // 2),
        rank_ratio=pick(0, WAD, WAD // 2, rng.randint(0, WAD)),
        rank_epsilon=pick(1, WAD // 100, WAD // 10, rng.randint(1, 2 * WAD)),
        tolerance=pick(1, WAD // 10, WAD, rng.randint(1, 3 * WAD)),
        slash_tau=pick(0, WAD // 20, WAD // 2, rng.randint(0, 2 * WAD)),
        slash_miss=pick(0, WAD, rng.randint(0, WAD)),
        slash_dev=pick(0, WAD, rng.randint(0, WAD)),
        slash_node_miss=pick(0, WAD, rng.randint(0, WAD), WAD // 10),
        min_committee=pick(1, 1, 2, 3),
        baseline_score=pick(0, 0, rng.randint(ref.SCORE_FLOOR, 3 * ref.SCORE_SCALE)),
        committee_size=pick(1, 2, 3, 64),  # small K: committees differ (PROTOCOL.md §5a)
        # keeper tips (§6a): none, a wei, or enough that the round's cap binds (a tip above
        # the cap bounty // num_rounds // 10 is out of range: 0 when the bounty is tiny)
        keeper_tip=pick(0, 0, min(1, tip_cap), tip_cap // 200, tip_cap),
    )


def stake_amount(rng: random.Random, minimum: int) -> int:
    return rng.choice(
        [minimum, minimum + rng.randint(0, 10**6), rng.randint(max(minimum, 10**18), 10**22)]
    )


class Scenario:
    """One task driven round by round on contract and model."""

    def __init__(self, dep: Deployment, rng: random.Random, tag: str):
        self.dep, self.rng, self.tag = dep, rng, tag
        self.m = dep.model
        self.rounds_compared = 0
        self.rounds_paid = 0  # rounds that paid someone
        self.rounds_tipped = 0  # rounds that paid keeper tips
        self.paged_reveals = self.incomplete_reveals = 0  # score reveals in pages (§5)
        self.rounds_partial = 0  # rounds where a revealing validator sat on some committees only
        self.short_committees = 0  # submissions some but fewer than min_committee revealed for
        # earlier tasks have fully exited: what the arena holds now is their dust
        self.held_before = dep.token.balanceOf(dep.arena.address)
        big = 10**24
        self.creator = dep.new_actor(f"{tag}-creator", big)
        self.nodes = [dep.new_actor(f"{tag}-node{i}", big) for i in range(rng.randint(1, 5))]
        self.vals = [dep.new_actor(f"{tag}-val{i}", big) for i in range(rng.randint(1, 5))]
        self.dels = [dep.new_actor(f"{tag}-del{i}", big) for i in range(rng.randint(0, 4))]
        self.keeper = dep.new_actor(f"{tag}-keeper", 0)
        self.everyone = [self.creator, *self.nodes, *self.vals, *self.dels, self.keeper]
        params = random_params(rng, dep.now())
        self.shards = [rng.randbytes(32) for _ in range(params.num_rounds)]
        leaves = [ref.eval_leaf(r, s) for r, s in enumerate(self.shards)]
        params.eval_root, self.proofs = ref.merkle_root_and_proofs(leaves)
        ok, tid = dep.create_task(self.creator, params)
        assert ok, "create_task with in-range parameters must succeed"
        self.tid = tid
        self.task = self.m.tasks[tid]
        self.p = self.task.params

    # -- helpers --
    def at(self, r: int, phase: int):
        p, L = self.p, self.task.round_length
        widths = [
            p.commit_duration,
            p.eval_duration,
            p.reveal_duration,
            p.score_commit_duration,
        ]
        offs = [sum(widths[:i]) for i in range(5)]
        self.dep.warp_to(p.start_time + r * L + offs[phase - 1])

    def deposits(self, prob: float):
        rng, dep, tid, p = self.rng, self.dep, self.tid, self.p
        for n in self.nodes:
            if rng.random() < prob:
                pt = self.task.participants.get(n)
                commission = pt.commission if pt else rng.choice([0, WAD, rng.randint(0, WAD)])
                amount = (
                    stake_amount(rng, p.min_node_stake) if pt is None else rng.randint(1, 10**21)
                )
                if rng.random() < 0.05:
                    commission = WAD + 1 if pt is None else (commission + 1) % (WAD + 1)
                if rng.random() < 0.05:
                    amount = p.min_node_stake - 1 if pt is None else 0
                dep.join(n, tid, ref.NODE, amount, commission)
        for v in self.vals:
            if rng.random() < prob:
                pt = self.task.participants.get(v)
                commission = pt.commission if pt else rng.choice([0, WAD, rng.randint(0, WAD)])
                amount = (
                    stake_amount(rng, p.min_validator_stake)
                    if pt is None
                    else rng.randint(1, 10**21)
                )
                role = ref.VALIDATOR if rng.random() > 0.03 else ref.NODE
                dep.join(v, tid, role, amount, commission)
        targets = list(self.task.participants)
        for d in self.dels + self.nodes[:1]:
            if targets and rng.random() < prob:
                target = rng.choice(targets)
                amount = rng.choice([1, rng.randint(1, 10**6), rng.randint(10**17, 10**22)])
                dep.delegate(d, tid, target, amount)

    def claims(self, prob: float):
        rng, dep, tid = self.rng, self.dep, self.tid
        for addr in list(self.task.participants):
            if rng.random() < prob:
                dep.claim(addr, tid, addr)
        for p, d in list(self.task.positions):
            if rng.random() < prob:
                dep.claim(d, tid, p)

    def exits(self, prob: float):
        """Delegators try to leave before the task ends: allowed for a slashed participant
        between finalizations (§4), refused otherwise; contract and model must agree."""
        rng, dep, tid = self.rng, self.dep, self.tid
        for p, d in list(self.task.positions):
            if rng.random() < prob:
                dep.withdraw(d, tid, p)

    def finalize_due(self):
        """Finalize every round whose time is over."""
        dep, m = self.dep, self.m
        while self.task.status == ref.STATUS_ACTIVE:
            r = self.task.finalized_rounds
            if dep.now() < m.round_start(self.task, r + 1):
                break
            self.finalize_round()

    def finalize_round(self):
        rng, dep, tid = self.rng, self.dep, self.tid
        r = self.task.finalized_rounds
        rd = self.task.round(r)
        calls = 0
        while True:
            need = self.m.steps_needed(tid)
            steps = rng.choice([1, 2, 3, rng.randint(1, 12), need, need, ref.MAX_FINALIZE_STEPS])
            nc, ns = len(rd.credits), len(rd.slashes)
            ok, done = dep.finalize(self.keeper, tid, steps)
            assert ok, "finalize of a due round must succeed"
            dep.check_events_of_last_call(tid, r, nc, ns)
            calls += 1
            if done:
                break
            if rng.random() < 0.3:
                self.claims(0.3)  # claims between the pages of a paginated finalize
            if rng.random() < 0.3:
                self.exits(0.3)  # refused mid-finalization
            assert calls < 1000, "finalize does not make progress"
        dep.check_task(tid, rounds=[r])
        dep.check_balances(self.everyone)
        self.check_solvent()
        self.rounds_compared += 1
        rd = self.task.round(r)
        self.rounds_paid += rd.void_reason == ref.VOID_NONE and rd.paid > 0
        self.rounds_tipped += rd.keeper_tips > 0
        self.rounds_partial += any(0 < vr.assignments < len(rd.subs) for vr in rd.vals.values())
        if rd.void_reason == ref.VOID_NONE:
            for k, sub in enumerate(rd.subs):
                n = sum(rd.vals[v].revealed for v, _ in rd.votes.get(k, []))
                self.short_committees += (
                    sub.status == ref.UNSCORED and 0 < n < self.task.params.min_committee
                )

    def check_solvent(self):
        """DESIGN §3.5: the contract never owes more than it holds (FINDINGS.md F2)."""
        held = self.dep.token.balanceOf(self.dep.arena.address) - self.held_before
        owed = self.m.owed(self.tid)
        assert owed <= held, (
            f"INSOLVENT: task {self.tid} owes {owed} wei but only {held} are held for it"
        )

    # -- one round --
    def play_round(self, r: int):
        rng, dep, tid = self.rng, self.dep, self.tid
        self.at(r, ref.PHASE_COMMIT)
        delay_finalize = rng.random() < 0.25
        if r >= 1 and rng.random() < 0.3:
            # deposits before the previous round is finalized must be refused
            self.deposits(0.3)
        if not delay_finalize:
            self.finalize_due()
        self.exits(0.15)
        self.deposits(0.3)
        self.claims(0.2)
        # commits
        models = {}
        for n in self.nodes:
            if rng.random() < 0.85:
                h = rng.randbytes(32)
                if models and rng.random() < 0.25:
                    h = rng.choice(list(models.values()))  # duplicate model hash
                if rng.random() < 0.1:  # re-commit: the first commitment is overwritten
                    dep.commit_model(n, tid, ref.model_commitment(rng.randbytes(32), n, tid, r))
                c = ref.model_commitment(h, n, tid, r)
                if rng.random() < 0.05:
                    c = rng.randbytes(32)  # a commitment it cannot open
                dep.commit_model(n, tid, c)
                models[n] = h
        # the eval shard, then the model reveals
        self.at(r, ref.PHASE_EVAL)
        if rng.random() < 0.9:
            if rng.random() < 0.1:
                dep.reveal_eval(
                    self.creator, tid, r, rng.randbytes(32), self.proofs[r]
                )  # bad proof
            dep.reveal_eval(self.creator, tid, r, self.shards[r], self.proofs[r])
        self.at(r, ref.PHASE_REVEAL)
        order = list(models)
        rng.shuffle(order)
        for n in order:
            if rng.random() < 0.92:
                dep.reveal_model(n, tid, models[n], f"file://{n}")
        # scores
        self.at(r, ref.PHASE_SCORE_COMMIT)
        n_subs = len(self.task.round(r).subs)
        truth = []
        for _ in range(n_subs):
            u = rng.random()
            if u < 0.1:
                truth.append(ref.INVALID)
            elif u < 0.3 and truth:
                truth.append(rng.choice(truth))  # tie
            elif u < 0.38 and truth and truth[-1] != ref.INVALID:  # a near-duplicate
                truth.append(truth[-1] + rng.randint(0, truth[-1] // 50 + 2))
            elif u < 0.4:
                truth.append(rng.randint(0, ref.SCORE_FLOOR))
            else:
                truth.append(rng.randint(ref.SCORE_FLOOR, 3 * ref.SCORE_SCALE))
        plans = {}
        unserved = {k for k in range(n_subs) if rng.random() < 0.1}  # served to few validators
        if delay_finalize and rng.random() < 0.3:
            dep.draw(rng.choice(self.vals), tid, r)  # reverts: round r - 1 is unfinalized
        if delay_finalize:
            # the previous round is finalized only now, late but before the draw: its
            # slashes hit the stakes this round's committees are drawn with
            self.finalize_due()
        if rng.random() < 0.97:  # else nobody draws: no committee, nobody can commit
            dep.prepare_committees(rng.choice(self.vals), tid, r)
        for v in self.vals:
            if rng.random() < 0.85:
                kind = rng.random()
                if kind < 0.2:  # deviating validator
                    scores = [
                        rng.choice([ref.INVALID, rng.randint(0, 5 * ref.SCORE_SCALE)])
                        for _ in truth
                    ]
                else:
                    scores = [
                        t
                        if t == ref.INVALID or rng.random() < 0.6
                        else max(0, t + rng.randint(-t // 50 - 1, t // 50 + 1))
                        for t in truth
                    ]
                for k in range(n_subs):  # models it could not fetch
                    if rng.random() < (0.7 if k in unserved else 0.03):
                        scores[k] = ref.UNAVAILABLE
                scores = [scores[k] for k in dep.slots_for(tid, r, v)]  # its committees only
                salt = rng.randbytes(32)
                dep.commit_scores(v, tid, ref.score_commitment(tid, r, v, scores, salt))
                plans[v] = (scores, salt, rng.random() < 0.85)
        self.at(r, ref.PHASE_SCORE_REVEAL)
        for v, (scores, salt, reveal) in plans.items():
            if not reveal:
                continue  # commits without reveal: slash_miss
            if rng.random() < 0.05:
                dep.reveal_scores(v, tid, [*scores, 1], salt)  # too many scores
            if len(scores) >= 2 and rng.random() < 0.3:  # paged (PROTOCOL.md §5)
                cut = rng.randint(1, len(scores) - 1)
                dep.reveal_scores(v, tid, scores[:cut], salt)
                self.paged_reveals += 1
                if rng.random() < 0.1:
                    self.incomplete_reveals += 1
                    continue  # never completed: its votes do not count, slash_miss
                if rng.random() < 0.1:
                    dep.reveal_scores(v, tid, [], salt)  # empty page while slots remain
                    dep.reveal_scores(v, tid, scores[cut:], rng.randbytes(32))  # bad salt
                dep.reveal_scores(v, tid, scores[cut:], salt)
            else:
                dep.reveal_scores(v, tid, scores, salt)
        self.claims(0.1)

    def play(self):
        rng, dep, tid = self.rng, self.dep, self.tid
        if self.p.start_time > dep.now():
            self.deposits(0.9)
        for r in range(self.p.num_rounds):
            self.play_round(r)
        self.dep.warp_to(self.m.round_start(self.task, self.p.num_rounds) + rng.randint(0, 5))
        self.deposits(0.2)  # deposits closed
        self.finalize_due()
        assert self.task.status == ref.STATUS_ENDED
        self.check_solvent()
        # everyone exits
        dep.claim_refund(self.creator, tid)
        for addr in list(self.task.participants):
            dep.claim(addr, tid, addr)
            dep.withdraw(addr, tid, addr)
        for p, d in list(self.task.positions):
            dep.claim(d, tid, p)
            dep.withdraw(d, tid, p)
        dep.check_task(tid)
        dep.check_balances(self.everyone)
        for addr in list(self.task.participants):
            assert dep.arena.claimable(tid, addr, addr) == 0
            assert dep.arena.withdrawable(tid, addr, addr) == 0
        for p, d in list(self.task.positions):
            assert dep.arena.claimable(tid, p, d) == 0
            assert dep.arena.withdrawable(tid, p, d) == 0
        assert self.m.owed(tid) == 0, "model: something is still owed after everyone exited"
        dust = dep.token.balanceOf(dep.arena.address) - self.held_before
        assert 0 <= dust < MAX_DUST_PER_TASK, f"task {tid}: {dust} wei left in the contract"


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_rounds_match_reference_model(chunk):
    rng = random.Random(0xA7E11A + chunk)
    compared = paid = partial = tipped = short = 0
    tasks = 0
    with boa.env.anchor():
        dep = Deployment()
        while compared < ROUNDS_PER_CHUNK:
            sc = Scenario(dep, rng, f"c{chunk}t{tasks}")
            try:
                sc.play()
            except AssertionError as exc:
                raise AssertionError(f"chunk {chunk} task #{tasks} (id {sc.tid}): {exc}") from exc
            compared += sc.rounds_compared
            paid += sc.rounds_paid
            tipped += sc.rounds_tipped
            PAGED[chunk] = (
                PAGED.get(chunk, (0, 0))[0] + sc.paged_reveals,
                PAGED.get(chunk, (0, 0))[1] + sc.incomplete_reveals,
            )
            partial += sc.rounds_partial
            short += sc.short_committees
            tasks += 1
    assert compared >= ROUNDS_PER_CHUNK
    # committee rounds really ran in every chunk: some paid out (many rounds are void by
    # design; the share over all chunks is checked below: the seeds vary with the chain's
    # block hashes), and across chunks some had partial committees
    PARTIAL[chunk] = partial
    SHORT[chunk] = short
    PAID[chunk] = (paid, compared)
    TIPPED[chunk] = tipped
    assert paid >= 1, f"{paid} of {compared} rounds paid"


def test_some_rounds_had_partial_committees():
    """Over the chunks above (same process), a revealing validator sat on some but not all
    committees of a round: the committee path of CONSENSUS was compared, not only p_j = 1
    (the fixed seeds give 5 such rounds in 8 chunks)."""
    if len(PARTIAL) < CHUNKS:
        pytest.skip("run with test_rounds_match_reference_model's chunks")
    assert sum(PARTIAL.values()) > 0, PARTIAL
    paid = sum(p for p, _ in PAID.values())
    compared = sum(c for _, c in PAID.values())
    assert 5 * paid >= compared, PAID  # a fifth at least (about 30%: 15 of 52 in chunks 2-3)
    assert sum(TIPPED.values()) > 0, TIPPED  # keeper tips were compared too
    # a committee short of min_committee left its submission unscored (DESIGN §3.4)
    assert sum(SHORT.values()) > 0, SHORT
    # paged reveals were compared, some left incomplete (their votes must not count)
    assert sum(p for p, _ in PAGED.values()) > 0 and sum(i for _, i in PAGED.values()) > 0, PAGED


def test_delegator_rounding_keeps_contract_solvent():
    """PROTOCOL.md §7 rounding, exact case (FINDINGS.md F2, fixed in 68b187d).

    Bounty 8 over 2 rounds, gamma = 1/2, one node (own 1, commission 0) backed by one
    delegator (3), one validator. Each round the node earns x = 2: owner part 0, dpart = 2,
    inc = 2e36 // 3. The position settles both rounds at once: 3 * (2 * inc) // 1e36 = 3.
    The first §7 reserved only inc * 3 // 1e36 = 1 wei per round (paid 3 + 4, refund 1) and
    owed 9 wei with 8 in hand, so the last exit reverted. Now the whole dpart is reserved
    (paid 4 + 4, refund 0): everyone exits and 1 wei of dust stays."""
    with boa.env.anchor():
        dep = Deployment()
        creator = dep.new_actor("rc-creator", 10**20)
        node = dep.new_actor("rc-node", 10**20)
        backer = dep.new_actor("rc-delegator", 10**20)
        val = dep.new_actor("rc-validator", 10**20)
        shards = [b"\x01" * 32, b"\x02" * 32]
        root, proofs = ref.merkle_root_and_proofs(
            [ref.eval_leaf(r, s) for r, s in enumerate(shards)]
        )
        start = dep.now() + 10
        params = _fixed_params(
            root,
            start,
            bounty=8,
            num_rounds=2,
            gamma=WAD // 2,
            delta=WAD,
            rank_ratio=WAD,
            rank_epsilon=WAD // 100,
            slash_miss=0,
        )
        ok, tid = dep.create_task(creator, params)
        assert ok
        assert dep.join(node, tid, ref.NODE, 1, 0)[0]
        assert dep.join(val, tid, ref.VALIDATOR, 10**18, 0)[0]
        assert dep.delegate(backer, tid, node, 3)[0]
        for r in range(2):
            base = start + r * 50
            dep.warp_to(base)
            if r == 1:
                assert dep.finalize(creator, tid, ref.MAX_FINALIZE_STEPS) == (True, True)
            model = bytes([0x10 + r]) * 32
            assert dep.commit_model(node, tid, ref.model_commitment(model, node, tid, r))[0]
            dep.warp_to(base + 10)
            assert dep.reveal_eval(creator, tid, r, shards[r], proofs[r])[0]
            dep.warp_to(base + 20)
            assert dep.reveal_model(node, tid, model, "file://m")[0]
            dep.warp_to(base + 30)
            dep.prepare_committees(val, tid, r)  # the only validator: on every committee
            salt = b"\x07" * 32
            assert dep.commit_scores(
                val, tid, ref.score_commitment(tid, r, val, [5 * 10**8], salt)
            )[0]
            dep.warp_to(base + 40)
            assert dep.reveal_scores(val, tid, [5 * 10**8], salt)[0]
        dep.warp_to(start + 100)
        assert dep.finalize(creator, tid, ref.MAX_FINALIZE_STEPS) == (True, True)
        dep.check_task(tid)
        task = dep.model.tasks[tid]
        assert [task.round(r).paid for r in range(2)] == [4, 4]
        assert task.refund == 0
        owed = (
            dep.arena.claimable(tid, node, backer)
            + dep.arena.claimable(tid, val, val)
            + dep.arena.claimable(tid, node, node)
            + task.refund
            + sum(
                dep.arena.withdrawable(tid, p, a)
                for p, a in [(node, node), (node, backer), (val, val)]
            )
        )
        held = dep.token.balanceOf(dep.arena.address)
        assert owed <= held, (
            f"INSOLVENT by {owed - held} wei (PROTOCOL.md §7: paid counts dpaid = inc*del//ACC "
            f"per round, but a position settles floor(active*sum(inc)/ACC) over several rounds; "
            f"delegator can claim {dep.arena.claimable(tid, node, backer)})"
        )
        assert dep.arena.claimable(tid, node, backer) == 3
        for participant, account in [(node, backer), (val, val)]:
            assert dep.claim(account, tid, participant)[0]
        for participant, account in [(node, node), (node, backer), (val, val)]:
            assert dep.withdraw(account, tid, participant)[0]
        dep.check_balances()
        assert dep.token.balanceOf(dep.arena.address) == 1, (
            "exactly the 1 wei of accumulator dust stays"
        )


def _fixed_params(root: bytes, start: int, **kw) -> ref.Params:
    base = dict(
        bounty=9 * 10**18,
        spec_hash=b"\x00" * 32,
        spec_uri="",
        eval_root=root,
        num_rounds=3,
        start_time=start,
        commit_duration=10,
        eval_duration=10,
        reveal_duration=10,
        score_commit_duration=10,
        score_reveal_duration=10,
        min_node_stake=1,
        min_validator_stake=1,
        gamma=WAD // 10,
        delta=WAD // 2,
        rank_ratio=WAD // 2,
        rank_epsilon=WAD // 100,
        tolerance=WAD,
        slash_tau=WAD,
        slash_miss=WAD,
        slash_dev=0,
        slash_node_miss=WAD // 10,
        min_committee=1,
        baseline_score=0,
    )
    base.update(kw)
    return ref.Params(**base)


def test_validator_slashed_to_zero_sits_on_no_committee_of_the_next_round():
    """Round 1 cannot be drawn while round 0 is unfinalized (its slashes change the stakes
    W freezes, PROTOCOL.md §5a). A validator that missed round 0 with slash_miss = 100% and
    no delegators has no stake left in round 1: it can neither commit nor sit on a committee,
    is not slashed again, and round 1 finalizes (v1 let such a validator reveal with w_j = 0;
    crediting it then had to avoid dividing by own + del = 0)."""
    with boa.env.anchor():
        dep = Deployment()
        creator = dep.new_actor("z-creator", 10**22)
        node = dep.new_actor("z-node", 10**22)
        honest = dep.new_actor("z-honest", 10**22)
        victim = dep.new_actor("z-victim", 10**22)
        shards = [bytes([r + 1]) * 32 for r in range(3)]
        root, proofs = ref.merkle_root_and_proofs(
            [ref.eval_leaf(r, s) for r, s in enumerate(shards)]
        )
        start = dep.now() + 10
        ok, tid = dep.create_task(creator, _fixed_params(root, start))
        assert ok
        assert dep.join(node, tid, ref.NODE, 10**18, 0)[0]
        assert dep.join(honest, tid, ref.VALIDATOR, 10**18, 0)[0]
        assert dep.join(victim, tid, ref.VALIDATOR, 10**18, 0)[0]
        for r in range(2):
            base = start + r * 50
            dep.warp_to(base)
            model = bytes([0x20 + r]) * 32
            assert dep.commit_model(node, tid, ref.model_commitment(model, node, tid, r))[0]
            dep.warp_to(base + 10)
            assert dep.reveal_eval(creator, tid, r, shards[r], proofs[r])[0]
            dep.warp_to(base + 20)
            assert dep.reveal_model(node, tid, model, "file://m")[0]
            dep.warp_to(base + 30)
            salt = bytes([r]) * 32
            if r == 1:
                assert not dep.draw(honest, tid, 1)[0]  # "finalize earlier rounds first"
                assert dep.finalize(creator, tid, ref.MAX_FINALIZE_STEPS) == (True, True)
                assert dep.arena.participant(tid, victim)[2] == 0, "victim fully slashed"
                assert dep.slots_for(tid, 1, victim) == []
            dep.prepare_committees(honest, tid, r)  # honest: on every committee
            for v in (honest, victim):
                committed, _ = dep.commit_scores(
                    v, tid, ref.score_commitment(tid, r, v, [4 * 10**8], salt)
                )
                assert committed == (r == 0 or v == honest)  # the victim: "stake not active"
            assert dep.slots_for(tid, r, honest) == [0]
            dep.warp_to(base + 40)
            assert dep.reveal_scores(honest, tid, [4 * 10**8], salt)[0]  # the victim misses r 0
        dep.warp_to(start + 100)
        ok, done = dep.finalize(creator, tid, ref.MAX_FINALIZE_STEPS)  # round 1
        assert ok and done
        assert dep.model.tasks[tid].round(1).vals.get(victim) is None  # nothing more to slash
        dep.check_task(tid)
