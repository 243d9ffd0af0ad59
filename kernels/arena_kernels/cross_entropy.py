"""Fused per-row cross-entropy + argmax over large vocabularies.

One Triton program owns a block of rows and walks the vocabulary in chunks, keeping *per
lane* (each element of the tile) a running max ``m``, a running sum ``s`` of ``exp(x - m)``
(rescaled whenever ``m`` grows), the first column of its maximum (only in the argmax
variant, which ``error_rate`` needs), and counts of NaN and non-finite logits; after the
loop each row reduces its lanes once (max, rescaled sum, first index of the maximum, the
counts). No block-wide reduction, hence no barrier, runs inside the chunk loop. The target
logit is gathered with one masked load. Probabilities are never materialised, each logit is
read once, every reduction runs in a fixed order (no atomics), and the tile depends on the
row length only, so results are bit-for-bit reproducible on one platform and a row's bits do
not depend on its batch. Vocabularies up to 262,144 (Gemma 3) are tested; past 65,536
columns the GPU tile takes 8,192 columns per step. With ``count_nonfinite`` the launcher
also returns each row's count of NaN/±inf logits, counted in the same pass.

    loss[i]   = (m_i - x[i, target_i]) + log(s_i)      (0 where target_i == ignore_index)
    argmax[i] = first j with x[i, j] == max_j x[i, j]

Non-finite logits: a row containing NaN gets loss NaN and argmax -1 (so an error-rate
counts it as wrong); +inf logits give a NaN loss. Both backends agree on this, and an
ignored row always has loss 0. The evaluation engine turns non-finite totals into INVALID.

Public function: :func:`cross_entropy_rows`. The torch reference
(:func:`cross_entropy_rows_reference`) computes the same quantities in float64, chunked over
the vocabulary so a 65,536-class row never needs a float64 copy of the whole batch.
"""

from __future__ import annotations

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

__all__ = [
    "cross_entropy_rows",
    "cross_entropy_rows_cpu",
    "cross_entropy_rows_reference",
    "cross_entropy_rows_triton",
]


