"""Hostile input: every call succeeds as documented or fails with a documented errno.

Hypothesis, with a fixed seed (derandomize), draws the shape of each batch of
calls: which command numbers (ours from the UAPI header and their neighbours:
the next numbers, other sizes and directions, the next type), which kind of
argument (a buffer of random bytes, NULL, an unmapped address, a kernel
address, a struct that runs into an unmapped page) and which values at the
limits; a seeded generator fills each batch with many calls of those shapes,
so that a run makes --fuzz-count calls (default 100 000: 45 % ioctls, 20 %
netlink, 10 % attributes, 10 % mmap, 10 % read/write/poll/fsync, 5 % opens
and other file calls) in a few minutes under TCG, plus a few dozen edu checks.
Interfaces: the ioctls of the four ring nodes, every writable attribute of
the ring nodes and masterdev's limits, mmap of the rings, their reads,
writes, polls and fsyncs, blocking or not (a timer's signal ends every
wait), opens with every flag on random geometries, lseek, pread, splice
and epoll, reads of the debugfs files, closing_wait, the edu check, and
raw generic netlink messages to both families;
/dev/himem in test_himem.py.  The errnos accepted are those the UAPI
header documents for each interface (its "Errors of" sections), and often
fewer.  The kernel log judge fails the run on any report; afterwards every
counter is back (rings, pages, regions).  The calls per interface, and how
many got each errno, are in the figures.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
import random
import select
import socket
import stat
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroute2.netlink import NETLINK_GENERIC, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST

from pyharness import uapi
from pyharness.guest import guestkit, himem
from pyharness.guest import masterdev as md
from pyharness.guest import netlink as nl
from pyharness.model import figures

pytestmark = pytest.mark.usefixtures("masterdev_state")

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
LIBC.read.argtypes = LIBC.write.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
LIBC.read.restype = LIBC.write.restype = ctypes.c_ssize_t
PAGE = mmap.PAGESIZE
BATCH = 500  # calls made from one drawn shape
CALLS: Counter[str] = Counter()
ERRNOS: Counter[tuple[str, int]] = Counter()  # (interface, errno) of every call

# The errors master_dma.h documents for the ioctls, but EIO, ETIMEDOUT and
# ERANGE (the edu device's: test_edu_check_arguments) and EINTR (waits,
# which non-blocking files never do).
IOCTL_ERRNOS = frozenset(
    {0, errno.EINVAL, errno.EFAULT, errno.ENOTTY, errno.EAGAIN, errno.EBUSY, errno.ENOMEM,
     errno.EPERM, errno.ENODEV}
)  # fmt: skip
ATTR_ERRNOS = frozenset({0, errno.EINVAL, errno.ERANGE, errno.EBUSY})
MMAP_ERRNOS = frozenset({0, errno.EINVAL, errno.ENOMEM})
NETLINK_ERRNOS = frozenset({0, errno.EINVAL, errno.EOPNOTSUPP, errno.ERANGE, errno.ENOENT})
# read, write and a waiting DQBUF, blocking or not, with a timer's signals
STREAM_ERRNOS = frozenset({0, errno.EINVAL, errno.EFAULT, errno.EAGAIN, errno.EINTR})
FSYNC_ERRNOS = frozenset({0, errno.EAGAIN, errno.EINTR})
EDU_CHECK_ERRNOS = frozenset({0, errno.EINVAL, errno.EFAULT, errno.EBUSY})
# opens with every flag, and the calls a stream refuses (lseek, pread, splice)
OPEN_ERRNOS = frozenset({0, errno.EBUSY, errno.EINVAL, errno.ENOMEM})
FILE_ERRNOS = frozenset({0, errno.ESPIPE, errno.EINVAL, errno.EBADF})
# Each set against the header's section (documented_errnos()).
DOCUMENTED = {
    "the ioctls": IOCTL_ERRNOS | EDU_CHECK_ERRNOS,
    "mmap": MMAP_ERRNOS,
    "the sysfs attributes and module parameters": ATTR_ERRNOS,
    "generic netlink": NETLINK_ERRNOS,
    "open, read, write, poll and fsync": STREAM_ERRNOS | FSYNC_ERRNOS | OPEN_ERRNOS | FILE_ERRNOS,
}


def errno_name(code: int) -> str:
    """The name the header uses: EOPNOTSUPP, which Linux numbers as ENOTSUP."""
    return "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, "ok")


def judge(interface: str, code: int, allowed: frozenset[int], what: str) -> None:
    """Count the call's errno for the figures; fail on one not allowed."""
    ERRNOS[interface, code] += 1
    assert code in allowed, f"{interface}: {what}: {os.strerror(code)}"


