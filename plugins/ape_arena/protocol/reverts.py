"""Contract reverts explained: the raw reason (``"arena: wrong phase"``) -> one line that says
what happened and what to do next, reading chain state where the answer depends on it.

``STATIC_HINTS`` holds the reasons whose explanation needs no chain state; ``RevertExplainer``
(mixed into ``client.ArenaClient``) answers the others from the views.
"""

from __future__ import annotations

from typing import Any

from .types import (
    MAX_SUBMISSIONS,
    Phase,
    Role,
    Status,
    address_of,
    fmt_time,
    fmt_tokens,
    fmt_wad,
)

STATIC_HINTS: dict[str, str] = {
    "bad order": "the order passed to finalize is not the round's eligible submissions sorted by (consensus, key); compute it with ape_arena.protocol.ranking.rank_order",
    "round being finalized": "a round is being finalized (paged); leave once its finalize is complete",
    "eval not revealed": "the creator revealed no eval shard this round, so no model can be revealed (the round is void)",
    "deposits closed": "deposits now would only count after the last round; this task takes no more stake",
    "nothing to withdraw": "nothing left to withdraw for this position (already withdrawn or fully slashed)",
    "creator cannot join": "the task creator cannot join its own task; use another account",
    "has participants": "someone already joined; a task can only be cancelled before anyone joins",
    "rounds finalized": "a round was already finalized; the task can no longer be cancelled",
    "cannot delegate to self": "you cannot delegate to yourself; top up with `ape arena node join` instead",
    "already revealed": "already revealed in this round",
    "duplicate model": "another node revealed this model hash first; submit your own model",
    "bad proof": "the shard hash and proof do not match the task's eval root at this round's position; use the saved shard manifest",
    "eval already revealed": "this round's eval shard is already revealed",
    "refund already claimed": "the refund was already claimed",
    "zero amount": "amount must be greater than zero",
    "parameter out of range": "a task parameter is out of its allowed range (see contracts/PROTOCOL.md §2)",
    "commission out of range": "commission must be between 0 and 1",
    "committees drawn": "this round's committees are drawn; leave after the round is finalized",
    "round finalized": "that round is finalized already; its committees are final",
    "finalize earlier rounds first": "draw the first unfinalized round; finalize the rounds before it first (`ape arena finalize`)",
    "reveals not closed": "committees are drawn once the round's model reveals close (SCORE_COMMIT or later)",
    "seed block not mined": "the draw's target block is not mined yet; send the call again in a later block",
    "already drawn": "the committees of this round are drawn and their seed is fixed",
    "committees not drawn": "this round's committees are not drawn yet, or their seed block is not past: `draw` the round (the validator loop does) and commit in a later block",
}
"""Revert reasons whose explanation needs no chain state (the others are in ``_hint``)."""


