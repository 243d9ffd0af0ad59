"""Chat data for language-model tasks (``evaluation.chat``): a hand-worked dialogue's tokens,
targets and assistant-only mask; the byte counts bits per byte divides by (the answers' own
UTF-8 bytes, the same whatever the tokenizer); bits per byte against an independent float64
computation; truncation; and clear errors for bad data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from ape_arena.evaluation.chat import (
    ChatError,
    ChatTemplate,
    bits_per_byte,
    chat_arrays,
    encode_dialogue,
    normalise_dialogue,
    read_dialogues,
    render,
)
from arena_kernels.metrics import metric_total
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

T = ChatTemplate()
VOCAB = {"[PAD]": 0, "<|system|>": 1, "<|user|>": 2, "<|assistant|>": 3, "<|end|>": 4,
         "what": 5, "is": 6, "2": 7, "+": 8, "3": 9, "?": 10, "5": 11, "it": 12, "[UNK]": 13}  # fmt: skip


def word_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(T.markers())
    return tok


def bpe_tokenizer(texts) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[PAD]", *T.markers()],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return tok


DIALOGUE = [
    {"role": "user", "content": "what is 2+3?"},
    {"role": "assistant", "content": "it is 5"},
]


def test_a_hand_worked_dialogue():
    text, spans = render(DIALOGUE, T)
    assert text == "<|user|>\nwhat is 2+3?\n<|assistant|>\nit is 5<|end|>\n"
    assert [text[a:b] for a, b in spans] == ["it is 5<|end|>\n"]
    row = encode_dialogue(DIALOGUE, word_tokenizer(), T, context_length=16)
    #            <|user|> what is 2 + 3 ? <|assistant|> it is 5 <|end|>
    assert row["tokens"].tolist() == [2, 5, 6, 7, 8, 9, 10, 3, 12, 6, 11, 4, 0, 0, 0, 0]
    # only the answer is predicted: "it", "is", "5" and the end marker
    assert row["target"].tolist() == [-100] * 7 + [12, 6, 11, 4] + [-100] * 5
    assert row["bytes"] == len("it is 5<|end|>\n") == 15


def test_truncation_keeps_what_fits_and_counts_only_those_bytes():
    row = encode_dialogue(DIALOGUE, word_tokenizer(), T, context_length=9)  # 10 tokens kept
    assert row["tokens"].tolist() == [2, 5, 6, 7, 8, 9, 10, 3, 12]
    assert row["target"].tolist() == [-100] * 7 + [12, 6]  # "it", "is"
    assert row["bytes"] == len("it is")
    with pytest.raises(ChatError, match="no assistant token within context_length=7"):
        chat_arrays([DIALOGUE], word_tokenizer(), T, context_length=7)


def test_system_turns_sharegpt_names_and_several_answers():
    raw = {"conversations": [
        {"from": "system", "value": "be brief"}, {"from": "human", "value": "2+3?"},
        {"from": "gpt", "value": "5"}, {"from": "human", "value": "and 3+2?"},
        {"from": "gpt", "value": "5 too"},
    ]}  # fmt: skip
    turns = normalise_dialogue(raw)
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user", "assistant"]
    text, spans = render(turns, T)
    assert [text[a:b] for a, b in spans] == ["5<|end|>\n", "5 too<|end|>\n"]


def test_byte_counts_do_not_depend_on_the_tokenizer():
    dialogues = [
        [{"role": "user", "content": "25 °C in °F?"}, {"role": "assistant", "content": "25 °C is 77 °F."}],
        [{"role": "user", "content": "naïve café?"}, {"role": "assistant", "content": "crème brûlée"}],
    ]  # fmt: skip
    corpus = [render(d, T)[0] for d in dialogues] * 20
    a = chat_arrays(dialogues, bpe_tokenizer(corpus), T, context_length=128)
    b = chat_arrays(dialogues, word_tokenizer(), T, context_length=128)
    want = [len((d[1]["content"] + "<|end|>\n").encode()) for d in dialogues]
    assert a["bytes"].tolist() == b["bytes"].tolist() == want
    assert a["tokens"].dtype == a["target"].dtype == np.int64 and a["tokens"].shape == (2, 128)
    # every predicted BPE token starts inside an answer, and every answer token is predicted
    tok = bpe_tokenizer(corpus)
    for d, row in zip(dialogues, a["target"], strict=True):
        text, spans = render(d, T)
        enc = tok.encode(text, add_special_tokens=False)
        inside = [i for i, (s, _) in enumerate(enc.offsets) if any(x <= s < y for x, y in spans)]
        assert [i - 1 for i in inside] == np.flatnonzero(row != -100).tolist()


def test_bits_per_byte_equals_token_loss_over_bytes_computed_independently():
    dialogues = [[{"role": "user", "content": f"what is {i}+{j}?"},
                  {"role": "assistant", "content": f"it is {i + j}"}]
                 for i, j in ((2, 3), (1, 1), (3, 2))]  # fmt: skip
    vocab = {**VOCAB, "4": 14, "6": 15, "1": 16}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(T.markers())
    arrays = chat_arrays(dialogues, tok, T, context_length=16)
    logits = torch.randn(3, 16, len(vocab), generator=torch.Generator().manual_seed(3))
    total, count = metric_total("token_cross_entropy", logits, torch.from_numpy(arrays["target"]))
    bpb = bits_per_byte(total, int(arrays["bytes"].sum()))
    # independently: float64 log-softmax at the answer tokens, the answers' UTF-8 bytes
    logp = torch.log_softmax(logits.double(), dim=-1)
    tgt = torch.from_numpy(arrays["target"])
    keep = tgt != -100
    nats = -logp.gather(2, tgt.clamp(min=0)[..., None])[..., 0][keep].sum().item()
    n_bytes = sum(len((d[1]["content"] + "<|end|>\n").encode()) for d in dialogues)
    assert count == int(keep.sum()) == 3 * 4
    assert bpb == pytest.approx(nats / (math.log(2) * n_bytes), rel=1e-6)


def test_bad_data_is_refused_with_where(tmp_path):
    bad = tmp_path / "chat.jsonl"
    bad.write_text(json.dumps({"conversations": DIALOGUE}) + "\n{oops\n")
    with pytest.raises(ChatError, match=r"chat.jsonl:2: not JSON"):
        read_dialogues(bad)
    bad.write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(ChatError, match=r"chat.jsonl:1 turn 0: unknown role 'robot'"):
        read_dialogues(bad)
    bad.write_text(json.dumps([{"role": "user", "content": "hi"}]) + "\n")
    with pytest.raises(ChatError, match="no assistant turn"):
        read_dialogues(bad)
    bad.write_text("\n")
    with pytest.raises(ChatError, match="no dialogues"):
        read_dialogues(bad)
    with pytest.raises(ChatError, match="exactly one"):
        ChatTemplate(user="<|user|>")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"conversations": DIALOGUE}) + "\n\n" + json.dumps(DIALOGUE) + "\n")
    assert len(read_dialogues(good)) == 2
    with pytest.raises(ChatError, match="byte count must be positive"):
        bits_per_byte(1.0, 0)
