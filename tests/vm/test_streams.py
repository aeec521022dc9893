"""Streams as real clients use them: a transport stream played out with dd arrives whole.

An MPEG-2 transport stream of 188- or 204-byte packets, each with a sync
byte, our PID and a continuity counter, is written into asitx0 by `dd` (which
exits, and so closes, as soon as its last write returns), sometimes by two
writers one after the other, sometimes with `conv=fsync`, while one reader
takes asirx0 64 KiB at a time.  The stream's length is a multiple of no
buffer size, so every writer leaves a partial last buffer: close and fsync
must send it.  The checker wants every byte once, in order, and no blocked
read holding bytes that were delivered.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

from pyharness.guest import guestkit
from pyharness.guest import masterdev as md

READ_SIZE = 64 << 10
QUIET = 5.0  # seconds without a byte, once the writers are done, that end the reader
PID = 0x0ABC


def ts_packets(count: int, size: int, first: int = 0) -> bytes:
    """count packets of size bytes: sync 0x47, PID, continuity counter from
    first, the packet's number in its payload."""
    out = bytearray()
    for n in range(first, first + count):
        header = bytes((0x47, 0x40 | PID >> 8, PID & 0xFF, 0x10 | n % 16))
        payload = n.to_bytes(4, "big") * ((size - 4) // 4)
        out += header + payload + bytes(size - 4 - len(payload))
    return bytes(out)


def first_error(data: bytes, size: int, count: int) -> str | None:
    """Where the stream stops being count packets in order, or None."""
    if len(data) != count * size:
        return f"{len(data)} bytes, expected {count * size}"
    for n in range(count):
        packet = data[n * size : (n + 1) * size]
        if packet[0] != 0x47 or packet[3] & 0x0F != n % 16 or packet[4:8] != n.to_bytes(4, "big"):
            return f"packet {n} (byte {n * size}) is wrong: {packet[:8].hex()}"
    return None


class Reader(threading.Thread):
    """Reads a receiver 64 KiB at a time until `want` bytes, or until the
    writers are done (`writers_done` set) and QUIET seconds pass without a
    byte; every read must return what is ready, never block on it.  A
    writer's open may take longer than QUIET (a 10 000-buffer ring behind an
    IOMMU on a debug kernel): silence before the writers are done is no end."""

    def __init__(self, fd: int, want: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.want = fd, want
        self.chunks: list[bytes] = []
        self.received = 0
        self.writers_done = threading.Event()

    def run(self) -> None:
        while self.received < self.want:
            if not select.select([self.fd], [], [], QUIET)[0]:
                if self.writers_done.is_set():
                    return
                continue
            chunk = os.read(self.fd, READ_SIZE)
            self.chunks.append(chunk)
            self.received += len(chunk)

    def data(self) -> bytes:
        return b"".join(self.chunks)


def dd(data: bytes, *args: str) -> None:
    """dd from a pipe into asitx0: it exits, and closes, after its last write;
    a close that waited forever would fail the test, not hang the run."""
    argv = ["dd", "of=/dev/asitx0", "iflag=fullblock", *args, "status=none"]
    done = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr.decode()


def play(writers: list[tuple[int, tuple[str, ...]]], size: int) -> str | None:
    """Each writer plays its share of one stream with dd and its flags, one
    after the other, into one open reader; the checker's verdict."""
    total = sum(count for count, _ in writers)
    with md.opened("asirx0") as rx:
        reader = Reader(rx, total * size)
        reader.start()
        first = 0
        try:
            for count, flags in writers:
                dd(ts_packets(count, size, first), *flags)
                first += count
        finally:
            reader.writers_done.set()
        reader.join(QUIET + 120)
        assert not reader.is_alive(), f"the reader is stuck at {reader.received} bytes"
    return first_error(reader.data(), size, total)


# (buffers, bufsize, packets per writer): the geometries where a vendor's
# transport-stream tools once lost bytes at close; bufsize 1 moves a byte per
# buffer, so it carries a short stream.
GEOMETRIES = [
    (1000, 9588, 5003),
    (10000, 1316, 5003),
    (64, 1316, 1201),
    (16, 4096, 777),
    (64, 1, 3),
]


@pytest.mark.usefixtures("masterdev_state")
@pytest.mark.parametrize("size", [188, 204])
@pytest.mark.parametrize(
    ("buffers", "bufsize", "count"), GEOMETRIES, ids=[f"{b}x{s}" for b, s, _ in GEOMETRIES]
)
def test_dd_playouts_arrive_whole(buffers: int, bufsize: int, count: int, size: int) -> None:
    """Back-to-back writers with several block sizes, one with conv=fsync."""
    md.set_pair("asi", buffers, bufsize)
    dropped = md.dropped("asitx0")
    writers = [(count, ("bs=64k",)), (count // 2 + 1, ("bs=1316", "conv=fsync")), (7, ("bs=4096",))]
    assert play(writers, size) is None
    assert md.dropped("asitx0") == dropped  # a reader was there for all of it


@pytest.mark.usefixtures("masterdev_state")
def test_without_a_receiver_close_drops_and_counts_but_never_waits() -> None:
    md.set_pair("asi", 16, 4096)
    dropped = md.dropped("asitx0")
    dd(ts_packets(1001, 188), "bs=64k")  # nobody receives: the bytes leave, as on an open cable
    assert md.dropped("asitx0") == dropped + 1001 * 188


@pytest.mark.usefixtures("masterdev_state")
def test_receiver_fsync_discards_what_is_queued() -> None:
    md.set_pair("asi", 8, 1000)
    with md.opened("asirx0", os.O_RDWR | os.O_NONBLOCK) as rx:
        with md.opened("asitx0") as tx:
            os.write(tx, b"a" * 2500)  # two whole buffers and half a third: close sends all
        md.wait_ready(rx, select.POLLIN)
        assert os.read(rx, 10) == b"a" * 10
        os.fsync(rx)  # the rest of this buffer and the two after it are discarded
        with pytest.raises(BlockingIOError):
            os.read(rx, READ_SIZE)
        with md.opened("asitx0") as tx:
            os.write(tx, b"b" * 300)
        md.wait_ready(rx, select.POLLIN)
        assert os.read(rx, READ_SIZE) == b"b" * 300  # the new stream, clean


@pytest.mark.usefixtures("masterdev_state")
def test_a_signal_ends_a_transmitters_fsync_with_eintr() -> None:
    """fsync() of a transmitter waits until the device has taken every queued
    byte; a receiver that reads nothing keeps it waiting, and any signal,
    not only a fatal one, ends the wait with EINTR (as fsync(2) may).  Then
    the receiver reads, and fsync returns 0."""
    libc = ctypes.CDLL(None, use_errno=True)
    md.set_pair("asi", 4, 1000)
    with (
        md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK) as tx,
        md.opened("asirx0", os.O_RDWR | os.O_NONBLOCK) as rx,
    ):
        written = 0
        with contextlib.suppress(TimeoutError):  # full: not writable for 2 s
            while written < 100 * 1000:
                with contextlib.suppress(BlockingIOError):
                    written += os.write(tx, bytes(1000))
                md.wait_ready(tx, select.POLLOUT, timeout=2)
        assert written == 8 * 1000  # the receiver's 4 buffers, then the sender's 4
        started = time.monotonic()
        with guestkit.signals_every(0.5):
            assert libc.fsync(tx) == -1
            assert ctypes.get_errno() == errno.EINTR
        assert time.monotonic() - started < 30
        got = 0
        while got < written:
            md.wait_ready(rx, select.POLLIN)
            got += len(os.read(rx, READ_SIZE))
        assert got == written
        assert libc.fsync(tx) == 0


@pytest.mark.usefixtures("masterdev_state")
def test_readv_returns_what_is_ready_across_its_iovecs() -> None:
    """readv() is one read: with one buffer ready and room for two, it
    returns the one at once (the VFS would otherwise read each iovec in
    turn and wait in the second).  A timer's signal ends a wait that should
    not happen, so a broken driver fails this test instead of hanging it."""
    md.set_pair("asi", 4, 1000)
    with (
        md.opened("asitx0") as tx,
        md.opened("asirx0") as rx,
    ):
        assert os.write(tx, b"r" * 1000) == 1000
        md.wait_ready(rx, select.POLLIN)
        first, second = bytearray(1000), bytearray(1000)
        started = time.monotonic()
        with guestkit.signals_every(10.0):
            got = os.readv(rx, [first, second])
        assert time.monotonic() - started < 5, "readv waited for a second buffer"
        assert got == 1000 and first == b"r" * 1000


WRITE_THEN_CLOSE = """
import os
fd = os.open("/dev/asitx0", os.O_RDWR)
os.write(fd, bytes(8000))
print("written", flush=True)
os.close(fd)
"""


@pytest.mark.usefixtures("masterdev_state")
def test_a_close_killed_while_it_waits_drops_and_counts() -> None:
    """A receiver that never reads holds the transmitter's close back (the
    cable is flow-controlled); SIGKILL ends that wait, and the bytes given
    up are counted in dropped."""
    md.set_pair("asi", 4, 1000)
    dropped = md.dropped("asitx0")
    with md.opened("asirx0"):  # its 4 buffers fill and are never read
        child = subprocess.Popen([sys.executable, "-c", WRITE_THEN_CLOSE], stdout=subprocess.PIPE)
        assert child.stdout is not None
        assert child.stdout.readline() == b"written\n"  # 4 buffers arrived, 4 queued
        time.sleep(1.0)
        assert child.poll() is None, "close returned with bytes queued and a receiver open"
        child.kill()
        child.wait(30)
    assert md.dropped("asitx0") == dropped + 4000


BLOCKED_WRITER = """
import os
fd = os.open("/dev/asitx0", os.O_WRONLY)
print("open", flush=True)
os.write(fd, bytes(3 * 4 * 1000))
"""


@pytest.mark.usefixtures("masterdev_state")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_writer_killed_while_blocked_exits_and_counts(sig: str) -> None:
    """Killed in write(), a writer's last close runs from do_exit(), where no
    signal can reach it: it must not wait for a receiver that never reads.
    (SIGINT kills python only through KeyboardInterrupt: it is restored to
    its default first, as dd has it.)"""
    md.set_pair("asi", 4, 1000)
    dropped = md.dropped("asitx0")
    code = "import signal; signal.signal(signal.SIGINT, signal.SIG_DFL)\n" + BLOCKED_WRITER
    with md.opened("asirx0"):  # open, never read: 4 buffers there, 4 queued
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"open\n"
        time.sleep(1.0)
        assert child.poll() is None, "write() returned with a receiver that never reads"
        if not guestkit.kill_and_reap(child, getattr(signal, sig)):
            pytest.fail(f"a writer killed by {sig} did not exit (stuck in its last close)")
    assert md.dropped("asitx0") == dropped + 4000


EXITING_WRITER = """
import os
fd = os.open("/dev/asitx0", os.O_WRONLY)
os.write(fd, bytes(8000))
print("written", flush=True)
os._exit(0)  # no close(): the last close runs from do_exit()
"""


@pytest.mark.usefixtures("masterdev_state")
def test_an_exiting_writer_waits_for_progress_then_gives_up_after_closing_wait() -> None:
    """A writer that exits normally cannot be killed any more: its last close
    waits while the engine moves its buffers, and gives its bytes up (counted)
    after closing_wait seconds without progress, as a tty does."""
    md.set_pair("asi", 4, 1000)
    dropped = md.dropped("asitx0")
    closing_wait = md.PARAMS / "closing_wait"
    saved = closing_wait.read_text()
    closing_wait.write_text("3")
    try:
        with md.opened("asirx0") as rx:
            child = subprocess.Popen([sys.executable, "-c", EXITING_WRITER], stdout=subprocess.PIPE)
            assert child.stdout is not None and child.stdout.readline() == b"written\n"
            time.sleep(1.0)
            assert child.poll() is None, "exit did not wait for the queued buffers"
            os.read(rx, 1000)  # progress: one buffer moves, the wait goes on
            child.wait(30)
    finally:
        closing_wait.write_text(saved)
    assert md.dropped("asitx0") == dropped + 3000