def fuzz_count(config: pytest.Config) -> int:
    return int(config.getoption("--fuzz-count"))


def ioc(direction: int, kind: int, nr: int, size: int) -> int:
    """_IOC() of asm-generic/ioctl.h: 2 direction bits, 14 size, 8 type, 8 number."""
    return (direction << 30) | (size << 16) | (kind << 8) | nr


def our_commands(prefix: str) -> dict[str, int]:
    lib = uapi.lib()
    return {
        name: int(getattr(lib, name))
        for name in dir(lib)
        if name.startswith(prefix) and name != "MASTER_DMA_IOC_MAGIC"
    }


def neighbours(cmd: int) -> list[int]:
    """Numbers a confused caller might send: next numbers, other sizes and
    directions, another type."""
    direction, size, kind, nr = cmd >> 30, (cmd >> 16) & 0x3FFF, (cmd >> 8) & 0xFF, cmd & 0xFF
    out = [ioc(direction, kind, (nr + d) & 0xFF, size) for d in (-1, 1, 2, 0x20)]
    out += [ioc(d, kind, nr, size) for d in range(4) if d != direction]
    out += [ioc(direction, kind, nr, s) for s in (0, size - 1, size + 1, 0x3FFF) if s >= 0]
    out += [ioc(direction, (kind + 1) & 0xFF, nr, size), ioc(direction, kind - 1, nr, size)]
    return out


class Arena:
    """Memory for arguments: a page followed by a guard page with no access (so
    a struct can run off its end into a fault), and addresses that are never
    valid. The guard is mprotect()ed, not unmapped: the mmap object still owns
    both pages, so nothing else can be mapped into the hole."""

    def __init__(self) -> None:
        self.map = mmap.mmap(-1, 2 * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        LIBC.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        assert LIBC.mprotect(ctypes.c_void_p(base + PAGE), PAGE, 0) == 0  # PROT_NONE
        self.base = base
        self.bad = {"null": 0, "low": 0x1000, "kernel": 0xFFFF_8880_0000_0000, "top": 2**64 - PAGE}

    def buffer(self, data: bytes, at_edge: bool) -> int:
        """data placed at the page's start, or ending where the guard page begins
        minus a few bytes, so that the kernel's copy of the whole struct faults."""
        offset = PAGE - max(len(data) // 2, 1) if at_edge else 0
        self.map[offset : offset + min(len(data), PAGE - offset)] = data[: PAGE - offset]
        return self.base + offset


ARG_KINDS = ("bytes", "zeros", "ones", "edge", "null", "low", "kernel", "top")


def call_ioctl(arena: Arena, fd: int, cmd: int, kind: str, rng: random.Random) -> int:
    size = max((cmd >> 16) & 0x3FFF, 8)
    if kind in arena.bad:
        arg = arena.bad[kind]
    else:
        data = {
            "bytes": rng.randbytes(size),
            "zeros": bytes(size),
            "ones": b"\xff" * size,
            "edge": rng.randbytes(size),
        }[kind]
        arg = arena.buffer(data[:PAGE], at_edge=kind == "edge")
    ret = LIBC.ioctl(fd, cmd, ctypes.c_void_p(arg))
    return 0 if ret >= 0 else ctypes.get_errno()


@contextlib.contextmanager
def ring_fds() -> Iterator[dict[str, int]]:
    """Every ring node open, non-blocking, on small rings."""
    md.set_pair("asi", 8, 1316)
    md.set_pair("sdi", 4, 5000)
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(md.opened(name, os.O_RDWR | os.O_NONBLOCK))
            for name in md.IFACES
        }


SHAPES = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(ARG_KINDS)), min_size=1, max_size=6
)


