"""What a validator must never lose: its scores and salt per round, saved before the commit
transaction (``roles/validator.py`` explains the crash-safety rules this serves).

One JSON file per chain/arena/task/validator/round::

    <state_dir>/<chain>/<arena>/task-<id>/<validator>/round-<r>.json

(``<chain>`` is the chain id, plus the genesis hash on local dev chains, whose ids repeat),
written atomically (``fsutil.atomic_write_json``); ``status`` goes ``scored`` ->
``committed`` -> ``revealed``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_json
from ..protocol import LOCAL_CHAIN_IDS
from .loop import LoopError

STATE_VERSION = 1
SCORED, COMMITTED, REVEALED = "scored", "committed", "revealed"
STATUS_ORDER = {SCORED: 0, COMMITTED: 1, REVEALED: 2}


class ValidatorError(LoopError):
    """The validator cannot go on (bad configuration, lost state, repeated tx failure)."""


@dataclass
class RoundState:
    """What a validator must never lose for one round: its scores and its salt."""

    chain: str
    arena: str
    task: int
    round: int
    validator: str
    shard_sha256: str
    models: list[str]
    """sha256 (hex) of each revealed submission, in slot order (what was scored)."""
    scores: list[int]
    """One per slot of ``slots``, in that order (what is committed and revealed)."""
    reasons: list[str]
    salt: str
    """0x-hex bytes32, drawn once per round and never replaced."""
    commitment: str
    status: str = SCORED
    slots: list[int] = field(default_factory=list)
    """The slots of its committees (PROTOCOL.md §5a), ascending."""
    log: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    """What scored the round: library versions, GPUs, each model's engine path
    (``evaluation.pool.machine_info``); empty in files written before it was kept."""
    version: int = STATE_VERSION

    def note(self, text: str) -> None:
        self.log.append(f"{int(time.time())} {text}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundState:
        if data.get("version") != STATE_VERSION:
            raise ValidatorError(f"state file version {data.get('version')} is not supported")
        return cls(**data)


class StateStore:
    """The validator's state folder for one chain/arena/task/validator."""

    def __init__(
        self, root: str | os.PathLike[str], chain: str, arena: str, task: int, validator: str
    ):
        self.chain = chain
        self.folder = Path(root) / chain / arena.lower() / f"task-{task}" / validator.lower()

    def path(self, round_: int) -> Path:
        return self.folder / f"round-{round_}.json"

    def load(self, round_: int) -> RoundState | None:
        path = self.path(round_)
        if not path.exists():
            return None
        try:
            return RoundState.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise ValidatorError(
                f"state file {path} is unreadable ({exc}); it holds this round's salt: "
                "inspect it by hand, do not delete it while the round is open"
            ) from None

    def save(self, state: RoundState) -> Path:
        path = self.path(state.round)
        atomic_write_json(path, asdict(state))
        return path

    def set_aside(self, round_: int, why: str) -> Path | None:
        """Move a state file that does not belong to this chain's round out of the way."""
        path = self.path(round_)
        if not path.exists():
            return None
        dest = path.with_name(f"{path.name}.stale-{int(time.time())}")
        os.replace(path, dest)
        return dest


def chain_key(chain_id: int, genesis_hash: str | None) -> str:
    """Folder name of a chain: the id; local dev chains (ids repeat) add their genesis hash."""
    if chain_id in LOCAL_CHAIN_IDS and genesis_hash:
        return f"{chain_id}-{genesis_hash.lower().removeprefix('0x')[:16]}"
    return str(chain_id)


def state_dir_from_config() -> Path:
    """``arena.state_dir`` of ape-config.yaml (relative to the working folder)."""
    try:
        from ape import config

        name = config.get_config("arena").state_dir
    except Exception:  # outside an Ape project
        name = ".arena/state"
    return Path.cwd() / name
