"""One-command GPU check: ``python3 -m arena_kernels.gpu_check`` (``make gpu-check``).

Runs on a bare GPU machine with only Python, a CUDA torch and triton: the kernel checks
import ``arena_kernels`` from source and nothing else; the engine checks also need the
plugin (``ape_arena``) and onnxruntime-gpu, and print SKIP with the reason where they are
missing. One line per check::

    CHECK <name> PASS|FAIL|SKIP <detail>

then a JSON file with every result (``--json``, default ``gpu-check.json``). The exit code is
the number of failures. On a machine without a GPU every GPU check prints SKIP and it exits 0.

Checks:

* ``env``: Python, torch, triton, CUDA, the device and its capability, onnxruntime.
* ``kernel ce <dtype> V=<vocab>``: the cross-entropy kernel at vocabularies 10, 256, 50,257,
  65,536, 151,936 and 262,144 for float32/float16/bfloat16, odd row counts with a NaN row, a
  +inf row, -inf logits and ignored rows, against the float64 reference; bit-identical over
  3 runs and across batchings (every row alone and the batch split in two); the non-finite
  counts of the same pass. ``kernel se <dtype> D=<width>``: the squared-error kernel alike.
* ``metric <name>``: the five metrics' fixed-point scores (``floor(mean * 1e9 + 1/2)``),
  Triton against the CPU path, within 440 units (float32 resolution of a mean loss).
* ``bandwidth ce|se <dtype>``: each kernel's bytes read per second as a % of a measured
  device copy (``clone``) roofline.
* ``engine <model>``: the plugin's engine on an MLP, a CNN, a byte LM and a 65,536-vocabulary
  LM, twice on the GPU (identical scores) and once on the CPU (within 440 units);
  ``engine throughput``: rows/s of the engine against bare onnxruntime-gpu with IOBinding and
  torch eager at batch 1 on the GPU.

``--interpret`` runs the kernel and metric checks on the CPU under the Triton interpreter
(small row counts), which is how the test suite exercises this script without a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

VOCABS = (10, 256, 50_257, 65_536, 151_936, 262_144)
WIDTHS = (10, 256, 4096)
DTYPES = ("float32", "float16", "bfloat16")
METRIC_UNITS = 440  # float32 resolution of a mean loss, in 1e-9 units (tests/plugin)
SCALE = 10**9


class Report:
    """Collects ``CHECK`` lines and their data."""

    def __init__(self, out=None):
        self.results: list[dict[str, Any]] = []
        self.out = out

    def add(self, name: str, status: str, detail: str = "", **data: Any) -> None:
        self.results.append({"name": name, "status": status, "detail": detail, **data})
        print(f"CHECK {name} {status} {detail}".rstrip(), file=self.out or sys.stdout, flush=True)

    def run(self, name: str, fn: Callable[[], tuple[str, dict]]) -> None:
        """``fn`` returns ``(detail, data)`` for PASS and raises for FAIL."""
        try:
            detail, data = fn()
        except AssertionError as exc:
            self.add(name, "FAIL", str(exc).splitlines()[0][:300] if str(exc) else "assertion")
        except Exception as exc:  # noqa: BLE001 - a check that cannot run is a failure
            self.add(name, "FAIL", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                     traceback=traceback.format_exc(limit=3))  # fmt: skip
        else:
            self.add(name, "PASS", detail, **data)

    @property
    def failures(self) -> int:
        return sum(r["status"] == "FAIL" for r in self.results)


def fixed_point(total: float, count: int) -> int:
    """``floor(total / count * 1e9 + 1/2)`` exactly (the engine's score of a loss)."""
    return math.floor(Fraction(total) * SCALE / count + Fraction(1, 2))


# --------------------------------------------------------------------------- kernels
def _ce_case(torch, gen, rows: int, vocab: int, dtype, device):
    logits = (torch.randn(rows, vocab, generator=gen) * 3.0).to(getattr(torch, dtype))
    target = torch.randint(0, vocab, (rows,), generator=gen)
    if rows >= 5:
        logits[0, vocab // 2] = float("nan")  # NaN row: loss NaN, argmax -1
        logits[1, vocab - 1] = float("inf")  # +inf row: loss NaN, argmax its index
        logits[2, : max(1, vocab // 3)] = float("-inf")  # -inf logits: exact
        target[2] = vocab - 1
        target[3] = -100  # ignored row: loss 0
    return logits.to(device), target.to(device)


def check_ce(torch, dtype: str, vocab: int, device, rows: int) -> tuple[str, dict]:
    from .cross_entropy import cross_entropy_rows_reference, cross_entropy_rows_triton

    gen = torch.Generator().manual_seed(vocab)
    logits, target = _ce_case(torch, gen, rows, vocab, dtype, device)
    runs = [cross_entropy_rows_triton(logits, target, count_nonfinite=True) for _ in range(3)]
    loss, arg, bad = runs[0]
    ref_loss, ref_arg = cross_entropy_rows_reference(logits.cpu(), target.cpu())
    base = {"float32": 1e-6, "float16": 2e-6, "bfloat16": 2e-6}[dtype]
    tol = base * (1.0 + math.log2(max(vocab, 2)) + vocab / 4096)
    got = loss.double().cpu()
    torch.testing.assert_close(got, ref_loss, rtol=tol, atol=tol, equal_nan=True)
    assert torch.equal(arg.cpu(), ref_arg), "argmax differs from the reference"
    want_bad = (~torch.isfinite(logits.float())).sum(dim=1).to(torch.int32).cpu()
    assert torch.equal(bad.cpu(), want_bad), "non-finite counts differ"
    bits = loss.view(torch.int32)
    for other, _, _ in runs[1:]:
        assert torch.equal(other.view(torch.int32), bits), "runs differ in their bits"
    for i in range(rows):
        alone, _ = cross_entropy_rows_triton(logits[i : i + 1], target[i : i + 1])
        assert alone.view(torch.int32)[0] == bits[i], f"row {i} alone differs from its batch"
    half = rows // 2
    if half:
        a, _ = cross_entropy_rows_triton(logits[:half], target[:half])
        b, _ = cross_entropy_rows_triton(logits[half:], target[half:])
        assert torch.equal(torch.cat([a, b]).view(torch.int32), bits), "split batch differs"
    gap = (got - ref_loss).abs().nan_to_num(0.0).max().item()
    return f"rows={rows} max|diff|={gap:.2e} (tol {tol:.1e}) bits stable", {"max_diff": gap}


def check_se(torch, dtype: str, width: int, device, rows: int) -> tuple[str, dict]:
    from .mse import squared_error_rows_reference, squared_error_rows_triton

    gen = torch.Generator().manual_seed(width)
    pred = torch.randn(rows, width, generator=gen).to(getattr(torch, dtype)).to(device)
    target = torch.randn(rows, width, generator=gen).to(device)
    runs = [squared_error_rows_triton(pred, target) for _ in range(3)]
    ref = squared_error_rows_reference(pred.cpu(), target.cpu())
    got = runs[0].double().cpu()
    tol = 1e-6 * (1 + math.log2(max(width, 2)))
    torch.testing.assert_close(got, ref, rtol=tol, atol=tol * width)
    for other in runs[1:]:
        assert torch.equal(other.view(torch.int32), runs[0].view(torch.int32)), "runs differ"
    for i in range(rows):
        alone = squared_error_rows_triton(pred[i : i + 1], target[i : i + 1])
        assert alone.view(torch.int32)[0] == runs[0].view(torch.int32)[i], f"row {i} differs"
    gap = (got - ref).abs().max().item()
    return f"rows={rows} max|diff|={gap:.2e} bits stable", {"max_diff": gap}


def _metric_case(torch, metric: str, gen, device):
    if metric in ("cross_entropy", "error_rate"):
        return (torch.randn(999, 10, generator=gen) * 2).to(device), torch.randint(
            0, 10, (999,), generator=gen
        ).to(device)
    if metric == "mse":
        return torch.randn(333, 7, generator=gen).to(device), torch.randn(333, 7, generator=gen).to(
            device
        )
    vocab = 256 if metric == "bits_per_byte" else 1000
    out = (torch.randn(5, 33, vocab, generator=gen) * 2).to(device)
    tgt = torch.randint(0, vocab, (5, 33), generator=gen)
    tgt[:, :3] = -100
    return out, tgt.to(device)


def check_metric(torch, metric: str, device) -> tuple[str, dict]:
    from .metrics import metric_total

    out, tgt = _metric_case(torch, metric, torch.Generator().manual_seed(7), device)
    t_total, t_count = metric_total(metric, out, tgt, backend="triton")
    c_total, c_count = metric_total(metric, out.cpu(), tgt.cpu(), backend="cpu")
    assert t_count == c_count, f"counts differ: {t_count} vs {c_count}"
    a, b = fixed_point(t_total, t_count), fixed_point(c_total, c_count)
    assert abs(a - b) <= METRIC_UNITS, f"triton {a} vs cpu {b}: {abs(a - b)} units"
    return f"triton {a} cpu {b} ({abs(a - b)} units)", {"triton": a, "cpu": b}


def _time(torch, fn, device, repeats: int = 20) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def check_bandwidth(torch, op: str, dtype: str, device) -> tuple[str, dict]:
    from .cross_entropy import cross_entropy_rows_triton
    from .mse import squared_error_rows_triton

    rows, cols = (4096, 65_536) if op == "ce" else (65_536, 4096)
    x = torch.randn(rows, cols, device=device).to(getattr(torch, dtype))
    nbytes = x.numel() * x.element_size()
    copy_s = _time(torch, lambda: x.clone(), device)
    roof = 2 * nbytes / copy_s  # a copy reads and writes every byte
    if op == "ce":
        tgt = torch.randint(0, cols, (rows,), device=device)
        s = _time(torch, lambda: cross_entropy_rows_triton(x, tgt, argmax=False), device)
        moved = nbytes
    else:
        y = torch.randn(rows, cols, device=device)
        s = _time(torch, lambda: squared_error_rows_triton(x, y), device)
        moved = nbytes + y.numel() * 4
    pct = 100.0 * (moved / s) / roof
    return (f"{moved / s / 1e9:.0f} GB/s = {pct:.0f}% of copy {roof / 1e9:.0f} GB/s",
            {"gbps": moved / s / 1e9, "copy_gbps": roof / 1e9, "percent": pct})  # fmt: skip


# --------------------------------------------------------------------------- engine
#: the engine checks live in the plugin (they need onnx, onnxruntime-gpu and the engine);
#: this module, the bottom layer, never imports them, it loads them when they are there
ENGINE_CHECKS = "ape_arena.tools.gpu_engine_check"
ENGINE_NAMES = ("mlp", "cnn", "byte-lm", "lm-65k", "throughput")


def engine_checks(report: Report, torch, device_ok: bool, workdir: Path) -> None:
    """The plugin's engine checks (``ape_arena.tools.gpu_engine_check``), or SKIP lines."""
    if not device_ok:
        for n in ENGINE_NAMES:
            report.add(f"engine {n}", "SKIP", "no CUDA device")
        return
    import importlib

    try:
        module = importlib.import_module(ENGINE_CHECKS)
    except Exception as exc:  # noqa: BLE001 - a bare GPU machine has no plugin
        for n in ENGINE_NAMES:
            report.add(f"engine {n}", "SKIP", f"needs the ape_arena plugin: {exc}")
        return
    module.engine_checks(report, torch, workdir)


# --------------------------------------------------------------------------- main
def run(interpret: bool = False, quick: bool = False, workdir: Path | None = None,
        report: Report | None = None) -> Report:  # fmt: skip
    report = report or Report()
    import torch
    import triton

    cuda = torch.cuda.is_available()
    env = {
        "python": platform.python_version(), "torch": torch.__version__,
        "triton": triton.__version__, "cuda": cuda, "interpreter": interpret,
    }  # fmt: skip
    if cuda:
        env["device"] = torch.cuda.get_device_name(0)
        env["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        env["cuda_version"] = torch.version.cuda
    from importlib import metadata

    for dist in ("onnxruntime-gpu", "onnxruntime"):
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    report.add("env", "PASS", " ".join(f"{k}={v}" for k, v in env.items()), env=env)

    device = torch.device("cuda" if cuda and not interpret else "cpu")
    kernels_ok = (cuda and not interpret) or interpret
    why = "no CUDA device (torch.cuda.is_available() is False)"
    vocabs = VOCABS if not quick else (10, 256, 151_936)
    for dtype in DTYPES:
        for vocab in vocabs:
            name = f"kernel ce {dtype} V={vocab}"
            rows = 7 if interpret or vocab > 65_536 else 33
            if kernels_ok:
                report.run(name, lambda d=dtype, v=vocab, r=rows: check_ce(torch, d, v, device, r))
            else:
                report.add(name, "SKIP", why)
        for width in WIDTHS:
            name = f"kernel se {dtype} D={width}"
            if kernels_ok:
                report.run(name, lambda d=dtype, w=width: check_se(torch, d, w, device, 9))
            else:
                report.add(name, "SKIP", why)
    from .metrics import METRICS

    for metric in METRICS:
        if kernels_ok:
            report.run(f"metric {metric}", lambda m=metric: check_metric(torch, m, device))
        else:
            report.add(f"metric {metric}", "SKIP", why)
    for op in ("ce", "se"):
        for dtype in ("float32", "bfloat16"):
            name = f"bandwidth {op} {dtype}"
            if cuda and not interpret:
                report.run(name, lambda o=op, d=dtype: check_bandwidth(torch, o, d, device))
            else:
                report.add(
                    name, "SKIP", why if not interpret else "not measured in the interpreter"
                )
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        engine_checks(report, torch, cuda and not interpret, Path(workdir or tmp))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m arena_kernels.gpu_check",
        description="Check the GPU path: kernels, metrics, bandwidth, engine (see the module "
        "docstring). Exit code = number of failed checks; SKIP lines where no GPU is there.",
    )
    parser.add_argument("--json", default="gpu-check.json", help="where to write the results")
    parser.add_argument("--interpret", action="store_true",
                        help="run the kernel and metric checks on the CPU under the Triton "
                        "interpreter (needs TRITON_INTERPRET=1 before the kernels load)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="fewer vocabularies")
    args = parser.parse_args(argv)
    from ._common import is_interpreted
    from .cross_entropy import _cross_entropy_rows_kernel

    if args.interpret and not is_interpreted(_cross_entropy_rows_kernel):
        parser.error("--interpret needs TRITON_INTERPRET=1 in the environment (the kernels "
                     "are compiled when arena_kernels is first imported)")  # fmt: skip
    t0 = time.perf_counter()
    report = run(interpret=args.interpret, quick=args.quick)
    summary = {s: sum(r["status"] == s for r in report.results) for s in ("PASS", "FAIL", "SKIP")}
    Path(args.json).write_text(json.dumps({"results": report.results, "summary": summary,
                                           "seconds": time.perf_counter() - t0}, indent=1))  # fmt: skip
    print(f"gpu-check: {summary['PASS']} passed, {summary['FAIL']} failed, {summary['SKIP']} "
          f"skipped in {time.perf_counter() - t0:.0f}s; results in {args.json}")  # fmt: skip
    return report.failures


if __name__ == "__main__":
    sys.exit(main())
