"""A client of masterdev's interfaces, for code running in the guest as root.

Geometry through sysfs, rings through /dev, layouts through debugfs and the
ioctls of master_dma.h (bound with cffi, see uapi.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import uapi
from ..model import compare, mapcheck
from ..model.layout import Tails

SYSFS = Path("/sys/class/masterdev")
DEBUGFS = Path("/sys/kernel/debug/mdma")
PARAMS = Path("/sys/module/masterdev/parameters")
EDU_DRIVER = Path("/sys/bus/pci/drivers/masterdev-edu")
SWIOTLB = Path("/sys/kernel/debug/swiotlb")


@dataclass(frozen=True)
class Iface:
    name: str
    tails: Tails
    to_device: bool
    desc_format: str
    peer: str  # the other end of its loopback cable

    @property
    def mmap(self) -> bool:
        return self.tails == "own-page"


IFACES = {
    i.name: i
    for i in (
        Iface("asitx0", "packed", True, "lsdma", "asirx0"),
        Iface("asirx0", "packed", False, "lsdma", "asitx0"),
        Iface("sditx0", "own-page", True, "plx9080", "sdirx0"),
        Iface("sdirx0", "own-page", False, "plx9080", "sditx0"),
    )
}


def write_attr(path: Path, value: str) -> None:
    """One write(2) of value, so that the kernel's error reaches the caller."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def geometry(iface: str) -> tuple[int, int]:
    base = SYSFS / iface
    return int((base / "buffers").read_text()), int((base / "bufsize").read_text())


def set_geometry(iface: str, buffers: int, bufsize: int) -> None:
    """Set both values in an order the limits always accept when the old and
    the new geometry both fit them: through 2 buffers (the fewest), whose
    ring is never larger than either."""
    base = SYSFS / iface
    write_attr(base / "buffers", "2")
    write_attr(base / "bufsize", str(bufsize))
    write_attr(base / "buffers", str(buffers))


@contextlib.contextmanager
def preserved() -> Iterator[None]:
    """Put every interface's geometry and masterdev's limits back afterwards."""
    geometries = {name: geometry(name) for name in IFACES}
    limits = {path: path.read_text().strip() for path in PARAMS.glob("max_*")}
    try:
        yield
    finally:
        # the geometries go back under limits that fit both them and what the
        # test left (the larger of each), then the limits
        for path, value in limits.items():
            write_attr(path, str(max(int(value), int(path.read_text()))))
        for name, (buffers, bufsize) in geometries.items():
            set_geometry(name, buffers, bufsize)
        for path, value in limits.items():
            write_attr(path, value)


@contextlib.contextmanager
def opened(iface: str, flags: int = os.O_RDWR) -> Iterator[int]:
    fd = os.open(f"/dev/{iface}", flags)
    try:
        yield fd
    finally:
        os.close(fd)


def dropped(iface: str) -> int:
    """Bytes a transmitter sent with no receiver, or gave up on when killed."""
    return int((SYSFS / iface / "dropped").read_text())


def dma_device(iface: str) -> str:
    """The device the interface's ring is (or will be) mapped for."""
    return (SYSFS / iface / "dma_device").read_text().strip()


def edu_device() -> str | None:
    """The PCI name of the edu device masterdev bound, if any."""
    bound = [p.name for p in EDU_DRIVER.glob("0000:*")] if EDU_DRIVER.exists() else []
    return bound[0] if bound else None


def edu_dma_bits() -> int:
    """The address bits masterdev was told its edu device has."""
    return int((PARAMS / "edu_dma_bits").read_text())


def behind_iommu() -> bool:
    """Whether an IOMMU translates the edu device's bus addresses."""
    edu = edu_device()
    return edu is not None and Path(f"/sys/bus/pci/devices/{edu}/iommu_group").exists()


DESC_ADDR_BITS = {"lsdma": 64, "plx9080": 32}  # what each descriptor format holds


def ring_limit(iface: str) -> int:
    """The highest bus address a ring of iface may use: the edu device's mask
    (or the platform card's 32 bits) and its descriptor format's width."""
    bits = edu_dma_bits() if dma_device(iface) == edu_device() else 32
    return (1 << min(bits, DESC_ADDR_BITS[IFACES[iface].desc_format])) - 1


def swiotlb_used() -> int | None:
    """Slots of the swiotlb pool in use now, or None without swiotlb."""
    path = SWIOTLB / "io_tlb_used"
    return int(path.read_text()) if path.exists() else None


