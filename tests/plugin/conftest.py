"""Shared fixtures for the plugin tests: task specs, crafted ONNX models, a torch model.

Heavy modules (torch, onnx) are imported inside the fixtures that need them. Fixtures for the
evaluation engine live in ``fixtures_engine.py`` (written by the engine's tests) and are
re-exported here when that file exists.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ape_arena.evaluation.spec import TaskSpec, example

if importlib.util.find_spec("tests.plugin.evaluation.fixtures_engine") is not None:
    from tests.plugin.evaluation.fixtures_engine import *  # noqa: F403


@pytest.fixture
def digits_spec() -> TaskSpec:
    return example("digits")


@pytest.fixture
def lm_spec() -> TaskSpec:
    return example("bytes_lm")


@pytest.fixture
def make_spec() -> Callable[..., TaskSpec]:
    """``make_spec("digits", limits={"max_params": 10}, metric="error_rate")``: a validated
    copy of a shipped example spec with top-level fields replaced / nested dicts merged."""

    def make(base: str = "digits", **changes: Any) -> TaskSpec:
        raw = example(base).model_dump(mode="json")
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
        return TaskSpec.model_validate(raw)

    return make


def build_digits_onnx(
    *,
    opset: int = 17,
    in_name: str = "features",
    in_dtype: str = "float32",
    in_shape: tuple = ("batch", 64),
    out_name: str = "logits",
    out_shape: tuple = ("batch", 10),
    n_features: int = 64,
    n_classes: int = 10,
    seed: int = 0,
):
    """A valid linear digits classifier built with onnx.helper: logits = x @ W + b.

    Tests mutate the returned ``ModelProto`` to craft each kind of bad model.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(
        rng.standard_normal((n_features, n_classes)).astype(np.float32), "W"
    )
    b = numpy_helper.from_array(rng.standard_normal(n_classes).astype(np.float32), "B")
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(in_dtype))
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [in_name, "W"], ["xw"], name="matmul"),
            helper.make_node("Add", ["xw", "B"], [out_name], name="add"),
        ],
        "digits_linear",
        [helper.make_tensor_value_info(in_name, elem, list(in_shape))],
        [helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, list(out_shape))],
        initializer=[w, b],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="arena-tests"
    )
    model.ir_version = 8
    return model


@pytest.fixture
def digits_onnx() -> Callable[..., Any]:
    """Factory: ``digits_onnx(**kw)`` -> a fresh valid ``onnx.ModelProto`` (see above)."""
    return build_digits_onnx


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    """``write_model(model_or_bytes, name="m.onnx")`` -> (path, sha256 hex) of the file."""

    def write(model: Any, name: str = "model.onnx") -> tuple[Path, str]:
        data = model if isinstance(model, bytes) else model.SerializeToString()
        path = tmp_path / name
        path.write_bytes(data)
        return path, hashlib.sha256(data).hexdigest()

    return write


@pytest.fixture
def tiny_mlp():
    """Factory for a small seeded torch MLP digits classifier (64 -> hidden -> 10)."""
    import torch

    def make(hidden: int = 32, seed: int = 0) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
        )

    return make


@pytest.fixture
def tiny_byte_lm():
    """Factory for a small seeded torch byte LM (embedding -> causal conv -> logits)."""
    import torch

    class ByteLM(torch.nn.Module):
        def __init__(self, dim: int):
            super().__init__()
            self.embed = torch.nn.Embedding(256, dim)
            self.conv = torch.nn.Conv1d(dim, dim, kernel_size=3, padding=2)
            self.head = torch.nn.Linear(dim, 256)

        def forward(self, tokens):
            h = self.embed(tokens).transpose(1, 2)  # [B, D, T]
            h = torch.relu(self.conv(h)[..., : tokens.shape[1]])  # causal: drop the tail
            return self.head(h.transpose(1, 2))

    def make(dim: int = 16, seed: int = 0) -> torch.nn.Module:
        torch.manual_seed(seed)
        return ByteLM(dim)

    return make
