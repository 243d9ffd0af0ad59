"""Ahead-of-time compile check: build every kernel variant the launchers would pick for a
CUDA target down to a cubin, without a GPU (Triton ships ptxas).

The interpreter runs kernels as numpy code and forgives things the real compiler rejects
(loop-carried type changes, bad layouts, unsupported casts), so the kernel tests also run
this in a subprocess *without* TRITON_INTERPRET:

    TRITON_INTERPRET=0 python -m arena_kernels.compile_check --capability 80 90
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Sequence

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from ._common import is_interpreted, row_tile_config
from .cross_entropy import _cross_entropy_rows_kernel
from .mse import _squared_error_rows_kernel

DTYPES = ("fp32", "fp16", "bf16")
#: row lengths covering every tile shape the GPU heuristics produce (many rows x few
#: columns, a few rows x 1024, one row x 4096-column chunks, one row x 8192-column chunks
#: for the largest vocabularies: Qwen's 151,936 and Gemma 3's 262,144)
ROW_LENGTHS = (10, 1000, 65536, 151936, 262144)


#: what a real launch specialises on (Triton's ``tt.divisibility`` 16): pointers from torch's
#: allocator are 16-byte aligned, and so are the integer arguments that are multiples of 16
#: (a 65,536-column row's length and stride); the compiler then emits vectorised loads.
_ALIGNED_CE = (
    "logits_ptr",
    "target_ptr",
    "loss_ptr",
    "argmax_ptr",
    "bad_ptr",
    "n_cols",
    "stride_row",
)
_ALIGNED_SE = ("pred_ptr", "target_ptr", "sse_ptr", "n_cols", "stride_pred", "stride_target")


def _aligned(kernel, names: Sequence[str]) -> dict:
    return {(kernel.arg_names.index(n),): [["tt.divisibility", 16]] for n in names}


def _variants(cases: Iterable[tuple[str, int]]):
    for dtype, n_cols in cases:
        cfg = row_tile_config(1, n_cols, interpreted=False)
        consts = {"BLOCK_ROWS": cfg.block_rows, "BLOCK_COLS": cfg.block_cols}
        ce_sig = {
            "logits_ptr": f"*{dtype}",
            "target_ptr": "*i64",
            "loss_ptr": "*fp32",
            "argmax_ptr": "*i64",
            "bad_ptr": "*i32",
            "n_rows": "i32",
            "n_cols": "i32",
            "stride_row": "i32",
            "ignore_index": "i32",
            "BLOCK_ROWS": "constexpr",
            "BLOCK_COLS": "constexpr",
            "WANT_ARGMAX": "constexpr",
        }
        se_sig = {
            "pred_ptr": f"*{dtype}",
            "target_ptr": "*fp32",
            "sse_ptr": "*fp32",
            "n_rows": "i32",
            "n_cols": "i32",
            "stride_pred": "i32",
            "stride_target": "i32",
            "BLOCK_ROWS": "constexpr",
            "BLOCK_COLS": "constexpr",
        }
        # the aligned variant only where a launch can have it (row length a multiple of 16)
        alignments = ("", "aligned") if n_cols % 16 == 0 else ("",)
        for align in alignments:
            tag = f" {align}" if align else ""
            ce_attrs = _aligned(_cross_entropy_rows_kernel, _ALIGNED_CE) if align else {}
            se_attrs = _aligned(_squared_error_rows_kernel, _ALIGNED_SE) if align else {}
            for want in (True, False):
                name = "cross_entropy_rows" + ("" if want else "_loss_only") + tag
                ce_consts = {**consts, "WANT_ARGMAX": want}
                yield name, _cross_entropy_rows_kernel, ce_sig, ce_consts, ce_attrs, cfg, dtype
            yield (
                "squared_error_rows" + tag,
                _squared_error_rows_kernel,
                se_sig,
                consts,
                se_attrs,
                cfg,
                dtype,
            )


def compile_all(
    capabilities: Sequence[int] = (80,),
    dtypes: Iterable[str] = DTYPES,
    row_lengths: Iterable[int] = ROW_LENGTHS,
    cases: Iterable[tuple[str, int]] | None = None,
) -> list[str]:
    """Compile each variant (every dtype x row length, or the given ``(dtype, n_cols)``
    ``cases``) to a cubin for each compute capability; returns one line per variant.
    Raises whatever the Triton compiler raises for a kernel it cannot build."""
    if cases is None:
        cases = [(d, c) for d in dtypes for c in row_lengths]
    cases = list(cases)
    if is_interpreted(_cross_entropy_rows_kernel):
        raise RuntimeError(
            "kernels were decorated under TRITON_INTERPRET=1; run with TRITON_INTERPRET=0"
        )
    lines = []
    for cap in capabilities:
        target = GPUTarget("cuda", int(cap), 32)
        for name, kernel, sig, consts, attrs, cfg, dtype in _variants(cases):
            t0 = time.perf_counter()
            src = ASTSource(fn=kernel, signature=sig, constexprs=consts, attrs=attrs)
            compiled = triton.compile(src, target=target, options={"num_warps": cfg.num_warps})
            assert compiled.asm.get("cubin"), f"{name}: no cubin produced"
            lines.append(
                f"sm_{cap} {name} {dtype} tile={cfg.block_rows}x{cfg.block_cols} "
                f"warps={cfg.num_warps} ok ({time.perf_counter() - t0:.1f}s)"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="compile the kernels for CUDA targets")
    parser.add_argument("--capability", type=int, nargs="+", default=[80])
    parser.add_argument("--dtype", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--cols", type=int, nargs="+", default=list(ROW_LENGTHS))
    parser.add_argument(
        "--case", nargs="+", default=None, metavar="DTYPE:COLS", help="e.g. bf16:10 fp16:65536"
    )
    args = parser.parse_args(argv)
    cases = None
    if args.case:
        cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.case]
        bad = sorted({d for d, _ in cases} - set(DTYPES))
        if bad:
            parser.error(f"unknown dtype(s) {bad}; choose from {DTYPES}")
    for line in compile_all(args.capability, args.dtype, args.cols, cases):
        print(line, flush=True)


if __name__ == "__main__":
    main()
