"""Every error path runs, gives its documented errno and leaves nothing behind.

Each module's test build has fault points (kmod/include/master/faults.h): the
Nth allocation or mapping from the arming on fails.  A sweep
(pyharness.guest.faults) arms N = 1, 2, ... and runs one operation each time until
it succeeds without reaching the Nth point, so every allocation and mapping
of the operation fails once, in order; after each run every counter is back
to its baseline, and the kernel log judge sees every run (dma_pool_destroy's
"busy", a WARNING, a leak report).  Each test asserts how many points its
operation passes, so an allocation added without a fault point fails here.

The page-leak oracle (pgalloc - pgfree over many cycles) proves rings give
back every page, on every kernel; kmemleak and lockdep prove the rest on the
debug kernel.  The catch-proof tests turn on a deliberate leak or lock
inversion (test builds only) and show the matching oracle catching it.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from pyharness.guest import faults, guestkit, himem
from pyharness.guest import masterdev as md
from pyharness.guest import netlink as nl
from pyharness.model import himemmodel, layout

from .conftest import Reload

MDMA = faults.FaultPoints.of("mdma")
MASTERDEV = faults.FaultPoints.of("masterdev")
ALLOCATOR = faults.FaultPoints.of("allocator")
DOOR = faults.FaultPoints.of("himemtest")
ENOMEM = frozenset({errno.ENOMEM})

HIMEM = himem.mem_limit() is not None
needs_himem = pytest.mark.skipif(not HIMEM, reason="needs mem= below the RAM (himem profile)")

pytestmark = [
    pytest.mark.usefixtures("masterdev_state"),
    pytest.mark.skipif(not MDMA.present, reason="needs a test build (MASTERDMA_TEST=1)"),
]


def open_close(iface: str, want_pages: int) -> None:
    """Open the interface (allocating its ring), check its pages, close it.
    The pages come from the ring's own summary ioctl, not its debugfs
    directory: debugfs is best effort by design, and the kernel's fail-nth
    fails its directory without failing the open (seen on the debug kernel)."""
    fd = os.open(f"/dev/{iface}", os.O_RDWR)
    try:
        pages = int(md.ioctl_summary(fd).total_pages)
        assert pages == want_pages, f"a ring of {pages} pages, want {want_pages}"
    finally:
        os.close(fd)


RINGS = pytest.mark.parametrize(
    ("iface", "tails", "buffers", "bufsize"),
    [("asitx0", "packed", 3, 5000), ("sdirx0", "own-page", 3, 5000)],
    ids=["packed", "own-page"],
)


def sweep_ring_open(iface: str, tails: layout.Tails, buffers: int, bufsize: int) -> None:
    """Every fault point of opening iface's ring, counted against the layout model."""
    md.set_geometry(iface, buffers, bufsize)
    model = layout.layout(buffers, bufsize, tails)

    def operation() -> None:
        open_close(iface, model.total_pages)

    once = faults.sweep(MDMA, operation, errnos=ENOMEM, state=md.stats)
    # A page alone is asked for when the bulk allocator gives up: two failures.
    twice = faults.sweep(MDMA, operation, errnos=ENOMEM, state=md.stats, times=2)
    # Survived: the bulk allocator's (a page at a time instead) and an event's
    # (listeners see a gap in the sequence numbers).
    assert set(once.survived) | set(twice.survived) <= {"pages", "event"}
    sites = {"ring", "array", "pages", "page", "map", "pool", "desc", "event"}
    assert set(once.sites) | set(twice.sites) == sites, (once, twice)
    assert once.count("map") == model.total_pages  # one mapping per page
    assert once.count("desc") == model.pointers  # one descriptor per page or tail
    assert once.count("ring") == 1 and once.count("pool") == 1
    # The page array, the pointer array, the pages' bus addresses, the
    # descriptor slots and the pools.
    assert once.count("array") == 5
    # masterdev's own allocation of an open: its buffer lengths.
    opened = faults.sweep(MASTERDEV, operation, errnos=ENOMEM, state=md.stats)
    assert opened.sites == ["used"]


@RINGS
def test_every_allocation_of_a_ring_fails_cleanly(
    iface: str, tails: layout.Tails, buffers: int, bufsize: int
) -> None:
    sweep_ring_open(iface, tails, buffers, bufsize)


