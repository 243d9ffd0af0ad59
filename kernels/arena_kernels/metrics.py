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

from ._common import as_tensor, check_same_device
from .cross_entropy import cross_entropy_rows_any
from .mse import squared_error_rows_any, validate_squared_error_inputs

__all__ = [
    "DEFAULT_IGNORE_INDEX",
    "METRICS",
    "NLL_METRICS",
    "MetricRows",
    "exact_total",
    "metric_rows",
    "metric_rows_checked",
    "metric_total",
    "nll_metric_rows",
]

METRICS = ("cross_entropy", "error_rate", "mse", "token_cross_entropy", "bits_per_byte")

#: default ignore marker in class/token targets (like torch / Hugging Face labels)
DEFAULT_IGNORE_INDEX = -100
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


def _int64_target(target, what: str = "target") -> torch.Tensor:
    target = as_tensor(target, what)
    if target.dtype != torch.int64:
        raise ValueError(
            f"{what} must be int64 (torch.long), got {target.dtype}; use {what}.long()"
        )
    return target


def _apply_mask(mask, target: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Targets where ``mask == 0`` become ``ignore_index`` (their values are never checked)."""
    if mask is None:
        return target
    mask = as_tensor(mask, "mask")
    if tuple(mask.shape) != tuple(target.shape):
        raise ValueError(
            f"mask must have shape {tuple(target.shape)} like target, got {tuple(mask.shape)}"
        )
    check_same_device(mask, target, "mask", "target")
    if mask.dtype.is_complex:
        raise ValueError(f"mask must be bool or numeric (0 = ignore), got {mask.dtype}")
    return torch.where(mask != 0, target, torch.full_like(target, ignore_index))


def _classification_inputs(output, target, mask, ignore_index: int):
    """[N, C] logits, [N] int64 target (mask [N]: 0 = row not counted)."""
    output = as_tensor(output, "output")
    if output.ndim != 2:
        raise ValueError(f"output must be 2-D [N, C] logits, got shape {tuple(output.shape)}")
    target = _int64_target(target)
    if target.ndim != 1 or target.shape[0] != output.shape[0]:
        raise ValueError(
            f"target must have shape [{output.shape[0]}] to match output "
            f"{tuple(output.shape)}, got {tuple(target.shape)}"
        )
    check_same_device(output, target, "output", "target")
    return output, _apply_mask(mask, target, ignore_index)


def _token_inputs(output, target, mask, ignore_index: int):
    """Validate [N, T, V] / [N, T] / mask [N, T]; returns ([N*T, V] logits, [N*T] target)
    with masked-out positions set to ``ignore_index``."""
    output = as_tensor(output, "output")
    if output.ndim != 3:
        raise ValueError(f"output must be 3-D [N, T, V] logits, got shape {tuple(output.shape)}")
    if output.shape[2] < 1:
        raise ValueError(
            f"output must have a vocabulary of at least 1, got shape {tuple(output.shape)}"
        )
    target = _int64_target(target)
    if tuple(target.shape) != tuple(output.shape[:2]):
        raise ValueError(
            f"target must have shape {tuple(output.shape[:2])} to match output "
            f"{tuple(output.shape)}, got {tuple(target.shape)}"
        )
    check_same_device(output, target, "output", "target")
    target = _apply_mask(mask, target, ignore_index)
    vocab = output.shape[2]
    return output.reshape(-1, vocab), target.reshape(-1)


def _logit_inputs(metric: str, output, target, mask, ignore_index: int):
    """[rows, V] logits and [rows] int64 targets of a class or token metric (masked-out
    positions set to ``ignore_index``); ``bits_per_byte`` needs the 256-byte vocabulary."""
    if metric in ("cross_entropy", "error_rate"):
        return _classification_inputs(output, target, mask, ignore_index)
    logits, tokens = _token_inputs(output, target, mask, ignore_index)
    if metric == "bits_per_byte" and logits.shape[1] != BYTE_VOCAB:
        raise ValueError(
            f"bits_per_byte needs a {BYTE_VOCAB}-entry byte vocabulary, got V = {logits.shape[1]}"
        )
    return logits, tokens


def _mse_inputs(output, target, mask):
    """Returns (pred, target, keep) where ``keep`` is None or a bool tensor shaped like
    ``target``; a row mask [N] is broadcast over the trailing dimensions."""
    output = as_tensor(output, "output")
    target = as_tensor(target, "target")
    if mask is None:
        return output, target, None
    mask = as_tensor(mask, "mask")
    if mask.dtype.is_complex:
        raise ValueError(f"mask must be bool or numeric (0 = ignore), got {mask.dtype}")
    check_same_device(mask, target, "mask", "target")
    n_rows = target.shape[0] if target.ndim else -1
    if tuple(mask.shape) == tuple(target.shape):
        keep = mask != 0
    elif mask.ndim == 1 and mask.shape[0] == n_rows:
        keep = (mask != 0).reshape((n_rows,) + (1,) * (target.ndim - 1)).expand(target.shape)
    else:
        raise ValueError(
            f"mask must have shape {tuple(target.shape)} like target (or [{n_rows}] per row), "
            f"got {tuple(mask.shape)}"
        )
    return output, target, keep


def metric_rows(
    metric: str,
    output,
    target,
    mask=None,
    backend: str = "auto",
    *,
    ignore_index: int = DEFAULT_IGNORE_INDEX,
) -> MetricRows:
    """Per-row (per-token for token metrics) contributions of ``metric``.

    Same arguments as :func:`metric_total`. ``values`` hold 0 for rows that do not count,
    so ``exact_total(values)`` is the total whichever rows were masked.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"ignore_index must be an int, got {ignore_index!r}")

    if metric == "mse":
        pred, tgt, keep = _mse_inputs(output, target, mask)
        if keep is None:
            sse, used = squared_error_rows_any(pred, tgt, backend)
            return MetricRows(metric, _to_host_f64(sse), int(pred.numel()), used)
        pred2, tgt2 = validate_squared_error_inputs(pred, tgt)  # [N, D] each
        keep2 = keep.reshape(tgt2.shape)
        # masked elements become 0 - 0: they add exactly nothing (whatever they held)
        pred2 = torch.where(keep2, pred2, torch.zeros((), dtype=pred2.dtype, device=pred2.device))
        tgt2 = torch.where(keep2, tgt2, torch.zeros((), dtype=tgt2.dtype, device=tgt2.device))
        sse, used = squared_error_rows_any(pred2, tgt2, backend)
        return MetricRows(metric, _to_host_f64(sse), int(keep.sum()), used)

    logits, tokens = _logit_inputs(metric, output, target, mask, ignore_index)
    loss, argmax, used = cross_entropy_rows_any(
        logits, tokens, ignore_index, backend, argmax=metric == "error_rate"
    )
    keep = tokens != ignore_index
    if metric == "error_rate":
        return MetricRows(metric, _to_host_f64((argmax != tokens) & keep), int(keep.sum()), used)
    return _loss_rows(metric, _to_host_f64(loss), keep.detach().cpu().numpy(), used)


