"""Ring pages come from memory the device reaches directly, or the open fails.

mdma picks the zone the device's mask implies (ZONE_DMA32 up to 32 bits,
ZONE_DMA below that zone's top), checks every page against the mask and the
descriptor format's width, and steps down a zone when a page is out of reach;
it never hands the DMA layer a page the device cannot reach, so the kernel
never warns about an overflowing address.  In the `partial` profile (28-bit
edu, all 1 GiB below 4 GiB, no IOMMU, no bounce pool) a small ring is built
from reachable pages and passes the edu check, and a ring larger than all the
reachable memory fails with ENOMEM, leaving nothing behind.  As in
dma_direct_alloc_pages(), the first page out of reach sends the rest of a ring
to the next lower zone, here ZONE_DMA (16 MiB), so in that profile rings of
more than about 15 MiB are refused too.  Every profile runs these; the
kernel-log judge fails any WARNING, and any allocation-failure report.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from pyharness.guest import himem
from pyharness.guest import masterdev as md
from pyharness.model import figures

NONE_FAILED = (1 << 64) - 1
MEMINFO = Path("/proc/meminfo")
SMALL = [("asitx0", 64, 9588), ("asirx0", 300, 1316), ("sditx0", 16, 9588), ("sdirx0", 8, 8192)]

pytestmark = pytest.mark.usefixtures("masterdev_state")


def mem_total() -> int:
    """Bytes of RAM the kernel manages."""
    for line in MEMINFO.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def check_reached(iface: str) -> dict[str, int | str]:
    """The open ring's summary, after checking every fragment is in reach."""
    summary = md.summary(iface)
    limit = md.ring_limit(iface)
    frags = md.fragments(iface)
    assert summary["dma_limit"] == limit
    assert summary["bounced_pages"] == 0
    assert all(f.dma + f.length - 1 <= limit for f in frags)
    assert all(f.desc <= limit for f in frags)
    if not md.behind_iommu():
        assert summary["iommu"] == 0
        assert all(f.dma == f.phys for f in frags)  # the page itself, no bounce
        if limit < 1 << 32:
            assert summary["pages_normal"] == 0
    pages = int(summary["pages_dma"]) + int(summary["pages_dma32"]) + int(summary["pages_normal"])
    assert pages == summary["total_pages"]
    return summary


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"), SMALL, ids=[f"{i}-{b}x{s}" for i, b, s in SMALL]
)
def test_a_small_ring_is_built_from_reachable_pages(iface: str, buffers: int, bufsize: int) -> None:
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        summary = check_reached(iface)
        if md.dma_device(iface) == md.edu_device():
            check = md.edu_check(fd, random.getrandbits(63))
            assert (check.failed, check.first_failed) == (0, NONE_FAILED)
    figures.record(
        f"reach {iface} {buffers}x{bufsize}",
        f"zone {summary['zone']}: dma {summary['pages_dma']}, dma32 {summary['pages_dma32']}, "
        f"normal {summary['pages_normal']}",
    )


def test_a_ring_beyond_the_reachable_memory_is_enomem() -> None:
    limit = md.ring_limit("asirx0")
    if md.behind_iommu():
        pytest.skip("behind an IOMMU every page is in reach")
    if limit >= mem_total():
        pytest.skip(f"the device reaches all {mem_total() >> 20} MiB")
    want = (limit + 1) // 4096 + 4096  # more pages than lie below the limit
    md.write_attr(md.PARAMS / "max_ring_bytes", str(1 << 62))
    md.write_attr(md.PARAMS / "max_buffers", str(1 << 20))
    md.set_geometry("asirx0", want // 2 + 1, 8192)  # two pages a buffer
    pages = md.stats()["pages"]
    with pytest.raises(OSError) as err:
        os.open("/dev/asirx0", os.O_RDWR)
    assert err.value.errno == errno.ENOMEM
    assert md.stats()["pages"] == pages
    assert md.stats()["rings"] == 0
    figures.record("reach: ring refused", f"{want} pages beyond a {limit + 1 >> 20} MiB reach")


def test_every_ring_that_opens_is_in_reach() -> None:
    """Rings grown until the open fails: each one that opens is all reachable."""
    md.write_attr(md.PARAMS / "max_ring_bytes", str(1 << 62))
    buffers = 256
    opened = refused = 0
    while buffers <= 1 << 16 and not refused:
        md.set_geometry("asitx0", buffers, 4096 + 1316)
        try:
            with md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK):
                check_reached("asitx0")
            opened = buffers
        except OSError as err:
            assert err.errno == errno.ENOMEM
            refused = buffers
        buffers *= 4
    assert opened, "not even 256 buffers of 5412 bytes could be allocated"
    figures.record("reach: largest asitx0 of 5412-byte buffers tried", f"{opened} buffers")


def test_a_ring_of_more_descriptors_than_reachable_memory_fails_quietly() -> None:
    """2**20 one-byte buffers, packed: 256 pages but 32 MiB of descriptors,
    whose pool pages come from the device's coherent mask.  Where that memory
    runs out the open fails with ENOMEM and no allocation-failure report (the
    judge fails a Call Trace).  Only where the device reaches part of the
    RAM below 4 GiB and nothing else (the partial profile): elsewhere the ring
    opens, and test_extremes.py frees 2**20 descriptors."""
    if md.behind_iommu() or md.ring_limit("asitx0") >= mem_total() or himem.ram_above(1 << 32):
        pytest.skip("the coherent memory of this profile holds the descriptors")
    md.set_geometry("asitx0", 1 << 20, 1)
    pages = md.stats()["pages"]
    try:
        with md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK):
            summary = md.summary("asitx0")
            assert summary["descriptors"] == 1 << 20
            assert summary["bounced_pages"] == 0
        outcome = "opened"
    except OSError as err:
        assert err.errno == errno.ENOMEM
        outcome = "ENOMEM"
    assert md.stats()["pages"] == pages
    figures.record("reach: asitx0 1048576x1 (2**20 descriptors)", outcome)
