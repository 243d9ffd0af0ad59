"""Validator throughput benchmark (``make bench`` = ``python -m ape_arena.tools.bench``).

Builds realistic eval shards (>= 50,000 augmented digits rows; >= 1,000,000 bytes of
standard-library text for the byte LM; 256 rows of 64 Zipf-distributed tokens for a causal
LM over a 32,000-token vocabulary), trains N small submissions briefly (digits MLPs and
CNNs of a few sizes on different data splits; byte-level GRU / causal-conv / transformer
LMs) and builds two small Llama-style causal LMs (Hugging Face, exported with
``evaluation/hf.py``), exports them to ONNX, then measures in ONE process, per task:

* **engine**: ``Engine.score_round`` on warm workers in the engine's default layout (one
  single-threaded worker process per CPU, models scored that many at a time; static
  checks, isolation, metric, fixed-point scores); worker start-up (shard load) reported
  separately;
* **floor**: bare onnxruntime in-process in the same layout (as many threads as engine
  workers, each taking the next model: session + run over the whole shard in the same
  batches with the same onnxruntime threads; no checks, no metric): the most the engine
  could reach. Also timed, for reference: bare onnxruntime the usual way (one model at a
  time, one session with every CPU's thread).
  Engine rounds and floor passes alternate (3x in the full run) and the fastest of each
  counts, so a burst of load from other processes does not decide the ratio;
* **torch bs1**: torch eager, one row per forward plus the loss (how the production
  validator we are modelled on scores), timed on a subsample (best of 3) as a rate;
* **torch batched**: torch eager in the spec's batches, on a subsample, as a rate.

It prints one table (models/min, samples/s, ratios) and writes the numbers with machine
info (CPU model, cores, versions) and a timestamp to ``bench-results/bench-<time>.json``.
Timings on shared machines swing: compare the ratios of one run, not runs with each other.

Options: ``--models N`` (submissions; 2/3 digits, 1/3 LM; default 24 = 16 + 8),
``--quick`` (tiny shards and models, seconds: the smoke test), ``--out DIR``,
``--workers`` / ``--threads`` (engine layout: worker processes and onnxruntime threads
per worker; default one single-threaded worker per CPU; torch and the one-session
onnxruntime pass use every CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DIGITS_PRESETS = (
    "digits-mlp-32",
    "digits-mlp-64",
    "digits-mlp-128x2",
    "digits-mlp-256x2",
    "digits-cnn-8",
    "digits-cnn-16",
)
LM_PRESETS = ("lm-gru-48", "lm-gru-64", "lm-conv-48", "lm-tf-32")


@dataclass
class Sizes:
    digits_rows: int
    lm_bytes: int
    digits_steps: int
    lm_steps: int
    bs1_rows_digits: int
    bs1_rows_lm: int
    batched_rows_digits: int
    batched_rows_lm: int
    repeats: int
    chat_rows: int = 256
    """Rows of the causal-LM task (``CHAT_CONTEXT`` tokens each, vocabulary ``CHAT_VOCAB``)."""
    chat_models: int = 2


FULL = Sizes(50_000, 1_000_000, 80, 12, 1000, 32, 16_384, 1024, 3)
QUICK = Sizes(2_000, 20_000, 5, 2, 50, 2, 2_000, 64, 1, chat_rows=8, chat_models=1)
CHAT_VOCAB = 32_000
"""The causal-LM row's vocabulary (a Llama-2-sized tokenizer)."""
CHAT_CONTEXT = 64
TRAIN_SEQ = 32
"""LMs train on 32-byte windows (recurrent backward passes cost O(seq)); they score 128."""


@dataclass
class Submission:
    name: str
    preset: str
    path: str
    sha256: str
    module: Any = field(repr=False, default=None)


