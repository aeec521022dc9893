"""The report of a VM run: what ran where, what loaded, what passed, what the kernel said."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..model.kjudge import taint_letters


@dataclass(frozen=True)
class TestCounts:
    total: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failing: tuple[str, ...] = ()

    @property
    def passed(self) -> int:
        return self.total - self.failed - self.errors - self.skipped


def read_junit(path: Path) -> TestCounts | None:
    if not path.exists():
        return None
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = failed = errors = skipped = 0
    failing: list[str] = []
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failing.append(f"{case.get('classname')}::{case.get('name')}")
    return TestCounts(total, failed, errors, skipped, tuple(failing))


@dataclass
class Report:
    kernel: str
    profile: str
    accel: str
    accel_reason: str
    clocksource: str = "?"
    boot_seconds: float | None = None
    wall_seconds: float = 0.0
    modules: list[str] = field(default_factory=list)  # "insmod masterdev: ok"
    tests: TestCounts | None = None
    kernel_log: str = "clean"
    taint: str = ""
    problems: list[str] = field(default_factory=list)
    run_dir: str = ""
    layouts: str = ""  # the layout report, when rings were measured
    figures: str = ""  # figures to watch, measured by the tests
    maps: list[str] = field(default_factory=list)  # PNG page maps, relative to run_dir
    results: list[str] = field(default_factory=list)  # JUnit, KTAP, KCIDB, relative to run_dir

    @property
    def ok(self) -> bool:
        return not self.problems

    def rows(self) -> list[tuple[str, str]]:
        tests = "not run"
        if self.tests:
            t = self.tests
            tests = f"{t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped"
        boot = f"{self.boot_seconds:.1f} s" if self.boot_seconds is not None else "no boot"
        return [
            ("kernel", self.kernel),
            ("profile", self.profile),
            ("accelerator", f"{self.accel} ({self.accel_reason}); clocksource {self.clocksource}"),
            ("boot", f"{boot} to the guest runner, {self.wall_seconds:.1f} s in all"),
            ("modules", "; ".join(self.modules) or "none"),
            ("tests", tests),
            ("kernel log", self.kernel_log),
            ("taint", self.taint or "none"),
            ("result", "PASS" if self.ok else "FAIL: " + "; ".join(self.problems)),
            ("logs", self.run_dir),
            ("results", ", ".join(self.results) or "none"),
        ]

    def text(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = ["", "masterdma vm-test report", "=" * 24]
        lines += [f"{k:<{width}}  {v}" for k, v in self.rows()]
        if self.layouts:
            lines += ["", "Rings: measured in the kernel, the model, the seed's arithmetic"]
            lines += [self.layouts]
        if self.figures:
            lines += ["", "Figures to watch (measured, not judged)", self.figures]
        if self.maps:
            lines += ["", "Page maps (PNG)"]
            lines += [f"  {Path(self.run_dir) / name}" for name in self.maps]
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        lines = ["# masterdma vm-test report", "", "| | |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in self.rows()]
        if self.layouts:
            lines += ["", "## Rings", "", "```", self.layouts, "```"]
        if self.figures:
            lines += ["", "## Figures to watch", "", "```", self.figures, "```"]
        if self.maps:
            lines += ["", "## Page maps"]
            for name in self.maps:
                lines += ["", f"![{Path(name).stem}]({name})"]
        return "\n".join(lines) + "\n"

    def save(self, run_dir: Path) -> None:
        (run_dir / "report.md").write_text(self.markdown())
        (run_dir / "report.json").write_text(json.dumps(asdict(self), indent=2) + "\n")


def describe_taint(value: int) -> str:
    letters = taint_letters(value)
    return f"{value} ({letters})" if letters else "0"
