"""Hugging Face models as submissions (DESIGN §4.1): export a ``transformers`` causal LM with
the task spec's signature, and turn a ``peft`` LoRA adapter of a base into the task's
adapter format (``adapter.py``) under the base export's ONNX initializer names.

``transformers`` and ``peft`` are imported only by what uses them (``pip install -e
".[lm]"``); validators need neither.

* ``export_causal_lm(model, spec, path)``: ``tokens`` [batch, L] -> ``logits`` [batch, L, V]
  through torch's dynamo exporter (the TorchScript one cannot export transformers' masks),
  checked like every export (``export.export_model``). The exporter folds each Linear weight
  ``W`` [out, in] into a nameless constant ``W^T`` [in, out]; the helper renames every such
  initializer to ``<module>.weight.T`` (``<module>.weight`` when stored untransposed), found
  by exact equality with the torch weights, so a task's ``adaptable`` list and peft's
  module names meet. Returns the file's sha256 and the name map (torch weight name -> ONNX
  initializer name).
* ``adapter_from_peft(peft_model, names)``: each LoRA pair of ``peft_model`` (a
  ``PeftModel`` over the base that was exported) as ``{onnx name: (A, B)}`` plus alpha:
  peft's ``W + (alpha/r) B A`` becomes, for a transposed initializer, ``W^T + (alpha/r)
  A^T B^T`` (A' = B^T, B' = A^T).

Example::

    sha, names = export_causal_lm(base, spec, "base.onnx")       # the creator, once
    pairs, alpha = adapter_from_peft(peft_model, names)           # a node, each round
    write_adapter("adapter.safetensors", pairs, alpha)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .export import ExportError
from .spec import TaskSpec


def _wrapper(model: Any):
    import torch

    class CausalLM(torch.nn.Module):
        """``tokens`` -> ``logits``, no KV cache."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, tokens):
            return self.inner(input_ids=tokens, use_cache=False).logits

    return CausalLM(model)


def linear_weights(model: Any) -> dict[str, np.ndarray]:
    """Every 2-D ``nn.Linear`` weight of ``model`` by its ``<module>.weight`` name."""
    import torch

    return {
        f"{name}.weight": module.weight.detach().cpu().numpy()
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module.weight.ndim == 2
    }


def name_initializers(onnx_model: Any, weights: dict[str, np.ndarray]) -> dict[str, str]:
    """Rename the initializers that hold a Linear weight (or its transpose) exactly to
    ``<module>.weight`` / ``<module>.weight.T``; returns torch name -> ONNX name. A value
    shared by several initializers or several weights stays unnamed (ambiguous)."""
    from onnx import numpy_helper

    inits = [i for i in onnx_model.graph.initializer if len(i.dims) == 2]
    arrays = {i.name: numpy_helper.to_array(i) for i in inits}
    mapping: dict[str, str] = {}
    renames: dict[str, str] = {}
    for torch_name, w in sorted(weights.items()):
        hits = [
            (n, suffix)
            for n, a in arrays.items()
            for suffix, want in (("", w), (".T", w.T))
            if a.shape == want.shape
            and a.dtype == want.dtype
            and np.array_equal(a, want)
            and not (suffix == ".T" and w.shape[0] == w.shape[1] and np.array_equal(w, w.T))
        ]
        if len(hits) != 1 or hits[0][0] in renames:
            continue
        old, suffix = hits[0]
        renames[old] = torch_name + suffix
        mapping[torch_name] = torch_name + suffix
    for init in onnx_model.graph.initializer:
        if init.name in renames:
            init.name = renames[init.name]
    for node in _all_nodes(onnx_model.graph):
        for k, name in enumerate(node.input):
            if name in renames:
                node.input[k] = renames[name]
    return mapping


def _all_nodes(graph: Any):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g is not None and attr.g.node:
                yield from _all_nodes(attr.g)
            for g in attr.graphs:
                yield from _all_nodes(g)


def export_causal_lm(
    model: Any,
    spec: TaskSpec,
    path: str | os.PathLike[str],
    external_data: bool | None = None,
) -> tuple[str, dict[str, str]]:
    """Export ``model`` (a ``transformers`` causal LM) for ``spec``; returns (sha256 of the
    file, torch weight name -> ONNX initializer name). See the module docstring.

    ``external_data``: keep the weights in one file ``<name>.data`` beside the model,
    declared in the model (``external.seal``) so the model's hash commits to it; ``None``
    (default) does so only when the weights pass 2 GiB (ONNX's single-file limit) and the
    spec is a language-model task (the only tasks that accept external data)."""
    import hashlib
    from pathlib import Path

    import onnx

    from .export import choose_opset, export_proto, verify_export
    from .external import ExternalDataError, seal

    model = model.eval()
    wrapper = _wrapper(model).eval()
    proto = export_proto(wrapper, spec, choose_opset(spec, True))
    mapping = name_initializers(proto, linear_weights(model))
    if spec.chat is not None:  # the tokenizer it was trained with: checked by validators
        from .checks import TOKENIZER_KEY

        props = {p.key: p.value for p in proto.metadata_props}
        onnx.helper.set_model_props(proto, {**props, TOKENIZER_KEY: spec.chat.tokenizer_sha256})
    if external_data is None:
        external_data = spec.chat is not None and proto.ByteSize() >= (2 << 30) - (1 << 20)
    target = Path(path)
    data_file = target.parent / f"{target.name}.data"
    data_file.unlink(missing_ok=True)
    if external_data:
        onnx.save_model(
            proto, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
            location=data_file.name, size_threshold=1024,
        )  # fmt: skip
        try:
            seal(target)
        except ExternalDataError as exc:  # pragma: no cover - onnx wrote one bare file
            raise ExportError(f"cannot seal the export's external data: {exc}") from exc
    else:
        target.write_bytes(proto.SerializeToString())
    del proto
    data = target.read_bytes()
    verify_export(wrapper, spec, data, path=target)
    return hashlib.sha256(data).hexdigest(), mapping


def adapter_from_peft(peft_model: Any, names: dict[str, str]) -> tuple[dict, float]:
    """The LoRA pairs of ``peft_model`` under the base export's ONNX names, and alpha (one
    alpha and one rank for the whole adapter, as peft's default adapter)."""
    import torch

    config = peft_model.peft_config[peft_model.active_adapter]
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, module in peft_model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if not isinstance(lora_a, torch.nn.ModuleDict) or peft_model.active_adapter not in lora_a:
            continue
        base_name = name.removeprefix("base_model.model.") + ".weight"
        if base_name not in names:
            raise ExportError(f"peft adapts {base_name!r}, which the base export did not name")
        a = module.lora_A[peft_model.active_adapter].weight.detach().cpu().numpy()  # [r, in]
        b = module.lora_B[peft_model.active_adapter].weight.detach().cpu().numpy()  # [out, r]
        onnx_name = names[base_name]
        if onnx_name.endswith(".T"):  # W^T + s A^T B^T
            pairs[onnx_name] = (np.ascontiguousarray(b.T), np.ascontiguousarray(a.T))
        else:
            pairs[onnx_name] = (a, b)
    if not pairs:
        raise ExportError("the peft model holds no LoRA layers")
    return pairs, float(config.lora_alpha)
