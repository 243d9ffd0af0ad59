"""What a round of scoring gives back: one ``ScoreResult`` per model, ``EngineEvent``s while
it runs, and the fixed-point rule that turns a loss into the ``uint64`` a validator commits.

``score = round_half_up(total / count * 1e9)``, computed exactly with ``fractions.Fraction``
from the float64 total (an exact ``math.fsum`` over every per-row value) and the integer
count, clamped to ``[0, 2**64 - 3]``. ``2**64 - 1`` is INVALID and ``2**64 - 2`` the
protocol's UNAVAILABLE (a validator could not fetch the model), so no valid score is either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

SCALE = 10**9
"""Fixed-point scale of a score: score = mean loss x 1e9."""
INVALID_SCORE = 2**64 - 1
"""The uint64 score of a model that could not be scored."""
MAX_VALID_SCORE = INVALID_SCORE - 2
"""Largest valid score: ``2**64 - 2`` is the protocol's UNAVAILABLE."""

# Engine-side reason codes (the worker's are in worker.py, static ones in checks.py).
FETCH_FAILED = "fetch_failed"


@dataclass(frozen=True)
class ScoreResult:
    """One model's result. ``score`` is the uint64 the validator commits on-chain."""

    sha256: str
    score: int
    status: Literal["ok", "invalid"]
    reason: str = ""
    seconds: float = 0.0
    code: str = ""
    """Machine-readable reason code ('' when ok)."""
    total: float | None = None
    """Exact float64 loss total (``None`` when INVALID)."""
    count: int = 0
    """Denominator of the mean (rows or kept tokens)."""
    infer_seconds: float = 0.0
    """Time the worker spent in onnxruntime for this model."""
    metric_seconds: float = 0.0
    """Time the worker spent in the metric (overlaps inference when pipelined; with the
    metric fused into the graph, only the host's share: the log-softmax counts as inference)."""
    path: str = ""
    """How it was scored: "cpu", "cpu-fused" (metric inside the graph, fused.py) or "cuda"."""
    probe_gap: float = 0.0
    """The row-independence probe's largest gap between a row's loss in its batch and
    elsewhere, as a fraction of the allowed gap (worker.PROBE_*): > 1 is ``batch_dependent``."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def mean_loss(self) -> float | None:
        return None if self.total is None or not self.count else self.total / self.count

    def score_bytes(self) -> bytes:
        """The score as 8 big-endian bytes (how it is ABI-encoded as uint64)."""
        return self.score.to_bytes(8, "big")


@dataclass(frozen=True)
class EngineEvent:
    """Progress report: ``kind`` is "start" (model sent to the worker), "result", or
    "worker" (a worker was started; ``pid`` set)."""

    kind: Literal["start", "result", "worker"]
    index: int = -1
    total: int = 0
    sha256: str = ""
    attempt: int = 1
    pid: int | None = None
    result: ScoreResult | None = None


def score_from_total(total: float, count: int) -> int:
    """Fixed-point score of a loss: ``floor(total / count * 10**9 + 1/2)``, exactly.

    The float64 ``total`` is converted to an exact rational, so no float rounding happens
    here; ties round up. Clamped to ``[0, 2**64 - 3]`` (a tiny negative total from a loss
    that is mathematically >= 0 scores 0; ``2**64 - 1`` stays reserved for INVALID and
    ``2**64 - 2`` for UNAVAILABLE).

    Raises:
        ValueError: non-finite total or count <= 0.
    """
    if not math.isfinite(total):
        raise ValueError(f"loss total {total!r} is not finite")
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    exact = Fraction(total) * SCALE / count
    score = math.floor(exact + Fraction(1, 2))
    return min(max(score, 0), MAX_VALID_SCORE)


def invalid(sha: str, code: str, reason: str, seconds: float = 0.0) -> ScoreResult:
    """An INVALID result with its reason code and human reason."""
    return ScoreResult(sha, INVALID_SCORE, "invalid", reason, seconds, code)


def from_reply(sha: str, reply: dict[str, Any], check_seconds: float) -> ScoreResult:
    """A worker's ``result`` message (plus the static checks' time) -> ``ScoreResult``."""
    seconds = check_seconds + float(reply.get("seconds", 0.0))
    if reply.get("status") != "ok":
        return invalid(sha, str(reply.get("code", "invalid")), str(reply.get("reason")), seconds)
    total = float.fromhex(reply["total"])
    count = int(reply["count"])
    try:
        score = score_from_total(total, count)
    except ValueError as exc:
        return invalid(sha, "non_finite", str(exc), seconds)
    return ScoreResult(
        sha,
        score,
        "ok",
        "",
        seconds,
        "",
        total,
        count,
        float(reply.get("infer_seconds", 0.0)),
        float(reply.get("metric_seconds", 0.0)),
        str(reply.get("path", "")),
        float(reply.get("probe_gap", 0.0)),
    )


class progress_bar:
    """Context manager yielding ``advance(result)``; a rich bar on stderr when enabled."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and total > 0
        self.total = total
        self._bar = None

    def __enter__(self) -> Callable[[ScoreResult], None]:
        if not self.enabled:
            return lambda result: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.__enter__()
        task = self._bar.add_task("scoring", total=self.total)
        bar = self._bar

        def advance(result: ScoreResult) -> None:
            tag = "ok" if result.ok else f"INVALID ({result.code})"
            bar.update(task, advance=1, description=f"scoring {result.sha256[:10]} {tag}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
