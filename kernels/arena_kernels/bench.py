"""Micro-benchmark: Triton kernels vs the float64 torch reference, appended as CSV rows.

Meant for GPU machines (``python -m arena_kernels.bench --out kernels_bench.csv``). On a CPU
machine only the torch reference is timed, unless TRITON_INTERPRET=1 is set (then the
interpreter is timed too, which says nothing about GPU speed). Timings are medians of
``repeats`` runs after one warm-up; compare rows from one process as ratios only.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

import torch
import triton

from .cross_entropy import (
    _cross_entropy_rows_kernel,
    cross_entropy_rows_reference,
    cross_entropy_rows_triton,
)
from .mse import squared_error_rows_reference, squared_error_rows_triton

CSV_FIELDS = (
    "timestamp_utc",
    "host",
    "device",
    "torch",
    "triton",
    "python",
    "interpreter",
    "op",
    "dtype",
    "n_rows",
    "n_cols",
    "backend",
    "median_ms",
    "gbytes_per_s",
    "max_abs_diff_vs_reference",
)

DEFAULT_SHAPES = ((4096, 10), (1024, 32768), (256, 65536))
DEFAULT_DTYPES = ("float32", "bfloat16")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_ms(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up (compiles the kernel on first use)
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu:{platform.processor() or platform.machine()}"


def run_bench(
    shapes: Iterable[tuple[int, int]] = DEFAULT_SHAPES,
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    repeats: int = 10,
    device: str | torch.device | None = None,
    out: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[dict]:
    """Time cross-entropy and squared-error rows for each shape/dtype and backend.

    Returns the rows; with ``out`` they are appended to that CSV (header written if new).
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    interpreted = type(_cross_entropy_rows_kernel).__name__ == "InterpretedFunction"
    run_triton = device.type == "cuda" or interpreted
    common = {
        "timestamp_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "device": _device_name(device),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "interpreter": int(interpreted),
    }
    gen = torch.Generator().manual_seed(seed)
    rows: list[dict] = []
    for n_rows, n_cols in shapes:
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            logits = (torch.randn(n_rows, n_cols, generator=gen) * 3).to(dtype).to(device)
            target = torch.randint(0, n_cols, (n_rows,), generator=gen).to(device)
            other = torch.randn(n_rows, n_cols, generator=gen).to(dtype).to(device)
            nbytes = logits.numel() * logits.element_size()
            ref_loss, _ = cross_entropy_rows_reference(logits, target)
            ref_sse = squared_error_rows_reference(logits, other)
            ce_args, se_args = (logits, target), (logits, other)
            cases = [
                (
                    "cross_entropy_rows",
                    "torch",
                    partial(cross_entropy_rows_reference, *ce_args),
                    None,
                    nbytes,
                ),
                (
                    "squared_error_rows",
                    "torch",
                    partial(squared_error_rows_reference, *se_args),
                    None,
                    2 * nbytes,
                ),
            ]
            if run_triton:
                cases += [
                    (
                        "cross_entropy_rows",
                        "triton",
                        partial(cross_entropy_rows_triton, *ce_args),
                        ref_loss,
                        nbytes,
                    ),
                    (
                        "squared_error_rows",
                        "triton",
                        partial(squared_error_rows_triton, *se_args),
                        ref_sse,
                        2 * nbytes,
                    ),
                ]
            for op, backend, fn, ref, moved in cases:
                ms = _median_ms(fn, device, repeats)
                diff = ""
                if ref is not None:
                    got = fn()
                    got = got[0] if isinstance(got, tuple) else got
                    diff = f"{(got.double() - ref).abs().max().item():.3e}"
                rows.append(
                    {
                        **common,
                        "op": op,
                        "dtype": dtype_name,
                        "n_rows": n_rows,
                        "n_cols": n_cols,
                        "backend": backend,
                        "median_ms": f"{ms:.4f}",
                        "gbytes_per_s": f"{moved / (ms * 1e6):.3f}" if ms > 0 else "",
                        "max_abs_diff_vs_reference": diff,
                    }
                )
    if out is not None:
        path = Path(out)
        new = not path.exists() or path.stat().st_size == 0
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="kernels_bench.csv", help="CSV file to append to")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--device", default=None, help="cuda / cuda:1 / cpu (default: cuda if present)"
    )
    parser.add_argument(
        "--shape", action="append", default=None, metavar="NxC", help="e.g. 1024x65536 (repeatable)"
    )
    parser.add_argument(
        "--dtype", action="append", default=None, choices=("float32", "float16", "bfloat16")
    )
    args = parser.parse_args(argv)
    shapes = (
        [tuple(int(v) for v in s.lower().split("x")) for s in args.shape]
        if args.shape
        else DEFAULT_SHAPES
    )
    rows = run_bench(shapes, args.dtype or DEFAULT_DTYPES, args.repeats, args.device, args.out)
    for r in rows:
        print(
            f"{r['op']:20s} {r['backend']:6s} {r['dtype']:8s} {r['n_rows']}x{r['n_cols']}: {r['median_ms']} ms"
        )
    print(f"appended {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
