"""Eval shards (deterministic npz, verification, spec checks), datasets, and the Merkle tree
(against OpenZeppelin's own test vector, an independent verifier, and snekmate on-chain)."""

from __future__ import annotations

import hashlib
import json
import math
import zipfile

import numpy as np
import pytest
from ape_arena.evaluation.merkle import EvalTree, PositionalTree, leaf, verify
from ape_arena.evaluation.shards import (
    ShardError,
    ShardFormatError,
    ShardHashError,
    ShardManifest,
    augment,
    build_shards,
    check_arrays,
    digits_eval_arrays,
    digits_split,
    iter_batches,
    lm_arrays,
    lm_eval_arrays,
    load_shard,
    shard_bytes,
    split_rows,
    stdlib_corpus,
    stdlib_files,
    verify_shard,
    write_shard,
)
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st


def digits_arrays(rows: int = 12, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "features": rng.random((rows, 64), dtype=np.float32),
        "target": rng.integers(0, 10, rows).astype(np.int64),
    }


def lm_small(rows: int = 3) -> dict:
    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (rows, 128)).astype(np.int64)
    target[-1, -5:] = -100
    return {"tokens": rng.integers(0, 256, (rows, 128)).astype(np.int64), "target": target}


# ---------------------------------------------------------------------------- npz bytes
def test_shard_bytes_are_deterministic_and_order_free():
    a = digits_arrays()
    reordered = {"target": a["target"].copy(), "features": a["features"].copy()}
    assert shard_bytes(a) == shard_bytes(reordered)
    assert shard_bytes(a) != shard_bytes(digits_arrays(seed=1))


