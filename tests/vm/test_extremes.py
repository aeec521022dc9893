"""The largest rings masterdev's limits accept open and close without a stall
(one dma_pool for 2**20 descriptors once made a close take 55 s on 6.1).

The soft-lockup detector is armed at its shortest threshold
(kernel.watchdog_thresh=1: a CPU held for 2 s is reported) and the hung-task
detector at 10 s; the kernel-log judge fails the test on either report.
Each extreme is the most of one thing the limits accept: descriptors (packed
rings of 1-byte buffers), tails on own pages (SDI), pages (1 MiB buffers up
to max_ring_bytes).  A ring the machine cannot reach is refused with ENOMEM,
quickly; the open and close times are recorded as figures.  Only where there
is memory for 512 MiB rings (the users profile's 5 GiB).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyharness.guest import masterdev as md
from pyharness.model import figures

SYSCTL = Path("/proc/sys/kernel")
MEM_TOTAL_KIB = int(Path("/proc/meminfo").read_text().split()[1])
pytestmark = [
    pytest.mark.usefixtures("masterdev_state"),
    pytest.mark.skipif(MEM_TOTAL_KIB < 4 << 20, reason="needs 4 GiB (the users profile)"),
]


@contextlib.contextmanager
def sysctls(**values: int) -> Iterator[None]:
    saved = {}
    for name, value in values.items():
        path = SYSCTL / name
        if path.exists():
            saved[path] = path.read_text()
            path.write_text(str(value))
    try:
        yield
    finally:
        for path, text in saved.items():
            path.write_text(text)


def accepts(iface: str, buffers: int, bufsize: int) -> bool:
    try:
        md.set_geometry(iface, buffers, bufsize)
    except OSError as err:
        assert err.errno == errno.EINVAL
        return False
    return True


def most_buffers(iface: str, bufsize: int) -> int:
    """The largest buffers the limits accept at this bufsize (bisection)."""
    low, high = 2, int((md.PARAMS / "max_buffers").read_text())
    assert accepts(iface, low, bufsize)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if accepts(iface, mid, bufsize) else (low, mid - 1)
    return low


@pytest.mark.parametrize(
    ("what", "iface", "bufsize"),
    [
        ("most descriptors", "asitx0", 1),
        ("most own-page tails", "sdirx0", 1),
        ("most pages", "asitx0", 1 << 20),
    ],
)
def test_the_largest_rings_open_and_close_without_a_stall(
    what: str, iface: str, bufsize: int
) -> None:
    buffers = most_buffers(iface, bufsize)
    md.set_geometry(iface, buffers, bufsize)
    with sysctls(watchdog_thresh=1, hung_task_timeout_secs=10):
        start = time.monotonic()
        try:
            fd = os.open(f"/dev/{iface}", os.O_RDWR)
        except OSError as err:
            assert err.errno == errno.ENOMEM, err
            refused = round(time.monotonic() - start, 2)
            figures.record(f"{what} {iface} {buffers}x{bufsize}: ENOMEM in", refused, "s")
            return
        opened = time.monotonic()
        pages = int(md.summary(iface)["total_pages"])
        os.close(fd)
        closed = time.monotonic()
    name = f"{what} {iface} {buffers}x{bufsize} ({pages} pages)"
    figures.record(f"{name}: open", round(opened - start, 2), "s")
    figures.record(f"{name}: close", round(closed - opened, 2), "s")
