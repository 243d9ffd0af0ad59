"""A node fine-tunes a LoRA adapter on the task's base model with ``peft`` (``ape arena node
train-lora``): the recipe of DESIGN §4.1 as one command.

Inputs: the task spec (its ``chat`` section: tokenizer hash, template, context length, and
``base``: the ONNX names of the weights an adapter may change and the maximum rank), the
base as a ``transformers`` checkpoint folder (``config.json`` + weights, what the creator
publishes beside the ONNX export; ``save_pretrained``), the task's ``tokenizer.json`` and
the node's own chat JSONL (ShareGPT-style, as ``task init`` reads it).

The dialogues are tokenised with the spec's template and the loss counts answer tokens only,
as the validators' does; AdamW trains LoRA pairs (``peft``, no dropout, fixed seed) on the
projections the spec allows; the adapter is written in the task's format under the base
export's ONNX names (``<module>.weight.T``: ``hf.adapter_from_peft``) with the base's and
the tokenizer's sha256 in its metadata. With the ONNX base given, the checkpoint's
adaptable weights are compared with it first, so nobody trains on the wrong base.

Example::

    res = train_lora(spec, "base-hf", "tokenizer.json", "mine.jsonl", "adapter.safetensors")
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class TrainError(RuntimeError):
    """Inputs that do not fit the task (wrong tokenizer, base, rank, data)."""


@dataclass(frozen=True)
class Trained:
    path: str
    sha256: str
    dialogues: int
    answer_tokens: int
    first_loss: float
    last_loss: float
    rank: int
    modules: tuple[str, ...]


def train_steps(
    model: Any,
    tokens: np.ndarray,
    target: np.ndarray,
    steps: int,
    lr: float,
    seed: int,
    batch: int = 16,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[float, float]:
    """AdamW on next-token cross-entropy of a ``transformers`` causal LM (``target`` -100:
    not counted), ``batch`` random rows per step; returns (first, last) loss."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    first = last = float("nan")
    for step in range(steps):
        idx = rng.integers(0, len(tokens), batch)
        x, y = torch.from_numpy(tokens[idx]), torch.from_numpy(target[idx])
        logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
        if step == 0:
            first = last
        if on_step is not None:
            on_step(step + 1, last)
    model.eval()
    return first, last


def modules_of(adaptable: list[str]) -> dict[str, str]:
    """peft module path -> ONNX initializer name, for the spec's adaptable names as the
    export helper writes them (``<module>.weight`` or ``<module>.weight.T``)."""
    out = {}
    for name in adaptable:
        stem = name.removesuffix(".T")
        if not stem.endswith(".weight"):
            raise TrainError(
                f"adaptable weight {name!r} is not named <module>.weight[.T] (the names "
                "`evaluation/hf.py` gives a transformers export); train this adapter yourself"
            )
        out[stem.removesuffix(".weight")] = name
    return out


def train_lora(
    spec: Any,
    base_hf: str | os.PathLike[str],
    tokenizer: str | os.PathLike[str],
    chats: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    base_onnx: str | os.PathLike[str] | None = None,
    rank: int | None = None,
    alpha: float | None = None,
    modules: list[str] | None = None,
    steps: int = 200,
    lr: float = 1e-2,
    batch: int = 16,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> Trained:
    """Fine-tune a LoRA adapter of ``base_hf`` on ``chats`` for ``spec``; write it to
    ``out``. ``rank`` defaults to the spec's maximum, ``alpha`` to twice the rank,
    ``modules`` (projection names such as ``q_proj``) to every weight the spec allows.
    Raises ``TrainError`` for inputs that do not fit the task."""
    import torch

    from ..evaluation.adapter import write_adapter
    from ..evaluation.chat import ChatError, ChatTemplate, chat_arrays, read_dialogues
    from ..evaluation.hf import adapter_from_peft

    chat = spec.chat
    if chat is None or chat.base is None:
        raise TrainError("the task has no base model to adapt (its spec has no chat.base)")
    tok_bytes = Path(tokenizer).read_bytes()
    tok_sha = hashlib.sha256(tok_bytes).hexdigest()
    if tok_sha != chat.tokenizer_sha256:
        raise TrainError(
            f"{tokenizer} has sha256 {tok_sha}; the task's tokenizer is {chat.tokenizer_sha256}"
        )
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tok_bytes.decode())
    rank = chat.base.max_rank if rank is None else rank
    if not 1 <= rank <= chat.base.max_rank:
        raise TrainError(f"rank {rank}: the task allows 1..{chat.base.max_rank}")
    alpha = 2.0 * rank if alpha is None else float(alpha)
    allowed = modules_of(list(chat.base.adaptable))
    targets = sorted(m for m in allowed if modules is None or m.rsplit(".", 1)[-1] in set(modules))
    if not targets:
        raise TrainError(
            f"no adaptable weight matches {modules}; the task allows {sorted(allowed)}"
        )
    try:
        dialogues = read_dialogues(chats)
        arrays = chat_arrays(dialogues, tok, ChatTemplate(**chat.template), chat.context_length)
    except (ChatError, OSError, ValueError) as exc:
        raise TrainError(f"{chats}: {exc}") from None
    answer_tokens = int((arrays["target"] != -100).sum())
    if answer_tokens == 0:
        raise TrainError(f"{chats}: no answer token fits in {chat.context_length} tokens")

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    try:
        base = AutoModelForCausalLM.from_pretrained(str(base_hf), attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot load the base checkpoint {base_hf}: {exc}") from None
    if base_onnx is not None:
        _same_base(base, base_onnx, chat.base.model_sha256, {m: allowed[m] for m in targets})
    torch.manual_seed(seed)  # the LoRA init: same seed, same adapter
    model = get_peft_model(
        base,
        LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0),
    )
    first, last = train_steps(model, arrays["tokens"], arrays["target"], steps, lr, seed, batch,
                              on_step)  # fmt: skip
    if not np.isfinite(last):
        raise TrainError(f"training diverged (loss {last}); lower --lr")
    names = {f"{m}.weight": allowed[m] for m in targets}
    with torch.no_grad():
        pairs, got_alpha = adapter_from_peft(model, names)
    sha = write_adapter(out, pairs, got_alpha, base_sha256=chat.base.model_sha256,
                        tokenizer_sha256=tok_sha)  # fmt: skip
    return Trained(str(out), sha, len(dialogues), answer_tokens, first, last, rank, tuple(targets))


def _same_base(model: Any, onnx_path: Any, want_sha: str, names: dict[str, str]) -> None:
    """The checkpoint's adaptable weights equal the task's ONNX base's (hash-checked)."""
    import onnx
    from onnx import numpy_helper

    data = Path(onnx_path).read_bytes()
    if hashlib.sha256(data).hexdigest() != want_sha:
        raise TrainError(f"{onnx_path} is not the task's base model (sha256 {want_sha})")
    inits = {i.name: i for i in onnx.load_model_from_string(data).graph.initializer}
    params = dict(model.named_parameters())
    for module, onnx_name in sorted(names.items()):
        w = params.get(f"{module}.weight")
        if w is None or onnx_name not in inits:
            raise TrainError(f"the checkpoint or the ONNX base has no weight for {module}")
        mine = w.detach().cpu().numpy()
        theirs = numpy_helper.to_array(inits[onnx_name])
        if onnx_name.endswith(".T"):
            theirs = theirs.T
        if mine.shape != theirs.shape or not np.array_equal(mine, theirs):
            raise TrainError(
                f"the checkpoint's {module}.weight differs from the task's base ({onnx_name}): "
                "this is not the base the task committed to"
            )
