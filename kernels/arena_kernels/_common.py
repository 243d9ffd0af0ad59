"""Shared helpers: backend choice, input validation and launch configuration.

Nothing here launches a kernel; the op modules (``cross_entropy.py``, ``mse.py``) do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

BACKENDS = ("auto", "triton", "torch", "cpu")

#: Floating dtypes accepted for logits / predictions (kernels upcast to fp32 in-kernel).
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def next_power_of_2(n: int) -> int:
    """Smallest power of two >= n (1 for n <= 1)."""
    n = int(n)
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """Accept a torch tensor or a numpy array (zero-copy when possible); else ValueError.

    Read-only arrays (e.g. slices of a memory-mapped shard) are copied, since torch cannot
    wrap them without a warning and kernels must never write through them anyway.
    """
    if isinstance(x, torch.Tensor):
        return x
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch wheels
        np = None
    if np is not None and isinstance(x, np.ndarray):
        if not x.flags.writeable:
            x = np.array(x)
        try:
            return torch.from_numpy(x)
        except TypeError as exc:  # dtypes torch has no equivalent for (e.g. object)
            raise ValueError(f"{name}: numpy dtype {x.dtype} is not supported ({exc})") from None
    raise ValueError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def is_interpreted(kernel: Any) -> bool:
    """True if ``kernel`` was decorated while TRITON_INTERPRET=1 (runs on CPU tensors)."""
    return type(kernel).__name__ == "InterpretedFunction"


def resolve_backend(backend: str, device: torch.device, kernel: Any) -> str:
    """Map ``backend`` ("auto" | "triton" | "torch" | "cpu") to the one that runs.

    "auto" picks triton on CUDA tensors and the fast numpy "cpu" path everywhere else.
    "triton" on a non-CUDA tensor is only possible when the kernels run in the Triton
    interpreter; "cpu" needs CPU tensors; "torch" (float64 reference) runs anywhere.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if device.type == "cuda" else "cpu"
    if backend == "triton" and device.type != "cuda" and not is_interpreted(kernel):
        raise ValueError(
            f"backend='triton' needs CUDA tensors (got device {device}); on CPU either use "
            "backend='cpu' or 'torch', or set TRITON_INTERPRET=1 before arena_kernels is "
            "first imported"
        )
    if backend == "cpu" and device.type != "cpu":
        raise ValueError(
            f"backend='cpu' needs CPU tensors (got device {device}); use backend='triton' "
            "or 'torch', or move the tensors with .cpu()"
        )
    return backend


def cpu_rows_block(n_cols: int) -> int:
    """Rows per block of the numpy CPU path (~256 Ki elements, cache-sized).

    Only memory use and speed depend on it: every CPU-path operation is element-wise or a
    reduction along one row, so a row's value never depends on the block it sits in.
    """
    return max(1, (1 << 18) // max(1, n_cols))


def row_sum_f64(x):
    """Per-row float64 sum of a 2-D numpy array (``np.sum(axis=1)`` on C-contiguous rows).

    numpy's reductions are single-threaded and reduce each contiguous row with its own
    fixed (pairwise) order, so the result is a function of the row's values and the
    platform alone: bit-identical across runs, batchings and thread settings on one
    machine.
    """
    import numpy as np

    return np.ascontiguousarray(x, dtype=np.float64).sum(axis=1)


def check_float(x: torch.Tensor, name: str) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} must be float32, float16, bfloat16 or float64, got {x.dtype}; "
            f"convert it with {name}.float()"
        )


def check_same_device(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.device != b.device:
        raise ValueError(
            f"{na} is on {a.device} but {nb} is on {b.device}; move both to one device"
        )


def sequential_row_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum each row of a 2-D tensor strictly left to right (``cumsum``'s last column).

    ``Tensor.sum`` may split a long reduction across threads (the order then depends on the
    thread count and on how many rows there are); ``cumsum`` is a sequential scan on CPU,
    so the result is a function of the row's values alone. Float64 keeps the error of the
    sequential order (<= n * 2**-53 relative) far below float32 resolution.
    """
    if x.shape[1] == 0:
        return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    return x.cumsum(dim=1)[:, -1]


@dataclass(frozen=True)
class RowTileConfig:
    """Tile of ``block_rows`` x ``block_cols`` elements handled per loop step of one program."""

    block_rows: int
    block_cols: int
    num_warps: int
    grid: int


def row_tile_config(
    n_rows: int,
    n_cols: int,
    interpreted: bool,
    *,
    block_rows: int | None = None,
    block_cols: int | None = None,
) -> RowTileConfig:
    """Pick the tile for a row-wise reduction over ``n_cols`` (Liger-style heuristics).

    GPU: at most 4096 columns per step (8192 past 65,536 columns), ~4096 elements and at
    most 256 rows per tile, so
    small-vocabulary problems put many rows in one program and large ones loop over
    vocabulary chunks; warps grow with the tile. Interpreter: one numpy op per tile op and
    ~5 ms per program instance, so tiles are as large as memory comfortably allows (few
    programs, few loop steps).

    The tile (and the warp count) depends on ``n_cols`` only, never on ``n_rows``: a row's
    value is then computed in the same order whatever batch it sits in, so per-row results
    are bit-identical across batch sizes on one platform. ``block_rows`` / ``block_cols``
    override the heuristics (powers of two).
    """
    for name, value in (("block_rows", block_rows), ("block_cols", block_cols)):
        if value is not None and (value < 1 or value & (value - 1)):
            raise ValueError(f"{name} must be a power of two, got {value}")
    if interpreted:
        max_cols, max_tile, max_rows = 16384, 1 << 16, 1024
    elif n_cols > 65536:
        # the largest vocabularies (151,936; 262,144): twice the chunk, half the loop steps
        max_cols, max_tile, max_rows = 8192, 8192, 256
    else:
        max_cols, max_tile, max_rows = 4096, 4096, 256
    if block_cols is None:
        block_cols = min(next_power_of_2(n_cols), max_cols)
    if block_rows is None:
        block_rows = max(1, min(max_rows, max_tile // block_cols))
    tile = block_rows * block_cols
    num_warps = 4 if tile <= 1024 else (8 if tile <= 4096 else 16)
    grid = max(1, -(-n_rows // block_rows))
    return RowTileConfig(block_rows, block_cols, num_warps, grid)
