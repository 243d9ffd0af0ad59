"""Deployment records: one JSON file per chain id, written by ``ape run deploy``.

The file maps contract names to addresses plus metadata (deployer, block, time). The plugin
reads it back to find the arena on the connected chain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_json


class DeploymentExistsError(RuntimeError):
    """Raised when a live deployment would be overwritten without ``--force``."""


def deployments_dir(root: Path | None = None) -> Path:
    """Return the configured deployments folder (``arena.deployments_dir``)."""
    try:
        from ape import config

        name = config.get_config("arena").deployments_dir
    except Exception:  # outside an Ape project: fall back to the default
        name = "deployments"
    base = Path(root) if root is not None else Path.cwd()
    return base / name


def deployment_path(chain_id: int, root: Path | None = None) -> Path:
    return deployments_dir(root) / f"{chain_id}.json"


def load(chain_id: int, root: Path | None = None) -> dict[str, Any]:
    """Load the deployment record for ``chain_id``.

    Raises:
        FileNotFoundError: with a hint to run ``ape run deploy`` when none exists.
    """
    path = deployment_path(chain_id, root)
    if not path.exists():
        raise FileNotFoundError(
            f"no AIArena deployment for chain {chain_id} ({path}); run `ape run deploy` first"
        )
    return json.loads(path.read_text())


def save(
    chain_id: int,
    contracts: dict[str, str],
    *,
    is_live: bool,
    force: bool = False,
    meta: dict[str, Any] | None = None,
    root: Path | None = None,
) -> Path:
    """Write the deployment record atomically.

    A record for a live chain (anything but a local dev chain) is never overwritten unless
    ``force`` is set; local chains are ephemeral, so their records are simply replaced.
    """
    path = deployment_path(chain_id, root)
    if path.exists() and is_live and not force:
        raise DeploymentExistsError(
            f"{path} already records a live deployment on chain {chain_id}; "
            "pass --force to replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "chain_id": chain_id,
        "contracts": contracts,
        "deployed_at": int(time.time()),
        **(meta or {}),
    }
    atomic_write_json(path, record)
    return path
