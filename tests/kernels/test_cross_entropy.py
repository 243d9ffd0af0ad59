"""cross_entropy_rows: Triton kernel (interpreter) and torch reference vs float64 math."""

import math

import arena_kernels as ak
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from arena_kernels._common import row_tile_config
from arena_kernels.cross_entropy import cross_entropy_rows_triton
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BACKENDS = ("triton", "torch", "cpu")
DTYPES = (torch.float32, torch.float16, torch.bfloat16)

# Triton 3.6's interpreter converts a runtime loop bound with a deprecated numpy call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Conversion of an array with ndim:DeprecationWarning"
)


def ce_tol(dtype: torch.dtype, n_cols: int) -> dict:
    """Per-dtype tolerance growing with the reduction length (FlagGems style).

    Both sides read identical input values (fp16/bf16 upcast exactly), so the gap is the
    kernel's fp32 arithmetic: rounding of m - t and log(s), a tree sum per chunk and a
    sequential sum over chunks. Low-precision inputs get a 2x margin for their wider range.
    """
    base = {torch.float32: 1e-6, torch.float16: 2e-6, torch.bfloat16: 2e-6}[dtype]
    growth = 1.0 + math.log2(max(n_cols, 2)) + n_cols / 4096
    return {"rtol": base * growth, "atol": base * growth}


def f64_reference(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100):
    """Independent float64 truth: torch's own cross-entropy and argmax on upcast logits."""
    x = logits.to(torch.float64)
    loss = F.cross_entropy(x, target, ignore_index=ignore_index, reduction="none")
    return loss, x.argmax(dim=1)


def make_case(gen, n_rows, n_cols, dtype, scale=3.0):
    logits = (torch.randn(n_rows, n_cols, generator=gen) * scale).to(dtype)
    target = torch.randint(0, n_cols, (n_rows,), generator=gen)
    return logits, target


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("shape", [(1, 2), (7, 10), (33, 1000), (7, 1), (5, 20000)], ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_float64(gen, backend, shape, dtype):
    logits, target = make_case(gen, *shape, dtype)
    loss, argmax = ak.cross_entropy_rows(logits, target, backend=backend)
    ref_loss, ref_arg = f64_reference(logits, target)
    assert loss.dtype == torch.float32 and loss.shape == (shape[0],)
    assert argmax.dtype == torch.int64 and argmax.shape == (shape[0],)
    torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(dtype, shape[1]))
    assert torch.equal(argmax, ref_arg)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_vocab_65536(gen, dtype):
    logits, target = make_case(gen, 3, 65536, dtype, scale=4.0)
    logits[1, 65535] = 40.0  # argmax in the last chunk
    ref_loss, ref_arg = f64_reference(logits, target)
    for backend in BACKENDS:
        loss, argmax = ak.cross_entropy_rows(logits, target, backend=backend)
        torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(dtype, 65536))
        assert torch.equal(argmax, ref_arg)
    assert int(argmax[1]) == 65535


@pytest.mark.parametrize(
    ("block_rows", "block_cols", "n_cols"),
    [(1, 4096, 1000), (4, 16, 301), (16, 1, 37), (2, 128, 1000)],
    ids=str,
)
def test_gpu_sized_and_many_chunk_tiles(gen, block_rows, block_cols, n_cols):
    """Force tiles (GPU-like, or tiny so the online rescaling runs over many chunks with a
    ragged last one) and check the kernel gives the same answer."""
    logits, target = make_case(gen, 9, n_cols, torch.float32, scale=5.0)
    loss, argmax = cross_entropy_rows_triton(
        logits, target, block_rows=block_rows, block_cols=block_cols
    )
    ref_loss, ref_arg = f64_reference(logits, target)
    torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(torch.float32, n_cols * 4))
    assert torch.equal(argmax, ref_arg)


def test_tile_heuristics():
    gpu = row_tile_config(100_000, 65536, interpreted=False)
    assert (gpu.block_rows, gpu.block_cols, gpu.grid) == (1, 4096, 100_000)
    small = row_tile_config(1000, 10, interpreted=False)
    assert (small.block_cols, small.block_rows, small.num_warps) == (16, 256, 8)
    interp = row_tile_config(33, 1000, interpreted=True)
    assert interp.grid == 1  # few, large program instances under the interpreter
    for interpreted in (False, True):  # the tile depends on the row length only
        for n_cols in (1, 10, 1000, 65536):
            a = row_tile_config(1, n_cols, interpreted)
            b = row_tile_config(123_457, n_cols, interpreted)
            assert (a.block_rows, a.block_cols, a.num_warps) == (
                b.block_rows,
                b.block_cols,
                b.num_warps,
            )
    with pytest.raises(ValueError, match="power of two"):
        row_tile_config(4, 4, interpreted=True, block_cols=3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_row_values_do_not_depend_on_batch(gen, backend):
    """A row's loss is bit-identical whether it is scored alone or inside a larger batch."""
    logits, target = make_case(gen, 33, 3000, torch.float32)
    full = ak.cross_entropy_rows(logits, target, backend=backend)
    for lo, hi in ((0, 1), (5, 12), (32, 33)):
        part = ak.cross_entropy_rows(logits[lo:hi], target[lo:hi], backend=backend)
        assert part[0].numpy().tobytes() == full[0][lo:hi].numpy().tobytes()
        assert torch.equal(part[1], full[1][lo:hi])


@pytest.mark.parametrize("backend", BACKENDS)
def test_ignore_index(gen, backend):
    logits, target = make_case(gen, 33, 10, torch.float32)
    target[::3] = -100
    loss, argmax = ak.cross_entropy_rows(logits, target, backend=backend)
    ref_loss, ref_arg = f64_reference(logits, target)
    assert torch.all(loss[::3] == 0)
    torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(torch.float32, 10))
    assert torch.equal(argmax, ref_arg)  # argmax is computed for ignored rows too

    custom = torch.where(target == -100, torch.full_like(target, -1), target)
    loss_m1, _ = ak.cross_entropy_rows(logits, custom, ignore_index=-1, backend=backend)
    assert torch.equal(loss_m1, loss)


