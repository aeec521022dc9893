"""The host side of a run: what the guest left behind becomes a verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pyharness.host import report, vmtest
from pyharness.host.kernels import KernelTree
from pyharness.host.profiles import get
from pyharness.host.vm import BootRequest, BootResult
from pyharness.runner import Completed

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="0" failures="1" skipped="1" tests="4"><testcase classname="tests.vm.test_a"
 name="test_ok"/><testcase classname="tests.vm.test_a" name="test_bad"><failure message="x"/>
</testcase></testsuite></testsuites>"""


def booted(tmp_path: Path, console: str, timed_out: bool = False) -> BootResult:
    kernel = KernelTree("6.1.0-56", "6.1.0-56-amd64", tmp_path, None, "debian")
    req = BootRequest(kernel, get("plain"), ["true"], tmp_path, "tcg", 60, tmp_path)
    (tmp_path / "console.log").write_text(console)
    done = Completed(["vng"], None if timed_out else 255, console, 1.0)
    return BootResult(req, tmp_path / "console.log", done)


def guest_result(tmp_path: Path, **overrides: object) -> None:
    data = {
        "kernel": "6.1.0-56-amd64",
        "clocksource": "hpet",
        "cmdline": "",
        "uptime_at_start": 12.5,
        "taint_at_start": 0,
        "loads": [{"action": "insmod", "module": "masterdev", "returncode": 0, "output": ""}],
        "unloads": [{"action": "rmmod", "module": "masterdev", "returncode": 0, "output": ""}],
        "pytest_returncode": 0,
        "pytest_seconds": 1.0,
        "taint_at_end": 12288,
    }
    data.update(overrides)
    (tmp_path / "result.json").write_text(json.dumps(data))


def collect(tmp_path: Path, console: str = "", timed_out: bool = False) -> report.Report:
    rep = report.Report("6.1.0-56-amd64", "plain", "tcg", "TCG requested")
    vmtest._collect(
        rep, vmtest.Ran.of_boot(booted(tmp_path, console, timed_out)), tmp_path, bench=False
    )
    return rep


def test_junit_counts(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    counts = report.read_junit(tmp_path / "junit.xml")
    assert counts is not None
    assert (counts.total, counts.passed, counts.failed, counts.skipped) == (4, 2, 1, 1)
    assert counts.failing == ("tests.vm.test_a::test_bad",)


def test_clean_run_passes(tmp_path: Path) -> None:
    guest_result(tmp_path)
    rep = collect(tmp_path, "[    1.0] masterdev: loaded\n")
    assert rep.ok, rep.problems
    assert rep.boot_seconds == 12.5
    assert rep.taint == "12288 (OE)"
    assert "PASS" in rep.text()


def test_missing_result_means_the_guest_died(tmp_path: Path) -> None:
    rep = collect(tmp_path, "[    9.0] Kernel panic - not syncing: Fatal exception\n")
    assert any("no result.json" in p for p in rep.problems)
    assert any("oops" in p for p in rep.problems)


def test_timeout_is_reported(tmp_path: Path) -> None:
    assert any("timed out" in p for p in collect(tmp_path, timed_out=True).problems)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"pytest_returncode": 5}, "collected no tests"),
        ({"pytest_returncode": 1}, "tests failed"),
        ({"pytest_returncode": None}, "tests did not run"),
        ({"taint_at_end": 12288 | 1 << 5}, "taint raised: B"),
        ({"clocksource": "kvm-clock"}, ""),
        (
            {"loads": [{"action": "insmod", "module": "m", "returncode": 1, "output": "EEXIST"}]},
            "insmod m failed",
        ),
    ],
)
def test_problems(tmp_path: Path, overrides: dict[str, object], problem: str) -> None:
    guest_result(tmp_path, **overrides)
    problems = collect(tmp_path).problems
    if problem:
        assert any(problem in p for p in problems), problems
    else:
        assert problems == []


def test_kvm_requested_but_not_running(tmp_path: Path) -> None:
    guest_result(tmp_path)
    rep = report.Report("6.1.0-56-amd64", "plain", "kvm", "probed")
    vmtest._collect(rep, vmtest.Ran.of_boot(booted(tmp_path, "")), tmp_path, bench=False)
    assert any("clocksource is hpet" in p for p in rep.problems)


