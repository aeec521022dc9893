"""Judge a kernel log: any oops, BUG, WARNING, sanitizer, leak, lockdep, hung task
or DMAR fault report fails the run, and the excerpt is printed.  Records of
/dev/kmsg carry their level, and there any message at err level or worse
(emerg, alert, crit, err) is a finding of kind "error" too, such as
dma_pool_destroy()'s "busy" when a pool is destroyed with blocks in use.

It reads the serial console of a boot (lines with a ``[ seconds]`` stamp; the
guest command's own output has none) or records of /dev/kmsg.  Each VM test
writes ``masterdma: begin <test> [expect=KIND,...]`` and ``masterdma: end
<test>`` to /dev/kmsg, so a finding is charged to the test that was running,
and a test that provokes a report on purpose declares it and is excused for
that kind only.  Pure functions, no I/O: used on the host and in the guest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MARK = "masterdma:"
BEGIN = f"{MARK} begin "
END = f"{MARK} end "
# The guest runner's first line in the kernel log: where a run on a machine that
# stays up (invoke native) starts, after the earlier runs of the same boot.
RUN = f"{MARK} run "

# First match wins: specific reports before the generic BUG/WARNING they start with.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("KASAN", r"\bKASAN:"),
        ("UBSAN", r"\bUBSAN:"),
        ("kmemleak", r"^unreferenced object 0x|kmemleak: \d+ new suspected memory leaks"),
        (
            "lockdep",
            r"possible circular locking dependency|possible recursive locking detected"
            r"|inconsistent lock state|suspicious RCU usage|bad unlock balance detected"
            r"|possible irq lock inversion|DEBUG_LOCKS_WARN_ON|trying to register non-static key"
            r"|held lock freed|lock held when returning to user space",
        ),
        ("hung task", r"^INFO: task \S+ blocked for more than \d+ seconds"),
        ("DMAR fault", r"DMAR: \[(?:DMA (?:Read|Write)|INTR-REMAP)|DMAR: DRHD: handling fault"),
        ("lockup", r"BUG: soft lockup|rcu: INFO: \w+ (?:self-)?detected stall|hard LOCKUP"),
        (
            "oops",
            r"^Oops:|^general protection fault|^BUG: unable to handle|^Kernel panic"
            r"|^kernel BUG at|^invalid opcode:",
        ),
        ("BUG", r"^BUG:"),
        ("WARNING", r"^WARNING:|^-+\[ cut here \]-+$"),
        ("Call Trace", r"^Call Trace:"),
    )
)

ERROR = "error"  # a message at LOGLEVEL_ERR or worse that no rule above names
LOGLEVEL_ERR = 3

# Kernel taint flags, bit number -> letter (include/linux/panic.h).
TAINT_LETTERS = "PFSRMBUDAWCIOELKXTN"
TAINT_OOT_MODULE = 1 << 12  # O: out-of-tree module loaded
TAINT_UNSIGNED_MODULE = 1 << 13  # E: unsigned module loaded
TAINT_WARN = 1 << 9  # W
ALLOWED_TAINT = TAINT_OOT_MODULE | TAINT_UNSIGNED_MODULE

_STAMPED = re.compile(r"\[\s*(\d+\.\d+)\] ?(.*)")


@dataclass(frozen=True)
class LogLine:
    """One kernel message with its position in the log it came from."""

    number: int
    seconds: float
    text: str
    level: int | None = None  # syslog level of a /dev/kmsg record; None on a console

    def render(self) -> str:
        # No brackets: an excerpt echoed on the console must not be judged again.
        return f"{self.number:6d}| {self.seconds:12.6f} {self.text}"


@dataclass(frozen=True)
class Finding:
    kind: str
    line: LogLine
    section: str | None  # the test that was running, None outside tests


@dataclass
class Verdict:
    """The findings of a log, those that fail it and those a test declared."""

    lines: list[LogLine]
    findings: list[Finding] = field(default_factory=list)
    excused: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def kinds(self) -> list[str]:
        return sorted({f.kind for f in self.findings})

    def report(self, context_after: int = 40) -> str:
        """Each finding with its excerpt; findings inside a shown excerpt are not repeated."""
        out: list[str] = []
        shown_until = -1
        index = {line.number: i for i, line in enumerate(self.lines)}
        for finding in self.findings:
            where = f" during {finding.section}" if finding.section else ""
            out.append(f"kernel log: {finding.kind}{where} at line {finding.line.number}")
            i = index[finding.line.number]
            if i <= shown_until:
                continue
            start = max(i - 3, shown_until + 1)
            stop = min(i + context_after, len(self.lines) - 1)
            out.extend(line.render() for line in self.lines[start : stop + 1])
            shown_until = stop
        return "\n".join(out)


def parse_console(text: str) -> list[LogLine]:
    """Kernel messages of a serial console log (lines without a stamp are skipped)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        match = _STAMPED.search(raw)
        if match:
            lines.append(LogLine(number, float(match.group(1)), match.group(2).rstrip()))
    return lines


