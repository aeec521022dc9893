"""The guest side of a VM run: load the modules, run pytest, unload, report.

Runs inside the VM as ``python -m pyharness.guest RUN_DIR``.  It reads
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import guestkit, layoutreport
from .kjudge import begin_marker, end_marker

PLAN = "plan.json"
RESULT = "result.json"


@dataclass(frozen=True)
class ModuleSpec:
    path: str
    params: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class Plan:
    """What the host asks the guest to do."""

    modules: tuple[ModuleSpec, ...]
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()
    layouts: tuple[tuple[str, int, int], ...] = ()  # rings measured for the report
    on_demand: tuple[str, ...] = ()  # module paths the tests load themselves
    bench: tuple[str, ...] = ()  # instead of pytest: pyharness.benchguest's arguments
    profile: str = ""  # the profile's name, for tests that run in one lane only
    headers: str = ""  # the booted kernel's build tree (kbuild's KDIR), "" if unknown

    def dump(self, run_dir: Path) -> Path:
        path = run_dir / PLAN
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, run_dir: Path) -> Plan:
        data = json.loads((run_dir / PLAN).read_text())
        modules = tuple(ModuleSpec(m["path"], tuple(m["params"])) for m in data["modules"])
        layouts = tuple((str(i), int(b), int(s)) for i, b, s in data.get("layouts", []))
        on_demand = tuple(data.get("on_demand", ()))
        bench = tuple(data.get("bench", ()))
        return cls(
            modules,
            tuple(data["tests"]),
            tuple(data["pytest_args"]),
            layouts,
            on_demand,
            bench,
            str(data.get("profile", "")),
            str(data.get("headers", "")),
        )


@dataclass
class GuestResult:
    kernel: str
    clocksource: str
    cmdline: str
    uptime_at_start: float
    taint_at_start: int
    loads: list[dict[str, Any]] = field(default_factory=list)
    unloads: list[dict[str, Any]] = field(default_factory=list)
    pytest_returncode: int | None = None
    pytest_seconds: float = 0.0
    taint_at_end: int = 0


def _phase(name: str, action: Any) -> Any:
    guestkit.kmsg_write(begin_marker(name))
    try:
        return action()
    finally:
        guestkit.kmsg_write(end_marker(name))


def run(run_dir: Path) -> int:
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
        result.loads.append(asdict(op))
        print(f"guest: insmod {spec.name} {' '.join(spec.params)} -> {op.returncode}", flush=True)
    if all(load["returncode"] == 0 for load in result.loads) and plan.bench:
        result.pytest_returncode, result.pytest_seconds = _phase(
            "bench", lambda: _bench(run_dir, plan)
        )
    elif all(load["returncode"] == 0 for load in result.loads):
        result.pytest_returncode, result.pytest_seconds = _pytest(run_dir, plan)
        if plan.layouts:
            _phase("layout report", lambda: layoutreport.measure(list(plan.layouts), run_dir))
    for spec in reversed(plan.modules):
        if guestkit.loaded(spec.name):
            op = _phase(f"rmmod {spec.name}", lambda s=spec: guestkit.rmmod(s.name))
            result.unloads.append(asdict(op))
            print(f"guest: rmmod {spec.name} -> {op.returncode}", flush=True)
    result.taint_at_end = guestkit.taint()
    with guestkit.kmsg_reader(since_boot=True) as kmsg:
        (run_dir / "kmsg.txt").write_text("".join(kmsg.read()))
    tmp = run_dir / (RESULT + ".tmp")
    tmp.write_text(json.dumps(asdict(result), indent=2) + "\n")
    tmp.rename(run_dir / RESULT)
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
    argv = [sys.executable, "-m", "pyharness.benchguest", str(run_dir), *plan.bench]
    start = time.monotonic()
    proc = subprocess.run(argv, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    return proc.returncode, time.monotonic() - start


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
