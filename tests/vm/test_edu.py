"""masterdev binds QEMU's edu device, maps the rings for it, and edu proves them.

The edu check moves fragments by real device DMA from (transmit) or to
(receive) the bus address stored in each descriptor.  Without an IOMMU every
ring page is one the device reaches directly, so nothing bounces: the
swiotlb counters stay still and each bus address is the page's own; behind a
strict IOMMU every address is an IOVA within the device's mask.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import random
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyharness import uapi
from pyharness.guest import guestkit
from pyharness.guest import masterdev as md
from pyharness.model import figures, layoutreport, mapcheck

STATUS = Path("/sys/kernel/debug/masterdev/edu")
NONE_FAILED = (1 << 64) - 1
# (interface, buffers, bufsize): both seed rings, TX and RX, ASI and SDI.
CHECKS = [
    ("asirx0", 1000, 9588),  # seed example 1, sampled
    ("asitx0", 10000, 1316),  # seed example 2, sampled
    ("sditx0", 3, 4095),
    ("sdirx0", 8, 8192),
    ("asirx0", 5, 2049),
    ("sditx0", 5, 2049),
    ("asitx0", 100, 188),
]

pytestmark = pytest.mark.usefixtures("masterdev_state")


behind_iommu = md.behind_iommu


def test_edu_is_bound() -> None:
    edu = md.edu_device()
    assert edu is not None
    device = Path(f"/sys/bus/pci/devices/{edu}")
    assert (device / "vendor").read_text().strip() == "0x1234"
    assert (device / "device").read_text().strip() == "0x11e8"
    assert all(md.dma_device(name) == edu for name in md.IFACES)  # rings go to edu


def test_self_test_passed_by_interrupt() -> None:
    status = mapcheck.parse_summary(STATUS.read_text())
    assert status["selftest"] == "pass"
    assert status["dma_mask_bits"] == md.edu_dma_bits()
    assert status["irq"] == "msi"
    transfers, interrupts = int(status["transfers"]), int(status["interrupts"])
    assert transfers >= 2
    assert interrupts >= transfers  # every transfer completed by its interrupt
    assert "masterdev-edu" in Path("/proc/interrupts").read_text()


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"), CHECKS, ids=[f"{i}-{b}x{s}" for i, b, s in CHECKS]
)
def test_edu_check(iface: str, buffers: int, bufsize: int) -> None:
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        pointers = int(md.summary(iface)["pointers"])
        check = md.edu_check(fd, random.getrandbits(63))
    assert (check.failed, check.first_failed) == (0, NONE_FAILED)
    if pointers <= 64:
        assert check.checked == pointers
    else:
        assert check.checked >= 32
    assert check.transfers >= check.checked
    figures.record(f"edu check {iface} {buffers}x{bufsize}", check.checked, "fragments")


@pytest.mark.kernel_expect("error")  # its pr_err/dev_err is the point
@pytest.mark.parametrize("iface", ["asitx0", "asirx0"])
def test_a_corrupted_descriptor_fails_the_edu_check(iface: str) -> None:
    md.set_geometry(iface, 8, 8192)  # 16 whole pages, all checked
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        md.corrupt(iface, 5)
        check = md.edu_check(fd, random.getrandbits(63))
    assert check.checked == 16
    assert check.failed >= 1
    assert check.first_failed == 5


@pytest.mark.kernel_expect("error")  # the failed fragments' dev_err
@pytest.mark.parametrize("iface", ["asitx0", "asirx0"])
def test_the_edu_check_never_leaves_a_fragments_page(iface: str) -> None:
    """mdma's test-only layout bug 1 packs a fourth 1316-byte tail into each
    page: tails 3 and 7 of an 8 x 1316 ring start at 3948 and would run 1168
    bytes into the next physical page.  The check moves nothing beyond the
    page (by edu or by the CPU) and fails exactly those fragments."""
    knob = Path("/sys/module/mdma/parameters/test_layout_bug")
    md.set_geometry(iface, 8, 1316)
    md.write_attr(knob, "1")
    try:
        with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
            check = md.edu_check(fd, random.getrandbits(63))
    finally:
        md.write_attr(knob, "0")
    assert (check.checked, check.failed, check.first_failed) == (8, 2, 3)


def test_rings_are_within_the_mask() -> None:
    limit = md.ring_limit("sdirx0")  # PLX 9080 descriptors: 32 bits at most
    md.set_geometry("sdirx0", 2000, 9588)  # 6000 pages
    with md.opened("sdirx0", os.O_RDWR | os.O_NONBLOCK):
        frags = md.fragments("sdirx0")
        summary = md.summary("sdirx0")
    assert summary["dma_limit"] == limit
    assert max(f.dma + f.length - 1 for f in frags) <= limit
    assert max(f.desc for f in frags) < limit
    if md.swiotlb_forced():  # the bounce lane: every page goes through a slot
        assert summary["bounced_pages"] == summary["total_pages"]
        assert all(f.dma != f.phys for f in frags)
    elif not behind_iommu():  # the device's own pages, not a bounce buffer's
        assert all(f.dma == f.phys for f in frags)
        assert summary["bounced_pages"] == 0


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"),
    layoutreport.REPORT_RINGS,
    ids=[f"{i}-{b}x{s}" for i, b, s in layoutreport.REPORT_RINGS],
)
def test_report_rings_use_no_swiotlb_slot(iface: str, buffers: int, bufsize: int) -> None:
    if md.swiotlb_forced():
        pytest.skip("swiotlb=force: the bounce lane, where every mapping bounces")
    before = md.swiotlb_used()
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK):
        during = md.swiotlb_used()
        summary = md.summary(iface)
    assert summary["bounced_pages"] == 0
    assert during == before, f"{iface} took {(during or 0) - (before or 0)} swiotlb slots"
    used = "no swiotlb" if during is None else f"{during - (before or 0)} slots"
    figures.record(f"swiotlb slots used by {iface} {buffers}x{bufsize}", used)
    figures.record(
        f"pages by zone of {iface} {buffers}x{bufsize}",
        f"dma {summary['pages_dma']}, dma32 {summary['pages_dma32']}, "
        f"normal {summary['pages_normal']}",
    )


def test_iommu_remaps_every_address() -> None:
    if not behind_iommu():
        pytest.skip("no IOMMU in this profile")
    md.set_geometry("asitx0", 1000, 9588)
    with md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK):
        frags = md.fragments("asitx0")
        assert md.swiotlb_used() in (None, 0)
    remapped = sum(f.dma != f.phys for f in frags)
    assert remapped > len(frags) // 2  # IOVAs, not physical addresses
    figures.record("iommu: asitx0 1000x9588 fragments at an IOVA", f"{remapped} of {len(frags)}")


@pytest.mark.parametrize("iface", ["asitx0", "asirx0"])
def test_a_timed_out_transfer_is_over_when_the_check_returns(iface: str) -> None:
    """masterdev's test-only test_edu_short_waits=1 times the next transfer
    out after 1 ms, long before edu's 100 ms: the check fails with ETIMEDOUT,
    and the device had finished that transfer when it returned (the test
    build reads edu's DMA command register at each return and counts a
    running one in test_edu_busy_returns).  A check started at once passes:
    edu would have ignored its register writes while the old transfer ran,
    and the old one's late interrupt would have ended its first transfer."""
    params = Path("/sys/module/masterdev/parameters")
    md.write_attr(params / "test_edu_busy_returns", "0")
    md.set_geometry(iface, 8, 8192)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        md.write_attr(params / "test_edu_short_waits", "1")
        try:
            with pytest.raises(OSError) as err:
                md.edu_check(fd, random.getrandbits(63))
            check = md.edu_check(fd, random.getrandbits(63))
        finally:
            md.write_attr(params / "test_edu_short_waits", "0")
    assert err.value.errno == errno.ETIMEDOUT
    assert (params / "test_edu_busy_returns").read_text().strip() == "0"
    assert (check.checked, check.failed, check.first_failed) == (16, 0, NONE_FAILED)


