"""The results CI systems read: KTAP that the kernel's kunit.py parses with the
counts JUnit gives, and a KCIDB report that kcidb-io's schema accepts.

The JUnit file is pytest's own, from a small suite run here with a pass, a
failure, an error in a fixture, a skip and parametrised cases.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyharness.config import Paths
from pyharness.host import kcidb, lint
from pyharness.host.report import read_junit
from pyharness.model import ktap

SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("a fixture # that fails")

def test_passes():
    pass

def test_fails():
    assert 1 == 2, "one is not two"

def test_errors(broken):
    pass

def test_skips():
    pytest.skip("needs the himem profile")

@pytest.mark.parametrize("ring", ["asitx0-1000x9588", "sdirx0-12x5000", "x.y/z"])
def test_ring(ring):
    assert ring != "sdirx0-12x5000"

@pytest.mark.parametrize("n", [1, 2])
def test_all_skipped(n):
    pytest.skip("no IOMMU")

@pytest.fixture
def breaks_after():
    yield
    raise RuntimeError("teardown")

def test_fails_then_errors_in_teardown(breaks_after):
    assert False, "the call"

@pytest.mark.parametrize("name", ["a#b", "x # SKIP y", "a.b", "a_b"])
def test_names(name):
    pass
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory with the JUnit file of SUITE and a console log."""
    here = tmp_path_factory.mktemp("run")
    (here / "tests").mkdir()
    (here / "tests" / "test_sample.py").write_text(SUITE)
    (here / "console.log").write_text("[    0.000000] Linux version 6.1.0\n")
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
         f"--junitxml={here / 'junit.xml'}"],
        cwd=here, capture_output=True, check=False,
    )  # fmt: skip
    return here


