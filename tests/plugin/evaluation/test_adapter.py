"""LoRA adapters on a committed base model (``evaluation/adapter.py``) through the real
engine: an adapter scores exactly as the whole model merged independently (numpy matmul),
merging is deterministic, and every rule breach is INVALID with its code while the other
submissions of the round are scored; a missing or wrong base stops the round instead."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from ape_arena.evaluation.adapter import (
    AdapterError,
    base_shapes,
    is_adapter,
    merge_adapter,
    read_adapter,
    write_adapter,
)
from ape_arena.evaluation.chat import ChatTemplate, chat_arrays
from ape_arena.evaluation.engine import Engine, ShardError
from ape_arena.evaluation.export import export_model
from ape_arena.evaluation.shards import write_shard
from ape_arena.evaluation.spec import TaskSpec
from onnx import numpy_helper

from tests.plugin.evaluation.test_chat_engine import CONTEXT, TinyLM, chat_spec, dialogues
from tests.plugin.evaluation.test_chat_engine import tokenizer as tokenizer  # noqa: F401, PLC0414

T = ChatTemplate()
F32_UNITS = 440


@pytest.fixture(scope="module")
def task(tmp_path_factory, tokenizer):  # noqa: F811
    tok, tok_sha = tokenizer
    vocab = tok.get_vocab_size()
    folder = tmp_path_factory.mktemp("lora")
    plain = chat_spec(tok_sha, vocab)
    base_path = folder / "base.onnx"
    base_sha = export_model(TinyLM(vocab).eval(), plain, base_path)
    base = onnx.load(str(base_path))
    shapes = {n: s for n, s in base_shapes(base).items() if len(s) == 2}
    raw = plain.model_dump(mode="json")
    raw["chat"]["base"] = {"model_sha256": base_sha, "adaptable": sorted(shapes), "max_rank": 4}
    spec = TaskSpec.model_validate(raw)
    arrays = chat_arrays(dialogues(24, 5), tok, T, CONTEXT)
    shard = folder / "shard.npz"
    shard_sha = write_shard(arrays, shard)
    return spec, shard, shard_sha, base_path, base, shapes, folder


def lora(shapes, rank=2, seed=0, names=None, scale=0.05):
    rng = np.random.default_rng(seed)
    out = {}
    for name in names or sorted(shapes):
        rows, cols = shapes[name]
        out[name] = ((rng.standard_normal((rank, cols)) * scale).astype(np.float32),
                     (rng.standard_normal((rows, rank)) * scale).astype(np.float32))  # fmt: skip
    return out


def score(task, models):
    spec, shard, shard_sha, base_path, *_ = task
    with Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu", progress=False,
                base_model=base_path) as engine:  # fmt: skip
        return engine.score_round(models)


def test_an_adapter_scores_as_the_independently_merged_whole_model(task):
    spec, shard, shard_sha, base_path, base, shapes, folder = task
    pairs = lora(shapes, rank=3, seed=1)
    adapter_sha = write_adapter(folder / "a.safetensors", pairs, alpha=6.0)
    # independently: numpy's matmul in float64, scale alpha / r = 2
    whole = onnx.ModelProto()
    whole.CopyFrom(base)
    for init in whole.graph.initializer:
        if init.name in pairs:
            a, b = pairs[init.name]
            w = numpy_helper.to_array(init).astype(np.float64) + 2.0 * (b.astype(np.float64) @ a)
            init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), init.name))
    (folder / "whole.onnx").write_bytes(whole.SerializeToString())
    whole_sha = hashlib.sha256((folder / "whole.onnx").read_bytes()).hexdigest()
    base_res, ada, full = score(task, [
        (str(base_path), spec.chat.base.model_sha256),
        (str(folder / "a.safetensors"), adapter_sha),
        (str(folder / "whole.onnx"), whole_sha),
    ])  # fmt: skip
    assert base_res.ok and ada.ok and full.ok, (ada.reason, full.reason)
    assert abs(ada.score - full.score) <= F32_UNITS
    assert ada.score != base_res.score  # the adapter changed the model
    # merging is deterministic: the same bytes every time
    adapter = read_adapter((folder / "a.safetensors").read_bytes())
    assert merge_adapter(base, adapter) == merge_adapter(base, adapter)
    assert adapter.alpha == 6.0 and adapter.rank(sorted(pairs)[0]) == 3


def test_rule_breaches_are_invalid_with_their_code_and_the_round_goes_on(task):
    spec, shard, shard_sha, base_path, base, shapes, folder = task
    names = sorted(shapes)
    cases = {}

    def add(label, pairs=None, data=None, alpha=None):
        path = folder / f"{label}.safetensors"
        if data is None:
            sha = write_adapter(path, pairs, alpha=alpha)
        else:
            path.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
        cases[label] = (str(path), sha)

    add("ok", lora(shapes))
    add("adapter_name", {"not.a.weight": lora(shapes)[names[0]]})
    add("adapter_rank", lora(shapes, rank=5))
    a, b = lora(shapes)[names[0]]
    add("adapter_shape", {names[0]: (a[:, :-1], b)})
    bad = lora(shapes)
    bad[names[0]] = (bad[names[0]][0] * np.float32("nan"), bad[names[0]][1])
    add("adapter_format", bad)
    from safetensors.numpy import save

    add("unpaired", data=save({f"{names[0]}.lora_A": a}))
    add("alpha", lora(shapes), alpha=-1.0)
    # trained with another tokenizer: an adapter and a whole model that say so
    other_tok = "ab" * 32
    path = folder / "tok.safetensors"
    cases["tokenizer_mismatch"] = (str(path), write_adapter(path, lora(shapes), None, None,
                                                            other_tok))  # fmt: skip
    path = folder / "same_tok.safetensors"
    cases["same_tokenizer"] = (str(path), write_adapter(path, lora(shapes), None, None,
                                                        spec.chat.tokenizer_sha256))  # fmt: skip
    whole = onnx.ModelProto()
    whole.CopyFrom(base)
    onnx.helper.set_model_props(whole, {"arena.tokenizer_sha256": other_tok})
    (folder / "tok_whole.onnx").write_bytes(whole.SerializeToString())
    cases["tokenizer_whole"] = (str(folder / "tok_whole.onnx"),
                                hashlib.sha256(whole.SerializeToString()).hexdigest())  # fmt: skip
    results = dict(zip(cases, score(task, list(cases.values())), strict=True))
    assert results["ok"].ok and results["same_tokenizer"].ok
    for label in ("tokenizer_mismatch", "tokenizer_whole"):
        res = results[label]
        assert res.code == "tokenizer_mismatch" and other_tok in res.reason, res
        assert spec.chat.tokenizer_sha256 in res.reason
    for label in ("adapter_name", "adapter_rank", "adapter_shape", "adapter_format"):
        assert results[label].status == "invalid" and results[label].code == label, results[label]
    assert results["unpaired"].code == "adapter_format" and "lora_B" in results["unpaired"].reason
    assert results["alpha"].code == "adapter_format" and "alpha" in results["alpha"].reason
    assert "not one the task lets adapters change" in results["adapter_name"].reason
    assert "allows 1..4" in results["adapter_rank"].reason


def test_a_missing_or_wrong_base_stops_the_round(task):
    spec, shard, shard_sha, base_path, base, shapes, folder = task
    path = folder / "a2.safetensors"
    sha = write_adapter(path, lora(shapes))
    with pytest.raises(ShardError, match="base model"),\
            Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu") as engine:  # fmt: skip
        engine.score_round([(str(path), sha)])
    other = folder / "other.onnx"
    other.write_bytes(base_path.read_bytes() + b"\0")
    with pytest.raises(ShardError, match="the task commits to"),\
            Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu",
                   base_model=other) as engine:  # fmt: skip
        engine.score_round([(str(path), sha)])


def test_adapter_bytes_are_told_from_onnx_bytes(task):
    _, _, _, base_path, _, shapes, folder = task
    write_adapter(folder / "x.safetensors", lora(shapes))
    assert is_adapter((folder / "x.safetensors").read_bytes())
    assert not is_adapter(base_path.read_bytes())
    with pytest.raises(AdapterError, match="adapter_format"):
        read_adapter(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")


def test_node_check_takes_an_adapter_with_the_base(task):
    """``ape arena node check adapter.safetensors --spec S --base B [--data D]``: the rules,
    the merged model's checks and a local score; without (the right) base a clear error."""
    from ape_arena._cli import cli
    from click.testing import CliRunner

    spec, shard, _, base_path, _, shapes, folder = task
    spec_file = spec.write(folder / "spec.json")
    adapter = folder / "node.safetensors"
    write_adapter(adapter, lora(shapes, seed=4))
    args = ["node", "check", str(adapter), "--spec", str(spec_file)]
    res = CliRunner().invoke(cli, [*args, "--base", str(base_path), "--data", str(shard)])
    assert res.exit_code == 0, res.output
    assert "passes the static checks" in res.output and "local score on 24 rows" in res.output
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "needs the task's base model (--base)" in res.output
    wrong = folder / "wrong.onnx"
    wrong.write_bytes(base_path.read_bytes() + b"\0")
    res = CliRunner().invoke(cli, [*args, "--base", str(wrong)])
    assert res.exit_code == 1 and "is not the task's base model" in res.output
    big = folder / "big.safetensors"
    write_adapter(big, lora(shapes, rank=6))
    res = CliRunner().invoke(cli, ["node", "check", str(big), "--spec", str(spec_file),
                                   "--base", str(base_path)])  # fmt: skip
    assert res.exit_code == 1 and "adapter_rank" in res.output


def test_an_adapter_for_another_base_is_invalid_and_scores_are_the_same_bytes_in_two_processes(
    task,
):
    """An adapter whose metadata names another base is INVALID ``adapter_base`` (one naming
    the task's base is scored); the same adapter scored by two engines (two worker
    processes) gives identical score bytes."""
    spec, shard, shard_sha, base_path, base, shapes, folder = task
    mine = folder / "mine.safetensors"
    mine_sha = write_adapter(
        mine, lora(shapes, seed=7), 4.0, base_sha256=spec.chat.base.model_sha256
    )
    other = folder / "other-base.safetensors"
    other_sha = write_adapter(other, lora(shapes, seed=7), 4.0, base_sha256="ab" * 32)
    first = score(task, [(str(mine), mine_sha), (str(other), other_sha)])
    assert first[0].ok and first[1].code == "adapter_base", first[1]
    assert "made for base abab" in first[1].reason
    (second,) = score(task, [(str(mine), mine_sha)])
    assert (second.score, second.total, second.count) == (
        first[0].score,
        first[0].total,
        first[0].count,
    )
    assert float(second.total).hex() == float(first[0].total).hex()
