"""The layout model of the Master ring allocator, from the formulas of the design.

With P = page size and t = bufsize % P:

    pointers_per_buf = bufsize // P + (t > 0)
    full_pages       = (bufsize // P) * buffers
    tails_per_page   = 0 if t == 0, else P // t (packed) or 1 (own page)
    tail_pages       = ceil(buffers / tails_per_page) if t > 0, else 0
    total_pages      = full_pages + tail_pages
    pointers         = pointers_per_buf * buffers
    bytes_required   = buffers * bufsize + (total_pages + pointers) * pointer_size
    bytes_allocated  = total_pages * P + kmalloc(page array) + kmalloc(pointer array)

kmalloc sizes follow either the seed's allocator (powers of two from 32 bytes)
or x86_64 SLUB (size classes up to 8 KiB, then whole pages rounded up to a
power-of-two order).  This module is written from those formulas and never
from what the kernel reports: the tests compare the two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Tails = Literal["packed", "own-page"]
Kmalloc = Literal["pow2", "slub"]

PAGE_SIZE = 4096
SLUB_CLASSES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
POW2_MIN = 32

# Descriptor formats: (bytes, alignment) of one descriptor.
DESC_FORMATS = {"lsdma": (28, 32), "plx9080": (16, 16)}
DESC_SLOT = 16  # the kernel's record of a descriptor: CPU pointer + bus address


def kmalloc_pow2(size: int) -> int:
    """The seed's kmalloc: the smallest power of two from 32 holding size."""
    block = POW2_MIN
    while block < size:
        block *= 2
    return block


def kmalloc_slub(size: int, page_size: int = PAGE_SIZE) -> int:
    """x86_64 SLUB: a size class up to 8 KiB, then pages of a power-of-two order."""
    for block in SLUB_CLASSES:
        if size <= block:
            return block
    pages = 1
    while pages * page_size < size:
        pages *= 2
    return pages * page_size


def vmalloc_bytes(size: int, page_size: int = PAGE_SIZE) -> int:
    """Whole pages of a vmalloc area (the guard page is not memory)."""
    return -(-size // page_size) * page_size


def kmalloc_size(size: int, kmalloc: Kmalloc, page_size: int = PAGE_SIZE) -> int:
    return kmalloc_pow2(size) if kmalloc == "pow2" else kmalloc_slub(size, page_size)


@dataclass(frozen=True)
class Layout:
    """Every figure of a ring's layout, named as in the design and the kernel's summary."""

    buffers: int
    bufsize: int
    tails: Tails
    pointer_size: int
    kmalloc: Kmalloc
    page_size: int
    tail_size: int
    pointers_per_buf: int
    full_pages: int
    tails_per_page: int
    tail_pages: int
    total_pages: int
    pointers: int
    page_array_bytes: int
    pointer_array_bytes: int
    bytes_required: int
    bytes_allocated: int

    @property
    def full_per_buf(self) -> int:
        return self.bufsize // self.page_size

    def fragment_length(self, part: int) -> int:
        """Bytes of part `part` of any buffer: a whole page, or the tail."""
        return self.page_size if part < self.full_per_buf else self.tail_size

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _tails_per_page(tail: int, tails: Tails, page_size: int) -> int:
    if tail == 0:
        return 0
    return page_size // tail if tails == "packed" else 1


def layout(
    buffers: int,
    bufsize: int,
    tails: Tails = "packed",
    *,
    pointer_size: int = 8,
    kmalloc: Kmalloc = "slub",
    page_size: int = PAGE_SIZE,
) -> Layout:
    """The layout of `buffers` buffers of `bufsize` bytes."""
    if buffers < 1 or bufsize < 1:
        raise ValueError("buffers and bufsize must be at least 1")
    if tails not in ("packed", "own-page"):
        raise ValueError(f"tails must be packed or own-page, not {tails!r}")
    tail = bufsize % page_size
    pointers_per_buf = bufsize // page_size + (tail > 0)
    full_pages = (bufsize // page_size) * buffers
    tails_per_page = _tails_per_page(tail, tails, page_size)
    tail_pages = -(-buffers // tails_per_page) if tail else 0
    total_pages = full_pages + tail_pages
    pointers = pointers_per_buf * buffers
    page_array = kmalloc_size(total_pages * pointer_size, kmalloc, page_size)
    pointer_array = kmalloc_size(pointers * pointer_size, kmalloc, page_size)
    return Layout(
        buffers=buffers,
        bufsize=bufsize,
        tails=tails,
        pointer_size=pointer_size,
        kmalloc=kmalloc,
        page_size=page_size,
        tail_size=tail,
        pointers_per_buf=pointers_per_buf,
        full_pages=full_pages,
        tails_per_page=tails_per_page,
        tail_pages=tail_pages,
        total_pages=total_pages,
        pointers=pointers,
        page_array_bytes=page_array,
        pointer_array_bytes=pointer_array,
        bytes_required=buffers * bufsize + (total_pages + pointers) * pointer_size,
        bytes_allocated=total_pages * page_size + page_array + pointer_array,
    )


@dataclass(frozen=True)
class Descriptors:
    """The descriptor figures of a ring (reported apart from bytes_allocated)."""

    desc_size: int
    desc_stride: int
    descriptors: int
    desc_bytes: int
    desc_array_bytes: int
    page_dma_array_bytes: int


def descriptors(ring: Layout, fmt: str) -> Descriptors:
    size, align = DESC_FORMATS[fmt]
    stride = -(-size // align) * align
    return Descriptors(
        desc_size=size,
        desc_stride=stride,
        descriptors=ring.pointers,
        desc_bytes=ring.pointers * stride,
        desc_array_bytes=kmalloc_size(ring.pointers * DESC_SLOT, ring.kmalloc, ring.page_size),
        page_dma_array_bytes=kmalloc_size(
            ring.total_pages * ring.pointer_size, ring.kmalloc, ring.page_size
        ),
    )