@dataclass
class TaskBench:
    task: str
    models: int
    rows: int
    tokens: int
    engine_startup_s: float = 0.0
    engine_s: float = 0.0
    floor_s: float = 0.0
    """Bare onnxruntime in the engine's layout (wall seconds for every model)."""
    ort_one_session_s: float = 0.0
    """Bare onnxruntime one model at a time with every CPU's thread (wall seconds)."""
    torch_bs1_rows_per_s: float = 0.0
    torch_batched_rows_per_s: float = 0.0
    invalid: int = 0
    workers: int = 1
    """Engine worker processes (and floor threads)."""
    worker_threads: int = 1
    """onnxruntime threads per worker (and per floor session)."""
    engine_infer_s: float = 0.0
    """Worker time inside onnxruntime (sum over models)."""
    engine_metric_s: float = 0.0
    """Worker time inside the metric (sum over models; overlaps inference)."""
    per_model: list[dict[str, Any]] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        n = self.models
        return _ratios(
            models=n,
            samples=n * self.rows,
            engine=self.engine_s,
            floor=self.floor_s,
            one_session=self.ort_one_session_s,
            bs1=_per(n * self.rows, self.torch_bs1_rows_per_s),
            batched=_per(n * self.rows, self.torch_batched_rows_per_s),
        )


def _per(a: float, b: float) -> float:
    return a / b if b else 0.0


def _ratios(
    *,
    models: int,
    samples: int,
    engine: float,
    floor: float,
    one_session: float,
    bs1: float,
    batched: float,
) -> dict[str, float]:
    """Rates and ratios from seconds (torch ones extrapolated to every sample); 0 when a
    time is missing. One task's or all tasks' totals alike."""
    return {
        "engine_models_per_min": _per(60 * models, engine),
        "engine_samples_per_s": _per(samples, engine),
        "floor_samples_per_s": _per(samples, floor),
        "torch_bs1_samples_per_s": _per(samples, bs1),
        "torch_batched_samples_per_s": _per(samples, batched),
        "engine_over_floor": _per(floor, engine),
        "engine_over_ort_one_session": _per(one_session, engine),
        "floor_over_torch_bs1": _per(bs1, floor),
        "engine_over_torch_bs1": _per(bs1, engine),
        "engine_over_torch_batched": _per(batched, engine),
        "torch_bs1_seconds_extrapolated": bs1,
        "torch_batched_seconds_extrapolated": batched,
    }


# ----------------------------------------------------------------------------- set-up
def machine_info(threads: int) -> dict[str, Any]:
    import numpy
    import onnx
    import onnxruntime
    import torch

    from .machine import cpu_model

    cpu = cpu_model()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count() or 1
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "threads": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "numpy": numpy.__version__,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _spec(name: str):
    from ..evaluation.spec import TaskSpec, example

    if name == "chat_lm":  # a causal LM over a 32,000-token vocabulary
        raw = example("bytes_lm").model_dump(mode="json")
        raw.update(name="chat_lm", metric="token_cross_entropy",
                   description="Causal LM, 32,000-token vocabulary (bench).")  # fmt: skip
        raw["inputs"][0]["shape"] = ["batch", CHAT_CONTEXT]
        raw["output"]["shape"] = ["batch", CHAT_CONTEXT, CHAT_VOCAB]
        raw["limits"].update(max_batch_rows=16, max_params=20_000_000, max_bytes=1 << 27)
        return TaskSpec.model_validate(raw)
    return example(name)


def chat_lm_arrays(rows: int, seed: int = 3) -> dict:
    """Token rows drawn from a Zipf law over the vocabulary (as text's tokens are), target
    the next token at every position."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, (rows, CHAT_CONTEXT + 1)) - 1, CHAT_VOCAB - 1).astype(np.int64)
    return {"tokens": ids[:, :-1].copy(), "target": ids[:, 1:].copy()}


def chat_lm_submissions(folder: Path, count: int) -> list[Submission]:
    """``count`` small Llama-style causal LMs (random weights, different seeds) exported
    with the Hugging Face helper (``evaluation/hf.py``)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ..evaluation.hf import _wrapper, export_causal_lm

    spec = _spec("chat_lm")
    subs = []
    for i in range(count):
        cfg = LlamaConfig(vocab_size=CHAT_VOCAB, hidden_size=64, intermediate_size=128,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=CHAT_CONTEXT, attn_implementation="eager")  # fmt: skip
        torch.manual_seed(i)
        net = LlamaForCausalLM(cfg).eval()
        path = folder / f"chat_lm-{i:02d}.onnx"
        sha, _ = export_causal_lm(net, spec, path)
        subs.append(
            Submission(f"chat_lm-{i:02d}", "llama-2x64-v32000", str(path), sha, _wrapper(net))
        )
    return subs


