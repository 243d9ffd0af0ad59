"""The explorer's data shaping, without a chain: JSON that JavaScript reads without losing a
wei, the pot split of a round (what carries on and what goes to the refund), the series the
charts draw."""

from __future__ import annotations

import json

from ape_arena.tools.explorer.data import SAFE_INT, loss_series, pot_split, score_series, to_json


def test_integers_past_2_53_go_out_as_strings_and_smaller_ones_as_numbers():
    data = {"wei": 10**21, "small": SAFE_INT, "neg": -(SAFE_INT + 1), "ok": True, "none": None,
            "nested": [{"x": 2**64 - 1}], "h": b"\x01\x02", "f": 0.5}  # fmt: skip
    back = json.loads(to_json(data))
    assert back == {"wei": str(10**21), "small": SAFE_INT, "neg": str(-(SAFE_INT + 1)),
                    "ok": True, "none": None, "nested": [{"x": str(2**64 - 1)}], "h": "0x0102",
                    "f": 0.5}  # fmt: skip


def sub(slot, node, consensus, reward):
    return {"slot": slot, "node": node, "consensus": consensus, "reward": reward}


def report(rounds, finalized=2, num_rounds=2):
    return {"params": {"num_rounds": num_rounds}, "finalized_rounds": finalized, "rounds": rounds}


def round_(r, pot, paid, slashed, subs, validators=(), void=None):
    return {"round": r, "pot": pot, "paid": paid, "slashed": slashed, "void": void,
            "submissions": list(subs), "validators": list(validators)}  # fmt: skip


def test_pot_split_rolls_the_unpaid_rest_over_and_refunds_it_after_the_last_round():
    rep = report([
        round_(0, 1000, 990, 7, [sub(0, "a", 0.5, 600), sub(1, "b", 0.7, 0)]),
        round_(1, 1017, 1000, 0, [sub(0, "a", 0.4, 400)]),
    ])  # fmt: skip
    r0, r1 = pot_split(rep)
    assert r0 == {"round": 0, "pot": 1000, "nodes": 600, "validators": 390, "slashed": 7,
                  "rolled_over": 10, "refunded": 0, "void": None}  # fmt: skip
    assert r1["nodes"] + r1["validators"] == 1000
    assert (r1["rolled_over"], r1["refunded"]) == (0, 17)


def test_pot_split_leaves_out_rounds_not_finalized_and_shows_a_void_round_rolled_over():
    rep = report([round_(0, 500, 0, 0, [], void="no_quorum"), round_(1, 1500, 0, 0, [])],
                 finalized=1, num_rounds=3)  # fmt: skip
    assert pot_split(rep) == [{"round": 0, "pot": 500, "nodes": 0, "validators": 0,
                               "slashed": 0, "rolled_over": 500, "refunded": 0,
                               "void": "no_quorum"}]  # fmt: skip


def test_loss_series_has_one_value_per_finalized_round_for_every_node():
    rep = report([
        round_(0, 0, 0, 0, [sub(0, "a", 0.5, 0), sub(1, "b", None, 0)]),
        round_(1, 0, 0, 0, [sub(0, "c", 0.3, 0), sub(1, "a", 0.4, 0)]),
    ])  # fmt: skip
    assert loss_series(rep) == {"rounds": [0, 1],
                                "nodes": {"a": [0.5, 0.4], "b": [None, None], "c": [None, 0.3]}}  # fmt: skip


def test_score_series_puts_every_validator_in_slot_order_and_skips_those_that_did_not_reveal():
    rr = round_(0, 0, 0, 0, [sub(1, "b", 0.7, 0), sub(0, "a", 0.5, 0)], validators=[
        {"validator": "v1", "revealed": True, "scores": [0.51, 0.69], "deviation": 0.01,
         "agreement": 0.9, "slash": 0},
        {"validator": "v2", "revealed": False, "scores": [], "deviation": 0, "agreement": 0,
         "slash": 5},
    ])  # fmt: skip
    s = score_series(rr)
    assert s["slots"] == [0, 1] and s["nodes"] == ["a", "b"] and s["consensus"] == [0.5, 0.7]
    assert [v["validator"] for v in s["validators"]] == ["v1"]
    assert s["validators"][0]["scores"] == [0.51, 0.69]