def test_shard_file_has_fixed_zip_metadata(tmp_path):
    sha = write_shard(digits_arrays(), tmp_path / "s.npz")
    assert sha == hashlib.sha256((tmp_path / "s.npz").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "s.npz") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["features.npy", "target.npy"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temp file left


def test_shard_hash_does_not_depend_on_the_clock(tmp_path, monkeypatch):
    import time

    first = write_shard(digits_arrays(), tmp_path / "a.npz")
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    monkeypatch.setattr(time, "localtime", lambda *_: time.gmtime(2_000_000_000))
    assert write_shard(digits_arrays(), tmp_path / "b.npz") == first


def test_np_load_roundtrip_is_exact(tmp_path):
    arrays = lm_small()
    write_shard(arrays, tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        for key, arr in arrays.items():
            assert npz[key].dtype == arr.dtype
            np.testing.assert_array_equal(npz[key], arr)


def test_non_contiguous_input_gives_the_same_bytes():
    a = digits_arrays()
    strided = {"features": np.asfortranarray(a["features"]), "target": a["target"]}
    assert shard_bytes(strided) == shard_bytes(a)


def test_object_arrays_are_refused():
    with pytest.raises(ShardFormatError, match="object"):
        shard_bytes({"features": np.array([{"a": 1}], dtype=object)})


# ---------------------------------------------------------------------------- verify / load
def test_verify_shard_detects_a_flipped_byte(tmp_path):
    path = tmp_path / "s.npz"
    sha = write_shard(digits_arrays(), path)
    assert verify_shard(path, sha) == sha
    assert verify_shard(path, "0x" + sha.upper()) == sha
    assert verify_shard(path, bytes.fromhex(sha)) == sha
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ShardHashError, match="refusing to use it"):
        verify_shard(path, sha)


def test_load_shard_verifies_before_parsing(tmp_path, digits_spec):
    path = tmp_path / "s.npz"
    path.write_bytes(b"not even a zip")
    with pytest.raises(ShardHashError):
        load_shard(path, digits_spec, "00" * 32)


def test_load_shard_ok(tmp_path, digits_spec, lm_spec):
    sha = write_shard(digits_arrays(), tmp_path / "d.npz")
    arrays = load_shard(tmp_path / "d.npz", digits_spec, sha)
    assert arrays["features"].shape == (12, 64) and arrays["target"].dtype == np.int64
    write_shard(lm_small(), tmp_path / "lm.npz")
    assert load_shard(tmp_path / "lm.npz", lm_spec)["tokens"].shape == (3, 128)


def bad_digits(**changes) -> dict:
    arrays = digits_arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


@pytest.mark.parametrize(
    "arrays, needle",
    [
        (bad_digits(target=None), "the spec needs ['features', 'target']"),
        (bad_digits(extra=np.zeros(12)), "shard arrays are ['extra', 'features', 'target']"),
        (bad_digits(features=np.zeros((12, 64))), "dtype float64; input 'features' needs float32"),
        (bad_digits(features=np.zeros((12, 63), np.float32)), "dim 1 is 63"),
        (bad_digits(features=np.zeros((12, 8, 8), np.float32)), "rank 2"),
        (bad_digits(target=np.zeros(12, np.int32)), "needs int64"),
        (bad_digits(target=np.zeros((12, 1), np.int64)), "rank 1"),
        (bad_digits(target=np.full(12, 10, np.int64)), "outside [0, 10)"),
        (bad_digits(target=np.full(12, -100, np.int64)), "outside [0, 10)"),
        (bad_digits(target=np.zeros(11, np.int64)), "is 11 but another array has 12"),
        (
            bad_digits(features=np.full((12, 64), np.nan, np.float32)),
            "NaN or infinite",
        ),
        (
            {"features": np.zeros((0, 64), np.float32), "target": np.zeros(0, np.int64)},
            "no rows",
        ),
    ],
    ids=[
        "missing-target",
        "extra-array",
        "feature-dtype",
        "feature-dim",
        "feature-rank",
        "target-dtype",
        "target-rank",
        "label-too-big",
        "ignore-index-not-for-classes",
        "row-mismatch",
        "nan-features",
        "empty",
    ],
)
def test_load_shard_format_errors(arrays, needle, tmp_path, digits_spec):
    write_shard(arrays, tmp_path / "s.npz")
    with pytest.raises(ShardFormatError) as info:
        load_shard(tmp_path / "s.npz", digits_spec)
    assert needle in str(info.value)


def test_lm_targets_allow_ignore_index_only(lm_spec):
    arrays = lm_small()
    assert check_arrays(arrays, lm_spec) == 3
    arrays["target"][0, 0] = -5
    with pytest.raises(ShardFormatError, match="outside"):
        check_arrays(arrays, lm_spec)
    arrays = lm_small()
    arrays["target"][0, 0] = 256
    with pytest.raises(ShardFormatError, match="outside"):
        check_arrays(arrays, lm_spec)


def test_symbolic_dims_must_agree(make_spec):
    spec = make_spec(
        "bytes_lm",
        inputs=[
            {"name": "tokens", "dtype": "int64", "shape": ["batch", "seq"], "data_key": "tokens"}
        ],
        output={"name": "logits", "dtype": "float32", "shape": ["batch", "seq", 256]},
    )
    arrays = lm_small()
    assert check_arrays(arrays, spec) == 3
    arrays["target"] = arrays["target"][:, :64]
    with pytest.raises(ShardFormatError, match="'seq'"):
        check_arrays(arrays, spec)


def test_mask_checks(make_spec):
    spec = make_spec(data={"mask_key": "mask"})
    arrays = digits_arrays()
    arrays["mask"] = np.ones(12, bool)
    assert check_arrays(arrays, spec) == 12
    arrays["mask"] = np.ones(12, np.float32)
    with pytest.raises(ShardFormatError, match="bool/uint8"):
        check_arrays(arrays, spec)
    arrays["mask"] = np.ones((12, 2), np.uint8)
    with pytest.raises(ShardFormatError, match="shape"):
        check_arrays(arrays, spec)


def test_mse_targets_are_float32_and_finite(make_spec):
    spec = make_spec(metric="mse", output={"name": "y", "dtype": "float32", "shape": ["batch", 2]})
    arrays = {"features": np.zeros((4, 64), np.float32), "target": np.zeros((4, 2), np.float32)}
    assert check_arrays(arrays, spec) == 4
    arrays["target"][0, 0] = np.inf
    with pytest.raises(ShardFormatError, match="infinite"):
        check_arrays(arrays, spec)


def test_pickled_or_non_npz_files_are_refused(tmp_path, digits_spec):
    np.savez(tmp_path / "p.npz", features=np.array([object()], dtype=object), target=np.zeros(1))
    with pytest.raises(ShardFormatError, match="cannot be read"):
        load_shard(tmp_path / "p.npz", digits_spec)
    (tmp_path / "x.npz").write_bytes(b"plain text")
    with pytest.raises(ShardFormatError, match="not an npz"):
        load_shard(tmp_path / "x.npz", digits_spec)


def test_unpacked_size_cap(tmp_path, digits_spec):
    write_shard(digits_arrays(), tmp_path / "s.npz")
    with pytest.raises(ShardFormatError, match="unpacks to"):
        load_shard(tmp_path / "s.npz", digits_spec, max_bytes=1000)


# ---------------------------------------------------------------------------- per-round sets
def test_split_rows_is_a_seeded_partition():
    parts = split_rows(10, 3, seed=4)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert all((a == b).all() for a, b in zip(parts, split_rows(10, 3, seed=4), strict=True))
    with pytest.raises(ValueError):
        split_rows(2, 3, seed=0)


def test_build_shards_manifest_and_merkle(tmp_path, digits_spec):
    arrays = digits_arrays(rows=30)
    manifest = build_shards(arrays, 3, tmp_path / "out", spec=digits_spec, seed=5, first_round=1)
    assert [s.round for s in manifest.shards] == [1, 2, 3]
    assert sum(s.rows for s in manifest.shards) == 30
    seen = []
    for s in manifest.shards:
        part = load_shard(manifest.path(s.round), digits_spec, s.sha256)
        seen.extend(part["target"].tolist())
        assert manifest.tree.shard(s.round).hex() == s.sha256
        assert verify(
            manifest.tree.proof(s.round),
            manifest.tree.root,
            leaf(s.round, s.sha256),
            s.round,
            manifest.tree.num_rounds,
        )
    assert sorted(seen) == sorted(arrays["target"].tolist())
    again = ShardManifest.load(tmp_path / "out")
    assert again.shards == manifest.shards and again.tree.root == manifest.tree.root
    same = build_shards(arrays, 3, tmp_path / "again", seed=5, first_round=1)
    assert [s.sha256 for s in same.shards] == [s.sha256 for s in manifest.shards]


def test_a_task_with_fewer_rounds_commits_to_exactly_its_rounds(tmp_path, digits_spec):
    manifest = build_shards(digits_arrays(rows=40), 4, tmp_path / "out", spec=digits_spec)
    assert manifest.tree_for(4) is manifest.tree
    two = manifest.tree_for(2)
    assert two.num_rounds == 2 and two.root != manifest.tree.root
    for r in (0, 1):
        sha = manifest.shards[r].sha256
        assert two.shard(r).hex() == sha
        assert verify(two.proof(r), two.root, leaf(r, sha), r, 2)
    with pytest.raises(ShardError, match="a task of 5 rounds cannot use them"):
        manifest.tree_for(5)


def test_tampered_manifest_is_refused(tmp_path):
    build_shards(digits_arrays(), 2, tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["shards"][0]["sha256"] = "00" * 32
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ShardError, match="eval_root does not match"):
        ShardManifest.load(tmp_path)


def test_build_shards_checks_against_the_spec(tmp_path, lm_spec):
    with pytest.raises(ShardFormatError):
        build_shards(digits_arrays(), 2, tmp_path, spec=lm_spec)


def test_iter_batches_covers_all_rows():
    arrays = digits_arrays(rows=10)
    batches = list(iter_batches(arrays, 4))
    assert [len(b["target"]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b["target"] for b in batches]), arrays["target"])


