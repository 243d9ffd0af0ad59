"""``make big-lm-check``: a causal LM over ONNX's 2 GiB single-file limit, as a language-model
task must take it (DESIGN §4.1), scored by the real engine: 614M float32 weights (2.29 GiB)
in one external-data file, sealed (``evaluation/external.py``), read from the engine's own
folder and handed to onnxruntime in memory; the score is compared with an independent
float64 numpy computation. Outside ``make test`` (it writes 2.3 GB and needs about 7 GiB of
RAM); about a minute on 2 cores.

The model is the smallest graph that is a causal LM for the engine: ``tokens`` -> Gather of
an embedding [V, H] -> MatMul [H, V] -> ``logits`` [batch, L, V], with H chosen so that the
weights pass 2 GiB.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

V, H, L, ROWS = 1024, 300_000, 32, 8


def _external(name: str, shape: tuple[int, ...], offset: int, length: int, location: str):
    from onnx import TensorProto

    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        t.external_data.add(key=key, value=value)
    return t


def run(folder: Path, log=print) -> bool:
    from onnx import TensorProto, helper

    from ..evaluation.chat import ChatTemplate
    from ..evaluation.engine import Engine
    from ..evaluation.external import seal
    from ..evaluation.shards import write_shard
    from ..evaluation.spec import TaskSpec

    rng = np.random.default_rng(0)
    t0 = time.monotonic()
    emb = rng.standard_normal((V, H), dtype=np.float32) * 0.01
    out = rng.standard_normal((H, V), dtype=np.float32) * 0.01
    data = folder / "big.onnx.data"
    with open(data, "wb") as fh:
        fh.write(emb.tobytes())
        fh.write(out.tobytes())
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "tokens"], ["h"]),
         helper.make_node("MatMul", ["h", "W"], ["logits"])],
        "big_lm",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", L])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", L, V])],
        [_external("E", emb.shape, 0, emb.nbytes, data.name),
         _external("W", out.shape, emb.nbytes, out.nbytes, data.name)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "big.onnx"
    path.write_bytes(model.SerializeToString())
    ext = seal(path)
    assert ext is not None
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    log(f"model: {path.stat().st_size} bytes + external data {data.stat().st_size:,} bytes "
        f"({data.stat().st_size / 2**30:.2f} GiB, {emb.size + out.size:,} weights), sealed "
        f"{ext.sha256[:12]}; written in {time.monotonic() - t0:.0f} s")  # fmt: skip
    spec = TaskSpec.model_validate({
        "name": "big_lm", "metric": "bits_per_byte",
        "inputs": [{"name": "tokens", "data_key": "tokens", "dtype": "int64", "shape": ["batch", L]}],
        "output": {"name": "logits", "dtype": "float32", "shape": ["batch", L, V]},
        "limits": {"max_bytes": 3 << 30, "max_params": 1 << 30, "opset_min": 13,
                   "opset_max": 21, "max_batch_rows": ROWS},
        "chat": {"tokenizer_sha256": "ab" * 32, "template": ChatTemplate().to_dict(),
                 "context_length": L},
    })  # fmt: skip
    tokens = rng.integers(1, V, (ROWS, L)).astype(np.int64)
    target = np.where(rng.random((ROWS, L)) < 0.5, rng.integers(1, V, (ROWS, L)), -100)
    n_bytes = np.full(ROWS, 40, np.int64)
    shard = folder / "shard.npz"
    shard_sha = write_shard({"tokens": tokens, "target": target.astype(np.int64),
                             "bytes": n_bytes}, shard)  # fmt: skip
    t0 = time.monotonic()
    with Engine(spec, shard, shard_sha, workers=1, device="cpu", progress=False) as engine:
        log(f"engine: one worker, memory cap {engine.memory_limit / 2**30:.1f} GiB (from the spec)")
        (res,) = engine.score_round([(str(path), sha)])
    if not res.ok:
        log(f"FAILED: the engine says {res.code}: {res.reason}")
        return False
    log(f"engine: {res.score / 1e9:.9f} bits per byte in {time.monotonic() - t0:.1f} s")
    logits = emb[tokens].astype(np.float64) @ out.astype(np.float64)
    top = logits.max(-1, keepdims=True)
    logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    keep = target != -100
    picked = np.take_along_axis(logp, np.where(keep, target, 0)[..., None], -1)[..., 0]
    want = -picked[keep].sum() / math.log(2) / n_bytes.sum()
    log(f"numpy float64: {want:.9f} bits per byte")
    if abs(res.score - round(want * 1e9)) > 440:  # float32 resolution (as the engine tests)
        log("FAILED: the engine and numpy disagree")
        return False
    log("OK: a model over 2 GiB, its weights in a sealed external-data file, scored exactly")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        return 0 if run(Path(args.dir)) else 1
    with tempfile.TemporaryDirectory(prefix="big-lm-") as tmp:
        return 0 if run(Path(tmp)) else 1


if __name__ == "__main__":
    sys.exit(main())
