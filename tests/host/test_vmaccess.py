"""The mapping survey on ordinary memory: anonymous shared pages (shmem)."""

from __future__ import annotations

import mmap
import tempfile

from pyharness.guest import vmaccess
from pyharness.model import compare

PATTERN = bytes(range(256)) * (3 * vmaccess.PAGE // 256)


def shared_memory() -> tuple[mmap.mmap, bytes]:
    mapped = mmap.mmap(-1, len(PATTERN), mmap.MAP_SHARED)
    mapped[:] = PATTERN
    return mapped, PATTERN


def test_ordinary_shared_memory_passes_every_case_but_remove() -> None:
    outcomes = {o.case: o for o in vmaccess.survey(shared_memory)}
    assert set(outcomes) == set(vmaccess.CASES)
    # MADV_REMOVE punches a hole in shmem: the survey sees the bytes go.
    remove = outcomes.pop("madvise remove").result
    assert remove.startswith("wrong bytes: ") and "the first at offset 1" in remove  # 0 is 0
    assert outcomes.pop("madvise free").result == "errno EINVAL"  # private memory only
    assert outcomes["mremap grow"].result == "ok"
    assert [o for o in outcomes.values() if not o.acceptable] == []


def test_a_signal_is_caught_and_named() -> None:
    def beyond_the_file() -> tuple[mmap.mmap, bytes]:
        with tempfile.TemporaryFile() as f:
            f.truncate(vmaccess.PAGE)
            mapped = mmap.mmap(f.fileno(), vmaccess.PAGE, mmap.MAP_SHARED)
            f.truncate(0)  # the page is gone: touching it is SIGBUS
        return mapped, bytes(vmaccess.PAGE)

    outcome = vmaccess.survey(beyond_the_file)[0]
    assert outcome.result == "signal SIGBUS"
    assert not outcome.acceptable


def test_a_difference_is_summarised_not_shown() -> None:
    want = bytes(1 << 20)
    got = bytearray(want)
    got[70000] = got[900000] = 1
    assert compare.difference(bytes(got), want) == (
        "2 of 1048576 bytes differ, the first at offset 70000"
    )
    assert compare.difference(want, want) is None
    assert compare.difference(b"ab", b"abc") == "2 bytes instead of 3"
