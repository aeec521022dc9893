"""Merge the results of several runs (CI's matrix: a kernel and a profile a job)
into one JUnit file and one KTAP file.

Standard library only, so that a CI job that only merges needs no venv:
``python3 -m pyharness.model.results --out merged runs/`` finds every run directory
(one holding ``junit.xml``) below the paths given.  In the merged KTAP each
run is a top-level test named after its directory (``<time>-<kernel>-<profile>``)
holding that run's tests as subtests; in the merged JUnit each run's test
suites are renamed after it.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

JUNIT = "junit.xml"
KTAP = "results.ktap"  # ktap.FILE_NAME, not imported: this module stays alone
INDENT = "    "
COUNTS = ("tests", "failures", "errors", "skipped")


PLAN = "plan.json"  # plan.PLAN: every run directory has one


def run_dirs(roots: Sequence[Path], out: Path | None = None) -> list[Path]:
    """Every run directory (one holding the host's plan.json) below the
    roots, sorted, each once (build/runs/latest is a link to one of them);
    out, where an earlier merge wrote, is not a run."""
    found = {p.parent.resolve() for root in roots for p in Path(root).rglob(PLAN)}
    if out is not None:
        found = {d for d in found if not d.is_relative_to(out.resolve())}
    return sorted(found, key=lambda p: p.name)


def merge_ktap(runs: Sequence[tuple[str, str]]) -> str:
    """One KTAP document of (name, KTAP text) pairs: a run is not ok when one
    of its top-level tests is."""
    lines = ["KTAP version 1", f"1..{len(runs)}"]
    for number, (name, text) in enumerate(runs, 1):
        body = text.splitlines()
        if body[:1] == ["KTAP version 1"]:
            body = body[1:]
        failed = any(line.startswith("not ok ") for line in body)
        lines += [f"{INDENT}KTAP version 1", f"{INDENT}# Subtest: {name}"]
        lines += [f"{INDENT}{line}" if line else line for line in body]
        lines.append(f"{'not ok' if failed else 'ok'} {number} {name}")
    return "\n".join(lines) + "\n"


# A run that left no results files: the guest or the host died before them.
NO_KTAP = "KTAP version 1\n1..1\nnot ok 1 results # the run wrote no results.ktap\n"


def _missing(name: str) -> ET.Element:
    """The JUnit suite of a run that wrote no junit.xml: one error."""
    suite = ET.Element("testsuite", {"name": name, "tests": "1", "errors": "1"})
    case = ET.SubElement(suite, "testcase", {"classname": "run", "name": "suite"})
    ET.SubElement(case, "error", {"message": "the guest wrote no junit.xml: see console.log"})
    return suite


def merge_junit(runs: Sequence[tuple[str, Path]]) -> ET.ElementTree[ET.Element]:
    """One <testsuites> of every run's suites, each named after its run (and
    its test cases' classnames prefixed with it), with the totals summed; a
    run without a JUnit file is one error."""
    merged = ET.Element("testsuites", {"name": "masterdma"})
    totals = dict.fromkeys(COUNTS, 0)
    time = 0.0
    for name, path in runs:
        root = ET.parse(path).getroot() if path.exists() else _missing(name)
        for suite in [root] if root.tag == "testsuite" else list(root.iter("testsuite")):
            suite.set("name", name)
            for case in suite.iter("testcase"):
                case.set("classname", f"{name}.{case.get('classname', '')}")
            for key in COUNTS:
                totals[key] += int(suite.get(key, 0))
            time += float(suite.get("time", 0))
            merged.append(suite)
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{time:.3f}")
    return ET.ElementTree(merged)


def merge(roots: Sequence[Path], out: Path) -> list[Path]:
    """out/junit.xml and out/results.ktap from the runs below roots; returns
    the runs merged.  A run without its KTAP file (older harness) is left out
    of the KTAP file only."""
    dirs = run_dirs(roots, out)
    if not dirs:
        raise SystemExit(f"no run directory ({PLAN}) below {', '.join(map(str, roots))}")
    out.mkdir(parents=True, exist_ok=True)
    merge_junit([(d.name, d / JUNIT) for d in dirs]).write(
        out / JUNIT, encoding="utf-8", xml_declaration=True
    )
    ktaps = [(d.name, (d / KTAP).read_text() if (d / KTAP).exists() else NO_KTAP) for d in dirs]
    (out / KTAP).write_text(merge_ktap(ktaps))
    return dirs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m pyharness.model.results", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory for the merged files")
    parser.add_argument("roots", type=Path, nargs="+", help="directories holding run directories")
    args = parser.parse_args(argv)
    dirs = merge(args.roots, args.out)
    print(f"merged {len(dirs)} runs into {args.out / JUNIT} and {args.out / KTAP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
