"""Task creator role: create a task from a spec + eval shard folder, reveal shards, report.

The creator's local state (which shard folder belongs to which task) is a small JSON file per
task under ``<state_dir>/creator/<chain_id>/<arena>/task-<id>.json`` so ``reveal_eval`` needs only
the task id and round.

Example::

    created = create_task(client, "digits.json", "shards/", bounty=3000 * 10**18,
                          store=ArtifactStore.from_config(), state_dir=Path(".arena/state"))
    reveal_eval(client, created.task, 0, store=..., state_dir=...)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_json
from ..protocol import (
    INVALID_SCORE,
    UNAVAILABLE_SCORE,
    WAD,
    ArenaClient,
    ArenaError,
    Phase,
    Stage,
    Status,
    TaskParams,
    VoidReason,
    hex32,
)
from ..protocol.ranking import STATUS_NAMES


@dataclass(frozen=True)
class CreatedTask:
    task: int
    spec_sha256: str
    spec_uri: str
    eval_root: str
    num_rounds: int
    start_time: int
    shard_dir: str
    state_file: str


def state_file(state_dir: Path, scope: str, task: int) -> Path:
    return Path(state_dir) / "creator" / scope / f"task-{task}.json"


def publish_uri(sha256: str, local_uri: str, uri_base: str | None) -> str:
    return f"{uri_base.rstrip('/')}/{sha256}" if uri_base else local_uri


def create_task(
    client: ArenaClient,
    spec_file: str | os.PathLike[str],
    shard_dir: str | os.PathLike[str],
    *,
    bounty: int,
    store: Any,
    state_dir: str | os.PathLike[str],
    rounds: int | None = None,
    start_in: int = 600,
    uri_base: str | None = None,
    sender: Any | None = None,
    log: Callable[[str], None] = lambda _m: None,
    **params: Any,
) -> CreatedTask:
    """Hash the spec, commit to the shards' Merkle root, store both, deposit the bounty.

    ``params`` are any other ``TaskParams`` fields (durations, stakes, WAD fractions …).
    The spec is stored and hashed in its canonical form (``TaskSpec.to_json``), so the
    on-chain ``spec_hash`` is what everyone fetching ``spec_uri`` verifies.
    """
    from ..evaluation.shards import ShardManifest
    from ..evaluation.spec import TaskSpec

    spec = TaskSpec.load(spec_file)
    spec_bytes = spec.to_json()
    if Path(spec_file).read_bytes() != spec_bytes:
        log(f"note: {spec_file} is not in canonical form; the canonical bytes are published")
    spec_sha, spec_local = store.put(spec_bytes)
    spec_uri = publish_uri(spec_sha, spec_local, uri_base)

    folder = Path(shard_dir)
    if not (folder / "manifest.json").is_file():
        raise ArenaError(
            f"{folder} has no manifest.json; build the shards with ape_arena.evaluation.shards.build_shards "
            "(one npz per round plus the manifest)"
        )
    manifest = ShardManifest.load(folder)
    if manifest.tree.first_round != 0:
        raise ArenaError(f"{folder}/manifest.json must start at round 0")
    n_shards = len(manifest.shards)
    num_rounds = n_shards if rounds is None else int(rounds)
    if not 1 <= num_rounds <= n_shards:
        raise ArenaError(
            f"--rounds {num_rounds} needs one shard per round but {folder} has {n_shards}"
        )
    for info in manifest.shards[:num_rounds]:
        sha, _ = store.put(manifest.path(info.round))
        if sha != info.sha256.lower().removeprefix("0x"):
            raise ArenaError(
                f"shard {manifest.path(info.round)} has sha256 {sha}, the manifest says "
                f"{info.sha256}; rebuild the shards"
            )

    start_time = client.now() + int(start_in) if start_in else 0
    tree = manifest.tree_for(num_rounds)
    prm = TaskParams(
        bounty=int(bounty),
        spec_hash=spec.sha256(),
        eval_root=tree.root,
        spec_uri=spec_uri,
        num_rounds=num_rounds,
        start_time=start_time,
        **params,
    )
    task = client.create_task(prm, sender=sender)
    path = state_file(Path(state_dir), client.scope, task)
    created = CreatedTask(
        task=task,
        spec_sha256=spec_sha,
        spec_uri=spec_uri,
        eval_root=hex32(tree.root),
        num_rounds=num_rounds,
        start_time=client.task_params(task).start_time,
        shard_dir=str(folder.resolve()),
        state_file=str(path),
    )
    atomic_write_json(path, {**asdict(created), "arena": client.address, "uri_base": uri_base})
    return created


def load_state(state_dir: str | os.PathLike[str], scope: str, task: int) -> dict:
    path = state_file(Path(state_dir), scope, task)
    if not path.is_file():
        raise ArenaError(
            f"no creator record for task {task} of {scope} ({path}); "
            "pass --shards DIR (the folder with manifest.json)"
        )
    return json.loads(path.read_text())


def reveal_eval(
    client: ArenaClient,
    task: int,
    round_: int | None = None,
    *,
    store: Any,
    state_dir: str | os.PathLike[str],
    shard_dir: str | os.PathLike[str] | None = None,
    uri_base: str | None = None,
    wait: bool = False,
    on_wait: Callable[[int, int], None] | None = None,
    sender: Any | None = None,
) -> dict:
    """Reveal round ``round_``'s shard (default: the current round) with its Merkle proof."""
    from ..evaluation.shards import ShardError, ShardManifest

    if shard_dir is None or uri_base is None:
        try:
            saved = load_state(state_dir, client.scope, task)
        except ArenaError:
            if shard_dir is None:
                raise
            saved = {}
        shard_dir = shard_dir or saved["shard_dir"]
        uri_base = uri_base if uri_base is not None else saved.get("uri_base")
    manifest = ShardManifest.load(shard_dir)
    r = client.current_round(task) if round_ is None else int(round_)
    if r < 0:
        r = 0
    if r not in manifest.tree.rounds:
        raise ArenaError(f"round {r} has no shard in {shard_dir} (rounds {manifest.tree.rounds})")
    if wait:
        client.wait_for_phase(task, r, Phase.EVAL, on_wait=on_wait)
    params = client.task_params(task)
    try:
        tree = manifest.tree_for(params.num_rounds)
    except ShardError as err:
        raise ArenaError(f"{shard_dir} is not task {task}'s shard set: {err}") from None
    if params.eval_root != tree.root:
        raise ArenaError(
            f"{shard_dir} is not task {task}'s shard set (its root {hex32(tree.root)} "
            f"!= on-chain eval_root {hex32(params.eval_root)})"
        )
    sha, local_uri = store.put(manifest.path(r))
    uri = publish_uri(sha, local_uri, uri_base)
    client.reveal_eval(task, r, tree.shard(r), uri, tree.proof(r), sender=sender)
    return {"task": task, "round": r, "shard_sha256": sha, "shard_uri": uri}


