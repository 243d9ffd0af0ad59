"""A language-model task on chat data through the real engine: the spec's ``chat`` section
(tokenizer hash, template, context length, byte counts), a shard cut with a trained BPE
tokenizer, an exported causal LM, and the engine's score against an independent float64
computation (bits per byte over the answers' bytes; token cross-entropy over answer
tokens); bad specs and shards refused with the field named."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ape_arena.evaluation.chat import ChatTemplate, chat_arrays, render
from ape_arena.evaluation.engine import Engine
from ape_arena.evaluation.export import export_model
from ape_arena.evaluation.shards import ShardFormatError, check_arrays, write_shard
from ape_arena.evaluation.spec import SpecError, TaskSpec
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

CONTEXT = 32
T = ChatTemplate()
F32_UNITS = 440  # float32 resolution of a mean loss, in 1e-9 units (as test_engine.py)


def dialogues(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b = (int(x) for x in rng.integers(0, 50, 2))
        out.append([{"role": "user", "content": f"{a} + {b} = ?"},
                    {"role": "assistant", "content": f"{a} + {b} = {a + b} °"}])  # fmt: skip
    return out


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["[PAD]", *T.markers()],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator([render(d, T)[0] for d in dialogues(200, 1)], trainer)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return tok, hashlib.sha256(path.read_bytes()).hexdigest()


def chat_spec(sha: str, vocab: int, metric: str = "bits_per_byte", **chat) -> TaskSpec:
    return TaskSpec.model_validate({
        "name": "chat_sums", "metric": metric,
        "inputs": [{"name": "tokens", "data_key": "tokens", "dtype": "int64", "shape": ["batch", CONTEXT]}],
        "output": {"name": "logits", "dtype": "float32", "shape": ["batch", CONTEXT, vocab]},
        "limits": {"max_bytes": 1 << 24, "max_params": 1 << 22, "opset_min": 13, "opset_max": 21,
                   "max_batch_rows": 16},
        "chat": {"tokenizer_sha256": sha, "template": T.to_dict(), "context_length": CONTEXT, **chat},
    })  # fmt: skip


class TinyLM(torch.nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(vocab, 24)
        self.out = torch.nn.Linear(24, vocab)

    def forward(self, tokens):
        return self.out(torch.tanh(self.emb(tokens)))


@pytest.mark.parametrize("metric", ["bits_per_byte", "token_cross_entropy"])
def test_engine_scores_a_chat_task_as_an_independent_computation(tmp_path, tokenizer, metric):
    tok, sha = tokenizer
    vocab = tok.get_vocab_size()
    spec = chat_spec(sha, vocab, metric)
    arrays = chat_arrays(dialogues(40, 2), tok, T, CONTEXT)
    assert check_arrays(arrays, spec) == 40
    shard = tmp_path / "shard.npz"
    shard_sha = write_shard(arrays, shard)
    model = tmp_path / "model.onnx"
    model_sha = export_model(TinyLM(vocab).eval(), spec, model)
    with Engine(spec, shard, shard_sha, workers=1, threads=1, device="cpu", progress=False) as e:
        (res,) = e.score_round([(str(model), model_sha)])
    assert res.ok, res.reason
    # independently: onnxruntime's logits, float64 log-softmax at the answer tokens
    logits = ort.InferenceSession(str(model)).run(None, {"tokens": arrays["tokens"]})[0]
    logp = torch.log_softmax(torch.from_numpy(logits).double(), dim=-1)
    tgt = torch.from_numpy(arrays["target"])
    keep = tgt != -100
    nats = -logp.gather(2, tgt.clamp(min=0)[..., None])[..., 0][keep].sum().item()
    if metric == "bits_per_byte":
        n_bytes = sum(len((d[1]["content"] + "<|end|>\n").encode()) for d in dialogues(40, 2))
        assert int(arrays["bytes"].sum()) == n_bytes  # nothing truncated at this length
        want = nats / math.log(2) / n_bytes
    else:
        want = nats / int(keep.sum())
    assert abs(res.score - round(want * 1e9)) <= F32_UNITS, (res.score, want)


def test_chat_specs_and_shards_are_checked_with_the_field_named(tokenizer):
    tok, sha = tokenizer
    vocab = tok.get_vocab_size()
    base = chat_spec(sha, vocab).model_dump(mode="json")

    def refused(change, match):
        raw = {**base, **change}
        with pytest.raises(SpecError, match=match):
            TaskSpec.from_json(__import__("json").dumps(raw))

    refused({"metric": "cross_entropy"}, "metric")
    refused({"chat": {**base["chat"], "context_length": CONTEXT + 1}}, "chat.context_length")
    refused({"chat": {**base["chat"], "template": {"user": "{content}", "assistant": "{content}"}}},
            "roles")  # fmt: skip
    refused({"chat": {**base["chat"], "template": {**T.to_dict(), "user": "<|user|>"}}},
            "exactly one")  # fmt: skip
    refused({"chat": {**base["chat"], "tokenizer_sha256": "abc"}}, "tokenizer_sha256")
    refused({"chat": None}, "bits_per_byte needs a byte vocabulary")
    big = {**base["output"], "shape": ["batch", CONTEXT, 262_145]}
    refused({"output": big}, "over 262144")
    spec = chat_spec(sha, vocab)
    arrays = chat_arrays(dialogues(3, 4), tok, T, CONTEXT)
    with pytest.raises(ShardFormatError, match="bytes"):
        check_arrays({k: v for k, v in arrays.items() if k != "bytes"}, spec)
    with pytest.raises(ShardFormatError, match="int64"):
        check_arrays({**arrays, "bytes": arrays["bytes"].astype(np.int32)}, spec)
    with pytest.raises(ShardFormatError, match="counts no bytes"):
        check_arrays({**arrays, "bytes": np.zeros(3, np.int64)}, spec)


def test_a_chat_spec_is_canonical_and_old_specs_keep_their_bytes(tokenizer):
    from ape_arena.evaluation.spec import example, is_canonical

    spec = chat_spec(tokenizer[1], tokenizer[0].get_vocab_size())
    data = spec.to_json()
    assert is_canonical(data) and TaskSpec.from_json(data) == spec
    assert b'"chat": {' in data and b'"context_length": 32' in data
    assert b'"chat"' not in example("digits").to_json()  # no chat section, no key
