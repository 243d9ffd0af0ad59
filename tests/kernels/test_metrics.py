"""metric_total / metric_rows: real data against scikit-learn, token metrics against direct
float64 computations, exact host reduction, determinism and input errors."""

import ast
import math
from pathlib import Path

import arena_kernels as ak
import numpy as np
import pytest
import torch
from arena_kernels._common import resolve_backend
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss

BACKENDS = ("triton", "torch", "cpu")
# relative agreement of a mean with a float64 computation: triton accumulates in fp32, the
# cpu path takes float32 exponentials (rows within 3e-7 nats); torch is the float64 reference
MEAN_RTOL = {"triton": 2e-6, "torch": 1e-12, "cpu": 2e-6}

pytestmark = pytest.mark.filterwarnings(
    "ignore:Conversion of an array with ndim:DeprecationWarning"
)


@pytest.fixture(scope="module")
def digits_logits():
    """Logits of a quickly fitted logistic regression on held-out digits (real data)."""
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    clf = LogisticRegression(max_iter=300).fit(x[::2], y[::2])
    x_test, y_test = x[1::2], y[1::2]
    logits = torch.from_numpy(clf.decision_function(x_test)).float()
    return logits, torch.from_numpy(y_test).long(), clf.predict(x_test)


def softmax64(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.double(), dim=1).numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_digits_cross_entropy_matches_sklearn_log_loss(digits_logits, backend):
    logits, y, _ = digits_logits
    total, count = ak.metric_total("cross_entropy", logits, y, backend=backend)
    assert count == len(y)
    expected = log_loss(y.numpy(), softmax64(logits), labels=list(range(10)))
    assert total / count == pytest.approx(expected, rel=MEAN_RTOL[backend])
    assert 0.0 < total / count < 0.5  # a fitted model: sanity of the data path


@pytest.mark.parametrize("backend", BACKENDS)
def test_digits_error_rate_matches_sklearn_accuracy(digits_logits, backend):
    logits, y, sk_pred = digits_logits
    total, count = ak.metric_total("error_rate", logits, y, backend=backend)
    assert count == len(y)
    assert total == float(np.sum(sk_pred != y.numpy()))  # exact integer count
    assert 1.0 - total / count == pytest.approx(accuracy_score(y.numpy(), sk_pred), abs=1e-15)
    _, argmax = ak.cross_entropy_rows(logits, y, backend=backend)
    assert np.array_equal(argmax.numpy(), sk_pred)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_random_linear_model_fp16(backend):
    """A fixed random linear model on digits, logits in fp16 (what a half-precision export
    would produce); compared with sklearn on the same fp16 logits."""
    x, y = load_digits(return_X_y=True)
    g = torch.Generator().manual_seed(7)
    w = torch.randn(64, 10, generator=g, dtype=torch.float64) * 0.05
    logits = (torch.from_numpy(x / 16.0) @ w).half()
    target = torch.from_numpy(y).long()
    total, count = ak.metric_total("cross_entropy", logits, target, backend=backend)
    expected = log_loss(y, softmax64(logits), labels=list(range(10)))
    assert count == len(y) and total / count == pytest.approx(expected, rel=MEAN_RTOL[backend])
    err, _ = ak.metric_total("error_rate", logits, target, backend=backend)
    pred = logits.double().argmax(dim=1).numpy()
    assert 1.0 - err / count == pytest.approx(accuracy_score(y, pred), abs=1e-15)


def token_reference(output, target, mask=None):
    """Direct float64 token cross-entropy: (total nats via fsum, kept tokens)."""
    logp = torch.log_softmax(output.double(), dim=-1)
    keep = target != -100
    if mask is not None:
        keep &= mask != 0
    safe = torch.where(keep, target, torch.zeros_like(target))
    nll = -logp.gather(-1, safe[..., None])[..., 0]
    return math.fsum(nll[keep].tolist()), int(keep.sum())