@RINGS
def test_every_allocation_of_a_ring_for_the_platform_device_fails_cleanly(
    reload: Reload, iface: str, tails: layout.Tails, buffers: int, bufsize: int
) -> None:
    """The same sweep with masterdev loaded with edu=0: rings are mapped for
    its platform device (no IOMMU, the card's 32-bit mask), as on a machine
    without edu."""
    reload("edu=0")
    try:
        assert md.dma_device(iface) == "masterdev"
        sweep_ring_open(iface, tails, buffers, bufsize)
    finally:
        reload()


@pytest.mark.parametrize("pair", ["asi", "sdi"])
def test_the_loopback_has_no_fault_point(pair: str) -> None:
    """Starting the bus-address engine and moving a buffer through it allocates
    nothing (its work item and rings exist already): a sweep of either
    module's points sees none, and the bytes arrive."""
    md.set_pair(pair, 4, 1316)
    with md.opened(f"{pair}tx0") as tx, md.opened(f"{pair}rx0") as rx:

        def operation() -> None:
            data = os.urandom(1316)
            assert os.write(tx, data) == len(data)
            assert md.read_exactly(rx, 1316) == data

        for points in (MDMA, MASTERDEV):
            assert faults.sweep(points, operation, errnos=ENOMEM, state=md.stats).sites == []


@pytest.mark.skipif(md.edu_device() is None, reason="needs QEMU's edu device")
@RINGS
def test_every_allocation_of_the_edu_check_fails_cleanly(
    iface: str, tails: layout.Tails, buffers: int, bufsize: int
) -> None:
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface) as fd:

        def operation() -> None:
            result = md.edu_check(fd, 7)
            assert result.failed == 0 and result.checked > 0

        swept = faults.sweep(MASTERDEV, operation, errnos=ENOMEM, state=md.stats)
    assert swept.sites == ["sample", "expect", "page"]


def test_netlink_replies_fail_cleanly() -> None:
    with nl.MasterDmaSocket("mdma") as sock:

        def operation() -> None:
            try:
                sock.totals()
                sock.rings()  # a dump: the core allocates its messages
            except NetlinkError as err:
                raise OSError(err.code, os.strerror(err.code)) from err

        swept = faults.sweep(MDMA, operation, errnos=ENOMEM, state=md.stats)
    assert swept.sites == ["reply"]


PAGE_CYCLES = 200
# Pages the oracle may be off by over PAGE_CYCLES cycles, either way (the
# kernel's own allocations meanwhile: slab, page cache, counted or not).
NOISE = PAGE_CYCLES // 4
LEAK_GEOMETRIES = pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"),
    [("asitx0", 3, 5000), ("sdirx0", 3, 5000), ("asitx0", 64, 188), ("asitx0", 2, 8192)],
    ids=["packed", "own-page", "small-tails", "whole-pages"],
)


def cycle(iface: str) -> None:
    with md.opened(iface):
        pass


@LEAK_GEOMETRIES
def test_rings_give_back_every_page(iface: str, buffers: int, bufsize: int) -> None:
    md.set_geometry(iface, buffers, bufsize)
    kept = faults.pages_kept(lambda: cycle(iface), PAGE_CYCLES)
    # A ring that kept one page would keep PAGE_CYCLES; noise is a few pages.
    assert kept < NOISE, f"{kept} pages kept over {PAGE_CYCLES} rings"


@pytest.fixture
def knob() -> Iterator[Path]:
    """mdma's test_leak_page, restored to off."""
    path = Path("/sys/module/mdma/parameters/test_leak_page")
    try:
        yield path
    finally:
        path.write_text("N")


def test_the_page_oracle_catches_a_ring_that_keeps_a_page(knob: Path) -> None:
    md.set_geometry("asitx0", 3, 5000)
    baseline = md.stats()
    knob.write_text("Y")
    kept = faults.pages_kept(lambda: cycle("asitx0"), PAGE_CYCLES, warmup=0)
    knob.write_text("N")
    # PAGE_CYCLES leaked, give or take the noise the clean test allows
    assert kept >= PAGE_CYCLES - NOISE, f"only {kept} pages kept: the oracle missed the leak"
    assert md.stats() == baseline  # the module's own count cannot see it