@triton.jit
def _cross_entropy_rows_kernel(
    logits_ptr,  # [n_rows, n_cols], any float dtype, column stride 1
    target_ptr,  # [n_rows] int64, contiguous
    loss_ptr,  # [n_rows] float32 out
    argmax_ptr,  # [n_rows] int64 out (-1 everywhere when WANT_ARGMAX is off)
    bad_ptr,  # [n_rows] int32 out: how many of the row's logits are not finite
    n_rows,
    n_cols,
    stride_row,
    ignore_index,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
    WANT_ARGMAX: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    row_mask = rows < n_rows
    # Rows past the end re-read the last row (always valid memory) and are never stored, so
    # no lane ever sees an all-masked row.
    safe_rows = tl.minimum(rows, n_rows - 1)
    row_off = safe_rows.to(tl.int64) * stride_row  # int64: N * C can exceed 2**31
    cols0 = tl.arange(0, BLOCK_COLS)

    # One running max / rescaled sum / first-max index / non-finite count per lane (element
    # of the tile), updated element-wise in the chunk loop, reduced once after it: no
    # block-wide reduction (and no barrier) inside the loop. Every lane sees its columns in
    # the same order and the final reductions are fixed trees, so results stay bit-for-bit
    # reproducible, and depend on the number of columns only, not on the batch.
    m = tl.full([BLOCK_ROWS, BLOCK_COLS], float("-inf"), tl.float32)
    s = tl.zeros([BLOCK_ROWS, BLOCK_COLS], dtype=tl.float32)
    arg = tl.zeros([BLOCK_ROWS, BLOCK_COLS], dtype=tl.int32)
    bad = tl.zeros([BLOCK_ROWS, BLOCK_COLS], dtype=tl.int32)
    nan = tl.zeros([BLOCK_ROWS, BLOCK_COLS], dtype=tl.int32)

    for start in range(0, n_cols, BLOCK_COLS):
        cols = start + cols0
        col_mask = cols < n_cols
        x = tl.load(
            logits_ptr + row_off[:, None] + cols[None, :],
            mask=col_mask[None, :],
            other=float("-inf"),
        ).to(tl.float32)
        is_nan = x != x
        nan += is_nan.to(tl.int32)
        bad += (col_mask[None, :] & (is_nan | (tl.abs(x) == float("inf")))).to(tl.int32)
        if WANT_ARGMAX:
            # strict '>' keeps the lane's earliest column on ties
            arg = tl.where(x > m, cols[None, :], arg)
        m_new = tl.maximum(m, x)
        # all--inf-so-far lanes: subtract 0 instead of -inf so exp() gives 0, not NaN
        m_sub = tl.where(m_new == float("-inf"), 0.0, m_new)
        s = s * tl.exp(m - m_sub) + tl.exp(x - m_sub)
        m = m_new

    row_max = tl.max(m, axis=1)
    r_sub = tl.where(row_max == float("-inf"), 0.0, row_max)
    total = tl.sum(s * tl.exp(m - r_sub[:, None]), axis=1)
    n_bad = tl.sum(bad, axis=1)

    tgt = tl.load(target_ptr + safe_rows)
    keep = row_mask & (tgt != ignore_index)
    tgt_ok = keep & (tgt >= 0) & (tgt < n_cols)
    tgt_safe = tl.where(tgt_ok, tgt, 0)
    t = tl.load(logits_ptr + row_off + tgt_safe, mask=tgt_ok, other=0.0).to(tl.float32)

    # a NaN anywhere in the row: loss NaN, argmax -1; a +inf logit: loss NaN (its sum is
    # NaN), argmax its first index (as every backend)
    has_nan = tl.sum(nan, axis=1) > 0
    loss = (row_max - t) + tl.log(total)
    loss = tl.where(has_nan, float("nan"), loss)
    loss = tl.where(keep, loss, 0.0)
    if WANT_ARGMAX:
        # the first column among the lanes that hold the row's maximum
        best = tl.min(tl.where(m == row_max[:, None], arg, n_cols), axis=1)
        best = tl.where(has_nan, -1, best).to(tl.int64)
    else:
        best = tl.full([BLOCK_ROWS], -1, tl.int64)
    tl.store(loss_ptr + rows, loss, mask=row_mask)
    tl.store(argmax_ptr + rows, best, mask=row_mask)
    tl.store(bad_ptr + rows, n_bad, mask=row_mask)


def cross_entropy_rows_triton(
    logits: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int = -100,
    *,
    block_rows: int | None = None,
    block_cols: int | None = None,
    argmax: bool = True,
    count_nonfinite: bool = False,
):
    """Launch the fused kernel on validated inputs; returns (loss fp32 [N], argmax int64
    [N]), plus each row's count of non-finite logits (int32 [N]) with ``count_nonfinite``
    (the engine's finiteness check, counted in the same pass over the logits).

    ``argmax=False`` compiles the variant without the argmax (then all -1): the loss-only
    metrics need none. ``block_rows`` / ``block_cols`` (powers of two) override the tile
    heuristics; tests use them to run GPU-sized tiles and many-chunk loops under the
    interpreter.
    """
    n_rows, n_cols = logits.shape
    if logits.stride(1) != 1:
        logits = logits.contiguous()
    target = target.contiguous()
    loss = torch.empty(n_rows, dtype=torch.float32, device=logits.device)
    best = torch.empty(n_rows, dtype=torch.int64, device=logits.device)
    bad = torch.empty(n_rows, dtype=torch.int32, device=logits.device)
    if n_rows:
        cfg = row_tile_config(
            n_rows,
            n_cols,
            is_interpreted(_cross_entropy_rows_kernel),
            block_rows=block_rows,
            block_cols=block_cols,
        )
        _cross_entropy_rows_kernel[(cfg.grid,)](
            logits,
            target,
            loss,
            best,
            bad,
            n_rows,
            n_cols,
            logits.stride(0),
            int(ignore_index),
            BLOCK_ROWS=cfg.block_rows,
            BLOCK_COLS=cfg.block_cols,
            WANT_ARGMAX=bool(argmax),
            num_warps=cfg.num_warps,
        )
    return (loss, best, bad) if count_nonfinite else (loss, best)


#: float64 elements per chunk of the torch reference (8 MiB); the column chunk is fixed,
#: so a row's summation order depends only on the number of columns.
_REF_CHUNK_ELEMS = 1 << 20
_REF_MAX_COLS = 8192


def cross_entropy_rows_reference(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100
) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 torch reference on validated inputs: (loss float64 [N], argmax int64 [N]).

    Two passes per block of rows (max/argmax, then sum of exp), each over vocabulary chunks
    of at most 8192 columns, so memory stays bounded whatever the vocabulary size. Sums run
    left to right (:func:`sequential_row_sum`), so a row's value does not depend on torch's
    thread count or on the other rows of the batch.
    """
    n_rows, n_cols = logits.shape
    dev = logits.device
    loss = torch.zeros(n_rows, dtype=torch.float64, device=dev)
    argmax = torch.zeros(n_rows, dtype=torch.int64, device=dev)
    col_chunk = min(n_cols, _REF_MAX_COLS)
    row_block = max(1, _REF_CHUNK_ELEMS // col_chunk)
    neg_inf = float("-inf")
    for r0 in range(0, n_rows, row_block):
        r1 = min(n_rows, r0 + row_block)
        blk = logits[r0:r1]
        m = torch.full((r1 - r0,), neg_inf, dtype=torch.float64, device=dev)
        best = torch.zeros(r1 - r0, dtype=torch.int64, device=dev)
        has_nan = torch.zeros(r1 - r0, dtype=torch.bool, device=dev)
        for c0 in range(0, n_cols, col_chunk):
            x = blk[:, c0 : c0 + col_chunk].to(torch.float64)
            has_nan |= torch.isnan(x).any(dim=1)
            chunk_max = x.amax(dim=1)
            chunk_arg = x.argmax(dim=1) + c0  # torch: first index of the maximum
            best = torch.where(chunk_max > m, chunk_arg, best)
            m = torch.maximum(m, chunk_max)
        m_sub = torch.where(m == neg_inf, torch.zeros_like(m), m)
        s = torch.zeros(r1 - r0, dtype=torch.float64, device=dev)
        for c0 in range(0, n_cols, col_chunk):
            x = blk[:, c0 : c0 + col_chunk].to(torch.float64)
            s += sequential_row_sum(torch.exp(x - m_sub[:, None]))
        tgt = target[r0:r1]
        keep = tgt != ignore_index
        tgt_safe = torch.where(keep, tgt, torch.zeros_like(tgt))
        t = blk.gather(1, tgt_safe[:, None])[:, 0].to(torch.float64)
        row_loss = (m - t) + torch.log(s)
        row_loss = torch.where(has_nan, torch.full_like(row_loss, float("nan")), row_loss)
        loss[r0:r1] = torch.where(keep, row_loss, torch.zeros_like(row_loss))
        argmax[r0:r1] = torch.where(has_nan, torch.full_like(best, -1), best)
    return loss, argmax


#: Smallest row sum of ``exp(x)`` the direct float32 path accepts: above it the largest
#: terms are normal float32 numbers, so flushed/denormal tiny terms cannot matter.
_DIRECT_MIN_SUM = 2.0**-100


def _logsumexp_rows_np(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log(sum(exp(x)))`` of each row of a C-contiguous 2-D numpy array as ``shift +
    log_sum`` (both float64; the caller adds ``shift`` to the exact ``shift - x[target]``
    first, so huge logits lose nothing), and a bool array marking the rows with a NaN.

    float64 rows: the classic max-shifted form, all in float64. float32 rows: first the
    direct form (``shift = 0``), ``exp(x)`` in float32 and its float64 row sum (no max pass,
    no shift, and no rounding of a shifted argument); rows where that overflows (a logit
    above ~88.7), underflows (every logit below ~-69) or meets a NaN/inf are recomputed
    with the max shift. Each element's ``exp`` comes from :func:`_exp_f32` (the same
    function for every position in the array), each row sum from :func:`row_sum_f64`: a
    row's value is a function of its values and the platform only.
    """
    if x.dtype == np.float64:
        return _logsumexp_rows_shifted(x)
    e = _exp_f32(x)
    s = row_sum_f64(e)
    log_sum = np.log(s)
    shift = np.zeros(len(x), dtype=np.float64)
    has_nan = np.zeros(len(x), dtype=bool)
    redo = ~((s >= _DIRECT_MIN_SUM) & (s < np.inf))  # also True for NaN
    if redo.any():
        shift[redo], log_sum[redo], has_nan[redo] = _logsumexp_rows_shifted(
            np.ascontiguousarray(x[redo])
        )
    return shift, log_sum, has_nan


#: Elements per ``torch.exp`` call on the float32 CPU path: torch's grain size, so a call is
#: never split across torch threads.
_EXP_CHUNK = 32768
#: Row lengths that are multiples of this take torch's ``exp``: every call then covers a
#: multiple of the widest SIMD step (2 x 16 floats), so no element falls in a scalar tail.
_EXP_ALIGN = 64


def _exp_f32(x: np.ndarray) -> np.ndarray:
    """``exp`` of a C-contiguous float32 2-D array, each element's value independent of its
    position, of the batch and of torch's thread count.

    Rows whose length is a multiple of ``_EXP_ALIGN`` (byte and word vocabularies: 256,
    65,536, ...) go through torch's SIMD ``exp`` (Sleef, about twice as fast as numpy's
    here) in calls of ``_EXP_CHUNK`` elements, each a multiple of the SIMD step and below
    torch's parallel grain, so every element is computed by the same vector code. Other
    row lengths use numpy's ``exp``, whose SIMD loop handles tails with masked loads.
    The choice depends on the row length alone, never on the batch.
    """
    if x.shape[1] % _EXP_ALIGN:
        return np.exp(x)
    flat = torch.from_numpy(x.reshape(-1))
    out = torch.empty_like(flat)
    for i in range(0, flat.numel(), _EXP_CHUNK):
        torch.exp(flat[i : i + _EXP_CHUNK], out=out[i : i + _EXP_CHUNK])
    return out.numpy().reshape(x.shape)


def _logsumexp_rows_shifted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``max``, ``log(sum(exp(x - max)))``, NaN rows) per row: exponentials in x's
    precision, sums and logs in float64; all--inf rows give a -inf sum, rows with +inf a
    NaN one, NaN rows NaN (as the reference)."""
    m = x.max(axis=1)  # NaN propagates: a NaN row has a NaN max
    # all -inf rows: subtract 0 instead of -inf so exp() gives 0, not NaN
    m_sub = np.where(m == -np.inf, np.zeros_like(m), m)
    e = np.subtract(x, m_sub[:, None])
    np.exp(e, out=e)
    log_sum = np.log(row_sum_f64(e))
    has_nan = np.isnan(m)
    log_sum[has_nan] = np.nan
    return m_sub.astype(np.float64), log_sum, has_nan


def cross_entropy_rows_cpu(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, *, argmax: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast deterministic CPU path on validated CPU inputs: (loss float64 [N], argmax int64).

    numpy, one block of rows at a time (:func:`cpu_rows_block`): ``log(sum(exp(x)))``
    per row (:func:`_logsumexp_rows_np`: ``exp`` in the logits' own precision, float32 for
    float32/float16/bfloat16 logits and float64 for float64 ones, sums and logs in float64),
    then ``loss = (shift - x[target]) + log_sum`` in float64 (as the reference: the
    difference of two logits is exact, so huge logits lose nothing), and the first-index
    argmax when asked. numpy's element-wise ops and reductions are single-threaded and work
    row by row, so a row's loss is a function of its values and the platform alone:
    bit-identical across runs, batchings and thread settings.

    Precision: like the Triton kernels (and every float32 framework), the exponentials are
    float32 for float32 logits, so a row's loss is within a few float32 ulps of the float64
    reference (below ``3e-7`` nats; the float32 logits the model produced are no finer).
    That makes it 2-3x cheaper than float64 exponentials, which matters on CPU validators,
    where a 256-way softmax per token costs as much as a small LM's inference.
    Non-finite rows behave as in the other backends (NaN row: loss NaN, argmax -1).
    ``argmax=False`` skips the argmax pass (the returned argmax is then all -1); the
    metrics use it for the loss-only metrics.
    """
    n_rows, n_cols = logits.shape
    loss = np.zeros(n_rows, dtype=np.float64)
    best_all = np.full(n_rows, -1, dtype=np.int64)
    tgt_all = target.detach().numpy()
    work = torch.float64 if logits.dtype == torch.float64 else torch.float32
    block = cpu_rows_block(n_cols)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        for r0 in range(0, n_rows, block):
            r1 = min(n_rows, r0 + block)
            x = np.ascontiguousarray(logits[r0:r1].detach().to(work).numpy())
            shift, log_sum, has_nan = _logsumexp_rows_np(x)
            tgt = tgt_all[r0:r1]
            keep = tgt != ignore_index
            t = x[np.arange(r1 - r0), np.where(keep, tgt, 0)].astype(np.float64)
            row = (shift - t) + log_sum  # as the reference: exact for huge logits too
            row[has_nan] = np.nan
            loss[r0:r1] = np.where(keep, row, 0.0)
            if argmax:
                best = x.argmax(axis=1)  # first index of the maximum (NaN: its index)
                best_all[r0:r1] = np.where(has_nan, -1, best)
    return torch.from_numpy(loss), torch.from_numpy(best_all)


