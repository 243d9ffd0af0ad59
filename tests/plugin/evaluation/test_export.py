"""torch -> ONNX export for a task spec, verified against onnxruntime."""

from __future__ import annotations

import hashlib

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ape_arena.evaluation.checks import CheckError, check_model
from ape_arena.evaluation.export import ExportError, choose_opset, export_model, sample_inputs


def run_onnx(path, spec, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return session.run(
        [spec.output.name], {t.name: a for t, a in zip(spec.inputs, feeds, strict=True)}
    )[0]


def test_digits_export_matches_torch_at_any_batch(tiny_mlp, digits_spec, tmp_path):
    model = tiny_mlp()
    path = tmp_path / "m.onnx"
    sha = export_model(model, digits_spec, path)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    info = check_model(path, digits_spec, sha)
    assert info.opset == 20  # spec allows 13..21, the legacy exporter writes at most 20
    for batch in (1, 7, 300):
        feeds = sample_inputs(digits_spec, batch, seed=batch)
        got = run_onnx(path, digits_spec, feeds)
        with torch.no_grad():
            want = model(torch.from_numpy(feeds[0])).numpy()
        assert got.shape == (batch, 10)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_export_is_byte_deterministic(tiny_mlp, digits_spec, tmp_path):
    a = export_model(tiny_mlp(seed=3), digits_spec, tmp_path / "a.onnx")
    b = export_model(tiny_mlp(seed=3), digits_spec, tmp_path / "b.onnx")
    c = export_model(tiny_mlp(seed=4), digits_spec, tmp_path / "c.onnx")
    assert a == b != c
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_byte_lm_export(tiny_byte_lm, lm_spec, tmp_path):
    model = tiny_byte_lm()
    sha = export_model(model, lm_spec, tmp_path / "lm.onnx")
    feeds = sample_inputs(lm_spec, 2, seed=5)
    assert feeds[0].dtype == np.int64 and feeds[0].shape == (2, 128)
    assert feeds[0].min() >= 0 and feeds[0].max() < 256
    got = run_onnx(tmp_path / "lm.onnx", lm_spec, feeds)
    with torch.no_grad():
        want = model(torch.from_numpy(feeds[0])).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert check_model(tmp_path / "lm.onnx", lm_spec, sha).sha256 == sha


def test_training_mode_is_restored(tiny_mlp, digits_spec, tmp_path):
    model = tiny_mlp().train()
    export_model(model, digits_spec, tmp_path / "m.onnx")
    assert model.training
    model.eval()
    export_model(model, digits_spec, tmp_path / "m.onnx")
    assert not model.training


def test_wrong_output_shape_fails_static_checks_and_writes_nothing(digits_spec, tmp_path):
    model = torch.nn.Linear(64, 9)  # 9 classes, spec says 10
    with pytest.raises(ExportError) as info:
        export_model(model, digits_spec, tmp_path / "m.onnx")
    assert isinstance(info.value.__cause__, CheckError)
    assert info.value.__cause__.code == "signature_mismatch"
    assert not (tmp_path / "m.onnx").exists()


def test_too_many_params_fails(make_spec, tiny_mlp, tmp_path):
    spec = make_spec(limits={"max_params": 100})
    with pytest.raises(ExportError, match="too_many_params"):
        export_model(tiny_mlp(), spec, tmp_path / "m.onnx")


class DriftingModel(torch.nn.Module):
    """Traces a Python-side counter as a constant, so ONNX and torch disagree later."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.linear(x) + float(self.calls)


def test_onnx_torch_disagreement_is_an_error(digits_spec, tmp_path):
    with pytest.raises(ExportError, match="disagree"):
        export_model(DriftingModel(), digits_spec, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_untraceable_model_is_an_export_error(digits_spec, tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(ExportError, match="torch.onnx.export failed: RuntimeError: boom"):
        export_model(Broken(), digits_spec, tmp_path / "m.onnx")


def test_choose_opset(make_spec):
    assert choose_opset(make_spec(limits={"opset_min": 13, "opset_max": 17})) == 17
    assert choose_opset(make_spec(limits={"opset_min": 13, "opset_max": 21})) == 20
    assert choose_opset(make_spec(limits={"opset_min": 13, "opset_max": 21}), dynamo=True) == 21
    with pytest.raises(ExportError, match="dynamo=True"):
        choose_opset(make_spec(limits={"opset_min": 21, "opset_max": 21}))


def test_explicit_opset_is_used(tiny_mlp, make_spec, tmp_path):
    spec = make_spec(limits={"opset_min": 13, "opset_max": 17})
    sha = export_model(tiny_mlp(), spec, tmp_path / "m.onnx", opset=14)
    assert check_model(tmp_path / "m.onnx", spec, sha).opset == 14


@pytest.mark.slow
def test_dynamo_exporter_also_passes_checks(tiny_mlp, digits_spec, tmp_path):
    sha = export_model(tiny_mlp(), digits_spec, tmp_path / "d.onnx", dynamo=True)
    info = check_model(tmp_path / "d.onnx", digits_spec, sha)
    assert info.opset == 21
    assert info.inputs[0].shape[1] == 64