def token_case(gen, n, t, v, dtype=torch.float32):
    output = (torch.randn(n, t, v, generator=gen) * 2).to(dtype)
    target = torch.randint(0, v, (n, t), generator=gen)
    target[torch.rand(n, t, generator=gen) < 0.2] = -100
    mask = (torch.rand(n, t, generator=gen) > 0.25).to(torch.int64)
    return output, target, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_token_cross_entropy(gen, backend, dtype):
    output, target, mask = token_case(gen, 3, 7, 1000, dtype)
    for m in (None, mask, mask.bool(), mask.float()):
        total, count = ak.metric_total("token_cross_entropy", output, target, m, backend=backend)
        exp_total, exp_count = token_reference(output, target, m)
        assert count == exp_count
        assert total == pytest.approx(exp_total, rel=MEAN_RTOL[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_bits_per_byte(gen, backend):
    output, target, mask = token_case(gen, 2, 9, 256)
    total, count = ak.metric_total("bits_per_byte", output, target, mask=mask, backend=backend)
    exp_nats, exp_count = token_reference(output, target, mask)
    assert count == exp_count
    assert total == pytest.approx(exp_nats / math.log(2), rel=MEAN_RTOL[backend])
    nats, _ = ak.metric_total("token_cross_entropy", output, target, mask=mask, backend=backend)
    assert total == pytest.approx(nats / math.log(2), rel=1e-13)
    uniform = torch.zeros(1, 4, 256)  # uniform prediction over bytes = exactly 8 bits per byte
    t8, c8 = ak.metric_total(
        "bits_per_byte", uniform, torch.tensor([[1, 2, 3, 255]]), backend=backend
    )
    assert c8 == 4 and t8 / c8 == pytest.approx(8.0, rel=1e-6)
    with pytest.raises(ValueError, match="256"):
        ak.metric_total(
            "bits_per_byte", torch.zeros(1, 2, 100), torch.zeros(1, 2, dtype=torch.long)
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_mse_total(gen, backend):
    pred = torch.randn(33, 5, 3, generator=gen)
    target = torch.randn(33, 5, 3, generator=gen)
    total, count = ak.metric_total("mse", pred, target, backend=backend)
    d = (pred.double() - target.double()).flatten()
    assert count == 33 * 5 * 3
    assert total == pytest.approx(math.fsum((d * d).tolist()), rel=MEAN_RTOL[backend])


@pytest.mark.parametrize("metric", ["cross_entropy", "error_rate", "mse", "token_cross_entropy"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_concatenate_exactly(gen, backend, metric):
    """Per-row values do not depend on the batch they were computed in, so fsum over the
    concatenated rows of several batches equals the single-batch total bit for bit."""
    if metric == "token_cross_entropy":
        output, target, mask = token_case(gen, 6, 5, 300)
    elif metric == "mse":
        output, target, mask = (
            torch.randn(33, 7, generator=gen),
            torch.randn(33, 7, generator=gen),
            None,
        )
    else:
        output = torch.randn(33, 300, generator=gen)
        target, mask = torch.randint(0, 300, (33,), generator=gen), None
    whole = ak.metric_rows(metric, output, target, mask, backend=backend)
    parts = [
        ak.metric_rows(
            metric, output[a:b], target[a:b], None if mask is None else mask[a:b], backend=backend
        )
        for a, b in ((0, 1), (1, 4), (4, None))
    ]
    assert whole.backend == backend
    assert sum(p.count for p in parts) == whole.count
    joined = np.concatenate([p.values for p in parts])
    assert joined.tobytes() == whole.values.tobytes()
    assert (
        ak.exact_total(joined)
        == whole.total
        == ak.metric_total(metric, output, target, mask, backend=backend)[0]
    )


def test_exact_total_is_order_independent():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(5000) * 1e8, rng.standard_normal(5000) * 1e-8])
    ref = ak.exact_total(values)
    for _ in range(5):
        assert ak.exact_total(rng.permutation(values)) == ref
    assert ak.exact_total([1e16, 1.0, -1e16]) == 1.0  # naive float64 summation gives 0.0
    assert ak.exact_total([]) == 0.0
    assert math.isnan(ak.exact_total([1.0, float("nan")]))
    assert ak.exact_total([1.0, float("inf")]) == math.inf
    assert ak.exact_total([1e308, 1e308]) == math.inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_outputs_give_non_finite_totals(backend):
    logits = torch.randn(4, 10)
    logits[2, 3] = float("nan")
    target = torch.tensor([0, 1, 2, 3])
    total, count = ak.metric_total("cross_entropy", logits, target, backend=backend)
    assert math.isnan(total) and count == 4
    err, _ = ak.metric_total("error_rate", logits, target, backend=backend)
    assert err >= 1.0  # the NaN row (argmax -1) counts as an error
    mse_total, _ = ak.metric_total(
        "mse", torch.tensor([1.0, float("inf")]), torch.zeros(2), backend=backend
    )
    assert mse_total == math.inf


@pytest.mark.parametrize("metric", ak.METRICS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_totals(gen, backend, metric):
    if metric in ("token_cross_entropy", "bits_per_byte"):
        output, target, mask = token_case(gen, 3, 5, 256)
    elif metric == "mse":
        output, target, mask = (
            torch.randn(17, 9, generator=gen),
            torch.randn(17, 9, generator=gen),
            None,
        )
    else:
        output, target, mask = (
            torch.randn(17, 999, generator=gen),
            torch.randint(0, 999, (17,), generator=gen),
            None,
        )
    first = ak.metric_total(metric, output, target, mask, backend=backend)
    second = ak.metric_total(metric, output.clone(), target.clone(), mask, backend=backend)
    assert first == second
    assert np.float64(first[0]).tobytes() == np.float64(second[0]).tobytes()
    assert isinstance(first[0], float) and isinstance(first[1], int)


def test_auto_backend_and_empty_batches():
    logits, target = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    assert ak.metric_rows("cross_entropy", logits, target).backend == "cpu"  # CPU tensor
    assert ak.metric_total(
        "cross_entropy", torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    ) == (0.0, 0)
    assert ak.metric_total(
        "token_cross_entropy", torch.zeros(2, 0, 8), torch.zeros(2, 0, dtype=torch.long)
    ) == (0.0, 0)
    all_ignored = torch.full((1, 3), -100)
    assert ak.metric_total(
        "token_cross_entropy", torch.randn(1, 3, 8), all_ignored, backend="triton"
    ) == (0.0, 0)


class _CompiledKernel:  # stands for a @triton.jit kernel decorated without TRITON_INTERPRET
    pass


def test_triton_backend_on_cpu_without_interpreter_is_a_clear_error():
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        resolve_backend("triton", torch.device("cpu"), _CompiledKernel())
    assert resolve_backend("auto", torch.device("cuda"), _CompiledKernel()) == "triton"
    assert resolve_backend("torch", torch.device("cuda"), _CompiledKernel()) == "torch"
    assert resolve_backend("auto", torch.device("cpu"), _CompiledKernel()) == "cpu"
    with pytest.raises(ValueError, match="needs CPU tensors"):
        resolve_backend("cpu", torch.device("cuda"), _CompiledKernel())


def _z(*shape, dtype=torch.float32, device="cpu"):
    return torch.zeros(*shape, dtype=dtype, device=device)


_L = torch.long
MT, CE = ak.metric_total, ak.cross_entropy_rows
BAD_INPUTS = [  # (function, args, kwargs, expected message)
    (MT, ("accuracy", _z(2, 3), _z(2, dtype=_L)), {}, "unknown metric"),
    (MT, ("cross_entropy", _z(2, 3), _z(3, dtype=_L)), {}, r"shape \[2\]"),
    (MT, ("cross_entropy", _z(2, 3), _z(2)), {}, "int64"),
    (MT, ("error_rate", _z(2, 3), _z(2, dtype=torch.int32)), {}, "int64"),
    (MT, ("cross_entropy", _z(2, 3), torch.tensor([0, 3])), {}, r"outside \[0, 3\)"),
    (MT, ("cross_entropy", _z(2, 3), torch.tensor([0, -5])), {}, "outside"),
    (MT, ("error_rate", _z(2, 3), torch.tensor([0, -100])), {"ignore_index": -1}, "outside"),
    (MT, ("cross_entropy", _z(2, 3), _z(2, dtype=_L)), {"ignore_index": None}, "ignore_index"),
    (MT, ("cross_entropy", _z(2, 3, 4), _z(2, dtype=_L)), {}, "2-D"),
    (MT, ("cross_entropy", _z(2, 3), _z(2, dtype=_L)), {"mask": torch.ones(3)}, "mask must"),
    (MT, ("mse", _z(2, 3), _z(2, 3)), {"mask": torch.ones(3)}, "mask must"),
    (MT, ("mse", _z(2, 3), _z(2, 3)), {"mask": torch.ones(2, 3, device="meta")}, "device"),
    (MT, ("cross_entropy", _z(2, 3, dtype=_L), _z(2, dtype=_L)), {}, "float32"),
    (MT, ("mse", _z(2, 3), _z(2, 4)), {}, "same shape"),
    (MT, ("token_cross_entropy", _z(2, 3), _z(2, dtype=_L)), {}, r"3-D \[N, T, V\]"),
    (MT, ("token_cross_entropy", _z(2, 3, 5), _z(2, 4, dtype=_L)), {}, r"shape \(2, 3\)"),
    (MT, ("token_cross_entropy", _z(2, 3, 5), _z(2, 3)), {}, "int64"),
    (MT, ("token_cross_entropy", _z(2, 3, 5), torch.full((2, 3), 5)), {}, r"outside \[0, 5\)"),
    (MT, ("token_cross_entropy", _z(2, 3, 5), _z(2, 3, dtype=_L)), {"mask": _z(3, 2)}, "mask must"),
    (MT, ("cross_entropy", [[0.0, 1.0]], _z(1, dtype=_L)), {}, "torch.Tensor or numpy"),
    (MT, ("cross_entropy", _z(2, 3), _z(2, dtype=_L)), {"backend": "gpu"}, "backend must be"),
    (CE, (_z(2, 0), _z(2, dtype=_L)), {}, "at least one class"),
    (CE, (_z(2, 3), _z(2, 1, dtype=_L)), {}, r"shape \[2\]"),
    (CE, (_z(2, 3), _z(2, dtype=_L)), {"ignore_index": 1.5}, "ignore_index"),
    (CE, (_z(2, 3), _z(2, dtype=_L, device="meta")), {}, "device"),
]


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "message"), BAD_INPUTS, ids=[c[3] for c in BAD_INPUTS]
)
def test_bad_inputs_raise_value_error(fn, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fn(*args, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_classification_mask_and_ignore_index(gen, backend):
    """Rows with mask == 0 or target == ignore_index do not count (spec data.mask_key /
    data.ignore_index); without them count == N."""
    logits = torch.randn(33, 10, generator=gen)
    target = torch.randint(0, 10, (33,), generator=gen)
    mask = (torch.rand(33, generator=gen) > 0.3).to(torch.uint8)
    keep = mask.bool()
    ref_ce = ak.metric_total("cross_entropy", logits[keep], target[keep], backend=backend)
    ref_err = ak.metric_total("error_rate", logits[keep], target[keep], backend=backend)
    assert ak.metric_total("cross_entropy", logits, target, mask, backend=backend) == ref_ce
    assert ak.metric_total("error_rate", logits, target, mask, backend=backend) == ref_err
    assert ref_ce[1] == int(keep.sum())
    ignored = torch.where(keep, target, torch.full_like(target, 99))
    assert (
        ak.metric_total("cross_entropy", logits, ignored, ignore_index=99, backend=backend)
        == ref_ce
    )
    assert (
        ak.metric_total(
            "error_rate", logits.numpy(), ignored.numpy(), ignore_index=99, backend=backend
        )
        == ref_err
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_mse_masks(gen, backend):
    pred = torch.randn(7, 4, 3, generator=gen).half()
    target = torch.randn(7, 4, 3, generator=gen)
    elem = torch.rand(7, 4, 3, generator=gen) > 0.4
    total, count = ak.metric_total("mse", pred, target, mask=elem, backend=backend)
    d = (pred.double() - target.double())[elem]
    assert count == int(elem.sum())
    assert total == pytest.approx(math.fsum((d * d).tolist()), rel=MEAN_RTOL[backend])
    rows = torch.tensor([1, 0, 1, 1, 0, 0, 1], dtype=torch.uint8)
    total_r, count_r = ak.metric_total("mse", pred, target, mask=rows, backend=backend)
    sel = rows.bool()
    assert (total_r, count_r) == ak.metric_total("mse", pred[sel], target[sel], backend=backend)
    nan_masked = pred.clone()
    nan_masked[1] = float("nan")  # masked-out garbage adds nothing
    assert ak.metric_total("mse", nan_masked, target, mask=rows, backend=backend) == (
        total_r,
        count_r,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_token_custom_ignore_index(gen, backend):
    output, target, mask = token_case(gen, 2, 6, 50)
    ref = ak.metric_total("token_cross_entropy", output, target, mask, backend=backend)
    custom = torch.where(target == -100, torch.full_like(target, -1), target)
    got = ak.metric_total(
        "token_cross_entropy", output, custom, mask, backend=backend, ignore_index=-1
    )
    assert got == ref


def test_read_only_numpy_inputs(digits_logits):
    logits, y, _ = digits_logits
    x, t = logits.numpy().copy(), y.numpy().copy()
    x.flags.writeable = False
    t.flags.writeable = False
    assert ak.metric_total("cross_entropy", x, t) == ak.metric_total("cross_entropy", logits, y)


def test_token_mask_hides_invalid_targets(gen):
    """Targets under mask == 0 may hold anything (padding): they are never validated."""
    output = torch.randn(1, 3, 5, generator=gen)
    target = torch.tensor([[1, 99, -7]])
    mask = torch.tensor([[1, 0, 0]])
    total, count = ak.metric_total("token_cross_entropy", output, target, mask=mask)
    assert count == 1
    expected = -torch.log_softmax(output[0, 0].double(), 0)[1].item()
    assert total == pytest.approx(expected, rel=0, abs=3e-7)  # cpu: float32 exponentials


def test_numpy_inputs(digits_logits):
    logits, y, _ = digits_logits
    assert ak.metric_total("cross_entropy", logits.numpy(), y.numpy()) == ak.metric_total(
        "cross_entropy", logits, y
    )


def test_package_imports_no_onnx_or_ape():
    """arena_kernels must stay free of onnx/onnxruntime/ape (the engine imports it): no
    module of the package imports them (static check of every import statement)."""
    banned = {"onnx", "onnxruntime", "ape", "ape_arena"}
    package_dir = Path(ak.__file__).resolve().parent
    found = []
    for path in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in banned]
    assert not found
    assert len(list(package_dir.glob("*.py"))) >= 5


def test_bench_writes_csv_rows(tmp_path):
    from arena_kernels.bench import CSV_FIELDS, run_bench

    out = tmp_path / "bench.csv"
    rows = run_bench(shapes=[(3, 10)], dtypes=["float32"], repeats=1, device="cpu", out=out)
    run_bench(shapes=[(3, 10)], dtypes=["float32"], repeats=1, device="cpu", out=out)
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == list(CSV_FIELDS)
    assert len(lines) == 1 + 2 * len(rows)
    assert {r["backend"] for r in rows} == {"torch", "triton"}  # triton via the interpreter
    assert all(r["torch"] == torch.__version__ and r["timestamp_utc"] for r in rows)


@pytest.mark.parametrize("metric", ["cross_entropy", "token_cross_entropy", "bits_per_byte"])
def test_nll_metric_rows_matches_metric_rows(gen, metric):
    """Per-row values from given negative log-likelihoods (the engine's in-graph metric)
    follow metric_rows exactly: same ignore/mask handling, counts and units."""
    if metric == "cross_entropy":
        output = torch.randn(40, 10, generator=gen, dtype=torch.float64)
        target = torch.randint(0, 10, (40,), generator=gen)
        target[::7] = -100
        mask = (torch.rand(40, generator=gen) > 0.3).to(torch.uint8)
    else:
        output, target, mask = token_case(gen, 3, 9, 256)
        output = output.double()
    logp = torch.log_softmax(output, -1)
    nll = -logp.gather(-1, target.clamp(min=0)[..., None])[..., 0]
    nll[target == -100] = float("nan")  # never looked at: ignored rows count 0
    want = ak.metric_rows(metric, output, target, mask, backend="torch")
    got = ak.nll_metric_rows(metric, nll.numpy(), target.numpy(), mask.numpy())
    assert got.count == want.count and got.metric == metric
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12)
    assert (got.values[~(target.numpy() != -100).ravel()] == 0).all()


def test_nll_metric_rows_rejects_bad_inputs():
    nll, target = np.zeros((2, 3)), np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match="nll_metric_rows needs one of"):
        ak.nll_metric_rows("error_rate", nll, target)
    with pytest.raises(ValueError, match="target's shape"):
        ak.nll_metric_rows("bits_per_byte", nll[:, :2], target)
    with pytest.raises(ValueError, match="mask must have shape"):
        ak.nll_metric_rows("bits_per_byte", nll, target, mask=np.ones(2))