def test_the_edu_check_holds_no_lock_the_peer_needs() -> None:
    """The check takes seconds of device time; meanwhile the attributes
    answer and the peer's open is refused at once, not after the check."""
    md.set_geometry("asirx0", 1000, 9588)  # a sample of ~76 fragments, ~100 ms each
    results: list[object] = []
    with md.opened("asirx0", os.O_RDWR | os.O_NONBLOCK) as fd:
        checker = threading.Thread(target=lambda: results.append(md.edu_check(fd, 7)), daemon=True)
        checker.start()
        time.sleep(1.0)
        assert checker.is_alive()
        assert md.dma_device("asirx0") == md.dma_device("asitx0") == md.edu_device()
        with pytest.raises(OSError) as err:
            os.open("/dev/asitx0", os.O_RDWR | os.O_NONBLOCK)
        assert err.value.errno == errno.EBUSY
        assert checker.is_alive(), "the peer's open waited for the whole check"
        checker.join(300)
    assert results and results[0].failed == 0  # type: ignore[attr-defined]


def wait_for(predicate: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_removing_edu_under_open_rings_gives_enodev_and_a_rescan_binds_it_again() -> None:
    """PCI remove (as hot-unplug does) while asitx0 loops to asirx0 and sditx0
    is mapped: the rings are released before the device goes, the open files
    get ENODEV and close cleanly, the mapping keeps its bytes until munmap."""
    edu = md.edu_device()
    assert edu is not None
    md.set_pair("asi", 16, 4096)
    md.set_geometry("sditx0", 4, 4096)
    with (
        md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK) as tx,
        md.opened("asirx0", os.O_RDWR | os.O_NONBLOCK) as rx,
        md.opened("sditx0") as sdi,
        mmap.mmap(sdi, 4 * 4096, mmap.MAP_SHARED) as ring,
    ):
        ring[:5] = b"still"
        assert os.write(tx, bytes(8 * 4096)) == 8 * 4096
        md.write_attr(Path(f"/sys/bus/pci/devices/{edu}/remove"), "1")
        assert md.edu_device() is None
        assert md.stats()["rings"] == 0  # unmapped and freed with the device
        for action in (lambda: os.write(tx, b"x"), lambda: os.read(rx, 10)):
            with pytest.raises(OSError) as err:
                action()
            assert err.value.errno == errno.ENODEV
        assert md.wait_ready(rx, select.POLLIN) & (select.POLLERR | select.POLLHUP)
        assert ring[:5] == b"still"
        with pytest.raises(OSError) as busy:  # open, ring gone or not: its geometry stays
            md.write_attr(md.SYSFS / "asitx0" / "buffers", "1000")
        assert busy.value.errno == errno.EBUSY
    md.write_attr(Path("/sys/bus/pci/rescan"), "1")
    wait_for(lambda: md.edu_device() == edu)
    with md.opened("asitx0"):
        assert md.dma_device("asitx0") == edu


