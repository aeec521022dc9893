"""Memory handed to user space never holds earlier data.

A freshly booted guest's free pages are zero anyway, so a ring allocated
without zeroing would pass every other test: each check here dirties the
memory first.  A ring's pages are filled and the ring closed (they go back to
the free lists dirty, and the next ring of that size takes most of them
again); free memory is filled by a process that then exits, and by another
device's ring.  The test
build's test_dirty_pages (ring pages without __GFP_ZERO) shows the checks
catching a ring that keeps earlier data; it runs where the kernel does not
zero every allocation itself (init_on_alloc=0, the upstream default, as the
plain profile boots; Debian's kernels default to on).  High-memory regions:
test_himem.py.  An unprivileged user, and root of a user namespace, are
refused everywhere and see no address (mostly by file modes; netlink and
MAP_ENTRY by the modules' own capability checks).
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyharness.guest import himem
from pyharness.guest import masterdev as md
from pyharness.model import figures, layout

DIRTY = 0xA5
KNOB = Path("/sys/module/mdma/parameters/test_dirty_pages")
# (interface, buffers, bufsize): packed tails through the ring copy API, own-page
# tails through mmap too (every byte of every page, the slack after a tail included).
RINGS = [("asitx0", 300, 1316), ("sdirx0", 100, 5000)]
IDS = ["packed", "own-page"]

pytestmark = [
    pytest.mark.usefixtures("masterdev_state"),
    pytest.mark.skipif(not KNOB.exists(), reason="needs a test build (MASTERDMA_TEST=1)"),
]


@contextlib.contextmanager
def ring_data(iface: str) -> Iterator[int]:
    """The test build's debugfs file of the ring's data bytes (mdma_ring_copy_*)."""
    fd = os.open(md.DEBUGFS / iface / "data", os.O_RDWR)
    try:
        yield fd
    finally:
        os.close(fd)


def ring_bytes(iface: str, fd: int, buffers: int, bufsize: int) -> bytes:
    """Every data byte of the open ring and, for a ring user space maps, every
    byte of every page of the mapping."""
    seen = bytearray()
    with ring_data(iface) as data:
        while chunk := os.pread(data, 1 << 20, len(seen)):
            seen += chunk
    assert len(seen) == buffers * bufsize
    if md.IFACES[iface].mmap:
        model = layout.layout(buffers, bufsize, md.IFACES[iface].tails)
        with mmap.mmap(fd, model.pointers * model.page_size, mmap.MAP_SHARED) as mapped:
            seen += mapped[:]
    return bytes(seen)


def dirty_ring(iface: str, fd: int, buffers: int, bufsize: int) -> None:
    """Fill the open ring's pages with DIRTY, all of them for a mapped ring."""
    with ring_data(iface) as data:
        assert os.pwrite(data, bytes([DIRTY]) * buffers * bufsize, 0) == buffers * bufsize
    if md.IFACES[iface].mmap:
        model = layout.layout(buffers, bufsize, md.IFACES[iface].tails)
        size = model.pointers * model.page_size
        with mmap.mmap(fd, size, mmap.MAP_SHARED) as mapped:
            mapped[:] = bytes([DIRTY]) * size


@contextlib.contextmanager
def on_one_cpu() -> Iterator[None]:
    """This process on the first CPU it may use, then back.  Freed pages go
    to the freeing CPU's per-CPU lists and the next allocation on that CPU
    takes them first: a ring closed on one CPU and opened on another takes
    few of its own pages back (0.7% of the bytes, once, on the 2-CPU debug
    guest), on the same CPU most of them, the reuse the check is about."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def reopened_after_dirtying(iface: str, buffers: int, bufsize: int) -> bytes:
    """What a ring shows right after a ring of the same size was dirtied and
    closed, on the same CPU."""
    md.set_geometry(iface, buffers, bufsize)
    with on_one_cpu():
        with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
            dirty_ring(iface, fd, buffers, bufsize)
        with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
            return ring_bytes(iface, fd, buffers, bufsize)


def nonzero(data: bytes) -> int:
    return len(data) - data.count(0)


def percent(data: bytes) -> float:
    """The share of nonzero bytes, in percent, for the run's figures."""
    return round(100 * nonzero(data) / len(data), 1)