# --------------------------------------------------------------------------- reporting
def _score(x: int) -> float | None:
    return None if x in (INVALID_SCORE, UNAVAILABLE_SCORE) else x / 1e9


def round_report(client: ArenaClient, task: int, r: int) -> dict:
    """Everything about one round: pot, submissions ranked by consensus, validators' D/F.

    Once the round is past CONSENSUS each submission has a ``status`` (scored, split,
    unscored, unavailable); ``rank`` numbers the bucket winners (the submissions with rank
    weight), best first; the other members of a bucket earn nothing (PROTOCOL.md §6)."""
    info = client.round_info(task, r)
    subs = client.submissions(task, r)
    finalized = info.stage > Stage.CONSENSUS or info.done
    rows = []
    for s in subs:
        rows.append(
            {
                "slot": s.slot,
                "node": s.node,
                "model_sha256": hex32(s.model_sha256),
                "uri": s.uri,
                "commit_seq": s.commit_seq,
                "key": s.key,
                "status": STATUS_NAMES.get(s.status, str(s.status)) if finalized else None,
                "consensus": (_score(s.consensus) if finalized else None),
                "consensus_raw": s.consensus,
                "stake": s.stake,
                "weight": s.weight / WAD,
                "reward": s.reward,
            }
        )
    if finalized:
        eligible = sorted(
            (x for x in rows if x["weight"] > 0),
            key=lambda x: (x["consensus_raw"], x["key"]),
        )
        for rank, x in enumerate(eligible):
            x["rank"] = rank
        rows.sort(key=lambda x: (x.get("rank", 10**9), x["consensus_raw"], x["key"]))
    vals = []
    for j, v in enumerate(client.validators(task)):
        vr = client.validator_round(task, r, v)
        if not (vr.committed or vr.revealed):
            continue
        vals.append(
            {
                "index": j,
                "validator": v,
                "committed": vr.committed,
                "revealed": vr.revealed,
                "stake": vr.stake,
                "deviation": vr.deviation / WAD if finalized else None,
                "agreement": vr.agreement / WAD if finalized else None,
                "reward": vr.reward,
                "slash": vr.slash,
                "scores": (  # per slot; None where it sat on no committee
                    [
                        None if x is None else _score(x)
                        for x in client.scores_by_slot(task, r, v, len(subs))
                    ]
                    if vr.revealed
                    else []
                ),
            }
        )
    return {
        "round": r,
        "stage": Stage(info.stage).name.lower(),
        "void": VoidReason(info.void_reason).name.lower() if info.void_reason else None,
        "eval_revealed": info.eval_revealed,
        "shard_sha256": hex32(info.shard_sha256) if info.eval_revealed else None,
        "shard_uri": info.shard_uri,
        "pot": info.pot,
        "emission": info.emission_amount,
        "nodes_pot": info.nodes_pot,
        "validators_pot": info.validators_pot,
        "node_stake": info.node_stake,
        "validator_stake": info.validator_stake,
        "paid": info.paid,
        "slashed": info.slashed,
        "commits": info.commit_count,
        "submissions": rows,
        "validators": vals,
        "committee": committee_report(client, task, r),
    }