@pytest.mark.skipif(not guestkit.KMEMLEAK.exists(), reason="needs kmemleak (debug kernel)")
@pytest.mark.kernel_expect("kmemleak")
def test_kmemleak_catches_a_ring_struct_that_is_never_freed() -> None:
    knob = Path("/sys/module/mdma/parameters/test_leak_ring")
    md.set_geometry("asitx0", 3, 5000)
    guestkit.kmemleak_scan()
    knob.write_text("Y")
    try:
        cycle("asitx0")
    finally:
        knob.write_text("N")
    # kmemleak reports objects over 5 s old, and may need more than one scan
    # (a stale copy of the pointer on a stack or in a register hides it).
    found = ""
    for _ in range(4):
        time.sleep(3.0)
        found += guestkit.kmemleak_scan()
        if "mdma_ring_alloc" in found:
            break
    assert "mdma_ring_alloc" in found, found or "kmemleak reported nothing"


@pytest.mark.skipif(not guestkit.LOCKDEP_STATS.exists(), reason="needs lockdep (debug kernel)")
@pytest.mark.lockdep_off
@pytest.mark.kernel_expect("lockdep", "WARNING")
def test_lockdep_catches_two_locks_taken_in_both_orders() -> None:
    knob = Path("/sys/module/masterdev/parameters/test_lock_order")
    md.set_geometry("asitx0", 3, 5000)
    with guestkit.kmsg_reader() as kmsg:
        knob.write_text("Y")
        try:
            with md.opened("asitx0") as fd:
                os.write(fd, b"x" * 100)  # the I/O lock, then the pair's
            cycle("asitx0")  # the other way round
        finally:
            knob.write_text("N")
        said = "".join(kmsg.read())
    assert "possible circular locking dependency" in said, said[-2000:]
    assert guestkit.debug_state().debug_locks == 0


# The high-memory allocator, through its door: the himem profile.


def allocator_state() -> dict[str, int | str]:
    """The allocator's counters, but its owners: a module's entry stays from its
    first allocation until it unloads, by design."""
    return {k: v for k, v in himem.summary().items() if k != "owners"}


@needs_himem
@pytest.mark.kernel_expect("error")
def test_every_fault_point_of_the_allocators_load_fails_cleanly(
    module_paths: dict[str, Path],
) -> None:
    ko = module_paths["allocator"]
    iomem = [e for e in himem.iomem() if e.name == himemmodel.CLAIM_NAME]
    sites = []
    for nth in range(1, 100):
        op = guestkit.insmod(ko, f"test_fail_nth={nth}")
        if op.ok:
            count, site = ALLOCATOR.injected()
            left = int((ALLOCATOR.directory / "fail_nth").read_text())
            assert guestkit.rmmod("allocator").ok
            if count == 0:
                assert left > 0
                break
            sites.append(site)
            continue
        assert "Cannot allocate memory" in op.output or "busy" in op.output, op.output
        assert not guestkit.loaded("allocator")
        assert [e for e in himem.iomem() if e.name == himemmodel.CLAIM_NAME] == iomem
        sites.append(f"#{nth}")
    # The claim, its mapping and the extent that holds it all.
    assert len(sites) == 3, sites


@needs_himem
def test_every_allocation_of_the_allocator_api_fails_cleanly(door: himem.Door) -> None:
    def operation() -> None:
        region = door.alloc(3 * himemmodel.PAGE + 1)
        door.free(region.start)

    def state() -> tuple[dict[str, int | str], int]:
        return allocator_state(), door.list()[1]

    # A module's first allocation adds its owner entry, each one a region
    # node; the events of the allocation and the free survive as sequence
    # gaps.  The first run that gets through adds the owner, so the runs
    # after it have one point fewer: the free's event is reached only by a
    # second sweep, which has no owner to add.
    first = faults.sweep(ALLOCATOR, operation, errnos=ENOMEM, state=state)
    assert first.sites == ["extent", "owner", "event"], first
    again = faults.sweep(ALLOCATOR, operation, errnos=ENOMEM, state=state)
    assert again.sites == ["extent", "event", "event"], again
    assert first.survived + again.survived == ["event"] * 3


