"""The dependency direction of DESIGN §2 is a checked contract (import-linter, run by
``make lint``), not a hope: it holds on the tree as it is, and each kind of wrong import
planted in a copy of the tree breaks it with a message naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path, env_path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if env_path is not None:  # found before the editable install (PathFinder runs first)
        env["PYTHONPATH"] = env_path
    return subprocess.run(
        [str(LINT), "--no-cache"],  # reads root/pyproject.toml
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layer_contracts_hold_on_the_tree():
    out = lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the plugin and the kernels with the project's contracts."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "plugins" / "ape_arena", src / "ape_arena")
    shutil.copytree(REPO / "kernels" / "arena_kernels", src / "arena_kernels")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


WRONG = [
    # (file, line added, what the report must say)
    ("ape_arena/evaluation/spec.py", "from ..protocol import Phase",
     "ape_arena.evaluation is not allowed to import ape_arena.protocol"),
    ("ape_arena/protocol/types.py", "from ..evaluation import spec",
     "ape_arena.protocol is not allowed to import ape_arena.evaluation"),
    ("ape_arena/roles/node.py", "from ..tools import models",
     "ape_arena.roles is not allowed to import ape_arena.tools"),
    ("ape_arena/tools/demo.py", "from ..cli import common",
     "ape_arena.tools is not allowed to import ape_arena.cli"),
    ("ape_arena/evaluation/engine.py", "from ..roles import validator",
     "ape_arena.evaluation is not allowed to import ape_arena.roles"),
    ("arena_kernels/metrics.py", "import ape_arena.evaluation.spec",
     "arena_kernels is not allowed to import ape_arena"),
    ("ape_arena/protocol/views.py", "import onnx",
     "ape_arena.protocol is not allowed to import onnx"),
]  # fmt: skip


@pytest.mark.parametrize("path, line, message", WRONG, ids=[w[0].split("/", 1)[1] for w in WRONG])
def test_a_wrong_import_breaks_the_contract(tree, path, line, message):
    target = tree / "src" / path
    target.write_text(target.read_text() + f"\n{line}  # planted by the test\n")
    out = lint(tree, str(tree / "src"))
    assert out.returncode != 0
    assert message in out.stdout, out.stdout
    assert "planted" not in out.stderr


def test_a_module_beside_the_layers_breaks_the_contract(tree):
    (tree / "src" / "ape_arena" / "helpers.py").write_text('"""A module in no layer."""\n')
    out = lint(tree, str(tree / "src"))
    assert out.returncode != 0
    assert "ape_arena.helpers" in out.stdout
    assert "not listed as layers" in out.stdout
