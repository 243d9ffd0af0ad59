"""models.py presets: shapes, brief training that learns, and clean export for their spec."""

from __future__ import annotations

import pytest
from ape_arena.tools.models import PRESETS, digits_data, is_lm, make_model, train


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_output_shape(name):
    import torch

    net = make_model(name, seed=1).eval()
    with torch.no_grad():
        if is_lm(name):
            for seq in (16, 128):  # LMs train on short windows and score 128
                out = net(torch.randint(0, 256, (3, seq)))
                assert out.shape == (3, seq, 256)
        else:
            assert net(torch.rand(3, 64)).shape == (3, 10)


def test_presets_are_seeded():
    import torch

    a, b = make_model("digits-mlp-32", seed=4), make_model("digits-mlp-32", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_brief_training_learns_digits():
    import torch
    import torch.nn.functional as F

    x, y = digits_data()
    net = make_model("digits-mlp-64", seed=0)
    with torch.no_grad():
        before = float(F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)))
    train(net, x, y, steps=150, seed=0)
    assert not net.training
    with torch.no_grad():
        after = float(F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)))
    assert after < 0.5 * before


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="digits-mlp-32"):
        make_model("resnet-152")


@pytest.mark.parametrize("name", ["digits-cnn-8", "lm-gru-48", "lm-conv-48", "lm-tf-32"])
def test_preset_exports_for_its_spec(name, tmp_path):
    """export_model runs the static checks and an onnxruntime/torch parity check."""
    from ape_arena.evaluation.checks import check_model
    from ape_arena.evaluation.export import export_model
    from ape_arena.evaluation.spec import example

    spec = example("bytes_lm" if is_lm(name) else "digits")
    path = tmp_path / f"{name}.onnx"
    sha = export_model(make_model(name, seed=2), spec, path)
    assert check_model(path, spec, sha).num_params > 0
