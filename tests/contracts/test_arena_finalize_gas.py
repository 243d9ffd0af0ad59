"""DESIGN §3.6 at the maximum sizes: every finalize page must stay under 15M gas for the
step size clients use.

The plugin's DEFAULT_FINALIZE_STEPS must be a step size README "Gas" shows under 15M. This
runs `ape run gas --check-steps <it>` (its own anvil without opcode tracing, one 128 x 32
round plus a round at that step size's other page alignment, n = S - 2 (mod S)
submissions, with validator scores in the order that makes the consensus' insertion sort
work hardest) and fails if a page reaches 15M gas. About a minute.
"""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_finalize_default_max_steps_stays_under_15m_gas_at_worst_alignment(tmp_path):
    from ape_arena.protocol import DEFAULT_FINALIZE_STEPS

    env = dict(os.environ)
    bin_dirs = [str(ROOT / ".venv" / "bin"), str(ROOT / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join(bin_dirs + [env.get("PATH", "")])
    ape = (
        str(ROOT / ".venv" / "bin" / "ape") if (ROOT / ".venv" / "bin" / "ape").exists() else "ape"
    )
    proc = subprocess.run(
        [
            ape,
            "run",
            "gas",
            "--network",
            "ethereum:local:foundry",
            "--out",
            str(tmp_path),
            "--check-steps",
            str(DEFAULT_FINALIZE_STEPS),
            # the round size the fixed default is for; larger committees are paged by the
            # client's gas estimate (PAGE_GAS), measured by `make gas` at 1,024 x K = 64
            "--submissions",
            "128",
            "--validators",
            "32",
            "--profile",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    fail = [
        line for line in out.splitlines() if line.startswith("FAIL") or "worst alignment" in line
    ]
    assert proc.returncode == 0, (
        f"finalize(task, {DEFAULT_FINALIZE_STEPS}), the step size clients use by default, exceeds the 15,000,000 gas "
        "per-transaction rule of DESIGN §3.6:\n" + "\n".join(fail or out.splitlines()[-30:])
    )
