"""Training-node role: check a model before money moves, submit (store + commit), reveal.

The model hash of each commitment is kept in a small local state file,
``<state_dir>/node/<chain_id>/<arena>/task-<id>-<address>.json``, written *before* the commit
transaction so a crash between the two never loses what must be revealed.

Example::

    info, score = check(Path("model.onnx"), spec, data=Path("mine.npz"))
    sub = submit(client, task, "model.onnx", store=store, state_dir=state)
    reveal(client, task, state_dir=state)   # in the reveal phase
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_json
from ..protocol import ArenaClient, ArenaError, Phase, Role, hex32, model_commitment


@dataclass(frozen=True)
class LocalCheck:
    """Result of ``check``: static facts and, with data, a local score (uint64, 1e9 scale)."""

    sha256: str
    num_params: int
    size_bytes: int
    opset: int
    score: int | None = None
    reason: str = ""
    rows: int = 0
    warnings: tuple[str, ...] = ()
    """What looks wrong but is no rule (e.g. probabilities where the spec wants logits)."""


def check(
    model: str | os.PathLike[str],
    spec: Any,
    *,
    data: str | os.PathLike[str] | None = None,
    time_limit: float = 600.0,
    base: str | os.PathLike[str] | None = None,
) -> LocalCheck:
    """Static checks (``checks.check_model``; for a LoRA adapter, on its merge into the
    ``base`` model file) and, with ``data`` (an npz in the spec's eval format), a local score
    through the evaluation engine. Raises ``CheckError`` on a failed static rule; a model
    that fails at run time returns ``score=None`` with the reason."""
    from ..evaluation.adapter import check_submission
    from ..evaluation.spec import TaskSpec

    spec = spec if isinstance(spec, TaskSpec) else TaskSpec.load(spec)
    info = check_submission(model, spec, base)
    if data is None:
        return LocalCheck(info.sha256, info.num_params, info.size_bytes, info.opset)
    from ..evaluation.engine import file_sha256, score_models
    from ..evaluation.shards import load_shard

    rows = len(next(iter(load_shard(data, spec).values())))
    (res,) = score_models(
        spec, data, file_sha256(data), [(str(model), info.sha256)], time_limit=time_limit,
        progress=False, base_model=base,
    )  # fmt: skip
    return LocalCheck(
        info.sha256,
        info.num_params,
        info.size_bytes,
        info.opset,
        score=res.score if res.ok else None,
        reason="" if res.ok else f"{res.code}: {res.reason}",
        rows=rows,
        warnings=output_warnings(model, spec, data, info) if res.ok else (),
    )


PROBE_ROWS = 256


def output_warnings(
    model: str | os.PathLike[str], spec: Any, data: str | os.PathLike[str], info: Any
) -> tuple[str, ...]:
    """Warnings about the model's outputs on the first ``PROBE_ROWS`` rows of ``data``: for
    a spec that wants logits (classification and token metrics), outputs that are all >= 0
    and sum to 1 over the class axis look like probabilities. The engine would apply
    log-softmax to them again, so the score is wrong (and can even look better than the
    right log-probabilities on a badly calibrated model). ``info``: the model's
    ``checks.ModelInfo`` from the static checks (its external data, if any)."""
    import numpy as np
    import onnxruntime as ort

    from ..evaluation.shards import load_shard
    from ..evaluation.spec import CLASSIFICATION_METRICS, TOKEN_METRICS

    if spec.metric not in CLASSIFICATION_METRICS | TOKEN_METRICS:
        return ()
    from ..evaluation.adapter import is_adapter

    with open(model, "rb") as fh:
        if is_adapter(fh.read(1 << 16)):
            return ()  # an adapter's outputs are its merge's: a LoRA update cannot change them
    arrays = load_shard(data, spec)
    feeds = {t.name: np.asarray(arrays[t.data_key][:PROBE_ROWS]) for t in spec.inputs}
    from ..evaluation.external import add_to_session, read_local

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if info.external is not None:  # weights from the verified data file, in memory
        room = spec.limits.max_bytes - info.size_bytes
        add_to_session(opts, info.external, read_local(model, info.external, room))
    with open(model, "rb") as fh:
        sess = ort.InferenceSession(fh.read(), opts, providers=["CPUExecutionProvider"])
    (out,) = sess.run([spec.output.name], feeds)
    out = np.asarray(out, dtype=np.float64)
    if out.size and (out >= 0).all() and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
        return (
            f"the output {spec.output.name!r} looks like probabilities (every value >= 0, "
            f"each row sums to 1 on the first {len(out)} rows); the spec wants logits: export "
            "raw scores, or the Log of clipped probabilities (skl2onnx: drop the ZipMap and "
            "the label output, then Log(Clip(p, 1e-7)))",
        )
    return ()


# --------------------------------------------------------------------------- state
def state_file(state_dir: str | os.PathLike[str], scope: str, task: int, node: str) -> Path:
    return Path(state_dir) / "node" / scope / f"task-{task}-{node.lower()}.json"


def load_state(state_dir, scope: str, task: int, node: str) -> dict:
    path = state_file(state_dir, scope, task, node)
    if not path.is_file():
        return {"task": task, "node": node, "rounds": {}}
    return json.loads(path.read_text())


def _save_state(state_dir, scope: str, task: int, node: str, data: dict) -> Path:
    path = state_file(state_dir, scope, task, node)
    atomic_write_json(path, data)
    return path


def fetch_spec(client: ArenaClient, task: int, store: Any):
    """The task's spec from its ``spec_uri``, verified against the on-chain ``spec_hash``."""
    from ..evaluation.spec import TaskSpec

    p = client.task_params(task)
    path = store.get(p.spec_uri, p.spec_hash)
    return TaskSpec.load(path)


# --------------------------------------------------------------------------- submit / reveal
@dataclass(frozen=True)
class Submitted:
    task: int
    round: int
    model_sha256: str
    uri: str
    commitment: str
    state_file: str


def _commit_round(client: ArenaClient, task: int, wait: bool, on_wait) -> int:
    """The round to commit in; with ``wait``, wait for the next open commit window."""
    r = client.round_at(task, client.now())
    ph = client.current_phase(task)
    if ph == Phase.COMMIT or not wait:
        return max(r, 0)
    n = client.task_params(task).num_rounds
    target = 0 if ph == Phase.NOT_STARTED else r + 1
    if ph == Phase.ENDED or target >= n:
        raise ArenaError(f"task {task} has no commit window left (all {n} rounds are over)")
    client.wait_for_phase(task, target, Phase.COMMIT, on_wait=on_wait)
    return target


def submit(
    client: ArenaClient,
    task: int,
    model: str | os.PathLike[str],
    *,
    store: Any,
    state_dir: str | os.PathLike[str],
    uri_base: str | None = None,
    check_spec: bool = True,
    wait: bool = False,
    on_wait: Callable[[int, int], None] | None = None,
    sender: Any | None = None,
) -> Submitted:
    """Put the model in the store, (optionally) check it against the task's spec, then commit
    its hash for the current round. The hash is saved locally before the transaction."""
    who = client._sender(sender)
    client._check_task(task)  # an unknown id is not "join it first"
    part = client.participant(task, who)
    if part.role != Role.NODE:
        raise ArenaError(
            f"{who.address} has not joined task {task} as a node; "
            f"run `ape arena node join {task} --amount N` first"
        )
    if check_spec:
        check_for_task(client, task, store, model)
    _put_external(store, model)
    sha, local_uri = store.put(model)
    uri = f"{uri_base.rstrip('/')}/{sha}" if uri_base else local_uri
    r = _commit_round(client, task, wait, on_wait)
    c = model_commitment(sha, who.address, task, r)
    state = load_state(state_dir, client.scope, task, who.address)
    state["rounds"][str(r)] = {
        "model_sha256": sha,
        "uri": uri,
        "commitment": hex32(c),
        "file": str(Path(model).resolve()),
        "revealed": False,
    }
    path = _save_state(state_dir, client.scope, task, who.address, state)
    client.commit_model(task, sha, sender=who, round_=r)
    return Submitted(task, r, sha, uri, hex32(c), str(path))


def check_for_task(client: ArenaClient, task: int, store: Any, model: Any) -> Any:
    """The validators' static checks of ``model`` against the task's spec, fetched and
    hash-checked: an adapter on its merge into the task's base (fetched too), a model with
    external data with its data file verified. Returns ``checks.ModelInfo``; raises
    ``checks.CheckError`` (or a store error if the spec or base cannot be fetched)."""
    from ..evaluation.adapter import check_submission

    spec = fetch_spec(client, task, store)
    base = spec.chat.base if spec.chat is not None else None
    base_path = store.get(base.model_uri, base.model_sha256) if base is not None else None
    return check_submission(model, spec, base_path)


def _put_external(store: Any, model: str | os.PathLike[str]) -> None:
    """The model's external-data file (``evaluation/external.py``), from the model's folder,
    into the store beside it: validators fetch it from the model's URI with the model's
    sha256 replaced by the data's."""
    from ..evaluation.external import ExternalDataError, declared, local_data

    ext = declared(model)
    if ext is None:
        return
    try:
        data = local_data(Path(model).resolve().parent, ext)
    except ExternalDataError as exc:
        raise ArenaError(f"{model}: {exc.reason}") from None
    got, _ = store.put(data)
    if got != ext.sha256:
        raise ArenaError(
            f"{data} has sha256 {got} but {model} declares {ext.sha256}: seal the model again "
            "(`ape arena node seal`)"
        )


def reveal(
    client: ArenaClient,
    task: int,
    round_: int | None = None,
    *,
    state_dir: str | os.PathLike[str],
    wait: bool = False,
    on_wait: Callable[[int, int], None] | None = None,
    sender: Any | None = None,
) -> dict:
    """Reveal the model committed in ``round_`` (default: the current round)."""
    who = client._sender(sender)
    state = load_state(state_dir, client.scope, task, who.address)
    r = max(client.current_round(task), 0) if round_ is None else int(round_)
    entry = state["rounds"].get(str(r))
    if entry is None:
        have = ", ".join(sorted(state["rounds"])) or "none"
        raise ArenaError(
            f"no local commitment of {who.address} for task {task} round {r} (rounds on record: "
            f"{have}); submit with `ape arena node submit {task} MODEL.onnx` in a commit phase"
        )
    onchain = client.model_commit(task, r, who)
    if onchain.committed and hex32(onchain.commitment) != entry["commitment"]:
        raise ArenaError(
            f"the local record for task {task} round {r} ({state_file(state_dir, client.scope, task, who.address)}) "
            "does not match your on-chain commitment; it is from another submission: "
            "re-submit in a commit phase"
        )
    if wait:
        client.wait_for_phase(task, r, Phase.REVEAL, on_wait=on_wait)
    client.reveal_model(task, entry["model_sha256"], entry["uri"], sender=who)
    entry["revealed"] = True
    _save_state(state_dir, client.scope, task, who.address, state)
    return {"task": task, "round": r, **entry}