def metric_rows_checked(
    metric: str,
    output,
    target,
    mask=None,
    backend: str = "auto",
    *,
    ignore_index: int = DEFAULT_IGNORE_INDEX,
) -> tuple[MetricRows, int]:
    """:func:`metric_rows` and how many values of ``output`` are not finite (NaN, +-inf;
    masked and ignored positions included: a model's whole output must be finite).

    On the triton backend the class and token metrics count them inside the cross-entropy
    kernel's own pass over the logits (no separate ``isfinite`` pass, ~6 bytes per logit
    less); other metrics and backends count them with one ``torch.isfinite`` pass."""
    from ._common import resolve_backend
    from .cross_entropy import (
        _cross_entropy_rows_kernel,
        cross_entropy_rows_triton,
        validate_cross_entropy_inputs,
    )

    if metric in METRICS and metric != "mse":
        logits, tokens = _logit_inputs(metric, output, target, mask, ignore_index)
        if resolve_backend(backend, logits.device, _cross_entropy_rows_kernel) == "triton":
            logits, tokens = validate_cross_entropy_inputs(logits, tokens, ignore_index)
            loss, argmax, bad = cross_entropy_rows_triton(
                logits, tokens, ignore_index, argmax=metric == "error_rate", count_nonfinite=True
            )
            keep = tokens != ignore_index
            per_row = ((argmax != tokens) & keep) if metric == "error_rate" else loss
            # one device-to-host copy (one sync) per batch: values, kept rows, bad counts
            host = torch.stack([per_row.double(), keep.double(), bad.double()]).cpu().numpy()
            n_bad = int(host[2].sum())
            kept = host[1] != 0
            if metric == "error_rate":
                return MetricRows(metric, host[0], int(kept.sum()), "triton"), n_bad
            return _loss_rows(metric, host[0], kept, "triton"), n_bad
    rows = metric_rows(metric, output, target, mask, backend, ignore_index=ignore_index)
    out = as_tensor(output, "output")
    return rows, int((~torch.isfinite(out)).sum()) if out.is_floating_point() else 0


