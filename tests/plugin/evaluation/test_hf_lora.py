"""Hugging Face causal LMs and peft LoRA adapters as submissions (``evaluation/hf.py``), on a
Llama-style and a Qwen-style model built from a config (random weights, nothing
downloaded): the export names each Linear weight's initializer after its torch module; an
adapter converted from peft and merged by the engine gives the logits of peft's own merged
model, and the same score as that model exported whole."""

from __future__ import annotations

import hashlib

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ape_arena.evaluation.adapter import merge_adapter, read_adapter, write_adapter
from ape_arena.evaluation.chat import ChatTemplate, chat_arrays
from ape_arena.evaluation.engine import Engine
from ape_arena.evaluation.hf import adapter_from_peft, export_causal_lm
from ape_arena.evaluation.shards import write_shard
from ape_arena.evaluation.spec import TaskSpec

from tests.plugin.evaluation.test_chat_engine import CONTEXT, chat_spec, dialogues
from tests.plugin.evaluation.test_chat_engine import tokenizer as tokenizer  # noqa: F401, PLC0414

F32_UNITS = 440
T = ChatTemplate()


def tiny(kind: str, vocab: int):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    cfg_cls, model_cls = {"llama": (LlamaConfig, LlamaForCausalLM),
                          "qwen": (Qwen2Config, Qwen2ForCausalLM)}[kind]  # fmt: skip
    cfg = cfg_cls(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                  attn_implementation="eager")  # fmt: skip
    torch.manual_seed(0)
    return model_cls(cfg).eval()


@pytest.mark.parametrize("kind", ["llama", "qwen"])
def test_peft_adapter_merged_by_the_engine_matches_peft(tmp_path, tokenizer, kind):  # noqa: F811
    from peft import LoraConfig, get_peft_model

    tok, tok_sha = tokenizer
    vocab = tok.get_vocab_size()
    plain = chat_spec(tok_sha, vocab, "token_cross_entropy")
    base = tiny(kind, vocab)
    base_path = tmp_path / "base.onnx"
    base_sha, names = export_causal_lm(base, plain, base_path)
    for layer in range(2):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            torch_name = f"model.layers.{layer}.self_attn.{proj}.weight"
            assert names[torch_name] == torch_name + ".T", (torch_name, names.get(torch_name))
    assert names["lm_head.weight"] == "lm_head.weight.T"
    adaptable = sorted(
        v for k, v in names.items() if k.endswith(("q_proj.weight", "v_proj.weight"))
    )
    raw = plain.model_dump(mode="json")
    raw["chat"]["base"] = {"model_sha256": base_sha, "adaptable": adaptable, "max_rank": 8}
    spec = TaskSpec.model_validate(raw)

    torch.manual_seed(1)
    peft_model = get_peft_model(
        tiny(kind, vocab),
        LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj"],
            lora_dropout=0.0,
            init_lora_weights=False,
        ),  # fmt: skip
    ).eval()
    pairs, alpha = adapter_from_peft(peft_model, names)
    assert sorted(pairs) == adaptable and alpha == 8.0
    adapter_path = tmp_path / "adapter.safetensors"
    adapter_sha = write_adapter(adapter_path, pairs, alpha)

    # the engine's merge gives peft's merged logits
    import onnx

    merged = merge_adapter(onnx.load(str(base_path)), read_adapter(adapter_path.read_bytes()))
    arrays = chat_arrays(dialogues(16, 7), tok, T, CONTEXT)
    ours = ort.InferenceSession(merged).run(None, {"tokens": arrays["tokens"][:4]})[0]
    whole = peft_model.merge_and_unload().eval()
    with torch.no_grad():
        want = whole(input_ids=torch.from_numpy(arrays["tokens"][:4]), use_cache=False).logits
    np.testing.assert_allclose(ours, want.numpy(), rtol=1e-4, atol=1e-4)

    # and the same score as peft's merged model exported whole
    whole_path = tmp_path / "whole.onnx"
    whole_sha, _ = export_causal_lm(whole, plain, whole_path)
    shard = tmp_path / "shard.npz"
    shard_sha = write_shard(arrays, shard)
    with Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu", progress=False,
                base_model=base_path) as engine:  # fmt: skip
        base_res, ada, full = engine.score_round(
            [
                (str(base_path), base_sha),
                (str(adapter_path), adapter_sha),
                (str(whole_path), whole_sha),
            ]
        )
    assert base_res.ok and ada.ok and full.ok, (ada.reason, full.reason)
    assert abs(ada.score - full.score) <= F32_UNITS and ada.score != base_res.score
    assert hashlib.sha256(base_path.read_bytes()).hexdigest() == base_sha
