"""Small torch models shared by the bench, the demo and the tests.

Two task families (the example specs ``digits`` and ``bytes_lm``):

* digits classifiers: input ``[batch, 64]`` float32 pixels in [0, 1], output ``[batch, 10]``
  logits. ``DigitsMLP`` (hidden sizes configurable) and ``DigitsCNN`` (reshapes to 1x8x8).
* byte-level language models: input ``[batch, seq]`` int64 bytes, output
  ``[batch, seq, 256]`` next-byte logits. ``ByteGRU`` (a char-RNN), ``ByteConvLM`` (causal
  convolutions) and ``ByteTransformer`` (a tiny causal transformer).

``make_model(name)`` builds one of the named presets in ``PRESETS``; ``train(...)`` runs a
short, seeded Adam loop on CPU (seconds, not minutes: these models exist to be scored).
Data comes from ``shards.py`` (``digits_split``, ``stdlib_corpus`` + ``lm_arrays``); the
LMs take any sequence length up to 128, so they can train on shorter windows than they are
scored on.

Example::

    x, y = digits_data()
    net = train(make_model("digits-mlp-64"), x, y, steps=200, seed=1)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

VOCAB = 256
SEQ_LEN = 128

# name -> (family, constructor kwargs). The bench picks from these.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "digits-mlp-32": ("mlp", {"hidden": (32,)}),
    "digits-mlp-64": ("mlp", {"hidden": (64,)}),
    "digits-mlp-128x2": ("mlp", {"hidden": (128, 128)}),
    "digits-mlp-256x2": ("mlp", {"hidden": (256, 256)}),
    "digits-cnn-8": ("cnn", {"channels": 8}),
    "digits-cnn-16": ("cnn", {"channels": 16}),
    "lm-gru-48": ("gru", {"dim": 48}),
    "lm-gru-64": ("gru", {"dim": 64}),
    "lm-gru-96": ("gru", {"dim": 96}),
    "lm-conv-48": ("conv", {"dim": 48, "layers": 2}),
    "lm-conv-64": ("conv", {"dim": 64, "layers": 3}),
    "lm-tf-32": ("transformer", {"dim": 32, "layers": 2, "heads": 2}),
    "lm-tf-64": ("transformer", {"dim": 64, "layers": 2, "heads": 4}),
}


def _nn():
    import torch.nn as nn

    return nn


# ----------------------------------------------------------------------------- digits
def digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 digits: features float32 [n, 64] in [0, 1], labels int64 [n]."""
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def _build_mlp(hidden: tuple[int, ...] = (64,)) -> torch.nn.Module:
    nn = _nn()
    layers: list[Any] = []
    width = 64
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def _build_cnn(channels: int = 8) -> torch.nn.Module:
    import torch.nn as nn

    class DigitsCNN(nn.Module):
        """Two 3x3 convolutions on the 8x8 image, 2x2 pooling, a linear head."""

        def __init__(self, c: int):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(1, c, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c, 2 * c, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.head = nn.Linear(2 * c * 16, 10)

        def forward(self, x):
            h = self.body(x.reshape(-1, 1, 8, 8))
            return self.head(h.flatten(1))

    return DigitsCNN(channels)


# ----------------------------------------------------------------------------- byte LMs
def _build_gru(dim: int = 64) -> torch.nn.Module:
    import torch.nn as nn

    class ByteGRU(nn.Module):
        """Character-RNN: byte embedding, one GRU layer, linear read-out."""

        def __init__(self, d: int):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, d)
            self.rnn = nn.GRU(d, d, batch_first=True)
            self.head = nn.Linear(d, VOCAB)

        def forward(self, tokens):
            h, _ = self.rnn(self.embed(tokens))
            return self.head(h)

    return ByteGRU(dim)


def _build_conv(dim: int = 64, layers: int = 3, kernel: int = 4) -> torch.nn.Module:
    import torch.nn as nn
    import torch.nn.functional as F

    class ByteConvLM(nn.Module):
        """Causal 1-D convolutions (left padding only) with residual connections."""

        def __init__(self, d: int, n: int, k: int):
            super().__init__()
            self.k = k
            self.embed = nn.Embedding(VOCAB, d)
            self.convs = nn.ModuleList(nn.Conv1d(d, d, k) for _ in range(n))
            self.head = nn.Linear(d, VOCAB)

        def forward(self, tokens):
            h = self.embed(tokens).transpose(1, 2)  # [B, D, T]
            for conv in self.convs:
                h = h + F.gelu(conv(F.pad(h, (self.k - 1, 0))))
            return self.head(h.transpose(1, 2))

    return ByteConvLM(dim, layers, kernel)


def _build_transformer(dim: int = 64, layers: int = 2, heads: int = 4) -> torch.nn.Module:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d: int, h: int):
            super().__init__()
            self.h = h
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x, mask):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q = q.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            k = k.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            v = v.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.h)) + mask
            y = F.softmax(att, dim=-1) @ v
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.ln2(x))

    class ByteTransformer(nn.Module):
        """Tiny pre-LayerNorm causal transformer with learned positions (seq <= 128)."""

        def __init__(self, d: int, n: int, h: int):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, d)
            self.pos = nn.Parameter(torch.zeros(SEQ_LEN, d))
            self.blocks = nn.ModuleList(Block(d, h) for _ in range(n))
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, VOCAB)
            causal = torch.full((SEQ_LEN, SEQ_LEN), float("-inf")).triu(1)
            self.register_buffer("causal", causal, persistent=False)

        def forward(self, tokens):
            t = tokens.shape[1]
            x = self.embed(tokens) + self.pos[:t]
            mask = self.causal[:t, :t]
            for blk in self.blocks:
                x = blk(x, mask)
            return self.head(self.ln(x))

    return ByteTransformer(dim, layers, heads)


_BUILDERS = {
    "mlp": _build_mlp,
    "cnn": _build_cnn,
    "gru": _build_gru,
    "conv": _build_conv,
    "transformer": _build_transformer,
}


def make_model(name: str, seed: int = 0) -> torch.nn.Module:
    """Build the preset ``name`` (see ``PRESETS``) with weights drawn from ``seed``."""
    import torch

    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
    family, kwargs = PRESETS[name]
    torch.manual_seed(seed)
    return _BUILDERS[family](**kwargs)


def is_lm(name: str) -> bool:
    return PRESETS[name][0] in ("gru", "conv", "transformer")


# ----------------------------------------------------------------------------- training
def train(
    model: torch.nn.Module,
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    steps: int = 200,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> torch.nn.Module:
    """A short seeded Adam loop with cross-entropy; returns ``model`` in eval mode.

    Works for both families: targets ``[n]`` (classes) or ``[n, seq]`` (next bytes).
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(inputs)
    y_all = torch.from_numpy(targets)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x_all), (batch_size,), generator=gen)
        logits = model(x_all[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_all[idx].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()
