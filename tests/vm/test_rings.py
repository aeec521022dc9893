"""Rings of every shape, checked against the layout model and in physical memory.

For each geometry: the summary equals the model (8-byte pointers, SLUB) field by
field; the map passes every check of mapcheck (fragments inside their pages,
model lengths, no overlap, every page used, buffer-major order, one descriptor
ring with INT/EOL in place); bytes written through write() or mmap are found at
the fragments' addresses in /proc/kcore; after close the pages are back.
"""

from __future__ import annotations

import mmap
import os
import random
from pathlib import Path

import pytest

from pyharness.guest import faults
from pyharness.guest import masterdev as md
from pyharness.guest.physmem import Kcore
from pyharness.model import layout, mapcheck
from pyharness.model.layout import Layout

# (interface, buffers, bufsize): packed tails on asi*, own-page tails on sdi*.
GEOMETRIES = [
    ("asitx0", 1000, 9588),  # seed example 1
    ("asitx0", 10000, 1316),  # seed example 2
    ("asirx0", 1000, 9588),
    ("asitx0", 2, 1),
    ("asirx0", 100000, 1),
    ("asitx0", 1000, 188),
    ("asirx0", 100000, 188),
    ("asitx0", 64, 2048),
    ("asirx0", 5, 2049),
    ("asitx0", 3, 4095),
    ("asirx0", 16, 4096),
    ("asitx0", 17, 4097),
    ("asirx0", 8, 8192),
    ("asitx0", 4, 65536),
    ("asitx0", 7, 12289),
    ("asirx0", 1024, 1024),
    ("asitx0", 3, 3000),
    ("sditx0", 1000, 9588),
    ("sdirx0", 10000, 1316),
    ("sditx0", 2, 1),
    ("sdirx0", 20000, 1),
    ("sditx0", 100, 188),
    ("sdirx0", 64, 2048),
    ("sditx0", 3, 4095),
    ("sdirx0", 16, 4096),
    ("sditx0", 17, 4097),
    ("sdirx0", 8, 8192),
    ("sditx0", 4, 65536),
    ("sdirx0", 7, 12289),
]
SAMPLE = 2000  # fragments checked in physical memory on large rings
PAGE = 4096


pytestmark = pytest.mark.usefixtures("masterdev_state")


def expected_summary(model: Layout, fmt: str, kinds: dict[str, str]) -> dict[str, int | str]:
    """The model's figures, with arrays sized as the allocator the kernel says it used."""

    def array(count: int, size: int, kind: str) -> int:
        if kind == "vmalloc":
            assert count * size > model.page_size, "kvmalloc only falls back above a page"
            return layout.vmalloc_bytes(count * size)
        return layout.kmalloc_slub(count * size)

    page_array = array(model.total_pages, model.pointer_size, kinds["page_array_kind"])
    pointer_array = array(model.pointers, model.pointer_size, kinds["pointer_array_kind"])
    desc = layout.descriptors(model, fmt)
    figures: dict[str, int | str] = {
        k: v for k, v in model.as_dict().items() if k not in ("kmalloc", "page_size")
    }
    figures.update(
        page_size=model.page_size,
        page_array_bytes=page_array,
        pointer_array_bytes=pointer_array,
        bytes_allocated=model.total_pages * model.page_size + page_array + pointer_array,
        desc_format=fmt,
        desc_size=desc.desc_size,
        desc_stride=desc.desc_stride,
        descriptors=desc.descriptors,
        desc_bytes=desc.desc_bytes,
    )
    return figures


def sample(frags: list[mapcheck.Fragment], seed: int) -> list[mapcheck.Fragment]:
    if len(frags) <= SAMPLE:
        return frags
    rng = random.Random(seed)
    picked = {0, len(frags) - 1, *rng.sample(range(len(frags)), SAMPLE)}
    return [frags[i] for i in sorted(picked)]


def check_bytes(frags: list[mapcheck.Fragment], data: bytes, model: Layout) -> list[str]:
    """Each fragment holds its slice of data (buffer-major) in physical memory."""
    bad = []
    with Kcore() as kcore:
        for f in frags:
            start = f.buffer * model.bufsize + f.part * model.page_size
            if kcore.read(f.phys, f.length) != data[start : start + f.length]:
                bad.append(f"fragment {f.index} (buffer {f.buffer} part {f.part}) differs")
    return bad[:10]


def fill_by_write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    done = 0
    while done < len(data):
        done += os.write(fd, view[done : done + (1 << 20)])


