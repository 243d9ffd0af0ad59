"""squared_error_rows: Triton kernel (interpreter) and torch reference vs float64 math."""

import math

import arena_kernels as ak
import pytest
import torch
from arena_kernels.mse import squared_error_rows_triton

BACKENDS = ("triton", "torch", "cpu")
DTYPES = (torch.float32, torch.float16, torch.bfloat16)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Conversion of an array with ndim:DeprecationWarning"
)


def sse_tol(dtype: torch.dtype, n_elems: int) -> dict:
    """fp32 accumulation of n squared terms: relative error grows with the length."""
    base = {torch.float32: 1e-6, torch.float16: 2e-6, torch.bfloat16: 2e-6}[dtype]
    growth = 1.0 + math.log2(max(n_elems, 2)) + n_elems / 1024
    return {"rtol": base * growth, "atol": base * growth}


def f64_sse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    d = pred.to(torch.float64).reshape(pred.shape[0], -1) - target.to(torch.float64).reshape(
        pred.shape[0], -1
    )
    return (d * d).sum(dim=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("shape", [(1,), (7, 1), (33, 5, 3), (7, 1000), (3, 4097)], ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_float64(gen, backend, shape, dtype):
    pred = torch.randn(*shape, generator=gen).to(dtype)
    target = torch.randn(*shape, generator=gen).to(dtype)
    sse = ak.squared_error_rows(pred, target, backend=backend)
    assert sse.dtype == torch.float32 and sse.shape == (shape[0],)
    n_elems = math.prod(shape[1:])
    torch.testing.assert_close(sse.double(), f64_sse(pred, target), **sse_tol(dtype, n_elems))


@pytest.mark.parametrize(
    ("block_rows", "block_cols", "n_cols"), [(1, 4096, 333), (4, 16, 333), (16, 1, 37)], ids=str
)
def test_forced_tiles(gen, block_rows, block_cols, n_cols):
    pred = torch.randn(9, n_cols, generator=gen)
    target = torch.randn(9, n_cols, generator=gen)
    sse = squared_error_rows_triton(pred, target, block_rows=block_rows, block_cols=block_cols)
    torch.testing.assert_close(
        sse.double(), f64_sse(pred, target), **sse_tol(torch.float32, n_cols)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_and_layouts(gen, backend):
    pred = torch.randn(12, 1, generator=gen)
    target = pred[:, 0] + 0.5  # [N] vs [N, 1] is accepted
    torch.testing.assert_close(
        ak.squared_error_rows(pred, target, backend=backend), torch.full((12,), 0.25)
    )
    big = torch.randn(12, 40, generator=gen)
    strided_p, strided_t = big[:, ::2], big[:, 1::2]  # column stride 2
    torch.testing.assert_close(
        ak.squared_error_rows(strided_p, strided_t, backend=backend).double(),
        f64_sse(strided_p, strided_t),
        **sse_tol(torch.float32, 20),
    )
    mixed = ak.squared_error_rows(pred.half(), pred.double(), backend=backend)  # mixed dtypes
    assert mixed.shape == (12,)
    assert ak.squared_error_rows(torch.zeros(0, 3), torch.zeros(0, 3), backend=backend).shape == (
        0,
    )
    assert torch.equal(
        ak.squared_error_rows(torch.zeros(4, 0), torch.zeros(4, 0), backend=backend), torch.zeros(4)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_bytes(gen, backend):
    pred = torch.randn(33, 1000, generator=gen).half()
    target = torch.randn(33, 1000, generator=gen).half()
    a = ak.squared_error_rows(pred, target, backend=backend)
    b = ak.squared_error_rows(pred, target, backend=backend)
    assert a.numpy().tobytes() == b.numpy().tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs(backend):
    with pytest.raises(ValueError, match="same shape"):
        ak.squared_error_rows(torch.zeros(4, 3), torch.zeros(4, 2), backend=backend)
    with pytest.raises(ValueError, match="same shape"):
        ak.squared_error_rows(torch.zeros(4, 3), torch.zeros(3), backend=backend)
    with pytest.raises(ValueError, match="target must be float"):
        ak.squared_error_rows(torch.zeros(4), torch.zeros(4, dtype=torch.int64), backend=backend)
    with pytest.raises(ValueError, match="leading row dimension"):
        ak.squared_error_rows(torch.tensor(1.0), torch.tensor(1.0), backend=backend)
    with pytest.raises(ValueError, match="device"):
        ak.squared_error_rows(torch.zeros(4), torch.zeros(4, device="meta"), backend=backend)