@pytest.mark.parametrize("call", ["read", "write", "dqbuf"])
def test_a_removal_does_not_wait_for_a_call_stalled_in_user_space(call: str) -> None:
    """A read() into, a write() from, or a DQBUF onto a page whose fault waits
    on user space (a userfaultfd nobody serves, as a FUSE file's page may)
    holds no lock a PCI removal takes: the removal ends while the call still
    waits (it used to wait with it, and past 120 s the hung-task detector
    speaks), and the call gets ENODEV once its fault is served."""
    edu = md.edu_device()
    assert edu is not None
    try:
        with guestkit.stalled_pages():
            pass
    except OSError as err:
        if err.errno != errno.ENOSYS:
            raise
        pytest.skip("this kernel has no userfaultfd (CONFIG_USERFAULTFD)")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    md.set_pair("asi", 16, 4096)
    md.set_geometry("sditx0", 4, 4096)
    outcome: list[int] = []
    try:
        with (
            md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK) as tx,
            md.opened("asirx0") as rx,
            md.opened("sditx0") as sdi,
        ):
            if call == "read":
                assert os.write(tx, bytes(2 * 4096)) == 2 * 4096
                md.wait_ready(rx, select.POLLIN)
            elif call == "dqbuf":
                md.qbuf(sdi, 0, 4096)  # sent to nowhere: sdirx0 is closed
            with guestkit.stalled_pages() as stall:
                where = ctypes.c_void_p(stall.address)
                calls: dict[str, Callable[[], int]] = {
                    "read": lambda: libc.read(rx, where, 4096),
                    "write": lambda: libc.write(tx, where, 4096),
                    "dqbuf": lambda: libc.ioctl(sdi, uapi.lib().MASTER_DMA_IOC_DQBUF, where),
                }

                def run() -> None:
                    got = calls[call]()
                    outcome.append(got if got >= 0 else -ctypes.get_errno())

                caller = threading.Thread(target=run, daemon=True)
                caller.start()
                stall.wait_for_fault()
                remove = Path(f"/sys/bus/pci/devices/{edu}/remove")
                remover = threading.Thread(target=md.write_attr, args=(remove, "1"), daemon=True)
                remover.start()
                remover.join(60)
                removed = not remover.is_alive()
                assert caller.is_alive(), f"{call} did not wait in its fault"
            caller.join(60)  # the stall is closed: the fault goes on
            remover.join(60)
            assert removed, f"the removal waited for a {call} stalled in user space"
            assert outcome == [-errno.ENODEV]
            assert md.stats()["rings"] == 0
    finally:
        md.write_attr(Path("/sys/bus/pci/rescan"), "1")
        wait_for(lambda: md.edu_device() == edu)
