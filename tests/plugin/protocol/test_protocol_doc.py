"""contracts/PROTOCOL.md is what an outside client builds from: its event list and its view
signatures must be the compiled ABI's, field for field (types, names, which are indexed,
return types)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def abi_events() -> set[str]:
    data = json.loads((ROOT / "plugins/ape_arena/protocol/abi/Arena.json").read_text())
    abi = data["abi"] if isinstance(data, dict) else data
    return {
        f"{e['name']}("
        + ", ".join(
            f"{i['type']}{' indexed' if i['indexed'] else ''} {i['name']}" for i in e["inputs"]
        )
        + ")"
        for e in abi
        if e["type"] == "event"
    }


def doc_events() -> set[str]:
    """The list items of PROTOCOL.md written as typed signatures: `Name(type [indexed] name, …)`."""
    field = r"[a-z0-9\[\]]+(?: indexed)? \w+"
    pattern = rf"^- `(\w+\((?:{field}(?:, {field})*)?\))`$"
    return set(re.findall(pattern, (ROOT / "contracts/PROTOCOL.md").read_text(), flags=re.M))


def test_protocol_md_lists_every_event_of_the_abi_exactly():
    documented, compiled = doc_events(), abi_events()
    assert compiled - documented == set(), "events missing from PROTOCOL.md §9"
    assert documented - compiled == set(), "PROTOCOL.md §9 lists events the ABI does not have"


def _type(x: dict) -> str:
    if x["type"].startswith("tuple"):
        inner = ", ".join(f"{_type(c)} {c['name']}" for c in x["components"])
        return f"({inner}){x['type'][5:]}"
    return x["type"]


def test_protocol_md_gives_every_view_with_its_return_type():
    data = json.loads((ROOT / "plugins/ape_arena/protocol/abi/Arena.json").read_text())
    abi = data["abi"] if isinstance(data, dict) else data
    compiled = {
        f"{f['name']}("
        + ", ".join(f"{_type(i)} {i['name']}" for i in f["inputs"])
        + ") -> "
        + ", ".join(_type(o) for o in f["outputs"])
        for f in abi
        if f["type"] == "function"
        and f["stateMutability"] in ("view", "pure")
        and not f["name"].isupper()
    }
    text = (ROOT / "contracts/PROTOCOL.md").read_text()
    arg = r"[a-z0-9\[\]]+ \w+"
    typed = rf"^- `(\w+\((?:{arg}(?:, {arg})*)?\) -> [^`]+)`$"
    documented = set(re.findall(typed, text, flags=re.M))
    assert compiled - documented == set(), "views missing from PROTOCOL.md §9"
    assert documented - compiled == set(), "PROTOCOL.md §9 lists views the ABI does not have"
