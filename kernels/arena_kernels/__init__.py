"""arena_kernels: deterministic metric kernels for the AIArena evaluation engine.

Triton kernels (CUDA, or CPU under ``TRITON_INTERPRET=1``), a fast numpy CPU path and
float64 torch references:

- :func:`cross_entropy_rows` -- fused online-softmax cross-entropy + argmax per row.
- :func:`squared_error_rows` -- per-row sum of squared errors.
- :func:`metric_total` / :func:`metric_rows` -- exact (``math.fsum``) metric totals.

See README.md in this folder for the metric table and the determinism rules.

``backend``: "triton", "cpu" (fast deterministic numpy path), "torch" (float64 reference)
or "auto" (triton on CUDA tensors, cpu otherwise).
This package imports neither onnx/onnxruntime nor ape.
"""

from .cross_entropy import cross_entropy_rows
from .metrics import (
    DEFAULT_IGNORE_INDEX,
    METRICS,
    NLL_METRICS,
    MetricRows,
    exact_total,
    metric_rows,
    metric_total,
    nll_metric_rows,
)
from .mse import squared_error_rows

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_IGNORE_INDEX",
    "METRICS",
    "NLL_METRICS",
    "MetricRows",
    "cross_entropy_rows",
    "exact_total",
    "metric_rows",
    "metric_total",
    "nll_metric_rows",
    "squared_error_rows",
]
