"""The high-memory allocator from user space, in the guest: /dev/himem
(himemtest.ko) through the ioctls of master_dma.h, the allocator's debugfs,
/proc/iomem and the firmware's map, and modules loaded for the length of a
block.  The model and parsers are himemmodel.py (pure)."""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .. import uapi
from ..model.himemmodel import SNAPSHOT, IomemEntry, Region, parse_iomem, parse_regions
from ..model.mapcheck import parse_summary
from . import guestkit
from .masterdev import ioctl

DEV = Path("/dev/himem")
DEBUGFS = Path("/sys/kernel/debug")
IOMEM = Path("/proc/iomem")
MEMMAP = Path("/sys/firmware/memmap")
ACPI_TABLES = Path("/sys/firmware/acpi/tables")


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
