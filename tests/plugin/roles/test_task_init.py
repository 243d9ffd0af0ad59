"""``task init``: spec + shards + manifest from plain files, and errors that point at them."""

from __future__ import annotations

import numpy as np
import pytest
from ape_arena.evaluation.shards import ShardManifest, load_shard
from ape_arena.evaluation.spec import TaskSpec, is_canonical
from ape_arena.roles.task_init import TaskInitError, init_task


def _shards_fit(made, rounds: int) -> list[dict]:
    """Every shard loads against the written spec; the rows add up."""
    spec = TaskSpec.load(made.spec_path)
    assert is_canonical(made.spec_path.read_bytes())  # its file hash is spec.sha256()
    manifest = ShardManifest.load(made.shard_dir)
    assert sorted(manifest.tree.rounds) == list(range(rounds))
    shards = [load_shard(made.shard_dir / f"round-{r}.npz", spec) for r in range(rounds)]
    assert sum(len(s["target"]) for s in shards) == made.rows
    return shards


def test_classification_from_a_csv_with_header(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [
        ",".join(f"{v:.3f}" for v in rng.normal(size=3)) + f",{i % 4}" for i in range(40)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    made = init_task(tmp_path / "data.csv", "classification", rounds=2, out=tmp_path / "t")
    assert made.spec.inputs[0].shape == ["batch", 3] and made.spec.output.shape == ["batch", 4]
    assert made.spec.metric == "cross_entropy" and made.spec.name == "data" and made.rows == 40
    shards = _shards_fit(made, 2)
    assert shards[0]["target"].dtype == np.int64 and shards[0]["features"].dtype == np.float32


def test_regression_from_an_npz_and_classification_from_npy_files(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    np.savez(tmp_path / "r.npz", X=x, y=x.sum(axis=1))
    made = init_task(tmp_path / "r.npz", "regression", rounds=3, out=tmp_path / "r")
    assert made.spec.metric == "mse" and made.spec.output.shape == ["batch", 1]
    _shards_fit(made, 3)
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "features.npy", np.ones((12, 2, 2), np.float32))
    np.save(folder / "target.npy", np.arange(12) % 2)
    made = init_task(folder, "classification", rounds=2, out=tmp_path / "c", name="two by two")
    assert made.spec.inputs[0].shape == ["batch", 2, 2] and made.spec.name == "two_by_two"
    _shards_fit(made, 2)


def test_bytes_lm_from_a_folder_of_text(tmp_path):
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "a.txt").write_text("hello arena\n" * 40)
    (tmp_path / "txt" / "b.txt").write_text("second file\n" * 40)
    made = init_task(tmp_path / "txt", "bytes-lm", rounds=2, out=tmp_path / "lm", seq=32)
    assert made.spec.metric == "bits_per_byte" and made.spec.output.shape == ["batch", 32, 256]
    shards = _shards_fit(made, 2)
    assert shards[0]["tokens"].shape[1] == 32


@pytest.mark.parametrize(
    ("content", "kind", "needle"),
    [
        ("1,2,0\n3,x,1\n", "classification", "line 2, column 2: 'x' is not a number"),
        ("1,2,0\n3,4,-1\n", "classification", "class ids 0, 1, 2, ...; row 1 has -1"),
        ("1,2,0.5\n3,4,1\n", "classification", "row 0 has 0.5"),
        ("1,2,0\n3,4\n", "regression", "data row 2 has 2 columns, the first 3"),
        ("7\n8\n", "regression", "needs at least 2 columns"),
    ],
)
def test_bad_csv_names_the_line_and_column(tmp_path, content, kind, needle):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(TaskInitError) as info:
        init_task(tmp_path / "d.csv", kind, rounds=1, out=tmp_path / "o")
    assert needle in str(info.value) and "d.csv" in str(info.value)


def test_other_bad_inputs(tmp_path):
    np.savez(tmp_path / "w.npz", a=np.ones(3), b=np.ones(3))
    with pytest.raises(TaskInitError, match="needs arrays 'features' and 'target'.*a, b"):
        init_task(tmp_path / "w.npz", "regression", rounds=1, out=tmp_path / "o")
    np.savez(tmp_path / "few.npz", features=np.ones((2, 1)), target=np.zeros(2))
    with pytest.raises(TaskInitError, match="2 rows cannot make 3 shards"):
        init_task(tmp_path / "few.npz", "classification", rounds=3, out=tmp_path / "o")
    with pytest.raises(TaskInitError, match="--kind must be one of"):
        init_task(tmp_path / "few.npz", "images", rounds=1, out=tmp_path / "o")
    with pytest.raises(TaskInitError, match="no such file"):
        init_task(tmp_path / "nope.csv", "regression", rounds=1, out=tmp_path / "o")


def test_task_init_command(tmp_path):
    from ape_arena._cli import cli
    from click.testing import CliRunner

    (tmp_path / "d.csv").write_text(
        "x,y,label\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(30))
    )
    out = tmp_path / "task"
    res = CliRunner().invoke(
        cli, ["task", "init", str(tmp_path / "d.csv"), "--kind", "classification", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "metric cross_entropy) and 3 shards of 30 rows" in res.output
    assert f"next: ape arena task create {out / 'spec.json'} {out / 'shards'}" in res.output
    res = CliRunner().invoke(
        cli,
        [
            "task",
            "init",
            str(tmp_path / "d.csv"),
            "--kind",
            "regression",
            "-o",
            str(out),
            "--rounds",
            "31",
        ],
    )
    assert res.exit_code != 0 and "Error: " in res.output and "30 rows cannot make 31" in res.output


def _chat_files(tmp_path, n: int = 12):
    import json

    from ape_arena.evaluation.chat import ChatTemplate, render
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    dialogues = [
        {"conversations": [{"from": "human", "value": f"{i} km in m?"},
                           {"from": "gpt", "value": f"{i * 1000} m"}]}
        for i in range(n)
    ]  # fmt: skip
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    t = ChatTemplate()
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[PAD]", *t.markers()],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    from ape_arena.evaluation.chat import normalise_dialogue

    tok.train_from_iterator([render(normalise_dialogue(d), t)[0] for d in dialogues], trainer)
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))
    return data, tok_path, tok


def test_chat_lm_from_a_jsonl_and_a_tokenizer(tmp_path):
    import hashlib

    data, tok_path, tok = _chat_files(tmp_path)
    made = init_task(data, "chat-lm", rounds=3, out=tmp_path / "t", seq=24, tokenizer=tok_path)
    spec = made.spec
    assert spec.metric == "bits_per_byte" and spec.counts_bytes
    assert spec.chat.tokenizer_sha256 == hashlib.sha256(tok_path.read_bytes()).hexdigest()
    assert spec.output.shape == ["batch", 24, tok.get_vocab_size()]
    assert (tmp_path / "t" / "tokenizer.json").read_bytes() == tok_path.read_bytes()
    shards = _shards_fit(made, 3)
    assert made.rows == 12 and all(s["bytes"].min() > 0 for s in shards)
    assert all((s["target"] != -100).any(axis=1).all() for s in shards)


def test_chat_lm_errors_name_the_problem(tmp_path):
    data, tok_path, _ = _chat_files(tmp_path)
    with pytest.raises(TaskInitError, match="--tokenizer tokenizer.json goes with --kind chat-lm"):
        init_task(data, "chat-lm", rounds=2, out=tmp_path / "t")
    with pytest.raises(TaskInitError, match="--tokenizer tokenizer.json goes with --kind chat-lm"):
        init_task(data, "bytes-lm", rounds=2, out=tmp_path / "t", tokenizer=tok_path)
    bad_tok = tmp_path / "bad.json"
    bad_tok.write_text("{}")
    with pytest.raises(TaskInitError, match="not a tokenizers tokenizer.json"):
        init_task(data, "chat-lm", rounds=2, out=tmp_path / "t", tokenizer=bad_tok)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": [{"from": "human", "value": "hi"}]}\n')
    with pytest.raises(TaskInitError, match="bad.jsonl:1: no assistant turn"):
        init_task(bad, "chat-lm", rounds=1, out=tmp_path / "t", tokenizer=tok_path)


def test_chat_lm_command(tmp_path):
    from ape_arena._cli import cli
    from click.testing import CliRunner

    data, tok_path, _ = _chat_files(tmp_path)
    out = tmp_path / "task"
    res = CliRunner().invoke(cli, ["task", "init", str(data), "--kind", "chat-lm", "--tokenizer",
                                   str(tok_path), "--seq", "24", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "metric bits_per_byte) and 3 shards of 12 rows" in res.output
    assert f"tokenizer: {out / 'tokenizer.json'} (sha256 " in res.output


def test_chat_lm_with_a_base_for_lora_adapters(tmp_path):
    """``--base`` commits a base model: its sha256 and URI, the weights of the ``--adapt``
    modules as the adaptable names, ``--max-rank``; a base that does not fit the spec or
    has no such module is refused with the reason."""
    import hashlib

    from ape_arena._cli import cli
    from ape_arena.evaluation.hf import export_causal_lm
    from click.testing import CliRunner

    from tests.plugin.evaluation.test_hf_lora import tiny

    data, tok_path, tok = _chat_files(tmp_path)
    plain = init_task(data, "chat-lm", rounds=2, out=tmp_path / "plain", seq=24,
                      tokenizer=tok_path).spec  # fmt: skip
    base = tmp_path / "exported.onnx"
    raw = plain.model_dump(mode="json")
    raw["inputs"][0]["shape"] = ["batch", 24]
    export_causal_lm(tiny("qwen", tok.get_vocab_size()), TaskSpec.model_validate(raw), base)
    out = tmp_path / "t"
    res = CliRunner().invoke(cli, ["task", "init", str(data), "--kind", "chat-lm", "--tokenizer",
                                   str(tok_path), "--seq", "24", "-o", str(out), "--base",
                                   str(base), "--base-uri", "http://host/b", "--adapt", "q_proj",
                                   "--max-rank", "4", "--tokenizer-uri", "http://host/t"])  # fmt: skip
    assert res.exit_code == 0, res.output
    spec = TaskSpec.load(out / "spec.json")
    b = spec.chat.base
    assert b.model_sha256 == hashlib.sha256(base.read_bytes()).hexdigest() and b.max_rank == 4
    assert b.model_uri == "http://host/b" and spec.chat.tokenizer_uri == "http://host/t"
    assert b.adaptable == [f"model.layers.{i}.self_attn.q_proj.weight.T" for i in range(2)]
    assert (out / "base.onnx").read_bytes() == base.read_bytes()
    assert f"base: {out / 'base.onnx'} (sha256 {b.model_sha256}); adapters may change 2" in (
        res.output
    )
    with pytest.raises(TaskInitError, match=r"no 2-D weight of the modules \['gate_nope'\]"):
        init_task(data, "chat-lm", rounds=2, out=tmp_path / "x", seq=24, tokenizer=tok_path,
                  base=base, adapt=("gate_nope",))  # fmt: skip
    with pytest.raises(TaskInitError, match="does not fit the task's spec: signature_mismatch"):
        init_task(data, "chat-lm", rounds=2, out=tmp_path / "x", seq=16, tokenizer=tok_path,
                  base=base)  # fmt: skip
    with pytest.raises(TaskInitError, match="--base-uri names where --base is published"):
        init_task(data, "chat-lm", rounds=2, out=tmp_path / "x", tokenizer=tok_path,
                  base_uri="http://host/b")  # fmt: skip
    with pytest.raises(TaskInitError, match="go with --kind chat-lm"):
        init_task(data, "bytes-lm", rounds=2, out=tmp_path / "x", base=base)
