"""Chat data for language-model tasks (DESIGN §4.1, §5): dialogues -> token rows with an
assistant-only loss and the byte counts that bits per byte needs.

A dialogue is a list of turns ``{"role": "system"|"user"|"assistant", "content": str}``
(ShareGPT's ``{"from": "human"|"gpt"|…, "value": …}`` is read too). A ``ChatTemplate``
gives each role's text with a ``{content}`` slot, e.g. the default::

    system:    "<|system|>\\n{content}\\n"
    user:      "<|user|>\\n{content}\\n"
    assistant: "<|assistant|>\\n{content}<|end|>\\n"

The turns are rendered one after another into one text and tokenised once with a
``tokenizers`` tokenizer (``tokenizer.json``; the template's markers should be its special
tokens). A token counts in the loss iff it starts inside an assistant turn's *answer*: from
the start of its ``{content}`` to the end of its rendered text (the end marker included, so
a model learns to stop; the role header and every other turn are context only).

``encode_dialogue`` returns, for ``context_length`` = L: ``tokens`` [L] (input ids, padded
with ``pad_id``), ``target`` [L] (the next token, or ``ignore_index`` where it does not
count or is padding), and ``bytes``: the UTF-8 bytes of the assistant answers within the
context (their own text, whatever the tokenizer does with spaces, so different tokenizers
divide by the same number). Bits per byte over a shard is then
``sum(token losses in nats) / (ln 2 * sum(bytes))``, so tokenizers compare.

Example::

    from tokenizers import Tokenizer
    tok = Tokenizer.from_file("tokenizer.json")
    arrays = chat_arrays(read_dialogues("eval.jsonl"), tok, ChatTemplate(), context_length=256)
    # {"tokens": int64 [N, 256], "target": int64 [N, 256], "bytes": int64 [N]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ROLES = ("system", "user", "assistant")
#: ShareGPT-style role names and what they mean here
ROLE_ALIASES = {
    "system": "system", "user": "user", "human": "user", "assistant": "assistant",
    "gpt": "assistant", "model": "assistant", "bot": "assistant",
}  # fmt: skip


class ChatError(ValueError):
    """A dialogue, template or tokenizer that cannot be used; says where."""


@dataclass(frozen=True)
class ChatTemplate:
    """Each role's rendered text, with one ``{content}`` slot."""

    system: str = "<|system|>\n{content}\n"
    user: str = "<|user|>\n{content}\n"
    assistant: str = "<|assistant|>\n{content}<|end|>\n"

    def __post_init__(self):
        for role in ROLES:
            text = getattr(self, role)
            if text.count("{content}") != 1:
                raise ChatError(f"chat template {role!r} needs exactly one {{content}}: {text!r}")

    def parts(self, role: str) -> tuple[str, str]:
        """(text before the content, text after it)."""
        before, after = getattr(self, role).split("{content}")
        return before, after

    def markers(self) -> list[str]:
        """The template's fixed strings (to register as special tokens)."""
        out: list[str] = []
        for role in ROLES:
            for piece in self.parts(role):
                text = piece.strip()
                if text and text not in out:
                    out.append(text)
        return out

    def to_dict(self) -> dict[str, str]:
        return {role: getattr(self, role) for role in ROLES}


def normalise_dialogue(raw: Any, where: str = "dialogue") -> list[dict[str, str]]:
    """Turns as ``[{"role", "content"}]`` from ``{"conversations": [...]}`` (ShareGPT:
    ``from``/``value``), ``{"messages": [...]}`` or a bare list; needs an assistant turn."""
    turns = raw
    if isinstance(raw, dict):
        turns = raw.get("conversations", raw.get("messages"))
    if not isinstance(turns, list) or not turns:
        raise ChatError(f"{where}: expected a non-empty list of turns (conversations/messages)")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise ChatError(f"{where} turn {i}: expected an object, got {type(turn).__name__}")
        role = turn.get("role", turn.get("from"))
        content = turn.get("content", turn.get("value"))
        if role not in ROLE_ALIASES:
            raise ChatError(f"{where} turn {i}: unknown role {role!r} (use {sorted(ROLE_ALIASES)})")
        if not isinstance(content, str):
            raise ChatError(f"{where} turn {i}: content must be text, got {type(content).__name__}")
        out.append({"role": ROLE_ALIASES[role], "content": content})
    if not any(t["role"] == "assistant" for t in out):
        raise ChatError(f"{where}: no assistant turn, nothing to score")
    return out