class RevertExplainer:
    """``explain(raw, action, task, sender)``: a revert string -> one actionable line."""

    def explain(self, raw: str, action: str, task: int | None, sender: Any, **ctx: Any) -> str:
        """A revert string -> one line saying what happened and what to do next."""
        reason = raw.removeprefix("arena: ").strip()
        who = address_of(sender)
        try:
            hint = self._hint(reason, action, task, who, **ctx)
        except Exception:  # a view failing must never hide the original revert
            hint = None
        text = f"{action} failed: {hint or reason}"
        return " ".join(text.split())

    def _hint(self, reason: str, action: str, task, who: str, **ctx) -> str | None:  # noqa: C901
        if task is None:
            if "insufficient" in reason or "exceeds balance" in reason:
                return "not enough ARENA tokens for this transfer"
            return None
        if reason in STATIC_HINTS:
            return STATIC_HINTS[reason]
        if reason == "unknown task":
            return f"task {task} does not exist (tasks 1..{self.task_count()}); check the id and --network"
        if reason == "paused" or reason.startswith("pausable"):
            return "the arena is paused by its owner; claims, withdrawals and reveals still work"
        if reason == "wrong phase":
            return self._phase_hint(task, ctx.get("phase"), ctx.get("round_"))
        if reason == "wrong round":
            r = self.current_round(task)
            return f"only the current round's shard can be revealed (now round {r}); use round {r}"
        if reason.startswith("finalize round"):
            n = reason.split()[-2]
            return f"round {n} is not finalized yet; run `ape arena task finalize {task}` first"
        if reason == "round not over":
            st = self.task_state(task)
            r = ctx.get("round_", st.finalized_rounds)
            return f"round {r} ends at {fmt_time(self.round_end(task, r))}; finalize after that"
        if reason == "stake not active":
            p = self.participant(task, who)
            return (
                f"your stake activates in round {p.pending_round} (now round "
                f"{self.current_round(task)}); wait for that round's commit phase"
            )
        if reason == "task not active":
            st = self.task_state(task)
            return f"task {task} is {Status(st.status).name.lower()}; nothing more happens in it"
        if reason == "task not ended":
            st = self.task_state(task)
            n = self.task_params(task).num_rounds
            end = self.round_end(task, n - 1)
            return (
                f"stake stays locked until task {task} ends ({st.finalized_rounds}/{n} rounds "
                f"finalized, last round ends {fmt_time(end)}); then run finalize and retry"
            )
        if reason == "nothing to claim":
            if self.task_state(task).status == Status.ENDED:
                return f"nothing left to claim in task {task}: every vested reward was claimed"
            return (
                "nothing claimable now: rewards appear when rounds are finalized "
                "(the vested part at once, the rest when the task ends)"
            )
        if reason == "not a participant":
            p = ctx.get("participant")
            return f"{address_of(p) if p is not None else who} has not joined task {task}"
        if reason == "below minimum stake":
            prm = self.task_params(task)
            return (
                f"minimum stake is {fmt_tokens(prm.min_node_stake)} ARENA for nodes, "
                f"{fmt_tokens(prm.min_validator_stake)} for validators"
            )
        if reason == "commission is fixed":
            c = self.participant(task, who).commission
            return f"commission was fixed at {fmt_wad(c)} when you joined; pass --commission {fmt_wad(c)} to top up"
        if reason == "role mismatch":
            role = Role(self.participant(task, who).role).name.lower()
            return f"you joined task {task} as a {role}; one role per address per task"
        if reason == "not creator":
            return f"only the creator ({self.task_state(task).creator}) can do this"
        if reason == "not a node":
            return f"{who} has not joined task {task} as a node; run `ape arena node join {task}` first"
        if reason == "not a validator":
            return f"{who} has not joined task {task} as a validator; run `ape arena validator join {task}` first"
        if reason == "no commitment":
            return f"{who} made no commitment in round {max(self.current_round(task), 0)}; commit in the next round's commit phase"
        if reason == "bad reveal":
            return (
                f"the revealed data does not match {who}'s commitment for round "
                f"{max(self.current_round(task), 0)}; reveal exactly what you committed"
            )
        if reason == "round full":
            return f"round already has the maximum of {MAX_SUBMISSIONS} submissions"
        if reason == "too many scores":
            return (
                f"more scores than {who} has committee slots left to reveal in round "
                f"{max(self.current_round(task), 0)}; give one score per assigned slot, in slot order"
            )
        if reason == "empty page":
            return f"{who} still has committee slots to reveal; an empty page reveals nothing"
        if "insufficient" in reason or "exceeds balance" in reason:
            return f"not enough ARENA: {who} holds {fmt_tokens(self.balance(who))}"
        return None

    def _phase_hint(self, task: int, want: Phase | None, round_: int | None) -> str:
        now_r, now_ph = self.current_round(task), self.current_phase(task)
        here = f"task {task} is in {now_ph.label}" + (
            f" of round {now_r}" if Phase.COMMIT <= now_ph <= Phase.SCORE_REVEAL else ""
        )
        if want is None:
            return f"wrong phase: {here}"
        want = Phase(int(want))
        params = self.task_params(task)
        r = now_r if round_ is None else round_
        if now_ph == Phase.NOT_STARTED:
            start, _ = self.phase_window(task, 0, want)
            return f"{here}; the {want.label} phase of round 0 opens at {fmt_time(start)}"
        if now_ph == Phase.ENDED or r >= params.num_rounds:
            return f"{here}; all {params.num_rounds} rounds are over"
        start, end = self.phase_window(task, max(r, 0), want)
        if self.now() >= end:
            nxt = r + 1
            if nxt >= params.num_rounds:
                return f"the {want.label} window of round {r} closed at {fmt_time(end)} and it was the last round"
            nstart, _ = self.phase_window(task, nxt, want)
            return (
                f"the {want.label} window of round {r} closed at {fmt_time(end)}; wait for "
                f"round {nxt} ({want.label} opens {fmt_time(nstart)})"
            )
        return f"{here}; the {want.label} phase of round {r} opens at {fmt_time(start)}"


def revert_text(err: Exception) -> str:
    msg = getattr(err, "revert_message", None) or getattr(err, "message", None) or str(err)
    return str(msg).strip().splitlines()[0] if str(msg).strip() else "transaction reverted"


def decode_rpc_revert(err: dict) -> str | None:
    """An ``eth_call`` JSON-RPC error -> the revert string (None if it is no revert)."""
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        from eth_abi import decode as abi_decode

        try:
            return abi_decode(["string"], bytes.fromhex(data[10:]))[0]
        except Exception:
            pass
    message = str(err.get("message", ""))
    if "revert" in message.lower():
        reason = message.split("reverted", 1)[-1].lstrip(": ").strip()
        return reason or "transaction reverted"
    return None
