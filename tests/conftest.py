"""Suite-wide set-up.

TRITON_INTERPRET must be set before any ``@triton.jit`` decorator runs, i.e. before any
kernel module is imported anywhere in the session, so it is set here, at the top.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

# Importing boa's test plugin module (without registering it as a plugin, see pyproject's
# addopts) applies its one useful patch: every hypothesis example runs in boa.env.anchor().
import boa.test.plugin  # noqa: E402,F401
