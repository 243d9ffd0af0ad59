"""The fast numpy CPU path: bit-identical across batchings and thread settings, and within
float32 resolution of the float64 torch reference (its exponentials are float32 for
float32/float16 logits: every row within 3e-7 nats; float64 logits stay float64)."""

import arena_kernels as ak
import numpy as np
import pytest
import torch
from arena_kernels.cross_entropy import cross_entropy_rows_cpu, cross_entropy_rows_reference
from arena_kernels.mse import squared_error_rows_cpu, squared_error_rows_reference


def _logits(seed: int, n_rows: int, n_cols: int, dtype=torch.float32, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n_rows, n_cols, generator=g) * scale).to(dtype)
    target = torch.randint(0, n_cols, (n_rows,), generator=g)
    target[torch.rand(n_rows, generator=g) < 0.1] = -100
    return logits, target


def _batched(fn, x, target, cuts):
    parts = [fn(x[a:b], target[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return tuple(torch.cat([p[i] for p in parts]) for i in range(len(parts[0])))


@pytest.mark.parametrize("n_cols", [1, 3, 10, 256, 320, 1000, 65_536, 70_000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64], ids=str)
def test_cross_entropy_cpu_bit_identical_across_batchings_and_threads(n_cols, dtype):
    n_rows = 1500 if n_cols <= 1000 else 9  # 256, 320, 65,536: torch's exp; others numpy's
    logits, target = _logits(n_cols, n_rows, n_cols, dtype)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        whole = cross_entropy_rows_cpu(logits, target)
        torch.set_num_threads(max(2, before))
        cuts = [0, 1, 2, 7, n_rows // 3, n_rows - 1, n_rows]
        cuts = sorted(set(min(c, n_rows) for c in cuts))
        parts = _batched(cross_entropy_rows_cpu, logits, target, cuts)
        again = cross_entropy_rows_cpu(logits.clone(), target.clone())
    finally:
        torch.set_num_threads(before)
    for got in (parts, again):
        assert got[0].numpy().tobytes() == whole[0].numpy().tobytes()
        assert torch.equal(got[1], whole[1])
    ref_loss, ref_arg = cross_entropy_rows_reference(logits, target)
    assert torch.equal(whole[1], ref_arg)
    if dtype == torch.float64:  # float64 throughout: only the summation order differs
        torch.testing.assert_close(whole[0], ref_loss, rtol=1e-12, atol=1e-12)
    else:  # float32 exponentials, float64 sums and logs
        torch.testing.assert_close(whole[0], ref_loss, rtol=0, atol=3e-7)
        assert (whole[0] - ref_loss).abs().max() > 0  # it really is the float32 path


@pytest.mark.parametrize("shift", [-1e30, -200.0, -80.0, 0.0, 80.0, 200.0, 1e6, 1e30])
def test_cross_entropy_cpu_far_from_zero_falls_back_to_the_shifted_form(shift):
    """Rows whose exp() would overflow (logits > ~88) or underflow (all < ~-69) in float32
    are recomputed as (max - x[target]) + log(sum(exp(x - max))): same accuracy at any
    offset, also where max + log(...) would round the log away (1e30)."""
    logits, target = _logits(7, 300, 256)
    logits[::3] += shift  # every third row shifted, the others not
    loss, best = cross_entropy_rows_cpu(logits, target)
    ref_loss, ref_best = cross_entropy_rows_reference(logits, target)
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=3e-7)
    assert torch.equal(best, ref_best)


def test_cross_entropy_cpu_non_finite_rows_as_the_reference():
    inf, nan = float("inf"), float("nan")
    logits = torch.tensor(
        [[nan, 1.0], [inf, 1.0], [-inf, 1.0], [-inf, -inf], [1.0, -inf], [100.0, 1.0]]
    )
    target = torch.tensor([1, 1, 1, 0, 1, 1])
    loss, best = cross_entropy_rows_cpu(logits, target)
    ref_loss, ref_best = cross_entropy_rows_reference(logits, target)
    assert torch.equal(best, ref_best)
    assert torch.equal(torch.isnan(loss), torch.isnan(ref_loss))
    assert torch.equal(torch.isinf(loss), torch.isinf(ref_loss))
    finite = torch.isfinite(ref_loss)
    torch.testing.assert_close(loss[finite], ref_loss[finite], rtol=0, atol=3e-7)


def test_bits_per_byte_cpu_rows_bit_identical_across_batchings():
    g = torch.Generator().manual_seed(3)
    out = torch.randn(12, 128, 256, generator=g) * 3
    target = torch.randint(0, 256, (12, 128), generator=g)
    target[:, :5] = -100
    whole = ak.metric_rows("bits_per_byte", out, target, backend="cpu")
    parts = [
        ak.metric_rows("bits_per_byte", out[a:b], target[a:b], backend="cpu")
        for a, b in ((0, 1), (1, 5), (5, 12))
    ]
    joined = np.concatenate([p.values for p in parts])
    assert joined.tobytes() == whole.values.tobytes()
    ref = ak.metric_total("bits_per_byte", out, target, backend="torch")
    assert whole.count == ref[1]
    # float32 exponentials: each byte within 3e-7 nats = 4.4e-7 bits of float64
    assert whole.total == pytest.approx(ref[0], rel=0, abs=4.4e-7 * whole.count)


def test_mse_cpu_bit_identical_and_matches_reference():
    g = torch.Generator().manual_seed(5)
    pred, target = torch.randn(999, 37, generator=g), torch.randn(999, 37, generator=g)
    whole = squared_error_rows_cpu(pred, target)
    parts = torch.cat(
        [squared_error_rows_cpu(pred[a:b], target[a:b]) for a, b in ((0, 1), (1, 500), (500, 999))]
    )
    assert parts.numpy().tobytes() == whole.numpy().tobytes()
    torch.testing.assert_close(
        whole, squared_error_rows_reference(pred, target), rtol=1e-13, atol=0
    )


def test_auto_on_cpu_is_the_cpu_path():
    logits, target = _logits(1, 64, 10)
    rows = ak.metric_rows("cross_entropy", logits, target)
    assert rows.backend == "cpu"
    assert rows.values.tobytes() == cross_entropy_rows_cpu(logits, target)[0].numpy().tobytes()
