"""The high-memory allocator's model and parsers, pure (host-tested, and
read by the report's page map on the host): parse /proc/iomem and the
allocator's debugfs files; compute the range the allocator should claim from
the firmware's map minus what is registered; and FirstFit, the test's own
bookkeeping of a lowest-address-first allocator, written from its contract
(page-aligned regions, the lowest hole that fits), not from its output.
The guest's client is himem.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

PAGE = 4096
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
