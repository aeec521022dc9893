"""What the host asks of the guest (plan.json) and what the guest did
(result.json): the files a VM run exchanges, shared by both sides.  Pure:
the standard library only."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    dkms_tarball: str = ""  # DKMS's binaries-only tarball built on the host, "" if none

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
            str(data.get("dkms_tarball", "")),
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
