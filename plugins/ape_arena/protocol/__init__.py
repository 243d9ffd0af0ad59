"""The chain side: ``client`` (``ArenaClient``, the only code that talks to the deployed
contracts), ``types`` (constants, enums and the typed records of every view),
``commitments`` (model and score commitments exactly as PROTOCOL.md §5 builds them),
``reverts`` (revert reasons explained in one line), ``deploy`` / ``deployments`` (deploying
the contracts and the per-chain address records) and ``wallet`` (Ape accounts).

It knows nothing of ONNX or scoring and never imports ``evaluation``, ``roles``, ``tools``
or ``cli``.
"""

from .client import ArenaClient, local_warp
from .commitments import model_commitment, new_salt, score_commitment
from .types import *  # noqa: F403 - the constants, enums and records are the package's API
from .types import __all__ as _types_all

__all__ = [
    "ArenaClient",
    "local_warp",
    "model_commitment",
    "new_salt",
    "score_commitment",
    *_types_all,
]
