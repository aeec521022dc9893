"""The bus-address engine: what goes into a transmitter comes out of its receiver.

asitx0 is cabled to asirx0 and sditx0 to sdirx0.  The engine walks both rings'
descriptor chains and copies fragment to fragment by the bus addresses in the
descriptors, translated as the device's bus sees them (its IOMMU domain, else
the direct or swiotlb mapping), never through the CPU's pointers.  64 MiB of
random bytes go through each geometry, driven by poll(); the SDI receiver is
read through mmap with DQBUF/QBUF.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import random
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pyharness.guest import masterdev as md
from pyharness.model import compare, figures, layout

STREAM = 64 << 20
CHUNK = 1 << 20
STALL = 30.0  # seconds without progress that mean the engine is stuck
ASI = [(1000, 9588), (10000, 1316), (64, 2049), (16, 4096), (5, 12289)]
SDI = [(1000, 9588), (7, 12289)]
NONBLOCK = os.O_RDWR | os.O_NONBLOCK

pytestmark = pytest.mark.usefixtures("masterdev_state")


def stream_for(bufsize: int, size: int = STREAM) -> bytes:
    """Random bytes: whole buffers, at least size of them."""
    return random.Random(bufsize).randbytes(-(-size // bufsize) * bufsize)


@contextmanager
def cable(kind: str, flags: int = NONBLOCK) -> Iterator[tuple[int, int]]:
    tx, rx = f"{kind}tx0", f"{kind}rx0"
    with md.opened(tx, flags) as t, md.opened(rx, flags) as r:
        yield t, r


def pump(tx: int, rx: int, data: bytes, receive: Callable[[], bytes]) -> tuple[float, int | None]:
    """Write data into tx while receive() takes it out of rx, both driven by
    poll(); the seconds it took and the offset of the first wrong byte."""
    view = memoryview(data)
    sent = received = 0
    mismatch: int | None = None
    poller = select.poll()
    poller.register(tx, select.POLLOUT)
    poller.register(rx, select.POLLIN)
    start = time.monotonic()
    while received < len(data):
        events = poller.poll(STALL * 1000)
        assert events, f"no progress in {STALL} s: sent {sent}, received {received}"
        for fd, mask in events:
            assert not mask & select.POLLERR, "the engine stopped (see the kernel log)"
            if fd == tx:
                sent += os.write(tx, view[sent : sent + CHUNK])
                if sent == len(data):
                    poller.unregister(tx)
                continue
            try:
                got = receive()
            except BlockingIOError:
                continue
            if mismatch is None and got != view[received : received + len(got)]:
                want = view[received : received + len(got)]
                mismatch = received + next(i for i in range(len(got)) if got[i] != want[i])
            received += len(got)
    return time.monotonic() - start, mismatch


def record_speed(name: str, size: int, seconds: float) -> None:
    figures.record(f"loopback {name}", size / (1 << 20) / max(seconds, 1e-6), "MiB/s")


@pytest.mark.parametrize(("buffers", "bufsize"), ASI, ids=[f"{b}x{s}" for b, s in ASI])
def test_asi_loopback(buffers: int, bufsize: int) -> None:
    md.set_pair("asi", buffers, bufsize)
    data = stream_for(bufsize)
    with cable("asi") as (tx, rx):
        seconds, mismatch = pump(tx, rx, data, lambda: os.read(rx, CHUNK))
    assert mismatch is None, f"byte {mismatch} of {len(data)} differs"
    record_speed(f"asitx0 -> asirx0 {buffers}x{bufsize}", len(data), seconds)


@pytest.mark.parametrize(("buffers", "bufsize"), SDI, ids=[f"{b}x{s}" for b, s in SDI])
def test_sdi_loopback_received_through_mmap(buffers: int, bufsize: int) -> None:
    model = layout.layout(buffers, bufsize, "own-page")
    span = model.pointers_per_buf * model.page_size
    md.set_pair("sdi", buffers, bufsize)
    data = stream_for(bufsize)
    size = model.pointers * model.page_size
    with cable("sdi") as (tx, rx), mmap.mmap(rx, size, mmap.MAP_SHARED) as ring:

        def receive() -> bytes:
            index = md.dqbuf(rx)
            got = ring[index * span : index * span + bufsize]
            md.qbuf(rx, index, bufsize)
            return got

        seconds, mismatch = pump(tx, rx, data, receive)
    assert mismatch is None, f"byte {mismatch} of {len(data)} differs"
    record_speed(f"sditx0 -> sdirx0 (mmap) {buffers}x{bufsize}", len(data), seconds)


@pytest.mark.parametrize(("buffers", "bufsize"), SDI, ids=[f"{b}x{s}" for b, s in SDI])
def test_sdi_loopback_sent_through_mmap(buffers: int, bufsize: int) -> None:
    """The transmitter fills its buffers through the mapping and hands them over
    with QBUF (whose sync for the device the bounce lane proves); the receiver
    reads."""
    model = layout.layout(buffers, bufsize, "own-page")
    span = model.pointers_per_buf * model.page_size
    md.set_pair("sdi", buffers, bufsize)
    data = stream_for(bufsize, 8 << 20)
    received = bytearray()
    sent, index, owned = 0, 0, buffers  # a transmitter owns every buffer at open
    size = model.pointers * model.page_size
    with cable("sdi") as (tx, rx), mmap.mmap(tx, size, mmap.MAP_SHARED) as ring:
        quiet_since = time.monotonic()
        while len(received) < len(data):
            moved = False
            if sent < len(data) and not owned:
                with contextlib.suppress(BlockingIOError):
                    md.dqbuf(tx)  # a buffer the engine has sent comes back
                    owned += 1
            if sent < len(data) and owned:
                ring[index * span : index * span + bufsize] = data[sent : sent + bufsize]
                md.qbuf(tx, index, bufsize)
                index, owned, sent, moved = (index + 1) % buffers, owned - 1, sent + bufsize, True
            with contextlib.suppress(BlockingIOError):
                received += os.read(rx, CHUNK)
                moved = True
            if moved:
                quiet_since = time.monotonic()
            else:
                assert time.monotonic() - quiet_since < STALL, f"stuck: sent {sent}"
                select.select([tx, rx], [], [], 0.1)
    compare.assert_same(bytes(received), data, "received through sdirx0")


@pytest.mark.skipif(not md.swiotlb_forced(), reason="only a bounce buffer shows a missing sync")
def test_the_bounce_lane_catches_a_missing_sync() -> None:
    """masterdev's test-only test_skip_sync leaves out QBUF's sync for the
    device: with every mapping bounced, the device reads the bounce buffer,
    not what user space wrote, and the bytes received differ."""
    knob = Path("/sys/module/masterdev/parameters/test_skip_sync")
    bufsize = 4096
    md.set_pair("sdi", 4, bufsize)
    data = os.urandom(bufsize)
    with cable("sdi") as (tx, rx), mmap.mmap(tx, 4 * bufsize, mmap.MAP_SHARED) as ring:
        ring[:bufsize] = data
        md.write_attr(knob, "1")
        try:
            md.qbuf(tx, 0, bufsize)
        finally:
            md.write_attr(knob, "0")
        md.wait_ready(rx, select.POLLIN)
        got = os.read(rx, bufsize)
    assert len(got) == bufsize
    assert got != data, "a buffer handed over unsynced arrived intact: the lane catches nothing"


def test_a_reader_blocks_until_data_arrives() -> None:
    md.set_pair("asi", 4, 1000)
    payload = random.randbytes(1000)
    got: list[bytes] = []
    with cable("asi", os.O_RDWR) as (tx, rx):
        reader = threading.Thread(target=lambda: got.append(os.read(rx, 1000)), daemon=True)
        reader.start()
        time.sleep(1.0)
        assert reader.is_alive() and not got  # waiting, not returning empty-handed
        assert os.write(tx, payload) == 1000
        reader.join(STALL)
    assert got == [payload]


def test_a_writer_blocks_when_the_ring_is_full() -> None:
    md.set_pair("asi", 4, 1000)
    with cable("asi") as (tx, rx):
        written = 0
        while True:  # the receiver's 4 buffers fill, then the transmitter's 4
            try:
                written += os.write(tx, bytes(1000))
            except BlockingIOError:
                try:
                    md.wait_ready(tx, select.POLLOUT, timeout=2.0)
                except TimeoutError:
                    break
        assert written == 8 * 1000
        os.set_blocking(tx, True)
        writer = threading.Thread(target=lambda: os.write(tx, bytes(1000)), daemon=True)
        writer.start()
        time.sleep(1.0)
        assert writer.is_alive()  # blocked: the device owns every buffer
        assert os.read(rx, 1000) == bytes(1000)  # a receive buffer goes back
        writer.join(STALL)
        assert not writer.is_alive()


@pytest.mark.parametrize("first", ["asitx0", "asirx0"])
def test_mismatched_geometries_are_refused(first: str) -> None:
    md.set_geometry("asitx0", 4, 1000)
    md.set_geometry("asirx0", 4, 1001)
    second = md.IFACES[first].peer
    with md.opened(first, NONBLOCK), pytest.raises(OSError) as err:
        os.open(f"/dev/{second}", NONBLOCK)
    assert err.value.errno == errno.EINVAL


@pytest.mark.parametrize("iface", ["asitx0", "asirx0"])
def test_a_corrupted_descriptor_breaks_the_loopback(iface: str) -> None:
    md.set_pair("asi", 8, 8192)  # 16 whole pages
    data = stream_for(8192, 8 * 8192)
    with cable("asi") as (tx, rx):
        md.corrupt(iface, 2)  # fragment 2's bytes go to (or come from) fragment 3
        _, mismatch = pump(tx, rx, data, lambda: os.read(rx, CHUNK))
    assert mismatch is not None and 8192 <= mismatch < 3 * 4096


# (kind, buffers, bufsize, buffers sent): streams of whole buffers whose length
# is a multiple of neither 64 KiB nor the ring, read 64 KiB at a time as cat and
# dd do; the first is the 19 176 000 bytes whose last read once never returned.
READER = [("asi", 1000, 9588, 2000), ("asi", 10000, 1316, 10137), ("sdi", 7, 12289, 23)]
READ_SIZE = 64 << 10


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "nonblocking"])
@pytest.mark.parametrize(
    ("kind", "buffers", "bufsize", "count"), READER, ids=[f"{k}-{b}x{s}" for k, b, s, _ in READER]
)
def test_a_64k_reader_gets_every_byte(
    kind: str, buffers: int, bufsize: int, count: int, blocking: bool
) -> None:
    tx_name, rx_name = md.set_pair(kind, buffers, bufsize)
    data = random.Random(count).randbytes(count * bufsize)
    chunks: list[bytes] = []
    errors: list[BaseException] = []

    def write_all(tx: int) -> None:
        view = memoryview(data)
        sent = 0
        while sent < len(data):
            sent += os.write(tx, view[sent:])

    def read_all(rx: int) -> None:
        received = 0
        try:
            while received < len(data):
                if not blocking:
                    md.wait_ready(rx, select.POLLIN, STALL)
                try:
                    chunk = os.read(rx, READ_SIZE)
                except BlockingIOError:
                    continue
                assert 0 < len(chunk) <= READ_SIZE
                chunks.append(chunk)
                received += len(chunk)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    rx_flags = os.O_RDWR if blocking else NONBLOCK
    with md.opened(tx_name, os.O_RDWR) as tx, md.opened(rx_name, rx_flags) as rx:
        reader = threading.Thread(target=read_all, args=(rx,), daemon=True)
        reader.start()
        write_all(tx)
        reader.join(STALL + len(data) / (1 << 20))
        assert not reader.is_alive(), (
            f"the reader is stuck with {sum(map(len, chunks))} of {len(data)} bytes"
        )
    assert not errors, errors
    got = b"".join(chunks)
    assert len(got) == len(data)
    if got != data:
        first = next(i for i in range(len(data)) if got[i] != data[i])
        pytest.fail(f"byte {first} of {len(data)} differs", pytrace=False)


def test_a_nonblocking_read_is_eagain_only_when_nothing_is_ready() -> None:
    md.set_pair("asi", 4, 1000)
    with cable("asi") as (tx, rx):
        with pytest.raises(BlockingIOError):
            os.read(rx, READ_SIZE)
        os.write(tx, bytes(range(250)) * 4)
        md.wait_ready(rx, select.POLLIN)
        assert os.read(rx, 10) == bytes(range(10))  # part of a buffer
        assert os.read(rx, READ_SIZE) == bytes(range(10, 250)) + bytes(range(250)) * 3
        with pytest.raises(BlockingIOError):
            os.read(rx, READ_SIZE)


def test_two_readers_of_one_receiver_share_the_stream() -> None:
    """Two threads reading one file: every byte goes to one of them, and the
    receiver's accounting survives (no buffer taken twice, none wrapped)."""
    md.set_pair("asi", 8, 1000)
    data = random.randbytes(200 * 1000)
    got: list[list[bytes]] = [[], []]

    def read_until_quiet(rx: int, mine: list[bytes]) -> None:
        while True:
            try:
                mine.append(os.read(rx, 1500))  # across buffer boundaries
            except BlockingIOError:
                try:
                    md.wait_ready(rx, select.POLLIN, 3.0)
                except TimeoutError:
                    return

    with cable("asi") as (tx, rx):
        readers = [
            threading.Thread(target=read_until_quiet, args=(rx, got[i]), daemon=True)
            for i in (0, 1)
        ]
        for reader in readers:
            reader.start()
        os.set_blocking(tx, True)
        assert os.write(tx, data) == len(data)
        for reader in readers:
            reader.join(STALL)
        assert sum(len(c) for c in got[0] + got[1]) == len(data)
        with pytest.raises(BlockingIOError):  # nothing more is ready
            os.read(rx, 1500)
        assert not select.select([rx], [], [], 0)[0]
        os.write(tx, bytes(range(200)) * 5)  # and the next buffer comes through whole
        md.wait_ready(rx, select.POLLIN)
        assert os.read(rx, 1500) == bytes(range(200)) * 5
