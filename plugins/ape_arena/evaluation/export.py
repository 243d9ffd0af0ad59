"""Export a torch model to the ONNX file a task expects, and prove it runs (nodes use this).

``export_model`` names the ONNX inputs/output as the spec does, makes every symbolic dim of
the spec (the batch dim, and e.g. ``seq`` if a spec leaves it open) dynamic, runs the static
checks of ``checks.py`` on the result, then runs it with onnxruntime on sample inputs at a
*different* batch size than the export used and compares with torch.

Exporter: the legacy TorchScript exporter (``dynamo=False``) is the default. With torch 2.13
on CPU it takes ~0.01-0.1 s and gives byte-identical files for identical weights, so a node
can re-export and get the same sha256. ``dynamo=True`` uses the torch.export-based exporter
(needs onnxscript; seconds per export); it is kept as an option for models the legacy
exporter cannot trace.

Example::

    sha = export_model(net, TaskSpec.load("digits.json"), "model.onnx")
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fsutil import atomic_write_bytes
from .spec import TOKEN_METRICS, TaskSpec

if TYPE_CHECKING:
    import numpy as np
    import torch

LEGACY_MAX_OPSET = 20
"""Highest opset the TorchScript exporter of torch 2.13 writes."""

EXPORT_BATCH = 2
CHECK_BATCH = 3
FREE_DIM = 8
"""Size used for symbolic non-batch dims when making sample inputs."""


class ExportError(RuntimeError):
    """Export failed, or the exported model disagrees with torch / fails a static check."""


def choose_opset(spec: TaskSpec, dynamo: bool = False) -> int:
    """Highest opset the spec allows that the chosen exporter can write."""
    cap = spec.limits.opset_max if dynamo else min(spec.limits.opset_max, LEGACY_MAX_OPSET)
    if cap < spec.limits.opset_min:
        raise ExportError(
            f"the spec allows opsets {spec.limits.opset_min}..{spec.limits.opset_max} but the "
            f"legacy exporter writes at most {LEGACY_MAX_OPSET}; pass dynamo=True"
        )
    return cap


def sample_inputs(spec: TaskSpec, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random inputs shaped and typed as the spec says (symbolic dims: batch / ``FREE_DIM``).

    Integer inputs are drawn from ``[0, vocab)`` for token tasks (vocab = the output's last
    dim) and ``[0, 16)`` otherwise, so embedding lookups stay in range.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    high = int(spec.output.shape[-1]) if spec.metric in TOKEN_METRICS else 16
    arrays = []
    for t in spec.inputs:
        shape = [
            batch if d == spec.batch_symbol else FREE_DIM if isinstance(d, str) else d
            for d in t.shape
        ]
        if t.dtype.startswith("float"):
            arrays.append(rng.standard_normal(shape).astype(t.dtype))
        else:
            arrays.append(rng.integers(0, high, size=shape).astype(t.dtype))
    return arrays


def export_model(
    module: torch.nn.Module,
    spec: TaskSpec,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    dynamo: bool = False,
    inputs: list[np.ndarray] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
) -> str:
    """Export ``module`` for ``spec`` to ``path``; verify it; return the file's sha256 (hex).

    ``module.forward`` takes the spec's inputs positionally, in spec order, and returns the
    output tensor. ``inputs`` (optional) are numpy arrays used to compare onnxruntime with
    torch; by default random ones at a batch size other than the export's.

    Raises:
        ExportError: the exporter failed, a static check failed (the ``CheckError`` is the
            cause), or onnxruntime and torch disagree beyond ``rtol``/``atol``.
    """
    opset = opset if opset is not None else choose_opset(spec, dynamo)
    was_training = module.training
    module.eval()
    try:
        data = _export_bytes(module, spec, opset, dynamo)
        verify_export(module, spec, data, inputs=inputs, rtol=rtol, atol=atol)
    finally:
        module.train(was_training)
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def verify_export(
    module: torch.nn.Module,
    spec: TaskSpec,
    data: bytes,
    *,
    path: str | os.PathLike[str] | None = None,
    inputs: list[np.ndarray] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
) -> Any:
    """Every static check on an export's bytes (its external-data file, if it declares one,
    read beside ``path`` and verified), then onnxruntime against ``module`` on ``inputs``
    (default: random ones at a batch size other than the export's). Returns the
    ``checks.ModelInfo``; raises ``ExportError``."""
    import torch

    from .checks import CheckError, check_model_bytes
    from .external import ExternalDataError, read_local

    external = None
    try:
        info = check_model_bytes(data, spec, None)
        if info.external is not None:
            if path is None:
                raise ExportError("the export keeps weights in external data but has no path")
            room = spec.limits.max_bytes - len(data)
            external = (info.external, read_local(path, info.external, room))
    except (CheckError, ExternalDataError) as exc:
        raise ExportError(f"exported model fails the task's static checks: {exc}") from exc
    feeds = inputs if inputs is not None else sample_inputs(spec, CHECK_BATCH, seed=1)
    with torch.no_grad():
        expected = module(*[torch.from_numpy(a) for a in feeds])
    _compare(data, spec, feeds, expected.detach().cpu().numpy(), rtol, atol, external)
    return info


def _export_bytes(module: torch.nn.Module, spec: TaskSpec, opset: int, dynamo: bool) -> bytes:
    if dynamo:
        return export_proto(module, spec, opset).SerializeToString()
    import torch

    with _exporting(spec) as args:
        buf = io.BytesIO()
        dynamic_axes = {
            t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)}
            for t in [*spec.inputs, spec.output]
        }
        torch.onnx.export(
            module,
            args,
            buf,
            dynamo=False,
            input_names=[t.name for t in spec.inputs],
            output_names=[spec.output.name],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
        )
        return buf.getvalue()


def export_proto(module: torch.nn.Module, spec: TaskSpec, opset: int) -> Any:
    """The dynamo exporter's ``ModelProto`` of ``module`` with the spec's names and dynamic
    dims, kept in memory (a proto over 2 GiB cannot be serialized as one message)."""
    import torch

    with _exporting(spec) as args:
        dims: dict[str, Any] = {}
        dynamic_shapes = tuple(
            {
                i: dims.setdefault(d, torch.export.Dim(d))
                for i, d in enumerate(t.shape)
                if isinstance(d, str)
            }
            for t in spec.inputs
        )
        program = torch.onnx.export(
            module,
            args,
            None,
            dynamo=True,
            input_names=[t.name for t in spec.inputs],
            output_names=[spec.output.name],
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            verbose=False,
        )
        return program.model_proto


@contextlib.contextmanager
def _exporting(spec: TaskSpec):
    """What both exporters run under: sample inputs at the export batch size (yielded), no
    autograd, the exporters' deprecation warnings silenced, and any exporter error raised
    as ``ExportError`` (the exporters raise many unrelated types)."""
    import torch

    args = tuple(torch.from_numpy(a) for a in sample_inputs(spec, EXPORT_BATCH, seed=0))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield args
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed: {type(exc).__name__}: {exc}") from exc


def _compare(
    data: bytes,
    spec: TaskSpec,
    feeds: list[np.ndarray],
    expected: np.ndarray,
    rtol: float,
    atol: float,
    external: tuple[Any, Any] | None = None,
) -> None:
    """onnxruntime on ``data`` (its external data from memory: ``(External, bytes)``)
    against torch's ``expected``."""
    import numpy as np
    import onnxruntime as ort

    from .external import add_to_session

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    if external is not None:
        add_to_session(opts, *external)
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    (got,) = session.run(
        [spec.output.name], {t.name: a for t, a in zip(spec.inputs, feeds, strict=True)}
    )
    if got.shape != expected.shape:
        raise ExportError(f"onnxruntime output shape {got.shape} != torch {expected.shape}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
        raise ExportError(
            f"onnxruntime and torch disagree (max abs diff {worst:.3g} > atol {atol}, rtol {rtol})"
        )