def committee_report(client: ArenaClient, task: int, r: int) -> dict | None:
    """The round's committee draw (PROTOCOL.md §5a), with each validator's assigned slots
    and each slot's committee size once the seed is readable; None before ``draw``."""
    d = client.committee(task, r)
    if not d.drawn:
        return None
    out = {
        "target_block": d.target_block,
        "seed": hex32(d.seed) if d.seeded else None,
        "weight": d.weight,
        "committee_size": d.committee_size,
        "submissions": d.submissions,
        "assignments": {},
        "members": [],
        "revealed": [],
    }
    if d.seeded:
        members = [0] * d.submissions
        revealed = [0] * d.submissions  # coverage: members that revealed their scores
        for v in client.validators(task):
            slots = client.assignments(task, r, v)
            out["assignments"][v] = slots
            shown = client.validator_round(task, r, v).revealed
            for k in slots:
                members[k] += 1
                revealed[k] += shown
        out["members"] = members
        out["revealed"] = revealed
    return out


def task_report(client: ArenaClient, task: int, round_: int | None = None) -> dict:
    """The task, where it is in time, and one ``round_report`` per round so far."""
    p = client.task_params(task)
    st = client.task_state(task)
    sched = client.schedule(task)
    upto = min(max(sched["round"], st.finalized_rounds - 1, 0), p.num_rounds - 1)
    rounds = [round_] if round_ is not None else list(range(0, upto + 1))
    if round_ is not None and not 0 <= round_ < p.num_rounds:
        raise ArenaError(f"task {task} has rounds 0..{p.num_rounds - 1}")
    params = asdict(p)
    params["spec_hash"] = hex32(p.spec_hash)
    params["eval_root"] = hex32(p.eval_root)
    return {
        "task": task,
        "arena": client.address,
        "chain_id": client.chain_id,
        "status": Status(st.status).name.lower(),
        "creator": st.creator,
        "params": params,
        "finalized_rounds": st.finalized_rounds,
        "carry": st.carry,
        "refund": st.refund,
        "refund_claimed": st.refund_claimed,
        "participants": st.participant_count,
        "validators": st.validator_count,
        "total_own_stake": st.total_own_stake,
        "now": {
            "round": sched["round"],
            "phase": Phase(sched["phase"]).label,
            "phase_end": sched["phase_end"],
            "time": sched["now"],
        },
        "rounds": [round_report(client, task, r) for r in rounds],
        "stake_at_risk": stake_at_risk(client, task),
    }


