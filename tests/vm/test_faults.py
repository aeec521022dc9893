"""Every error path of a ring's allocation runs, and leaves nothing behind.

mdma's fault points (test builds only: /sys/kernel/debug/mdma/fail_nth,
kmod/mdma/mdma_test.c) make the Nth allocation or mapping from now on fail.
A sweep arms N = 1, 2, ... and opens the interface each time, until an open
succeeds without reaching the armed point: so every allocation and mapping
of the open fails once, in order.  Each failed open must be ENOMEM with the
rings, pages and descriptors back to where they were, and the kernel log
judge sees every one of them (dma_pool_destroy's "busy", a leak's report).
"""

from __future__ import annotations

import errno
import itertools
import os

import pytest

from pyharness import layout
from pyharness import masterdev as md

FAIL_NTH = md.DEBUGFS / "fail_nth"
FAIL_LOG = md.DEBUGFS / "fail_log"
FAIL_TIMES = md.DEBUGFS / "fail_times"
# Every site a ring's allocation passes (kmod/mdma/mdma_test.c).
SITES = {"ring", "array", "pages", "page", "map", "pool", "desc", "event"}
# Failures an open survives: the bulk allocator's (a page at a time instead)
# and an event's (the listeners see a gap in the sequence numbers).
SURVIVED = {"pages", "event"}

pytestmark = [
    pytest.mark.usefixtures("masterdev_state"),
    pytest.mark.skipif(not FAIL_NTH.exists(), reason="needs a test build (MASTERDMA_TEST=1)"),
]


def injected() -> tuple[int, str]:
    count, site = FAIL_LOG.read_text().split()
    return int(count), site


def sweep(iface: str, want_pages: int, times: int = 1) -> dict[str, int]:
    """Fail each allocation and mapping of one open in turn (and the times - 1
    after it); how often each site failed last.

    An open that survives a failure must still hold want_pages pages.
    """
    FAIL_TIMES.write_text(str(times))
    baseline = md.stats()
    failed: dict[str, int] = {}
    for n in itertools.count(1):
        before = injected()[0]
        FAIL_NTH.write_text(str(n))
        try:
            fd = os.open(f"/dev/{iface}", os.O_RDWR)
        except OSError as err:
            FAIL_NTH.write_text("0")
            count, site = injected()
            assert count > before, f"open failed with {err} and no fault at N={n}"
            assert err.errno == errno.ENOMEM, f"{site} at N={n}: {err}"
            assert md.stats() == baseline, f"{site} at N={n} left something behind"
            failed[site] = failed.get(site, 0) + 1
            continue
        left = int(FAIL_NTH.read_text())
        FAIL_NTH.write_text("0")
        pages = int(md.summary(iface)["total_pages"])
        os.close(fd)
        assert pages == want_pages, f"N={n}: a ring of {pages} pages"
        count, site = injected()
        if count == before:  # the open never reached the Nth point: all done
            assert left > 0
            break
        failed[site] = failed.get(site, 0) + 1
        assert site in SURVIVED, f"{site} failed at N={n} and the open succeeded"
    assert md.stats() == baseline
    return failed


@pytest.mark.parametrize(
    ("iface", "tails", "buffers", "bufsize"),
    [("asitx0", "packed", 3, 5000), ("sdirx0", "own-page", 3, 5000)],
    ids=["packed", "own-page"],
)
def test_every_allocation_of_an_open_fails_cleanly(
    iface: str, tails: layout.Tails, buffers: int, bufsize: int
) -> None:
    md.set_geometry(iface, buffers, bufsize)
    model = layout.layout(buffers, bufsize, tails)
    failed = sweep(iface, model.total_pages)
    # A page alone is asked for when the bulk allocator gives up: two failures.
    twice = sweep(iface, model.total_pages, times=2)
    FAIL_TIMES.write_text("1")
    assert set(failed) | set(twice) == SITES, (failed, twice)
    assert failed["map"] == model.total_pages  # one mapping per page
    assert failed["desc"] == model.pointers  # one descriptor per page or tail
