"""The guest side of a run: load the modules, run pytest, unload, report.

Runs inside the VM as ``python -m pyharness.guest RUN_DIR`` (or, for
``invoke native``, as root on the machine itself).  It reads
RUN_DIR/plan.json written by the host and writes RUN_DIR/result.json last,
so a missing result means the guest died.  Each phase is bracketed by
markers in the kernel log, which the host's judge uses to charge findings.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..model import layoutreport
from ..model.kjudge import begin_marker, end_marker, run_marker
from ..model.plan import GuestResult, Plan
from . import guestkit
from . import masterdev as md


def measure_layouts(rings: list[tuple[str, int, int]], run_dir: Path) -> None:
    """In the guest: open each ring, save its summary and map, restore the geometry."""
    results: list[dict[str, Any]] = []
    (run_dir / layoutreport.MAPS).mkdir(exist_ok=True)
    with md.preserved():
        for iface, buffers, bufsize in rings:
            try:
                md.set_geometry(iface, buffers, bufsize)
                with md.opened(iface):
                    summary: dict[str, Any] = md.summary(iface)
                    ring_map = (md.DEBUGFS / iface / "map").read_text()
                layoutreport.map_path(run_dir, iface, buffers, bufsize).write_text(ring_map)
                results.append({"iface": iface, "summary": summary})
            except OSError as err:
                results.append(
                    {"iface": iface, "buffers": buffers, "bufsize": bufsize, "error": str(err)}
                )
    (run_dir / layoutreport.LAYOUTS).write_text(json.dumps(results, indent=2) + "\n")


def _phase(name: str, action: Any) -> Any:
    guestkit.kmsg_write(begin_marker(name))
    try:
        return action()
    finally:
        guestkit.kmsg_write(end_marker(name))


def run(run_dir: Path) -> int:
    guestkit.kmsg_write(run_marker(run_dir.name))  # where this run's kernel log starts
    plan = Plan.load(run_dir)
    result = GuestResult(
        kernel=platform.release(),
        clocksource=guestkit.CLOCKSOURCE.read_text().strip(),
        cmdline=Path("/proc/cmdline").read_text().strip(),
        uptime_at_start=float(Path("/proc/uptime").read_text().split()[0]),
        taint_at_start=guestkit.taint(),
    )
    print(f"guest: {result.kernel}, clocksource {result.clocksource}", flush=True)
    for spec in plan.modules:
        op = _phase(f"insmod {spec.name}", lambda s=spec: guestkit.insmod(Path(s.path), *s.params))
        result.loads.append(op)
        print(f"guest: insmod {spec.name} {' '.join(spec.params)} -> {op.returncode}", flush=True)
    if all(load.ok for load in result.loads) and plan.bench:
        result.pytest_returncode, result.pytest_seconds = _phase(
            "bench", lambda: _bench(run_dir, plan)
        )
    elif all(load.ok for load in result.loads):
        result.pytest_returncode, result.pytest_seconds = _pytest(run_dir, plan)
        if plan.layouts:
            _phase("layout report", lambda: measure_layouts(list(plan.layouts), run_dir))
    for spec in reversed(plan.modules):
        if guestkit.loaded(spec.name):
            op = _phase(f"rmmod {spec.name}", lambda s=spec: guestkit.rmmod(s.name))
            result.unloads.append(op)
            print(f"guest: rmmod {spec.name} -> {op.returncode}", flush=True)
    result.taint_at_end = guestkit.taint()
    with guestkit.kmsg_reader(since_boot=True) as kmsg:
        (run_dir / "kmsg.txt").write_text("".join(kmsg.read()))
    result.dump(run_dir)
    return 0


def _pytest(run_dir: Path, plan: Plan) -> tuple[int, float]:
    argv = [sys.executable, "-m", "pytest", *plan.tests, *plan.pytest_args]
    argv += ["-p", "no:cacheprovider", f"--junitxml={run_dir / 'junit.xml'}", "-v"]
    env = {**os.environ, "MASTERDMA_RUN_DIR": str(run_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    # The repository is read-only here: hypothesis's directory goes in the temp dir
    # (the fuzz tests keep no example database; their seed is fixed).
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(Path(tempfile.gettempdir()) / "hypothesis")
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, check=False)
    return proc.returncode, time.monotonic() - start


def _bench(run_dir: Path, plan: Plan) -> tuple[int, float]:
    argv = [sys.executable, "-m", "pyharness.guest.benchguest", str(run_dir), *plan.bench]
    start = time.monotonic()
    proc = subprocess.run(argv, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    return proc.returncode, time.monotonic() - start


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
