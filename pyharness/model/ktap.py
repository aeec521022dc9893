"""A VM run's results as KTAP, the kernel's test output format.

The source is the guest's JUnit file (pytest's --junitxml): one top-level
test per test file, a subtest per test function, and below a parametrised
function a subtest per parameter set; a last top-level test, ``kernel_log``,
is the harness's verdict on the kernel log (oops, BUG, WARNING, KASAN...),
which the JUnit file gets as its last case too.
The format is Documentation/dev-tools/ktap.rst (KTAP version 1), as the
kernel's ``tools/testing/kunit/kunit.py parse`` reads it.  Pure: no guest
dependency, no I/O but the files named.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

INDENT = "    "
FILE_NAME = "results.ktap"


@dataclass
class Case:
    """One test and its outcome: ``ok``, ``not ok`` or ``skip``, with the
    first line of the failure or skip message."""

    name: str
    outcome: str = "ok"
    message: str = ""
    children: list[Case] = field(default_factory=list)
    seconds: float = 0.0  # how long it ran, as JUnit says
    source: str = ""  # the name as JUnit gives it, when KTAP's had to change it

    @property
    def original(self) -> str:
        return self.source or self.name

    def walk(self, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Case]]:
        """Every leaf with the names from the top down to it."""
        here = (*prefix, self.original)
        if not self.children:
            return [(here, self)]
        return [pair for child in self.children for pair in child.walk(here)]


def _clean(text: str) -> str:
    """One line, without the ``#`` that would start a KTAP directive."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first.replace("#", "").strip()


def _name(text: str) -> str:
    """A test name KTAP can carry: one line, no ``#`` (a directive would
    start there), no leading ``- `` (read as the optional dash)."""
    name = " ".join(text.split()).replace("#", "_")
    return name.removeprefix("- ") or "unnamed"


def _module(classname: str) -> str:
    """``tests.vm.test_rings`` -> ``test_rings``; a class keeps its file
    (``test_rings.TestK``)."""
    parts = classname.split(".")
    while len(parts) > 1 and parts[0] in {"tests", "vm", "host"}:
        parts = parts[1:]
    return ".".join(parts) or "unknown"


def _outcome(case: ET.Element) -> tuple[str, str]:
    for tag in ("failure", "error"):
        found = case.find(tag)
        if found is not None:
            return "not ok", _clean(found.get("message") or found.text or tag)
    skipped = case.find("skipped")
    if skipped is not None:
        return "skip", _clean(skipped.get("message") or "skipped")
    return "ok", ""


def _grouped(name: str, outcome: str, message: str, children: list[Case]) -> Case:
    """A group is not ok if a child is, skipped if every child is."""
    if any(c.outcome == "not ok" for c in children):
        outcome = "not ok"
    elif children and all(c.outcome == "skip" for c in children):
        outcome = "skip"
        reasons = {c.message for c in children}
        message = reasons.pop() if len(reasons) == 1 else "every subtest skipped"
    return Case(name, outcome, message, children)


def from_junit(path: Path) -> list[Case]:
    """The test files of a JUnit file, in run order, as KTAP cases.

    ``tests.vm.test_rings`` / ``test_ring[sditx0-3x4095]`` becomes the case
    ``test_rings``, subtest ``test_ring``, subtest ``sditx0-3x4095``.
    """
    files: dict[str, dict[str, dict[str, Case]]] = {}
    log: list[Case] = []
    for element in ET.parse(path).getroot().iter("testcase"):
        if element.get("classname") == KERNEL_LOG:  # add_kernel_log_to_junit()'s, top level
            log = [Case(KERNEL_LOG, *_outcome(element))]
            continue
        module = _module(element.get("classname") or "unknown")
        function, _, params = (element.get("name") or "unnamed").partition("[")
        source = params[:-1] if params else function
        outcome, message = _outcome(element)
        runs = files.setdefault(module, {}).setdefault(_name(function), {})
        if source in runs:  # pytest's second entry: an error in teardown after the call
            seen = runs[source]
            if outcome == "not ok":
                seen.message = "; ".join(m for m in (seen.message, message) if m)
                seen.outcome = "not ok"
            seen.seconds += float(element.get("time") or 0)
            continue
        name = _name(source)
        runs[source] = Case(
            name, outcome, message, seconds=float(element.get("time") or 0),
            source=source if name != source else "",
        )  # fmt: skip
    cases = []
    for module, functions in files.items():
        children = []
        for function, by_name in functions.items():
            tests = list(by_name.values())
            if len(tests) == 1 and tests[0].name == function:
                children.append(tests[0])
            else:
                children.append(_grouped(function, "ok", "", tests))
        cases.append(_grouped(module, "ok", "", children))
    return (cases or [Case("suite", "not ok", "pytest collected no tests")]) + log