@pytest.mark.parametrize(("iface", "buffers", "bufsize"), RINGS, ids=IDS)
def test_a_ring_reopened_after_one_was_dirtied_reads_as_zero(
    iface: str, buffers: int, bufsize: int
) -> None:
    seen = reopened_after_dirtying(iface, buffers, bufsize)
    assert nonzero(seen) == 0, f"{nonzero(seen)} of {len(seen)} bytes hold earlier data"


def kernel_zeroes_every_allocation() -> bool | None:
    """init_on_alloc, as the kernel said at boot ("mem auto-init: ... heap
    alloc:on"); None if that line has left the log."""
    log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    for line in log.splitlines():
        if "mem auto-init:" in line:
            return "heap alloc:on" in line
    return None


@pytest.mark.skipif(
    kernel_zeroes_every_allocation() is not False,
    reason="the kernel zeroes every page it hands out (init_on_alloc): nothing to catch",
)
@pytest.mark.parametrize(("iface", "buffers", "bufsize"), RINGS, ids=IDS)
def test_the_zero_check_catches_a_ring_that_keeps_earlier_data(
    iface: str, buffers: int, bufsize: int
) -> None:
    """With test_dirty_pages the reopened ring shows the closed ring's bytes:
    the check above, which fails at one nonzero byte, would fail.  More than
    1% of the bytes, so not one stray page: on the same CPU the reopened ring
    takes the closed one's pages back (100% of the bytes dirty on 6.1 and on
    the debug kernel so far)."""
    md.write_attr(KNOB, "1")
    try:
        seen = reopened_after_dirtying(iface, buffers, bufsize)
    finally:
        md.write_attr(KNOB, "0")
    figures.record(f"reopened {iface} without zeroing: dirty", percent(seen), "%")
    assert nonzero(seen) > len(seen) // 100, f"only {nonzero(seen)} of {len(seen)} bytes dirty"


DIRTIER = """
import fcntl, json, os, resource, sys

zone, margin, step = sys.argv[1], int(sys.argv[2]), 1 << 20
block = bytes([int(sys.argv[3])]) * step
# Two descriptors a MiB: 5 GiB is 10 240 of them, past the usual hard limit.
nr_open = int(open("/proc/sys/fs/nr_open").read())
resource.setrlimit(resource.RLIMIT_NOFILE, (nr_open, nr_open))

def zone_free():
    seen = False
    for line in open("/proc/zoneinfo"):
        words = line.split()
        if line.startswith("Node"):
            seen = words[-1] == zone
        elif seen and words[:2] == ["pages", "free"]:
            return int(words[2]) * 4096
    raise SystemExit(f"no zone {zone} in /proc/zoneinfo")

def mem_free():
    for line in open("/proc/meminfo"):
        if line.startswith("MemFree:"):
            return int(line.split()[1]) << 10

before, pipes = zone_free(), []
while zone_free() > before // 5 and mem_free() - step > margin:
    r, w = os.pipe()
    pipes.append((r, w))
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, step)
    os.write(w, block)
print(json.dumps({"before": before, "peak": zone_free(), "filled": len(pipes) * step}))
"""
DIRTY_MARGIN = 96 << 20  # bytes of MemFree left alone: the kernel's reserves and ours
ZONEINFO_NAMES = {"normal": "Normal", "dma32": "DMA32", "dma": "DMA"}


def dirty_zone(zone: str) -> dict[str, int]:
    """Fill free memory with DIRTY through pipes of a process that then exits,
    so that their pages go back to the free lists dirty, until the ring
    zone's free pages are down to a fifth.  Pipes, not anonymous memory: a
    pipe's pages are unmovable kernel allocations like a ring's, and the page
    allocator keeps unmovable and movable pages in separate pageblocks, so a
    process's anonymous memory never reached the free pages a ring takes
    next (seen: 650 MiB dirtied that way, and a fresh ring still 86% zero).
    Pages of the highest zone go first, so the dirtying fills ZONE_NORMAL
    before it reaches ZONE_DMA32.  Bytes: the zone's free before and at the
    peak, and the bytes filled."""
    done = subprocess.run(
        [sys.executable, "-c", DIRTIER, ZONEINFO_NAMES[zone], str(DIRTY_MARGIN), str(DIRTY)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {k: int(v) for k, v in json.loads(done.stdout).items()}


def ring_zone(iface: str) -> str:
    """The zone mdma takes the interface's ring pages from (debugfs summary)."""
    md.set_geometry(iface, 4, 1316)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK):
        return str(md.summary(iface)["zone"])


FRESH = [("asitx0", 1000, 9588), ("sditx0", 300, 9588)]
# Another device's ring of 13 600 pages, four times both fresh rings (2500 and
# 900 pages), of whole pages (8192-byte buffers, no tails): every byte written.
OTHER_RING = ("asirx0", 6800, 8192)


def dirty_another_ring() -> None:
    """Fill a ring of another interface with DIRTY and close it: its pages go
    back to the free lists the fresh ring takes from, as another device's data
    would."""
    iface, buffers, bufsize = OTHER_RING
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK), ring_data(iface) as data:
        assert os.pwrite(data, bytes([DIRTY]) * buffers * bufsize, 0) == buffers * bufsize