# ---------------------------------------------------------------------------- digits data
def test_digits_split_is_stratified_and_disjoint():
    (xt, yt), (xe, ye) = digits_split(eval_fraction=0.3, seed=0)
    assert len(yt) + len(ye) == 1797 and xt.dtype == np.float32 and yt.dtype == np.int64
    assert 0.28 < len(ye) / 1797 < 0.32
    assert set(np.unique(ye)) == set(range(10))
    assert 0.0 <= xt.min() and xt.max() <= 1.0
    train_rows = {r.tobytes() for r in xt}
    assert sum(r.tobytes() in train_rows for r in xe) < 5  # (load_digits has few duplicates)


def test_augment_realistic_size_and_deterministic(digits_spec):
    arrays = digits_eval_arrays(rows=50_000, seed=7)
    assert arrays["features"].shape == (50_000, 64) and arrays["features"].dtype == np.float32
    assert check_arrays(arrays, digits_spec) == 50_000
    assert 0.0 <= arrays["features"].min() and arrays["features"].max() <= 1.0
    assert np.bincount(arrays["target"], minlength=10).min() > 4_000  # every class present
    again = digits_eval_arrays(rows=50_000, seed=7)
    assert shard_bytes(arrays) == shard_bytes(again)
    other = digits_eval_arrays(rows=50_000, seed=8)
    assert not np.array_equal(arrays["features"], other["features"])