def read_dialogues(path: str | os.PathLike[str]) -> list[list[dict[str, str]]]:
    """Every dialogue of a JSONL file (one JSON object per line; blank lines skipped)."""
    dialogues = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ChatError(f"{path}:{n}: not JSON ({exc.msg})") from None
            dialogues.append(normalise_dialogue(raw, f"{path}:{n}"))
    if not dialogues:
        raise ChatError(f"{path}: no dialogues")
    return dialogues


def render(
    turns: Sequence[dict[str, str]], template: ChatTemplate
) -> tuple[str, list[tuple[int, int]]]:
    """The dialogue's text and the character spans ``[start, end)`` of its assistant
    answers (content and end marker)."""
    text, spans = [], []
    pos = 0
    for turn in turns:
        before, after = template.parts(turn["role"])
        piece = before + turn["content"] + after
        if turn["role"] == "assistant":
            spans.append((pos + len(before), pos + len(piece)))
        text.append(piece)
        pos += len(piece)
    return "".join(text), spans


def encode_dialogue(
    turns: Sequence[dict[str, str]],
    tokenizer: Any,
    template: ChatTemplate,
    context_length: int,
    *,
    pad_id: int = 0,
    ignore_index: int = -100,
) -> dict[str, Any]:
    """``tokens`` [L], ``target`` [L], ``bytes`` (int) of one dialogue (module docstring);
    the dialogue is cut after ``L + 1`` tokens."""
    if context_length < 1:
        raise ChatError(f"context_length must be >= 1, got {context_length}")
    text, spans = render(turns, template)
    enc = tokenizer.encode(text, add_special_tokens=False)
    ids = list(enc.ids)[: context_length + 1]
    offsets = list(enc.offsets)[: context_length + 1]

    def counts(start: int) -> bool:
        return any(a <= start < b for a, b in spans)

    tokens = np.full(context_length, pad_id, dtype=np.int64)
    target = np.full(context_length, ignore_index, dtype=np.int64)
    n = max(0, len(ids) - 1)
    tokens[: min(len(ids), context_length)] = ids[:context_length]
    for i in range(n):  # target i is token i + 1
        if counts(offsets[i + 1][0]):
            target[i] = ids[i + 1]
    # the answers' own bytes (whatever the tokenizer does with spaces), from the first
    # predicted token to the end of the last token within the context
    first = offsets[1][0] if len(ids) > 1 else len(text)
    cut = offsets[-1][1] if len(enc.ids) > len(ids) else len(text)
    n_bytes = sum(
        len(text[max(a, first) : min(b, cut)].encode("utf-8")) for a, b in spans if b > first
    )
    return {"tokens": tokens, "target": target, "bytes": int(n_bytes)}


def chat_arrays(
    dialogues: Iterable[Sequence[dict[str, str]]],
    tokenizer: Any,
    template: ChatTemplate,
    context_length: int,
    *,
    pad_id: int = 0,
    ignore_index: int = -100,
) -> dict[str, np.ndarray]:
    """One row per dialogue: ``tokens`` and ``target`` int64 [N, L], ``bytes`` int64 [N].
    A dialogue whose counted targets all fall past the context is refused (it would add
    nothing but padding)."""
    rows = []
    for i, turns in enumerate(dialogues):
        row = encode_dialogue(turns, tokenizer, template, context_length,
                              pad_id=pad_id, ignore_index=ignore_index)  # fmt: skip
        if not (row["target"] != ignore_index).any():
            raise ChatError(
                f"dialogue {i}: no assistant token within context_length={context_length}"
            )
        rows.append(row)
    if not rows:
        raise ChatError("no dialogues")
    return {
        "tokens": np.stack([r["tokens"] for r in rows]),
        "target": np.stack([r["target"] for r in rows]),
        "bytes": np.array([r["bytes"] for r in rows], dtype=np.int64),
    }


def bits_per_byte(nats_total: float, byte_total: int) -> float:
    """Bits per byte of a shard: its token losses (nats, summed over counted targets)
    over the UTF-8 bytes they cover."""
    if byte_total <= 0:
        raise ChatError(f"byte count must be positive, got {byte_total}")
    return nats_total / (np.log(2.0) * byte_total)
