"""Fault sweeps and the page-leak oracle, run in the guest (tests/vm/test_faults.py).

Each module's test build has fault points (kmod/include/master/faults.h):
``fail_nth``, ``fail_times`` and ``fail_log`` in its debugfs directory.  A
sweep arms N = 1, 2, ... and runs one operation each time, until the
operation succeeds without reaching the Nth point: every allocation and
mapping of the operation has then failed once, in order.  The sites failed,
in order, are the sweep's result, so a test can assert how many points an
operation has: a new allocation without a fault point changes the count.

The page-leak oracle counts pages outside any module's bookkeeping:
``pgalloc_*`` minus ``pgfree`` in /proc/vmstat is the net number of pages the
page allocator handed out, whatever sits on the per-CPU lists; less what
slab, page tables, stacks, page cache and anonymous memory account for, it is
what drivers hold.  Over many cycles of an operation a leak of one page per
cycle stands out of the noise (on the debug kernel too, where KASAN's
quarantine keeps freed slab objects).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEBUGFS = Path("/sys/kernel/debug")
VMSTAT = Path("/proc/vmstat")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
KERNEL_FAIL_NTH = Path("/proc/thread-self/fail-nth")


class Points(Protocol):
    """What a sweep arms: one module's fault points, or the kernel's fail-nth."""

    def arm(self, nth: int, times: int = 1) -> None: ...

    def disarm(self) -> int: ...

    def injected(self) -> tuple[int, str]: ...


@dataclass(frozen=True)
class FaultPoints:
    """One module's fault points: the debugfs directory holding fail_nth."""

    directory: Path

    @classmethod
    def of(cls, module: str) -> FaultPoints:
        return cls(DEBUGFS / module)

    @property
    def present(self) -> bool:
        return (self.directory / "fail_nth").exists()

    def arm(self, nth: int, times: int = 1) -> None:
        (self.directory / "fail_times").write_text(str(times))
        (self.directory / "fail_nth").write_text(str(nth))

    def disarm(self) -> int:
        """Disarm; return the calls that were left before the Nth (0: it was reached)."""
        left = int((self.directory / "fail_nth").read_text())
        (self.directory / "fail_nth").write_text("0")
        (self.directory / "fail_times").write_text("1")
        return left

    def injected(self) -> tuple[int, str]:
        """(failures injected since load, site of the last)."""
        count, site = (self.directory / "fail_log").read_text().split()
        return int(count), site


class KernelFailNth:
    """The kernel's own fault injection for the calling thread
    (/proc/thread-self/fail-nth, Documentation/fault-injection): the Nth slab
    or page allocation of this thread from now on fails, as failslab and
    fail_page_alloc are set up.  The kernel keeps no count of what it
    injected, so this counts the arms it saw reached; every site is "kernel".
    Use from the thread that runs the operation; close() when done."""

    def __init__(self) -> None:
        self.fd = os.open(KERNEL_FAIL_NTH, os.O_RDWR)
        self.count = 0
        self.armed = False

    def arm(self, nth: int, times: int = 1) -> None:
        if times != 1:
            raise ValueError("the kernel's fail-nth fails one call")
        os.pwrite(self.fd, str(nth).encode(), 0)
        self.armed = True

    def disarm(self) -> int:
        left = int(os.pread(self.fd, 32, 0))
        os.pwrite(self.fd, b"0", 0)
        if self.armed and left == 0:
            self.count += 1
        self.armed = False
        return left

    def injected(self) -> tuple[int, str]:
        return self.count, "kernel"

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Sweep:
    """What a sweep saw: the site failed at each N, and which of those the
    operation survived (it succeeded although a point failed)."""

    sites: list[str]
    survived: list[str]

    def count(self, site: str) -> int:
        return self.sites.count(site)


def sweep(
    points: Points,
    operation: Callable[[], object],
    *,
    errnos: frozenset[int],
    state: Callable[[], object],
    times: int = 1,
    limit: int = 100_000,
) -> Sweep:
    """Fail the 1st, 2nd... fault point of operation until one run reaches none.

    operation runs to completion and cleans up after itself on success; on a
    failure it raises OSError, whose errno must be in errnos.  state() is
    compared before the sweep and after every run: nothing may be left
    behind.  Raises AssertionError with the N and site of the first problem.
    """
    baseline = state()
    seen = Sweep([], [])
    for nth in itertools.count(1):
        assert nth <= limit, f"no end after {limit} fault points"
        before = points.injected()[0]
        points.arm(nth, times)
        try:
            operation()
        except OSError as err:
            points.disarm()
            count, site = points.injected()
            assert count > before, f"N={nth}: failed with {err!r} and no fault injected"
            assert err.errno in errnos, f"{site} at N={nth}: {err!r}, want {sorted(errnos)}"
            seen.sites.append(site)
        else:
            left = points.disarm()
            count, site = points.injected()
            if count == before:  # the operation never reached the Nth point
                assert left > 0
                after = state()
                assert after == baseline, f"a run with no fault left {after!r}, was {baseline!r}"
                return seen
            seen.sites.append(site)
            seen.survived.append(site)
        after = state()
        assert after == baseline, f"{site} at N={nth} left {after!r}, was {baseline!r}"
    raise AssertionError("unreachable")


# Pages that ordinary counters account for, by their names in /proc/vmstat
# (pages, or KiB for the stacks): slab (KASAN's quarantine and kmemleak's
# metadata live there), page tables, kernel stacks, page cache and anonymous
# memory.  What is left of the net pages is what drivers hold: ring pages
# among them.  A name missing from /proc/vmstat is an error, never a zero.
ACCOUNTED_PAGES = (
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_page_table_pages",
    "nr_file_pages",
    "nr_anon_pages",
)
ACCOUNTED_KB = ("nr_kernel_stack",)
PAGE = 4096


def net_pages() -> int:
    """Pages the page allocator has handed out, net since boot (pgalloc - pgfree),
    less those slab, page tables, stacks, page cache and anonymous memory hold."""
    stat = dict(line.split() for line in VMSTAT.read_text().splitlines())
    allocated = sum(int(v) for k, v in stat.items() if re.fullmatch(r"pgalloc_\w+", k))
    accounted = sum(int(stat[k]) for k in ACCOUNTED_PAGES)
    accounted += sum(int(stat[k]) for k in ACCOUNTED_KB) * 1024 // PAGE
    return allocated - int(stat["pgfree"]) - accounted


def pages_kept(operation: Callable[[], object], cycles: int, warmup: int = 8) -> int:
    """Net pages still allocated after cycles runs of operation (after warmup runs).

    Page cache is dropped before both counts so that file reads do not count.
    """
    for _ in range(warmup):
        operation()
    DROP_CACHES.write_text("3")
    before = net_pages()
    for _ in range(cycles):
        operation()
    DROP_CACHES.write_text("3")
    return net_pages() - before
