"""Compare large byte buffers the way a failing test should report them.

pytest's own diff of two megabyte buffers can exhaust a small guest's memory
(it once OOM-killed the 448 MiB himem guest); these report the first
differing offset and how many bytes differ, never the buffers.
"""

from __future__ import annotations


def difference(got: bytes, want: bytes) -> str | None:
    """None when equal; else "N of M bytes differ, the first at offset K"
    (or the two lengths)."""
    if got == want:
        return None
    if len(got) != len(want):
        return f"{len(got)} bytes instead of {len(want)}"
    # Compare in 64 KiB blocks: a bytes slice comparison is fast, a loop over
    # each byte of the buffers is not.
    first, count, block = -1, 0, 1 << 16
    for start in range(0, len(want), block):
        a, b = got[start : start + block], want[start : start + block]
        if a == b:
            continue
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if first < 0:
            first = start + diffs[0]
        count += len(diffs)
    return f"{count} of {len(want)} bytes differ, the first at offset {first}"


def assert_same(got: bytes, want: bytes, what: str = "bytes") -> None:
    """Raise AssertionError with difference()'s summary, never a diff."""
    found = difference(got, want)
    if found is not None:
        raise AssertionError(f"{what}: {found}")
