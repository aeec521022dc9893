"""The cffi binding comes from the UAPI header: sizes, names and ioctl numbers."""

from __future__ import annotations

import errno
import re

import pytest

from pyharness import uapi

IOC_READ, IOC_WRITE = 2, 1


def decode(number: int) -> tuple[int, int, int, int]:
    """(direction, size, type, nr) of an ioctl number (asm-generic/ioctl.h)."""
    return number >> 30, (number >> 16) & 0x3FFF, (number >> 8) & 0xFF, number & 0xFF


def test_struct_sizes_match_the_kernels_static_asserts() -> None:
    ffi = uapi.ffi()
    source = (uapi.HEADER.parents[2] / "masterdev/masterdev_iface.c").read_text()
    pinned = dict(re.findall(r"static_assert\(sizeof\(struct (\w+)\) == (\d+)\);", source))
    assert pinned  # the kernel pins every struct it copies
    for name, size in pinned.items():
        assert ffi.sizeof(f"struct {name}") == int(size), name


def test_ioctl_numbers() -> None:
    lib, ffi = uapi.lib(), uapi.ffi()
    magic = lib.MASTER_DMA_IOC_MAGIC
    assert decode(lib.MASTER_DMA_IOC_SUMMARY) == (
        IOC_READ,
        ffi.sizeof("struct master_dma_summary"),
        magic,
        0,
    )
    assert decode(lib.MASTER_DMA_IOC_MAP_ENTRY) == (
        IOC_READ | IOC_WRITE,
        ffi.sizeof("struct master_dma_map_entry"),
        magic,
        1,
    )
    assert decode(lib.MASTER_DMA_IOC_QBUF)[0] == IOC_WRITE
    assert decode(lib.MASTER_DMA_IOC_DQBUF)[0] == IOC_READ


def test_every_macro_and_struct_of_the_header_is_bound() -> None:
    text = uapi.HEADER.read_text()
    lib, ffi = uapi.lib(), uapi.ffi()
    strings = uapi.strings()
    for name in re.findall(r"^#define\s+(MASTER_DMA_\w+)\b(?!\()", text, flags=re.M):
        if name in strings:  # cffi binds integers; the string macros are read as text
            assert strings[name].isidentifier(), name
        else:
            assert isinstance(getattr(lib, name), int), name
    for name in re.findall(r"^struct (\w+) \{", text, flags=re.M):
        assert ffi.sizeof(f"struct {name}") > 0
    assert lib.MASTER_DMA_TAILS_OWN_PAGE == 1


def test_cdef_is_generated_not_typed() -> None:
    cdef = uapi.cdef_from_header(uapi.HEADER.read_text())
    assert "struct master_dma_summary {" in cdef
    assert "#define MASTER_DMA_IOC_SUMMARY ..." in cdef
    assert "/*" not in cdef


def test_documented_errnos_come_from_the_named_doc_section_only() -> None:
    text = (
        "/**\n * DOC: Errors of mmap\n *\n * EINVAL for a packed ring; EPOLLIN is no errno;"
        " EOPNOTSUPP.\n */\n/**\n * DOC: Errors of the ioctls\n *\n * ENOTTY.\n */\n"
    )
    assert uapi.documented_errnos_in(text, "mmap") == {errno.EINVAL, errno.EOPNOTSUPP}
    assert uapi.documented_errnos_in(text, "the ioctls") == {errno.ENOTTY}
    with pytest.raises(KeyError):
        uapi.documented_errnos_in(text, "read")


def test_the_header_documents_the_errors_of_every_interface() -> None:
    # the sections tests/vm/test_fuzz.py checks its accepted errnos against
    for section in (
        "the ioctls",
        "open, read, write, poll and fsync",
        "mmap",
        "the sysfs attributes and module parameters",
        "generic netlink",
    ):
        assert errno.EINVAL in uapi.documented_errnos(section), section
