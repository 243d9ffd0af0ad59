"""``ape console`` in this project: the ``arena`` banner at start, readable records.

ape-config.yaml lists this module under ``console.plugins``, so IPython loads it when the
console starts: it touches ``arena`` in the namespace, which runs the project's
``ape_console_extras.py`` at once (Ape would otherwise run it, and print its banner, only
when ``arena`` is first typed), and registers plain-text printers so that the client's
records show hashes as ``0x…`` hex and stages, statuses, roles and void reasons by name::

    In [1]: arena.task_state(1)
    Out[1]: TaskState(creator='0x7099…', status=ACTIVE, finalized_rounds=0, …)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..protocol import types as t
from ..protocol.ranking import STATUS_NAMES

#: record field -> how to show its int (per record class where names differ)
_ENUMS: dict[tuple[str, str], Any] = {
    ("TaskState", "status"): t.Status,
    ("RoundInfo", "stage"): t.Stage,
    ("RoundInfo", "void_reason"): t.VoidReason,
    ("Participant", "role"): t.Role,
    ("Submission", "status"): lambda v: STATUS_NAMES.get(int(v), str(v)).upper(),
}


def readable(record: Any) -> str:
    """``Name(field=value, …)`` with bytes as 0x-hex and enum ints by name."""
    parts = []
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        conv = _ENUMS.get((type(record).__name__, field.name))
        if isinstance(value, bytes | bytearray):
            shown = "0x" + bytes(value).hex()
        elif conv is not None:
            try:
                named = conv(int(value))
                shown = named.name if hasattr(named, "name") else str(named)
            except (ValueError, KeyError):
                shown = repr(value)
        else:
            shown = repr(value)
        parts.append(f"{field.name}={shown}")
    return f"{type(record).__name__}({', '.join(parts)})"


def record_types() -> list[type]:
    return [
        obj
        for obj in vars(t).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == t.__name__
    ]


def load_ipython_extension(ipython: Any) -> None:
    """IPython hook: printers for the records and bytes, then the extras (and banner)."""
    plain = ipython.display_formatter.formatters["text/plain"]
    for cls in record_types():
        plain.for_type(cls, lambda obj, p, cycle: p.text(readable(obj)))
    for cls in (bytes, bytearray):
        plain.for_type(cls, lambda obj, p, cycle: p.text("0x" + bytes(obj).hex()))
    try:
        ipython.user_ns["arena"]  # runs ape_console_extras.ape_init_extras: prints the banner
    except KeyError:
        pass  # no deployment on this chain: the extras said why
