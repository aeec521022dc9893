"""The layout model against the seed's worked examples and edge cases."""

from __future__ import annotations

import json

import pytest

from pyharness.__main__ import main
from pyharness.model import layout


@pytest.mark.parametrize(
    ("buffers", "bufsize", "pages", "pointers", "required", "allocated"),
    [
        (1000, 9588, 2500, 3000, 9_610_000, 10_272_768),
        (10000, 1316, 3334, 10000, 13_213_336, 13_737_984),
    ],
)
def test_seed_examples(
    buffers: int, bufsize: int, pages: int, pointers: int, required: int, allocated: int
) -> None:
    ring = layout.layout(buffers, bufsize, "packed", pointer_size=4, kmalloc="pow2")
    assert (ring.total_pages, ring.pointers) == (pages, pointers)
    assert (ring.bytes_required, ring.bytes_allocated) == (required, allocated)


def test_seed_example_cli(capsys: pytest.CaptureFixture[str]) -> None:
    argv = "layout --buffers 1000 --bufsize 9588 --pointer-size 4 --kmalloc pow2 --json"
    assert main(argv.split()) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["total_pages"] == 2500
    assert figures["pointers"] == 3000
    assert figures["bytes_required"] == 9610000
    assert figures["bytes_allocated"] == 10272768
    assert figures["tails_per_page"] == 2


@pytest.mark.parametrize(
    ("bufsize", "tails", "ppb", "full", "tpp", "tail_pages"),
    [
        (1, "packed", 1, 0, 4096, 1),  # 10 buffers of 1 byte share one page
        (1, "own-page", 1, 0, 1, 10),
        (4095, "packed", 1, 0, 1, 10),
        (4096, "packed", 1, 10, 0, 0),  # no tail at all
        (4097, "packed", 2, 10, 4096, 1),
        (8192, "own-page", 2, 20, 0, 0),
        (2048, "packed", 1, 0, 2, 5),
        (2049, "packed", 1, 0, 1, 10),  # two tails of 2049 do not fit: never split
        (1316, "packed", 1, 0, 3, 4),
        (65536, "packed", 16, 160, 0, 0),
    ],
)
def test_edges(
    bufsize: int, tails: layout.Tails, ppb: int, full: int, tpp: int, tail_pages: int
) -> None:
    ring = layout.layout(10, bufsize, tails)
    assert ring.pointers_per_buf == ppb
    assert ring.full_pages == full
    assert ring.tails_per_page == tpp
    assert ring.tail_pages == tail_pages
    assert ring.total_pages == full + tail_pages
    assert ring.pointers == 10 * ppb


@pytest.mark.parametrize(
    ("size", "slub", "pow2"),
    [
        (1, 8, 32),
        (8, 8, 32),
        (9, 16, 32),
        (65, 96, 128),
        (97, 128, 128),
        (129, 192, 256),
        (193, 256, 256),
        (4097, 8192, 8192),
        (8192, 8192, 8192),
        (8193, 16384, 16384),
        (12289, 16384, 16384),
        (16385, 32768, 32768),
        (800000, 1048576, 1048576),
    ],
)
def test_kmalloc_sizes(size: int, slub: int, pow2: int) -> None:
    assert layout.kmalloc_slub(size) == slub
    assert layout.kmalloc_pow2(size) == pow2


def test_kernel_figures_with_slub() -> None:
    ring = layout.layout(1000, 9588)  # 8-byte pointers, SLUB
    assert ring.page_array_bytes == 32768  # 2500 * 8 = 20000 -> order-3 pages
    assert ring.pointer_array_bytes == 32768  # 3000 * 8 = 24000
    assert ring.bytes_required == 1000 * 9588 + (2500 + 3000) * 8
    assert ring.bytes_allocated == 2500 * 4096 + 32768 + 32768


def test_descriptor_figures() -> None:
    ring = layout.layout(16, 9588, "own-page")
    lsdma = layout.descriptors(ring, "lsdma")
    assert (lsdma.desc_size, lsdma.desc_stride, lsdma.descriptors) == (28, 32, 48)
    assert lsdma.desc_bytes == 48 * 32
    assert lsdma.desc_array_bytes == 1024  # 48 slots of 16 bytes = 768
    plx = layout.descriptors(ring, "plx9080")
    assert (plx.desc_stride, plx.desc_bytes) == (16, 48 * 16)


@pytest.mark.parametrize(("buffers", "bufsize"), [(0, 100), (10, 0), (-1, 5)])
def test_nonsense_is_refused(buffers: int, bufsize: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        layout.layout(buffers, bufsize)


def test_cli_refuses_zero() -> None:
    with pytest.raises(SystemExit):
        main(["layout", "--buffers", "0", "--bufsize", "10"])
