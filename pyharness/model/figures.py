"""Figures to watch, measured by VM tests and shown in the report.

In the guest, tests call record(); each figure is one JSON line in the run
directory.  On the host, render() lists them.  They are observations (MiB/s,
counters), never pass/fail thresholds: a timed test would fail on a slow
machine, not on a slow module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FIGURES = "figures.jsonl"


def record(name: str, value: float | int | str, unit: str = "") -> None:
    """In the guest: append one figure; a no-op outside a VM run."""
    run_dir = os.environ.get("MASTERDMA_RUN_DIR")
    if not run_dir:
        return
    line = json.dumps({"name": name, "value": value, "unit": unit})
    with (Path(run_dir) / FIGURES).open("a") as out:
        out.write(line + "\n")


def load(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / FIGURES
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def render(run_dir: Path) -> str:
    """One line per figure, in the order measured; "" when there are none."""
    rows = load(run_dir)
    if not rows:
        return ""
    width = max(len(str(r["name"])) for r in rows)
    out = []
    for r in rows:
        value = r["value"]
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        out.append(f"  {r['name']!s:<{width}}  {shown} {r['unit']}".rstrip())
    return "\n".join(out)
