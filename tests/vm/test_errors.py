"""Bad input gets a clear error and leaves nothing allocated."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyharness import uapi
from pyharness.guest import masterdev as md

LIMITS = {
    name: (md.PARAMS / f"max_{name}").read_text().strip() if md.PARAMS.exists() else "0"
    for name in ("buffers", "bufsize", "ring_bytes")
}


pytestmark = pytest.mark.usefixtures("masterdev_state")


def nothing_allocated(iface: str) -> bool:
    return md.stats()["rings"] == 0 and not (md.DEBUGFS / iface).exists()


def expect_errno(code: int, action: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(OSError) as info:
        action(*args, **kwargs)
    assert info.value.errno == code, os.strerror(info.value.errno or 0)


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("buffers", "0"),
        ("buffers", "1"),
        ("bufsize", "0"),
        ("buffers", "abc"),
        ("bufsize", "12x"),
        ("buffers", "\n"),
        ("buffers", "-1"),
        ("buffers", "4294967296"),  # overflows 32 bits
        ("bufsize", "18446744073709551616"),  # overflows 64 bits
        ("buffers", str(int(LIMITS["buffers"]) + 1)),  # beyond max_buffers
        ("bufsize", str(int(LIMITS["bufsize"]) + 1)),  # beyond max_bufsize
    ],
)
def test_bad_geometry_is_refused(attr: str, value: str) -> None:
    before = md.geometry("asitx0")
    expect_errno(errno.EINVAL, md.write_attr, md.SYSFS / "asitx0" / attr, value)
    assert md.geometry("asitx0") == before
    assert nothing_allocated("asitx0")


def test_product_beyond_the_ring_limit_is_refused() -> None:
    md.set_geometry("asitx0", 65536, 1)
    # 65536 * 65536 = 2**32: overflows 32 bits, and is beyond max_ring_bytes
    expect_errno(errno.EINVAL, md.write_attr, md.SYSFS / "asitx0" / "bufsize", "65536")
    assert md.geometry("asitx0") == (65536, 1)


def test_the_ring_limit_bounds_pages_and_descriptors() -> None:
    """max_ring_bytes bounds what a ring would hold, not buffers * bufsize:
    2**20 one-byte buffers are 1 MiB of data, but with a page per tail they
    would take 4 GiB of pages and 16 MiB of descriptors."""
    md.set_geometry("sditx0", 2, 1)
    expect_errno(errno.EINVAL, md.write_attr, md.SYSFS / "sditx0" / "buffers", str(1 << 20))
    assert md.geometry("sditx0") == (2, 1)
    md.set_geometry("asitx0", 1 << 20, 1)  # packed: 256 pages and 32 MiB of descriptors
    assert md.geometry("asitx0") == (1 << 20, 1)


@pytest.mark.parametrize(
    ("buffers", "bufsize"),
    [(65536, 65536), (1 << 20, 1 << 20)],  # 4 GiB (overflows 32 bits) and 1 TiB: > RAM
)
def test_ring_larger_than_memory_fails_enomem(buffers: int, bufsize: int) -> None:
    md.write_attr(md.PARAMS / "max_ring_bytes", str(1 << 62))
    md.write_attr(md.PARAMS / "max_bufsize", str(1 << 20))
    md.set_geometry("asirx0", buffers, bufsize)
    pages = md.stats()["pages"]
    expect_errno(errno.ENOMEM, os.open, "/dev/asirx0", os.O_RDWR)
    assert md.stats()["pages"] == pages
    assert nothing_allocated("asirx0")


def test_an_open_refuses_a_geometry_the_limits_no_longer_allow() -> None:
    """Limits lowered after the geometry was set: the open refuses it, as the
    sysfs write would now (EINVAL), and allocates nothing."""
    md.set_geometry("asitx0", 64, 4096)
    md.write_attr(md.PARAMS / "max_buffers", "8")
    expect_errno(errno.EINVAL, os.open, "/dev/asitx0", os.O_RDWR)
    assert nothing_allocated("asitx0")


def test_no_limit_lets_the_per_buffer_array_outgrow_one_kvmalloc() -> None:
    """With every limit raised as far as it goes, buffers whose per-buffer
    array would pass kvmalloc's INT_MAX bytes are refused when written
    (EINVAL): an open must never reach kvmalloc's warning."""
    md.write_attr(md.PARAMS / "max_buffers", str(2**32 - 1))
    md.write_attr(md.PARAMS / "max_ring_bytes", str(2**64 - 1))
    md.set_geometry("asitx0", 2, 1)
    too_many = (2**31 - 1) // 4 + 1  # 4-byte entries
    expect_errno(errno.EINVAL, md.write_attr, md.SYSFS / "asitx0" / "buffers", str(too_many))
    assert md.geometry("asitx0") == (2, 1)


