"""``ape arena node train-lora`` (``roles/node_train.py``): a node fine-tunes a LoRA adapter of
the task's base checkpoint on its own chat JSONL with peft; the adapter passes the
validators' checks, carries the base's and the tokenizer's hash, and beats the base on
held-out dialogues through the real engine. Inputs that do not fit the task are refused
before any training with the reason."""

from __future__ import annotations

import json

import pytest
import torch
from ape_arena._cli import cli
from ape_arena.evaluation.adapter import check_submission, read_adapter
from ape_arena.evaluation.chat import ChatTemplate, chat_arrays
from ape_arena.evaluation.engine import Engine
from ape_arena.evaluation.hf import export_causal_lm
from ape_arena.evaluation.shards import write_shard
from ape_arena.evaluation.spec import TaskSpec
from ape_arena.roles.node_train import TrainError, train_lora
from click.testing import CliRunner

from tests.plugin.evaluation.test_chat_engine import CONTEXT, chat_spec, dialogues
from tests.plugin.evaluation.test_chat_engine import tokenizer as tokenizer  # noqa: F401, PLC0414
from tests.plugin.evaluation.test_hf_lora import tiny

T = ChatTemplate()


@pytest.fixture(scope="module")
def task(tmp_path_factory, tokenizer):  # noqa: F811
    tok, tok_sha = tokenizer
    root = tmp_path_factory.mktemp("train")
    tok.save(str(root / "tokenizer.json"))
    plain = chat_spec(tok_sha, tok.get_vocab_size(), "bits_per_byte")
    base = tiny("llama", tok.get_vocab_size())
    base_sha, names = export_causal_lm(base, plain, root / "base.onnx")
    base.save_pretrained(root / "base-hf")
    raw = plain.model_dump(mode="json")
    raw["chat"]["base"] = {"model_sha256": base_sha, "max_rank": 4,
                           "adaptable": sorted(v for k, v in names.items()
                                               if k.endswith(("q_proj.weight", "v_proj.weight")))}  # fmt: skip
    spec = TaskSpec.model_validate(raw)
    spec.write(root / "spec.json")
    mine = root / "mine.jsonl"
    mine.write_text("".join(json.dumps({"conversations": d}) + "\n" for d in dialogues(96, 11)))
    shard = root / "eval.npz"
    shard_sha = write_shard(chat_arrays(dialogues(32, 12), tok, T, CONTEXT), shard)
    return spec, root, (shard, shard_sha)


def test_the_adapter_passes_the_checks_and_beats_the_base(task):
    spec, root, (shard, shard_sha) = task
    out = root / "adapter.safetensors"
    steps = []
    res = train_lora(spec, root / "base-hf", root / "tokenizer.json", root / "mine.jsonl", out,
                     base_onnx=root / "base.onnx", steps=40, lr=1e-2,
                     on_step=lambda i, loss: steps.append(i))  # fmt: skip
    assert steps == list(range(1, 41)) and res.last_loss < res.first_loss
    assert res.rank == 4 and res.dialogues == 96 and len(res.modules) == 4  # 2 layers x q, v
    info = check_submission(out, spec, root / "base.onnx")
    assert info.sha256 == res.sha256
    adapter = read_adapter(out.read_bytes())
    assert adapter.base_sha256 == spec.chat.base.model_sha256
    assert adapter.tokenizer_sha256 == spec.chat.tokenizer_sha256
    assert sorted(adapter.pairs) == sorted(spec.chat.base.adaptable)
    with Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu", progress=False,
                base_model=root / "base.onnx") as e:  # fmt: skip
        base_res, ada = e.score_round([(str(root / "base.onnx"), spec.chat.base.model_sha256),
                                       (str(out), res.sha256)])  # fmt: skip
    assert base_res.ok and ada.ok, ada.reason
    assert ada.score < base_res.score  # fine-tuning on the task's kind of dialogue helped


def test_inputs_that_do_not_fit_the_task_are_refused(task, tmp_path, tokenizer):  # noqa: F811
    spec, root, _ = task
    args = (root / "base-hf", root / "tokenizer.json", root / "mine.jsonl", tmp_path / "a.st")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(json.loads((root / "tokenizer.json").read_text())) + " ")
    with pytest.raises(TrainError, match="the task's tokenizer is"):
        train_lora(spec, args[0], other, *args[2:], steps=1)
    with pytest.raises(TrainError, match=r"allows 1\.\.4"):
        train_lora(spec, *args, rank=5, steps=1)
    with pytest.raises(TrainError, match="no adaptable weight matches"):
        train_lora(spec, *args, modules=["gate_proj"], steps=1)
    # a checkpoint with other weights than the committed base
    wrong = tiny("llama", tokenizer[0].get_vocab_size())
    with torch.no_grad():
        wrong.model.layers[0].self_attn.q_proj.weight.add_(0.5)
    wrong.save_pretrained(tmp_path / "wrong-hf")
    with pytest.raises(TrainError, match="not the base the task committed to"):
        train_lora(spec, tmp_path / "wrong-hf", *args[1:], base_onnx=root / "base.onnx", steps=1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": [{"from": "human", "value": "hi"}]}\n')
    with pytest.raises(TrainError, match="no assistant turn"):
        train_lora(spec, args[0], args[1], bad, args[3], steps=1)
    assert not (tmp_path / "a.st").exists()  # nothing written for refused inputs


def test_the_command_trains_and_says_what_to_do_next(task, tmp_path):
    spec, root, _ = task
    out = tmp_path / "cli.safetensors"
    argv = ["node", "train-lora", str(root / "mine.jsonl"), "--spec", str(root / "spec.json"),
            "--base-hf", str(root / "base-hf"), "--tokenizer", str(root / "tokenizer.json"),
            "--base", str(root / "base.onnx"), "-o", str(out), "--steps", "3", "--rank", "2"]  # fmt: skip
    res = CliRunner().invoke(cli, argv)
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "rank 2 on 4 weights" in res.output
    assert f"next: ape arena node check {out}" in res.output
    assert read_adapter(out.read_bytes()).rank(spec.chat.base.adaptable[0]) == 2
    res = CliRunner().invoke(cli, [*argv[:-4], "--rank", "9"])
    assert res.exit_code == 1 and "Error: rank 9: the task allows 1..4" in res.output
