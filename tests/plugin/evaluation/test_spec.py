"""Task specs: canonical bytes/hash, the shipped examples, and clear errors per bad field."""

from __future__ import annotations

import hashlib
import json

import pytest
from ape_arena.evaluation.spec import SpecError, TaskSpec, data_dir, example, is_canonical
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError


@pytest.mark.parametrize("name", ["digits", "bytes_lm"])
def test_shipped_examples_are_canonical_files(name):
    path = data_dir() / f"{name}.json"
    data = path.read_bytes()
    spec = TaskSpec.load(path)
    assert hashlib.sha256(data).digest() == spec.sha256()
    assert spec.to_json() == data
    assert is_canonical(data)


def test_digits_example_fields(digits_spec):
    assert [(i.name, i.dtype, i.shape, i.data_key) for i in digits_spec.inputs] == [
        ("features", "float32", ["batch", 64], "features")
    ]
    assert (digits_spec.output.name, digits_spec.output.shape) == ("logits", ["batch", 10])
    assert digits_spec.metric == "cross_entropy"
    assert digits_spec.target_dtype == "int64" and digits_spec.target_shape == ["batch"]
    assert digits_spec.batch_symbol == "batch"


def test_bytes_lm_example_fields(lm_spec):
    assert lm_spec.inputs[0].dtype == "int64" and lm_spec.inputs[0].shape == ["batch", 128]
    assert lm_spec.output.shape == ["batch", 128, 256]
    assert lm_spec.metric == "bits_per_byte"
    assert lm_spec.data.ignore_index == -100
    assert lm_spec.target_shape == ["batch", 128] and lm_spec.target_dtype == "int64"


def test_mse_target_follows_output(make_spec):
    spec = make_spec(metric="mse", output={"name": "y", "dtype": "float32", "shape": ["batch", 3]})
    assert spec.target_dtype == "float32" and spec.target_shape == ["batch", 3]


def test_canonical_bytes_ignore_input_formatting(digits_spec, tmp_path):
    raw = json.loads(digits_spec.to_json())
    messy = json.dumps(dict(reversed(list(raw.items()))), indent=7).encode()
    reparsed = TaskSpec.from_json(messy)
    assert reparsed == digits_spec
    assert reparsed.to_json() == digits_spec.to_json()
    assert reparsed.sha256() == digits_spec.sha256()
    assert not is_canonical(messy)
    # defaults are written out, so omitting them gives the same canonical bytes
    del raw["version"], raw["data"]
    assert TaskSpec.from_json(json.dumps(raw)).to_json() == digits_spec.to_json()


def test_write_gives_file_hash_equal_to_spec_hash(digits_spec, tmp_path):
    path = digits_spec.write(tmp_path / "sub" / "spec.json")
    assert hashlib.sha256(path.read_bytes()).digest() == digits_spec.sha256()
    assert digits_spec.sha256_hex() == digits_spec.sha256().hex()
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_any_field_change_changes_the_hash(make_spec, digits_spec):
    assert make_spec(limits={"max_params": 1}).sha256() != digits_spec.sha256()
    assert make_spec(version=2).sha256() != digits_spec.sha256()


def test_non_ascii_description_is_escaped(make_spec):
    spec = make_spec(description="Zahlen — Ziffern")
    data = spec.to_json()
    assert data.isascii() and TaskSpec.from_json(data).description == "Zahlen — Ziffern"


def test_spec_is_frozen(digits_spec):
    with pytest.raises(ValidationError):
        digits_spec.metric = "mse"
    with pytest.raises(ValidationError):
        digits_spec.limits.max_bytes = 1