def fresh_rings_after_dirtying() -> list[tuple[str, bytes]]:
    """What fresh rings show after free memory was dirtied by another
    process's pipes, down to a fifth of the ring zone's free pages, and, right
    before each ring, by another device's ring.  Both, because which free
    pages a ring takes is the page allocator's choice: in a whole suite's run
    a ring after the pipes alone read 99.85% zero with test_dirty_pages set
    (and 3% in a fresh boot), so the pipes' pages are not always the ones a
    ring takes next, while a closed ring's are (100%, every run since); the
    pipes stay because they are what a secret in another process looks like.
    The test fails if the pipes could not reach the ring zone.  The pipes
    dirty once: on the users profile they fill 4 GiB, about 2 min under TCG."""
    zones = {ring_zone(iface) for iface, _, _ in FRESH}
    assert len(zones) == 1, zones  # both pairs are on one device
    zone = zones.pop()
    dirtied = dirty_zone(zone)
    figures.record(f"free memory dirtied to reach {zone}", dirtied["filled"] >> 20, "MiB")
    assert dirtied["peak"] <= dirtied["before"] // 2, f"dirtying did not reach {zone}: {dirtied}"
    seen = []
    for iface, buffers, bufsize in FRESH:
        dirty_another_ring()
        md.set_geometry(iface, buffers, bufsize)
        with md.opened(iface, os.O_RDWR | os.O_NONBLOCK) as fd:
            seen.append((iface, ring_bytes(iface, fd, buffers, bufsize)))
    return seen


def test_fresh_rings_read_as_zero_after_free_memory_was_dirtied() -> None:
    for iface, seen in fresh_rings_after_dirtying():
        assert nonzero(seen) == 0, f"{iface}: {nonzero(seen)} of {len(seen)} bytes not zero"


@pytest.mark.skipif(
    kernel_zeroes_every_allocation() is not False,
    reason="the kernel zeroes every page it hands out (init_on_alloc): nothing to catch",
)
def test_the_fresh_ring_check_catches_a_ring_that_keeps_earlier_data() -> None:
    """With test_dirty_pages the fresh rings show the dirtier's bytes: the
    check above would fail (it once could not: a fixed amount of dirtying
    stayed in ZONE_NORMAL while the rings came from ZONE_DMA32)."""
    md.write_attr(KNOB, "1")
    try:
        seen = fresh_rings_after_dirtying()
    finally:
        md.write_attr(KNOB, "0")
    # The check above fails at one nonzero byte; a ring keeping earlier data
    # shows many pages of it, more than one stray page of it.
    for iface, data in seen:
        figures.record(f"fresh {iface} without zeroing: dirty", percent(data), "%")
        assert nonzero(data) > len(data) // 100, f"{iface}: only {nonzero(data)} of {len(data)}"


USERNS_CHILD = """
import ctypes, errno, json, os, sys
from pyroute2.netlink.exceptions import NetlinkError
from pyharness.guest import masterdev as md
from pyharness import uapi
from pyharness.guest import netlink

uapi.load()  # read as root, then become nobody, then (userns) root of a user namespace
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self is ours again after setuid
if sys.argv[2] == "userns":
    if libc.unshare(0x10000000):  # CLONE_NEWUSER
        print(json.dumps({"no_userns": os.strerror(ctypes.get_errno())}))
        sys.exit(0)
    for name, text in (("setgroups", "deny"), ("uid_map", "0 65534 1"), ("gid_map", "0 65534 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
out = {"uid": os.getuid()}

def attempt(name, call):
    try:
        call()
        out[name] = 0
    except NetlinkError as err:
        out[name] = err.code
    except OSError as err:
        out[name] = err.errno

for path in sys.argv[3:]:
    if path.startswith("/dev/"):
        attempt(path, lambda: os.close(os.open(path, os.O_RDWR)))
    elif path.startswith("/sys/kernel/debug/"):
        attempt(path, lambda: open(path).read())
    else:
        attempt(path, lambda: open(path, "w").write("4"))
for family in ("mdma", "allocator"):
    try:
        sock = netlink.MasterDmaSocket(family)
    except netlink.FamilyMissing:
        continue
    attempt(f"netlink {family} totals", sock.totals)
    attempt(f"netlink {family} dump", sock.rings if family == "mdma" else sock.regions)
    attempt(f"netlink {family} events", sock.subscribe)
entry = md.ioctl_map_entry(int(sys.argv[1]), 0)
out["map_entry"] = [entry.length, entry.dma_addr, entry.desc_dma, entry.next_desc]
print(json.dumps(out))
"""