def fill_by_mmap(fd: int, model: Layout, data: bytes) -> None:
    span = model.pointers_per_buf * model.page_size
    with mmap.mmap(fd, model.pointers * model.page_size, mmap.MAP_SHARED) as mapped:
        assert mapped[: model.page_size] == bytes(model.page_size)  # zeroed pages
        assert mapped[-model.page_size :] == bytes(model.page_size)
        for buf in range(model.buffers):
            chunk = data[buf * model.bufsize : (buf + 1) * model.bufsize]
            mapped[buf * span : buf * span + model.bufsize] = chunk


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"), GEOMETRIES, ids=[f"{i}-{b}x{s}" for i, b, s in GEOMETRIES]
)
def test_ring(iface: str, buffers: int, bufsize: int) -> None:
    info = md.IFACES[iface]
    model = layout.layout(buffers, bufsize, info.tails)
    md.set_geometry(iface, buffers, bufsize)
    pages_before = md.stats()["pages"]
    assert isinstance(pages_before, int)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        got = md.summary(iface)
        kinds = {k: str(got[k]) for k in ("page_array_kind", "pointer_array_kind")}
        want = expected_summary(model, info.desc_format, kinds)
        assert {k: got[k] for k in want} == want
        assert got["direction"] == ("to-device" if info.to_device else "from-device")
        assert md.ioctl_summary(fd).bytes_allocated == got["bytes_allocated"]
        frags = md.fragments(iface)
        assert mapcheck.check(model, frags, model.total_pages) == []
        assert md.stats()["pages"] == pages_before + model.total_pages
        data = random.Random(buffers * bufsize).randbytes(buffers * bufsize)
        if info.mmap:
            fill_by_mmap(fd, model, data)
        elif info.to_device:
            fill_by_write(fd, data)
        else:
            with pytest.raises(BlockingIOError):  # nothing was received
                os.read(fd, 1 << 20)
            data = bytes(buffers * bufsize)  # a receive ring starts zeroed
        assert check_bytes(sample(frags, bufsize), data, model) == []
        entry = md.ioctl_map_entry(fd, len(frags) - 1)
        last = frags[-1]
        assert (entry.buffer, entry.part, entry.page, entry.offset, entry.length) == (
            last.buffer,
            last.part,
            last.page,
            last.offset,
            last.length,
        )
        assert (entry.dma_addr, entry.desc_dma, entry.next_desc) == (last.dma, last.desc, last.next)
    assert md.stats()["pages"] == pages_before
    assert not (md.DEBUGFS / iface).exists()


def free_bytes() -> int:
    """Free memory: MemFree plus the pages waiting on per-CPU lists, which
    MemFree does not count (freed pages go there first, allocations come
    from there first)."""
    free = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemFree:"):
            free = int(line.split()[1]) * 1024
    pcp = sum(
        int(line.split()[1])
        for line in Path("/proc/zoneinfo").read_text().splitlines()
        if line.strip().startswith("count:")
    )
    return free + pcp * PAGE


def test_memory_comes_back_after_close() -> None:
    """The ring's pages leave free memory while it is open and come back at
    close.  The way back is counted as net pages (faults.net_pages: handed
    out less freed, less slab): on a KASAN kernel the slab objects freed at
    close (an IOMMU's IOVAs, kmemleak's metadata) wait in KASAN's
    quarantine, which holds memory that is free to nobody yet is no leak."""
    model = layout.layout(8192, 8192, "packed")  # 16384 pages, 64 MiB
    md.set_geometry("asirx0", 8192, 8192)
    pages = int(md.stats()["pages"])
    before, net_before = free_bytes(), faults.net_pages()
    with md.opened("asirx0"):
        during = free_bytes()
        assert md.stats()["pages"] == pages + model.total_pages
    net_after = faults.net_pages()
    ring_bytes = model.total_pages * model.page_size
    slack = 4 << 20  # page tables, slab, the test's own Python
    assert before - during >= ring_bytes - slack, (before, during)
    assert (net_after - net_before) * model.page_size <= slack, (net_before, net_after)
    assert md.stats()["pages"] == pages


@pytest.mark.parametrize(("bug", "symptom"), [(1, "outside its page"), (2, "pages unused")])
def test_a_wrong_layout_is_caught(bug: int, symptom: str) -> None:
    """The module's test-only layout bugs make the same checks fail."""
    knob = "/sys/module/mdma/parameters/test_layout_bug"
    model = layout.layout(100, 1316, "packed")
    md.set_geometry("asirx0", 100, 1316)
    md.write_attr(Path(knob), str(bug))
    try:
        with md.opened("asirx0"):
            got = md.summary("asirx0")
            problems = mapcheck.check(model, md.fragments("asirx0"), int(got["total_pages"]))
    finally:
        md.write_attr(Path(knob), "0")
    assert any(symptom in p for p in problems), problems
    assert (got["tails_per_page"], got["total_pages"]) != (model.tails_per_page, model.total_pages)
