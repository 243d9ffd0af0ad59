"""Per-row sum of squared errors.

``sse[i] = sum_j (pred[i, j] - target[i, j])**2`` over all trailing dimensions. One Triton
program owns a block of rows and walks the trailing elements in chunks, accumulating in a
float32 tile that is reduced once at the end (fixed order, no atomics).

Public function: :func:`squared_error_rows`; torch float64 reference:
:func:`squared_error_rows_reference`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import triton
import triton.language as tl

from ._common import (
    as_tensor,
    check_float,
    check_same_device,
    cpu_rows_block,
    is_interpreted,
    resolve_backend,
    row_sum_f64,
    row_tile_config,
    sequential_row_sum,
)

__all__ = ["squared_error_rows", "squared_error_rows_reference", "squared_error_rows_triton"]


@triton.jit
def _squared_error_rows_kernel(
    pred_ptr,  # [n_rows, n_cols] any float dtype, column stride 1
    target_ptr,  # [n_rows, n_cols] any float dtype, column stride 1
    sse_ptr,  # [n_rows] float32 out
    n_rows,
    n_cols,
    stride_pred,
    stride_target,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    row_mask = rows < n_rows
    rows64 = rows.to(tl.int64)
    cols0 = tl.arange(0, BLOCK_COLS)
    acc = tl.zeros([BLOCK_ROWS, BLOCK_COLS], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK_COLS):
        cols = start + cols0
        mask = row_mask[:, None] & (cols < n_cols)[None, :]
        p = tl.load(pred_ptr + rows64[:, None] * stride_pred + cols[None, :], mask=mask, other=0.0)
        t = tl.load(
            target_ptr + rows64[:, None] * stride_target + cols[None, :], mask=mask, other=0.0
        )
        d = p.to(tl.float32) - t.to(tl.float32)
        acc += d * d
    tl.store(sse_ptr + rows, tl.sum(acc, axis=1), mask=row_mask)


def squared_error_rows_triton(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    block_rows: int | None = None,
    block_cols: int | None = None,
) -> torch.Tensor:
    """Launch the kernel on validated 2-D [N, D] inputs; returns sse float32 [N].

    ``block_rows`` / ``block_cols`` (powers of two) override the tile heuristics (tests).
    """
    n_rows, n_cols = pred.shape
    if pred.stride(1) != 1:
        pred = pred.contiguous()
    if target.stride(1) != 1:
        target = target.contiguous()
    sse = torch.empty(n_rows, dtype=torch.float32, device=pred.device)
    if n_rows == 0:
        return sse
    if n_cols == 0:
        return sse.zero_()
    cfg = row_tile_config(
        n_rows,
        n_cols,
        is_interpreted(_squared_error_rows_kernel),
        block_rows=block_rows,
        block_cols=block_cols,
    )
    _squared_error_rows_kernel[(cfg.grid,)](
        pred,
        target,
        sse,
        n_rows,
        n_cols,
        pred.stride(0),
        target.stride(0),
        BLOCK_ROWS=cfg.block_rows,
        BLOCK_COLS=cfg.block_cols,
        num_warps=cfg.num_warps,
    )
    return sse


_REF_CHUNK_ELEMS = 1 << 20
_REF_MAX_COLS = 8192


def squared_error_rows_reference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """float64 reference on validated 2-D [N, D] inputs: sse float64 [N].

    Works on blocks of rows x chunks of at most 8192 columns and sums left to right
    (:func:`sequential_row_sum`), so memory stays bounded and a row's value depends only
    on that row, never on threads or batch composition.
    """
    n_rows, n_cols = pred.shape
    out = torch.zeros(n_rows, dtype=torch.float64, device=pred.device)
    col_chunk = max(1, min(n_cols, _REF_MAX_COLS))
    row_block = max(1, _REF_CHUNK_ELEMS // col_chunk)
    for r0 in range(0, n_rows, row_block):
        r1 = min(n_rows, r0 + row_block)
        acc = out[r0:r1]
        for c0 in range(0, n_cols, col_chunk):
            p = pred[r0:r1, c0 : c0 + col_chunk].to(torch.float64)
            d = p - target[r0:r1, c0 : c0 + col_chunk].to(torch.float64)
            acc += sequential_row_sum(d * d)
    return out


def squared_error_rows_cpu(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fast deterministic CPU path on validated 2-D CPU inputs: sse float64 [N].

    numpy in float64, a block of rows at a time; each row is summed along its contiguous
    values (:func:`row_sum_f64`), so the result depends on the row and the platform only.
    """
    n_rows, n_cols = pred.shape
    out = np.zeros(n_rows, dtype=np.float64)
    block = cpu_rows_block(n_cols)
    for r0 in range(0, n_rows, block):
        r1 = min(n_rows, r0 + block)
        p = pred[r0:r1].detach().to(torch.float64).numpy()
        d = np.subtract(p, target[r0:r1].detach().to(torch.float64).numpy())
        np.multiply(d, d, out=d)
        out[r0:r1] = row_sum_f64(d)
    return torch.from_numpy(out)


def _drop_trailing_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape)
    while len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def validate_squared_error_inputs(pred, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Check and flatten to [N, D]. Shapes must match; a trailing size-1 dimension may be
    missing on one side ([N, 1] vs [N]), nothing else is broadcast."""
    pred = as_tensor(pred, "pred")
    target = as_tensor(target, "target")
    if pred.ndim < 1:
        raise ValueError("pred must have a leading row dimension [N, ...], got a scalar")
    check_float(pred, "pred")
    check_float(target, "target")
    if tuple(pred.shape) != tuple(target.shape) and _drop_trailing_ones(
        pred.shape
    ) != _drop_trailing_ones(target.shape):
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape"
        )
    check_same_device(pred, target, "pred", "target")
    n_rows, n_cols = pred.shape[0], math.prod(pred.shape[1:])
    return pred.reshape(n_rows, n_cols), target.reshape(n_rows, n_cols)


def squared_error_rows_any(pred, target, backend: str = "auto") -> tuple[torch.Tensor, str]:
    """Validated dispatch: (sse [N] float32 (triton) or float64 (cpu, torch), backend)."""
    pred, target = validate_squared_error_inputs(pred, target)
    used = resolve_backend(backend, pred.device, _squared_error_rows_kernel)
    if used == "triton":
        return squared_error_rows_triton(pred, target), used
    if used == "cpu":
        return squared_error_rows_cpu(pred, target), used
    return squared_error_rows_reference(pred, target), used


def squared_error_rows(pred, target, backend: str = "auto") -> torch.Tensor:
    """Per-row sum of squared errors over all trailing dimensions.

    Args:
        pred: [N, ...] float tensor or numpy array.
        target: same shape as ``pred`` (``[N]`` vs ``[N, 1]`` is accepted), float.
        backend: "triton", "cpu" (fast numpy float64), "torch" (float64 reference) or
            "auto" (triton on CUDA, else cpu).

    Returns:
        sse [N] float32 on the device of ``pred``.
    """
    sse, _ = squared_error_rows_any(pred, target, backend)
    return sse.to(torch.float32)
