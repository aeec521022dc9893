"""Ring mappings behave like ordinary shared device mappings.

Every madvise advice, mprotect, mremap, partial munmap, fork,
process_vm_readv, /proc/<pid>/mem and ptrace peek on a mapping of an SDI ring
either works with the ring's real bytes or is refused at the call with an
errno; never a signal on a later access while the ring lives.  Each case runs
in a child of its own (pyharness.guest.vmaccess), so a SIGBUS fails the case, not
the run.  A packed (DVB ASI) ring cannot be mapped at all: EINVAL at mmap.
"""

from __future__ import annotations

import errno
import mmap
import os

import pytest

from pyharness.guest import masterdev as md
from pyharness.guest import vmaccess
from pyharness.model import compare

pytestmark = pytest.mark.usefixtures("masterdev_state")

# Cases that work on ring pages (struct pages, refaulted by mdma_ring_fault()).
MUST_WORK = (
    "madvise dontneed",
    "madvise populate_read",
    "madvise populate_write",
    "madvise pageout",
    "mprotect",
    "mremap move",
    "partial munmap",
    "fork",
    "/proc/self/mem",
    "process_vm_readv",
    "ptrace peek",
)


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"), [("sditx0", 4, 9588), ("sdirx0", 3, 5000)]
)
def test_every_access_to_a_ring_mapping_works_or_is_refused_at_the_call(
    iface: str, buffers: int, bufsize: int
) -> None:
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface) as fd:
        length = int(md.summary(iface)["pointers"]) * mmap.PAGESIZE
        pattern = bytes((i * 7 + 3) & 0xFF for i in range(length))

        def ring_mapping() -> tuple[mmap.mmap, bytes]:
            mapped = mmap.mmap(fd, length, mmap.MAP_SHARED)
            mapped[:] = pattern
            return mapped, pattern

        outcomes = {o.case: o for o in vmaccess.survey(ring_mapping)}
        # Every child wrote the pattern into the ring itself; nothing undid it.
        with mmap.mmap(fd, length, mmap.MAP_SHARED) as mine:
            compare.assert_same(mine[:], pattern, f"{iface} after the survey")
    assert [f"{o.case}: {o.result}" for o in outcomes.values() if not o.acceptable] == []
    assert {case: outcomes[case].result for case in MUST_WORK} == dict.fromkeys(MUST_WORK, "ok")


def test_a_packed_ring_refuses_the_mapping_itself() -> None:
    md.set_geometry("asitx0", 4, 9588)
    with md.opened("asitx0") as fd, pytest.raises(OSError) as info:
        mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED)
    assert info.value.errno == errno.EINVAL


def test_a_file_opened_read_only_maps_for_reading() -> None:
    """A shared mapping of a file opened O_RDONLY has VM_MAYSHARE but not
    VM_SHARED: it maps, for reading; PROT_WRITE there, and any mapping of a
    file opened O_WRONLY, are the VFS's EACCES."""
    md.set_geometry("sdirx0", 3, 5000)
    with md.opened("sdirx0", os.O_RDONLY) as fd:
        length = int(md.summary("sdirx0")["pointers"]) * mmap.PAGESIZE
        with mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ) as mapped:
            assert mapped[:] == bytes(length)  # a fresh ring, nothing received
        with pytest.raises(OSError) as info:
            mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        assert info.value.errno == errno.EACCES
    with md.opened("sdirx0", os.O_WRONLY) as fd, pytest.raises(OSError) as info:
        mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ)
    assert info.value.errno == errno.EACCES
