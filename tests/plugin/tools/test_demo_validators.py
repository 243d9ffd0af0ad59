"""The demo's pieces that run without a chain: the non-IID split and the dishonest validators."""

from __future__ import annotations

import numpy as np
import pytest
from ape_arena.protocol import Phase
from ape_arena.tools.demo import Demo, RandomScoresValidator, SilentValidator

from tests.plugin.roles.test_validator import Acct, FakeArena, FakeStore


def test_non_iid_split_is_a_partition_with_skewed_classes(tmp_path):
    from ape_arena.evaluation.shards import digits_split

    (_, y), _ = digits_split(eval_fraction=0.3, seed=7)
    parts = Demo(workdir=tmp_path, seed=7)._non_iid(y, 4)
    joined = np.concatenate(parts)
    assert len(joined) == len(y) and len(np.unique(joined)) == len(y)  # disjoint, complete
    counts = np.stack([np.bincount(y[p], minlength=10) for p in parts])
    assert (counts > 0).all()  # every node sees every class a little
    share = counts / counts.sum(axis=0)
    assert share.max() > 0.5  # and some node holds most of some class (non-IID)
    again = Demo(workdir=tmp_path, seed=7)._non_iid(y, 4)
    assert all((a == b).all() for a, b in zip(parts, again, strict=True))  # seeded


@pytest.fixture
def fake(tmp_path):
    arena = FakeArena()

    def make(cls, **kw):
        return cls(
            arena, 1, Acct(), state_dir=tmp_path / "state", store=FakeStore(tmp_path / "store"),
            log=lambda _m: None, sleep=lambda _s: None, **kw,
        )  # fmt: skip

    return arena, make


def test_random_scores_validator_commits_and_reveals_random_scores(fake):
    arena, make = fake
    v = make(RandomScoresValidator, seed=3)
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    arena.at(0, Phase.SCORE_REVEAL)
    v.step()
    scores = arena.vr(0).scores
    assert arena.vr(0).revealed and len(scores) == 3 and len(set(scores)) == 3
    assert all(5 * 10**7 <= s < 5 * 10**9 for s in scores)


def test_silent_validator_commits_and_never_reveals(fake, monkeypatch):
    arena, make = fake
    v = make(SilentValidator)
    monkeypatch.setattr(
        v, "compute_scores", lambda *a: RandomScoresValidator.compute_scores(v, *a), raising=False
    )
    v.rng = __import__("random").Random(0)
    arena.at(0, Phase.SCORE_COMMIT)
    v.step()
    arena.at(0, Phase.SCORE_REVEAL, offset=90)
    v.step()
    assert arena.vr(0).committed and not arena.vr(0).revealed
