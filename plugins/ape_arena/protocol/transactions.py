"""State-changing calls of ``ArenaClient``: approvals when needed, commitments built
locally, and every revert turned into an ``ArenaError`` whose message says what to do next.

``ArenaTransactions`` is mixed into ``client.ArenaClient``; it uses the views
(``views.ArenaViews``) and the revert explanations (``reverts.RevertExplainer``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .commitments import model_commitment, score_commitment
from .ranking import RankOrders
from .reverts import decode_rpc_revert, revert_text
from .types import (
    DEFAULT_FINALIZE_STEPS,
    PAGE_GAS,
    REVEAL_PAGE,
    SEED_WINDOW,
    ArenaError,
    CommitteeDraw,
    FinalizeResult,
    Phase,
    Role,
    RoundInfo,
    Status,
    TaskParams,
    TransientTxError,
    address_of,
    fmt_tokens,
    task_param_problems,
    to_bytes32,
)

#: Reverts of the token's ``transferFrom`` that only mean the approval is not there yet.
_FUNDING_REVERTS = ("erc20: insufficient allowance", "erc20: transfer amount exceeds balance")


class ArenaTransactions:
    """Transactions of the Arena contract, each dry-run first and explained on revert."""

    def approve_if_needed(self, amount: int, sender: Any | None = None) -> Any | None:
        """Approve the arena for ``amount`` if the current allowance is lower."""
        who = self._sender(sender)
        if self.allowance(who) >= amount:
            return None
        bal = self.balance(who)
        if bal < amount:
            raise ArenaError(
                f"{who.address} holds {fmt_tokens(bal)} ARENA but {fmt_tokens(amount)} is "
                "needed; get tokens first (on a local chain the deployer holds the supply)"
            )
        return self._tx("approve", None, self.token.approve, self.address, amount, sender=who)

    def _check_before_approve(self, action: str, task: int | None, fn, *args, who) -> None:
        """Dry-run the call an approval is for: a revert for any reason but the missing
        allowance is explained now, before an approve transaction is sent for nothing."""
        if not self.preflight:
            return
        raw = self._preflight(fn, args, who)
        if raw is None or any(m in raw for m in _FUNDING_REVERTS):
            return
        raise ArenaError(self.explain(raw, action, task, who), raw)

    def create_task(self, params: TaskParams, sender: Any | None = None) -> int:
        """Check every parameter, approve (if needed) and deposit the bounty; return the new
        task id. A parameter out of range raises ``ArenaError`` naming it and its range
        before any transaction."""
        who = self._sender(sender)
        problems = task_param_problems(params, self.now())
        if problems:
            raise ArenaError(
                "create_task: " + "; ".join(problems) + " (contracts/PROTOCOL.md §2)",
                "arena: parameter out of range",
            )
        self._check_before_approve(
            "create_task", None, self.arena.create_task, params.as_tuple(), who=who
        )
        self.approve_if_needed(params.bounty, who)
        receipt = self._tx(
            "create_task", None, self.arena.create_task, params.as_tuple(), sender=who
        )
        logs = list(receipt.decode_logs(self.arena.TaskCreated))
        if logs:
            return int(logs[0].task)
        return self.task_count()

    def cancel_task(self, task: int, sender: Any | None = None):
        return self._tx("cancel_task", task, self.arena.cancel_task, task, sender=sender)

    def join(
        self,
        task: int,
        role: Role | int,
        amount: int,
        commission: int = 0,
        sender: Any | None = None,
    ):
        """Join (or top up) as NODE or VALIDATOR; approves the stake first when needed."""
        who = self._sender(sender)
        self._check_task(task)
        self._check_before_approve(
            "join", task, self.arena.join, task, int(role), amount, commission, who=who
        )
        self.approve_if_needed(amount, who)
        return self._tx(
            "join", task, self.arena.join, task, int(role), amount, commission, sender=who
        )

    def delegate(self, task: int, participant: Any, amount: int, sender: Any | None = None):
        who = self._sender(sender)
        self._check_task(task)
        # ``ContractInstance.delegate`` is Ape's EIP-7702 property: call the method by name.
        try:
            fn = self.arena._mutable_methods_["delegate"]
        except Exception:  # pragma: no cover - other Ape versions
            fn = functools.partial(self.arena.invoke_transaction, "delegate")
        if hasattr(fn, "encode_input"):
            self._check_before_approve(
                "delegate", task, fn, task, address_of(participant), amount, who=who
            )
        self.approve_if_needed(amount, who)
        return self._tx("delegate", task, fn, task, address_of(participant), amount, sender=who)

    def commit_model(
        self,
        task: int,
        model_sha256: bytes | str,
        sender: Any | None = None,
        *,
        round_: int | None = None,
    ) -> bytes:
        """Commit to a model hash for the current round (or ``round_``, when the caller has
        already recorded the commitment for it); returns the commitment."""
        who = self._sender(sender)
        self._check_task(task)
        r = self.round_at(task, self.now()) if round_ is None else round_
        c = model_commitment(model_sha256, who.address, task, max(r, 0))
        self._tx(
            "commit_model", task, self.arena.commit_model, task, c, sender=who, phase=Phase.COMMIT
        )
        return c

    def reveal_model(
        self, task: int, model_sha256: bytes | str, uri: str, sender: Any | None = None
    ):
        return self._tx(
            "reveal_model", task, self.arena.reveal_model, task, to_bytes32(model_sha256), uri,
            sender=sender, phase=Phase.REVEAL,
        )  # fmt: skip

    def reveal_eval(
        self,
        task: int,
        round_: int,
        shard_sha256: bytes | str,
        shard_uri: str,
        proof: Iterable[bytes | str],
        sender: Any | None = None,
    ):
        return self._tx(
            "reveal_eval", task, self.arena.reveal_eval, task, round_, to_bytes32(shard_sha256),
            shard_uri, [to_bytes32(p) for p in proof], sender=sender, phase=Phase.EVAL,
            round_=round_,
        )  # fmt: skip

    def commit_scores(
        self, task: int, scores: Sequence[int], salt: bytes | str, sender: Any | None = None
    ) -> bytes:
        """Commit to ``scores`` (one per revealed submission) for the current round."""
        who = self._sender(sender)
        r = self.round_at(task, self.now())
        c = score_commitment(task, max(r, 0), who.address, scores, salt)
        self._tx(
            "commit_scores",
            task,
            self.arena.commit_scores,
            task,
            c,
            sender=who,
            phase=Phase.SCORE_COMMIT,
        )
        return c

    def reveal_scores(
        self,
        task: int,
        scores: Sequence[int],
        salt: bytes | str,
        sender: Any | None = None,
        page: int = REVEAL_PAGE,
    ):
        """Reveal ``scores`` (one per assigned slot, in slot order) in pages of ``page``
        scores, continuing after the pages already on chain (a reveal interrupted by a
        crash resumes where it stopped); the last page completes it (PROTOCOL.md §5)."""
        who = self._sender(sender)
        scores = [int(s) for s in scores]
        r = max(self.round_at(task, self.now()), 0)
        start = self.validator_round(task, r, who).assignments
        receipt = None
        while receipt is None or start < len(scores):
            chunk = scores[start : start + page]
            receipt = self._tx(
                "reveal_scores", task, self.arena.reveal_scores, task, chunk, to_bytes32(salt),
                sender=who, phase=Phase.SCORE_REVEAL,
            )  # fmt: skip
            start += len(chunk)
        return receipt

    def draw(self, task: int, round_: int, sender: Any | None = None) -> None:
        """Send ``draw(task, round_)`` (PROTOCOL.md §5a): the first call freezes the round's
        committees and commits to the next block; a later one fixes the seed."""
        self._tx("draw", task, self.arena.draw, task, round_, sender=self._sender(sender))

    def ensure_committees(
        self, task: int, round_: int, sender: Any | None = None, timeout: float = 120.0
    ) -> CommitteeDraw:
        """Draw ``round_``'s committees unless drawn (or redraw an expired draw) and wait
        until their seed is readable: on a local dev chain by mining blocks (blocks only come
        with transactions there), elsewhere by polling the head block. Returns the draw."""
        import time

        d = self.committee(task, round_)
        if not d.drawn or (not d.seeded and self.head_block() - d.target_block > SEED_WINDOW):
            self.draw(task, round_, sender=sender)
        deadline = time.monotonic() + timeout
        while True:
            d = self.committee(task, round_)
            if d.seeded:
                return d
            if time.monotonic() > deadline:
                raise ArenaError(
                    f"round {round_} of task {task}: the committee seed block {d.target_block} "
                    f"did not come within {timeout:.0f} s"
                )
            if self.is_local:
                self.mine_block()
            else:
                time.sleep(1.0)

    def finalize(
        self,
        task: int,
        *,
        max_steps: int = DEFAULT_FINALIZE_STEPS,
        all_rounds: bool = True,
        max_txs: int = 1000,
        sender: Any | None = None,
        progress: Callable[[int, RoundInfo], None] | None = None,
    ) -> FinalizeResult:
        """Finalize the next round (``all_rounds``: every round that is over), ``max_steps``
        units per transaction, until done. Raises ``ArenaError`` if nothing can be finalized."""
        who = self._sender(sender)
        done: list[int] = []
        txs = 0
        orders = RankOrders(self.arena)  # the RANK units' sorted slots (§6), once per round
        last: int | None = None
        while txs < max_txs:
            st = self.task_state(task)
            r = st.finalized_rounds
            if st.status != Status.ACTIVE or (done and not self.can_finalize(task)):
                break
            # a page starts at twice the last page's size (at most max_steps): few estimates
            start = max_steps if last is None else min(max_steps, 2 * last)
            steps, order = self._finalize_page(task, start, orders, who)
            last = steps
            self._tx(
                "finalize", task, self.arena.finalize, task, steps, order, sender=who, round_=r
            )
            txs += 1
            info = self.round_info(task, r)
            if progress is not None:
                progress(r, info)
            if info.done:
                done.append(r)
                if not all_rounds:
                    break
        ended = self.task_state(task).status == Status.ENDED
        return FinalizeResult(rounds=done, transactions=txs, task_ended=ended)

    def _finalize_page(self, task: int, max_steps: int, orders: RankOrders, who: Any):
        """``(steps, order)`` of the next finalize page: ``max_steps`` units, halved while
        the node's gas estimate of the page exceeds PAGE_GAS or fails (a page past the block
        gas limit fails its estimate; CONSENSUS units grow with the committee: at 1,024
        submissions and K = 64 a dozen of them pass 15M gas). A page that fails for another
        reason goes out at 1 unit and reports its revert."""
        steps = max_steps
        order = orders(task, steps)
        while steps > 1:
            try:
                gas = int(self.arena.finalize.estimate_gas_cost(task, steps, order, sender=who))
            except Exception:  # noqa: BLE001 (out of gas or a revert: smaller, then send)
                gas = None
            if gas is not None and gas <= PAGE_GAS:
                break
            steps //= 2
            order = orders(task, steps)
        return steps, order

    def claim(self, task: int, participant: Any | None = None, sender: Any | None = None) -> int:
        """Claim the sender's vested rewards from ``participant`` (default: the sender's own
        owner part). Returns the amount paid."""
        who = self._sender(sender)
        p = who if participant is None else participant
        receipt = self._tx(
            "claim", task, self.arena.claim, task, address_of(p), sender=who, participant=p
        )
        return sum_logs(receipt, self.arena.Claimed)

    def withdraw(self, task: int, participant: Any | None = None, sender: Any | None = None) -> int:
        """Withdraw stake (own, or the delegation to ``participant``) after the task ended."""
        who = self._sender(sender)
        p = who if participant is None else participant
        receipt = self._tx(
            "withdraw", task, self.arena.withdraw, task, address_of(p), sender=who, participant=p
        )
        return sum_logs(receipt, self.arena.Withdrawn)

    def claim_refund(self, task: int, sender: Any | None = None) -> int:
        self._check_task(task)
        st = self.task_state(task)
        if st.status == Status.ENDED and not st.refund_claimed and st.refund == 0:
            raise ArenaError(
                f"claim_refund failed: task {task} has nothing to refund (no void round, "
                "slash or rounding dust was left in its pot); no transaction was sent",
                "arena: nothing to refund",
            )
        receipt = self._tx("claim_refund", task, self.arena.claim_refund, task, sender=sender)
        return sum_logs(receipt, self.arena.RefundClaimed)

    def _sender(self, sender: Any | None):
        who = sender if sender is not None else self.account
        if who is None:
            raise ArenaError("no account: pass --account NAME (or give ArenaClient an account)")
        return who

    def _tx(self, action: str, task: int | None, fn, *args, sender=None, **ctx):
        """Send ``fn(*args)`` from ``sender``; a revert becomes an explained ``ArenaError``.

        The transaction is dry-run first with a plain ``eth_call`` (decoded here): that is
        fast and quiet, whereas a revert inside Ape's send path fetches and prints a full
        call trace. Ape's own error is still handled if the state changes in between.
        """
        from ape.exceptions import ContractLogicError

        who = self._sender(sender)
        raw = self._preflight(fn, args, who) if self.preflight else None
        if raw is None:
            try:
                return fn(*args, sender=who)
            except ContractLogicError as err:
                raw = revert_text(err)
                reasonless = raw in ("", getattr(err, "DEFAULT_MESSAGE", "Transaction failed."))
                if reasonless and self.preflight:
                    again = self._preflight(fn, args, who)
                    if again is None:  # no reason, and it would pass now: the state moved
                        raise TransientTxError(
                            f"{action} failed without a revert reason ({raw}) but passes a "
                            "dry run now: another transaction changed the state between the "
                            "gas estimate and the block; send it again",
                            raw,
                        ) from None
                    raw = again
        raise ArenaError(self.explain(raw, action, task, who, **ctx), raw) from None

    def _preflight(self, fn, args: tuple, who) -> str | None:
        """Dry-run a transaction; return its revert reason, or None if it would succeed (or
        the dry run is not possible on this provider)."""
        try:
            from ape import chain

            data = fn.encode_input(*args)
            to = str(fn.contract.address)
            w3 = chain.provider.web3
        except Exception:
            return None
        call = {"from": address_of(who), "to": to, "data": "0x" + bytes(data).hex()}
        for block in ("pending", "latest"):
            try:
                resp = w3.provider.make_request("eth_call", [call, block])
            except Exception:
                return None
            err = resp.get("error") if isinstance(resp, dict) else None
            if not err:
                return None
            reason = decode_rpc_revert(err)
            if reason is not None:
                return reason
        return None


def sum_logs(receipt: Any, event: Any) -> int:
    total = 0
    for log in receipt.decode_logs(event):
        total += int(log.amount)
    return total