@pytest.mark.parametrize("backend", BACKENDS)
def test_argmax_ties_pick_first_index(backend):
    logits = torch.zeros(4, 40)
    logits[1, [3, 17, 39]] = 2.0
    logits[2, [39, 38]] = 1.0
    logits[3, :] = -1.0
    target = torch.zeros(4, dtype=torch.int64)
    _, argmax = ak.cross_entropy_rows(logits, target, backend=backend)
    assert argmax.tolist() == [0, 3, 38, 0]
    if backend == "triton":  # ties across chunk boundaries (chunks of 8 columns)
        _, argmax = cross_entropy_rows_triton(logits, target, block_rows=2, block_cols=8)
        assert argmax.tolist() == [0, 3, 38, 0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_rows(backend):
    logits = torch.randn(5, 50, generator=torch.Generator().manual_seed(0))
    logits[0, 7] = float("nan")  # NaN -> loss NaN, argmax -1
    logits[1, :40] = float("-inf")  # leading chunks all -inf: still exact
    logits[2, 11] = float("nan")  # NaN but ignored -> loss 0
    logits[3, 5] = float("-inf")  # target logit -inf -> loss inf
    target = torch.tensor([1, 45, -100, 5, 2])
    if backend == "triton":
        loss, argmax = cross_entropy_rows_triton(logits, target, block_rows=8, block_cols=16)
    else:
        loss, argmax = ak.cross_entropy_rows(logits, target, backend=backend)
    assert math.isnan(loss[0]) and int(argmax[0]) == -1
    ref1, arg1 = f64_reference(logits[1:2], target[1:2])
    torch.testing.assert_close(loss[1:2].double(), ref1, **ce_tol(torch.float32, 50))
    assert int(argmax[1]) == int(arg1[0])
    assert float(loss[2]) == 0.0 and int(argmax[2]) == -1
    assert math.isinf(loss[3]) and loss[3] > 0
    assert math.isfinite(loss[4])


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_bytes(gen, backend):
    logits, target = make_case(gen, 33, 1000, torch.float16)
    a = ak.cross_entropy_rows(logits, target, backend=backend)
    b = ak.cross_entropy_rows(logits, target, backend=backend)
    assert a[0].numpy().tobytes() == b[0].numpy().tobytes()
    assert a[1].numpy().tobytes() == b[1].numpy().tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_and_numpy_inputs(gen, backend):
    base, target = make_case(gen, 20, 31, torch.float32)
    view = base.t().contiguous().t()  # column-major: row stride 1
    sliced = torch.randn(20, 64, generator=gen)[:, 5:36]  # row stride 64
    sliced.copy_(base)
    ref = ak.cross_entropy_rows(base, target, backend=backend)
    for x in (view, sliced, base.numpy()):
        got = ak.cross_entropy_rows(
            x, target if not isinstance(x, np.ndarray) else target.numpy(), backend=backend
        )
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_batch(backend):
    loss, argmax = ak.cross_entropy_rows(
        torch.zeros(0, 5), torch.zeros(0, dtype=torch.int64), backend=backend
    )
    assert loss.shape == (0,) and argmax.shape == (0,)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_rows=st.integers(1, 40),
    n_cols=st.integers(1, 200),
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from([0.01, 1.0, 30.0]),
    block_cols=st.sampled_from([None, 4, 32]),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_shapes_property(n_rows, n_cols, dtype, scale, block_cols, seed):
    g = torch.Generator().manual_seed(seed)
    logits, target = make_case(g, n_rows, n_cols, dtype, scale)
    target[torch.rand(n_rows, generator=g) < 0.2] = -100
    loss, argmax = cross_entropy_rows_triton(logits, target, block_cols=block_cols)
    ref_loss, ref_arg = f64_reference(logits, target)
    torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(dtype, n_cols * 4))
    assert torch.equal(argmax, ref_arg)
    r_loss, r_arg = ak.cross_entropy_rows(logits, target, backend="torch")
    torch.testing.assert_close(r_loss.double(), ref_loss, rtol=1e-7, atol=1e-7)
    assert torch.equal(r_arg, ref_arg)