def summary(output: str) -> dict[str, int]:
    """kunit.py's last line: "Ran N tests: passed: P, failed: F, skipped: S[, errors: E]"."""
    found = re.search(r"Ran (\d+) tests?: (.*)", output)
    assert found, output
    counts = {"ran": int(found[1])}
    counts |= {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", found[2])}
    return counts


def test_ktap_nests_functions_and_parameters(run_dir: Path) -> None:
    text = ktap.render([*ktap.from_junit(run_dir / "junit.xml"), ktap.kernel_log_case([])])
    assert text.startswith("KTAP version 1\n1..2\n")
    assert "    # Subtest: test_sample\n" in text
    assert "        # Subtest: test_ring\n" in text
    assert "        not ok 2 sdirx0-12x5000\n" in text
    assert "    not ok 5 test_ring\n" in text
    assert "    ok 6 test_all_skipped # SKIP no IOMMU\n" in text
    assert "    ok 4 test_skips # SKIP needs the himem profile\n" in text
    assert "not ok 1 test_sample\nok 2 kernel_log\n" in text
    assert "#  that fails" not in text and "a fixture  that fails" in text
    # pytest's two entries for a failed call and a failed teardown: one test
    assert text.count("ok 7 test_fails_then_errors_in_teardown") == 1
    assert "        ok 1 a_b\n" in text and "        ok 2 x _ SKIP y\n" in text


def test_kunit_parse_reads_our_ktap_with_the_counts_of_junit(run_dir: Path, tmp_path: Path) -> None:
    """The kernel's own KTAP parser (tools/testing/kunit from linux-source-6.1)."""
    paths = Paths.default()
    run_dir = Path(shutil.copytree(run_dir, tmp_path / "run"))
    out = ktap.write(run_dir, ["FAIL: oops"])
    assert out is not None
    ktap.write(run_dir, ["FAIL: oops"])  # again: junit.xml keeps one kernel_log case
    assert (run_dir / "junit.xml").read_text().count('<testcase classname="kernel_log"') == 1
    done = subprocess.run(
        [sys.executable, lint.kunit_tool(paths), "parse", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "[ERROR]" not in done.stdout, done.stdout
    junit = read_junit(run_dir / "junit.xml")
    assert junit is not None
    got = summary(done.stdout)
    assert got.get("errors", 0) == 0, done.stdout
    # kunit.py counts the leaves, the kernel log's verdict among them as in
    # JUnit; but JUnit counts a failed call and its failed teardown twice, KTAP once
    teardowns = 1
    assert got["ran"] == junit.total - teardowns
    assert got["failed"] == junit.failed + junit.errors - teardowns
    assert "crashed" not in got, done.stdout
    assert got["skipped"] == junit.skipped
    assert got["passed"] == junit.passed
    assert done.returncode == 1  # failures, parsed


def kcidb_report(run_dir: Path, files_url: str = "") -> dict[str, object]:
    run = kcidb.Run(
        "0123456789abcdef0123456789abcdef01234567", False, "6.1.0-57-amd64", "plain", "tcg",
        run_dir, datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC), 212.5, booted=True,
        files_url=files_url,
    )  # fmt: skip
    return kcidb.report(run, ktap.from_junit(run_dir / "junit.xml"))


def test_the_kcidb_report_validates_and_has_one_test_per_guest_test(run_dir: Path) -> None:
    data = kcidb_report(run_dir)
    kcidb.validate(data)
    tests = data["tests"]
    assert isinstance(tests, list)
    junit = read_junit(run_dir / "junit.xml")
    assert junit is not None
    assert len(tests) == junit.total - 1 + 2  # the teardown's entry; the boot, the log
    assert len({t["id"] for t in tests}) == len(tests)
    by_path = {t["path"]: t for t in tests}
    (unsafe,) = [p for p in by_path if p.startswith("masterdma.test_sample.test_ring.x_y_z")]
    assert by_path[unsafe]["status"] == "PASS"
    names = [p for p in by_path if p.startswith("masterdma.test_sample.test_names.a")]
    assert len(names) == 3  # a#b, a.b and a_b: three tests, not one
    assert by_path["masterdma.test_sample.test_ring.sdirx0-12x5000"]["status"] == "FAIL"
    assert by_path["masterdma.test_sample.test_skips"]["status"] == "SKIP"
    assert by_path["masterdma.kernel_log"]["status"] == "PASS"
    boot = by_path["masterdma.boot"]
    assert [f["name"] for f in boot["output_files"]] == ["console.log"]
    assert boot["output_files"][0]["url"].startswith("file:///")
    assert {t["build_id"] for t in tests} == {data["builds"][0]["id"]}  # type: ignore[index]


def test_the_kcidb_files_point_where_the_runs_are_served(run_dir: Path) -> None:
    """MASTERDMA_RUNS_URL: the files' URLs are under it, not file:// paths."""
    data = kcidb_report(run_dir, files_url="https://ci.example/runs/20261201-6.1-plain/")
    kcidb.validate(data)
    tests = data["tests"]
    assert isinstance(tests, list)
    (boot,) = [t for t in tests if t["path"] == "masterdma.boot"]
    url = "https://ci.example/runs/20261201-6.1-plain/console.log"
    assert boot["output_files"] == [{"name": "console.log", "url": url}]
    logs = {t["log_url"] for t in tests if "log_url" in t}
    assert logs == {"https://ci.example/runs/20261201-6.1-plain/junit.xml"}


def test_an_invalid_kcidb_report_is_refused(run_dir: Path) -> None:
    data = kcidb_report(run_dir)
    data["tests"][0]["status"] = "GREEN"  # type: ignore[index]
    with pytest.raises(ValueError, match="GREEN"):
        kcidb.validate(data)


def test_merged_runs_parse_with_every_run_counted(run_dir: Path, tmp_path: Path) -> None:
    """CI's merge job: two runs (a link to one of them, as build/runs/latest,
    counts once) become one JUnit and one KTAP file that kunit.py reads."""
    run_dir = Path(shutil.copytree(run_dir, tmp_path / "run"))
    assert ktap.write(run_dir, []) is not None
    junit = read_junit(run_dir / "junit.xml")  # with the kernel_log case
    assert junit is not None
    runs = tmp_path / "runs"
    for name in ("20261201-1200-6.1.0-57-amd64-plain", "20261201-1200-6.12.117-amd64-users"):
        (runs / name).mkdir(parents=True)
        for file in ("junit.xml", ktap.FILE_NAME):
            (runs / name / file).write_bytes((run_dir / file).read_bytes())
        (runs / name / "plan.json").write_text("{}")
    (runs / "latest").symlink_to("20261201-1200-6.1.0-57-amd64-plain")
    crashed = runs / "20261201-1300-6.1.0-57-amd64-iommu"  # a guest that died: no junit
    crashed.mkdir()
    (crashed / "plan.json").write_text("{}")
    out = runs / "merged"  # inside the root, and merged twice: never a run itself
    for _ in range(2):
        assert subprocess.run(
            [sys.executable, "-m", "pyharness.model.results", "--out", str(out), str(runs)],
            cwd=Path(__file__).parents[2], check=False,
        ).returncode == 0  # fmt: skip
    merged = read_junit(out / "junit.xml")
    assert merged is not None
    assert (merged.total, merged.failed, merged.errors, merged.skipped) == (
        2 * junit.total + 1, 2 * junit.failed, 2 * junit.errors + 1, 2 * junit.skipped,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, lint.kunit_tool(Paths.default()), "parse", str(out / ktap.FILE_NAME)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    got = summary(done.stdout)
    assert got.get("errors", 0) == 0, done.stdout
    assert got["ran"] == 2 * (junit.total - 1) + 1  # KTAP: a teardown less a run; the crashed run
    assert "# Subtest: 20261201-1200-6.12.117-amd64-users" in (out / ktap.FILE_NAME).read_text()


@pytest.mark.parametrize("with_junit", [True, False], ids=["junit", "crashed"])
def test_every_run_writes_its_results_files(
    run_dir: Path, tmp_path: Path, with_junit: bool
) -> None:
    """The pipeline's last step: KTAP and KCIDB beside junit.xml, named in the
    report; a guest that died before pytest wrote still gets both, failed."""
    from pyharness.host import vmtest  # noqa: PLC0415  (the host pipeline, for this test only)
    from pyharness.host.report import Report  # noqa: PLC0415

    here = tmp_path / "20261201-1200-6.1.0-57-amd64-plain"
    here.mkdir()
    (here / "console.log").write_text("boot\n")
    if with_junit:
        (here / "junit.xml").write_bytes((run_dir / "junit.xml").read_bytes())
    report = Report("6.1.0-57-amd64", "plain", "tcg", "TCG requested", run_dir=str(here))
    paths = Paths(root=Path(__file__).parents[2], cache=tmp_path, build=tmp_path)
    started = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    vmtest._results_files(report, paths, here, started, 10.0)
    assert report.problems == []
    names = ["junit.xml", ktap.FILE_NAME, kcidb.FILE_NAME]
    assert report.results == (names if with_junit else names[1:])
    text = (here / ktap.FILE_NAME).read_text()
    assert ("not ok 1 suite" in text) != with_junit
    statuses = {
        t["path"]: t["status"] for t in json.loads((here / kcidb.FILE_NAME).read_text())["tests"]
    }
    assert statuses["masterdma.boot"] == "FAIL"  # no result.json here: the guest did not finish