def task_page(count: int, limit: int, below: int | None) -> tuple[int, int, int | None]:
    """``(first, last, next_below)``: the ids of at most ``limit`` tasks below ``below``
    (default: all ``count``), newest first from ``last`` down to ``first``; ``next_below``
    is the ``below`` of the next page (None when this one reaches task 1)."""
    last = count if below is None else min(count, int(below) - 1)
    first = max(1, last - limit + 1)
    return first, last, first if first > 1 else None


def task_list(client: ArenaClient, limit: int = 20, below: int | None = None) -> dict:
    """One row per task, newest first: at most ``limit`` tasks with ids below ``below``
    (default: every id), so a long list is read page by page (``next_below``)."""
    if limit < 1:
        raise ArenaError(f"limit must be >= 1, got {limit}")
    count = client.task_count()
    first, last, next_below = task_page(count, limit, below)
    rows = []
    for t in range(last, first - 1, -1):
        p = client.task_params(t)
        st = client.task_state(t)
        sched = client.schedule(t)
        rows.append(
            {
                "task": t,
                "creator": st.creator,
                "status": Status(st.status).name.lower(),
                "round": sched["round"],
                "rounds": p.num_rounds,
                "phase": Phase(sched["phase"]).label,
                "phase_end": sched["phase_end"],
                "bounty": p.bounty,
                "participants": st.participant_count,
                "validators": st.validator_count,
                "finalized_rounds": st.finalized_rounds,
            }
        )
    return {
        "arena": client.address,
        "chain_id": client.chain_id,
        "task_count": count,
        "tasks": rows,
        "next_below": next_below,
    }


def stake_at_risk(client: ArenaClient, task: int) -> dict:
    """What backs each validator's vote and what a slash takes (PROTOCOL.md §8): a slash
    takes the same fraction of the validator's own stake and of its delegations, so a
    delegator carries its validator's risk. ``kept`` is what one delegated token is worth
    now (1.0 until the validator is first slashed)."""
    p = client.task_params(task)
    rows = []
    for v in client.validators(task):
        pt = client.participant(task, v)
        rows.append(
            {
                "validator": v,
                "own": pt.own_active,
                "delegated": pt.del_active,
                "slashed": pt.slashed,
                "delegations_burned": pt.del_burned,
                "kept": pt.kept,
                "delegators_may_leave": pt.slash_round != 0,
            }
        )
    return {"slash_miss": p.slash_miss / WAD, "slash_dev": p.slash_dev / WAD, "validators": rows}


def default_params(**overrides: Any) -> dict:
    """The ``TaskParams`` defaults (without bounty/hashes), with ``overrides`` applied."""
    base = TaskParams(bounty=1, spec_hash=b"\0" * 32, eval_root=b"\0" * 32)
    out = {
        k: v
        for k, v in asdict(replace(base, **overrides)).items()
        if k not in ("bounty", "spec_hash", "eval_root", "spec_uri", "num_rounds", "start_time")
    }
    return out
