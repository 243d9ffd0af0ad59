"""Suite-wide set-up.

TRITON_INTERPRET must be set before any ``@triton.jit`` decorator runs, i.e. before any
kernel module is imported anywhere in the session, so it is set here, at the top.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
