"""The kernel log judge, replayed on saved logs (see logs/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyharness.model import kjudge

LOGS = Path(__file__).parent / "logs"


def verdict_of(name: str) -> kjudge.Verdict:
    return kjudge.judge(kjudge.parse_console((LOGS / name).read_text()))


@pytest.mark.parametrize(
    ("log", "kind", "section"),
    [
        ("oops.log", "oops", "tests/vm/test_rings.py::test_open_asitx0"),
        ("kasan.log", "KASAN", "tests/vm/test_rings.py::test_map_entries"),
        ("kmemleak.log", "kmemleak", "tests/vm/test_rings.py::test_close_frees_everything"),
        ("lockdep.log", "lockdep", "tests/vm/test_allocator.py::test_two_clients"),
        ("hung-task.log", "hung task", None),
        ("dmar-fault.log", "DMAR fault", "tests/vm/test_edu.py::test_edu_reads_tx_descriptors"),
        ("warning-inject.log", "WARNING", "insmod masterdev"),
    ],
)
def test_saved_reports_fail_the_run(log: str, kind: str, section: str | None) -> None:
    verdict = verdict_of(log)
    assert not verdict.ok
    assert kind in verdict.kinds()
    first = next(f for f in verdict.findings if f.kind == kind)
    assert first.section == section
    report = verdict.report()
    assert first.line.text in report  # the excerpt is printed


def test_kmemleak_report_after_the_test_names_no_test() -> None:
    findings = verdict_of("kmemleak.log").findings
    assert {f.section for f in findings} == {
        "tests/vm/test_rings.py::test_close_frees_everything",
        None,
    }


def test_clean_boot_passes() -> None:
    verdict = verdict_of("clean-boot.log")
    assert verdict.ok, verdict.report()
    assert len(verdict.lines) > 300  # a whole boot was read, not an empty file


def test_dmar_boot_messages_are_not_faults() -> None:
    lines = kjudge.parse_console(
        "[    1.701162] DMAR: IOMMU enabled\n[ 1.8] DMAR: Host address width 39\n"
    )
    assert kjudge.judge(lines).ok


def test_expected_kind_is_excused_only_in_its_test() -> None:
    text = "\n".join(
        [
            "[ 1.0] " + kjudge.begin_marker("t::warns", ["WARNING"]),
            "[ 1.1] ------------[ cut here ]------------",
            "[ 1.2] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1 [masterdev]",
            "[ 1.3] Call Trace:",
            "[ 1.4] BUG: KASAN: use-after-free in f+0x0/0x1",
            "[ 1.5] " + kjudge.end_marker("t::warns"),
            "[ 1.6] WARNING: CPU: 0 PID: 1 at x.c:2 g+0x0/0x1 [masterdev]",
        ]
    )
    verdict = kjudge.judge(kjudge.parse_console(text))
    assert [f.kind for f in verdict.excused] == ["WARNING", "WARNING", "Call Trace"]
    assert [(f.kind, f.section) for f in verdict.findings] == [
        ("KASAN", "t::warns"),
        ("WARNING", None),
    ]


def test_messages_cut_into_command_output_are_judged() -> None:
    line = "tests/vm/test_x.py::test_y [   30.04] WARNING: CPU: 1 PID: 9 at a.c:3 h+0x1/0x2\n"
    assert kjudge.judge(kjudge.parse_console(line)).kinds() == ["WARNING"]
    assert kjudge.strip_kernel_message(line) == "tests/vm/test_x.py::test_y \n"


def test_kmsg_records_are_parsed() -> None:
    records = ["4,812,30263389,-;WARNING: CPU: 0 PID: 1 at a.c:1 f\n SUBSYSTEM=x\n", "junk"]
    lines = kjudge.parse_kmsg(records)
    assert [(line.number, line.seconds, line.text) for line in lines] == [
        (812, 30.263389, "WARNING: CPU: 0 PID: 1 at a.c:1 f")
    ]


def kmsg(*records: tuple[int, str]) -> list[kjudge.LogLine]:
    return kjudge.parse_kmsg(
        f"{prio},{n},{n * 1000},-;{text}\n" for n, (prio, text) in enumerate(records)
    )


def test_messages_at_err_level_are_findings_in_kmsg() -> None:
    """dma_pool_destroy() reports a busy pool with dev_err and leaks: no rule
    names it, its level does.  Levels below err (warn, info) are not findings."""
    busy = "mdma asitx0: dma_pool_destroy asitx0 busy"
    lines = kmsg((3, busy), (4, "allocator: free of 0x1000 by x refused"), (6, "loaded"))
    assert [line.level for line in lines] == [3, 4, 6]
    verdict = kjudge.judge(lines)
    assert verdict.kinds() == [kjudge.ERROR]
    assert verdict.findings[0].line.text == busy
    assert kjudge.judge(kmsg((2 + 8, "crit from a facility"))).kinds() == [kjudge.ERROR]
    assert kjudge.judge(kjudge.parse_console(f"[    1.0] {busy}\n")).ok  # a console has no levels


def test_an_expected_error_is_excused_but_not_a_call_trace() -> None:
    lines = kmsg(
        (6, kjudge.begin_marker("t", ["error"])),
        (3, "allocator: allocator_step=0: must be at least 1 (MiB)"),
        (4, "Call Trace:"),
        (6, kjudge.end_marker("t")),
    )
    verdict = kjudge.judge(lines)
    assert [f.kind for f in verdict.excused] == [kjudge.ERROR]
    assert verdict.kinds() == ["Call Trace"]


def test_excerpt_is_not_judged_again() -> None:
    verdict = verdict_of("oops.log")
    assert kjudge.parse_console(verdict.report()) == []


@pytest.mark.parametrize(
    ("before", "after", "raised"),
    [
        (0, kjudge.TAINT_OOT_MODULE | kjudge.TAINT_UNSIGNED_MODULE, ""),  # O/E alone passes
        (0, kjudge.TAINT_OOT_MODULE, ""),
        (0, kjudge.TAINT_WARN | kjudge.TAINT_OOT_MODULE, "W"),
        (kjudge.TAINT_WARN, kjudge.TAINT_WARN, ""),  # raised before: not this test's
        (0, 1 << 7, "D"),  # died
        (0, 1 << 5, "B"),  # bad page
    ],
)
def test_taint(before: int, after: int, raised: str) -> None:
    assert kjudge.new_taint(before, after) == raised


def test_taint_letters() -> None:
    assert kjudge.taint_letters(12288) == "OE"
    assert kjudge.taint_letters(12800) == "WOE"


def test_a_report_before_the_first_marker_is_charged_to_the_boot() -> None:
    """As in a debug run: KASAN in an early-boot interrupt, before any module of
    ours; it still fails the run (its taint switches lockdep off)."""
    lines = kjudge.parse_console(
        "[    0.015591] BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x11f/0x270\n"
        "[    0.015591] Disabling lock debugging due to kernel taint\n"
        f"[  132.729788] {kjudge.begin_marker('insmod mdma')}\n"
        f"[  135.793899] {kjudge.end_marker('insmod mdma')}\n"
    )
    verdict = kjudge.judge(lines)
    assert not verdict.ok
    assert [(f.kind, f.section) for f in verdict.findings] == [("KASAN", kjudge.BOOT)]
    assert f"KASAN during {kjudge.BOOT}" in verdict.report()
