"""The netlink client's message classes come from the UAPI header."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from pyharness import __main__, uapi
from pyharness.guest import netlink, stat


def test_every_header_attribute_has_a_wire_type_and_nothing_else_does() -> None:
    names = {name.removeprefix(netlink.PREFIX) for name, _ in netlink.attributes()}
    assert names == set(netlink.ATTR_TYPES)
    assert len(netlink.attributes()) == uapi.lib().MASTER_DMA_A_MAX + 1


def test_attribute_numbers_are_the_header_enum() -> None:
    for number, (name, _) in enumerate(netlink.attributes()):
        assert getattr(uapi.lib(), name) == number
    assert netlink.message_class().nla_map[uapi.lib().MASTER_DMA_A_SUMMARY][1] == "cdata"


def test_summary_is_decoded_with_the_header_struct() -> None:
    ffi = uapi.ffi()
    summary = ffi.new("struct master_dma_summary *", {"buffers": 1000, "total_pages": 1 << 40})
    decoded = netlink.decode_summary(bytes(ffi.buffer(summary)))
    assert (decoded["buffers"], decoded["total_pages"]) == (1000, 1 << 40)
    with pytest.raises(ValueError):
        netlink.decode_summary(b"\0" * 8)


def test_family_names_come_from_the_header() -> None:
    strings = uapi.strings()
    assert (strings["MASTER_DMA_GENL_MDMA"], strings["MASTER_DMA_GENL_ALLOCATOR"]) == (
        "mdma",
        "allocator",
    )


def test_stat_names_the_zones_a_ring_came_from() -> None:
    one = {"pages_dma": 0, "pages_dma32": 2500, "pages_normal": 0, "iommu": 0}
    assert stat.zones(one) == "dma32"
    two = {"pages_dma": 2008, "pages_dma32": 492, "pages_normal": 0, "iommu": 0}
    assert stat.zones(two) == "dma 2008+dma32 492"
    assert stat.zones({**one, "iommu": 1}) == "dma32 iommu"


def test_an_overrun_is_said_resynced_and_the_gap_counted() -> None:
    def ring(seq: int) -> dict[str, Any]:
        return {"family": "mdma", "event": "ring_allocated", "event_seq": seq}

    incoming: list[dict[str, Any]] = [
        ring(7),
        ring(8),
        {"family": None, "event": "overrun"},
        ring(9),
        ring(20),
    ]
    snapshot: dict[str, Any] = {"family": None, "event": "resync", "rings": [], "regions": []}
    out = list(stat.counted(iter(incoming), lambda: snapshot))
    assert [e["event"] for e in out] == [
        "ring_allocated",
        "ring_allocated",
        "overrun",
        "resync",
        "ring_allocated",
        "lost",
        "ring_allocated",
    ]
    assert out[5] == {"family": "mdma", "event": "lost", "count": 10, "first": 10, "last": 19}
    assert stat.event_line(out[5]) == "mdma: lost 10 events (sequence 10 to 19)"
    assert "ENOBUFS" in stat.event_line(out[2])


def test_stat_and_events_give_one_answer_when_nothing_is_loaded() -> None:
    both = str(netlink.missing(["mdma", "allocator"]))
    assert both == "no 'mdma' or 'allocator' family: load mdma.ko or allocator.ko"


@pytest.mark.parametrize(
    "denial",
    [NetlinkError(errno.EPERM, "Operation not permitted"), PermissionError(errno.EPERM, "no")],
    ids=["request", "membership"],
)
def test_stat_and_events_without_privilege_say_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], denial: Exception
) -> None:
    def denied(*args: object) -> object:
        raise denial

    monkeypatch.setattr(stat, "snapshot", denied)
    monkeypatch.setattr(stat, "events", denied)
    for command in ("stat", "events"):
        assert __main__.main([command]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "need root" in err and "Traceback" not in err