def strip_kernel_message(raw: str) -> str:
    """A console line without its kernel message, keeping the newline."""
    match = _STAMPED.search(raw)
    if match is None:
        return raw
    return raw[: match.start()] + ("\n" if raw.endswith("\n") and match.start() else "")


def parse_kmsg(records: Iterable[str]) -> list[LogLine]:
    """Messages of /dev/kmsg records ("prio,seq,usec,flags;text"; continuation lines skipped)."""
    lines = []
    for record in records:
        header, sep, text = record.partition(";")
        fields = header.split(",")
        if not sep or len(fields) < 3 or not fields[1].isdigit():
            continue
        first = text.split("\n", 1)[0]
        level = int(fields[0]) & 7 if fields[0].isdigit() else None
        lines.append(LogLine(int(fields[1]), int(fields[2]) / 1e6, first.rstrip(), level))
    return lines


def classify(text: str, level: int | None = None) -> str | None:
    for kind, pattern in RULES:
        if pattern.search(text):
            return kind
    if level is not None and level <= LOGLEVEL_ERR:
        return ERROR
    return None


# Where a finding before the guest's first marker happened: the kernel's own
# boot, before any module of ours (a report there is not ours, but it still
# fails the run: KASAN's taint, for one, switches lockdep off for the rest).
BOOT = "the kernel's boot, before any module of ours"


def judge(lines: list[LogLine]) -> Verdict:
    """Findings of a log, charged to the test section they occurred in."""
    verdict = Verdict(lines)
    section: str | None = None
    expected: frozenset[str] = frozenset()
    # before the first marker, if there is one (a log without markers says nothing)
    booting = any(line.text.startswith(BEGIN) for line in lines)
    for line in lines:
        if line.text.startswith(BEGIN):
            section, expected = _parse_begin(line.text[len(BEGIN) :])
            booting = False
            continue
        if line.text.startswith(END):
            section, expected = None, frozenset()
            continue
        kind = classify(line.text, line.level)
        if kind is None:
            continue
        finding = Finding(kind, line, BOOT if booting else section)
        # a declared report brings its call trace; an expected error message does not
        excusable = kind in expected or (kind == "Call Trace" and bool(expected - {ERROR}))
        (verdict.excused if excusable else verdict.findings).append(finding)
    return verdict


def _parse_begin(rest: str) -> tuple[str, frozenset[str]]:
    name, _, expect = rest.partition(" expect=")
    kinds = frozenset(k for k in expect.split(",") if k) if expect else frozenset()
    return name.strip(), kinds


def strip_markers(lines: list[LogLine]) -> list[LogLine]:
    """The lines without test markers: judge a slice of log as if no test declared it."""
    return [line for line in lines if not line.text.startswith(MARK)]


def begin_marker(test: str, expect: Iterable[str] = ()) -> str:
    kinds = ",".join(sorted(expect))
    return f"{BEGIN}{test}" + (f" expect={kinds}" if kinds else "")


def end_marker(test: str) -> str:
    return f"{END}{test}"


def run_marker(run: str) -> str:
    """The runner's first kernel message, naming its run directory."""
    return f"{RUN}{run}"


def since_run(lines: list[LogLine], run: str) -> list[LogLine] | None:
    """The lines from run's marker on (the last, if a run dir name repeats);
    None if the marker is not there."""
    marker = run_marker(run)
    starts = [i for i, line in enumerate(lines) if line.text == marker]
    return lines[starts[-1] :] if starts else None


def taint_letters(value: int) -> str:
    """The kernel's letters for a taint mask, e.g. 12288 -> "OE"."""
    return "".join(ch for bit, ch in enumerate(TAINT_LETTERS) if value & (1 << bit))


def new_taint(before: int, after: int, allowed: int = ALLOWED_TAINT) -> str:
    """Letters of taint raised between before and after beyond what is allowed."""
    return taint_letters(after & ~before & ~allowed)