def _loss_rows(metric: str, loss: np.ndarray, keep: np.ndarray, backend: str) -> MetricRows:
    """Per-row values of a loss metric from float64 per-row cross entropies (nats): rows
    not kept are exactly 0, ``bits_per_byte`` is in bits."""
    values = np.where(keep, loss, 0.0)
    if metric == "bits_per_byte":
        values = values / LN2
    return MetricRows(metric, values, int(keep.sum()), backend)


#: metrics that are means of per-row (per-token) cross entropies
NLL_METRICS = ("cross_entropy", "token_cross_entropy", "bits_per_byte")


def nll_metric_rows(
    metric: str,
    nll,
    target,
    mask=None,
    *,
    ignore_index: int = DEFAULT_IGNORE_INDEX,
    backend: str = "given",
) -> MetricRows:
    """:func:`metric_rows` of a cross-entropy metric from per-row negative log-likelihoods
    ``nll = -log softmax(logits)[target]`` computed elsewhere (the engine's CPU path takes
    them from onnxruntime's log-softmax inside the model's graph).

    ``nll`` has the shape of ``target`` ([N] for ``cross_entropy``, [N, T] for the token
    metrics); rows with ``mask == 0`` or ``target == ignore_index`` count 0 whatever their
    ``nll`` holds (the caller may gather them at any valid index), exactly as in
    :func:`metric_rows`, and ``bits_per_byte`` is converted to bits the same way.
    """
    if metric not in NLL_METRICS:
        raise ValueError(f"nll_metric_rows needs one of {NLL_METRICS}, got {metric!r}")
    nll = np.asarray(nll)
    target = _int64_target(target)
    if nll.shape != tuple(target.shape):
        raise ValueError(f"nll must have the target's shape {tuple(target.shape)}, got {nll.shape}")
    keep = _apply_mask(mask, target, ignore_index) != ignore_index
    loss = nll.astype(np.float64).ravel()
    return _loss_rows(metric, loss, keep.cpu().numpy().ravel(), backend)


def metric_total(
    metric: str,
    output,
    target,
    mask=None,
    backend: str = "auto",
    *,
    ignore_index: int = DEFAULT_IGNORE_INDEX,
) -> tuple[float, int]:
    """Exact ``(total, count)`` of a loss metric; the mean is ``total / count``.

    Metrics:
        cross_entropy: output [N, C] logits, target [N] int64 in [0, C); total = sum of
            per-row -log softmax, count = N (rows that count, see below).
        error_rate: total = number of rows with argmax != target, count = N.
        mse: output and target of equal shape [N, ...]; total = sum of squared errors,
            count = number of elements.
        token_cross_entropy: output [N, T, V], target [N, T] int64 (-100 = ignore), optional
            mask [N, T] (0 = ignore); total = sum of token losses in nats, count = kept tokens.
        bits_per_byte: as token_cross_entropy with V = 256; total in bits (nats / ln 2).

    Rows/tokens that do not count: ``mask == 0`` (mask shaped like ``target``; for mse also
    a per-row mask [N]) and, for the class/token metrics, ``target == ignore_index``.
    Without them the counts are exactly N / elements / tokens as above.
    ``backend``: "triton", "cpu" (fast numpy path), "torch" (float64 reference) or "auto"
    (triton on CUDA, cpu otherwise).
    Non-finite outputs give a non-finite total (a NaN logit row also counts as an error).
    """
    rows = metric_rows(metric, output, target, mask, backend, ignore_index=ignore_index)
    return rows.total, rows.count