def run_batches(
    name: str,
    total: int,
    per_batch: int,
    batch: Callable[[list[tuple[int, str]], random.Random], None],
) -> None:
    """Hypothesis draws shapes and a seed for each batch of per_batch calls,
    until total calls have been made."""

    @settings(
        max_examples=max(-(-total // per_batch), 1),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
    def explore(shapes: list[tuple[int, str]], seed: int) -> None:
        batch(shapes, random.Random(seed))
        CALLS[name] += per_batch

    explore()
    figures.record(f"fuzz calls: {name}", CALLS[name], "calls")
    for (interface, code), count in sorted(ERRNOS.items()):
        if interface == name:
            figures.record(f"fuzz errno: {name} {errno_name(code)}", count, "calls")


def test_every_errno_accepted_is_documented_in_the_header() -> None:
    """What the fuzz accepts is what master_dma.h promises (its "Errors of"
    sections): a new errno in the kernel is a new sentence in the header."""
    for section, accepted in DOCUMENTED.items():
        documented = uapi.documented_errnos(section)
        assert accepted - {0} <= documented, (section, sorted(accepted - {0} - documented))


def test_ioctls_of_the_ring_nodes(request: pytest.FixtureRequest) -> None:
    ours = our_commands("MASTER_DMA_IOC_")
    edu_check = ours.pop("MASTER_DMA_IOC_EDU_CHECK")  # seconds of DMA a call: neighbours only
    commands = sorted({*ours.values(), *(n for c in ours.values() for n in neighbours(c))})
    commands += [n for n in neighbours(edu_check) if n != edu_check]
    mine = sorted(number for name, number in ours.items() if "HIMEM" not in name)  # the nodes
    arena = Arena()
    before = md.stats()
    seen: Counter[int] = Counter()
    with ring_fds() as fds:
        nodes = list(fds.values())

        def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
            for i in range(BATCH):
                pick, kind = shapes[i % len(shapes)]
                if pick >= 9000:
                    cmd = rng.getrandbits(32)
                elif i % 2:  # half the calls reach a real command, with hostile arguments
                    cmd = mine[(pick + i) % len(mine)]
                else:
                    cmd = commands[(pick + i) % len(commands)]
                code = call_ioctl(arena, nodes[i % len(nodes)], cmd, kind, rng)
                seen[code] += 1
                judge("ring ioctls", code, IOCTL_ERRNOS, f"ioctl {cmd:#x} ({kind})")

        run_batches("ring ioctls", fuzz_count(request.config) * 45 // 100, BATCH, batch)
    assert md.stats() == before
    assert seen[0] > 0 and seen[errno.ENOTTY] > 0 and seen[errno.EFAULT] > 0, seen


ATTR_VALUES = (
    "0", "1", "2", "-1", "4294967295", "4294967296", "18446744073709551615",
    "18446744073709551616", "0x10", "010", " 5", "5 ", "5\n\n", "", "\n", "abc", "1e3",
    "+7", "9" * 40, "\x00", "188\x00junk",
)  # fmt: skip


def test_writable_attributes(request: pytest.FixtureRequest) -> None:
    """Geometry attributes and masterdev's limits: random strings and numbers at
    the limits.  Writes to a closed node's geometry may succeed; a node that
    is open refuses with EBUSY.  Everything is put back by the fixture."""
    attrs = sorted(p for p in md.SYSFS.glob("*/*") if p.name in ("buffers", "bufsize"))
    attrs += sorted(p for p in md.PARAMS.glob("max_*"))
    before = md.stats()

    calls = BATCH // 10  # a sysfs write is a whole open/write/close

    def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
        for i in range(calls):
            pick, kind = shapes[i % len(shapes)]
            path = attrs[(pick + i) % len(attrs)]
            if kind in ("bytes", "edge"):
                value = rng.randbytes(rng.randrange(1, 40))
            elif kind == "zeros":
                value = str(rng.getrandbits(rng.choice((8, 16, 32, 33, 64, 65)))).encode()
            else:
                value = ATTR_VALUES[(pick + i) % len(ATTR_VALUES)].encode()
            try:
                with open(path, "wb", buffering=0) as f:
                    f.write(value)
                code = 0
            except OSError as err:
                code = err.errno or 0
            judge("attributes", code, ATTR_ERRNOS, f"{path} <- {value!r}")

    with md.preserved():
        run_batches("attributes", fuzz_count(request.config) // 10, calls, batch)
    assert md.stats() == before


def test_mmap_of_rings(request: pytest.FixtureRequest) -> None:
    """Offsets, lengths, protections and flags on every ring node: a packed ring
    refuses every mapping, an own-page ring maps what lies inside it."""
    before = md.stats()
    flags = (mmap.MAP_SHARED, mmap.MAP_PRIVATE, mmap.MAP_SHARED | mmap.MAP_POPULATE)
    prots = (mmap.PROT_READ, mmap.PROT_READ | mmap.PROT_WRITE, mmap.PROT_WRITE, 0)
    with ring_fds() as fds:
        nodes = list(fds.items())

        calls = BATCH // 5

        def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
            for i in range(calls):
                pick, kind = shapes[i % len(shapes)]
                name, fd = nodes[(pick + i) % len(nodes)]
                pages = int(md.summary(name)["pointers"]) if kind == "ones" else 64
                length = rng.choice((PAGE, 2 * PAGE, pages * PAGE, (pages + 1) * PAGE, 1))
                offset = PAGE * rng.choice((0, 1, pages - 1, pages, 2**20, rng.getrandbits(20)))
                prot = rng.choice(prots)
                try:
                    with mmap.mmap(fd, length, rng.choice(flags), prot, offset=offset) as mapped:
                        if prot & mmap.PROT_READ:  # its first byte is the ring's
                            assert len(mapped[:1]) == 1
                    code = 0
                except OSError as err:
                    code = err.errno or 0
                judge("ring mmap", code, MMAP_ERRNOS, f"mmap {name} {length}@{offset}")

        run_batches("ring mmap", fuzz_count(request.config) // 10, calls, batch)
    assert md.stats() == before


STREAM_SIZES = (0, 1, 187, 188, 1315, 1316, 1317, 4096, 5000, 8 * 1316, 1 << 16, 1 << 20)
STREAM_OPS = ("read", "write", "poll", "fsync", "dqbuf")
# The timer that ends every wait: often enough that a call waits little,
# seldom enough that the handler leaves time for work on a debug kernel
# (at 2 ms its 10 000 calls did not end in 25 minutes there).
SIGNAL_SECONDS = 0.02
POLL_ALWAYS = select.POLLERR | select.POLLHUP | select.POLLNVAL


def stream_call(op: str, fd: int, to_device: bool, where: int, size: int, what: str) -> None:
    """One read, write, poll or fsync of test_reads_writes_polls_and_fsyncs, judged."""
    if op in ("read", "write"):
        done = (LIBC.read if op == "read" else LIBC.write)(fd, where, size)
        code = 0 if done >= 0 else ctypes.get_errno()
        if (op == "write") != to_device:  # the VFS checks the range first
            beyond = not 0 <= where < 1 << 47
            assert code == (errno.EFAULT if beyond else errno.EINVAL), (
                f"{what}: {os.strerror(code)}"
            )
        assert done <= size, f"{what}: moved {done}"
        assert done != 0 or size == 0, f"{what}: 0 bytes, end of file to its caller"
        judge("ring streams", code, STREAM_ERRNOS, what)
    elif op == "poll":
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLOUT)
        events = poller.poll(0)
        mask = events[0][1] if events else 0
        mine = (
            select.POLLOUT | select.POLLWRNORM if to_device else select.POLLIN | select.POLLRDNORM
        )
        assert mask & ~(mine | POLL_ALWAYS) == 0, f"{what}: events {mask:#x}"
        assert not mask & POLL_ALWAYS, f"{what}: events {mask:#x} on a live ring"
        judge("ring streams", 0, STREAM_ERRNOS, what)
    else:
        code = 0 if LIBC.fsync(fd) == 0 else ctypes.get_errno()
        judge("ring streams", code, FSYNC_ERRNOS, what)


def test_reads_writes_polls_and_fsyncs(request: pytest.FixtureRequest) -> None:
    """read(), write(), poll(), fsync() and a waiting DQBUF on every ring node,
    blocking or not, of sizes from 0 past the ring into buffers good and bad
    (NULL, unmapped, kernel, running into a guard page), while a timer's
    SIGALRM every 20 ms ends any wait as a program's timer would.  A read or
    write moves at most its count, in its node's direction (else EINVAL),
    and never returns 0 for a count above 0 (that is end of file to every
    Unix program); poll() reports only its direction's events; every failure
    is a documented errno."""
    arena = Arena()
    room = mmap.mmap(-1, STREAM_SIZES[-1])
    good = ctypes.addressof(ctypes.c_char.from_buffer(room))
    dqbuf = int(uapi.lib().MASTER_DMA_IOC_DQBUF)
    before = md.stats()
    with ring_fds() as fds, guestkit.signals_every(SIGNAL_SECONDS):
        nodes = list(fds.items())

        calls = BATCH // 5

        def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
            for i in range(calls):
                pick, kind = shapes[i % len(shapes)]
                name, fd = nodes[(pick + i) % len(nodes)]
                to_device = md.IFACES[name].to_device
                os.set_blocking(fd, (pick + i) % 3 == 0)
                op = STREAM_OPS[(pick // 4 + i) % len(STREAM_OPS)]
                size = rng.choice(STREAM_SIZES)
                if kind in arena.bad:
                    where = arena.bad[kind]
                elif kind == "edge":
                    where = arena.buffer(b"", at_edge=True)
                else:
                    where = good
                what = f"{op} {name} {size} bytes at {kind}"
                if op == "dqbuf":
                    code = call_ioctl(arena, fd, dqbuf, kind, rng)
                    judge("ring streams", code, STREAM_ERRNOS, what)
                else:
                    stream_call(op, fd, to_device, where, size, what)

        run_batches("ring streams", fuzz_count(request.config) // 10, calls, batch)
        for fd in fds.values():
            os.set_blocking(fd, False)
    room.close()
    assert md.stats() == before


# Geometries of the files fuzz: every kind of tail, rings of at most 400 pages
# (an open zeroes every page: 15 us each under TCG, about 2000 opens a run)
GEOMETRY_BUFFERS = (1, 2, 3, 7, 64, 100)
GEOMETRY_BUFSIZES = (1, 187, 188, 1316, 4095, 4096, 4097, 8192, 9588, 12289)
# open()'s access modes and the flags a program may add to them
ACCESS = (os.O_RDONLY, os.O_WRONLY, os.O_RDWR)
OPEN_FLAGS = (
    os.O_NONBLOCK, os.O_APPEND, os.O_SYNC, os.O_DSYNC, os.O_NOATIME, os.O_CLOEXEC,
    os.O_NOCTTY, os.O_TRUNC, os.O_ASYNC, os.O_DIRECT,
)  # fmt: skip
FD_OPS = ("lseek", "pread", "pwrite", "splice", "epoll")  # on an open node
FILE_OPS = ("open", "close", "geometry", *FD_OPS, "debugfs", "closing_wait")
DEBUGFS_ROOTS = (md.DEBUGFS, Path("/sys/kernel/debug/masterdev"))


def readable_debugfs_files() -> list[Path]:
    """mdma's and masterdev's debugfs files that root may read (mode 0400 or
    0600: the write-only fault points and `corrupt` are left out)."""
    return sorted(
        path
        for root in DEBUGFS_ROOTS
        for path in root.rglob("*")
        if path.is_file() and path.stat().st_mode & stat.S_IRUSR
    )


class Files:
    """The ring nodes' files of test_opens_seeks_splices_and_epolls: which are
    open, with which flags, and each node's geometry as last written."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[int, int]] = {}  # node: (fd, flags)
        self.geometry = {name: md.geometry(name) for name in md.IFACES}

    def expected_open(self, name: str, flags: int) -> int | None:
        """The errno the open must give, or None where more than one may
        (ENOMEM) or the open must succeed (0)."""
        peer = md.IFACES[name].peer
        if name in self.open:
            return errno.EBUSY
        if peer in self.open and self.geometry[peer] != self.geometry[name]:
            return errno.EINVAL
        if flags & os.O_DIRECT:  # the VFS, after our open: the ring is released at once
            return errno.EINVAL
        return None

    def close_all(self) -> None:
        for fd, _ in self.open.values():
            os.close(fd)
        self.open.clear()


def open_call(files: Files, name: str, rng: random.Random) -> None:
    flags = rng.choice(ACCESS)
    for extra in OPEN_FLAGS:
        flags |= extra if rng.random() < 0.2 else 0
    try:
        fd, code = os.open(f"/dev/{name}", flags), 0
    except OSError as err:
        fd, code = -1, err.errno or 0
    want = files.expected_open(name, flags)
    what = f"open {name} {flags:#o} {files.geometry[name]}"
    assert want is None or code == want, f"{what}: {os.strerror(code)}"
    judge("ring files", code, OPEN_ERRNOS, what)
    if code == 0:
        files.open[name] = (fd, flags)


def geometry_call(files: Files, name: str, rng: random.Random) -> None:
    """One attribute, then the other: both may be refused; an open node's
    always are."""
    opened = name in files.open
    drawn = (rng.choice(GEOMETRY_BUFFERS), rng.choice(GEOMETRY_BUFSIZES))
    for attr, number in zip(("buffers", "bufsize"), drawn, strict=True):
        code = write_code(md.SYSFS / name / attr, str(number))
        assert code == errno.EBUSY if opened else code in (0, errno.EINVAL), (
            f"{attr} {number} of {name}{' (open)' if opened else ''}: {os.strerror(code)}"
        )
        judge("ring files", code, ATTR_ERRNOS, f"{name}/{attr} <- {number}")
    files.geometry[name] = md.geometry(name)


def write_code(path: Path, value: str) -> int:
    try:
        md.write_attr(path, value)
    except OSError as err:
        return err.errno or 0
    return 0


def debugfs_call(rng: random.Random) -> None:
    """A read of any size at any offset of a debugfs file, while rings come
    and go: root's, never refused.  The fault points' files are the kernel's
    simple attributes, which are streams (nonseekable_open()): they are read
    from their start."""
    paths = readable_debugfs_files()
    path = paths[rng.randrange(len(paths))]
    size = rng.choice((1, 100, PAGE, 1 << 16))
    with open(path, "rb", buffering=0) as f:
        try:
            os.lseek(f.fileno(), 0, os.SEEK_CUR)
        except OSError as err:
            assert err.errno == errno.ESPIPE and path.name.startswith("fail_"), (path, err)
            os.read(f.fileno(), size)
        else:
            os.pread(f.fileno(), size, rng.randrange(4 * PAGE))
    judge("ring files", 0, FILE_ERRNOS, f"debugfs {path}")


def file_call(files: Files, op: str, name: str, rng: random.Random, pipe: tuple[int, int]) -> None:
    """One call of test_opens_seeks_splices_and_epolls, judged."""
    opened = files.open.get(name)
    if op == "open" or (not opened and op in ("close", *FD_OPS)):  # a call on a closed node
        open_call(files, name, rng)  # is an open: every call reaches the kernel
    elif op == "close":
        os.close(files.open.pop(name)[0])
        judge("ring files", 0, FILE_ERRNOS, f"close {name}")
    elif op == "geometry":
        geometry_call(files, name, rng)
    elif op == "closing_wait":
        value = rng.choice(("0", "1", "30", "86400", "86401", "4294967295", "4294967296", "-1"))
        code = write_code(md.PARAMS / "closing_wait", value)
        judge("ring files", code, ATTR_ERRNOS, f"closing_wait <- {value}")
    elif op == "debugfs":
        debugfs_call(rng)
    else:
        assert opened
        file_call_on(opened[0], opened[1], op, name, rng, pipe)


def file_call_on(
    fd: int, flags: int, op: str, name: str, rng: random.Random, pipe: tuple[int, int]
) -> None:
    """lseek, pread, pwrite, splice or epoll on an open ring node: the nodes are
    streams (ESPIPE for offsets) without splice (EINVAL, or the VFS's EBADF
    for a file not open in the direction the splice moves)."""
    access = flags & os.O_ACCMODE
    size = rng.choice((0, 1, 188, PAGE))
    call: Callable[[], object]
    if op == "lseek":
        want = errno.ESPIPE
        call = lambda: os.lseek(fd, rng.choice((0, 1, -1, 1 << 40)), rng.choice((0, 1, 2)))  # noqa: E731
    elif op == "pread":
        want = errno.ESPIPE
        call = lambda: os.pread(fd, size, rng.choice((0, 188)))  # noqa: E731
    elif op == "pwrite":
        want = errno.ESPIPE
        call = lambda: os.pwrite(fd, bytes(size), rng.choice((0, 188)))  # noqa: E731
    elif op == "splice":
        into_ring = rng.random() < 0.5
        moves = access != os.O_RDONLY if into_ring else access != os.O_WRONLY
        want = errno.EINVAL if moves else errno.EBADF
        src, dst = (pipe[0], fd) if into_ring else (fd, pipe[1])
        call = lambda: os.splice(src, dst, size + 1)  # noqa: E731
    else:  # epoll: only its direction's events, never an error on a live ring
        poller = select.epoll()
        poller.register(fd, select.EPOLLIN | select.EPOLLOUT)
        mine = (
            select.EPOLLOUT | select.EPOLLWRNORM
            if md.IFACES[name].to_device
            else (select.EPOLLIN | select.EPOLLRDNORM)
        )
        for _, mask in poller.poll(0):
            assert mask & ~mine == 0, f"epoll {name}: events {mask:#x}"
        poller.close()
        judge("ring files", 0, FILE_ERRNOS, f"epoll {name}")
        return
    try:
        call()
        code = 0
    except OSError as err:
        code = err.errno or 0
    assert code == want, f"{op} {name} {flags:#o}: {os.strerror(code)}, not {os.strerror(want)}"
    judge("ring files", code, FILE_ERRNOS, f"{op} {name}")


def test_opens_seeks_splices_and_epolls(request: pytest.FixtureRequest) -> None:
    """Opens of every ring node with every access mode and flag a program may
    give (O_DIRECT among them: the VFS refuses it after our open succeeded,
    so the ring is released at once), on geometries written at random, some
    while the node is open (EBUSY), the pair's ends with different
    geometries (EINVAL); on the open files lseek, pread and pwrite (ESPIPE:
    the nodes are streams), splice (EINVAL: none) and epoll; reads of
    mdma's and masterdev's debugfs files at random offsets while rings come
    and go; and writes of closing_wait.  5 % of --fuzz-count."""
    before = md.stats()
    files = Files()
    calls = BATCH // 10  # many calls are a ring's allocation
    pipe = os.pipe()
    os.write(pipe[1], bytes(PAGE))  # something a splice into a ring could take
    os.set_blocking(pipe[0], False)
    os.set_blocking(pipe[1], False)
    closing_wait = (md.PARAMS / "closing_wait").read_text().strip()

    names = list(md.IFACES)

    def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
        for i in range(calls):
            pick, _ = shapes[i % len(shapes)]
            op = FILE_OPS[(pick + i) % len(FILE_OPS)]
            file_call(files, op, names[pick % len(names)], rng, pipe)

    try:
        run_batches("ring files", fuzz_count(request.config) * 5 // 100, calls, batch)
    finally:
        files.close_all()
        md.write_attr(md.PARAMS / "closing_wait", closing_wait)
        os.close(pipe[0])
        os.close(pipe[1])
    assert md.stats() == before
    assert ERRNOS["ring files", errno.ESPIPE] and ERRNOS["ring files", errno.EBUSY], ERRNOS


EDU_CHECK_REAL = 8  # at most one call in this many is a real check: seconds of device time


def test_edu_check_arguments(request: pytest.FixtureRequest) -> None:
    """MASTER_DMA_IOC_EDU_CHECK, which the ioctl fuzz leaves out, on each node
    with its pair's other end closed: flags not 0 (EINVAL), a struct the
    kernel cannot read or write (EFAULT: NULL, unmapped, kernel, running
    into a guard page), junk in the fields it only writes, and up to one
    call in EDU_CHECK_REAL a real check, which finds every fragment where
    its descriptor says; with the other end open, EBUSY.  --fuzz-count / 1000
    calls (100 by default): a real check is seconds of device time under TCG."""
    if md.edu_device() is None:
        pytest.skip("no edu device bound to masterdev in this profile")
    ffi = uapi.ffi()
    cmd = int(uapi.lib().MASTER_DMA_IOC_EDU_CHECK)
    size = ffi.sizeof("struct master_dma_edu_check")
    flags_at = ffi.offsetof("struct master_dma_edu_check", "flags")
    arena = Arena()
    md.set_pair("asi", 8, 1316)
    md.set_pair("sdi", 4, 5000)
    before = md.stats()
    names = list(md.IFACES)
    real = Counter[str]()
    calls = 10
    total = max(fuzz_count(request.config) // 1000, calls)
    budget = max(total // EDU_CHECK_REAL, 1)

    def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
        for i in range(calls):
            pick, kind = shapes[i % len(shapes)]
            name = names[(pick + i) % len(names)]
            peer = rng.random() < 0.2
            data = bytearray(rng.randbytes(size))  # junk in every field, the seed too
            # flags 0 for zeros and ones: a real check while the budget lasts
            valid = kind in ("zeros", "ones") and (peer or sum(real.values()) < budget)
            struct.pack_into("=I", data, flags_at, 0 if valid else rng.getrandbits(32) | 1)
            with contextlib.ExitStack() as stack:
                fd = stack.enter_context(md.opened(name, os.O_RDWR | os.O_NONBLOCK))
                if peer:
                    stack.enter_context(md.opened(md.IFACES[name].peer, os.O_RDWR | os.O_NONBLOCK))
                where = (
                    arena.bad[kind]
                    if kind in arena.bad
                    else arena.buffer(bytes(data), kind == "edge")
                )
                code = 0 if LIBC.ioctl(fd, cmd, ctypes.c_void_p(where)) >= 0 else ctypes.get_errno()
            what = f"{name} {kind}{' peer open' if peer else ''}"
            if kind in arena.bad or kind == "edge":
                expected = errno.EFAULT
            elif not valid:
                expected = errno.EINVAL
            else:
                expected = errno.EBUSY if peer else 0
            assert code == expected, f"{what}: {os.strerror(code)}, not {os.strerror(expected)}"
            judge("edu check", code, EDU_CHECK_ERRNOS, what)
            if code == 0:
                out = ffi.from_buffer("struct master_dma_edu_check *", arena.map)
                assert out.checked > 0 and out.transfers > 0, what
                assert out.failed == 0 and out.first_failed == 2**64 - 1, (
                    f"{what}: {out.failed} failed"
                )
                real[name] += 1

    run_batches("edu check", total, calls, batch)
    assert md.stats() == before
    assert 0 < sum(real.values()) <= budget, real


def genl_message(family: int, cmd: int, version: int, flags: int, attrs: bytes) -> bytes:
    """nlmsghdr + genlmsghdr + attributes as given (not necessarily well formed)."""
    body = struct.pack("=BBH", cmd, version, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), family, flags, 1, 0) + body


def random_attrs(rng: random.Random, kind: str) -> bytes:
    out = b""
    for _ in range(rng.randrange(0, 4)):
        atype = rng.choice((0, 1, 2, 3, 4, 5, 9, 17, 30, 0x8001, rng.getrandbits(16)))
        payload = rng.randbytes(rng.choice((0, 1, 3, 4, 8, 9, 64)))
        length = 4 + len(payload) if kind != "edge" else rng.choice((0, 3, 5, 4 + len(payload) + 8))
        out += struct.pack("=HH", length & 0xFFFF, atype) + payload + bytes(-len(payload) % 4)
    return out[: rng.randrange(0, len(out) + 1)] if kind == "ones" else out


def test_raw_generic_netlink_messages(request: pytest.FixtureRequest) -> None:
    """Known and unknown commands, versions, flags and attributes (wrong types
    and lengths, truncated, oversized) to both families on a raw socket: each
    gets its answer, an error among the documented ones or data."""
    families = {}
    for family in ("mdma", "allocator"):
        with contextlib.suppress(nl.FamilyMissing), nl.MasterDmaSocket(family) as sock:
            families[family] = sock.prid
    commands = sorted(our_commands("MASTER_DMA_CMD_").values())
    before = md.stats()
    regions = himem.regions() if "allocator" in families else []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC) as raw:
        raw.bind((0, 0))
        raw.settimeout(10)
        ids = list(families.values())

        calls = BATCH // 5

        def batch(shapes: list[tuple[int, str]], rng: random.Random) -> None:
            for i in range(calls):
                pick, kind = shapes[i % len(shapes)]
                cmd = commands[pick % len(commands)] if pick < 8000 else rng.getrandbits(8)
                flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if kind == "zeros" else 0)
                version = 1 if kind != "top" else rng.getrandbits(8)
                msg = genl_message(ids[i % len(ids)], cmd, version, flags, random_attrs(rng, kind))
                if kind == "low":  # truncated inside a header
                    msg = msg[: rng.randrange(4, 20)]
                raw.send(msg)
                if kind == "low":  # the kernel drops it, answering nothing (in send())
                    raw.setblocking(False)  # with a timeout, Python would wait for one
                    with pytest.raises(BlockingIOError):
                        raw.recv(1 << 16)
                    raw.settimeout(10)
                    code = 0
                else:
                    code = drain(raw)
                judge("raw netlink", code, NETLINK_ERRNOS, f"cmd {cmd} {kind}")

        run_batches("raw netlink", fuzz_count(request.config) * 2 // 10, calls, batch)
    assert md.stats() == before
    if "allocator" in families:
        assert himem.regions() == regions


def drain(raw: socket.socket) -> int:
    """Read the answer to one request up to its ACK, error or dump's end; the
    errno (a dump's end carries the dump's status: an error half way)."""
    while True:
        data = raw.recv(1 << 16)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == 2:  # NLMSG_ERROR: 0 is the ACK
                return -int(struct.unpack_from("=i", data, offset + 16)[0])
            if kind == 3:  # NLMSG_DONE, its payload the dump's status
                return -int(struct.unpack_from("=i", data, offset + 16)[0]) if length >= 20 else 0
            offset += max((length + 3) & ~3, 16)
