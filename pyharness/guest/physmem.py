"""Read physical memory through /proc/kcore (root, in the guest).

The tests use it to see the bytes at a fragment's address without going
through the module under test: kcore's RAM segments carry their physical
address in p_paddr.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

PT_LOAD = 1
NO_PADDR = 2**64 - 1
PN_XNUM = 0xFFFF


@dataclass(frozen=True)
class Segment:
    paddr: int
    size: int
    offset: int


class Kcore:
    def __init__(self, path: str = "/proc/kcore") -> None:
        self._fd = os.open(path, os.O_RDONLY)
        header = os.pread(self._fd, 64, 0)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            raise OSError(f"{path} is not a 64-bit ELF core")
        phoff = struct.unpack_from("<Q", header, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        if phnum == PN_XNUM:
            raise OSError(f"{path} has too many segments to read simply")
        table = os.pread(self._fd, phentsize * phnum, phoff)
        self.segments: list[Segment] = []
        for i in range(phnum):
            p_type, _, p_offset, _, p_paddr, p_filesz = struct.unpack_from(
                "<IIQQQQ", table, i * phentsize
            )
            if p_type == PT_LOAD and p_paddr != NO_PADDR:
                self.segments.append(Segment(p_paddr, p_filesz, p_offset))

    def read(self, phys: int, length: int) -> bytes:
        for seg in self.segments:
            if seg.paddr <= phys and phys + length <= seg.paddr + seg.size:
                return os.pread(self._fd, length, seg.offset + phys - seg.paddr)
        raise ValueError(f"physical range {phys:#x}+{length} is not in kcore's RAM")

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Kcore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
