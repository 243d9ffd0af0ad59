"""``make gas``: gas of every Arena function at the largest sizes (``measure``), sent in bulk
through anvil's JSON-RPC (``net``), written as tables (``report``)."""

from .measure import main, run
from .net import disable_anvil_steps_tracing

__all__ = ["disable_anvil_steps_tracing", "main", "run"]