def validate_cross_entropy_inputs(
    logits, target, ignore_index: int = -100, *, what: str = "logits"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes, dtypes, devices and target range; returns the inputs as tensors."""
    logits = as_tensor(logits, what)
    target = as_tensor(target, "target")
    if logits.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D [N, C], got shape {tuple(logits.shape)}; "
            "flatten token logits with .reshape(-1, V)"
        )
    n_rows, n_cols = logits.shape
    if n_cols < 1:
        raise ValueError(
            f"{what} must have at least one class column, got shape {tuple(logits.shape)}"
        )
    check_float(logits, what)
    if target.dtype != torch.int64:
        raise ValueError(
            f"target must be int64 (torch.long), got {target.dtype}; use target.long()"
        )
    if target.ndim != 1 or target.shape[0] != n_rows:
        raise ValueError(
            f"target must have shape [{n_rows}] to match {what} {tuple(logits.shape)}, "
            f"got {tuple(target.shape)}"
        )
    check_same_device(logits, target, what, "target")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"ignore_index must be an int, got {ignore_index!r}")
    if n_rows:
        bad = (target != ignore_index) & ((target < 0) | (target >= n_cols))
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0, 0])
            raise ValueError(
                f"target[{i}] = {int(target[i])} is outside [0, {n_cols}) and is not "
                f"ignore_index ({ignore_index})"
            )
    return logits, target


def cross_entropy_rows_any(
    logits, target, ignore_index: int = -100, backend: str = "auto", *, argmax: bool = True
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Validated dispatch: (loss [N] float32 (triton) or float64 (cpu, torch), argmax,
    backend). ``argmax=False`` lets the cpu path skip the argmax (then all -1)."""
    logits, target = validate_cross_entropy_inputs(logits, target, ignore_index)
    used = resolve_backend(backend, logits.device, _cross_entropy_rows_kernel)
    if used == "triton":
        loss, best = cross_entropy_rows_triton(logits, target, ignore_index, argmax=argmax)
    elif used == "cpu":
        loss, best = cross_entropy_rows_cpu(logits, target, ignore_index, argmax=argmax)
    else:
        loss, best = cross_entropy_rows_reference(logits, target, ignore_index)
    return loss, best, used


def cross_entropy_rows(
    logits, target, ignore_index: int = -100, backend: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row cross-entropy and argmax.

    Args:
        logits: [N, C] float32/float16/bfloat16 (float64 accepted) tensor or numpy array.
        target: [N] int64 class indices in [0, C), or ``ignore_index``.
        ignore_index: rows with this target get loss 0 (their argmax is still computed).
        backend: "triton", "cpu" (fast numpy path), "torch" (float64 reference) or "auto"
            (triton on CUDA, else cpu).

    Returns:
        (loss [N] float32 = -log softmax(logits)[target], argmax [N] int64 first max index),
        on the device of ``logits``.

    Raises:
        ValueError: bad shapes, dtypes, devices, out-of-range targets or backend.
    """
    loss, argmax, _ = cross_entropy_rows_any(logits, target, ignore_index, backend)
    return loss.to(torch.float32), argmax