# ---------------------------------------------------------------------------- errors
def bad(digits_spec, mutate) -> str:
    raw = json.loads(digits_spec.to_json())
    mutate(raw)
    with pytest.raises(SpecError) as info:
        TaskSpec.from_json(json.dumps(raw))
    return str(info.value)


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (lambda r: r.update(metric="accuracy"), ["metric", "'accuracy'", "bits_per_byte"]),
        (lambda r: r["inputs"][0].update(dtype="float64"), ["inputs[0].dtype", "'float16'"]),
        (lambda r: r["output"].update(dtype="bfloat16"), ["output.dtype", "'float32'"]),
        (lambda r: r["inputs"][0].update(shape=["batch", -1]), ["inputs[0].shape[1]", "positive"]),
        (lambda r: r["inputs"][0].update(shape=["batch", 6.5]), ["inputs[0].shape[1]"]),
        (lambda r: r["inputs"][0].update(shape=["batch", "2x"]), ["inputs[0].shape[1]"]),
        (lambda r: r["inputs"][0].update(shape=[64, "batch"]), ["features", "first dim"]),
        (lambda r: r["output"].update(shape=["n", 10]), ["logits", "differs"]),
        (lambda r: r["inputs"][0].update(shape=["batch", "batch"]), ["only be the first"]),
        (lambda r: r.update(colour="red"), ["colour", "unknown field"]),
        (lambda r: r.pop("metric"), ["metric", "required"]),
        (lambda r: r["limits"].pop("max_bytes"), ["limits.max_bytes", "required"]),
        (lambda r: r["limits"].update(max_bytes=0), ["limits.max_bytes", "greater than 0"]),
        (lambda r: r["limits"].update(opset_min=20, opset_max=14), ["opset_min (20)"]),
        (lambda r: r["limits"].update(opset_max=99), ["limits.opset_max", "30"]),
        (lambda r: r.update(inputs=[]), ["inputs", "at least 1"]),
        (lambda r: r["inputs"].append(dict(r["inputs"][0])), ["names must be unique"]),
        (lambda r: r["inputs"][0].update(data_key="target"), ["clashes"]),
        (lambda r: r["data"].update(mask_key="target"), ["mask_key must differ"]),
        (lambda r: r["output"].update(name="features"), ["also an input name"]),
        (lambda r: r["output"].update(shape=["batch", 10, 2]), ["num_classes"]),
        (lambda r: r["output"].update(shape=["batch", "k"]), ["fixed num_classes"]),
        (lambda r: r.update(metric="token_cross_entropy"), ["[batch, seq, vocab]"]),
        (lambda r: r.update(name="has space"), ["name"]),
    ],
)
def test_errors_name_the_field_and_what_is_allowed(digits_spec, mutate, needles):
    message = bad(digits_spec, mutate)
    assert message.startswith("invalid task spec")
    for needle in needles:
        assert needle in message, message


def test_bits_per_byte_needs_byte_vocab(lm_spec):
    message = bad(lm_spec, lambda r: r["output"].update(shape=["batch", 128, 512]))
    assert "last dim 256" in message


@pytest.mark.parametrize(
    "data, needle",
    [
        (b"{not json", "not valid JSON (line 1, column 2)"),
        (b"[1, 2]", "must be a JSON object, got list"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unparseable_input(data, needle):
    with pytest.raises(SpecError, match=None) as info:
        TaskSpec.from_json(data)
    assert needle in str(info.value)


def test_load_names_the_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read task spec"):
        TaskSpec.load(tmp_path / "missing.json")
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x"}')
    with pytest.raises(SpecError) as info:
        TaskSpec.load(path)
    assert str(path) in str(info.value) and "inputs: required field is missing" in str(info.value)


def test_spec_error_is_a_value_error():
    assert issubclass(SpecError, ValueError)
    assert example("digits").name == "digits"


# ---------------------------------------------------------------------------- properties
names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@st.composite
def specs(draw) -> TaskSpec:
    metric = draw(st.sampled_from(["cross_entropy", "error_rate", "mse", "token_cross_entropy"]))
    in_name, out_name = draw(st.lists(names, min_size=2, max_size=2, unique=True))
    data_key = draw(names.filter(lambda k: k != "target"))
    batch = draw(names)
    if metric == "token_cross_entropy":
        seq = draw(st.integers(1, 512))
        shape_in = [batch, seq]
        shape_out = [batch, seq, draw(st.integers(2, 70_000))]
        dtype = "int64"
    else:
        shape_in = [batch, draw(st.integers(1, 4096))]
        shape_out = [batch, draw(st.integers(2, 1000))]
        dtype = draw(st.sampled_from(["float32", "float16", "uint8", "int32"]))
    lo = draw(st.integers(7, 30))
    return TaskSpec.model_validate(
        {
            "name": draw(names),
            "description": draw(st.text(max_size=40)),
            "inputs": [{"name": in_name, "dtype": dtype, "shape": shape_in, "data_key": data_key}],
            "output": {"name": out_name, "dtype": "float32", "shape": shape_out},
            "limits": {
                "max_bytes": draw(st.integers(1, 2**40)),
                "max_params": draw(st.integers(1, 2**40)),
                "opset_min": lo,
                "opset_max": draw(st.integers(lo, 30)),
                "max_batch_rows": draw(st.integers(1, 2**20)),
            },
            "metric": metric,
            "version": draw(st.integers(1, 10)),
        }
    )


@settings(max_examples=60, deadline=None)
@given(spec=specs())
def test_canonical_roundtrip_property(spec):
    data = spec.to_json()
    again = TaskSpec.from_json(data)
    assert again == spec and again.to_json() == data and is_canonical(data)
    assert hashlib.sha256(data).digest() == spec.sha256()
    # any reformatting parses to the same spec and the same canonical bytes
    pretty = json.dumps(json.loads(data), indent=1, ensure_ascii=False).encode()
    assert TaskSpec.from_json(pretty).to_json() == data