def render(cases: list[Case]) -> str:
    """KTAP version 1 text of the cases, subtests indented four spaces."""
    lines: list[str] = ["KTAP version 1"]

    def emit(group: list[Case], depth: int, name: str = "") -> None:
        pad = INDENT * depth
        if depth:
            lines.extend((f"{pad}KTAP version 1", f"{pad}# Subtest: {name}"))
        lines.append(f"{pad}1..{len(group)}")
        for number, case in enumerate(group, 1):
            if case.children:
                emit(case.children, depth + 1, case.name)
            if case.message and case.outcome == "not ok":
                lines.append(f"{pad}# {case.name}: {case.message}")
            status = "not ok" if case.outcome == "not ok" else "ok"
            skip = f" # SKIP {case.message}".rstrip() if case.outcome == "skip" else ""
            lines.append(f"{pad}{status} {number} {case.name}{skip}")

    emit(cases, 0)
    return "\n".join(lines) + "\n"


KERNEL_LOG = "kernel_log"


def kernel_log_case(problems: list[str]) -> Case:
    """The kernel log's verdict as its own test: not ok with its reports."""
    if not problems:
        return Case(KERNEL_LOG)
    return Case(KERNEL_LOG, "not ok", _clean("; ".join(problems)))


def add_kernel_log_to_junit(junit: Path, problems: list[str]) -> None:
    """The kernel log's verdict as the JUnit file's last test case too
    (classname and name ``kernel_log``), so that JUnit and KTAP count the
    same tests; its suite's counts follow.  Once: a file that has it is
    left alone."""
    tree = ET.parse(junit)
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None or any(c.get("classname") == KERNEL_LOG for c in root.iter("testcase")):
        return
    case = ET.SubElement(
        suite, "testcase", {"classname": KERNEL_LOG, "name": KERNEL_LOG, "time": "0"}
    )
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    if problems:
        ET.SubElement(case, "failure", {"message": "; ".join(problems)})
        suite.set("failures", str(int(suite.get("failures", "0")) + 1))
    tree.write(junit, encoding="utf-8", xml_declaration=True)


NO_JUNIT = "the guest wrote no junit.xml (a crash, a panic or a timeout: see console.log)"


def cases_of(run_dir: Path) -> list[Case]:
    """The run's tests from its JUnit file; one failed ``suite`` case when
    the guest wrote none."""
    junit = run_dir / "junit.xml"
    return from_junit(junit) if junit.exists() else [Case("suite", "not ok", NO_JUNIT)]


def write(run_dir: Path, kernel_log_problems: list[str]) -> Path:
    """run_dir/results.ktap from run_dir/junit.xml and the kernel log's
    verdict, which becomes junit.xml's last case too."""
    junit = run_dir / "junit.xml"
    if junit.exists():
        add_kernel_log_to_junit(junit, kernel_log_problems)
    cases = cases_of(run_dir)
    if cases[-1].name != KERNEL_LOG:
        cases.append(kernel_log_case(kernel_log_problems))
    out = run_dir / FILE_NAME
    out.write_text(render(cases))
    return out