def test_page_maps_are_named_in_the_report(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data"
    shutil.copytree(data / "himem", tmp_path / "himem")
    rep = report.Report("6.1.0-56-amd64", "himem", "tcg", "TCG requested", run_dir=str(tmp_path))
    vmtest._draw_maps(rep, tmp_path)
    assert rep.ok, rep.problems
    assert rep.maps == ["maps/himem.png"]
    assert f"  {tmp_path / 'maps/himem.png'}" in rep.text().splitlines()
    assert "![himem](maps/himem.png)" in rep.markdown()


def test_a_map_that_does_not_parse_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "himem").mkdir()
    (tmp_path / "himem" / "summary").write_text("base: 0x1000\nsize: 8192\n")
    (tmp_path / "himem" / "regions").write_text("0x1000 4096\n")  # no owner
    rep = report.Report("6.1.0-56-amd64", "himem", "tcg", "TCG requested", run_dir=str(tmp_path))
    vmtest._draw_maps(rep, tmp_path)
    assert rep.problems and "page maps" in rep.problems[0]


def native_kmsg(run_dir: Path, body: str) -> None:
    """kmsg.txt as the runner saves it: since boot, an earlier run of the same
    boot with a WARNING of its own, then this run (named by its directory)."""
    (run_dir / "kmsg.txt").write_text(
        "4,1,1000000,-;WARNING: CPU: 0 PID: 1 at drivers/foo.c:1 foo_probe+0x1/0x2\n"
        " SUBSYSTEM=foo\n"
        "6,2,2000000,-;masterdma: run 20261201-200000-6.1.0-57-amd64-native\n"
        "4,3,2500000,-;WARNING: CPU: 1 PID: 8 at kmod/mdma/mdma_ring.c:1 x+0x1/0x2\n"
        f"6,4,3000000,-;masterdma: run {run_dir.name}\n" + body
    )


def judged_natively(run_dir: Path) -> report.Report:
    guest_result(run_dir)
    rep = report.Report("6.1.0-57-amd64", "users", vmtest.NATIVE, "no VM")
    ran = vmtest.Ran(
        Completed(["python"], 0, "", 1.0), vmtest.native_log(run_dir), "the native run", 60
    )
    vmtest._collect(rep, ran, run_dir, bench=False)
    return rep


def test_a_native_run_judges_the_kernel_log_from_its_own_marker_on(tmp_path: Path) -> None:
    """The machine's boot and the earlier runs of the same boot are not this
    run's; everything from its marker on is, after the last test too."""
    run_dir = tmp_path / "20261201-210000-6.1.0-57-amd64-native"
    run_dir.mkdir()
    native_kmsg(run_dir, "6,5,4000000,-;masterdma: begin insmod mdma\n"
                         "6,6,5000000,-;masterdma: end insmod mdma\n")  # fmt: skip
    log = vmtest.native_log(run_dir)
    assert log is not None and [line.number for line in log] == [4, 5, 6]
    rep = judged_natively(run_dir)
    assert rep.ok, rep.problems
    assert rep.boot_seconds is None  # the machine's uptime is no boot time
    native_kmsg(run_dir, "4,5,4000000,-;WARNING: CPU: 1 PID: 9 at kmod/mdma/mdma_ring.c:1 x+0x1\n")
    rep = judged_natively(run_dir)
    assert any("WARNING" in p for p in rep.problems), rep.problems


def test_a_native_run_without_its_kernel_log_fails_unjudged(tmp_path: Path) -> None:
    assert vmtest.native_log(tmp_path) is None  # the runner saved no kmsg.txt
    rep = judged_natively(tmp_path)
    assert rep.kernel_log == "not judged"
    assert any("no kernel log" in p for p in rep.problems), rep.problems
    native_kmsg(tmp_path, "")
    (tmp_path / "kmsg.txt").write_text("6,1,1,-;masterdma: run another-run\n")  # not ours
    assert vmtest.native_log(tmp_path) is None


def test_the_default_timeout_grows_with_longer_fuzz_and_concurrency_runs() -> None:
    assert vmtest.longer_runs_seconds(0, 0) == 0  # the defaults
    assert vmtest.longer_runs_seconds(100_000, 60) == 0
    assert vmtest.longer_runs_seconds(1_000_000, 0) == 3600  # README's longer fuzz run
    assert vmtest.longer_runs_seconds(0, 600) == 1620  # README's longer concurrency run


def test_the_default_fuzz_makes_its_100000_calls_in_plain_on_every_kernel() -> None:
    """Issue 14's default run: 100 000 calls; the whole-suite profiles that
    repeat it for their machine's DMA paths make fewer, never more."""
    assert get("plain").fuzz_calls == vmtest.DEFAULT_FUZZ_CALLS
    assert all(get(name).fuzz_calls <= vmtest.DEFAULT_FUZZ_CALLS for name in ("iommu", "users"))
    # every lane gets it, through vm-test, invoke test -j 1 and the LAVA plans alike
    assert get("plain").pytest_args() == ()
    assert get("users").pytest_args() == ("--fuzz-count", "25000")