def test_second_open_is_busy_and_geometry_locked() -> None:
    with md.opened("asitx0"):
        expect_errno(errno.EBUSY, os.open, "/dev/asitx0", os.O_RDWR)
        expect_errno(errno.EBUSY, md.write_attr, md.SYSFS / "asitx0" / "buffers", "8")


def test_nodes_and_debugfs_are_root_only() -> None:
    for name in md.IFACES:
        assert stat.S_IMODE(os.stat(f"/dev/{name}").st_mode) == 0o600
    with md.opened("sditx0"):
        for f in ("summary", "map"):
            assert stat.S_IMODE((md.DEBUGFS / "sditx0" / f).stat().st_mode) == 0o400


def test_unknown_ioctl() -> None:
    with md.opened("asitx0") as fd:
        expect_errno(errno.ENOTTY, md.ioctl, fd, 0xB8FF, uapi.ffi().new("char[8]"))


def raw_ioctl(fd: int, request: int, address: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    if libc.ioctl(fd, request, address) == 0:
        return 0
    return ctypes.get_errno()


@pytest.mark.parametrize(
    ("iface", "buffers", "bufsize"), [("asitx0", 5, 5000), ("sdirx0", 3, 4097)]
)
def test_the_ring_copy_api_moves_what_it_is_asked_zero_bytes_included(
    iface: str, buffers: int, bufsize: int
) -> None:
    """mdma_ring_copy_{from,to}_user() through the test build's debugfs
    `data` file: bytes written at any position read back the same, across
    fragment and buffer edges; a zero-byte copy anywhere moves nothing and
    succeeds (it once gave EFAULT); at or past the end they move nothing."""
    total = buffers * bufsize
    pattern = os.urandom(total)
    md.set_geometry(iface, buffers, bufsize)
    with md.opened(iface, os.O_RDWR | os.O_NONBLOCK):
        data = os.open(md.DEBUGFS / iface / "data", os.O_RDWR)
        try:
            for pos in (0, 1, bufsize - 1, 4096, bufsize + 4095, total - 1, total, total + 9):
                assert os.pwrite(data, b"", pos) == 0
                assert os.pread(data, 0, pos) == b""
            done = 0
            for step in (1, 4095, 4097, 12289, 1 << 20):
                done += os.pwrite(data, pattern[done : done + step], done)
            assert done == total
            assert os.pwrite(data, b"x", total) == 0
            got = b""
            while chunk := os.pread(data, 3000, len(got)):
                got += chunk
            assert got == pattern
        finally:
            os.close(data)


def test_bad_user_pointer_is_efault() -> None:
    lib = uapi.lib()
    with md.opened("asitx0") as fd:
        for request in (
            lib.MASTER_DMA_IOC_SUMMARY,
            lib.MASTER_DMA_IOC_MAP_ENTRY,
            lib.MASTER_DMA_IOC_QBUF,
        ):
            assert raw_ioctl(fd, request, 16) == errno.EFAULT


@pytest.mark.parametrize(
    "fields", [{"flags": 1}, {"pad": 1}, {"pad2": 7}, {"index": 48}, {"index": 1 << 40}]
)
def test_map_entry_refuses_bad_fields(fields: dict[str, int]) -> None:
    md.set_geometry("sditx0", 16, 9588)  # 48 fragments
    with md.opened("sditx0") as fd:
        args = {"index": 0, **fields}
        expect_errno(errno.EINVAL, md.ioctl_map_entry, fd, args.pop("index"), **args)


def test_queue_and_dequeue_in_ring_order() -> None:
    """QBUF hands buffers over in ring order; DQBUF gives back what the device
    finished: with the cable's other end closed the bytes go nowhere (counted
    in dropped), with it open they arrive, each buffer with its bytesused."""
    lib = uapi.lib()
    md.set_pair("sdi", 3, 100)
    dropped = md.dropped("sditx0")
    with md.opened("sditx0", os.O_RDWR | os.O_NONBLOCK) as fd:
        expect_errno(errno.EAGAIN, md.dqbuf, fd)
        expect_errno(errno.EINVAL, md.qbuf, fd, 1, 100)
        for bad in (
            {"bytesused": 0},
            {"bytesused": 101},
            {"flags": 2, "bytesused": 1},
            {"pad": 1, "bytesused": 1},
        ):
            expect_errno(errno.EINVAL, md.ioctl_buffer, fd, lib.MASTER_DMA_IOC_QBUF, index=0, **bad)
        os.set_blocking(fd, True)  # DQBUF waits for the engine, which runs in the background
        for index in range(3):
            md.qbuf(fd, index, 100)
        assert [md.dqbuf(fd) for _ in range(3)] == [0, 1, 2]  # sent, to no receiver
        assert md.dropped("sditx0") == dropped + 300
        with md.opened("sdirx0", os.O_RDWR | os.O_NONBLOCK) as rx:
            expect_errno(errno.EAGAIN, md.qbuf, rx, 0, 100)  # a receiver owns none at open
            for index, used in enumerate((100, 7, 55)):
                md.qbuf(fd, index, used)
            os.set_blocking(rx, True)
            # a struct the kernel cannot write hands over no buffer: the next gets it
            libc = ctypes.CDLL(None, use_errno=True)
            dqbuf = ctypes.c_ulong(lib.MASTER_DMA_IOC_DQBUF)
            assert libc.ioctl(rx, dqbuf, ctypes.c_void_p(0)) == -1
            assert ctypes.get_errno() == errno.EFAULT
            got = [md.ioctl_buffer(rx, lib.MASTER_DMA_IOC_DQBUF) for _ in range(3)]
            assert [(b.index, b.bytesused) for b in got] == [(0, 100), (1, 7), (2, 55)]
            assert [md.dqbuf(fd) for _ in range(3)] == [0, 1, 2]
            os.set_blocking(rx, False)
            expect_errno(errno.EAGAIN, md.dqbuf, rx)
    assert md.dropped("sditx0") == dropped + 300


def test_mmap_policy_and_bounds() -> None:
    md.set_geometry("sditx0", 4, 9588)  # 12 pages
    with md.opened("asitx0") as fd:
        expect_errno(errno.EINVAL, mmap.mmap, fd, 4096, mmap.MAP_SHARED)  # packed ring
    with md.opened("sditx0") as fd:
        expect_errno(errno.EINVAL, mmap.mmap, fd, 4096, mmap.MAP_PRIVATE)
        expect_errno(errno.EINVAL, mmap.mmap, fd, 13 * 4096, mmap.MAP_SHARED)
        expect_errno(errno.EINVAL, mmap.mmap, fd, 4096, mmap.MAP_SHARED, offset=12 * 4096)
        with mmap.mmap(fd, 4096, mmap.MAP_SHARED, offset=11 * 4096) as last:
            assert last[:] == bytes(4096)


def test_read_write_follow_the_direction() -> None:
    md.set_geometry("asitx0", 2, 10)
    with md.opened("asitx0", os.O_RDWR | os.O_NONBLOCK) as fd:
        expect_errno(errno.EINVAL, os.read, fd, 10)
        expect_errno(errno.ESPIPE, os.pwrite, fd, b"z", 19)  # a stream
    with md.opened("asirx0", os.O_RDWR | os.O_NONBLOCK) as fd:
        expect_errno(errno.EINVAL, os.write, fd, b"x")
        expect_errno(errno.EAGAIN, os.read, fd, 10)


def test_unknown_module_parameter_values_are_refused() -> None:
    expect_errno(errno.EINVAL, md.write_attr, md.PARAMS / "max_buffers", "many")
    assert Path("/sys/module/mdma/parameters/test_layout_bug").read_text().strip() == "0"


MAP_ENTRY_CHILD = """
import sys
from pyharness.guest import masterdev as md
entry = md.ioctl_map_entry(int(sys.argv[1]), 0, dma_addr=1, desc_dma=2, next_desc=3)
print(entry.length, entry.dma_addr, entry.desc_dma, entry.next_desc)
"""


def map_entry_as(fd: int, *setpriv: str) -> list[int]:
    """MAP_ENTRY of fragment 0 by a child that inherits the ring's fd,
    started through setpriv with these flags (none: as is)."""
    prefix = ("setpriv", *setpriv) if setpriv else ()
    argv = [*prefix, sys.executable, "-c", MAP_ENTRY_CHILD, str(fd)]
    done = subprocess.run(argv, pass_fds=(fd,), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [int(word) for word in done.stdout.split()]


def test_map_entry_shows_bus_addresses_only_to_cap_sys_admin() -> None:
    md.set_geometry("sditx0", 2, 4096)
    with md.opened("sditx0") as fd:
        admin = map_entry_as(fd)
        plain = map_entry_as(fd, "--inh-caps=-sys_admin", "--bounding-set=-sys_admin")
    assert admin[0] == plain[0] == 4096
    assert all(admin[1:]) and admin[1:] != [1, 2, 3]  # the kernel's, not the caller's
    assert plain[1:] == [0, 0, 0]  # root without CAP_SYS_ADMIN: nothing physical
