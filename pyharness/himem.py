"""The high-memory allocator from user space: its model, parsers and the guest's door.

Pure part (host-tested): parse /proc/iomem, /sys/firmware/memmap and the
allocator's debugfs files; compute the range the allocator should claim from
the firmware's map minus what is registered; and FirstFit, the test's own
bookkeeping of a lowest-address-first allocator, written from its contract
(page-aligned regions, the lowest hole that fits), not from its output.

Guest part: /dev/himem (himemtest.ko) through the ioctls of master_dma.h,
the allocator's debugfs, and modules loaded for the length of a block.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import guestkit, uapi
from .mapcheck import parse_summary
from .masterdev import ioctl

PAGE = 4096
DEV = Path("/dev/himem")
DEBUGFS = Path("/sys/kernel/debug")
IOMEM = Path("/proc/iomem")
MEMMAP = Path("/sys/firmware/memmap")
ACPI_TABLES = Path("/sys/firmware/acpi/tables")
CLAIM_NAME = "allocator"
SNAPSHOT = "himem"  # under the run directory: summary and regions, for the report's map


@dataclass(frozen=True)
class Region:
    start: int
    size: int
    owner: str = ""

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class IomemEntry:
    start: int
    end: int  # inclusive, as /proc/iomem prints it
    name: str
    depth: int

    def overlaps(self, start: int, end: int) -> bool:
        """Whether it shares a byte with [start, end)."""
        return self.start < end and start <= self.end


def page_align(size: int) -> int:
    return -(-size // PAGE) * PAGE


# --- parsers ----------------------------------------------------------------

_IOMEM_LINE = re.compile(r"^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$")


def parse_iomem(text: str) -> list[IomemEntry]:
    entries = []
    for line in text.splitlines():
        m = _IOMEM_LINE.match(line)
        if m:
            indent, start, end, name = m.groups()
            entries.append(IomemEntry(int(start, 16), int(end, 16), name, len(indent) // 2))
    return entries


def parse_regions(text: str) -> list[Region]:
    regions = []
    for line in text.splitlines():
        start, size, owner = line.split()
        regions.append(Region(int(start, 0), int(size), owner))
    return regions


RAM_BUFFER = "RAM buffer"  # what x86 registers above an unaligned mem=


def expected_claim(
    base: int, ram: list[tuple[int, int]], iomem: list[IomemEntry], limit: int | None = None
) -> tuple[int, int]:
    """Where the allocator should claim, and how many bytes: from base (the
    kernel's end), past the registered ranges that cover it (x86's "RAM
    buffer" above a mem= that is not a multiple of 64 MiB), the firmware RAM
    that continues without a gap, cut at the first registered range (other
    than a claim of its own), at most limit, in whole pages."""
    others = [entry for entry in iomem if entry.name != CLAIM_NAME]
    start = base
    for entry in others:
        if entry.name == RAM_BUFFER and entry.start == base:
            start = entry.end + 1
    end = start
    for ram_start, stop in sorted(ram):  # stop exclusive
        if ram_start <= end < stop:
            end = stop
    for entry in others:
        if entry.overlaps(start, end):
            end = min(end, entry.start)
    size = max(0, end - start) // PAGE * PAGE
    return start, min(size, limit) if limit is not None else size


class FirstFit:
    """What a lowest-address-first allocator of pages must hold after each step."""

    def __init__(self, base: int, size: int) -> None:
        self.base, self.size = base, size
        self.live: dict[int, int] = {}  # start -> size

    def holes(self) -> list[tuple[int, int]]:
        holes, at = [], self.base
        for start in sorted(self.live):
            if start > at:
                holes.append((at, start - at))
            at = start + self.live[start]
        if at < self.base + self.size:
            holes.append((at, self.base + self.size - at))
        return holes

    def predict(self, nbytes: int) -> int | None:
        """Where an allocation of nbytes must land, or None if it must fail."""
        want = page_align(nbytes)
        if not want:
            return None
        return next((start for start, size in self.holes() if size >= want), None)

    def allocated(self, start: int, nbytes: int) -> None:
        self.live[start] = page_align(nbytes)

    def freed(self, start: int) -> None:
        del self.live[start]

    def summary(self) -> dict[str, int]:
        """The figures the allocator's summary must show."""
        holes = self.holes()
        return {
            "free": sum(size for _, size in holes),
            "largest_free": max((size for _, size in holes), default=0),
            "regions": len(self.live),
        }


# --- the guest --------------------------------------------------------------


def summary(module: str = "allocator") -> dict[str, int | str]:
    return parse_summary((DEBUGFS / module / "summary").read_text())


def regions(module: str = "allocator") -> list[Region]:
    return parse_regions((DEBUGFS / module / "regions").read_text())


def save_snapshot(run_dir: Path, module: str = "allocator") -> Path:
    """Copy the allocator's summary and regions files to run_dir/SNAPSHOT."""
    saved = run_dir / SNAPSHOT
    saved.mkdir(exist_ok=True)
    for name in ("summary", "regions"):
        (saved / name).write_text((DEBUGFS / module / name).read_text())
    return saved


def iomem() -> list[IomemEntry]:
    return parse_iomem(IOMEM.read_text())


def ram_above(address: int) -> bool:
    """Whether the kernel manages RAM at or above address (System RAM in
    /proc/iomem ending there or higher), e.g. above 4 GiB."""
    return any(e.end >= address for e in iomem() if e.name == "System RAM")


def firmware_ram() -> list[tuple[int, int]]:
    """RAM ranges [start, stop) of the firmware's map, as it was before mem=."""
    ranges = []
    for entry in MEMMAP.iterdir():
        if (entry / "type").read_text().strip() == "System RAM":
            start = int((entry / "start").read_text(), 16)
            ranges.append((start, int((entry / "end").read_text(), 16) + 1))
    return sorted(ranges)


def mem_limit() -> int | None:
    """The mem= of the kernel command line, in bytes, if any."""
    m = re.search(r"(?:^| )mem=(\d+)([KMG]?)(?: |$)", Path("/proc/cmdline").read_text())
    if not m:
        return None
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def acpi_tables() -> dict[str, bytes]:
    """Every ACPI table the firmware handed over, by path."""
    return {
        str(path.relative_to(ACPI_TABLES)): path.read_bytes()
        for path in sorted(ACPI_TABLES.rglob("*"))
        if path.is_file()
    }


def refcount(module: str) -> int:
    return int(Path("/sys/module", module, "refcnt").read_text())


@contextlib.contextmanager
def loaded(ko: Path, *params: str) -> Iterator[None]:
    """A module loaded for the length of the block, unloaded after if still there."""
    op = guestkit.insmod(ko, *params)
    if not op.ok:
        raise OSError(f"insmod {ko.name} {' '.join(params)}: {op.output}")
    try:
        yield
    finally:
        if guestkit.loaded(ko.stem):
            removed = guestkit.rmmod(ko.stem)
            if not removed.ok:
                raise OSError(f"rmmod {ko.stem}: {removed.output}")


class Door:
    """An open /dev/himem; every call raises OSError with the kernel's errno."""

    def __init__(self) -> None:
        self.fd = os.open(DEV, os.O_RDWR)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Door:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alloc(self, nbytes: int) -> Region:
        ffi, lib = uapi.ffi(), uapi.lib()
        req = ffi.new("struct master_dma_himem_region *", {"size": nbytes})
        ioctl(self.fd, lib.MASTER_DMA_IOC_HIMEM_ALLOC, req)
        return Region(int(req.start), int(req.size), "himemtest")

    def free(self, start: int) -> None:
        ffi, lib = uapi.ffi(), uapi.lib()
        req = ffi.new("struct master_dma_himem_region *", {"start": start})
        ioctl(self.fd, lib.MASTER_DMA_IOC_HIMEM_FREE, req)

    def list(self, room: int = 4096, pad: int = 0) -> tuple[list[Region], int]:
        """The door's regions in address order, at most room of them, and how
        many it holds in all."""
        ffi, lib = uapi.ffi(), uapi.lib()
        out = ffi.new("struct master_dma_himem_region[]", max(room, 1))
        fields = {"regions": int(ffi.cast("uintptr_t", out)), "count": room, "pad": pad}
        req = ffi.new("struct master_dma_himem_list *", fields)
        ioctl(self.fd, lib.MASTER_DMA_IOC_HIMEM_LIST, req)
        total = int(req.count)
        listed = [Region(int(r.start), int(r.size), "himemtest") for r in out[0 : min(total, room)]]
        return listed, total

    def edu(self, region: Region, offset: int, length: int, edu_offset: int, to_ram: bool) -> None:
        """One edu transfer between the region and the device's buffer."""
        ffi, lib = uapi.ffi(), uapi.lib()
        flags = lib.MASTER_DMA_HIMEM_EDU_TO_RAM if to_ram else 0
        fields = {"start": region.start, "offset": offset, "len": length}
        fields |= {"edu_offset": edu_offset, "flags": flags}
        req = ffi.new("struct master_dma_himem_edu *", fields)
        ioctl(self.fd, lib.MASTER_DMA_IOC_HIMEM_EDU, req)

    @contextlib.contextmanager
    def mapped(self, region: Region, length: int | None = None) -> Iterator[mmap.mmap]:
        """The region mapped shared into this process (a PFN map of it)."""
        mapping = mmap.mmap(self.fd, length or region.size, offset=region.start)
        try:
            yield mapping
        finally:
            mapping.close()
