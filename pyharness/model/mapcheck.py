"""Check a ring's map (debugfs .../map) against the layout model.

Pure functions over parsed text, used in the guest on real maps and on the
host on synthetic ones.  check() returns problems; an empty list is a pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from .layout import Layout

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Fragment:
    """One line of the map: a page or tail and its descriptor."""

    index: int
    buffer: int
    part: int
    page: int
    offset: int
    length: int
    dma: int
    desc: int
    next: int
    flags: str  # "I" interrupt, "E" end of list, "-" neither
    phys: int  # physical address: where the CPU's bytes are

    @property
    def interrupt(self) -> bool:
        return "I" in self.flags

    @property
    def end(self) -> bool:
        return "E" in self.flags


def parse_map(text: str) -> list[Fragment]:
    frags = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        n = [int(x, 0) for x in fields[:9]]
        phys = int(fields[10], 0)
        frags.append(
            Fragment(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], fields[9], phys)
        )
    return frags


def parse_summary(text: str) -> dict[str, int | str]:
    """`key: value` lines of a debugfs file; decimal and 0x hex numbers become ints."""
    summary: dict[str, int | str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        try:
            summary[key] = int(value, 0)
        except ValueError:
            summary[key] = value
    return summary


class _Problems(list[str]):
    def add(self, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(message)


def check(model: Layout, frags: list[Fragment], total_pages: int) -> list[str]:
    """Every property a correct ring has; total_pages is what the kernel allocated."""
    problems = _Problems()
    if len(frags) != model.pointers:
        problems.add(f"{len(frags)} fragments, the model says {model.pointers}")
    _check_order(model, frags, problems)
    _check_pages(model, frags, total_pages, problems)
    _check_ring(model, frags, problems)
    return list(problems)


def _check_order(model: Layout, frags: list[Fragment], problems: _Problems) -> None:
    ppb = model.pointers_per_buf
    for i, f in enumerate(frags):
        if (f.index, f.buffer, f.part) != (i, i // ppb, i % ppb):
            problems.add(f"fragment {i} is buffer {f.buffer} part {f.part}: not buffer-major")
        expected = model.fragment_length(f.part)
        if f.length != expected:
            problems.add(f"fragment {i} has {f.length} bytes, the model {expected}")


def _check_pages(
    model: Layout, frags: list[Fragment], total_pages: int, problems: _Problems
) -> None:
    page_size = model.page_size
    on_page: dict[int, list[Fragment]] = defaultdict(list)
    for f in frags:
        if f.offset + f.length > page_size:
            problems.add(f"fragment {f.index} ends at {f.offset + f.length}: outside its page")
        if not 0 <= f.page < total_pages:
            problems.add(f"fragment {f.index} is on page {f.page} of {total_pages}")
        if (f.dma - f.offset) % page_size or (f.phys - f.offset) % page_size:
            problems.add(f"fragment {f.index} at {f.dma:#x} is not offset {f.offset} of a page")
        on_page[f.page].append(f)
    for page, group in on_page.items():
        group.sort(key=lambda f: f.offset)
        if len({f.dma - f.offset for f in group}) != 1:
            problems.add(f"page {page} has fragments with different bus addresses")
        if len({f.phys - f.offset for f in group}) != 1:
            problems.add(f"page {page} has fragments in different physical pages")
        for a, b in pairwise(group):
            if a.offset + a.length > b.offset:
                problems.add(f"fragments {a.index} and {b.index} overlap on page {page}")
    unused = sorted(set(range(total_pages)) - on_page.keys())
    if unused:
        problems.add(f"{len(unused)} allocated pages unused, first page {unused[0]}")


def _check_ring(model: Layout, frags: list[Fragment], problems: _Problems) -> None:
    n = len(frags)
    if len({f.desc for f in frags}) != n:
        problems.add("descriptors are not distinct")
    for i, f in enumerate(frags):
        following = frags[(i + 1) % n]
        if f.next != following.desc:
            problems.add(f"descriptor {i} chains to {f.next:#x}, not {following.desc:#x}")
        last_part = f.part == model.pointers_per_buf - 1
        if f.interrupt != last_part:
            problems.add(f"descriptor {i} INT is {f.interrupt}, expected {last_part}")
        if f.end != (i == n - 1):
            problems.add(f"descriptor {i} EOL is {f.end}, expected {i == n - 1}")
