"""Lifetimes: what outlives what, and what a dying process leaves behind.

A ring mapping outlives close() and keeps the ring's pages until munmap; no
module can be unloaded while one of its nodes is open or mapped, or while
another module uses it; a process killed while blocked in read() or poll()
leaves the interface usable by the next open.  (A writer killed in write()
and the edu device removed under open rings: test_streams.py and
test_edu.py.  A himem region cannot be freed while mapped: test_himem.py.)
"""

from __future__ import annotations

import errno
import mmap
import os
import signal
import subprocess
import sys
import time

import pytest

from pyharness.guest import guestkit
from pyharness.guest import masterdev as md
from pyharness.model import compare

pytestmark = pytest.mark.usefixtures("masterdev_state")


def ring_count() -> int:
    rings = md.stats()["rings"]
    assert isinstance(rings, int)
    return rings


def test_a_ring_mapping_outlives_close_and_keeps_its_pages_until_munmap() -> None:
    md.set_geometry("sditx0", 4, 9588)
    before = md.stats()
    fd = os.open("/dev/sditx0", os.O_RDWR)
    try:
        length = int(md.summary("sditx0")["pointers"]) * mmap.PAGESIZE
        mapped = mmap.mmap(fd, length, mmap.MAP_SHARED)
    finally:
        os.close(fd)  # from here on, only the mapping holds the file
    try:
        pattern = os.urandom(length)
        mapped[:] = pattern
        assert ring_count() == int(before["rings"]) + 1
        assert md.stats()["pages"] == int(md.summary("sditx0")["total_pages"]) + int(
            before["pages"]
        )
        compare.assert_same(mapped[:], pattern, "the mapping after close()")
        try:  # still open, through the mapping
            os.close(os.open("/dev/sditx0", os.O_RDWR))
        except OSError as busy:
            assert busy.errno == errno.EBUSY
        else:
            pytest.fail("a second open succeeded while the mapping held the ring")
        assert not guestkit.rmmod("masterdev").ok
        assert not guestkit.rmmod("mdma").ok
    finally:
        mapped.close()
    assert md.stats() == before  # munmap was the last close: the ring is freed


@pytest.mark.parametrize("iface", ["asitx0", "sdirx0"])
def test_no_module_unloads_under_an_open_node(iface: str) -> None:
    md.set_geometry(iface, 4, 1316)
    with md.opened(iface):
        for module in ("masterdev", "mdma"):
            removed = guestkit.rmmod(module)
            assert not removed.ok, f"{module} unloaded with {iface} open"
        assert ring_count() == 1
    assert ring_count() == 0


BLOCKED_READER = """
import os, select, sys
fd = os.open("/dev/asirx0", os.O_RDONLY | (os.O_NONBLOCK if sys.argv[1] == "poll" else 0))
print("open", flush=True)
if sys.argv[1] == "poll":
    p = select.poll()
    p.register(fd, select.POLLIN)
    p.poll()
else:
    os.read(fd, 1 << 16)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("call", ["read", "poll"])
def test_a_reader_killed_while_blocked_leaves_the_pair_usable(call: str, sig: str) -> None:
    """A reader blocked in read() or poll() with nothing coming is killed: its
    close is clean and the next reader, with a writer, gets every byte."""
    md.set_pair("asi", 4, 1316)
    child = subprocess.Popen([sys.executable, "-c", BLOCKED_READER, call], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"open\n"
    time.sleep(1.0)
    assert child.poll() is None, f"{call}() returned with nothing to read"
    if not guestkit.kill_and_reap(child, getattr(signal, sig)):
        pytest.fail(f"a reader killed by {sig} in {call}() did not exit")
    assert ring_count() == 0
    md.assert_asi_loops(4, 1316, "through the pair after the killed reader")
