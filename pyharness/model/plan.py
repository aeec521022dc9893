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
    bench: tuple[str, ...] = ()  # instead of pytest: pyharness.guest.benchguest's arguments
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


@dataclass(frozen=True)
class ModuleOp:
    """The outcome of one insmod or rmmod in the guest."""

    action: str  # "insmod" or "rmmod"
    module: str
    params: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleOp:
        return cls(
            str(data["action"]),
            str(data["module"]),
            tuple(data.get("params", ())),
            int(data["returncode"]),
            str(data["output"]),
            float(data.get("seconds", 0.0)),
        )


@dataclass
class GuestResult:
    """What the guest did, written last (result.json): its absence means the
    guest did not finish.  Times in seconds; taint as /proc/sys/kernel/tainted."""

    kernel: str  # uname -r
    clocksource: str
    cmdline: str
    uptime_at_start: float
    taint_at_start: int
    loads: list[ModuleOp] = field(default_factory=list)
    unloads: list[ModuleOp] = field(default_factory=list)
    pytest_returncode: int | None = None  # None: pytest (or the bench) never ran
    pytest_seconds: float = 0.0
    taint_at_end: int = 0

    def dump(self, run_dir: Path) -> Path:
        """Write result.json atomically (a reader never sees half of it)."""
        tmp = run_dir / (RESULT + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return tmp.rename(run_dir / RESULT)

    @classmethod
    def load(cls, run_dir: Path) -> GuestResult:
        """Read result.json; raises OSError if missing, KeyError/ValueError if malformed."""
        data = json.loads((run_dir / RESULT).read_text())
        returncode = data.get("pytest_returncode")
        return cls(
            str(data["kernel"]),
            str(data["clocksource"]),
            str(data["cmdline"]),
            float(data["uptime_at_start"]),
            int(data["taint_at_start"]),
            [ModuleOp.from_json(op) for op in data.get("loads", ())],
            [ModuleOp.from_json(op) for op in data.get("unloads", ())],
            None if returncode is None else int(returncode),
            float(data.get("pytest_seconds", 0.0)),
            int(data.get("taint_at_end", 0)),
        )
