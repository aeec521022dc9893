"""The map checker on synthetic maps: a correct one passes, each defect is named."""

from __future__ import annotations

import dataclasses

import pytest

from pyharness.model import layout, mapcheck
from pyharness.model.layout import Layout
from pyharness.model.mapcheck import Fragment

PAGE = 4096


def synthetic(
    model: Layout, tails_per_page: int | None = None, skip: int = 0
) -> tuple[list[Fragment], int]:
    """A map laid out as the design says, optionally with a layout bug."""
    tpp = model.tails_per_page if tails_per_page is None else tails_per_page
    tail_pages = -(-model.buffers // tpp) if model.tail_size else 0
    total = model.full_pages + tail_pages + skip
    frags = []
    n = model.pointers
    for i in range(n):
        buf, part = divmod(i, model.pointers_per_buf)
        if part < model.full_per_buf:
            page, offset = buf * model.full_per_buf + part + skip, 0
        else:
            page = model.full_pages + buf // tpp + skip
            offset = (buf % tpp) * model.tail_size
        flags = ("I" if part == model.pointers_per_buf - 1 else "-") + ("E" if i == n - 1 else "-")
        frags.append(
            Fragment(
                index=i,
                buffer=buf,
                part=part,
                page=page,
                offset=offset,
                length=model.fragment_length(part),
                dma=0x10000000 + page * PAGE + offset,
                desc=0x2000000 + 32 * i,
                next=0x2000000 + 32 * ((i + 1) % n),
                flags=flags,
                phys=0x30000000 + page * PAGE + offset,
            )
        )
    return frags, total


GEOMETRIES = [
    (1000, 9588, "packed"),
    (100, 1316, "packed"),
    (7, 4096, "packed"),
    (9, 1, "own-page"),
    (5, 12289, "own-page"),
    (3, 2049, "packed"),
]


@pytest.mark.parametrize(("buffers", "bufsize", "tails"), GEOMETRIES)
def test_correct_map_passes(buffers: int, bufsize: int, tails: layout.Tails) -> None:
    model = layout.layout(buffers, bufsize, tails)
    frags, total = synthetic(model)
    assert total == model.total_pages
    assert mapcheck.check(model, frags, total) == []


def test_one_tail_too_many_per_page() -> None:
    model = layout.layout(100, 1316)
    frags, total = synthetic(model, tails_per_page=model.tails_per_page + 1)
    problems = mapcheck.check(model, frags, total)
    assert any("outside its page" in p for p in problems), problems


def test_skipped_page() -> None:
    model = layout.layout(100, 9588)
    frags, total = synthetic(model, skip=1)
    problems = mapcheck.check(model, frags, total)
    assert any("allocated pages unused, first page 0" in p for p in problems), problems


def test_broken_chain_and_flags() -> None:
    model = layout.layout(10, 9588)
    frags, total = synthetic(model)
    frags[4] = dataclasses.replace(frags[4], next=frags[7].desc, flags="I-")  # part 1 of 3
    problems = mapcheck.check(model, frags, total)
    assert any("descriptor 4 chains to" in p for p in problems)
    assert any("descriptor 4 INT" in p for p in problems)


def test_overlap_and_order() -> None:
    model = layout.layout(6, 1316)
    frags, total = synthetic(model)
    frags[1] = dataclasses.replace(frags[1], offset=100, dma=frags[1].dma - 1216)
    frags[2], frags[3] = frags[3], frags[2]
    problems = mapcheck.check(model, frags, total)
    assert any("overlap" in p for p in problems)
    assert any("not buffer-major" in p for p in problems)


def test_wrong_length_and_count() -> None:
    model = layout.layout(4, 9588)
    frags, total = synthetic(model)
    frags[2] = dataclasses.replace(frags[2], length=1000)
    problems = mapcheck.check(model, frags[:-1], total)
    assert any("11 fragments, the model says 12" in p for p in problems)
    assert any("fragment 2 has 1000 bytes" in p for p in problems)


def test_parse_map_and_summary() -> None:
    text = (
        "# index buffer part page offset length dma desc next flags\n"
        "0 0 0 0 0 4096 0x1000 0x2000 0x2020 -- 0x7000\n"
        "1 0 1 2 1396 1396 0x3574 0x2020 0x2000 IE 0x9574\n"
    )
    frags = mapcheck.parse_map(text)
    assert frags[1] == Fragment(1, 0, 1, 2, 1396, 1396, 0x3574, 0x2020, 0x2000, "IE", 0x9574)
    assert frags[1].interrupt and frags[1].end and not frags[0].interrupt
    summary = mapcheck.parse_summary("buffers: 16\ntails: packed\n")
    assert summary == {"buffers": 16, "tails": "packed"}


def test_tails_of_one_page_in_different_physical_pages() -> None:
    model = layout.layout(6, 1316)  # three tails per page
    frags, total = synthetic(model)
    frags[1] = dataclasses.replace(frags[1], phys=frags[1].phys + 16 * PAGE)
    problems = mapcheck.check(model, frags, total)
    assert any("different physical pages" in p for p in problems), problems
