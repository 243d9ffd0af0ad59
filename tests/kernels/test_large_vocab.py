"""The cross-entropy kernel at today's largest LLM vocabularies (Qwen 151,936, Gemma 3
262,144), its loss-only variant and its in-kernel count of non-finite logits, under the
Triton interpreter (tests/conftest.py sets it), with interpreter-sized and GPU-sized tiles."""

from __future__ import annotations

import math

import pytest
import torch
from arena_kernels._common import row_tile_config
from arena_kernels.cross_entropy import cross_entropy_rows_triton

from tests.kernels.test_cross_entropy import ce_tol, f64_reference, make_case

pytestmark = [
    pytest.mark.filterwarnings("ignore:Conversion of an array with ndim:DeprecationWarning"),
    # the interpreter's numpy meets inf - inf in the lanes of a +inf logit (by design)
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]

VOCABS = (151_936, 262_144)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("n_cols", VOCABS)
def test_largest_vocabularies_match_float64(gen, n_cols, dtype):
    logits, target = make_case(gen, 3, n_cols, dtype, scale=4.0)
    logits[0, n_cols - 1] = 40.0  # the maximum in the last (ragged for 151,936) chunk
    logits[2, 0] = 40.0  # and in the first
    ref_loss, ref_arg = f64_reference(logits, target)
    for tiles in ({}, {"block_rows": 1, "block_cols": 8192}):  # interpreter / GPU tiles
        loss, argmax = cross_entropy_rows_triton(logits, target, **tiles)
        torch.testing.assert_close(loss.double(), ref_loss, **ce_tol(dtype, n_cols))
        assert torch.equal(argmax, ref_arg) and int(argmax[0]) == n_cols - 1
        assert int(argmax[2]) == 0


def test_gpu_tiles_grow_past_65536_columns_and_depend_on_the_row_length_only():
    for n_cols in VOCABS:
        cfg = row_tile_config(1, n_cols, interpreted=False)
        assert (cfg.block_rows, cfg.block_cols) == (1, 8192)
        big = row_tile_config(4096, n_cols, interpreted=False)
        assert (big.block_rows, big.block_cols, big.num_warps) == (1, 8192, cfg.num_warps)
    assert row_tile_config(1, 65536, interpreted=False).block_cols == 4096


def test_bits_identical_across_runs_and_batchings(gen):
    """Per-lane accumulators reduced once after the loop: a row's bits depend on its values
    only, not on the run or on the rows batched with it."""
    logits, target = make_case(gen, 5, 151_936, torch.float16, scale=3.0)
    tiles = {"block_rows": 1, "block_cols": 8192}
    runs = [cross_entropy_rows_triton(logits, target, **tiles) for _ in range(3)]
    for loss, arg in runs[1:]:
        assert torch.equal(loss.view(torch.int32), runs[0][0].view(torch.int32))
        assert torch.equal(arg, runs[0][1])
    for i in (0, 3, 4):
        alone, _ = cross_entropy_rows_triton(logits[i : i + 1], target[i : i + 1], **tiles)
        assert alone.view(torch.int32)[0] == runs[0][0].view(torch.int32)[i]
    pair, _ = cross_entropy_rows_triton(logits[3:5], target[3:5], **tiles)
    assert torch.equal(pair.view(torch.int32), runs[0][0][3:5].view(torch.int32))


@pytest.mark.parametrize("tiles", [{}, {"block_rows": 2, "block_cols": 64}], ids=["interp", "gpu"])
def test_loss_only_variant_gives_the_same_loss_bits_and_no_argmax(gen, tiles):
    logits, target = make_case(gen, 6, 1000, torch.float32, scale=5.0)
    with_arg, arg = cross_entropy_rows_triton(logits, target, **tiles)
    loss_only, none = cross_entropy_rows_triton(logits, target, argmax=False, **tiles)
    assert torch.equal(loss_only.view(torch.int32), with_arg.view(torch.int32))
    assert torch.equal(none, torch.full_like(arg, -1))
    assert torch.equal(arg, f64_reference(logits, target)[1])


