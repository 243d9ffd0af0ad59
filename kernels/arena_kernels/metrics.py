"""Metric totals for the evaluation engine.

Every metric is a loss (lower is better) reported as ``(total, count)`` with mean
``total / count``. Kernels (or the torch reference) produce one value per row/token on the
device; the host then reduces them with :func:`math.fsum` over float64 values, which is exact
and order-independent, so a total never depends on threads, block sizes or batch order.

Engines that score in batches should keep the per-row values of :func:`metric_rows` and
call :func:`exact_total` once over all of them: ``fsum`` of per-batch ``fsum`` results is
deterministic too, but not necessarily equal to one ``fsum`` over everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._common import as_tensor
from .cross_entropy import cross_entropy_rows_any
from .mse import squared_error_rows_any

__all__ = ["METRICS", "MetricRows", "exact_total", "metric_rows", "metric_total"]

METRICS = ("cross_entropy", "error_rate", "mse", "token_cross_entropy", "bits_per_byte")

#: ignore marker in token targets ([N, T], like torch / Hugging Face labels)
TOKEN_IGNORE_INDEX = -100
BYTE_VOCAB = 256
LN2 = math.log(2.0)


@dataclass(frozen=True)
class MetricRows:
    """Per-row (or per-token) contributions of one metric on one batch.

    ``values`` is a float64 numpy array whose exact sum is the total (ignored tokens hold 0);
    ``count`` is the denominator of the mean; ``backend`` is what computed them.
    """

    metric: str
    values: np.ndarray
    count: int
    backend: str

    @property
    def total(self) -> float:
        return exact_total(self.values)


def exact_total(values) -> float:
    """Exactly rounded, order-independent sum of float64 values (``math.fsum``).

    Non-finite inputs give a non-finite total (``inf`` on overflow, ``nan`` on NaN) rather
    than an exception, so callers can turn them into INVALID.
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    try:
        return math.fsum(arr.tolist())
    except OverflowError:  # finite values whose exact sum exceeds float64
        with np.errstate(over="ignore"):
            return math.inf if arr.sum() >= 0 else -math.inf
    except ValueError:  # inf + -inf
        return math.nan


def _to_host_f64(x: torch.Tensor) -> np.ndarray:
    return x.detach().to(torch.float64).cpu().numpy()


def _classification_target(output, target) -> tuple[torch.Tensor, torch.Tensor]:
    output = as_tensor(output, "output")
    target = as_tensor(target, "target")
    if output.ndim != 2:
        raise ValueError(f"output must be 2-D [N, C] logits, got shape {tuple(output.shape)}")
    if target.dtype != torch.int64:
        raise ValueError(
            f"target must be int64 (torch.long), got {target.dtype}; use target.long()"
        )
    if target.ndim == 1 and target.shape[0] == output.shape[0] and target.device == output.device:
        n_cols = output.shape[1]
        bad = (target < 0) | (target >= n_cols)
        if target.numel() and bool(bad.any()):
            i = int(torch.nonzero(bad)[0, 0])
            raise ValueError(f"target[{i}] = {int(target[i])} is outside [0, {n_cols}) classes")
    return output, target


def _token_inputs(output, target, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate [N, T, V] / [N, T] / mask [N, T]; returns ([N*T, V] logits, [N*T] target)
    with masked-out positions set to TOKEN_IGNORE_INDEX."""
    output = as_tensor(output, "output")
    target = as_tensor(target, "target")
    if output.ndim != 3:
        raise ValueError(f"output must be 3-D [N, T, V] logits, got shape {tuple(output.shape)}")
    if output.shape[2] < 1:
        raise ValueError(
            f"output must have a vocabulary of at least 1, got shape {tuple(output.shape)}"
        )
    if target.dtype != torch.int64:
        raise ValueError(
            f"target must be int64 (torch.long), got {target.dtype}; use target.long()"
        )
    if tuple(target.shape) != tuple(output.shape[:2]):
        raise ValueError(
            f"target must have shape {tuple(output.shape[:2])} to match output "
            f"{tuple(output.shape)}, got {tuple(target.shape)}"
        )
    if target.device != output.device:
        raise ValueError(f"output is on {output.device} but target is on {target.device}")
    if mask is not None:
        mask = as_tensor(mask, "mask")
        if tuple(mask.shape) != tuple(target.shape):
            raise ValueError(
                f"mask must have shape {tuple(target.shape)} like target, got {tuple(mask.shape)}"
            )
        if mask.device != target.device:
            raise ValueError(f"mask is on {mask.device} but target is on {target.device}")
        if mask.dtype.is_complex:
            raise ValueError(f"mask must be bool or numeric (0 = ignore), got {mask.dtype}")
        target = torch.where(mask != 0, target, torch.full_like(target, TOKEN_IGNORE_INDEX))
    vocab = output.shape[2]
    return output.reshape(-1, vocab), target.reshape(-1)


def metric_rows(metric: str, output, target, mask=None, backend: str = "auto") -> MetricRows:
    """Per-row contributions of ``metric`` (see :func:`metric_total` for the definitions)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    if mask is not None and metric not in ("token_cross_entropy", "bits_per_byte"):
        raise ValueError(f"mask is only supported for token metrics, not {metric!r}")

    if metric in ("cross_entropy", "error_rate"):
        output, target = _classification_target(output, target)
        loss, argmax, used = cross_entropy_rows_any(output, target, TOKEN_IGNORE_INDEX, backend)
        if metric == "cross_entropy":
            values = _to_host_f64(loss)
        else:
            values = _to_host_f64((argmax != target).to(torch.float64))
        return MetricRows(metric, values, int(output.shape[0]), used)

    if metric == "mse":
        sse, used = squared_error_rows_any(output, target, backend)
        numel = as_tensor(output, "output").numel()
        return MetricRows(metric, _to_host_f64(sse), int(numel), used)

    logits, tokens = _token_inputs(output, target, mask)
    if metric == "bits_per_byte" and logits.shape[1] != BYTE_VOCAB:
        raise ValueError(
            f"bits_per_byte needs a {BYTE_VOCAB}-entry byte vocabulary, got V = {logits.shape[1]}"
        )
    loss, _, used = cross_entropy_rows_any(logits, tokens, TOKEN_IGNORE_INDEX, backend)
    count = int((tokens != TOKEN_IGNORE_INDEX).sum())
    values = _to_host_f64(loss)
    if metric == "bits_per_byte":
        values = values / LN2
    return MetricRows(metric, values, count, used)


def metric_total(
    metric: str, output, target, mask=None, backend: str = "auto"
) -> tuple[float, int]:
    """Exact ``(total, count)`` of a loss metric; the mean is ``total / count``.

    Metrics:
        cross_entropy: output [N, C] logits, target [N] int64 in [0, C); total = sum of
            per-row -log softmax, count = N.
        error_rate: total = number of rows with argmax != target, count = N.
        mse: output and target of equal shape [N, ...]; total = sum of squared errors,
            count = number of elements.
        token_cross_entropy: output [N, T, V], target [N, T] int64 (-100 = ignore), optional
            mask [N, T] (0 = ignore); total = sum of token losses in nats, count = kept tokens.
        bits_per_byte: as token_cross_entropy with V = 256; total in bits (nats / ln 2).

    ``mask`` is accepted for the token metrics only. ``backend``: "triton", "torch" or
    "auto" (triton on CUDA, torch otherwise). Non-finite outputs give a non-finite total.
    """
    rows = metric_rows(metric, output, target, mask=mask, backend=backend)
    return rows.total, rows.count
