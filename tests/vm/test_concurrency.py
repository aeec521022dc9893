"""Concurrency: many users of every interface at once, for --seconds (default 60).

--threads workers (default 8) each loop over one kind of work until the time is
up: opening, writing, reading, mapping and closing the four ring nodes with
changing geometry; QBUF/DQBUF on a mapped SDI ring; the edu check; reading
the rings' debugfs files; netlink dumps and an event listener; and unloading
and loading masterdev again whenever no node is open, or removing the edu
device (PCI remove, as hot-unplug does) and rescanning the bus.  Every call succeeds or
fails with an errno that says why (busy, gone, nothing ready, bad geometry);
anything else fails the test, as does any kernel report.  Afterwards no ring
is left, and bytes sent through the loopback arrive exact.
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
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from pyharness.guest import guestkit
from pyharness.guest import masterdev as md
from pyharness.guest import netlink as nl
from pyharness.model import figures

pytestmark = pytest.mark.usefixtures("masterdev_state")

# Why a call may fail while others race it, for each kind of work.  Every
# node: open elsewhere, its geometry locked, or its peer in an edu check
# (EBUSY); gone with masterdev (ENOENT), opened while masterdev goes (ENXIO);
# its ring's device removed (ENODEV).  Opening a ring: the peer open with
# another geometry (EINVAL), too big for the memory left (ENOMEM).  QBUF: not
# the next buffer (EINVAL), none to hand over (EAGAIN).  The edu check:
# another check holds the node (EAGAIN: non-blocking).  Nothing else, and
# no EINTR: nobody sends a signal.
GONE = frozenset({errno.EBUSY, errno.ENOENT, errno.ENXIO, errno.ENODEV})
OPENING = GONE | {errno.EINVAL, errno.ENOMEM}
RACE_ERRNOS: dict[str, frozenset[int]] = {
    "ring": OPENING,
    "qbuf": OPENING | {errno.EAGAIN},
    "edu": OPENING | {errno.EAGAIN},
    "debugfs": frozenset(),  # a ring's file missing or cut: handled there
    "netlink": frozenset(),
    "events": frozenset(),  # an overrun (ENOBUFS): handled there
    "churn": frozenset(),
}
GEOMETRIES = ((4, 188), (8, 1316), (3, 5000), (2, 8192), (16, 4096))


class Workers:
    """Threads that repeat one kind of work until the deadline, counting what
    happened; an unexpected exception is kept and fails the test."""

    def __init__(self, seconds: float, allowed: Mapping[str, frozenset[int]]) -> None:
        self.allowed = allowed  # the errnos each kind of work may get
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []

    def running(self) -> bool:
        return time.monotonic() < self.deadline and not self.errors

    def loop(self, name: str, work: Callable[[random.Random], None], seed: int) -> None:
        rng = random.Random(seed)
        allowed = self.allowed[name]
        while self.running():
            try:
                work(rng)
                outcome = "ok"
            except OSError as err:
                if err.errno not in allowed:
                    with self.lock:
                        self.errors.append(f"{name}: {err!r}")
                    return
                outcome = errno.errorcode.get(err.errno or 0, "?")
            except NetlinkError as err:
                if err.code not in allowed:
                    with self.lock:
                        self.errors.append(f"{name}: netlink {err!r}")
                    return
                outcome = f"netlink {err.code}"
            except Exception as err:  # anything else is a failure, kept for the test
                with self.lock:
                    self.errors.append(f"{name}: {err!r}")
                return
            with self.lock:
                self.counts[f"{name} {outcome}"] += 1


def ring_user(rng: random.Random) -> None:
    """Open a node with some geometry, move a little data, maybe map it, close."""
    iface = rng.choice(list(md.IFACES))
    buffers, bufsize = rng.choice(GEOMETRIES)
    with contextlib.suppress(OSError):
        md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        if md.IFACES[iface].to_device:
            with contextlib.suppress(BlockingIOError):
                os.write(fd, os.urandom(rng.randrange(1, 3 * bufsize)))
        else:
            with contextlib.suppress(BlockingIOError):
                os.read(fd, 1 << 16)
        if md.IFACES[iface].mmap:
            # the ring's own fd, not debugfs: a removed edu device takes the
            # ring's debugfs file away mid-read (EIO), the fd says ENODEV
            pages = int(md.ioctl_summary(fd).pointers)
            with mmap.mmap(fd, pages * mmap.PAGESIZE, mmap.MAP_SHARED) as mapped:
                length = rng.randrange(1, mmap.PAGESIZE)
                mapped[:length] = b"\x5a" * length
        time.sleep(rng.random() / 50)


def buffer_user(rng: random.Random) -> None:
    """QBUF and DQBUF on a mapped SDI transmit ring."""
    with md.opened("sditx0", os.O_RDWR | os.O_NONBLOCK) as fd:
        bufsize = md.geometry("sditx0")[1]
        for index in range(rng.randrange(1, 6)):
            md.qbuf(fd, index, rng.randrange(1, bufsize + 1))
            with contextlib.suppress(BlockingIOError):
                md.dqbuf(fd)


def edu_checker(rng: random.Random) -> None:
    if md.edu_device() is None:
        time.sleep(0.5)
        return
    iface = rng.choice(list(md.IFACES))
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
        check = md.edu_check(fd, rng.getrandbits(63))
        assert check.failed == 0, f"{iface}: {check.failed} fragments failed the edu check"


def debugfs_reader(rng: random.Random) -> None:
    """A ring's debugfs file, read while its ring may be freed: missing, or
    EIO from debugfs itself once the file is removed under the reader."""
    iface = rng.choice(list(md.IFACES))
    try:
        (md.DEBUGFS / iface / rng.choice(("summary", "map"))).read_bytes()
    except FileNotFoundError:
        pass
    except OSError as err:
        if err.errno != errno.EIO:
            raise
    md.stats()


def netlink_dumper(rng: random.Random) -> None:
    with nl.MasterDmaSocket("mdma") as sock:
        for _ in range(rng.randrange(1, 10)):
            sock.rings()
            sock.totals()


def event_listener(rng: random.Random) -> None:
    """Join the events group for a second and take what comes (an overrun is
    ENOBUFS: the listener lost events, which it may)."""
    with nl.MasterDmaSocket("mdma") as sock:
        sock.subscribe()
        raw = sock.asyncore.socket
        until = time.monotonic() + 1
        while time.monotonic() < until:
            ready, _, _ = select.select([raw], [], [], 0.2)
            if ready:
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    try:
                        raw.recv(nl.RECV_BYTES)
                    except OSError as err:
                        if err.errno != errno.ENOBUFS:
                            raise


def churner(ko: Path, params: tuple[str, ...], edu: str | None) -> Callable[[random.Random], None]:
    """Every few seconds, either unload masterdev if no node is open (the
    kernel refuses otherwise) and load it again with the profile's
    parameters, or remove the edu device through its PCI remove file (as
    hot-unplug does: open rings get ENODEV) and rescan the bus to bring it
    back."""

    def work(rng: random.Random) -> None:
        time.sleep(2 + rng.random() * 3)
        if edu is not None and rng.random() < 0.5:
            md.write_attr(Path(f"/sys/bus/pci/devices/{edu}/remove"), "1")
            time.sleep(rng.random())
            md.write_attr(Path("/sys/bus/pci/rescan"), "1")
        elif guestkit.rmmod("masterdev").ok:
            inserted = guestkit.insmod(ko, *params)
            assert inserted.ok, inserted.output

    return work


def back_as_before(ko: Path, params: tuple[str, ...], edu: str | None) -> None:
    """masterdev loaded and edu bound to it again, whatever the churner was
    doing when the time ran out."""
    md.write_attr(Path("/sys/bus/pci/rescan"), "1")
    if not guestkit.loaded("masterdev"):
        assert guestkit.insmod(ko, *params).ok
    deadline = time.monotonic() + 30
    while md.edu_device() != edu:
        assert time.monotonic() < deadline, f"edu {edu} not bound again"
        time.sleep(0.2)


def test_everything_at_once_then_the_loopback_is_exact(
    request: pytest.FixtureRequest, module_paths: dict[str, Path], boot_params: tuple[str, ...]
) -> None:
    threads = int(request.config.getoption("--threads"))
    seconds = float(request.config.getoption("--seconds"))
    workers = Workers(seconds, RACE_ERRNOS)
    edu = md.edu_device()
    ko = module_paths["masterdev"]
    kinds: list[tuple[str, Callable[[random.Random], None]]] = [
        ("ring", ring_user),
        ("netlink", netlink_dumper),
        ("edu", edu_checker),
        ("debugfs", debugfs_reader),
        ("qbuf", buffer_user),
        ("events", event_listener),
        ("churn", churner(ko, boot_params, edu)),
        ("ring", ring_user),
    ]
    pool = [
        threading.Thread(target=workers.loop, args=(name, work, seed), daemon=True)
        for seed, (name, work) in enumerate((kinds * threads)[:threads])
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 120)
    assert not any(t.is_alive() for t in pool), "a worker is stuck"
    back_as_before(ko, boot_params, edu)
    assert workers.errors == [], workers.errors
    assert md.stats()["rings"] == 0
    md.assert_asi_loops(8, 1316, "through the loopback after the storm")
    for key, count in sorted(workers.counts.items()):
        figures.record(f"concurrency: {key}", count, "calls")
    # the work that matters got done, not only refused
    assert workers.counts["ring ok"] > 0 and workers.counts["qbuf ok"] > 0, workers.counts
