"""Kernel-test set-up.

TRITON_INTERPRET=1 is already set by the top-level tests/conftest.py before anything imports
a kernel module. Here we make sure ``import arena_kernels`` gives the real package: an
editable install made before ``kernels/arena_kernels/__init__.py`` existed maps the name to
a namespace package (no public API) until the project is re-installed.
"""

import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("TRITON_INTERPRET", "1")

_KERNELS_DIR = str(Path(__file__).resolve().parents[2] / "kernels")
_mod = sys.modules.get("arena_kernels")
if _mod is None or getattr(_mod, "__file__", None) is None:
    sys.modules.pop("arena_kernels", None)
    if _KERNELS_DIR not in sys.path:
        sys.path.insert(0, _KERNELS_DIR)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded CPU generator: every test draws the same numbers on every run."""
    return torch.Generator().manual_seed(1234)