def test_augment_without_noise_or_shift_keeps_the_image_shape():
    (x, y), _ = digits_split()
    out, labels = augment(x[:50], y[:50], rows=200, seed=1, max_shift=0.0, noise=0.0)
    # no shift, no noise: each row is contrast*x + brightness of some source image
    src = [np.flatnonzero(y[:50] == lab) for lab in labels]
    assert all(len(s) for s in src)
    corr = [max(np.corrcoef(out[i], x[j])[0, 1] for j in src[i]) for i in range(20)]
    assert min(corr) > 0.99
    with pytest.raises(ValueError):
        augment(x, y, rows=10, seed=0, max_shift=2.0)


# ---------------------------------------------------------------------------- byte LM data
def test_lm_arrays_next_byte_targets_and_padding():
    full = lm_arrays(b"abcdefg", seq=3)
    assert full["tokens"].tolist() == [[97, 98, 99], [100, 101, 102]]
    assert full["target"].tolist() == [[98, 99, 100], [101, 102, 103]]
    padded = lm_arrays(b"abcde", seq=3)
    assert padded["tokens"].tolist() == [[97, 98, 99], [100, 0, 0]]
    assert padded["target"].tolist() == [[98, 99, 100], [101, -100, -100]]


def test_stdlib_corpus_is_deterministic_and_split():
    eval_files, train_files = set(stdlib_files("eval")), set(stdlib_files("train"))
    assert eval_files and train_files and not eval_files & train_files
    assert eval_files | train_files == set(stdlib_files("all"))
    assert all("site-packages" not in p.parts for p in eval_files)
    data = stdlib_corpus(1_000_000)
    assert len(data) >= 1_000_000 and data == stdlib_corpus(1_000_000)
    assert data[:2000] != stdlib_corpus(1_000_000, part="train")[:2000]


def test_lm_eval_arrays_fit_the_spec(lm_spec):
    arrays = lm_eval_arrays(min_bytes=1_000_000, seq=128)
    n = check_arrays(arrays, lm_spec)
    assert n * 128 >= 1_000_000
    tokens, target = arrays["tokens"].ravel(), arrays["target"].ravel()
    real_next = target[1:] != -100  # position i+1 holds real text
    np.testing.assert_array_equal(tokens[1:][real_next], target[:-1][real_next])
    assert (target == -100).sum() < 128  # only the tail of the last window is padding


# ---------------------------------------------------------------------------- merkle
def k256(data: bytes) -> bytes:
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def independent_verify(
    proof: list[bytes], root: bytes, leaf_: bytes, index: int, size: int
) -> bool:
    """PROTOCOL.md §5's positional check, written from the text with pycryptodome."""
    depth = 0
    while (1 << depth) < size:
        depth += 1
    if len(proof) != depth or not 0 <= index < size:
        return False
    node = leaf_
    for level, sibling in enumerate(proof):
        node = k256(sibling + node) if (index >> level) & 1 else k256(node + sibling)
    return node == root


def independent_leaf(round_: int, shard: bytes) -> bytes:
    return k256(abi_encode(["uint256", "bytes32"], [round_, shard]))


def shard_hashes(n: int, salt: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"shard {salt} {i}".encode()).digest() for i in range(n)]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 70), first=st.integers(0, 5), salt=st.integers(0, 10**6))
def test_every_proof_verifies_both_ways(n, first, salt):
    shards = shard_hashes(n, salt)
    tree = EvalTree(shards, first_round=first)
    size = first + n
    assert list(tree.rounds) == list(range(first, size)) and tree.num_rounds == size
    for i, r in enumerate(tree.rounds):
        lf = independent_leaf(r, shards[i])
        assert tree.leaf(r) == lf == leaf(r, shards[i])
        proof = tree.proof(r)
        assert len(proof) == math.ceil(math.log2(size)) if size > 1 else proof == []
        assert verify(proof, tree.root, lf, r, size)
        assert independent_verify(proof, tree.root, lf, r, size)
        # another shard at this round, this leaf at another position, or a tampered proof
        # do not verify: the root binds exactly one shard per round
        wrong = leaf(r, shards[(i + 1) % n]) if n > 1 else leaf(r, bytes(32))
        assert not verify(proof, tree.root, wrong, r, size)
        assert not independent_verify(proof, tree.root, wrong, r, size)
        if size > 1:
            other = (r + 1) % size
            assert not verify(proof, tree.root, lf, other, size)
            assert not independent_verify(proof, tree.root, lf, other, size)
        if proof:
            bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]  # one bit flipped
            assert not verify(bad, tree.root, lf, r, size)
            assert not verify(proof[:-1], tree.root, lf, r, size)  # an inner node as leaf


