"""How safe committees of size K are: the capture table of DESIGN §3.4, recomputed with the
sortition rule of ``protocol.sortition`` (membership with probability ``p_j = min(1,
K·eff_j/W)``, vote weight ``eff_j/p_j``), by Monte Carlo over independent committees.

An attacker holds a share ``f`` of all validator stake, as one identity or split evenly over
``sybils`` identities; honest stakes are lognormal. A committee is *captured* when the
attacker's vote weight on it is a strict majority of the committee's weight. The hash of
the contract is modelled as a uniform draw (``tests/plugin/protocol/test_sortition.py``
checks the keccak rule against that model), which makes the table fast enough to print.

Example::

    rows = capture_table(validators=1051, shares=(0.1, 0.2, 0.33), sizes=(16, 32, 64))
    for r in rows: print(r["share"], r["K"], r["one_identity"], r["sybils"])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def honest_stakes(validators: int, rng: np.random.Generator, sigma: float = 1.0) -> np.ndarray:
    """``validators`` lognormal stakes (median 1)."""
    return rng.lognormal(mean=0.0, sigma=sigma, size=validators)


def probabilities_and_weights(
    stakes: np.ndarray, size: int, rule: str = "inverse"
) -> tuple[np.ndarray, np.ndarray]:
    """``(p_j, weight_j)`` for every validator: ``p = min(1, K·eff/W)``; the weight is
    ``eff/p`` (``rule="inverse"``, the protocol's) or ``eff`` (``rule="stake"``, the
    double-counting rule DESIGN §3.4 rejects)."""
    total = float(stakes.sum())
    p = np.minimum(1.0, size * stakes / total)
    if rule == "inverse":
        w = np.where(size * stakes >= total, stakes, total / size)
    elif rule == "stake":
        w = stakes.astype(float)
    else:
        raise ValueError(f"rule must be 'inverse' or 'stake', got {rule!r}")
    return p, w


def capture_probability(
    share: float,
    size: int,
    *,
    validators: int = 1051,
    sybils: int = 1,
    committees: int = 20_000,
    rule: str = "inverse",
    seed: int = 0,
    chunk: int = 2_000,
) -> float:
    """The fraction of ``committees`` sampled committees in which an attacker with stake
    share ``share`` (split over ``sybils`` identities) holds a strict majority of the vote
    weight."""
    if not 0 < share < 1:
        raise ValueError(f"share must lie in (0, 1), got {share}")
    rng = np.random.default_rng(seed)
    honest = honest_stakes(validators, rng)
    attacker_total = share / (1 - share) * honest.sum()
    stakes = np.concatenate([honest, np.full(sybils, attacker_total / sybils)])
    p, w = probabilities_and_weights(stakes, size, rule)
    is_attacker = np.zeros(len(stakes), bool)
    is_attacker[validators:] = True
    captured = 0
    done = 0
    while done < committees:
        n = min(chunk, committees - done)
        member = rng.random((n, len(stakes))) < p
        weight = member * w
        a = weight[:, is_attacker].sum(axis=1)
        h = weight[:, ~is_attacker].sum(axis=1)
        captured += int(np.count_nonzero(a > h))
        done += n
    return captured / committees


def committee_sizes(
    size: int, *, validators: int = 1051, committees: int = 20_000, seed: int = 0
) -> np.ndarray:
    """Sampled committee sizes (members per submission) for lognormal stakes."""
    rng = np.random.default_rng(seed)
    p, _ = probabilities_and_weights(honest_stakes(validators, rng), size)
    return (rng.random((committees, validators)) < p).sum(axis=1)


def capture_table(
    *,
    validators: int = 1051,
    shares: Sequence[float] = (0.10, 0.20, 0.33),
    sizes: Sequence[int] = (16, 32, 64),
    sybils: int = 200,
    committees: int = 20_000,
    seed: int = 0,
) -> list[dict]:
    """One row per (share, K): the capture probability as one identity and as ``sybils``
    identities under the protocol's weights, and as one identity under stake weights."""
    rows = []
    for f in shares:
        for k in sizes:
            kw = dict(validators=validators, committees=committees, seed=seed)
            rows.append(
                {
                    "share": f,
                    "K": k,
                    "one_identity": capture_probability(f, k, sybils=1, **kw),
                    "sybils": capture_probability(f, k, sybils=sybils, **kw),
                    "stake_weighted": capture_probability(f, k, sybils=1, rule="stake", **kw),
                    "committees": committees,
                }
            )
    return rows
