"""``make scale`` (ape_arena.tools.scale) at a small size: the round it plays pays and slashes
as the protocol says, and titanoboa's gas equals anvil's receipts call for call once both
draw the same seed (the comparison the report publishes)."""

from __future__ import annotations

import boa
import pytest
from ape_arena.tools import scale
from ape_arena.tools.scale_chains import AnvilChain, BoaChain, intrinsic_gas

SMALL = {"nodes": 6, "validators": 14, "delegators": 30}


@pytest.fixture
def boa_env():
    """A titanoboa chain with its own contracts (BoaChain commits each call as a transaction,
    so it cannot run inside an anchor); the process's default sender is restored."""
    eoa = boa.env.eoa
    yield BoaChain()
    boa.env.eoa = eoa


def test_small_round_pays_and_slashes(boa_env):
    ppl = scale.people(**SMALL)
    scale.fund(boa_env, ppl, lambda _: None)
    res = scale.play(boa_env, ppl, 4, lambda _: None, check_views=len(ppl.validators))
    arena = boa_env.arena
    # the whale holds 10% of W: p = min(1, 4 * 0.1) = 0.4 < 1 at K = 4
    w = int(boa_env.view(arena, "committee", res.task, 0).weight)
    whale = boa_env.view(arena, "effective_stake", res.task, ppl.whale, 0)
    assert whale * 10 == pytest.approx(w, rel=1e-9)
    assert res.whale_p == pytest.approx(0.4)
    # the liar deviates (slashed slash_dev if it sat on a scored committee), the silent one
    # missed its reveal (slash_miss = 10% of its effective stake, rounded up)
    burned = boa_env.view(arena, "validator_round", res.task, 0, ppl.silent).burned
    # the view reads the stake after the slash: add the slash back
    silent = (
        boa_env.view(arena, "effective_stake", res.task, ppl.silent, 0) + res.silent_slash + burned
    )
    if res.assignments[ppl.silent]:  # own part to the pot, delegated part burned, each rounded up
        assert -(-silent // 10) <= res.silent_slash + burned <= -(-silent // 10) + 1
    else:
        assert res.silent_slash == burned == 0
    honest = ppl.validators[0]
    assert boa_env.view(arena, "validator_round", res.task, 0, honest).slash == 0
    assert int(boa_env.view(arena, "round_info", res.task, 0).stage) == 6  # DONE (PROTOCOL.md §6)
    # the keeper (draw twice, every finalize page) was paid the round's tips in tokens
    tipped = boa_env.view(boa_env.token, "balanceOf", ppl.keeper) - 10**27
    assert tipped == res.keeper_tips > 2 * 10**18
    # play() checked every validator's assignments against the contract's view (check_views)
    assert max(res.pages) < scale.TX_LIMIT


def test_intrinsic_gas():
    assert intrinsic_gas(b"") == 21_000
    assert intrinsic_gas(b"\x00\x01") == 21_000 + 4 + 16


@pytest.mark.anvil
def test_titanoboa_gas_equals_anvil_receipts(boa_env):
    """The same round with the same seed block hash: every function's gas (all calls, not
    only medians) is the same on both chains."""
    ppl = scale.people(**SMALL)
    anvil = AnvilChain()
    try:
        scale.fund(anvil, ppl, lambda _: None)
        ra = scale.play(anvil, ppl, 4, lambda _: None)
    finally:
        anvil.close()
    scale.fund(boa_env, ppl, lambda _: None)
    try:
        rb = scale.play(boa_env, ppl, 4, lambda _: None, pin_hash=ra.target_hash)
    finally:
        boa_env.unpin_block_hash()
    assert ra.assignments == rb.assignments
    assert set(anvil.gas) == set(boa_env.gas)
    for label, gas in anvil.gas.items():
        assert boa_env.gas[label] == gas, label


def test_report_renders_from_its_json(boa_env):
    """scale-report.md is rendered from the figures saved in scale-report.json (--from-json
    writes it again without playing): the round's row, the largest transaction, χ²."""
    import json
    from dataclasses import asdict

    ppl = scale.people(**SMALL)
    scale.fund(boa_env, ppl, lambda _: None)
    res = scale.play(boa_env, ppl, 4, lambda _: None)
    gas = {k: [*scale._stats(v), len(v)] for k, v in boa_env.gas.items()}
    tip = {"txs": 3, "extra": [60_000, 30_000, 50_000], "units": [12], "per_unit": 1_500.0}
    raw = {
        "sizes": SMALL,
        "results": [{**asdict(res), "target_hash": res.target_hash.hex()}],
        "gas": [gas],
        "replay": [{"function": "join (node)", "calls": 1, "anvil": 1, "boa": 1, "diff": 0.0}],
        "capture": [
            {"share": 0.1, "K": 4, "one_identity": 0.0, "sybils": 0.0, "stake_weighted": 1.0}
        ],
        "keeper_tip": tip,
        "fund_s": 1.0,
    }
    text, biggest = scale.render(json.loads(json.dumps(raw)))
    top = max((st[2], k) for k, st in gas.items())
    assert biggest == (top[0], top[1], 4)
    assert f"**{SMALL['nodes']} nodes, {SMALL['validators']} validators" in text
    row = next(
        line for line in text.splitlines() if line.startswith("| 4 | ") and "committees |" in line
    )
    assert f"{res.capture} of {SMALL['nodes']} committees" in row
    assert f"| {len(res.pages)} | {max(res.pages):,} |" in row
