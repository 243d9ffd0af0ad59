"""The gas report: what was measured (``Report``), the machine it ran on, and the tables
written to stdout, ``gas-report.md`` and ``gas-report.json``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...protocol.types import MAX_FINALIZE_STEPS, PAGE_GAS
from ..machine import cpu_model

TX_LIMIT = 15_000_000  # DESIGN §3.6: every transaction stays below this


@dataclass
class Report:
    rows: dict[str, list[int]] = field(default_factory=dict)
    o1: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    units: dict[str, list[int]] = field(default_factory=dict)
    chosen_steps: int = 0
    predicted_steps: int = 0
    safe_steps: int = 0
    worst_alignment: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    over_limit: list[tuple[str, int]] = field(default_factory=list)

    def add(self, label: str, gas: int) -> None:
        self.rows.setdefault(label, []).append(gas)
        if gas >= TX_LIMIT:
            self.over_limit.append((label, gas))


def machine() -> dict:
    import ape
    import vyper

    cpu = cpu_model()
    try:
        anvil = subprocess.run(
            ["anvil", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        anvil = anvil.splitlines()[0] if anvil else "unknown"
    except (OSError, subprocess.SubprocessError):
        anvil = "unknown"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "ape": getattr(ape, "__version__", None) or _dist_version("eth-ape"),
        "vyper": vyper.__version__,
        "anvil": anvil,
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:  # noqa: BLE001
        return "unknown"


ORDER = [
    "deploy ArenaToken",
    "deploy ArenaEngine",
    "deploy ArenaRounds",
    "deploy Arena",
    "create_task",
    "cancel_task",
    "join (node)",
    "join (validator)",
    "join (top-up)",
    "delegate",
    "commit_model",
    "reveal_eval",
    "reveal_model",
    "commit_scores",
]


def _ordered(rows: dict[str, list[int]]) -> list[str]:
    rest = sorted(k for k in rows if k not in ORDER)
    first = [k for k in ORDER if k in rows]
    finalize = [k for k in rest if k.startswith("finalize")]
    scores = [k for k in rest if k.startswith("reveal_scores")]
    others = [k for k in rest if k not in finalize and k not in scores]
    return first + scores + finalize + others


def markdown(report: Report) -> str:
    m = report.meta
    lines = [
        f"Measured {m['date']} on anvil ({m['anvil']}), {m['cpu']}, {m['cores']} cores; "
        f"Python {m['python']}, eth-ape {m['ape']}, vyper {m['vyper']}. "
        f"One round at {m['submissions']} submissions x {m['validators']} validators, "
        f"{m['delegators_per_participant']} delegators per participant, one participant with "
        f"{m['many_delegators']} delegators; {m.get('seconds', '?')} s.",
        "",
        "| function | calls | min | median | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in _ordered(report.rows):
        v = report.rows[k]
        lines.append(
            f"| {k} | {len(v)} | {min(v):,} | {int(statistics.median(v)):,} | {max(v):,} |"
        )
    paging = m.get("client_paging")
    if paging:
        lines += [
            "",
            f"`finalize` paged as the client pages it: each page starts at twice the last "
            f"page's size (at most {MAX_FINALIZE_STEPS} units) and is halved while "
            f"`eth_estimateGas` says more than {PAGE_GAS:,} gas: "
            f"{paging['pages']} pages of {paging['min_steps']} to {paging['max_steps']} units, "
            f"the largest {paging['max_page_gas']:,} gas.",
        ]
    else:
        lines += [
            "",
            f"`finalize` is paginated. Recommended `max_steps = {report.safe_steps or report.chosen_steps}`. "
            f"At {m['submissions']} submissions the largest step size whose every page stays under "
            f"{TX_LIMIT:,} gas is {report.chosen_steps} (tried from the top down; summing the per-unit "
            f"profile below predicted {report.predicted_steps}); a larger `max_steps` only makes that "
            f"call revert out of gas, nothing is lost:",
            "",
            "| max_steps | pages | largest page (gas) | under 15M |",
            "|---:|---:|---:|:---:|",
        ]
        for s in report.steps:
            lines.append(
                f"| {s['max_steps']} | {s['pages']} | {s['max_page_gas']:,} | {'yes' if s['ok'] else 'no'} |"
            )
        lines += [
            "",
            "Pages cut the stages at other units for other round sizes; each step size is checked "
            "again at n = max_steps - 2 (mod max_steps) submissions:",
            "",
            "| max_steps | submissions | pages | largest page (gas) | under 15M |",
            "|---:|---:|---:|---:|:---:|",
        ]
        for w in report.worst_alignment:
            lines.append(
                f"| {w['max_steps']} | {w['submissions']} | {w['pages']} | {w['max_page_gas']:,} | {'yes' if w['ok'] else 'no'} |"
            )
        lines += [
            "",
            "Gas of one finalize unit (each sent alone, `max_steps = 1`):",
            "",
            "| unit | count | min | median | max |",
            "|---|---:|---:|---:|---:|",
        ]
        for k, v in report.units.items():
            lines.append(
                f"| {k} | {len(v)} | {min(v):,} | {int(statistics.median(v)):,} | {max(v):,} |"
            )
    lines += [
        "",
        f"O(1) in the number of delegators (participant with 1 vs {m['many_delegators']} delegators):",
        "",
        f"| function | 1 delegator | {m['many_delegators']} delegators | note |",
        "|---|---:|---:|---|",
    ]
    for row in report.o1:
        lines.append(f"| {row['function']} | {row['one']:,} | {row['many']:,} | {row['extra']} |")
    verdict = (
        "Every measured transaction is below 15,000,000 gas."
        if not report.over_limit
        else "OVER THE 15M LIMIT: " + ", ".join(f"{k} {v:,}" for k, v in report.over_limit)
    )
    lines += ["", verdict, ""]
    return "\n".join(lines)


def write(report: Report, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gas-report.md").write_text("# Gas report\n\n" + markdown(report))
    data = {
        "meta": report.meta,
        "limit": TX_LIMIT,
        "finalize_max_steps": report.safe_steps or report.chosen_steps,
        "finalize_max_steps_at_max_size": report.chosen_steps,
        "finalize_worst_alignment": report.worst_alignment,
        "finalize_predicted_steps": report.predicted_steps,
        "functions": {
            k: {"calls": len(v), "min": min(v), "median": int(statistics.median(v)), "max": max(v)}
            for k, v in report.rows.items()
        },
        "finalize_step_search": report.steps,
        "finalize_units": {
            k: {"count": len(v), "min": min(v), "max": max(v)} for k, v in report.units.items()
        },
        "delegator_independence": report.o1,
        "over_limit": report.over_limit,
    }
    (out_dir / "gas-report.json").write_text(json.dumps(data, indent=2) + "\n")
