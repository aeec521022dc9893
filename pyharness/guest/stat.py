"""`python -m pyharness stat` and `events`: what the allocators hold, for people.

A snapshot asks both netlink families (a missing allocator.ko only leaves
its part out); render() prints it as tables, like slabtop in spirit.
events() merges the two families' event groups into one stream.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from . import netlink

RING_COLUMNS = (
    ("name", "ring", "{:<10}"),
    ("device", "device", "{:<14}"),
    ("driver", "driver", "{:<14}"),
    ("geometry", "buffers x size", "{:>15}"),
    ("tails", "tails", "{:<8}"),
    ("total_pages", "pages", "{:>7}"),
    ("zones", "zones", "{:<16}"),
    ("pointers", "fragments", "{:>9}"),
    ("bytes_allocated", "allocated", "{:>11}"),
    ("slack", "slack", "{:>9}"),
)


def snapshot() -> dict[str, Any]:
    """Rings and totals from mdma, regions and totals from allocator, each if loaded.

    Raises netlink.FamilyMissing, as events() does, when neither is.
    """
    out: dict[str, Any] = {"rings": [], "ring_totals": None, "regions": [], "himem": None}
    found = False
    with contextlib.suppress(netlink.FamilyMissing), netlink.MasterDmaSocket("mdma") as mdma:
        out |= {"rings": mdma.rings(), "ring_totals": mdma.totals()}
        found = True
    with (
        contextlib.suppress(netlink.FamilyMissing),
        netlink.MasterDmaSocket("allocator") as allocator,
    ):
        out |= {"regions": allocator.regions(), "himem": allocator.totals()}
        found = True
    if not found:
        raise netlink.missing(["mdma", "allocator"])
    return out


def _ring_row(ring: dict[str, Any]) -> dict[str, Any]:
    s = ring["summary"]
    return {
        **ring,
        **s,
        "geometry": f"{s['buffers']} x {s['bufsize']}",
        "tails": "packed" if s["tails"] == 0 else "own-page",
        "slack": s["bytes_allocated"] - s["bytes_required"],
        "zones": zones(s),
    }


ZONES = (("pages_dma", "dma"), ("pages_dma32", "dma32"), ("pages_normal", "normal"))


def zones(summary: dict[str, int]) -> str:
    """Where a ring's pages came from, e.g. "dma32" or "dma 2008+dma32 492";
    "iommu" when an IOMMU translates its bus addresses."""
    held = [(name, summary[key]) for key, name in ZONES if summary[key]]
    text = held[0][0] if len(held) == 1 else "+".join(f"{n} {c}" for n, c in held)
    return f"{text} iommu" if summary["iommu"] else text


def render(snap: dict[str, Any]) -> str:
    totals = snap["ring_totals"]
    if totals is None:
        lines = ["rings: mdma.ko not loaded", ""]
    else:
        lines = [f"rings: {totals['rings']}, pages held: {totals['pages']}", ""]
    lines.append("  ".join(fmt.format(title) for _, title, fmt in RING_COLUMNS).rstrip())
    for ring in snap["rings"]:
        row = _ring_row(ring)
        lines.append("  ".join(fmt.format(row[key]) for key, _, fmt in RING_COLUMNS).rstrip())
    himem = snap["himem"]
    lines.append("")
    if himem is None:
        lines.append("high memory: allocator.ko not loaded")
        return "\n".join(lines)
    lines.append(
        f"high memory: {himem['size'] >> 10} KiB at {himem['base']:#x}, "
        f"{himem['free'] >> 10} KiB free (largest {himem['largest_free'] >> 10} KiB), "
        f"{himem['regions']} regions" + ("" if himem["enabled"] else ", disabled")
    )
    lines.append(f"{'start':<14}  {'size':>10}  owner")
    lines += [f"{r['start']:<#14x}  {r['size']:>10}  {r['owner']}" for r in snap["regions"]]
    return "\n".join(lines)


def event_line(event: dict[str, Any]) -> str:
    if event["event"] == "overrun":
        return "events lost: the socket overran (ENOBUFS); resynchronising"
    if event["event"] == "lost":
        return (
            f"{event['family']}: lost {event['count']} events "
            f"(sequence {event['first']} to {event['last']})"
        )
    if event["event"] == "resync":
        return f"resync: {len(event['rings'])} rings, {len(event['regions'])} regions now"
    if "summary" in event:
        s = event["summary"]
        return (
            f"{event['family']}: {event['event']} {event['name']} on {event['device']} "
            f"({s['buffers']} x {s['bufsize']}, {s['total_pages']} pages)"
        )
    return (
        f"{event['family']}: {event['event']} {event['start']:#x} "
        f"{event['size']} bytes, owner {event['owner']}"
    )


def events(families: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Events of the given families (default both; a missing one is skipped) in
    the order the kernel sent them: one socket joins every family's group.

    Raises netlink.FamilyMissing, as snapshot() does, when none is loaded.
    """
    sock: netlink.MasterDmaSocket | None = None
    listening = []
    for family in families or ["mdma", "allocator"]:
        try:
            if sock is None:
                sock = netlink.MasterDmaSocket(family)
                sock.subscribe()
            else:
                sock.join(family)
        except netlink.FamilyMissing:
            continue
        listening.append(family)
    if sock is None:
        raise netlink.missing(families or ["mdma", "allocator"])
    print(f"listening to {', '.join(listening)}", file=sys.stderr, flush=True)
    with sock:
        yield from counted(sock.events(), resync)


def resync() -> dict[str, Any]:
    """What is there now, as a listener that lost events starts again from."""
    try:
        snap = snapshot()
    except netlink.FamilyMissing:
        snap = {"rings": [], "regions": []}
    return {"family": None, "event": "resync", "rings": snap["rings"], "regions": snap["regions"]}


def counted(
    events: Iterator[dict[str, Any]], resync: Callable[[], dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """events, with what was lost said, as `ip monitor` does after an overrun.

    An overrun is passed on and followed by resync(); a gap in a family's
    event_seq (MASTER_DMA_A_EVENT_SEQ) becomes {"event": "lost", "count": N,
    "first": ..., "last": ...} before the event after it.
    """
    last: dict[str, int] = {}
    for event in events:
        if event["event"] == "overrun":
            yield event
            yield resync()
            continue
        family, seq = event["family"], event.get("event_seq")
        if seq is not None:
            if family in last and seq > last[family] + 1:
                gap = (last[family] + 1, seq - 1)
                yield {
                    "family": family,
                    "event": "lost",
                    "count": gap[1] - gap[0] + 1,
                    "first": gap[0],
                    "last": gap[1],
                }
            last[family] = seq
        yield event
