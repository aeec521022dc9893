"""masterdev binds QEMU's edu device, maps the rings for it, and edu proves them.

The edu check moves fragments by real device DMA from (transmit) or to
(receive) the bus address stored in each descriptor.  Without an IOMMU the
28-bit edu reaches pages above 256 MiB only through swiotlb, whose counters
must move; behind a strict IOMMU every address is an IOVA below 256 MiB.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from pyharness import figures, guestkit, mapcheck, profiles
from pyharness import masterdev as md

STATUS = Path("/sys/kernel/debug/masterdev/edu")
EDU_LIMIT = 1 << 28  # edu's DMA mask: 28 bits
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


def behind_iommu() -> bool:
    edu = md.edu_device()
    return edu is not None and Path(f"/sys/bus/pci/devices/{edu}/iommu_group").exists()


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
    assert status["dma_mask_bits"] == 28
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


@pytest.mark.parametrize("iface", ["asitx0", "asirx0"])
def test_a_corrupted_descriptor_fails_the_edu_check(iface: str) -> None:
    md.set_geometry(iface, 8, 8192)  # 16 whole pages, all checked
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        md.corrupt(iface, 5)
        check = md.edu_check(fd, random.getrandbits(63))
    assert check.checked == 16
    assert check.failed >= 1
    assert check.first_failed == 5


def test_rings_are_within_the_28_bit_mask() -> None:
    md.set_geometry("sdirx0", 2000, 9588)  # 6000 pages, most above 256 MiB
    with md.opened("sdirx0", os.O_RDWR | os.O_NONBLOCK):
        frags = md.fragments("sdirx0")
    assert max(f.dma + f.length for f in frags) <= EDU_LIMIT
    assert max(f.desc for f in frags) < EDU_LIMIT
    if not behind_iommu():  # 768 MiB of the 1 GiB are above 4 GiB: most pages are
        assert any(f.phys >= EDU_LIMIT for f in frags)  # so something had to be done


def swiotlb_pool() -> tuple[int, int]:
    """Where the kernel put the bounce pool, from its boot message."""
    with guestkit.kmsg_reader(since_boot=True) as kmsg:
        text = "".join(kmsg.read())
    found = re.search(r"software IO TLB: mapped \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", text)
    assert found, "no swiotlb pool in the boot log"
    return int(found.group(1), 16), int(found.group(2), 16)


def test_swiotlb_bounces_for_the_28_bit_edu() -> None:
    if behind_iommu():
        pytest.skip("behind an IOMMU: addresses are remapped, nothing bounces")
    start, end = swiotlb_pool()
    assert end <= EDU_LIMIT, f"bounce pool {start:#x}-{end:#x} is out of edu's reach"
    slabs = int((md.SWIOTLB / "io_tlb_nslabs").read_text())
    assert slabs == profiles.SWIOTLB_SLABS, "the kernel shrank the pool: no room below 256 MiB"
    before = md.swiotlb_used()
    assert before is not None
    md.set_geometry("asitx0", 1000, 9588)
    with md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK):
        during = md.swiotlb_used()
        frags = md.fragments("asitx0")
    assert during is not None
    high = [f for f in frags if f.phys >= EDU_LIMIT]
    assert high, "no page above 256 MiB: nothing to bounce"
    assert all(start <= f.dma < end and f.dma != f.phys for f in high)
    assert during - before >= len({f.page for f in high})  # one slot at least per page
    assert md.swiotlb_used() == before
    figures.record("swiotlb slots used by asitx0 1000x9588", during - before, "slots of 2 KiB")
    figures.record("swiotlb pool", f"{start:#x}-{end:#x}")


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
