"""Whole causal LMs with their weights in one external-data file (``evaluation/external.py``),
the form a model over ONNX's 2 GiB limit must take: the export helper writes and seals it,
the engine scores it exactly as the same model in one file, from its own folder only (by
sha256 in a store, by the bare name beside a node's export), and every broken form is
INVALID with its reason while the round goes on."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import onnx
import pytest
from ape_arena.evaluation.adapter import check_submission
from ape_arena.evaluation.chat import ChatTemplate, chat_arrays
from ape_arena.evaluation.checks import CheckError, check_model
from ape_arena.evaluation.engine import Engine
from ape_arena.evaluation.external import (
    SHA256_KEY,
    URI_KEY,
    ExternalDataError,
    data_uri,
    declared,
    seal,
)
from ape_arena.evaluation.hf import export_causal_lm
from ape_arena.evaluation.shards import write_shard
from ape_arena.evaluation.store import ArtifactStore, serve

from tests.plugin.evaluation.test_chat_engine import CONTEXT, chat_spec, dialogues
from tests.plugin.evaluation.test_chat_engine import tokenizer as tokenizer  # noqa: F401, PLC0414
from tests.plugin.evaluation.test_hf_lora import tiny

T = ChatTemplate()


@pytest.fixture(scope="module")
def lm(tmp_path_factory, tokenizer):  # noqa: F811
    """One Llama-style model exported twice: in one file and with external data."""
    tok, tok_sha = tokenizer
    spec = chat_spec(tok_sha, tok.get_vocab_size(), "bits_per_byte")
    root = tmp_path_factory.mktemp("lm")
    model = tiny("llama", tok.get_vocab_size())
    one = root / "one" / "model.onnx"
    ext = root / "ext" / "model.onnx"
    one.parent.mkdir()
    ext.parent.mkdir()
    one_sha, _ = export_causal_lm(model, spec, one, external_data=False)
    ext_sha, _ = export_causal_lm(model, spec, ext, external_data=True)
    shard = root / "shard.npz"
    shard_sha = write_shard(chat_arrays(dialogues(24, 3), tok, T, CONTEXT), shard)
    return spec, (one, one_sha), (ext, ext_sha), (shard, shard_sha)


def _engine(spec, shard):
    return Engine(spec, shard[0], shard[1], workers=1, threads=1, device="cpu", progress=False)


def _variant(folder: Path, model: onnx.ModelProto, data: bytes, name: str = "model.onnx.data"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    raw = model.SerializeToString()
    path.write_bytes(raw)
    (folder / name).write_bytes(data)
    return str(path), hashlib.sha256(raw).hexdigest()


def _proto(path: Path) -> onnx.ModelProto:
    return onnx.load_model(str(path), load_external_data=False)


def _set_meta(model: onnx.ModelProto, **kv: str) -> None:
    props = {p.key: p.value for p in model.metadata_props}
    props.update(kv)
    onnx.helper.set_model_props(model, props)


def _relocate(model: onnx.ModelProto, location: str) -> None:
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location


def test_the_export_seals_one_data_file_and_scores_as_the_single_file(lm, tmp_path):
    spec, (one, one_sha), (ext, ext_sha), shard = lm
    data = ext.parent / "model.onnx.data"
    # every weight tensor moved out: the model file shrank by (about) the data's size
    assert data.is_file() and ext.stat().st_size < one.stat().st_size - data.stat().st_size // 2
    meta = {p.key: p.value for p in _proto(ext).metadata_props}
    assert meta[SHA256_KEY] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert meta["arena.tokenizer_sha256"] == spec.chat.tokenizer_sha256  # stamped by the helper
    info = check_model(ext, spec, ext_sha)
    assert info.external is not None and info.external.location == "model.onnx.data"
    assert info.num_params == check_model(one, spec, one_sha).num_params

    # in a store: both files named by their sha256, the location name nowhere
    store = ArtifactStore(tmp_path / "store")
    store.put(data)
    _, uri = store.put(ext)
    in_store = store.path_for(ext_sha)
    assert not (in_store.parent / "model.onnx.data").exists()
    with _engine(spec, shard) as e:
        whole, beside, stored = e.score_round([(str(one), one_sha), (str(ext), ext_sha),
                                               (str(in_store), ext_sha)])  # fmt: skip
    assert whole.ok and beside.ok and stored.ok, (beside.reason, stored.reason)
    assert whole.score == beside.score == stored.score  # same weights, same bytes of score


def test_broken_external_data_is_invalid_with_its_reason_and_the_round_goes_on(lm, tmp_path):
    spec, (one, one_sha), (ext, ext_sha), shard = lm
    data = (ext.parent / "model.onnx.data").read_bytes()
    base = _proto(ext)
    cases: dict[str, tuple[str, str]] = {}

    for label, loc in [("up", "../model.onnx.data"), ("abs", "/etc/passwd"),
                       ("sub", "sub/model.onnx.data"), ("dos", "..\\model.onnx.data")]:  # fmt: skip
        m = onnx.ModelProto()
        m.CopyFrom(base)
        _relocate(m, loc)
        # the file the path points at is really there: it must still not be followed
        (tmp_path / "model.onnx.data").write_bytes(data)
        cases[label] = _variant(tmp_path / label, m, data)
    cases["mismatched"] = _variant(tmp_path / "mismatched", base, data[:-4] + b"\0\0\0\0")
    short = data[: len(data) // 2]
    m = onnx.ModelProto()
    m.CopyFrom(base)
    _set_meta(m, **{SHA256_KEY: hashlib.sha256(short).hexdigest()})
    cases["truncated"] = _variant(tmp_path / "truncated", m, short)
    cases["missing"] = _variant(tmp_path / "missing", base, data, name="other.data")
    m = onnx.ModelProto()
    m.CopyFrom(base)
    onnx.helper.set_model_props(m, {})
    cases["undeclared"] = _variant(tmp_path / "undeclared", m, data)
    m = onnx.ModelProto()
    m.CopyFrom(base)
    m.graph.initializer[0].external_data[0].value = "second.data"
    cases["two_files"] = _variant(tmp_path / "two_files", m, data)
    m = onnx.ModelProto()
    m.CopyFrom(base)
    length = next(e for e in m.graph.initializer[0].external_data if e.key == "length")
    length.value = str(int(length.value) + 4)
    cases["bad_length"] = _variant(tmp_path / "bad_length", m, data)

    want = {
        "up": "path traversal", "abs": "path traversal", "sub": "path traversal",
        "dos": "path traversal", "mismatched": "mismatched", "truncated": "truncated",
        "missing": "missing", "undeclared": SHA256_KEY, "two_files": "one file",
        "bad_length": "external length",
    }  # fmt: skip
    items = [(p, s) for p, s in cases.values()]
    with _engine(spec, shard) as e:
        results = e.score_round([*items, (str(ext), ext_sha)])
    for (label, _), res in zip(cases.items(), results, strict=False):
        assert not res.ok and res.code == "external_data", (label, res.code, res.reason)
        assert want[label] in res.reason, (label, res.reason)
    assert results[-1].ok  # the round went on: the good model after them is scored

    # a node's own check says the same before it submits
    with pytest.raises(CheckError, match="path traversal"):
        check_submission(cases["up"][0], spec)
    with pytest.raises(CheckError, match="mismatched"):
        check_submission(cases["mismatched"][0], spec)
    with pytest.raises(CheckError, match="missing"):
        check_submission(cases["missing"][0], spec)
    assert check_submission(ext, spec).external.sha256 == hashlib.sha256(data).hexdigest()


def test_external_data_is_refused_outside_language_model_tasks(lm, digits_spec):
    _, _, (ext, ext_sha), _ = lm
    with pytest.raises(CheckError) as err:
        check_model(ext, digits_spec, ext_sha)
    assert err.value.code == "external_data" and "language-model tasks" in err.value.reason


def test_over_the_size_limit_counts_model_and_data(lm):
    spec, _, (ext, ext_sha), shard = lm
    raw = spec.model_dump(mode="json")
    raw["limits"]["max_bytes"] = ext.stat().st_size + 1000  # the model fits, the data not
    small = type(spec).model_validate(raw)
    with _engine(small, shard) as e:
        (res,) = e.score_round([(str(ext), ext_sha)])
    assert not res.ok and res.code == "too_large", (res.code, res.reason)


def test_seal_declares_and_a_validator_fetches_the_data_beside_the_model(lm, tmp_path):
    spec, (one, one_sha), (ext, ext_sha), shard = lm
    # a node's export with the exporter's own name: sealing writes the hash, idempotently
    folder = tmp_path / "node"
    folder.mkdir()
    m = _proto(ext)
    onnx.helper.set_model_props(m, {})
    _relocate(m, "weights.bin")
    (folder / "model.onnx").write_bytes(m.SerializeToString())
    shutil.copy(ext.parent / "model.onnx.data", folder / "weights.bin")
    with pytest.raises(CheckError, match=SHA256_KEY):
        check_model(folder / "model.onnx", spec, None)
    from ape_arena._cli import cli
    from click.testing import CliRunner

    res = CliRunner().invoke(cli, ["node", "seal", str(folder / "model.onnx")])
    assert res.exit_code == 0 and "weights.bin (sha256 " in res.output, res.output
    first = declared(folder / "model.onnx")
    again = seal(folder / "model.onnx")
    assert first == again and first.location == "weights.bin"
    res = CliRunner().invoke(cli, ["node", "seal", str(one)])
    assert res.exit_code == 0 and "nothing to seal" in res.output
    assert declared(one) is None  # no byte of the key in an ordinary model
    sealed_sha = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()

    # the node's store, served over HTTP; the validator's engine fetches model and data
    node_store = ArtifactStore(tmp_path / "node-store")
    node_store.put(folder / "weights.bin")
    node_store.put(folder / "model.onnx")
    server = serve(node_store.root, "127.0.0.1", 0)
    try:
        uri = server.uri_for(sealed_sha)
        assert data_uri(first, uri, sealed_sha) == server.uri_for(first.sha256)
        mine = ArtifactStore(tmp_path / "validator-store")
        with Engine(spec, shard[0], shard[1], workers=1, threads=1, device="cpu",
                    progress=False, fetch=lambda u, s: mine.get(u, s)) as e:  # fmt: skip
            got, whole = e.score_round([(uri, sealed_sha), (str(one), one_sha)])
        assert got.ok and whole.ok and got.score == whole.score, got.reason
        assert mine.has(first.sha256)  # fetched into the validator's own store, by hash
        # a model whose data the node never published
        lonely = ArtifactStore(tmp_path / "lonely")
        lonely.put(folder / "model.onnx")
        server2 = serve(lonely.root, "127.0.0.1", 0)
        try:
            mine2 = ArtifactStore(tmp_path / "validator-store-2")
            with Engine(spec, shard[0], shard[1], workers=1, threads=1, device="cpu",
                        progress=False, fetch=lambda u, s: mine2.get(u, s)) as e:  # fmt: skip
                (res,) = e.score_round([(server2.uri_for(sealed_sha), sealed_sha)])
            assert not res.ok and first.sha256 in res.reason, res.reason
        finally:
            server2.stop()
    finally:
        server.stop()
    # a URI that does not end in the model's hash gives the data no place: INVALID
    with pytest.raises(ExternalDataError, match="missing"):
        data_uri(first, "https://example.org/models/latest.onnx", sealed_sha)
    m = _proto(folder / "model.onnx")
    _set_meta(m, **{URI_KEY: "https://mirror.example/w.bin"})
    assert data_uri(declared_of(m, tmp_path), "x", sealed_sha) == "https://mirror.example/w.bin"


def declared_of(model: onnx.ModelProto, folder: Path):
    path = folder / "declared.onnx"
    path.write_bytes(model.SerializeToString())
    return declared(path)


def test_the_worker_memory_cap_grows_with_what_the_spec_allows(lm, tmp_path):
    from ape_arena.evaluation.engine import spec_memory_limit
    from ape_arena.evaluation.pool import DEFAULT_MEMORY_LIMIT

    spec, _, _, shard = lm
    assert spec_memory_limit(spec) == DEFAULT_MEMORY_LIMIT  # small specs keep 4 GiB
    raw = spec.model_dump(mode="json")
    raw["limits"].update(max_bytes=3 << 30, max_params=1 << 31)  # a 1.5B fp16 model
    big = type(spec).model_validate(raw)
    vocab = spec.output.shape[-1]
    logits = spec.limits.max_batch_rows * CONTEXT * vocab * 4
    assert spec_memory_limit(big) == 3 * (3 << 30) + 3 * logits + (1 << 30)
    e = Engine(big, shard[0], shard[1], device="cpu", workers=1, progress=False)
    assert e.memory_limit == spec_memory_limit(big)  # the engine's default
    assert Engine(big, shard[0], shard[1], memory_limit=0, progress=False).memory_limit == 0
