"""One account's money across the arena: ``ape arena status`` and the claim messages.

For each task (newest first, a page at a time) where the account is a node or validator, a
delegator, or the creator: its stake, what is delegated to it, what it can claim now, what
is still vesting until the task ends, what was slashed, what it can withdraw, the refund.
Delegations are found from the ``Delegated`` events the account sent (the contract keeps
no per-delegator index), from ``from_block`` on.

Example::

    report = account_status(client, "0x3C44…93BC")
    for row in report["tasks"]: print(row["task"], row["role"], row["claimable"])
"""

from __future__ import annotations

from typing import Any

from ..protocol import WAD, ArenaClient, Role, Status, address_of
from .creator import task_page


def still_vesting(
    client: ArenaClient, task: int, participant: Any, account: Any, claimable_now: int
) -> tuple[int, bool]:
    """What ``account`` earned from ``participant`` in ``task`` that vests only when the task
    ends (PROTOCOL.md: a part ``delta`` of each reward is claimable at once), and whether
    the figure is exact. An owner's is exact (``owner_earned`` is kept on-chain); a
    delegation's settles on-chain when touched, so it is derived from what vested
    (claimable + claimed) and may be off by ``WAD / delta`` wei. 0 once the task ended."""
    st = client.task_state(task)
    if st.status != Status.ACTIVE:
        return 0, True
    p = client.task_params(task)
    if address_of(participant) == address_of(account):
        earned = client.participant(task, participant).owner_earned
        return earned - earned * p.delta // WAD, True
    if p.delta == 0:
        return 0, False  # nothing vests early, so nothing tells how much was earned
    vested = claimable_now + client.delegation(task, participant, account).claimed
    return vested * (WAD - p.delta) // p.delta, False


def account_status(
    client: ArenaClient,
    account: Any,
    *,
    limit: int = 50,
    below: int | None = None,
    from_block: int = 0,
) -> dict:
    """The account's positions in the tasks with ids below ``below`` (default: all), at
    most ``limit`` tasks, newest first (see the module docstring for the fields)."""
    who = address_of(account)
    first, last, next_below = task_page(client.task_count(), limit, below)
    backed: dict[int, set[str]] = {}
    for log in client.arena.Delegated.range(
        int(from_block), search_topics={"delegator": who}
    ):  # fmt: skip
        task = int(log.task)
        if first <= task <= last:
            backed.setdefault(task, set()).add(address_of(log.participant))
    rows = []
    for task in range(last, first - 1, -1):
        st = client.task_state(task)
        status = Status(st.status).name.lower()
        if st.creator == who:
            rows.append(
                {
                    "task": task, "role": "creator", "status": status,
                    "refund": st.refund, "refund_claimed": st.refund_claimed,
                }
            )  # fmt: skip
        part = client.participant(task, who)
        if part.role in (Role.NODE, Role.VALIDATOR):
            claimable = client.claimable(task, who)
            vesting, exact = still_vesting(client, task, who, who, claimable)
            rows.append(
                {
                    "task": task, "role": Role(part.role).name.lower(), "status": status,
                    "stake": part.own_active + part.own_pending, "delegated": part.del_active,
                    "claimable": claimable, "vesting": vesting, "vesting_exact": exact,
                    "slashed": part.slashed, "withdrawable": client.withdrawable(task, who),
                }
            )  # fmt: skip
        for participant in sorted(backed.get(task, ())):
            claimable = client.claimable(task, participant, who)
            vesting, exact = still_vesting(client, task, participant, who, claimable)
            rows.append(
                {
                    "task": task, "role": "delegator", "status": status,
                    "participant": participant,
                    "stake": client.delegation_value(task, participant, who),
                    "claimable": claimable, "vesting": vesting, "vesting_exact": exact,
                    "withdrawable": client.withdrawable(task, participant, who),
                }
            )  # fmt: skip
    return {
        "account": who,
        "arena": client.address,
        "chain_id": client.chain_id,
        "tasks_checked": [first, last] if last >= first else [],
        "tasks": rows,
        "next_below": next_below,
    }