def swiotlb_forced() -> bool:
    """The bounce lane: swiotlb=force makes every streaming mapping bounce."""
    return "swiotlb=force" in Path("/proc/cmdline").read_text().split()


def corrupt(iface: str, index: int) -> None:
    """Test only: point fragment index's descriptor at the next fragment."""
    write_attr(DEBUGFS / iface / "corrupt", str(index))


def set_pair(kind: str, buffers: int, bufsize: int) -> tuple[str, str]:
    """Give both ends of a loopback cable ("asi" or "sdi") one geometry."""
    tx, rx = f"{kind}tx0", f"{kind}rx0"
    set_geometry(tx, buffers, bufsize)
    set_geometry(rx, buffers, bufsize)
    return tx, rx


def summary(iface: str) -> dict[str, int | str]:
    return mapcheck.parse_summary((DEBUGFS / iface / "summary").read_text())


def fragments(iface: str) -> list[mapcheck.Fragment]:
    return mapcheck.parse_map((DEBUGFS / iface / "map").read_text())


def stats() -> dict[str, int | str]:
    return mapcheck.parse_summary((DEBUGFS / "stats").read_text())


def ioctl(fd: int, request: int, struct: Any) -> Any:
    """Issue an ioctl with a cffi struct as its argument; raises OSError."""
    fcntl.ioctl(fd, request, uapi.ffi().buffer(struct), True)
    return struct


def ioctl_summary(fd: int) -> Any:
    ffi, lib = uapi.ffi(), uapi.lib()
    return ioctl(fd, lib.MASTER_DMA_IOC_SUMMARY, ffi.new("struct master_dma_summary *"))


def ioctl_map_entry(fd: int, index: int, **fields: int) -> Any:
    ffi, lib = uapi.ffi(), uapi.lib()
    entry = ffi.new("struct master_dma_map_entry *", {"index": index, **fields})
    return ioctl(fd, lib.MASTER_DMA_IOC_MAP_ENTRY, entry)


def ioctl_buffer(fd: int, request: int, **fields: int) -> Any:
    ffi = uapi.ffi()
    return ioctl(fd, request, ffi.new("struct master_dma_buffer *", fields))


def wait_ready(fd: int, events: int, timeout: float = 30.0) -> int:
    """poll() one fd; the events it reported, or TimeoutError."""
    poller = select.poll()
    poller.register(fd, events)
    got = poller.poll(timeout * 1000)
    if not got:
        raise TimeoutError(f"fd {fd} not ready for {events:#x} in {timeout} s")
    return int(got[0][1])


def read_exactly(fd: int, length: int, timeout: float = 30.0) -> bytes:
    """length bytes from fd, read as they become ready (each read() returns
    what is there); TimeoutError when none arrive for timeout seconds, so a
    broken loopback fails the test instead of hanging the guest."""
    got = bytearray()
    while len(got) < length:
        wait_ready(fd, select.POLLIN, timeout)
        chunk = os.read(fd, length - len(got))
        if not chunk:
            raise EOFError(f"fd {fd}: end of file after {len(got)} of {length} bytes")
        got += chunk
    return bytes(got)


def qbuf(fd: int, index: int, bytesused: int) -> None:
    ioctl_buffer(fd, uapi.lib().MASTER_DMA_IOC_QBUF, index=index, bytesused=bytesused)


def dqbuf(fd: int) -> int:
    """The index of the oldest buffer the device finished."""
    return int(ioctl_buffer(fd, uapi.lib().MASTER_DMA_IOC_DQBUF).index)


def edu_check(fd: int, seed: int) -> Any:
    """Run the edu check on the open ring; the filled master_dma_edu_check."""
    ffi, lib = uapi.ffi(), uapi.lib()
    check = ffi.new("struct master_dma_edu_check *", {"seed": seed})
    return ioctl(fd, lib.MASTER_DMA_IOC_EDU_CHECK, check)


def assert_asi_loops(buffers: int, bufsize: int, what: str) -> None:
    """Send buffers x bufsize random bytes from asitx0 to asirx0 and check that
    they arrive exact (both ends opened here, blocking)."""
    set_pair("asi", buffers, bufsize)
    data = os.urandom(buffers * bufsize)
    with opened("asitx0") as tx, opened("asirx0") as rx:
        assert os.write(tx, data) == len(data)
        got = read_exactly(rx, len(data))
    compare.assert_same(got, data, what)