@pytest.mark.parametrize("tiles", [{}, {"block_rows": 4, "block_cols": 16}], ids=["interp", "gpu"])
def test_non_finite_logits_are_counted_in_the_same_pass(tiles):
    """The engine's finiteness check comes from the kernel: each row's count of NaN and
    +-inf logits; columns past the row's end (a ragged last chunk) never count."""
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(1))
    logits[0, 7] = float("nan")
    logits[1, :3] = float("-inf")
    logits[2, 49] = float("inf")
    logits[3, 0] = float("nan")
    logits[3, 1] = float("inf")
    logits[3, 2] = float("-inf")
    target = torch.tensor([1, 45, 3, -100, 2, 0])
    loss, argmax, bad = cross_entropy_rows_triton(logits, target, count_nonfinite=True, **tiles)
    assert bad.dtype == torch.int32
    assert bad.tolist() == [1, 3, 1, 3, 0, 0]
    assert math.isnan(loss[0]) and int(argmax[0]) == -1  # NaN row
    assert math.isnan(loss[2]) and int(argmax[2]) == 49  # +inf: NaN loss, argmax its index
    assert float(loss[3]) == 0.0 and int(argmax[3]) == -1  # ignored row with a NaN
    ref, ref_arg = f64_reference(logits[[1, 4, 5]], target[[1, 4, 5]])
    torch.testing.assert_close(loss[[1, 4, 5]].double(), ref, **ce_tol(torch.float32, 50))
    assert torch.equal(argmax[[1, 4, 5]], ref_arg)
    # a clean batch counts nothing
    _, _, none = cross_entropy_rows_triton(logits[4:], target[4:], count_nonfinite=True, **tiles)
    assert none.tolist() == [0, 0]


@pytest.mark.parametrize(
    "metric", ["cross_entropy", "error_rate", "token_cross_entropy", "bits_per_byte", "mse"]
)
def test_metric_rows_checked_counts_every_non_finite_output_value(gen, metric):
    """What the engine's CUDA path uses instead of a separate isfinite pass: the same rows
    as ``metric_rows`` and the count of NaN/inf values anywhere in the output, masked or
    ignored positions included (a model's whole output must be finite, as on the CPU)."""
    from arena_kernels.metrics import metric_rows, metric_rows_checked

    if metric in ("cross_entropy", "error_rate"):
        out, tgt = make_case(gen, 9, 10, torch.float32)
        mask = torch.ones(9, dtype=torch.bool)
        mask[4] = False
        spots = [(2, 3), (4, 0)]  # the second sits in a masked row
    elif metric == "mse":
        out, tgt = torch.randn(9, 3, generator=gen), torch.randn(9, 3, generator=gen)
        mask = None
        spots = [(1, 2), (5, 0)]
    else:
        vocab = 256 if metric == "bits_per_byte" else 40
        out = torch.randn(3, 5, vocab, generator=gen)
        tgt = torch.randint(0, vocab, (3, 5), generator=gen)
        tgt[0, 0] = -100
        mask = torch.ones(3, 5, dtype=torch.bool)
        mask[2, 4] = False
        spots = [(0, 0, 1), (2, 4, 7)]  # an ignored and a masked position
    clean_rows, clean_bad = metric_rows_checked(metric, out, tgt, mask, backend="triton")
    ref = metric_rows(metric, out, tgt, mask, backend="triton")
    assert clean_bad == 0 and clean_rows.count == ref.count
    assert (clean_rows.values == ref.values).all()
    bad_out = out.clone()
    bad_out[spots[0]] = float("nan")
    bad_out[spots[1]] = float("inf")
    _, n = metric_rows_checked(metric, bad_out, tgt, mask, backend="triton")
    assert n == 2
    _, n_cpu = metric_rows_checked(metric, bad_out, tgt, mask, backend="cpu")
    assert n_cpu == 2