@pytest.mark.parametrize(
    ("who", "uid"), [("nobody", 65534), ("userns", 0)], ids=["nobody", "root-of-a-user-namespace"]
)
def test_unprivileged_users_are_refused_and_see_no_address(
    request: pytest.FixtureRequest, who: str, uid: int
) -> None:
    """An unprivileged user (nobody, in the init namespace), and root inside a
    user namespace that nobody created (every capability there, none in the
    init namespace): every node, debugfs file, geometry attribute and netlink
    operation refuses them, and MAP_ENTRY on a ring fd they inherited shows
    them no bus address.

    What each refusal tests: the nodes, debugfs files and attributes belong to
    the init namespace's root with mode 0600 or 0644, and both are uid 65534
    there, so the file modes refuse them before our code runs. The netlink
    operations (GENL_ADMIN_PERM and the event group's capability, judged in
    the init namespace) and MAP_ENTRY's addresses (capable(), not
    ns_capable()) are the modules' own checks: a namespace-aware capability
    check there is what the user namespace's root would catch.

    In the himem profile (which runs this test too) allocator.ko and the
    door are loaded for it: /dev/himem and the allocator family are tried."""
    himem_profile = himem.mem_limit() is not None
    if himem_profile:
        request.getfixturevalue("door")
    paths = [f"/dev/{iface}" for iface in md.IFACES]
    paths += ["/dev/himem"] if Path("/dev/himem").exists() else []
    paths += [str(md.DEBUGFS / "stats"), str(md.DEBUGFS / "sditx0" / "map")]
    paths += [str(md.SYSFS / "asitx0" / name) for name in ("buffers", "bufsize")]
    md.set_geometry("sditx0", 2, 4096)
    with md.opened("sditx0") as fd:
        done = subprocess.run(
            [sys.executable, "-c", USERNS_CHILD, str(fd), who, *paths],
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    if "no_userns" in out:
        pytest.skip(f"no user namespace for nobody here: {out['no_userns']}")
    assert out.pop("uid") == uid
    assert out.pop("map_entry") == [4096, 0, 0, 0]  # the length, and nothing physical
    allowed = {errno.EACCES, errno.EPERM}
    assert {name: code for name, code in out.items() if code not in allowed} == {}
    assert {f"netlink mdma {op}" for op in ("totals", "dump", "events")} <= out.keys()
    if himem_profile:
        assert "/dev/himem" in out
        assert {f"netlink allocator {op}" for op in ("totals", "dump", "events")} <= out.keys()


def test_every_debugfs_file_and_node_is_root_only() -> None:
    """Beyond debugfs's own 0700: each of mdma's, masterdev's and the
    allocator's debugfs files (their directories keep debugfs's 0755: names
    only), and each ring node, gives nothing to group or others, so that a
    debugfs mounted with looser permissions still shows nobody else a ring's
    map or data."""
    debugfs = Path("/sys/kernel/debug")
    roots = (md.DEBUGFS, debugfs / "masterdev", debugfs / "allocator")
    md.set_pair("asi", 2, 188)
    with md.opened("asirx0"):  # a ring's own files exist while it is open
        files = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
        files += [Path(f"/dev/{iface}") for iface in md.IFACES]
        modes = {str(p): p.stat() for p in files}
    assert any(Path(p).parent.name == "asirx0" for p in modes), sorted(modes)
    loose = {p: oct(st.st_mode & 0o777) for p, st in modes.items() if st.st_mode & 0o077}
    assert loose == {}
    assert {p for p, st in modes.items() if st.st_uid != 0} == set()
    assert all(stat.S_ISCHR(modes[f"/dev/{iface}"].st_mode) for iface in md.IFACES)