def build_shards(folder: Path, sizes: Sizes) -> dict[str, tuple[Any, Path, str, dict]]:
    """``task -> (spec, shard path, sha256, arrays)`` for digits and bytes_lm."""
    from ..evaluation.shards import digits_eval_arrays, lm_eval_arrays, write_shard

    out = {}
    for task, arrays in (
        ("digits", digits_eval_arrays(sizes.digits_rows, seed=7)),
        ("bytes_lm", lm_eval_arrays(sizes.lm_bytes)),
        ("chat_lm", chat_lm_arrays(sizes.chat_rows)),
    ):
        path = folder / f"{task}-eval.npz"
        sha = write_shard(arrays, path)
        out[task] = (_spec(task), path, sha, arrays)
    return out


def build_submissions(folder: Path, task: str, count: int, sizes: Sizes) -> list[Submission]:
    """Train ``count`` models briefly (different presets, seeds and data splits), export."""
    import numpy as np
    import torch

    from ..evaluation.export import export_model
    from ..evaluation.shards import digits_split, lm_arrays, stdlib_corpus
    from .models import make_model, train

    spec = _spec(task)
    subs = []
    if task == "digits":
        (x, y), _ = digits_split(seed=0)
        presets, steps, batch = DIGITS_PRESETS, sizes.digits_steps, 64
    else:
        corpus = lm_arrays(stdlib_corpus(200_000, part="train"), seq=TRAIN_SEQ)
        x, y = corpus["tokens"], corpus["target"]
        presets, steps, batch = LM_PRESETS, sizes.lm_steps, 32
    for i in range(count):
        preset = presets[i % len(presets)]
        rng = np.random.default_rng(100 + i)
        # each submission sees its own half of the training data (non-IID across nodes)
        idx = rng.permutation(len(x))[: max(len(x) // 2, 8)]
        net = make_model(preset, seed=i)
        torch.set_num_threads(1)  # tiny models: more threads only add contention
        train(net, x[idx], y[idx], steps=steps, batch_size=batch, seed=i)
        path = folder / f"{task}-{i:02d}-{preset}.onnx"
        sha = export_model(net, spec, path)
        subs.append(Submission(f"{task}-{i:02d}", preset, str(path), sha, net))
    return subs


# ----------------------------------------------------------------------------- timings
def time_engine_and_floor(
    spec: Any,
    shard: Path,
    sha: str,
    arrays: dict,
    subs: list[Submission],
    layout: tuple[int | None, int | None],
    cpus: int,
    repeats: int,
    say,
    device: str = "cpu",
) -> tuple[float, float, list[Any], tuple[float, list[float]], float, tuple[int, int]]:
    """Engine rounds, bare-onnxruntime passes in the engine's layout and one-session
    passes, alternated ``repeats`` times on one warm engine; the fastest of each (load from
    other processes only ever slows a pass down).

    Returns (worker start-up seconds, engine seconds, engine results, (floor wall seconds,
    floor seconds per model), one-session seconds, (workers, threads per worker)).
    """
    from ..evaluation.engine import Engine

    workers, threads = layout
    t0 = time.perf_counter()
    best_engine, best_floor, best_one = float("inf"), (float("inf"), []), float("inf")
    results: list[Any] = []
    with Engine(spec, shard, sha, workers=workers, threads=threads, progress=False) as engine:
        engine.wait_ready()
        startup = time.perf_counter() - t0
        used = (engine.workers, engine.threads)
        for rep in range(repeats):
            say(f"  engine round {rep + 1}/{repeats} ({used[0]} workers x {used[1]} threads)")
            t1 = time.perf_counter()
            round_results = engine.score_round([(s.path, s.sha256) for s in subs])
            seconds = time.perf_counter() - t1
            if seconds < best_engine:
                best_engine, results = seconds, round_results
            say(f"  bare onnxruntime pass {rep + 1}/{repeats}, same layout ({device})")
            floor = time_floor(spec, arrays, subs, used[1], used[0], device)
            if floor[0] < best_floor[0]:
                best_floor = floor
            say(f"  bare onnxruntime pass {rep + 1}/{repeats}, one session x {cpus} threads")
            best_one = min(best_one, time_floor(spec, arrays, subs, cpus, 1, device)[0])
    return startup, best_engine, results, best_floor, best_one, used


def time_floor(
    spec: Any,
    arrays: dict,
    subs: list[Submission],
    threads: int,
    workers: int = 1,
    device: str = "cpu",
) -> tuple[float, list[float]]:
    """Bare onnxruntime: session + run over the whole shard, no checks, no metric.

    ``workers`` Python threads each take the next model (largest file first; onnxruntime
    releases the GIL while it runs), with ``threads`` onnxruntime threads per session. On
    ``device="cuda"`` the session runs on the CUDA provider with IOBinding, outputs left on
    the device (as the engine's GPU path keeps them).
    Returns (wall seconds for all models, seconds per model in ``subs`` order).
    """
    from concurrent.futures import ThreadPoolExecutor

    import onnxruntime as ort

    batch = spec.limits.max_batch_rows
    feeds = [(t.name, arrays[t.data_key]) for t in spec.inputs]
    rows = len(arrays[spec.data.target_key])

    def one(s: Submission) -> float:
        t0 = time.perf_counter()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(s.path, so, providers=ort_providers(device))
        for start in range(0, rows, batch):
            if device == "cuda":  # pragma: no cover - needs a GPU
                binding = sess.io_binding()
                for n, a in feeds:
                    binding.bind_cpu_input(n, a[start : start + batch])
                binding.bind_output(spec.output.name, "cuda")
                sess.run_with_iobinding(binding)
            else:
                sess.run(None, {n: a[start : start + batch] for n, a in feeds})
        return time.perf_counter() - t0

    order = sorted(range(len(subs)), key=lambda i: -os.path.getsize(subs[i].path))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        seconds = dict(zip(order, pool.map(one, [subs[i] for i in order]), strict=True))
    wall = time.perf_counter() - t0
    return wall, [seconds[i] for i in range(len(subs))]


def baseline_device() -> str:
    """Where the baselines run: ``"cuda"`` when onnxruntime offers its CUDA provider and
    torch sees a GPU (the engine then scores on the GPU too, so its ratios compare GPU with
    GPU), else ``"cpu"``."""
    import onnxruntime as ort
    import torch

    from ..evaluation.pool import gpu_present

    cuda_ep = "CUDAExecutionProvider" in ort.get_available_providers()
    return "cuda" if cuda_ep and gpu_present() and torch.cuda.is_available() else "cpu"


def ort_providers(device: str) -> list:
    """The bare onnxruntime baseline's providers for ``device`` (the engine's CUDA options)."""
    from ..evaluation.worker import CPU_EP, CUDA_EP, CUDA_PROVIDER_OPTIONS

    if device == "cuda":
        return [(CUDA_EP, dict(CUDA_PROVIDER_OPTIONS)), CPU_EP]
    return [CPU_EP]


def _torch_loss(task: str, logits, target):
    import torch.nn.functional as F

    if task == "digits":
        return F.cross_entropy(logits, target, reduction="sum")
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="sum"
    )


def time_torch(
    task: str,
    spec: Any,
    arrays: dict,
    subs: list[Submission],
    batch: int,
    max_rows: int,
    repeats: int = 1,
    device: str = "cpu",
) -> list[float]:
    """Torch eager rows/s per model: ``batch`` rows per forward (+ loss) over ``max_rows``;
    the best of ``repeats`` passes (short timings on a busy machine are mostly noise). On
    ``device="cuda"`` the model and the rows sit on the GPU (the loss is read back per
    batch, as a caller of the model would)."""
    import torch

    key = spec.inputs[0].data_key
    x_all = torch.from_numpy(arrays[key][:max_rows]).to(device)
    y_all = torch.from_numpy(arrays[spec.data.target_key][:max_rows]).to(device)
    rates = []
    with torch.no_grad():
        for s in subs:
            net = s.module.eval().to(device)
            net(x_all[:batch])  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                total = 0.0
                for i in range(0, len(x_all), batch):
                    logits = net(x_all[i : i + batch])
                    total += float(_torch_loss(task, logits, y_all[i : i + batch]))
                best = min(best, time.perf_counter() - t0)
            rates.append(len(x_all) / best)
            s.module.to("cpu")
    return rates


def _harmonic(rates: list[float]) -> float:
    """Rows/s over a set of models each scoring the same rows (total rows / total time)."""
    return len(rates) / sum(1.0 / r for r in rates) if rates else 0.0


def bench_task(
    task: str,
    shard: tuple[Any, Path, str, dict],
    subs: list[Submission],
    sizes: Sizes,
    layout: tuple[int | None, int | None],
    threads: int,
    say,
    device: str = "cpu",
) -> TaskBench:
    import torch

    spec, path, sha, arrays = shard
    rows = len(arrays[spec.data.target_key])
    target = arrays[spec.data.target_key]
    tokens = int((target != -100).sum()) if task != "digits" else rows
    tb = TaskBench(task, len(subs), rows, tokens)
    torch.set_num_threads(threads)

    say(f"[{task}] engine vs bare onnxruntime: {len(subs)} models x {rows} rows")
    tb.engine_startup_s, tb.engine_s, results, (tb.floor_s, floor), tb.ort_one_session_s, used = (
        time_engine_and_floor(
            spec, path, sha, arrays, subs, layout, threads, sizes.repeats, say, device
        )
    )
    tb.workers, tb.worker_threads = used
    tb.invalid = sum(1 for r in results if not r.ok)
    tb.engine_infer_s = sum(r.infer_seconds for r in results)
    tb.engine_metric_s = sum(r.metric_seconds for r in results)
    bs1_rows = sizes.bs1_rows_digits if task == "digits" else sizes.bs1_rows_lm
    say(f"[{task}] torch eager bs1 on {bs1_rows} rows per model")
    bs1 = time_torch(task, spec, arrays, subs, 1, bs1_rows, repeats=3, device=device)
    tb.torch_bs1_rows_per_s = _harmonic(bs1)
    batched_rows = min(
        rows, sizes.batched_rows_digits if task == "digits" else sizes.batched_rows_lm
    )
    say(f"[{task}] torch eager batched on {batched_rows} rows per model")
    batched = time_torch(
        task, spec, arrays, subs, spec.limits.max_batch_rows, batched_rows, device=device
    )
    tb.torch_batched_rows_per_s = _harmonic(batched)
    for s, r, f, b1, bb in zip(subs, results, floor, bs1, batched, strict=True):
        tb.per_model.append(
            {
                "name": s.name,
                "preset": s.preset,
                "sha256": s.sha256,
                "status": r.status,
                "score": r.score,
                "reason": r.reason,
                "engine_seconds": r.seconds,
                "engine_infer_seconds": r.infer_seconds,
                "engine_metric_seconds": r.metric_seconds,
                "floor_seconds": f,
                "torch_bs1_rows_per_s": b1,
                "torch_batched_rows_per_s": bb,
            }
        )
    return tb


# ----------------------------------------------------------------------------- report
def _table(benches: list[TaskBench], total: dict[str, float]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="AIArena validator throughput (one process, same machine)")
    for col in (
        "task",
        "models",
        "rows",
        "engine models/min",
        "engine samples/s",
        "floor samples/s",
        "torch bs1 samples/s",
        "torch batched samples/s",
        "engine/floor",
        "engine/torch-bs1",
        "engine/torch-batched",
        "floor/torch-bs1",
    ):
        table.add_column(col, justify="right" if col != "task" else "left")

    def row(name: str, models: int, rows: int, r: dict[str, float]) -> None:
        table.add_row(
            name,
            str(models),
            str(rows),
            f"{r['engine_models_per_min']:.1f}",
            f"{r['engine_samples_per_s']:,.0f}",
            f"{r['floor_samples_per_s']:,.0f}",
            f"{r['torch_bs1_samples_per_s']:,.0f}",
            f"{r['torch_batched_samples_per_s']:,.0f}",
            f"{r['engine_over_floor']:.2f}",
            f"{r['engine_over_torch_bs1']:.1f}",
            f"{r['engine_over_torch_batched']:.2f}",
            f"{r['floor_over_torch_bs1']:.1f}",
        )

    for tb in benches:
        row(tb.task, tb.models, tb.rows, tb.rates())
    row("all", sum(t.models for t in benches), sum(t.rows for t in benches), total)
    console = Console(width=240, record=True)
    console.print(table)
    for tb in benches:
        console.print(
            f"{tb.task}: engine {tb.engine_s:.2f} s warm on {tb.workers} workers x "
            f"{tb.worker_threads} threads (+{tb.engine_startup_s:.2f} s worker start-up, shard "
            f"load); summed over workers onnxruntime {tb.engine_infer_s:.2f} s (with the "
            f"in-graph metric when fused), host metric {tb.engine_metric_s:.2f} s; bare "
            f"onnxruntime {tb.floor_s:.2f} s in that layout, "
            f"{tb.ort_one_session_s:.2f} s one model at a time on one session "
            f"(engine/that = {tb.rates()['engine_over_ort_one_session']:.2f})"
        )
    return console.export_text()


def _totals(benches: list[TaskBench]) -> dict[str, float]:
    engine = sum(t.engine_s for t in benches)
    floor = sum(t.floor_s for t in benches)
    one_session = sum(t.ort_one_session_s for t in benches)
    rates = [t.rates() for t in benches]
    return {
        **_ratios(
            models=sum(t.models for t in benches),
            samples=sum(t.models * t.rows for t in benches),
            engine=engine,
            floor=floor,
            one_session=one_session,
            bs1=sum(r["torch_bs1_seconds_extrapolated"] for r in rates),
            batched=sum(r["torch_batched_seconds_extrapolated"] for r in rates),
        ),
        "engine_seconds": engine,
        "floor_seconds": floor,
        "ort_one_session_seconds": one_session,
        "engine_startup_seconds": sum(t.engine_startup_s for t in benches),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ape_arena.tools.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--models", type=int, default=None, help="submissions, 2/3 digits + 1/3 LM (24; quick: 3)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", default="bench-results", help="folder for the JSON results")
    parser.add_argument(
        "--workers", type=int, default=None, help="engine workers (default: one per CPU)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="onnxruntime threads per engine worker (default: CPUs / workers)",
    )
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = 3 if args.quick else 24
    if args.models < 2:
        parser.error("--models must be >= 2 (at least one per task)")

    import warnings

    warnings.filterwarnings("ignore")  # exporter chatter
    sizes = QUICK if args.quick else FULL
    from ..evaluation.pool import cpu_count

    for name in ("workers", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    threads = cpu_count()  # torch and the one-session onnxruntime pass: every CPU
    layout = (args.workers, args.threads)
    n_lm = max(1, args.models // 3)
    n_digits = args.models - n_lm
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="arena-bench-") as tmp:
        folder = Path(tmp)
        say("building eval shards")
        shards = build_shards(folder, sizes)
        say(f"training {n_digits} digits classifiers and {n_lm} byte LMs")
        subs = {
            "digits": build_submissions(folder, "digits", n_digits, sizes),
            "bytes_lm": build_submissions(folder, "bytes_lm", n_lm, sizes),
        }
        say(f"exporting {sizes.chat_models} causal LMs (vocabulary {CHAT_VOCAB:,})")
        subs["chat_lm"] = chat_lm_submissions(folder, sizes.chat_models)
        setup_s = time.perf_counter() - t_start
        device = baseline_device()
        say(f"baselines (bare onnxruntime, torch eager) run on the {device}")
        benches = [
            bench_task(task, shards[task], subs[task], sizes, layout, threads, say, device)
            for task in ("digits", "bytes_lm", "chat_lm")
        ]
    totals = _totals(benches)
    text = _table(benches, totals)
    record = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {**machine_info(threads), "baseline_device": device},
        "sizes": asdict(sizes),
        "setup_seconds": setup_s,
        "total_seconds": time.perf_counter() - t_start,
        "totals": totals,
        "tasks": [{**asdict(tb), **tb.rates()} for tb in benches],
        "table": text,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