def test_single_round_tree():
    shard = shard_hashes(1)[0]
    tree = EvalTree([shard])
    assert tree.root == leaf(0, shard) and tree.proof(0) == []


def test_rounds_before_first_round_hold_a_zero_leaf():
    tree = EvalTree(shard_hashes(3), first_round=2)
    assert tree.num_rounds == 5
    assert tree.root == PositionalTree([bytes(32), bytes(32), *tree.leaves]).root


def test_tree_errors():
    with pytest.raises(ValueError, match="at least one shard"):
        EvalTree([])
    with pytest.raises(ValueError, match="32 bytes"):
        EvalTree([b"short"])
    with pytest.raises(KeyError, match="round 3"):
        EvalTree(shard_hashes(3)).proof(3)
    with pytest.raises(IndexError, match="position 3"):
        PositionalTree([bytes(32)] * 3).proof(3)
    with pytest.raises(ValueError, match="at least one position"):
        PositionalTree([])


def test_tree_persistence(tmp_path):
    tree = EvalTree(shard_hashes(5), first_round=2)
    path = tree.write(tmp_path / "tree.json")
    again = EvalTree.load(path)
    assert again.root == tree.root and again.proof(4) == tree.proof(4)
    data = json.loads(path.read_text())
    data["root"] = "0x" + "11" * 32
    with pytest.raises(ValueError, match="root does not match"):
        EvalTree.from_dict(data)
    data["format"] = "arena-eval-merkle-v1"  # the sorted-pair tree of protocol v1
    with pytest.raises(ValueError, match="rebuild the shards"):
        EvalTree.from_dict(data)


VERIFIER = """
# pragma version ~=0.4.3
# PROTOCOL.md §5, written in Vyper apart from ArenaRounds: positional proof of one round.

@external
@pure
def verify(proof: DynArray[bytes32, 16], root: bytes32, leaf: bytes32, index: uint256) -> bool:
    h: bytes32 = leaf
    for i: uint256 in range(16):
        if i >= len(proof):
            break
        if (index >> i) & 1 == 1:
            h = keccak256(concat(proof[i], h))
        else:
            h = keccak256(concat(h, proof[i]))
    return h == root

@external
@pure
def leaf(round: uint256, shard_sha256: bytes32) -> bytes32:
    return keccak256(abi_encode(round, shard_sha256))
"""


@pytest.fixture(scope="module")
def vyper_verifier():
    boa = pytest.importorskip("boa")
    return boa.loads(VERIFIER)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_an_evm_verifier_accepts_our_proofs(vyper_verifier, n):
    shards = shard_hashes(n, salt=n)
    tree = EvalTree(shards)
    for r in tree.rounds:
        assert vyper_verifier.leaf(r, shards[r]) == tree.leaf(r)
        assert vyper_verifier.verify(tree.proof(r), tree.root, tree.leaf(r), r)
        other = leaf(r, shards[(r + 1) % n]) if n > 1 else leaf(r + 1, shards[r])
        assert not vyper_verifier.verify(tree.proof(r), tree.root, other, r)


def test_digits_eval_rows_come_from_the_eval_split_only(monkeypatch):
    import ape_arena.evaluation.shards as shards

    seen = {}
    real = shards.augment

    def spy(x, y, rows, seed, **kw):
        seen["x"], seen["seed"] = x, seed
        return real(x, y, rows, seed, **kw)

    monkeypatch.setattr(shards, "augment", spy)
    out = shards.digits_eval_arrays(rows=5, seed=11, split_seed=3)
    assert out["features"].shape == (5, 64) and seen["seed"] == 11
    (x_train, _), (x_eval, _) = digits_split(eval_fraction=0.3, seed=3)
    np.testing.assert_array_equal(seen["x"], x_eval)
    _, (x_eval_other, _) = digits_split(eval_fraction=0.3, seed=4)
    assert not np.array_equal(x_eval, x_eval_other)
