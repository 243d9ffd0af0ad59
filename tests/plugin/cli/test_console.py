"""``ape console`` extension: records print with hex hashes and enum names; the extras (and
their banner) run at start."""

from __future__ import annotations

from types import SimpleNamespace

from ape_arena.cli.console import load_ipython_extension, readable, record_types
from ape_arena.protocol import RoundInfo, TaskState


def test_records_print_hex_and_names():
    st = TaskState(
        creator="0x70997970C51812dc3A010C7d01b50e0d17dc79C8", status=1, finalized_rounds=0,
        carry=0, refund=0, refund_claimed=False, participant_count=2, validator_count=1,
        total_own_stake=5, round_length=600,
    )  # fmt: skip
    text = readable(st)
    assert text.startswith("TaskState(creator='0x7099") and "status=ACTIVE" in text
    values = {f: 0 for f in RoundInfo.__dataclass_fields__}
    values.update(shard_sha256=b"\xab" * 32, shard_uri="file:///x", stage=2, void_reason=3)
    text = readable(RoundInfo(**values))
    assert "shard_sha256=0x" + "ab" * 32 in text and "void_reason=NO_QUORUM" in text
    assert "stage=" in text and "stage=2" not in text
    assert {c.__name__ for c in record_types()} >= {"TaskState", "Submission", "Participant"}


def test_extension_registers_printers_and_runs_the_extras():
    registered, touched = {}, []

    class Formatter:
        def for_type(self, cls, fn):
            registered[cls] = fn

    class Namespace(dict):
        def __getitem__(self, key):
            touched.append(key)
            raise KeyError(key)  # as when no deployment exists: the extras said why

    ipython = SimpleNamespace(
        display_formatter=SimpleNamespace(formatters={"text/plain": Formatter()}),
        user_ns=Namespace(),
    )
    load_ipython_extension(ipython)
    assert touched == ["arena"] and TaskState in registered and bytes in registered
    out = []
    registered[bytes](b"\x01\x02", SimpleNamespace(text=out.append), False)
    assert out == ["0x0102"]
