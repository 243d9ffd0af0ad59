"""The engine part of the GPU check (``python3 -m arena_kernels.gpu_check``, ``make
gpu-check``): the plugin's engine on an MLP, a CNN, a byte LM and a 65,536-vocabulary LM,
twice on the GPU (identical scores) and once on the CPU (within 440 units, float32
resolution of a mean loss), and its throughput against bare onnxruntime-gpu with IOBinding
and torch eager at batch 1. ``arena_kernels.gpu_check`` loads this module when the plugin is
installed (the kernels never import the plugin) and only on a machine with a CUDA device.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

METRIC_UNITS = 440


def engine_checks(report: Any, torch: Any, workdir: Path) -> None:
    """The engine on four models (GPU twice, CPU once) and its throughput; ``report`` is an
    ``arena_kernels.gpu_check.Report`` (one ``CHECK`` line each)."""
    names = ("mlp", "cnn", "byte-lm", "lm-65k")
    try:
        import onnxruntime as ort
    except ImportError as exc:
        for n in (*names, "throughput"):
            report.add(f"engine {n}", "SKIP", f"needs onnxruntime-gpu: {exc}")
        return
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        for n in (*names, "throughput"):
            report.add(f"engine {n}", "SKIP", "onnxruntime has no CUDAExecutionProvider "
                       "(install the gpu extra: make setup-gpu)")  # fmt: skip
        return
    cases = {}
    for name in names:
        report.run(f"engine {name}", lambda name=name: _engine_case(name, workdir, cases))
    report.run("engine throughput", lambda: _engine_throughput(torch, cases))


def _engine_models(name: str, workdir: Path):
    """(spec, shard path, shard sha, model path, model sha, torch module) for ``name``."""
    import numpy as np
    import torch

    from ..evaluation.export import export_model
    from ..evaluation.shards import digits_eval_arrays, lm_arrays, stdlib_corpus, write_shard
    from ..evaluation.spec import TaskSpec, example
    from .models import make_model

    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    if name in ("mlp", "cnn"):
        spec = example("digits")
        arrays = digits_eval_arrays(rows=2048, seed=3)
        net = make_model("digits-mlp-64" if name == "mlp" else "digits-cnn-8")
    elif name == "byte-lm":
        spec = example("bytes_lm")
        arrays = lm_arrays(stdlib_corpus(200_000), seq=128)
        net = make_model("lm-gru-48")
    else:
        raw = example("bytes_lm").model_dump(mode="json")
        vocab = 65_536
        raw.update(name="lm_65k", metric="token_cross_entropy")
        raw["output"]["shape"] = ["batch", 32, vocab]
        raw["inputs"][0]["shape"] = ["batch", 32]
        raw["limits"]["max_batch_rows"] = 16
        raw["limits"]["max_params"] = 20_000_000
        spec = TaskSpec.model_validate(raw)
        rng = np.random.default_rng(5)
        toks = rng.integers(0, vocab, (256, 33))
        arrays = {"tokens": toks[:, :32].astype(np.int64), "target": toks[:, 1:].astype(np.int64)}

        class Lm65k(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = torch.nn.Embedding(vocab, 64)
                self.out = torch.nn.Linear(64, vocab)

            def forward(self, tokens):
                return self.out(torch.tanh(self.emb(tokens)))

        net = Lm65k()
    shard = folder / "shard.npz"
    shard_sha = write_shard(arrays, shard)
    model = folder / "model.onnx"
    model_sha = export_model(net.eval(), spec, model)
    return spec, shard, shard_sha, model, model_sha, net


def _engine_case(name: str, workdir: Path, cases: dict) -> tuple[str, dict]:
    from ..evaluation.engine import Engine

    spec, shard, shard_sha, model, model_sha, net = _engine_models(name, workdir)
    scores = {}
    for run, device in (("gpu1", "cuda"), ("gpu2", "cuda"), ("cpu", "cpu")):
        with Engine(spec, shard, shard_sha, device=device, workers=1, progress=False) as eng:
            t0 = time.perf_counter()
            (res,) = eng.score_round([(str(model), model_sha)])
            scores[run] = (res, time.perf_counter() - t0)
    (g1, t_gpu), (g2, _), (c, t_cpu) = scores["gpu1"], scores["gpu2"], scores["cpu"]
    assert g1.ok and g2.ok and c.ok, f"not scored: {g1.reason or g2.reason or c.reason}"
    assert g1.path == "cuda", f"the GPU run took the {g1.path} path"
    assert g1.score == g2.score, f"two GPU runs differ: {g1.score} vs {g2.score}"
    assert abs(g1.score - c.score) <= METRIC_UNITS, f"GPU {g1.score} vs CPU {c.score}"
    cases[name] = (spec, shard, model, net, t_gpu)
    return (f"gpu {g1.score} x2 identical, cpu {c.score} ({abs(g1.score - c.score)} units), "
            f"{t_gpu:.2f}s vs {t_cpu:.2f}s", {"gpu": g1.score, "cpu": c.score})  # fmt: skip


def _engine_throughput(torch, cases: dict) -> tuple[str, dict]:
    """Rows/s of the engine (its GPU run above) against bare onnxruntime-gpu with IOBinding
    (outputs left on the device) and torch eager at batch 1, on the largest model."""
    import numpy as np
    import onnxruntime as ort

    if "lm-65k" not in cases:
        raise AssertionError("the 65k-vocabulary case did not run")
    spec, shard, model, net, t_engine = cases["lm-65k"]
    arrays = dict(np.load(shard))
    x = arrays[spec.inputs[0].data_key]
    rows = len(x)
    sess = ort.InferenceSession(str(model), providers=["CUDAExecutionProvider"])
    batch = spec.limits.max_batch_rows

    def bare():
        for s in range(0, rows, batch):
            b = sess.io_binding()
            b.bind_cpu_input(spec.inputs[0].name, x[s : s + batch])
            b.bind_output(spec.output.name, "cuda")
            sess.run_with_iobinding(b)

    t0 = time.perf_counter()
    bare()
    t_bare = time.perf_counter() - t0
    net = net.cuda().eval()
    xt = torch.from_numpy(x).cuda()
    with torch.no_grad():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(rows):
            net(xt[i : i + 1])
        torch.cuda.synchronize()
    t_torch = time.perf_counter() - t0
    data = {"engine_rows_s": rows / t_engine, "ort_iobinding_rows_s": rows / t_bare,
            "torch_batch1_rows_s": rows / t_torch}  # fmt: skip
    return (f"engine {rows / t_engine:.0f} rows/s (incl. start), ort+IOBinding "
            f"{rows / t_bare:.0f}, torch batch 1 {rows / t_torch:.0f}", data)  # fmt: skip