@needs_himem
def test_every_allocation_of_the_door_fails_cleanly(door: himem.Door) -> None:
    def state() -> tuple[dict[str, int | str], int]:
        return allocator_state(), door.list()[1]

    def alloc_free() -> None:
        region = door.alloc(2 * himemmodel.PAGE)
        door.free(region.start)

    swept = faults.sweep(DOOR, alloc_free, errnos=ENOMEM, state=state)
    assert swept.sites == ["region", "xarray"], swept
    kept = door.alloc(himemmodel.PAGE)
    try:
        listed = faults.sweep(DOOR, door.list, errnos=ENOMEM, state=state)
        assert listed.sites == ["list"], listed

        def mapped() -> None:
            with door.mapped(kept) as mapping:
                assert mapping[:8] == bytes(8)

        assert faults.sweep(DOOR, mapped, errnos=ENOMEM, state=state).sites == []
        if md.edu_device() is not None:

            def edu() -> None:
                door.edu(kept, 0, 64, 0, to_ram=False)

            swept = faults.sweep(DOOR, edu, errnos=frozenset({errno.EIO}), state=state)
            assert swept.sites == ["map"], swept
    finally:
        door.free(kept.start)


@needs_himem
def test_the_allocators_netlink_reply_fails_cleanly(door: himem.Door) -> None:
    with nl.MasterDmaSocket("allocator") as sock:

        def operation() -> None:
            try:
                sock.totals()
                sock.regions()
            except NetlinkError as err:
                raise OSError(err.code, os.strerror(err.code)) from err

        swept = faults.sweep(ALLOCATOR, operation, errnos=ENOMEM, state=allocator_state)
    assert swept.sites == ["reply"]


# The kernel's own per-task fault injection (debug kernel): it also fails the
# allocations inside the kernel functions we call (dma_pool_create, the
# bulk allocator, the file's own structures), independently of our points.
KERNEL_FAIL_NTH = faults.KERNEL_FAIL_NTH
KERNEL_FAULTS = (faults.DEBUGFS / "failslab", faults.DEBUGFS / "fail_page_alloc")
needs_fail_nth = pytest.mark.skipif(
    not KERNEL_FAIL_NTH.exists() or not KERNEL_FAULTS[1].exists(),
    reason="needs failslab and fail_page_alloc (debug kernel)",
)


@pytest.fixture
def kernel_fail_nth() -> Iterator[None]:
    """failslab and fail_page_alloc set for fail-nth: sleeping allocations and
    order 0 count, quietly (no stack dump per failure)."""
    settings = {"ignore-gfp-wait": "N", "verbose": "0"}
    saved = {}
    for directory in KERNEL_FAULTS:
        extra = {"min-order": "0"} if directory.name == "fail_page_alloc" else {}
        for name, value in (settings | extra).items():
            saved[directory / name] = (directory / name).read_text().strip()
            (directory / name).write_text(value)
    try:
        yield
    finally:
        for path, value in saved.items():
            path.write_text(value)


def kernel_sweep(operation: Callable[[], object], state: Callable[[], object]) -> int:
    """faults.sweep with the kernel's fail-nth: every slab or page allocation
    of this task inside operation fails in turn, each with ENOMEM (what open
    and our ioctls document), leaving state() as it was; one the operation
    survives (a fallback) too, once undone.  How many points failed."""
    points = faults.KernelFailNth()
    try:
        return len(faults.sweep(points, operation, errnos=ENOMEM, state=state).sites)
    finally:
        points.close()


@needs_fail_nth
# "page allocation failure" warnings; "debugfs: out of free dentries" when
# the failed allocation is debugfs's (the ring opens without its directory)
@pytest.mark.kernel_expect("Call Trace", "error")
@RINGS
def test_the_kernels_fail_nth_fails_every_allocation_of_an_open(
    kernel_fail_nth: None, iface: str, tails: layout.Tails, buffers: int, bufsize: int
) -> None:
    md.set_geometry(iface, buffers, bufsize)
    model = layout.layout(buffers, bufsize, tails)
    points = kernel_sweep(lambda: open_close(iface, model.total_pages), md.stats)
    # At least our own: the ring, its arrays, the pool; then the kernel's.
    assert points >= 7, points


@needs_himem
@needs_fail_nth
@pytest.mark.kernel_expect("Call Trace")
def test_the_kernels_fail_nth_fails_every_allocation_of_a_region(
    kernel_fail_nth: None, door: himem.Door
) -> None:
    def operation() -> None:
        region = door.alloc(3 * himemmodel.PAGE)
        door.free(region.start)

    points = kernel_sweep(operation, lambda: (allocator_state(), door.list()[1]))
    assert points >= 2, points  # the door's region, the allocator's extent...
